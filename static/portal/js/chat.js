// The group chat (docs/protocol.md): the history and what follows, live; each message with
// its time (today's as a time, older ones with their date, the full moment on hover) and its
// files (images as previews); writing, with files, through the shared client, which keeps
// what is not acknowledged yet and sends it again after a reconnect.

import { h } from "/static/shared/dom.js";
import { register, t } from "/static/shared/i18n.js";
import { describe } from "/static/shared/labels.js";
import catalog from "../i18n/groups.js";
import { $, STAFF, show, state } from "./state.js";
import { attachmentList, linkified, stamp } from "./format.js";
import { Composer } from "./composer.js";

register(catalog);

export function openChat(group) {
  const client = state.client;
  if (state.chat && state.chat.convId !== group.conversation_id) client.leave(state.chat.convId);
  const role = state.me.role;
  state.chat = { groupId: group.id, convId: group.conversation_id, name: group.name,
                 canPost: group.membership === "member" || role === "agent" || role === "support_admin" };
  $("chat-title").textContent = group.name;
  $("chat-notice").textContent = state.chat.canPost ? "" : t("portal.chat.read_only");
  $("chat-error").textContent = "";
  $("chat-log").replaceChildren();
  $("chat-pending").replaceChildren(...client.outbox.filter((i) => i.conversation_id === state.chat.convId).map(pendingItem));
  composer.reset();
  show("chat-section", true);
  client.join(state.chat.convId, 0); // the log starts empty: the whole history
  $("chat-section").scrollIntoView({ block: "nearest" });
}

export function closeChat() {
  state.chat = null;
  composer.reset();
}

// A membership frame other than "member": this chat can no longer be written in.
export function chatLeft(conversationId, reason) {
  if (!state.chat || state.chat.convId !== conversationId) return;
  state.chat.canPost = false;
  composer.draw();
  $("chat-notice").textContent = t("portal.chat.no_longer_member") + (reason ? " " + reason : "");
}

// Only new events, in order: the client drops repeats and fills gaps before this.
export function chatEvent(ev) {
  if (!state.chat || ev.conversation_id !== state.chat.convId) return;
  if (ev.client_msg_id) chatAck(ev.client_msg_id);
  const log = $("chat-log");
  // New messages land in view — unless the reader scrolled up to read older ones.
  const atBottom = log.scrollHeight - log.scrollTop - log.clientHeight < 40;
  let item;
  if (ev.kind === "message") {
    const staff = ev.author && STAFF.has(ev.author.role);
    item = h("li", { class: staff ? "staff" : "", "data-seq": String(ev.seq) },
      h("span", { class: "author" }, ev.author ? ev.author.name : ""),
      stamp(ev.created_at),
      h("span", { class: "body" }, linkified(ev.body)),
      attachmentList(ev.data && ev.data.attachments));
  } else {
    item = h("li", { class: "system", "data-seq": String(ev.seq) }, stamp(ev.created_at), " ", describe(ev.data || {}));
  }
  log.append(item);
  if (atBottom || ev.author && ev.author.id === state.me.id) log.scrollTop = log.scrollHeight;
  // A preview's height is known only once it has loaded.
  for (const img of item.querySelectorAll("img")) {
    img.addEventListener("load", () => { if (atBottom) log.scrollTop = log.scrollHeight; }, { once: true });
  }
}

// Written, not yet acknowledged: kept by the client (and sent again after a reconnect).
function pendingItem(item) {
  return h("li", { "data-cid": item.client_msg_id }, h("span", { class: "body" }, item.body),
    h("span", { class: "status" }, t("portal.chat.sending")));
}

export function chatAck(clientMsgId) {
  for (const li of [...$("chat-pending").children]) if (li.dataset.cid === clientMsgId) li.remove();
}

export function chatFailed(item, f) {
  if (item.client_msg_id) chatAck(item.client_msg_id);
  if (!state.chat || item.conversation_id !== state.chat.convId) return;
  $("chat-error").textContent = item.body ? t("portal.chat.not_sent", { body: item.body, reason: f.message }) : f.message;
}

// -- writing ----------------------------------------------------------------------------

const composer = new Composer(
  { form: "chat-form", input: "chat-input", fileInput: "chat-file-input", attach: "chat-attach", tray: "chat-files",
    send: "chat-send", error: "chat-error" },
  () => (state.chat && state.chat.canPost ? state.chat.convId : null),
  (item) => {
    $("chat-pending").append(pendingItem(item));
    const log = $("chat-log");
    log.scrollTop = log.scrollHeight;
  });

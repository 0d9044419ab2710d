// The open conversation: history (live, resumed from the last seq), who is viewing and
// typing, the composer (Enter sends, Shift+Enter breaks the line), and the ticket actions.
// Which actions are enabled is the server's answer for this reader and this ticket
// (`can` in the detail): a partner's ticket is read-only for platform agents, and a
// partner's admin works only its own (Take, reply, status, Transfer to platform).
// A group chat (issue 18) opens here too: the same history and composer (notes included),
// no ticket actions, an "Open a ticket" button on each member's message, and its read
// marker kept as the agent reads (the Groups queue's unread count).

import { api } from "./api.js";
import { h, replace } from "/static/shared/dom.js";
import { debounce } from "./format.js";
import { categoryLabel, describe, groupLabel, statusLabel } from "./events.js";
import { CannedPicker } from "./canned.js";
import { renderAside } from "./aside.js";
import { displayName } from "/static/shared/names.js";
import { openDialog, transferDialog, resolveDialog, fieldsDialog, taskDialog, toPlatformDialog } from "./dialogs.js";
import { leftText } from "./inbox.js";
import { spamDialog } from "./spam.js";
import { maskedMarker } from "./masking.js";
import { attachmentList, uploadFile } from "./files.js";
import { t, register, fmtTime } from "/static/shared/i18n.js";
import catalog from "../i18n/conversation.js";

register(catalog);

// Repeat "typing start" this often while typing; the protocol expires a start after 6 s.
const TYPING_REPEAT_MS = 3000;
const TYPING_IDLE_MS = 4000;
const TYPING_EXPIRES_MS = 6000;

export class ConversationView {
  constructor(main, aside, ctx) {
    this.main = main;
    this.aside = aside;
    this.ctx = ctx;
    this.id = null;
    this.detail = null;
    this.viewers = [];
    this.typists = new Map(); // user id -> {name, until}
    this.mode = "viewing";
    this.lastTypingSent = 0;
    this.idleTimer = null;
    this.reloadDetail = debounce(() => this._loadDetail(), 150);
    this.markRead = debounce(() => this._markRead(), 300);
    // What came while the tab was in the background is read once the agent looks again.
    document.addEventListener("visibilitychange", () => {
      if (document.visibilityState === "visible" && this.group) this.markRead();
    });
    setInterval(() => {
      this._renderTyping();
      this._tickLeft();
    }, 1000);
    this._renderEmpty();
  }

  get socket() {
    return this.ctx.socket;
  }

  // What the reader may do here; until the detail is in, what their role allows at most.
  get can() {
    if (this.detail && this.detail.can) return this.detail.can;
    const work = this.ctx.me.can.work;
    return { reply: work, internal: work, work, claim: work, to_platform: false };
  }

  // Viewer modes are a staff thing (docs/protocol.md); a partner's console sends none.
  _viewing(id, mode) {
    if (!this.ctx.partnerMode) this.socket.tell({ type: "viewing", conversation_id: id, mode });
  }

  log(id) {
    if (!this.ctx.logs.has(id)) this.ctx.logs.set(id, []);
    return this.ctx.logs.get(id);
  }

  _renderEmpty() {
    replace(this.main, h("div", { class: "empty" }, t("conv.pick")));
    replace(this.aside);
  }

  async open(id) {
    if (this.id === id) return;
    this.close();
    this.id = id;
    this.detail = null;
    // Known from the Groups queue before the detail comes: the head and the message
    // buttons are a group chat's from the first paint.
    this.group = this.ctx.inbox.groupOf(id);
    this.viewers = [];
    this.typists.clear();
    this.mode = "viewing";
    this._build();
    this._renderHistory();
    this.socket.join(id); // from the last seq this page has seen of it (its log is kept)
    await this._loadDetail();
  }

  close() {
    if (this.id === null) return;
    const id = this.id;
    this._stopTyping();
    this._viewing(id, "none");
    this.socket.leave(id);
    this.id = null;
    this._renderEmpty();
  }

  // Every join, the first and each one the client makes again after a reconnect or a gap:
  // the viewer mode is only accepted in a joined conversation.
  onJoined(frame) {
    if (frame.conversation_id === this.id) this._viewing(this.id, this.mode);
  }

  // Called by the app after a reconnect: the client re-joins by itself; the ticket may
  // have changed meanwhile.
  resumed() {
    if (this.id !== null) this.reloadDetail();
  }

  _build() {
    const canWork = this.ctx.me.can.work;
    const partner = this.ctx.partnerMode;
    this.head = h("header", { class: "conv-head" });
    this.history = h("div", { class: "history", "data-testid": "history" });
    this.textarea = h("textarea", {
      placeholder: canWork ? this._replyPlaceholder() : t("conv.read_only"),
      "aria-label": t("conv.message"),
      disabled: !canWork,
    });
    this.internal = h("input", { type: "checkbox", id: "internal-toggle", disabled: !canWork });
    this.typingLine = h("div", { class: "typing", "data-testid": "typing" });
    // Files go up as soon as they are chosen; Send carries the stored ones' ids.
    this.files = []; // {file, attachment?, failed?}
    this.tray = h("ul", { class: "tray", "data-testid": "tray" });
    this.fileInput = h("input", { type: "file", multiple: true, class: "hidden", "aria-label": t("conv.attach") });
    this.fileInput.addEventListener("change", () => this._chooseFiles());
    this.attachButton = h("button", { type: "button", "data-action": "attach", disabled: !canWork,
      onclick: () => this.fileInput.click() }, t("conv.attach"));
    this.canned = new CannedPicker(this.ctx, () => this.id, (text) => this._insert(text), !canWork);
    this.sendButton = h("button", { class: "primary", "data-action": "send", disabled: !canWork, onclick: () => this._send() },
      t("conv.send"));
    this.resolveButton = h("button", { "data-action": "resolve", disabled: !canWork, onclick: () => this._resolve() },
      t("conv.resolve"));
    // A partner writes to its customer only: no internal notes, canned replies or Resolve
    // (those are the platform desk's); "Wait on customer" / "Close" set the status.
    this.composer = h("div", { class: "composer" },
      this.typingLine,
      this.textarea,
      this.tray,
      h("div", { class: "row" },
        this.sendButton,
        this.attachButton, this.fileInput,
        partner ? null : h("label", {}, this.internal, " ", t("conv.internal_note")),
        partner ? null : this.canned.element,
        partner || this.group ? null : this.resolveButton,
      ),
    );
    this.internal.addEventListener("change", () => this.composer.classList.toggle("internal", this.internal.checked));
    this.textarea.addEventListener("keydown", (ev) => this._onKey(ev));
    this.textarea.addEventListener("input", () => this._onInput());
    this.textarea.addEventListener("blur", () => this._stopTyping());
    replace(this.main, this.head, this.history, this.composer);
    this._renderHead();
  }

  // The composer follows the server's answer for this conversation.
  _applyCan() {
    if (!this.textarea) return;
    const can = this.can;
    this.textarea.disabled = !can.reply;
    // Closed is final (docs/protocol.md): no reply, no note; the customer continues in a
    // new conversation linked to this one. There is no reopen of a closed ticket.
    const closed = this.detail && this.detail.conversation && this.detail.conversation.status === "closed";
    this.textarea.placeholder = can.reply ? this._replyPlaceholder()
      : closed ? t("conv.closed_placeholder")
      : this.ctx.partnerMode && can.work ? t("conv.take_to_reply")
        : this.detail && this.detail.ticket && this.detail.ticket.handled_by && !can.work
          ? t("conv.partner_read_only")
          : t("conv.read_only");
    this.sendButton.disabled = !can.reply;
    this.attachButton.disabled = !can.reply;
    this.internal.disabled = !can.internal;
    this.resolveButton.disabled = !(can.claim && can.reply);
    this.canned.button.disabled = !can.reply;
  }

  _replyPlaceholder() {
    return this.group ? t("conv.group_placeholder") : t("conv.reply_placeholder");
  }

  focusComposer() {
    if (this.textarea && !this.textarea.disabled) this.textarea.focus();
  }

  _insert(text) {
    const ta = this.textarea;
    const start = ta.selectionStart ?? ta.value.length;
    ta.value = ta.value.slice(0, start) + text + ta.value.slice(ta.selectionEnd ?? start);
    ta.focus();
    ta.selectionStart = ta.selectionEnd = start + text.length;
  }

  _onKey(ev) {
    if (ev.key === "Enter" && !ev.shiftKey && !ev.isComposing && !ev.altKey) {
      ev.preventDefault();
      this._send();
    } else if (ev.key === "Tab" && /^\/[\w-]+$/.test(this.textarea.value)) {
      // "/shortcut" + Tab inserts that canned reply.
      ev.preventDefault();
      this.canned.byShortcut(this.textarea.value.slice(1)).then((text) => {
        if (text !== null) {
          this.textarea.value = "";
          this._insert(text);
        }
      });
    }
  }

  _onInput() {
    if (this.id === null) return;
    const now = Date.now();
    if (now - this.lastTypingSent > TYPING_REPEAT_MS && this.textarea.value.trim()) {
      this.socket.typing(this.id, "start");
      this.lastTypingSent = now;
    }
    clearTimeout(this.idleTimer);
    this.idleTimer = setTimeout(() => this._stopTyping(), TYPING_IDLE_MS);
  }

  _stopTyping() {
    clearTimeout(this.idleTimer);
    if (this.lastTypingSent && this.id !== null) this.socket.typing(this.id, "stop");
    this.lastTypingSent = 0;
  }

  // The client's outbox sends it (again after a reconnect, until its ack); only a refusal
  // comes back here, to onSendFailed.
  _send() {
    const ready = this.files.filter((f) => f.attachment);
    if (this.files.some((f) => !f.attachment && !f.failed)) {
      this.ctx.toast(t("conv.files_uploading"));
      return;
    }
    // A message needs text: files alone go out under their names.
    const body = this.textarea.value.trim() ? this.textarea.value : ready.map((f) => f.file.name).join(", ");
    if (!body.trim() || this.id === null) return;
    this.textarea.value = "";
    this._stopTyping();
    const extra = this.internal.checked ? { internal: true } : {};
    if (ready.length) extra.attachments = ready.map((f) => f.attachment.id);
    this.files = [];
    this._renderTray();
    this.socket.send(this.id, body, extra);
    if (this.socket.state !== "online") this.ctx.toast(t("conv.offline"));
  }

  async _chooseFiles() {
    const id = this.id;
    const chosen = [...this.fileInput.files].map((file) => ({ file }));
    this.fileInput.value = "";
    this.files.push(...chosen);
    this._renderTray();
    await Promise.all(chosen.map(async (entry) => {
      try {
        entry.attachment = await uploadFile(id, entry.file);
      } catch (err) {
        entry.failed = true;
        this.ctx.toast(t("conv.upload_failed", { name: entry.file.name, error: err.message }), true);
      }
      if (id === this.id) this._renderTray();
    }));
  }

  _renderTray() {
    replace(this.tray, this.files.map((entry) => h("li", { class: entry.attachment ? "done" : entry.failed ? "failed" : "" },
      h("span", {}, entry.file.name), " ",
      h("span", { class: "muted" }, entry.attachment ? t("conv.file_ready") : entry.failed ? t("conv.file_not_uploaded")
        : t("conv.file_uploading")),
      h("button", { type: "button", class: "link", "aria-label": t("conv.file_remove", { name: entry.file.name }),
        onclick: () => { this.files = this.files.filter((f) => f !== entry); this._renderTray(); } }, "×"))));
  }

  onSendFailed(item, error) {
    if (this.id === item.conversation_id && !this.textarea.value) this.textarea.value = item.body;
    this.ctx.toast(t("conv.not_sent", { error: error.message }), true);
  }

  async _resolve() {
    const id = this.id;
    const text = await resolveDialog(this.textarea.value);
    if (text === null || id !== this.id) return;
    try {
      await api("POST", `/api/desk/conversations/${id}/resolve`, { body: text, client_msg_id: crypto.randomUUID() });
      this.textarea.value = "";
      this.ctx.toast(t("conv.resolved"));
    } catch (err) {
      this.ctx.toast(t("conv.not_resolved", { error: err.message }), true);
    }
  }

  async _claim(takeOver) {
    const id = this.id;
    try {
      await api("POST", `/api/desk/conversations/${id}/claim`, takeOver ? { take_over: true } : {});
      this.mode = "answering";
      this._viewing(id, "answering");
      this.focusComposer();
    } catch (err) {
      if (err.code === "already_claimed" && !takeOver) {
        if (await openDialog(t("conv.take_over_title"), t("conv.take_over_text", { message: err.message }),
          t("conv.take_over"))) this._claim(true);
        return;
      }
      this.ctx.toast(t("conv.not_claimed", { error: err.message }), true);
    }
  }

  async _release() {
    try {
      await api("POST", `/api/desk/conversations/${this.id}/release`, {});
      this.mode = "viewing";
      this._viewing(this.id, "viewing");
    } catch (err) {
      this.ctx.toast(err.message, true);
    }
  }

  async _ticketCall(method, path, body, done) {
    const id = this.id;
    try {
      await api(method, path, body);
      if (done) this.ctx.toast(done);
      this.reloadDetail();
      // No doorbell reaches a partner's console: re-read the item itself.
      if (this.ctx.partnerMode) this.ctx.inbox.ring(id);
      return true;
    } catch (err) {
      this.ctx.toast(err.message, true);
      return false;
    }
  }

  // A partner's admin takes the ticket (assigned to them, they join the conversation to
  // answer in it) or lets it go.
  async _take(mine) {
    const me = this.ctx.me.user.id;
    if (await this._ticketCall("POST", `/api/tickets/${this.id}/assign`, { assignee_id: mine ? me : null })) {
      this.focusComposer();
    }
  }

  async _toPlatform() {
    const id = this.id;
    const choice = await toPlatformDialog();
    if (!choice || id !== this.id) return;
    if (!(await this._ticketCall("POST", `/api/tickets/${id}/transfer`, choice, t("conv.handed_over")))) return;
    if (this.ctx.partnerMode) {
      // It has left the partner's queue, and this console with it.
      this.close();
      this.ctx.inbox.load();
    }
  }

  async _transfer() {
    const choice = await transferDialog(this.ctx, this.detail && this.detail.ticket);
    if (choice) this._ticketCall("POST", `/api/tickets/${this.id}/transfer`, choice, t("conv.transferred"));
  }

  async _fields() {
    const change = await fieldsDialog(this.ctx, this.detail && this.detail.ticket);
    if (change) this._ticketCall("PATCH", `/api/tickets/${this.id}`, change, t("conv.saved"));
  }

  async _task() {
    const task = await taskDialog();
    if (task) this._ticketCall("POST", `/api/tickets/${this.id}/tasks`, task, t("conv.task_added"));
  }

  async _spam() {
    const choice = await spamDialog(this.detail.ticket);
    if (choice) this._ticketCall("POST", `/api/tickets/${this.id}/spam`, choice, t("conv.marked_spam"));
  }

  async _notSpam() {
    this._ticketCall("DELETE", `/api/tickets/${this.id}/spam`, undefined, t("conv.not_spam_done"));
  }

  async _status(action) {
    this._ticketCall("POST", `/api/tickets/${this.id}/status`, { action });
  }

  async _loadDetail() {
    const id = this.id;
    if (id === null) return;
    try {
      const detail = await api("GET", `/api/desk/conversations/${id}`);
      if (id !== this.id) return;
      this.detail = detail;
    } catch (err) {
      if (id === this.id) this.ctx.toast(err.message, true);
      return;
    }
    const wasGroup = Boolean(this.group);
    const couldEscalate = this._canEscalate();
    const group = this.detail.group;
    if (group) this.group = { ...(this.group || {}), ...group, group_id: group.id };
    if (this.group && !wasGroup) {
      // Opened by a link before the Groups queue knew it: a group chat's composer and head.
      this._build();
      this._renderHistory();
    } else if (this.group && couldEscalate !== this._canEscalate()) {
      this._renderHistory(); // the escalate buttons follow the server's answer
    }
    if (this.group) this.markRead();
    this._applyCan();
    this._renderHead();
    renderAside(this.aside, this.ctx, this.detail, () => this.reloadDetail());
  }

  _renderHead() {
    if (!this.head) return;
    const d = this.detail;
    const conv = d && d.conversation;
    const ticket = d && d.ticket;
    const item = d && d.item;
    const can = this.can;
    const canWork = can.work;
    const me = this.ctx.me.user.id;
    const assignee = ticket && ticket.assignee;
    const facts = [];
    if (this.group) return this._renderGroupHead(conv);
    if (ticket && ticket.spam_at) facts.push(h("span", { class: "badge", "data-testid": "spam-badge" }, t("conv.spam_badge")));
    if (ticket && ticket.handled_by) {
      const name = (ticket.partner && ticket.partner.name) || t("conv.partner_number", { id: ticket.handled_by });
      facts.push(h("span", { class: "badge partner", "data-testid": "partner-badge" }, t("conv.partner_queue", { name })));
    }
    this.leftBadge = h("span", { class: "badge left", "data-testid": "visitor-left" });
    if (ticket && ticket.customer_left_at) facts.push(this.leftBadge);
    if (ticket) {
      facts.push(h("span", { class: "badge", "data-testid": "status" },
        `${statusLabel(ticket.status)}${ticket.label ? ` — ${ticket.label}` : ""}`));
      facts.push(h("span", { class: "badge" }, (ticket.group && groupLabel(ticket.group, ticket.group_name)) || t("conv.level", { level: ticket.level })));
      if (ticket.category) facts.push(h("span", { class: "badge" }, categoryLabel(ticket.category)));
      if (ticket.severity) facts.push(h("span", { class: "badge" }, t("conv.severity", { severity: ticket.severity })));
    }
    if (conv && conv.status === "closed") facts.push(h("span", { class: "badge" }, t("conv.conversation_closed")));
    facts.push(h("span", { class: `badge${assignee ? " claimed" : ""}`, "data-testid": "claimed-by" },
      assignee ? t("conv.answering", { name: assignee.name }) : t("conv.nobody_answering")));

    const actions = [];
    const mine = assignee && assignee.id === me;
    if (this.ctx.partnerMode) {
      actions.push(mine
        ? h("button", { "data-action": "release", disabled: !canWork, onclick: () => this._take(false) }, t("conv.release"))
        : h("button", { class: "primary", "data-action": "take", disabled: !canWork, onclick: () => this._take(true) },
          t("conv.take")));
    } else if (!mine) {
      actions.push(h("button", { class: "primary", "data-action": "claim", disabled: !can.claim, onclick: () => this._claim(false) },
        t("conv.claim")));
    } else {
      actions.push(h("button", { "data-action": "release", disabled: !can.claim, onclick: () => this._release() }, t("conv.release")));
    }
    if (ticket && ticket.handled_by) {
      // Lines and groups are not the partner's to move: only the hand-over to the platform.
      actions.push(h("button", { "data-action": "to-platform", disabled: !can.to_platform, onclick: () => this._toPlatform() },
        t("conv.to_platform")));
    } else if (!this.ctx.partnerMode) {
      actions.push(h("button", { "data-action": "transfer", disabled: !canWork || !ticket, onclick: () => this._transfer() },
        t("conv.transfer")));
    }
    actions.push(
      h("button", { "data-action": "fields", disabled: !canWork || !ticket, onclick: () => this._fields() }, t("conv.fields")),
      h("button", { "data-action": "task", disabled: !canWork || !ticket, onclick: () => this._task() }, t("conv.add_task")),
    );
    if (ticket && (ticket.status === "waiting_on_customer" || ticket.status === "proposed_to_close")) {
      actions.push(h("button", { disabled: !canWork, onclick: () => this._status("reopen") }, t("conv.reopen")));
    }
    if (ticket && ticket.status === "in_progress") {
      actions.push(h("button", { disabled: !canWork, onclick: () => this._status("wait_on_customer") },
        t("conv.wait_on_customer")));
    }
    if (ticket && ticket.status !== "closed") {
      actions.push(h("button", { disabled: !canWork, onclick: () => this._status("close") }, t("conv.close")));
    }
    if (ticket && !this.ctx.partnerMode) {
      // Issue 16: out of the queues, the sender optionally blocked; "Not spam" undoes both.
      actions.push(ticket.spam_at
        ? h("button", { "data-action": "not-spam", disabled: !canWork, onclick: () => this._notSpam() }, t("conv.not_spam"))
        : h("button", { "data-action": "spam", disabled: !canWork, onclick: () => this._spam() }, t("conv.spam")));
    }

    replace(this.head,
      h("h1", {}, `#${this.id} `, (conv && conv.subject) || (item && item.subject) || t("conv.no_subject")),
      h("div", { class: "facts" }, facts),
      h("div", { class: "actions" }, actions),
      this._viewersLine(),
    );
    this._tickLeft();
  }

  // A group chat's head: which group of which company, how many members; no ticket
  // actions (a ticket is opened from one of its messages).
  _renderGroupHead(conv) {
    const g = this.group;
    const facts = [h("span", { class: "badge", "data-testid": "group-badge" }, t("conv.group_badge"))];
    if (g.organization) facts.push(h("span", { class: "badge" }, g.organization.name));
    if (g.members !== undefined) facts.push(h("span", { class: "badge" }, t("conv.group_members", { count: g.members })));
    if (conv && conv.status === "closed") facts.push(h("span", { class: "badge" }, t("conv.conversation_closed")));
    replace(this.head,
      h("h1", {}, `#${this.id} `, g.name || (conv && conv.subject) || t("conv.no_subject")),
      h("div", { class: "facts" }, facts),
      this._viewersLine(),
    );
  }

  // The agent has seen the open group chat up to its last event: the Groups queue's
  // unread count follows (only while the page is in front: a background tab has not read).
  async _markRead() {
    const id = this.id;
    if (!this.group || id === null || document.visibilityState === "hidden") return;
    const log = this.log(id);
    if (!log.length) return;
    try {
      const { group_chat: row } = await api("POST", `/api/desk/group-chats/${id}/read`, { seq: log[log.length - 1].seq });
      this.ctx.inbox.updateGroup(row);
    } catch (err) {
      this.ctx.toast(err.message, true);
    }
  }

  async _escalate(event) {
    const id = this.id;
    const ok = await openDialog(t("conv.escalate_title"), t("conv.escalate_text"), t("conv.escalate_ok"));
    if (!ok || id !== this.id || !this.group) return;
    try {
      const { ticket } = await api("POST", `/api/chat-groups/${this.group.group_id}/escalate`, { seq: event.seq });
      this.ctx.toast(t("conv.escalated", { id: ticket.id }));
    } catch (err) {
      this.ctx.toast(t("conv.not_escalated", { error: err.message }), true);
    }
  }

  _tickLeft() {
    if (!this.leftBadge || !this.detail || !this.detail.ticket) return;
    const item = { customer_left_at: this.detail.ticket.customer_left_at, customer: this.detail.customer };
    this.leftBadge.textContent = leftText(item, Date.now() + this.ctx.skew);
  }

  _viewersLine() {
    const me = this.ctx.me.user.id;
    const others = this.viewers.filter((v) => v.user_id !== me);
    const line = h("div", { class: "presence", "data-testid": "viewers" });
    if (!others.length) {
      line.append(h("span", { class: "muted" }, t("conv.nobody_else")));
      return line;
    }
    line.append(h("span", { class: "muted" }, t("conv.also_here")));
    for (const v of others) {
      line.append(h("span", { class: `viewer ${v.mode}`, dataset: { userId: v.user_id } },
        v.mode === "answering" ? t("conv.viewer_answering", { name: v.name }) : t("conv.viewer_viewing", { name: v.name })));
    }
    return line;
  }

  onViewers(frame) {
    if (frame.conversation_id !== this.id) return;
    this.viewers = frame.viewers;
    if (this.head) {
      const old = this.head.querySelector("[data-testid=viewers]");
      if (old) old.replaceWith(this._viewersLine());
    }
  }

  onTyping(frame) {
    if (frame.conversation_id !== this.id) return;
    if (frame.state === "start") this.typists.set(frame.user.id, { name: frame.user.name, until: Date.now() + TYPING_EXPIRES_MS });
    else this.typists.delete(frame.user.id);
    this._renderTyping();
  }

  _renderTyping() {
    if (!this.typingLine) return;
    const now = Date.now();
    for (const [uid, t] of this.typists) if (t.until < now) this.typists.delete(uid);
    const names = [...this.typists.values()].map((t) => t.name);
    this.typingLine.textContent = !names.length ? ""
      : t(names.length > 1 ? "conv.typing_many" : "conv.typing_one", { names: names.join(", ") });
  }

  onEvent(event) {
    const log = this.log(event.conversation_id);
    log.push(event);
    if (event.conversation_id !== this.id) return;
    if (event.author) this.typists.delete(event.author.id);
    this.history.append(this._renderEvent(event));
    this._scrollDown();
    if (this.group) this.markRead();
    if (event.kind === "system" || event.kind === "message") {
      this.reloadDetail();
      if (this.ctx.partnerMode) this.ctx.inbox.ring(event.conversation_id);
    }
  }

  _renderHistory() {
    replace(this.history);
    for (const event of this.log(this.id)) this.history.append(this._renderEvent(event));
    this._scrollDown();
  }

  _scrollDown() {
    this.history.scrollTop = this.history.scrollHeight;
  }

  _renderEvent(event) {
    const attrs = { dataset: { seq: event.seq, kind: event.kind } };
    if (event.kind === "system") {
      return h("div", { class: "sys", ...attrs }, `${describe(event.data || {})} · ${fmtTime(event.created_at)}`);
    }
    const author = event.author || {};
    const staff = ["agent", "support_admin", "read_only", "reseller_admin"].includes(author.role);
    const cls = event.kind === "note" ? "msg note" : staff ? "msg staff" : "msg";
    const label = event.kind === "note" ? t("conv.note_by", { name: displayName(author) }) : displayName(author);
    // Images as thumbnails, fetched with the token (issue 18: a bare link showed a broken glyph).
    const files = attachmentList((event.data && event.data.attachments) || [], this.ctx.toast);
    // A member's message in a group chat can become a ticket, its author the requester
    // (chat.groups.ticketing); support's own answers are not a customer's request.
    const escalate = this.group && event.kind === "message" && !event.internal && !staff
      ? h("button", { class: "link", "data-action": "escalate", disabled: !this._canEscalate(),
        onclick: () => this._escalate(event) }, t("conv.escalate")) : null;
    return h("div", { class: cls, ...attrs },
      h("div", { class: "who" }, `${label} · ${fmtTime(event.created_at)}`, escalate ? " · " : null, escalate),
      h("div", { class: "body" }, event.body), maskedMarker(event.data), files);
  }

  _canEscalate() {
    if (this.group && this.group.can_escalate !== undefined) return this.group.can_escalate;
    return this.ctx.me.can.work;
  }
}

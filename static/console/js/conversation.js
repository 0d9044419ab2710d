// The open conversation: history (live, resumed from the last seq), who is viewing and
// typing, the composer (Enter sends, Shift+Enter breaks the line), and the ticket actions.
// Which actions are enabled is the server's answer for this reader and this ticket
// (`can` in the detail): a partner's ticket is read-only for platform agents, and a
// partner's admin works only its own (Take, reply, status, Transfer to platform).

import { api } from "./api.js";
import { h, replace } from "/static/shared/dom.js";
import { time, debounce } from "./format.js";
import { describe, statusLabel } from "./events.js";
import { CannedPicker } from "./canned.js";
import { renderAside } from "./aside.js";
import { displayName } from "/static/shared/names.js";
import { openDialog, transferDialog, resolveDialog, fieldsDialog, taskDialog, toPlatformDialog } from "./dialogs.js";
import { leftText } from "./inbox.js";
import { spamDialog } from "./spam.js";
import { maskedMarker } from "./masking.js";

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
    replace(this.main, h("div", { class: "empty" }, "Pick a conversation from a queue (Alt+↓ / Alt+↑ move through them)."));
    replace(this.aside);
  }

  async open(id) {
    if (this.id === id) return;
    this.close();
    this.id = id;
    this.detail = null;
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
      placeholder: canWork ? "Reply… (Enter sends, Shift+Enter for a new line)" : "Read-only: you can see everything but change nothing",
      "aria-label": "Message",
      disabled: !canWork,
    });
    this.internal = h("input", { type: "checkbox", id: "internal-toggle", disabled: !canWork });
    this.typingLine = h("div", { class: "typing", "data-testid": "typing" });
    this.canned = new CannedPicker(this.ctx, () => this.id, (text) => this._insert(text), !canWork);
    this.sendButton = h("button", { class: "primary", "data-action": "send", disabled: !canWork, onclick: () => this._send() },
      "Send");
    this.resolveButton = h("button", { "data-action": "resolve", disabled: !canWork, onclick: () => this._resolve() },
      "Resolve…");
    // A partner writes to its customer only: no internal notes, canned replies or Resolve
    // (those are the platform desk's); "Wait on customer" / "Close" set the status.
    this.composer = h("div", { class: "composer" },
      this.typingLine,
      this.textarea,
      h("div", { class: "row" },
        this.sendButton,
        partner ? null : h("label", {}, this.internal, " Internal note (staff only)"),
        partner ? null : this.canned.element,
        partner ? null : this.resolveButton,
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
    this.textarea.placeholder = can.reply ? "Reply… (Enter sends, Shift+Enter for a new line)"
      : closed ? "Closed: nothing more can be sent here (the customer starts a new conversation to continue)"
      : this.ctx.partnerMode && can.work ? "Take the ticket to reply"
        : this.detail && this.detail.ticket && this.detail.ticket.handled_by && !can.work
          ? "A partner's own first line handles this ticket: read only"
          : "Read-only: you can see everything but change nothing";
    this.sendButton.disabled = !can.reply;
    this.internal.disabled = !can.internal;
    this.resolveButton.disabled = !(can.claim && can.reply);
    this.canned.button.disabled = !can.reply;
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
    const body = this.textarea.value;
    if (!body.trim() || this.id === null) return;
    this.textarea.value = "";
    this._stopTyping();
    this.socket.send(this.id, body, this.internal.checked ? { internal: true } : {});
    if (this.socket.state !== "online") this.ctx.toast("Offline: it goes out as soon as the connection is back.");
  }

  onSendFailed(item, error) {
    if (this.id === item.conversation_id && !this.textarea.value) this.textarea.value = item.body;
    this.ctx.toast(`Not sent: ${error.message}`, true);
  }

  async _resolve() {
    const id = this.id;
    const text = await resolveDialog(this.textarea.value);
    if (text === null || id !== this.id) return;
    try {
      await api("POST", `/api/desk/conversations/${id}/resolve`, { body: text, client_msg_id: crypto.randomUUID() });
      this.textarea.value = "";
      this.ctx.toast("Resolved: the customer was asked to confirm and rate.");
    } catch (err) {
      this.ctx.toast(`Not resolved: ${err.message}`, true);
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
        if (await openDialog("Take over?", `${err.message}. Take it over?`, "Take over")) this._claim(true);
        return;
      }
      this.ctx.toast(`Not claimed: ${err.message}`, true);
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
    if (!(await this._ticketCall("POST", `/api/tickets/${id}/transfer`, choice, "Handed over to platform support."))) return;
    if (this.ctx.partnerMode) {
      // It has left the partner's queue, and this console with it.
      this.close();
      this.ctx.inbox.load();
    }
  }

  async _transfer() {
    const choice = await transferDialog(this.ctx, this.detail && this.detail.ticket);
    if (choice) this._ticketCall("POST", `/api/tickets/${this.id}/transfer`, choice, "Transferred.");
  }

  async _fields() {
    const change = await fieldsDialog(this.ctx, this.detail && this.detail.ticket);
    if (change) this._ticketCall("PATCH", `/api/tickets/${this.id}`, change, "Saved.");
  }

  async _task() {
    const task = await taskDialog();
    if (task) this._ticketCall("POST", `/api/tickets/${this.id}/tasks`, task, "Task added.");
  }

  async _spam() {
    const choice = await spamDialog(this.detail.ticket);
    if (choice) this._ticketCall("POST", `/api/tickets/${this.id}/spam`, choice, "Marked as spam: out of the queues.");
  }

  async _notSpam() {
    this._ticketCall("DELETE", `/api/tickets/${this.id}/spam`, undefined, "Not spam: back in its queue.");
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
    if (ticket && ticket.spam_at) facts.push(h("span", { class: "badge", "data-testid": "spam-badge" }, "Spam"));
    if (ticket && ticket.handled_by) {
      const name = (ticket.partner && ticket.partner.name) || `partner #${ticket.handled_by}`;
      facts.push(h("span", { class: "badge partner", "data-testid": "partner-badge" }, `Partner's queue: ${name}`));
    }
    this.leftBadge = h("span", { class: "badge left", "data-testid": "visitor-left" });
    if (ticket && ticket.customer_left_at) facts.push(this.leftBadge);
    if (ticket) {
      facts.push(h("span", { class: "badge", "data-testid": "status" },
        `${statusLabel(ticket.status)}${ticket.label ? ` — ${ticket.label}` : ""}`));
      facts.push(h("span", { class: "badge" }, ticket.group_name || ticket.group || `Level ${ticket.level}`));
      if (ticket.category) facts.push(h("span", { class: "badge" }, ticket.category));
      if (ticket.severity) facts.push(h("span", { class: "badge" }, `Severity ${ticket.severity}`));
    }
    if (conv && conv.status === "closed") facts.push(h("span", { class: "badge" }, "Conversation closed"));
    facts.push(h("span", { class: `badge${assignee ? " claimed" : ""}`, "data-testid": "claimed-by" },
      assignee ? `Answering: ${assignee.name}` : "Nobody answering yet"));

    const actions = [];
    const mine = assignee && assignee.id === me;
    if (this.ctx.partnerMode) {
      actions.push(mine
        ? h("button", { "data-action": "release", disabled: !canWork, onclick: () => this._take(false) }, "Release")
        : h("button", { class: "primary", "data-action": "take", disabled: !canWork, onclick: () => this._take(true) }, "Take"));
    } else if (!mine) {
      actions.push(h("button", { class: "primary", "data-action": "claim", disabled: !can.claim, onclick: () => this._claim(false) },
        "I'll answer"));
    } else {
      actions.push(h("button", { "data-action": "release", disabled: !can.claim, onclick: () => this._release() }, "Release"));
    }
    if (ticket && ticket.handled_by) {
      // Lines and groups are not the partner's to move: only the hand-over to the platform.
      actions.push(h("button", { "data-action": "to-platform", disabled: !can.to_platform, onclick: () => this._toPlatform() },
        "Transfer to platform…"));
    } else if (!this.ctx.partnerMode) {
      actions.push(h("button", { "data-action": "transfer", disabled: !canWork || !ticket, onclick: () => this._transfer() },
        "Transfer…"));
    }
    actions.push(
      h("button", { "data-action": "fields", disabled: !canWork || !ticket, onclick: () => this._fields() }, "Category / severity…"),
      h("button", { "data-action": "task", disabled: !canWork || !ticket, onclick: () => this._task() }, "Add task…"),
    );
    if (ticket && (ticket.status === "waiting_on_customer" || ticket.status === "proposed_to_close")) {
      actions.push(h("button", { disabled: !canWork, onclick: () => this._status("reopen") }, "Reopen"));
    }
    if (ticket && ticket.status === "in_progress") {
      actions.push(h("button", { disabled: !canWork, onclick: () => this._status("wait_on_customer") }, "Wait on customer"));
    }
    if (ticket && ticket.status !== "closed") {
      actions.push(h("button", { disabled: !canWork, onclick: () => this._status("close") }, "Close"));
    }
    if (ticket && !this.ctx.partnerMode) {
      // Issue 16: out of the queues, the sender optionally blocked; "Not spam" undoes both.
      actions.push(ticket.spam_at
        ? h("button", { "data-action": "not-spam", disabled: !canWork, onclick: () => this._notSpam() }, "Not spam")
        : h("button", { "data-action": "spam", disabled: !canWork, onclick: () => this._spam() }, "Spam…"));
    }

    replace(this.head,
      h("h1", {}, `#${this.id} `, (conv && conv.subject) || (item && item.subject) || "(no subject)"),
      h("div", { class: "facts" }, facts),
      h("div", { class: "actions" }, actions),
      this._viewersLine(),
    );
    this._tickLeft();
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
      line.append(h("span", { class: "muted" }, "No one else is here"));
      return line;
    }
    line.append(h("span", { class: "muted" }, "Also here:"));
    for (const v of others) {
      line.append(h("span", { class: `viewer ${v.mode}`, dataset: { userId: v.user_id } },
        `${v.name} (${v.mode === "answering" ? "answering" : "viewing"})`));
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
    this.typingLine.textContent = names.length ? `${names.join(", ")} ${names.length > 1 ? "are" : "is"} typing…` : "";
  }

  onEvent(event) {
    const log = this.log(event.conversation_id);
    log.push(event);
    if (event.conversation_id !== this.id) return;
    if (event.author) this.typists.delete(event.author.id);
    this.history.append(this._renderEvent(event));
    this._scrollDown();
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
      return h("div", { class: "sys", ...attrs }, `${describe(event.data || {})} · ${time(event.created_at)}`);
    }
    const author = event.author || {};
    const staff = ["agent", "support_admin", "read_only", "reseller_admin"].includes(author.role);
    const cls = event.kind === "note" ? "msg note" : staff ? "msg staff" : "msg";
    const label = event.kind === "note" ? `${displayName(author)} · internal note` : displayName(author);
    const files = ((event.data && event.data.attachments) || []).map((a) =>
      h("div", {}, h("a", { href: a.url, target: "_blank", rel: "noopener" }, `📎 ${a.filename}`)));
    return h("div", { class: cls, ...attrs },
      h("div", { class: "who" }, `${label} · ${time(event.created_at)}`),
      h("div", { class: "body" }, event.body), maskedMarker(event.data), files);
  }
}

// The conversation view (README.md), and the widget's icons, links and sizes.

import { uuid } from "./protocol.js";
import { h, replace } from "./dom.js";
import { ratingSheet } from "./forms.js";

const STAFF = new Set(["agent", "support_admin"]);
const TYPING_TTL_MS = 6000; // docs/protocol.md: a "start" expires after 6 s without another
const TYPING_REPEAT_MS = 3000;
// Ticket bookkeeping a customer has nothing to do with; the agent console shows it.
// Warn: the server masks keys, passwords, cards (docs/protocol.md)
const SECRET = /PRIVATE KEY|\bAKIA\w{16}|\b[rs]k_(live|test)_\w{16}|\bgh[pousr]_\w{30}|\beyJ\S{8,}\.eyJ|bearer \S{16}|\/\/\S+:\S+@|(pass(word)?|pwd|пароль|token|secret|api_?key)\s*[:=]\s*\S{3}/i;
export const looksSecret = (t) => SECRET.test(t) || (t.match(/\b[2-6](\d[ -]?){12,18}\b/g) || []).some((m) => {
  let s = 0;
  [...m.replace(/\D/g, "")].reverse().forEach((c, i) => { c *= i % 2 + 1; s += c > 9 ? c - 9 : c; });
  return s % 10 == 0;
});
const QUIET = new Set(["ticket.deadlines", "ticket.sla_warning", "ticket.sla_breached", "ticket.escalated",
  "ticket.task_added", "ticket.task_updated", "ticket.updated", "ticket.recategorized"]);

export class ChatView {
  /** ctx: t, lang, cfg, me, conv (null: created by the first message), api, token(), conn (the
   *  app's Client; it hands this view its conversation's frames, to ``on``),
   *  createConversation(body, clientMsgId), onActive(bool), onUnread(n), onAgent(name),
   *  onTicket(id), onConnState(state), onNewConversation(oldId), isOpen() */
  constructor(ctx) {
    this.ctx = ctx;
    this.t = ctx.t;
    this.conv = ctx.conv;
    this.lastSeq = 0;
    this.readSeq = 0;
    this.theirRead = 0;
    this.liveFrom = Infinity;
    this.unread = 0;
    this.closed = false;
    this.status = null;
    this.rated = false;
    this.promptDismissed = false;
    this.files = [];
    this.blobs = new Map();
    this.typers = new Map();
    this.sentTyping = 0;
    this.prevAuthor = null;
    this.lastMine = null;
    this.follow = true; // the visitor is at the newest message: what comes next scrolls into view
    this.timeFmt = new Intl.DateTimeFormat(ctx.lang, { hour: "2-digit", minute: "2-digit" });
    this.conn = ctx.conn;
    this.on = this.hooks();
    this.build();
    if (this.conv) this.attach(this.conv);
  }

  hooks() {
    return {
      joined: (f) => this.joined(f),
      event: (ev) => this.event(ev),
      ack: (ack) => { const p = this.pending(ack.client_msg_id); if (p) p.status.textContent = this.t("sent"); },
      sendFailed: (item, f) => this.sendFailed(item, f.code),
      joinFailed: () => this.ctx.onConnState("failed"),
      typing: (f) => this.typing(f),
      read: (f) => {
        if (f.user_id !== this.ctx.me.id) { this.theirRead = Math.max(this.theirRead, f.seq); this.readMark(); }
      },
    };
  }

  build() {
    const t = this.t;
    this.log = h("ol", { class: "log", "aria-live": "polite" });
    this.outgoing = h("ol", { class: "log pending" });
    this.typingLine = h("p", { class: "typing", "aria-live": "polite" });
    this.pill = h("button", { type: "button", class: "pill", hidden: true, onclick: () => this.toBottom() }, t("new_below"));
    this.scroller = h("div", { class: "scroll", onscroll: () => {
      // A hidden frame has no height (the panel is closed): that is no scrolling up.
      if (this.scroller.clientHeight) this.follow = this.atBottom();
      if (this.follow) this.pill.hidden = true;
    } }, this.log, this.outgoing, this.typingLine, this.pill);
    // Opening the panel, a picture loading, the phone's keyboard: keep the newest in view.
    this.sizes = new ResizeObserver(() => this.follow && this.toBottom());
    [this.scroller, this.log].forEach((x) => this.sizes.observe(x));
    this.prompt = h("div", { class: "prompt", hidden: true });
    this.ta = h("textarea", {
      rows: 1, placeholder: t("placeholder"), "aria-label": t("placeholder"), maxlength: this.ctx.cfg.max_message_chars,
      oninput: () => this.typed(),
      onkeydown: (e) => { if (e.key === "Enter" && !e.shiftKey && !e.isComposing) { e.preventDefault(); this.submit(); } },
    });
    this.picker = h("input", { type: "file", multiple: true, hidden: true, onchange: () => {
      this.addFiles([...this.picker.files]);
      this.picker.value = "";
    } });
    this.tray = h("ul", { class: "tray" });
    this.notice = h("p", { class: "error", role: "alert", hidden: true });
    this.secretNote = h("p", { class: "secret-warn", "data-testid": "secret-warning", "aria-live": "polite", hidden: true },
      t("secret"));
    const limits = t("limits", { max: fileSize(this.ctx.cfg.uploads.max_bytes) });
    this.attachBtn = h("button", { type: "button", class: "icon-btn", title: t("attach") + ". " + limits,
      "aria-label": t("attach"), hidden: !this.conv, onclick: () => this.picker.click() }, icon("attach"));
    this.sendBtn = h("button", { type: "submit", class: "icon-btn send", title: t("send"), "aria-label": t("send") },
      icon("send"));
    this.composer = h("form", { class: "composer", onsubmit: (e) => { e.preventDefault(); this.submit(); } },
      this.tray, this.notice, h("div", { class: "row" }, this.attachBtn, this.ta, this.sendBtn),
      this.secretNote, h("p", { class: "hint" }, limits), this.picker);
    this.closedBox = h("div", { class: "closed", hidden: true });
    this.el = h("section", { class: "chat" }, this.scroller, this.prompt, this.composer, this.closedBox);
    for (const item of this.conn.outbox) {
      if (this.conv && item.conversation_id === this.conv.id) this.addPending(item);
    }
  }

  attach(conv) {
    this.conv = conv;
    this.attachBtn.hidden = false;
    this.ctx.onTicket(conv.id);
    this.setClosed(conv.status === "closed");
    this.conn.join(conv.id, 0);
    this.conn.start();
  }

  /** A line above the conversation for this visit only (e.g. "your ticket number is …"). */
  note(text) {
    this.scroller.prepend(h("p", { class: "note", role: "status" }, text));
  }

  destroy() {
    this.sizes.disconnect();
    if (this.conv) this.conn.leave(this.conv.id);
    this.blobs.forEach((url) => URL.revokeObjectURL(url));
  }

  // -- incoming ----------------------------------------------------------------------

  joined(f) {
    this.readSeq = Math.max(this.readSeq, f.read_seq || 0);
    this.liveFrom = Math.min(this.liveFrom, f.last_seq);
    this.markRead();
  }

  event(ev) {
    this.lastSeq = ev.seq;
    const mine = ev.author && ev.author.id === this.ctx.me.id;
    if (ev.kind === "message") {
      this.message(ev, mine);
      if (!mine) {
        this.typingOff(ev.author && ev.author.id);
        if (ev.seq > this.readSeq) this.unread++;
        if (ev.seq > this.liveFrom && (document.hidden || !this.ctx.isOpen())) beep();
      }
    } else if (ev.kind === "system") {
      this.system(ev);
    }
    this.markRead();
    this.ctx.onUnread(this.unread);
    this.updatePrompt();
    if (this.follow || mine) this.toBottom();
    else if (ev.kind === "message") this.pill.hidden = false;
  }

  message(ev, mine) {
    const t = this.t;
    const author = ev.author || {};
    if (STAFF.has(author.role)) this.ctx.onAgent(author.name);
    const pending = mine && this.pending(ev.client_msg_id);
    if (pending) pending.li.remove();
    const status = mine ? h("span", { class: "status" }) : null;
    const showName = !mine && author.id !== this.prevAuthor;
    this.prevAuthor = author.id;
    this.log.append(h("li", { class: "msg " + (mine ? "mine" : "theirs"), "data-seq": ev.seq },
      showName ? h("span", { class: "who" }, author.name || t("agent")) : null,
      h("div", { class: "bubble" }, h("p", {}, linkified(ev.body || "")), this.files_of(ev.data && ev.data.attachments)),
      h("span", { class: "meta" }, h("time", { datetime: ev.created_at }, this.time(ev.created_at)), status)));
    if (mine) {
      if (this.lastMine) this.lastMine.status.textContent = "";
      this.lastMine = { seq: ev.seq, status };
      this.readMark();
    }
  }

  system(ev) {
    const t = this.t;
    const d = ev.data || {};
    let text = t("ev_other");
    switch (d.event) {
      case "conversation.created": text = t("ev_created"); break;
      case "participant.joined":
        text = t("ev_joined", { name: (d.user && d.user.name) || t("agent") });
        if (d.user && STAFF.has(d.user.role)) this.ctx.onAgent(d.user.name);
        break;
      case "ticket.opened": text = t("ev_opened", { id: ev.conversation_id }); break;
      case "ticket.status_changed": {
        this.status = d.to;
        const label = t("st_" + d.to);
        text = label === "st_" + d.to ? t("ev_other") : t("ev_status", { status: label });
        if (d.to === "closed") {
          text = null; // "The conversation was closed" (conversation.closed) says it
          this.setClosed(true);
        } else if (this.closed) {
          this.setClosed(false);
        }
        break;
      }
      case "conversation.closed": text = t("ev_closed"); this.setClosed(true); break;
      case "ticket.assigned":
        text = d.assignee && d.assignee.name ? t("ev_assigned", { name: d.assignee.name }) : null;
        break;
      case "ticket.transferred": text = t("ev_transferred"); break;
      case "ticket.rated": text = t("ev_rated"); this.rated = true; this.renderClosed(); break;
      case "ticket.linked": text = d.to === ev.conversation_id && d.from ? t("ev_linked", { id: d.from }) : null; break;
      default: if (QUIET.has(d.event)) text = null;
    }
    if (text) this.log.append(h("li", { class: "sys", "data-seq": ev.seq }, text));
    this.prevAuthor = null;
  }

  typing(f) {
    if (!f.user || f.user.id === this.ctx.me.id) return;
    clearTimeout(this.typers.get(f.user.id)?.timer);
    if (f.state === "start") {
      const timer = setTimeout(() => this.typingOff(f.user.id), TYPING_TTL_MS);
      this.typers.set(f.user.id, { name: f.user.name, timer });
    } else {
      this.typers.delete(f.user.id);
    }
    this.showTypers();
  }

  typingOff(id) {
    if (this.typers.has(id)) {
      clearTimeout(this.typers.get(id).timer);
      this.typers.delete(id);
      this.showTypers();
    }
  }

  showTypers() {
    const names = [...this.typers.values()].map((x) => x.name || this.t("agent"));
    this.typingLine.textContent = names.length ? this.t("typing", { name: names.join(", ") }) : "";
  }

  // -- read state and unread count ---------------------------------------------------

  markRead() {
    if (!this.conv || !this.ctx.isOpen() || document.hidden || this.lastSeq <= this.readSeq) return;
    this.conn.read(this.conv.id, this.lastSeq);
    this.readSeq = this.lastSeq;
    this.unread = 0;
    this.ctx.onUnread(0);
  }

  readMark() {
    if (this.lastMine) this.lastMine.status.textContent = this.t(this.theirRead >= this.lastMine.seq ? "read" : "sent");
  }

  // -- outgoing ----------------------------------------------------------------------

  typed() {
    this.ta.style.height = "auto";
    this.ta.style.height = Math.min(this.ta.scrollHeight, 120) + "px";
    this.secretNote.hidden = !looksSecret(this.ta.value);
    if (!this.conv) return;
    const now = Date.now();
    if (this.ta.value.trim() && now - this.sentTyping > TYPING_REPEAT_MS) {
      this.conn.typing(this.conv.id, "start");
      this.sentTyping = now;
    } else if (!this.ta.value.trim() && this.sentTyping) {
      this.stopTyping();
    }
  }

  stopTyping() {
    if (this.sentTyping && this.conv) this.conn.typing(this.conv.id, "stop");
    this.sentTyping = 0;
  }

  async submit() {
    if (this.closed || this.files.some((f) => !f.id && !f.failed)) return;
    const ready = this.files.filter((f) => f.id);
    const body = this.ta.value.trim() || ready.map((f) => f.file.name).join(", ");
    if (!body) return;
    this.ta.value = "";
    this.typed();
    this.stopTyping();
    this.files = [];
    this.tray.replaceChildren();
    this.notice.hidden = true;
    this.syncSend();
    if (this.conv) {
      this.addPending(this.conn.send(this.conv.id, body, { attachments: ready.map((f) => f.id) }));
    } else {
      // No pre-chat form on this site: the first message opens the conversation.
      const item = { client_msg_id: uuid(), body };
      const p = this.addPending(item);
      try {
        const conv = await this.ctx.createConversation(body, item.client_msg_id);
        p.li.remove();
        this.attach(conv);
      } catch (e) {
        this.markFailed(p);
      }
    }
    this.toBottom();
    this.ta.focus();
  }

  addPending(item) {
    const status = h("span", { class: "status" }, this.t("sending"));
    const li = h("li", { class: "msg mine sending", "data-cid": item.client_msg_id },
      h("div", { class: "bubble" }, h("p", {}, item.body)), h("span", { class: "meta" }, status));
    this.outgoing.append(li);
    return { li, status };
  }

  pending(clientMsgId) {
    const li = [...this.outgoing.children].find((x) => x.dataset.cid === clientMsgId);
    return li ? { li, status: li.querySelector(".status") } : null;
  }

  markFailed(p) {
    p.li.classList.add("failed");
    p.status.textContent = this.t("not_sent");
  }

  sendFailed(item, code) {
    const p = this.pending(item.client_msg_id);
    if (p) this.markFailed(p);
    if (code === "conversation_closed") this.setClosed(true);
  }

  // -- attachments -------------------------------------------------------------------

  addFiles(list) {
    const t = this.t;
    const up = this.ctx.cfg.uploads;
    const problems = [];
    for (const file of list) {
      // Types the server does not list are sent as plain bytes, which it accepts as a
      // download-only file (never shown inline).
      const type = up.types.includes(file.type) ? file.type
        : up.types.includes("application/octet-stream") ? "application/octet-stream" : null;
      if (this.files.length >= up.max_per_message) { problems.push(t("too_many", { n: up.max_per_message })); break; }
      if (file.size > up.max_bytes) { problems.push(t("too_big", { name: file.name, max: fileSize(up.max_bytes) })); continue; }
      if (!type) { problems.push(t("bad_type", { name: file.name })); continue; }
      this.upload(file, type);
    }
    this.notice.textContent = problems.join(" ");
    this.notice.hidden = !problems.length;
  }

  upload(file, type) {
    const entry = { file, id: null, failed: false };
    const bar = h("progress", { max: 1, value: 0 });
    const preview = type.startsWith("image/") ? h("img", { class: "preview", alt: "", src: this.objectUrl(file) }) : icon("file");
    const li = h("li", {}, preview, h("span", { class: "name" }, file.name), h("span", { class: "size" }, fileSize(file.size)), bar,
      h("button", { type: "button", class: "icon-btn", "aria-label": this.t("remove", { name: file.name }), onclick: () => {
        xhr.abort();
        this.files = this.files.filter((f) => f !== entry);
        li.remove();
        this.syncSend();
      } }, icon("close")));
    this.files.push(entry);
    this.tray.append(li);
    this.syncSend();
    const xhr = new XMLHttpRequest();
    xhr.open("POST", `/api/conversations/${this.conv.id}/attachments?filename=${encodeURIComponent(file.name)}`);
    xhr.setRequestHeader("Authorization", "Bearer " + this.ctx.token());
    xhr.setRequestHeader("Content-Type", type);
    xhr.upload.onprogress = (e) => { if (e.lengthComputable) bar.value = e.loaded / e.total; };
    xhr.onload = () => {
      if (xhr.status === 201) {
        entry.id = JSON.parse(xhr.responseText).attachment.id;
        bar.value = 1;
        li.classList.add("done");
        this.syncSend();
      } else {
        xhr.onerror();
      }
    };
    xhr.onerror = () => {
      entry.failed = true;
      li.classList.add("failed");
      this.files = this.files.filter((f) => f !== entry);
      this.notice.textContent = this.t("upload_failed", { name: file.name });
      this.notice.hidden = false;
      this.syncSend();
    };
    xhr.send(file);
  }

  /** Sending waits for every chosen file to finish uploading. */
  syncSend() {
    this.sendBtn.disabled = this.files.some((f) => !f.id && !f.failed);
  }

  objectUrl(blob) {
    const url = URL.createObjectURL(blob);
    this.blobs.set(url, url);
    return url;
  }

  files_of(list) {
    if (!list || !list.length) return null;
    return h("div", { class: "files" }, list.map((a) => {
      if (a.content_type.startsWith("image/")) {
        const img = h("img", { class: "thumb", alt: a.filename });
        this.fetchFile(a).then((url) => { img.src = url; }, () => img.replaceWith(a.filename));
        return h("button", { type: "button", class: "thumb-btn", title: a.filename, onclick: () => this.open(a, false) }, img);
      }
      return h("button", { type: "button", class: "file", title: this.t("download", { name: a.filename }),
        onclick: () => this.open(a, true) }, icon("file"), h("span", {}, a.filename), h("span", { class: "size" }, fileSize(a.size)));
    }));
  }

  async fetchFile(a) {
    if (this.blobs.has(a.id)) return this.blobs.get(a.id);
    // Files need the visitor's token, which never goes into a URL; fetched, then shown
    // from a blob: URL of this frame.
    if (!/^\/api\/attachments\/\d+$/.test(a.url)) throw new Error("unexpected attachment URL");
    const r = await fetch(a.url, { headers: { Authorization: "Bearer " + this.ctx.token() }, credentials: "omit" });
    if (!r.ok) throw new Error("attachment " + r.status);
    const url = URL.createObjectURL(await r.blob());
    this.blobs.set(a.id, url);
    return url;
  }

  async open(a, download) {
    const link = h("a", { href: await this.fetchFile(a), target: "_blank", rel: "noopener" });
    if (download) link.download = a.filename;
    link.click();
  }

  // -- closing, rating, a new conversation -------------------------------------------

  setClosed(closed) {
    this.closed = closed;
    this.composer.hidden = closed;
    this.closedBox.hidden = !closed;
    this.ctx.onActive(!closed);
    if (closed) this.renderClosed();
    this.updatePrompt();
  }

  renderClosed() {
    if (!this.closed) return;
    const t = this.t;
    replace(this.closedBox,
      h("p", {}, t("closed")),
      this.rated ? h("p", { class: "thanks" }, t("thanks"))
        : h("button", { type: "button", onclick: () => this.rate(false) }, t("rate_prompt")),
      h("button", { type: "button", class: "primary", onclick: () => this.ctx.onNewConversation(this.conv.id) },
        t("new_conversation")));
  }

  updatePrompt() {
    const show = this.status === "proposed_to_close" && !this.closed && !this.promptDismissed;
    if (show === !this.prompt.hidden) return;
    this.prompt.hidden = !show;
    if (!show) return;
    const t = this.t;
    replace(this.prompt, h("p", {}, t("proposed")),
      h("div", { class: "row" },
        h("button", { type: "button", class: "primary", onclick: () => this.rate(true, t("proposed")) }, t("rate_close")),
        h("button", { type: "button", onclick: () => { this.promptDismissed = true; this.updatePrompt(); this.ta.focus(); } },
          t("keep_going"))));
  }

  /** ``closing``: end the chat (the rating is optional); otherwise rate a closed one. */
  rate(closing, intro) {
    if (!this.conv || this.sheet) return;
    const done = () => { this.sheet.remove(); this.sheet = null; };
    this.sheet = h("div", { class: "overlay" }, ratingSheet({
      t: this.t, closing, intro, cancel: done,
      submit: async (rating) => {
        const id = this.conv.id;
        if (closing) await this.ctx.api("POST", `/api/conversations/${id}/close`, rating ? { rating } : {});
        else await this.ctx.api("POST", `/api/conversations/${id}/rating`, rating);
        done();
        if (rating) this.rated = true;
        this.setClosed(true);
      },
    }));
    this.el.append(this.sheet);
    this.sheet.querySelector("button").focus();
  }

  // -- scrolling and time ------------------------------------------------------------

  atBottom() {
    const s = this.scroller;
    return s.scrollHeight - s.scrollTop - s.clientHeight < 40;
  }

  toBottom() {
    this.scroller.scrollTop = this.scroller.scrollHeight;
    this.follow = true;
    this.pill.hidden = true;
  }

  time(iso) {
    const d = new Date(iso);
    return isNaN(d) ? "" : this.timeFmt.format(d);
  }
}

let audio = null;
// Browsers let a page make sound only after the visitor touched it; until then, silence.
addEventListener("pointerdown", () => { audio = audio || new AudioContext(); }, { once: true });

function beep() {
  if (!audio) return;
  try {
    const osc = audio.createOscillator();
    const gain = audio.createGain();
    osc.frequency.value = 880;
    gain.gain.setValueAtTime(0.06, audio.currentTime);
    gain.gain.exponentialRampToValueAtTime(0.0001, audio.currentTime + 0.25);
    osc.connect(gain).connect(audio.destination);
    osc.start();
    osc.stop(audio.currentTime + 0.25);
  } catch (e) { /* no sound is fine */ }
}

const ICONS = {
  close: "M6 6l12 12M18 6L6 18",
  send: "M4 12l16-8-6 16-2-7z",
  attach: "M8 12.5l6.5-6.5a3 3 0 0 1 4.2 4.2l-8 8a5 5 0 0 1-7-7l7.5-7.5",
  end: "M9 4H5v16h4M16 8l4 4-4 4M20 12H10",
  file: "M6 3h8l4 4v14H6zM14 3v4h4",
  bell: "M6 16v-5a6 6 0 0 1 12 0v5l2 2H4zM10 20a2 2 0 0 0 4 0",
};

export function icon(name) {
  const ns = "http://www.w3.org/2000/svg";
  const svg = document.createElementNS(ns, "svg");
  svg.setAttribute("viewBox", "0 0 24 24");
  svg.setAttribute("aria-hidden", "true");
  svg.setAttribute("class", "icon");
  const path = svg.appendChild(document.createElementNS(ns, "path"));
  path.setAttribute("d", ICONS[name]);
  return svg;
}

const URL_RE = /\bhttps?:\/\/[^\s<>"']+/g;

/** Message text with its web addresses as links (only http and https ever become one). */
export function linkified(text) {
  const parts = [];
  let at = 0;
  for (const m of text.matchAll(URL_RE)) {
    const url = m[0].replace(/[.,;:!?)\]]+$/, "");
    parts.push(text.slice(at, m.index), h("a", { href: url, target: "_blank", rel: "noopener noreferrer" }, url));
    at = m.index + url.length;
  }
  parts.push(text.slice(at));
  return parts;
}

export function fileSize(bytes) {
  if (bytes >= 1048576) return (bytes / 1048576).toFixed(bytes < 10485760 ? 1 : 0) + " MB";
  return Math.max(1, Math.round(bytes / 1024)) + " KB";
}

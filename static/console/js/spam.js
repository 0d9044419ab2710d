// "Spam" (staff; issue 16): the mails the intake held as spam and the tickets marked as
// spam, each with "Not spam"; the received-mail log (every mail that came in, with what
// became of it and why; open one to see its headers and text); and the sender block list
// (support admins add and remove; everyone else reads it). The server decides who may do
// what; buttons a reader may not use are disabled, not hidden.
// spamDialog is the conversation view's "Spam…" button: what to block along with it.

import { api } from "./api.js";
import { headersTable, statusFilter, tabbed, when } from "./mailparts.js";
import { h, replace } from "/static/shared/dom.js";
import { fmtNumber, register, t } from "/static/shared/i18n.js";
import { errorText, inboundStatusLabel } from "/static/shared/labels.js";
import catalog from "../i18n/mail.js";
import common from "/static/shared/i18n/common.js";

register(catalog);
register(common);

const STATUSES = ["ticket", "reply", "held", "spam", "loop", "bounce", "ours", "refused"];
const PAGE = 50;

function size(bytes) {
  return bytes >= 1024 * 1024 ? `${fmtNumber(bytes / 1024 / 1024, { maximumFractionDigits: 1 })} MB`
    : `${fmtNumber(Math.ceil(bytes / 1024))} KB`;
}

export class SpamView {
  constructor(el, ctx) {
    this.el = el;
    this.ctx = ctx;
    this.status = "";
  }

  get canDecide() {
    return Boolean(this.ctx.me.can.work);
  }

  get isAdmin() {
    return this.ctx.me.user.role === "support_admin";
  }

  async show() {
    replace(this.el, h("div", { class: "muted" }, t("mail.loading")));
    let spam, page, blocks;
    try {
      [spam, page, blocks] = await Promise.all([api("GET", "/api/mail/spam"), this._page(null),
        api("GET", "/api/mail/blocklist")]);
    } catch (err) {
      replace(this.el, h("div", { class: "error" }, errorText(err)));
      return;
    }
    this.list = h("tbody", {});
    this.more = h("button", { type: "button", onclick: () => this._older() }, t("mail.older"));
    this.opened = h("section", { "data-testid": "received-opened", class: "hidden" });
    const filter = statusFilter(STATUSES, inboundStatusLabel, this.status, "received-status-filter", (status) => {
      this.status = status;
      this.show();
    });
    replace(this.el,
      this._spam(spam),
      h("section", { "data-testid": "received-list" }, h("h2", {}, t("spam.received_title")),
        h("label", {}, t("mail.show"), " ", filter),
        h("table", {}, h("thead", {}, h("tr", {}, [t("spam.received"), t("spam.from"), t("mail.subject"), t("mail.status"),
          t("spam.why"), t("spam.ticket"), t("spam.size")].map((text) => h("th", {}, text)))), this.list),
        this.more),
      this.opened,
      this._blocks(blocks.blocks));
    this._append(page);
  }

  _spam(spam) {
    const rows = [];
    for (const tk of spam.tickets) {
      const open = h("a", { href: `#${tk.conversation_id}`, onclick: (ev) => { ev.preventDefault(); this.ctx.open(tk.conversation_id); } },
        `#${tk.conversation_id} ${tk.subject || t("mail.no_subject")}`);
      rows.push(h("tr", { dataset: { ticketId: String(tk.conversation_id) } },
        h("td", {}, t("spam.ticket")), h("td", {}, open), h("td", {}, tk.customer ? tk.customer.name : ""), h("td", {}, when(tk.spam_at)),
        h("td", {}, h("button", { type: "button", disabled: !this.canDecide, onclick: () => this._notSpamTicket(tk.conversation_id) },
          t("spam.not_spam")))));
    }
    for (const m of spam.mails) {
      const open = h("a", { href: `#mail-in-${m.id}`, onclick: (ev) => { ev.preventDefault(); this.open(m.id); } },
        m.subject || t("mail.no_subject"));
      rows.push(h("tr", { dataset: { mailId: String(m.id) } },
        h("td", {}, t("spam.mail")), h("td", {}, open), h("td", {}, m.sender), h("td", { title: m.reason }, when(m.received_at)),
        h("td", {}, h("button", { type: "button", disabled: !this.canDecide, onclick: () => this._release(m.id) },
          t("spam.not_spam")))));
    }
    return h("section", { "data-testid": "spam-list" }, h("h2", {}, t("spam.title")),
      h("p", { class: "muted" }, t("spam.help")),
      rows.length
        ? h("table", {}, h("thead", {}, h("tr", {}, ["", t("mail.subject"), t("spam.from"), t("mail.since"), ""]
          .map((text) => h("th", {}, text)))),
          h("tbody", {}, rows))
        : h("p", {}, t("spam.none")));
  }

  _page(beforeId) {
    const q = new URLSearchParams({ limit: String(PAGE) });
    if (this.status) q.set("status", this.status);
    if (beforeId) q.set("before_id", String(beforeId));
    return api("GET", `/api/mail/inbound?${q}`);
  }

  _append(page) {
    this.next = page.next_before_id;
    this.more.hidden = !this.next;
    if (!page.mails.length && !this.list.children.length) {
      this.list.append(h("tr", {}, h("td", { colspan: "7", class: "muted" }, t("spam.none_received"))));
    }
    for (const m of page.mails) {
      const open = h("a", { href: `#mail-in-${m.id}`, onclick: (ev) => { ev.preventDefault(); this.open(m.id); } },
        m.subject || t("mail.no_subject"));
      const ticket = m.conversation_id
        ? h("a", { href: `#${m.conversation_id}`, onclick: (ev) => { ev.preventDefault(); this.ctx.open(m.conversation_id); } },
          `#${m.conversation_id}`)
        : "";
      // A held mail (an unknown sender of a company, over the hourly limit) waits for staff.
      const release = m.status === "held" && !m.decided_at && this.canDecide
        ? h("button", { type: "button", onclick: () => this._release(m.id, t("spam.released")) },
          t("spam.release"))
        : "";
      this.list.append(h("tr", { dataset: { mailId: String(m.id) } },
        h("td", {}, when(m.received_at)), h("td", {}, m.sender || t("spam.nobody")), h("td", {}, open),
        h("td", {}, inboundStatusLabel(m.status), " ", release),
        h("td", {}, m.reason), h("td", {}, ticket), h("td", {}, size(m.size))));
    }
  }

  async _older() {
    try {
      this._append(await this._page(this.next));
    } catch (err) {
      this.ctx.toast(errorText(err), true);
    }
  }

  async open(id) {
    let mail;
    try {
      mail = await api("GET", `/api/mail/inbound/${id}`);
    } catch (err) {
      this.ctx.toast(errorText(err), true);
      return;
    }
    // The HTML part is shown as its (sanitized) source, never rendered: it came from outside.
    const panes = {
      text: h("pre", { class: "pre", "data-testid": "received-text" }, mail.text === null ? t("mail.no_text") : mail.text),
      html: h("pre", { class: "pre", "data-testid": "received-html" }, mail.html === null ? t("mail.no_html") : mail.html),
      headers: headersTable(mail.headers, "received-headers"),
    };
    const { tabs, body, pick } = tabbed(panes);
    const m = mail.mail;
    replace(this.opened,
      h("h2", {}, m.subject || t("mail.no_subject")),
      h("p", { class: "muted" }, `${t("spam.from_whom", { sender: m.sender || t("spam.nobody") })} · ${inboundStatusLabel(m.status)}`
        + `${m.reason ? ` · ${m.reason}` : ""}`
        + ` · ${size(m.size)}${m.message_id ? ` · ${m.message_id}` : ""}`),
      mail.truncated ? h("p", { class: "banner" }, t("spam.truncated"))
        : null,
      h("button", { type: "button", onclick: () => this.opened.classList.add("hidden") }, t("mail.close")),
      tabs, body);
    this.opened.classList.remove("hidden");
    pick("text");
    this.opened.scrollIntoView({ block: "nearest" });
  }

  _blocks(rows) {
    const pattern = h("input", { name: "pattern", placeholder: t("spam.pattern_placeholder"),
      "aria-label": t("spam.pattern"),
      required: true, disabled: !this.isAdmin });
    const reason = h("input", { name: "reason", placeholder: t("spam.why_optional"), "aria-label": t("mail.reason"), disabled: !this.isAdmin });
    const form = h("form", { class: "inline" }, pattern, reason,
      h("button", { type: "submit", disabled: !this.isAdmin }, t("spam.block")));
    form.addEventListener("submit", async (ev) => {
      ev.preventDefault();
      try {
        await api("POST", "/api/mail/blocklist", { pattern: pattern.value, reason: reason.value });
        this.ctx.toast(t("spam.blocked", { pattern: pattern.value.trim().toLowerCase() }));
        await this.show();
      } catch (err) {
        this.ctx.toast(errorText(err), true);
      }
    });
    return h("section", { "data-testid": "blocklist" }, h("h2", {}, t("spam.blocked_title")),
      h("p", { class: "muted" }, t("spam.blocked_help")),
      rows.length
        ? h("table", {}, h("tr", {}, [t("spam.address_or_domain"), t("mail.reason"), t("mail.since"), ""]
          .map((text) => h("th", {}, text))),
          rows.map((b) => h("tr", { dataset: { pattern: b.pattern } }, h("td", {}, b.pattern), h("td", {}, b.reason),
            h("td", {}, when(b.created_at)),
            h("td", {}, h("button", { type: "button", disabled: !this.isAdmin, onclick: () => this._unblock(b.pattern) },
              t("spam.remove"))))))
        : h("p", {}, t("spam.none_blocked")),
      form);
  }

  async _call(method, path, done) {
    try {
      await api(method, path);
      this.ctx.toast(done);
      await this.show();
    } catch (err) {
      this.ctx.toast(errorText(err), true);
    }
  }

  _notSpamTicket(id) {
    return this._call("DELETE", `/api/tickets/${id}/spam`, t("spam.back", { id }));
  }

  _release(id, done = t("spam.not_spam_done")) {
    return this._call("POST", `/api/mail/inbound/${id}/not-spam`, done);
  }

  _unblock(pattern) {
    return this._call("DELETE", `/api/mail/blocklist/${encodeURIComponent(pattern)}`, t("spam.unblocked", { pattern }));
  }
}

// What to block along with marking a ticket as spam. Resolves to {block} or null.
export function spamDialog(ticket) {
  return new Promise((resolve) => {
    const choice = h("select", { name: "block", "aria-label": t("spam.also_block") },
      h("option", { value: "sender" }, t("spam.block_sender")),
      h("option", { value: "domain" }, t("spam.block_domain")),
      h("option", { value: "none" }, t("spam.block_none")));
    const form = h("form", { method: "dialog" },
      h("h2", {}, t("spam.mark_title", { id: ticket.id })),
      h("p", { class: "muted" }, t("spam.mark_help")),
      h("label", {}, t("spam.also_block"), " ", choice),
      h("div", { class: "buttons" },
        h("button", { type: "button", value: "cancel", onclick: () => dialog.close("cancel") }, t("common.cancel")),
        h("button", { type: "submit", class: "primary", value: "ok" }, t("spam.mark"))));
    const dialog = h("dialog", {}, form);
    dialog.addEventListener("close", () => {
      dialog.remove();
      resolve(dialog.returnValue === "ok" ? { block: choice.value } : null);
    });
    document.body.append(dialog);
    dialog.showModal();
    choice.focus();
  });
}

// "Sent mail" (support admins): the outbox, newest first, with a status filter; one mail
// opened as its recipient sees it (the HTML part in a sandboxed frame that runs nothing, the
// text part, the headers); and the suppressed addresses with a button to clear each.
// On the embedded default (no SMTP_URL) this is the development mailbox: nothing is sent.

import { api } from "./api.js";
import { KIND_LABELS } from "./profile.js";
import { headersTable, statusFilter, tabbed, when } from "./mailparts.js";
import { h, replace } from "/static/shared/dom.js";

const STATUSES = ["held", "pending", "sent", "failed", "cancelled"];
const PAGE = 50;

export class MailboxView {
  constructor(el, ctx) {
    this.el = el;
    this.ctx = ctx;
    this.status = "";
  }

  async show() {
    replace(this.el, h("div", { class: "muted" }, "Loading…"));
    let page, suppressions;
    try {
      [page, suppressions] = await Promise.all([this._page(null), api("GET", "/api/mail/suppressions")]);
    } catch (err) {
      replace(this.el, h("div", { class: "error" }, err.message));
      return;
    }
    this.list = h("tbody", {});
    this.more = h("button", { type: "button", onclick: () => this._older() }, "Older mails");
    this.opened = h("section", { "data-testid": "mail-opened", class: "hidden" });
    const filter = statusFilter(STATUSES, this.status, "mail-status-filter", (status) => {
      this.status = status;
      this.show();
    });
    replace(this.el,
      page.transport === "devbox"
        ? h("p", { class: "banner", role: "note", "data-testid": "devbox-banner" },
          "Development mailbox: no SMTP_URL is set, so mails are kept here and not sent. "
          + "Open one to see what its recipient would have received.")
        : null,
      h("section", { "data-testid": "mail-list" }, h("h2", {}, "Sent mail"),
        h("label", {}, "Show ", filter),
        h("table", {}, h("thead", {}, h("tr", {}, ["Created", "To", "Subject", "Kind", "Status", "Tries", "Sent"]
          .map((t) => h("th", {}, t)))), this.list),
        this.more),
      this.opened,
      this._suppressions(suppressions.suppressions));
    this._append(page);
  }

  _page(beforeId) {
    const q = new URLSearchParams({ limit: String(PAGE) });
    if (this.status) q.set("status", this.status);
    if (beforeId) q.set("before_id", String(beforeId));
    return api("GET", `/api/mail/outbox?${q}`);
  }

  _append(page) {
    this.next = page.next_before_id;
    this.more.hidden = !this.next;
    if (!page.mails.length && !this.list.children.length) {
      this.list.append(h("tr", {}, h("td", { colspan: "7", class: "muted" }, "No mail yet.")));
    }
    for (const m of page.mails) {
      const open = h("a", { href: `#mail-${m.id}`, onclick: (ev) => { ev.preventDefault(); this.open(m.id); } },
        m.subject || "(no subject)");
      this.list.append(h("tr", { dataset: { mailId: String(m.id) } },
        h("td", {}, when(m.created_at)), h("td", {}, m.to), h("td", {}, open),
        h("td", {}, KIND_LABELS[m.kind] || m.kind),
        h("td", { title: m.last_error || "" }, m.status), h("td", {}, String(m.attempts)), h("td", {}, when(m.sent_at))));
    }
  }

  async _older() {
    try {
      this._append(await this._page(this.next));
    } catch (err) {
      this.ctx.toast(err.message, true);
    }
  }

  async open(id) {
    let mail;
    try {
      mail = await api("GET", `/api/mail/outbox/${id}`);
    } catch (err) {
      this.ctx.toast(err.message, true);
      return;
    }
    const panes = {};
    if (mail.redacted) {
      panes.HTML = h("p", { class: "muted" }, "This account mail was really sent; its link belongs to its recipient, "
        + "so its body is not shown.");
    } else {
      // sandbox="" : no scripts, no forms, no navigation of the console, a unique origin.
      panes.HTML = mail.html === null ? h("p", { class: "muted" }, "No HTML part.")
        // Its own page, so that the mail's inline styles apply as in a mail client (the
        // console's own policy would block them in a srcdoc frame).
        : h("iframe", { sandbox: "", src: mail.html_url, title: `Mail ${id} as HTML`, class: "mail-html",
          "data-testid": "mail-html" });
      panes.Text = h("pre", { class: "pre", "data-testid": "mail-text" }, mail.text === null ? "(no text part)" : mail.text);
    }
    panes.Headers = headersTable(mail.headers, "mail-headers");
    const { tabs, body, pick } = tabbed(panes);
    const m = mail.mail;
    replace(this.opened,
      h("h2", {}, m.subject || "(no subject)"),
      h("p", { class: "muted" }, `To ${m.to} · ${KIND_LABELS[m.kind] || m.kind} · ${m.status}`
        + (m.last_error ? ` · ${m.last_error}` : "") + ` · ${mail.message_id}`),
      h("button", { type: "button", onclick: () => this.opened.classList.add("hidden") }, "Close"),
      tabs, body);
    this.opened.classList.remove("hidden");
    pick("HTML");
    this.opened.scrollIntoView({ block: "nearest" });
  }

  _suppressions(rows) {
    return h("section", { "data-testid": "suppressions" }, h("h2", {}, "Suppressed addresses"),
      h("p", { class: "muted" }, "Nothing is sent to these addresses: their mail server refused for good, or the "
        + "recipient unsubscribed. Clear one once the address works again."),
      rows.length
        ? h("table", {}, h("tr", {}, ["Address", "Reason", "Since", ""].map((t) => h("th", {}, t))),
          rows.map((s) => h("tr", {}, h("td", {}, s.address), h("td", {}, s.reason), h("td", {}, when(s.created_at)),
            h("td", {}, h("button", { type: "button", onclick: () => this._clear(s.address) }, "Clear")))))
        : h("p", {}, "No address is suppressed."));
  }

  async _clear(address) {
    try {
      await api("DELETE", `/api/mail/suppressions/${encodeURIComponent(address)}`);
      this.ctx.toast(`${address} will receive mail again.`);
      await this.show();
    } catch (err) {
      this.ctx.toast(err.message, true);
    }
  }
}

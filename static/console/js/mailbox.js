// "Sent mail" (support admins): the outbox, newest first, with a status filter; one mail
// opened as its recipient sees it (the HTML part in a sandboxed frame that runs nothing, the
// text part, the headers); and the suppressed addresses with a button to clear each.
// On the embedded default (no SMTP_URL) this is the development mailbox: nothing is sent.

import { api } from "./api.js";
import { KIND_LABELS } from "./profile.js";
import { headersTable, statusFilter, tabbed, when } from "./mailparts.js";
import { h, replace } from "/static/shared/dom.js";
import { fmtNumber, register, t } from "/static/shared/i18n.js";
import { errorText, mailStatusLabel } from "/static/shared/labels.js";
import catalog from "../i18n/mail.js";

register(catalog);

const STATUSES = ["held", "pending", "sent", "failed", "cancelled"];
const PAGE = 50;

// "unsubscribed" is ours (chat/mail/preferences.py); any other reason is the mail server's own words.
function suppressionReason(reason) {
  return reason === "unsubscribed" ? t("mail.unsubscribed") : reason;
}

export class MailboxView {
  constructor(el, ctx) {
    this.el = el;
    this.ctx = ctx;
    this.status = "";
  }

  async show() {
    replace(this.el, h("div", { class: "muted" }, t("mail.loading")));
    let page, suppressions;
    try {
      [page, suppressions] = await Promise.all([this._page(null), api("GET", "/api/mail/suppressions")]);
    } catch (err) {
      replace(this.el, h("div", { class: "error" }, errorText(err)));
      return;
    }
    this.list = h("tbody", {});
    this.more = h("button", { type: "button", onclick: () => this._older() }, t("mail.older"));
    this.opened = h("section", { "data-testid": "mail-opened", class: "hidden" });
    const filter = statusFilter(STATUSES, mailStatusLabel, this.status, "mail-status-filter", (status) => {
      this.status = status;
      this.show();
    });
    replace(this.el,
      page.transport === "devbox"
        ? h("p", { class: "banner", role: "note", "data-testid": "devbox-banner" },
          t("mail.devbox"))
        : null,
      h("section", { "data-testid": "mail-list" }, h("h2", {}, t("mail.sent_title")),
        h("label", {}, t("mail.show"), " ", filter),
        h("table", {}, h("thead", {}, h("tr", {}, [t("mail.created"), t("mail.to"), t("mail.subject"), t("mail.kind"),
          t("mail.status"), t("mail.tries"), t("mail.sent")].map((text) => h("th", {}, text)))), this.list),
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
      this.list.append(h("tr", {}, h("td", { colspan: "7", class: "muted" }, t("mail.none_yet"))));
    }
    for (const m of page.mails) {
      const open = h("a", { href: `#mail-${m.id}`, onclick: (ev) => { ev.preventDefault(); this.open(m.id); } },
        m.subject || t("mail.no_subject"));
      this.list.append(h("tr", { dataset: { mailId: String(m.id) } },
        h("td", {}, when(m.created_at)), h("td", {}, m.to), h("td", {}, open),
        h("td", {}, KIND_LABELS[m.kind] || m.kind),
        h("td", { title: m.last_error || "" }, mailStatusLabel(m.status)), h("td", {}, fmtNumber(m.attempts)), h("td", {}, when(m.sent_at))));
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
      mail = await api("GET", `/api/mail/outbox/${id}`);
    } catch (err) {
      this.ctx.toast(errorText(err), true);
      return;
    }
    const panes = {};
    if (mail.redacted) {
      panes.html = h("p", { class: "muted" }, t("mail.redacted"));
    } else {
      // sandbox="" : no scripts, no forms, no navigation of the console, a unique origin.
      panes.html = mail.html === null ? h("p", { class: "muted" }, t("mail.no_html"))
        // Its own page, so that the mail's inline styles apply as in a mail client (the
        // console's own policy would block them in a srcdoc frame).
        : h("iframe", { sandbox: "", src: mail.html_url, title: t("mail.as_html", { id }), class: "mail-html",
          "data-testid": "mail-html" });
      panes.text = h("pre", { class: "pre", "data-testid": "mail-text" }, mail.text === null ? t("mail.no_text") : mail.text);
    }
    panes.headers = headersTable(mail.headers, "mail-headers");
    const { tabs, body, pick } = tabbed(panes);
    const m = mail.mail;
    replace(this.opened,
      h("h2", {}, m.subject || t("mail.no_subject")),
      h("p", { class: "muted" }, `${t("mail.to_whom", { to: m.to })} · ${KIND_LABELS[m.kind] || m.kind} · ${mailStatusLabel(m.status)}`
        + (m.last_error ? ` · ${m.last_error}` : "") + ` · ${mail.message_id}`),
      h("button", { type: "button", onclick: () => this.opened.classList.add("hidden") }, t("mail.close")),
      tabs, body);
    this.opened.classList.remove("hidden");
    pick("html");
    this.opened.scrollIntoView({ block: "nearest" });
  }

  _suppressions(rows) {
    return h("section", { "data-testid": "suppressions" }, h("h2", {}, t("mail.suppressed_title")),
      h("p", { class: "muted" }, t("mail.suppressed_help")),
      rows.length
        ? h("table", {}, h("tr", {}, [t("mail.address"), t("mail.reason"), t("mail.since"), ""].map((text) => h("th", {}, text))),
          rows.map((s) => h("tr", {}, h("td", {}, s.address), h("td", {}, suppressionReason(s.reason)), h("td", {}, when(s.created_at)),
            h("td", {}, h("button", { type: "button", onclick: () => this._clear(s.address) }, t("mail.clear"))))))
        : h("p", {}, t("mail.none_suppressed")));
  }

  async _clear(address) {
    try {
      await api("DELETE", `/api/mail/suppressions/${encodeURIComponent(address)}`);
      this.ctx.toast(t("mail.cleared", { address }));
      await this.show();
    } catch (err) {
      this.ctx.toast(errorText(err), true);
    }
  }
}

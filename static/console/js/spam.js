// "Spam" (staff; issue 16): the mails the intake held as spam and the tickets marked as
// spam, each with "Not spam"; the received-mail log (every mail that came in, with what
// became of it and why; open one to see its headers and text); and the sender block list
// (support admins add and remove; everyone else reads it). The server decides who may do
// what; buttons a reader may not use are disabled, not hidden.
// spamDialog is the conversation view's "Spam…" button: what to block along with it.

import { api } from "./api.js";
import { headersTable, statusFilter, tabbed, when } from "./mailparts.js";
import { h, replace } from "/static/shared/dom.js";

const STATUSES = ["ticket", "reply", "held", "spam", "loop", "bounce", "ours", "refused"];
const PAGE = 50;

function size(bytes) {
  return bytes >= 1024 * 1024 ? `${(bytes / 1024 / 1024).toFixed(1)} MB` : `${Math.ceil(bytes / 1024)} KB`;
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
    replace(this.el, h("div", { class: "muted" }, "Loading…"));
    let spam, page, blocks;
    try {
      [spam, page, blocks] = await Promise.all([api("GET", "/api/mail/spam"), this._page(null),
        api("GET", "/api/mail/blocklist")]);
    } catch (err) {
      replace(this.el, h("div", { class: "error" }, err.message));
      return;
    }
    this.list = h("tbody", {});
    this.more = h("button", { type: "button", onclick: () => this._older() }, "Older mails");
    this.opened = h("section", { "data-testid": "received-opened", class: "hidden" });
    const filter = statusFilter(STATUSES, this.status, "received-status-filter", (status) => {
      this.status = status;
      this.show();
    });
    replace(this.el,
      this._spam(spam),
      h("section", { "data-testid": "received-list" }, h("h2", {}, "Received mail"),
        h("label", {}, "Show ", filter),
        h("table", {}, h("thead", {}, h("tr", {}, ["Received", "From", "Subject", "Status", "Why", "Ticket", "Size"]
          .map((t) => h("th", {}, t)))), this.list),
        this.more),
      this.opened,
      this._blocks(blocks.blocks));
    this._append(page);
  }

  _spam(spam) {
    const rows = [];
    for (const t of spam.tickets) {
      const open = h("a", { href: `#${t.conversation_id}`, onclick: (ev) => { ev.preventDefault(); this.ctx.open(t.conversation_id); } },
        `#${t.conversation_id} ${t.subject || "(no subject)"}`);
      rows.push(h("tr", { dataset: { ticketId: String(t.conversation_id) } },
        h("td", {}, "Ticket"), h("td", {}, open), h("td", {}, t.customer ? t.customer.name : ""), h("td", {}, when(t.spam_at)),
        h("td", {}, h("button", { type: "button", disabled: !this.canDecide, onclick: () => this._notSpamTicket(t.conversation_id) },
          "Not spam"))));
    }
    for (const m of spam.mails) {
      const open = h("a", { href: `#mail-in-${m.id}`, onclick: (ev) => { ev.preventDefault(); this.open(m.id); } },
        m.subject || "(no subject)");
      rows.push(h("tr", { dataset: { mailId: String(m.id) } },
        h("td", {}, "Mail"), h("td", {}, open), h("td", {}, m.sender), h("td", { title: m.reason }, when(m.received_at)),
        h("td", {}, h("button", { type: "button", disabled: !this.canDecide, onclick: () => this._release(m.id) }, "Not spam"))));
    }
    return h("section", { "data-testid": "spam-list" }, h("h2", {}, "Spam"),
      h("p", { class: "muted" }, "Mails the spam filter flagged or a blocked sender wrote, and tickets marked as spam. "
        + "They are in no queue, and nothing is mailed to their senders."),
      rows.length
        ? h("table", {}, h("thead", {}, h("tr", {}, ["", "Subject", "From", "Since", ""].map((t) => h("th", {}, t)))),
          h("tbody", {}, rows))
        : h("p", {}, "No spam."));
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
      this.list.append(h("tr", {}, h("td", { colspan: "7", class: "muted" }, "No mail received.")));
    }
    for (const m of page.mails) {
      const open = h("a", { href: `#mail-in-${m.id}`, onclick: (ev) => { ev.preventDefault(); this.open(m.id); } },
        m.subject || "(no subject)");
      const ticket = m.conversation_id
        ? h("a", { href: `#${m.conversation_id}`, onclick: (ev) => { ev.preventDefault(); this.ctx.open(m.conversation_id); } },
          `#${m.conversation_id}`)
        : "";
      // A held mail (an unknown sender of a company, over the hourly limit) waits for staff.
      const release = m.status === "held" && !m.decided_at && this.canDecide
        ? h("button", { type: "button", onclick: () => this._release(m.id, "Released: the mail went through.") },
          "Release")
        : "";
      this.list.append(h("tr", { dataset: { mailId: String(m.id) } },
        h("td", {}, when(m.received_at)), h("td", {}, m.sender || "(none)"), h("td", {}, open), h("td", {}, m.status, " ", release),
        h("td", {}, m.reason), h("td", {}, ticket), h("td", {}, size(m.size))));
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
      mail = await api("GET", `/api/mail/inbound/${id}`);
    } catch (err) {
      this.ctx.toast(err.message, true);
      return;
    }
    // The HTML part is shown as its (sanitized) source, never rendered: it came from outside.
    const panes = {
      Text: h("pre", { class: "pre", "data-testid": "received-text" }, mail.text === null ? "(no text part)" : mail.text),
      HTML: h("pre", { class: "pre", "data-testid": "received-html" }, mail.html === null ? "(no HTML part)" : mail.html),
      Headers: headersTable(mail.headers, "received-headers"),
    };
    const { tabs, body, pick } = tabbed(panes);
    const m = mail.mail;
    replace(this.opened,
      h("h2", {}, m.subject || "(no subject)"),
      h("p", { class: "muted" }, `From ${m.sender || "(none)"} · ${m.status}${m.reason ? ` · ${m.reason}` : ""}`
        + ` · ${size(m.size)}${m.message_id ? ` · ${m.message_id}` : ""}`),
      mail.truncated ? h("p", { class: "banner" }, "Only the beginning of this mail was kept; later parts may be missing.")
        : null,
      h("button", { type: "button", onclick: () => this.opened.classList.add("hidden") }, "Close"),
      tabs, body);
    this.opened.classList.remove("hidden");
    pick("Text");
    this.opened.scrollIntoView({ block: "nearest" });
  }

  _blocks(rows) {
    const pattern = h("input", { name: "pattern", placeholder: "ann@example.com or @example.com", "aria-label": "Address or @domain",
      required: true, disabled: !this.isAdmin });
    const reason = h("input", { name: "reason", placeholder: "Why (optional)", "aria-label": "Reason", disabled: !this.isAdmin });
    const form = h("form", { class: "inline" }, pattern, reason,
      h("button", { type: "submit", disabled: !this.isAdmin }, "Block"));
    form.addEventListener("submit", async (ev) => {
      ev.preventDefault();
      try {
        await api("POST", "/api/mail/blocklist", { pattern: pattern.value, reason: reason.value });
        this.ctx.toast(`${pattern.value.trim().toLowerCase()} is blocked.`);
        await this.show();
      } catch (err) {
        this.ctx.toast(err.message, true);
      }
    });
    return h("section", { "data-testid": "blocklist" }, h("h2", {}, "Blocked senders"),
      h("p", { class: "muted" }, "Mail from these addresses and domains goes to Spam: it opens nothing, and nothing "
        + "is mailed to them."),
      rows.length
        ? h("table", {}, h("tr", {}, ["Address or domain", "Reason", "Since", ""].map((t) => h("th", {}, t))),
          rows.map((b) => h("tr", { dataset: { pattern: b.pattern } }, h("td", {}, b.pattern), h("td", {}, b.reason),
            h("td", {}, when(b.created_at)),
            h("td", {}, h("button", { type: "button", disabled: !this.isAdmin, onclick: () => this._unblock(b.pattern) },
              "Remove")))))
        : h("p", {}, "Nobody is blocked."),
      form);
  }

  async _call(method, path, done) {
    try {
      await api(method, path);
      this.ctx.toast(done);
      await this.show();
    } catch (err) {
      this.ctx.toast(err.message, true);
    }
  }

  _notSpamTicket(id) {
    return this._call("DELETE", `/api/tickets/${id}/spam`, `#${id} is back in its queue.`);
  }

  _release(id, done = "Marked as not spam: the mail went through.") {
    return this._call("POST", `/api/mail/inbound/${id}/not-spam`, done);
  }

  _unblock(pattern) {
    return this._call("DELETE", `/api/mail/blocklist/${encodeURIComponent(pattern)}`, `${pattern} is no longer blocked.`);
  }
}

// What to block along with marking a ticket as spam. Resolves to {block} or null.
export function spamDialog(ticket) {
  return new Promise((resolve) => {
    const choice = h("select", { name: "block", "aria-label": "Also block" },
      h("option", { value: "sender" }, "the sender's address"),
      h("option", { value: "domain" }, "the sender's whole domain"),
      h("option", { value: "none" }, "nobody"));
    const form = h("form", { method: "dialog" },
      h("h2", {}, `Mark #${ticket.id} as spam`),
      h("p", { class: "muted" }, "The ticket leaves the queues (nothing else about it changes). "
        + "A free-mail domain such as gmail.com can only be blocked as a sender."),
      h("label", {}, "Also block ", choice),
      h("div", { class: "buttons" },
        h("button", { type: "button", value: "cancel", onclick: () => dialog.close("cancel") }, "Cancel"),
        h("button", { type: "submit", class: "primary", value: "ok" }, "Mark as spam")));
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

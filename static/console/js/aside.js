// The side panel of an open conversation: the customer, the ticket, support notes for shift
// handover, action tasks and ratings.

import { api } from "./api.js";
import { h, replace } from "/static/shared/dom.js";
import { dateTime, duration } from "./format.js";
import { categoryLabel, channelLabel, statusLabel } from "./events.js";
import { impersonateButton } from "./impersonate.js";

function facts(pairs) {
  return h("dl", {}, pairs.filter(Boolean).map(([k, v]) => [h("dt", {}, k), h("dd", {}, v ?? "—")]));
}

function person(p) {
  return p ? `${p.name || "(no name)"}${p.role ? ` (${p.role.replace("_", " ")})` : ""}` : "—";
}

function deadlineText(d) {
  if (!d || !d.due_at) return "—";
  if (d.state === "met") return "met";
  if (d.state === "paused") return "paused (waiting on the customer)";
  const left = new Date(d.due_at) - Date.now();
  return left >= 0 ? `${duration(left)} left (${dateTime(d.due_at)})` : `late by ${duration(left)}`;
}

export function renderAside(el, ctx, detail, reload) {
  const { customer, organization, ticket } = detail;
  const sections = [
    h("h3", {}, "Customer"),
    facts([
      ["Name", customer ? customer.name || "(anonymous visitor)" : "—"],
      ["E-mail", customer && customer.email],
      ["Kind", customer && customer.role],
      ["Organization", organization ? organization.name : "—"],
      ["Plan", organization && organization.plan_tier],
      ["Account created by", customer && customer.created_by ? person(customer.created_by)
        : customer ? "self (widget or sign-up)" : "—"],
      ["Company created by", organization && organization.created_by ? person(organization.created_by) : null],
      ["Ticket opened by", person(detail.opened_by)],
      ["Opened", dateTime(detail.opened_at)],
      ["Last interaction", dateTime(detail.last_interaction_at)],
    ]),
    impersonateButton(ctx, customer),
  ];
  if (ticket) {
    const deadlines = Object.entries(ticket.deadlines || {});
    sections.push(
      h("h3", {}, "Ticket"),
      facts([
        ["Status", `${statusLabel(ticket.status)}${ticket.label ? ` — ${ticket.label}` : ""}`],
        ["Next action", ticket.next_action],
        ticket.handled_by ? ["Queue", `Partner's: ${(ticket.partner && ticket.partner.name) || ticket.handled_by}`] : null,
        ["Line", ticket.group_name || ticket.group || `Level ${ticket.level}`],
        ["Category", categoryLabel(ticket.category)],
        ["Severity", ticket.severity],
        ["Affected", (ticket.assets || []).join(", ") || null],
        ["Happened", ticket.happened_at ? dateTime(ticket.happened_at) : null],
        ["Contact e-mail", ticket.contact_email],
        ["Channel", channelLabel(ticket.channel)],
        ["Assignee", ticket.assignee ? ticket.assignee.name : "—"],
        ["Tracked", ticket.tracked ? "yes (SLA running)" : "live chat"],
        ticket.customer_left_at ? ["Customer left", dateTime(ticket.customer_left_at)] : null,
        ...deadlines.map(([name, d]) => [`SLA ${name.replaceAll("_", " ")}`, deadlineText(d)]),
      ]),
    );
  }
  // Support notes are the platform team's shift handover; a partner's console has none.
  if (!ctx.partnerMode) sections.push(h("h3", {}, "Support notes"), notesBlock(ctx, detail, reload));
  if (ticket) {
    sections.push(h("h3", {}, "Tasks"));
    const tasks = ticket.tasks || [];
    sections.push(tasks.length ? tasks.map((t) => h("div", { class: "task-item" },
      h("strong", {}, t.type ? `${t.type.replaceAll("_", " ")}: ` : ""), t.text,
      h("div", { class: "muted" }, [t.status, t.hours ? `${t.hours} h` : null, t.due_at ? `due ${dateTime(t.due_at)}` : null]
        .filter(Boolean).join(" · ")))) : h("div", { class: "muted" }, "No tasks"));
    sections.push(h("h3", {}, "Ratings"));
    const ratings = ticket.ratings || [];
    sections.push(ratings.length ? ratings.map((r) => h("div", { class: "rating-item" },
      h("strong", {}, r.value), r.reason ? ` — ${r.reason}` : "", r.comment ? h("div", {}, r.comment) : null,
      h("div", { class: "muted" }, dateTime(r.created_at || r.at)))) : h("div", { class: "muted" }, "Not rated"));
  }
  replace(el, sections);
}

function notesBlock(ctx, detail, reload) {
  const customer = detail.customer;
  if (!customer) return h("div", { class: "muted" }, "No customer");
  const list = (detail.notes || []).map((n) => h("div", { class: "note-item", "data-testid": "customer-note" },
    n.body, h("div", { class: "muted" }, `${n.author ? n.author.name : "?"} · ${dateTime(n.created_at)}`)));
  const text = h("textarea", { "aria-label": "New support note", placeholder: "For the next shift; never shown to the customer",
    disabled: !ctx.me.can.work });
  const form = h("form", {}, text, h("button", { type: "submit", disabled: !ctx.me.can.work }, "Add note"));
  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    if (!text.value.trim()) return;
    try {
      await api("POST", `/api/desk/customers/${customer.id}/notes`, { body: text.value });
      text.value = "";
      reload();
    } catch (err) {
      ctx.toast(err.message, true);
    }
  });
  return h("div", {}, list.length ? list : h("div", { class: "muted" }, "No notes yet"), form);
}

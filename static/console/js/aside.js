// The side panel of an open conversation: the customer, where the visitor is (page,
// referrer, language, local time, browser — what their widget reports), their earlier
// tickets, the ticket with its SLA as the server computed it, support notes for shift
// handover, action tasks (complete, reassign, re-date) and ratings.

import { api } from "./api.js";
import { h, replace } from "/static/shared/dom.js";
import { register, t, language, fmtDateTime } from "/static/shared/i18n.js";
import { displayName } from "/static/shared/names.js";
import { duration } from "./format.js";
import { categoryLabel, channelLabel, groupLabel, planLabel, policyLabel, roleLabel, severityLabel, slaTargetLabel, statusLabel } from "./events.js";
import { impersonateButton } from "./impersonate.js";
import { reassignTaskDialog, redateTaskDialog, taskTypeName } from "./dialogs.js";
import catalog from "../i18n/aside.js";

register(catalog);

// The visitor's ticking clock; one panel at a time, so one timer.
let clockTimer = null;

function facts(pairs) {
  return h("dl", {}, pairs.filter(Boolean).map(([k, v, testid]) =>
    [h("dt", {}, k), h("dd", testid ? { "data-testid": testid } : {}, v ?? "—")]));
}

function known(prefix, value) {
  if (value == null || value === "") return null;
  const text = t(`${prefix}.${value}`);
  return text === `${prefix}.${value}` ? String(value).replaceAll("_", " ") : text;
}

function person(p) {
  if (!p) return "—";
  return p.role ? t("aside.person_role", { name: displayName(p), role: roleLabel(p.role) }) : displayName(p);
}

// One deadline exactly as the API states it: met, paused, stopped and breached are the
// server's words; only a running one counts down here (between two reads of the ticket).
export function deadlineText(d, now) {
  if (!d) return "—";
  if (d.state === "met") return t("aside.sla.met");
  if (d.state === "paused") return t("aside.sla.paused");
  if (d.state === "stopped") return t("aside.sla.stopped");
  if (!d.due_at) return d.state === "breached" ? t("aside.sla.breached_plain") : t("aside.sla.running");
  const left = Date.parse(d.due_at) - now;
  if (d.state === "breached") return t("aside.sla.breached", { late: duration(left) });
  return left >= 0 ? t("aside.sla.left", { left: duration(left), due: fmtDateTime(d.due_at) })
    : t("aside.sla.late", { late: duration(left) });
}

// The whole SLA in one word, from the targets' states: breached wins, then paused, then
// running; met once every target is met.
export function slaSummary(deadlines) {
  const states = Object.values(deadlines || {}).map((d) => d && d.state).filter(Boolean);
  if (!states.length) return t("aside.sla.none");
  for (const state of ["breached", "paused", "running"]) {
    if (states.includes(state)) return state === "breached" ? t("aside.sla.breached_plain") : state === "paused"
      ? t("aside.sla.paused") : t("aside.sla.running");
  }
  return states.every((s) => s === "met") ? t("aside.sla.met") : t("aside.sla.stopped");
}

function safeLink(url, text) {
  if (!url || !/^https?:\/\//i.test(url)) return url || null;
  return h("a", { href: url, target: "_blank", rel: "noopener noreferrer" }, text || url);
}

function languageName(tag) {
  if (!tag) return null;
  try {
    const name = new Intl.DisplayNames([language()], { type: "language" }).of(tag);
    return name && name !== tag ? `${name} (${tag})` : tag;
  } catch (err) {
    return tag;
  }
}

function browserText(b) {
  if (!b) return null;
  const name = b.name ? (b.version ? `${b.name} ${b.version}` : b.name) : t("aside.browser_other");
  return b.system ? t("aside.browser_on", { browser: name, system: b.system }) : name;
}

function localClock(ctx, zone) {
  const el = h("span", { "data-testid": "local-time" });
  let format;
  try {
    format = new Intl.DateTimeFormat(language(), { timeZone: zone, weekday: "short", hour: "2-digit", minute: "2-digit" });
  } catch (err) {
    return zone;
  }
  const tick = () => {
    el.textContent = t("aside.local_time_value", { time: format.format(new Date(Date.now() + (ctx.skew || 0))), zone });
  };
  tick();
  clockTimer = setInterval(tick, 1000);
  return el;
}

function contextSection(ctx, detail) {
  const c = detail.context;
  if (!c) return [h("h3", {}, t("aside.visitor")), h("div", { class: "muted", "data-testid": "no-context" }, t("aside.no_context"))];
  return [
    h("h3", {}, t("aside.visitor")),
    facts([
      [t("aside.page"), c.page_url ? h("span", {}, safeLink(c.page_url, c.page_title || c.page_url),
        c.page_title ? h("div", { class: "muted url" }, c.page_url) : null) : null, "context-page"],
      [t("aside.referrer"), safeLink(c.referrer), "context-referrer"],
      [t("aside.language"), languageName(c.language), "context-language"],
      [t("aside.local_time"), c.time_zone ? localClock(ctx, c.time_zone) : null],
      [t("aside.browser"), browserText(c.browser), "context-browser"],
      [t("aside.context_at"), fmtDateTime(c.updated_at)],
    ]),
  ];
}

function historySection(ctx, detail) {
  const past = detail.history || [];
  return [
    h("h3", {}, t("aside.history")),
    past.length ? h("ul", { class: "earlier", "data-testid": "earlier-tickets" }, past.map((p) => h("li", {},
      h("button", { type: "button", class: "link", onclick: () => ctx.open(p.conversation_id) },
        t("aside.history_item", { id: p.conversation_id, subject: p.subject || t("aside.no_subject") })),
      h("span", { class: "muted" }, ` · ${statusLabel(p.status)} · ${fmtDateTime(p.created_at)}`))))
      : h("div", { class: "muted" }, t("aside.history_none")),
  ];
}

function slaPlan(detail) {
  const sla = detail.sla;
  if (!sla) return null;
  const plan = planLabel(sla.plan_tier);
  return [t("aside.sla_plan"), sla.policy ? t("aside.sla_plan_policy", { plan, policy: policyLabel(sla.policy) }) : plan,
    "sla-plan"];
}

export function renderAside(el, ctx, detail, reload) {
  clearInterval(clockTimer);
  const { customer, organization, ticket } = detail;
  const now = Date.now() + (ctx.skew || 0);
  const sections = [
    h("h3", {}, t("aside.customer")),
    facts([
      [t("aside.name"), customer ? displayName(customer) : "—", "customer-name"],
      [t("aside.email"), customer && customer.email],
      [t("aside.kind"), customer && roleLabel(customer.role)],
      [t("aside.organization"), organization ? (organization.via_site ? t("aside.via_site", { name: organization.name })
        : organization.name) : "—", "organization"],
      // A company known only through its website is not the customer's plan: the SLA runs
      // on the plan below (the server's), so the site's company's plan is not shown.
      organization && !organization.via_site ? [t("aside.plan"), planLabel(organization.plan_tier)] : null,
      slaPlan(detail),
      [t("aside.account_created_by"), customer && customer.created_by ? person(customer.created_by)
        : customer ? t("aside.self_created") : "—"],
      organization && organization.created_by ? [t("aside.company_created_by"), person(organization.created_by)] : null,
      [t("aside.opened_by"), person(detail.opened_by)],
      [t("aside.opened"), fmtDateTime(detail.opened_at)],
      [t("aside.last_interaction"), fmtDateTime(detail.last_interaction_at)],
    ]),
    impersonateButton(ctx, customer),
  ];
  if (customer) sections.push(...contextSection(ctx, detail), ...historySection(ctx, detail));
  if (ticket) {
    const deadlines = Object.entries(ticket.deadlines || {});
    const closing = ticket.auto_close_at && ["waiting_on_customer", "proposed_to_close"].includes(ticket.status);
    sections.push(
      h("h3", {}, t("aside.ticket")),
      facts([
        [t("aside.status"), `${statusLabel(ticket.status)}${ticket.label ? ` — ${ticket.label}` : ""}`],
        closing ? [t("aside.auto_close"), t("aside.auto_close_on", { when: fmtDateTime(ticket.auto_close_at) }), "auto-close"] : null,
        [t("aside.next_action"), known("aside.next", ticket.next_action)],
        ticket.handled_by ? [t("aside.queue"), t("aside.queue_partner",
          { name: (ticket.partner && ticket.partner.name) || ticket.handled_by })] : null,
        [t("aside.line"), (ticket.group && groupLabel(ticket.group, ticket.group_name)) || t("aside.line_level", { level: ticket.level })],
        [t("aside.category"), ticket.category ? categoryLabel(ticket.category) : null],
        [t("aside.severity"), ticket.severity ? severityLabel(ticket.severity) : null],
        [t("aside.affected"), (ticket.assets || []).join(", ") || null],
        ticket.happened_at ? [t("aside.happened"), fmtDateTime(ticket.happened_at)] : null,
        [t("aside.contact_email"), ticket.contact_email],
        [t("aside.channel"), ticket.channel ? channelLabel(ticket.channel) : null],
        [t("aside.assignee"), ticket.assignee ? displayName(ticket.assignee) : "—"],
        [t("aside.tracked"), ticket.tracked ? t("aside.tracked_yes") : t("aside.tracked_no")],
        ticket.tracked ? [t("aside.sla"), slaSummary(ticket.deadlines), "sla-summary"] : null,
        ticket.customer_left_at ? [t("aside.customer_left"), fmtDateTime(ticket.customer_left_at)] : null,
        ...deadlines.map(([name, d]) => [t("aside.sla_target", { target: slaTargetLabel(name) }), deadlineText(d, now),
          `sla-${name}`]),
      ]),
    );
  }
  // Support notes are the platform team's shift handover; a partner's console has none.
  if (!ctx.partnerMode) sections.push(h("h3", {}, t("aside.notes")), notesBlock(ctx, detail, reload));
  if (ticket) {
    sections.push(h("h3", {}, t("aside.tasks")), tasksBlock(ctx, detail, reload));
    sections.push(h("h3", {}, t("aside.ratings")));
    const ratings = ticket.ratings || [];
    sections.push(ratings.length ? ratings.map((r) => h("div", { class: "rating-item" },
      h("strong", {}, known("aside.rating", r.value)), r.reason ? ` — ${r.reason}` : "", r.comment ? h("div", {}, r.comment) : null,
      h("div", { class: "muted" }, fmtDateTime(r.created_at || r.at)))) : h("div", { class: "muted" }, t("aside.ratings_none")));
  }
  replace(el, sections);
}

function tasksBlock(ctx, detail, reload) {
  const ticket = detail.ticket;
  const tasks = ticket.tasks || [];
  if (!tasks.length) return h("div", { class: "muted" }, t("aside.tasks_none"));
  const can = Boolean(detail.can && detail.can.work);
  const change = async (task, body) => {
    if (!body) return;
    try {
      await api("PATCH", `/api/tickets/${ticket.id}/tasks/${task.id}`, body);
      ctx.toast(t("aside.task_saved"));
      reload();
    } catch (err) {
      ctx.toast(err.message, true);
    }
  };
  return tasks.map((task) => h("div", { class: "task-item", "data-testid": "task", dataset: { taskId: task.id } },
    h("strong", {}, task.type ? `${taskTypeName(task.type)}: ` : ""), task.text,
    h("div", { class: "muted", "data-testid": "task-facts" }, [
      known("aside.task_status", task.status),
      task.hours ? t("aside.task_hours", { hours: task.hours }) : null,
      task.due_at ? t("aside.task_due", { when: fmtDateTime(task.due_at) }) : null,
      task.assignee ? t("aside.task_for", { name: displayName(task.assignee) }) : null,
    ].filter(Boolean).join(" · ")),
    can ? h("div", { class: "task-actions" },
      task.status === "done" ? null
        : h("button", { type: "button", onclick: () => change(task, { status: "done" }) }, t("aside.task_done")),
      h("button", { type: "button", onclick: async () => change(task, await reassignTaskDialog(ctx, task)) },
        t("aside.task_reassign")),
      h("button", { type: "button", onclick: async () => change(task, await redateTaskDialog(task)) },
        t("aside.task_redate"))) : null));
}

function notesBlock(ctx, detail, reload) {
  const customer = detail.customer;
  if (!customer) return h("div", { class: "muted" }, t("aside.no_customer"));
  const list = (detail.notes || []).map((n) => h("div", { class: "note-item", "data-testid": "customer-note" },
    n.body, h("div", { class: "muted" }, t("aside.note_by", { author: n.author ? displayName(n.author) : "?",
      when: fmtDateTime(n.created_at) }))));
  const text = h("textarea", { "aria-label": t("aside.note_new"), placeholder: t("aside.note_placeholder"),
    disabled: !ctx.me.can.work });
  const form = h("form", {}, text, h("button", { type: "submit", disabled: !ctx.me.can.work }, t("aside.note_add")));
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
  return h("div", {}, list.length ? list : h("div", { class: "muted" }, t("aside.notes_none")), form);
}

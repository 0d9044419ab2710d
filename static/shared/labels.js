// The server's enums and system events in the viewer's language (issue 18, item 4): one
// module for the console and the portal, so that "widget_offline", "second_level" or
// "configuration_request" never reach a screen as they are stored. Each label falls back
// to the stored name (a category or group the deployment added has its own title), then
// to the value with its underscores as spaces: a value a newer server sends must never
// break a page, nor show as a raw key. docs/protocol.md lists the event names and values.

import { language, register, t } from "./i18n.js";
import catalog from "./i18n/labels.js";
import { displayName } from "./names.js";

register(catalog);

// The catalog's text for `prefix.value`, or null when it has none.
function known(prefix, value) {
  if (value === null || value === undefined || value === "") return null;
  const key = `${prefix}.${value}`;
  const text = t(key);
  return text === key ? null : text;
}

function humanize(value) {
  return String(value).replaceAll(/[._]+/g, " ").trim();
}

function label(prefix, value, empty = "—") {
  if (value === null || value === undefined || value === "") return empty;
  return known(prefix, value) ?? humanize(value);
}

// Names the deployment stored (GET /api/categories, GET /api/groups/support): a custom
// category or group shows its own title; the built-in ones have catalog entries.
const storedNames = { category: new Map(), group: new Map() };
// A category's own titles per language (GET /api/categories `titles`, issue 19).
const categoryTitles = new Map();

export function rememberCategories(categories) {
  for (const c of categories || []) {
    if (!c || !c.key) continue;
    storedNames.category.set(c.key, c.name);
    categoryTitles.set(c.key, c.titles || {});
  }
}

export function rememberGroups(groups) {
  for (const g of groups || []) if (g && g.key) storedNames.group.set(g.key, g.name);
}

// A built-in row's catalog name, unless the deployment renamed it: a stored title other
// than the seed's English one is the admin's own word and is shown as written.
function builtIn(prefix, key, stored) {
  const text = known(prefix, key);
  if (text === null) return null;
  return stored && stored !== catalog.en[`${prefix}.${key}`] ? null : text;
}

// The title an admin gave the category in the viewer's language, else a built-in
// category's catalog name, else the stored name, else the key made readable. `titles`:
// the category's own (else those remembered from GET /api/categories).
export function categoryLabel(key, name, titles) {
  if (!key) return name || t("labels.none");
  const own = (titles ?? categoryTitles.get(key) ?? {})[language()];
  if (own) return own;
  const stored = name ?? storedNames.category.get(key);
  return builtIn("category", key, stored) ?? stored ?? humanize(key);
}

export function groupLabel(key, name) {
  if (!key) return name || t("labels.first_line");
  const stored = name ?? storedNames.group.get(key);
  return builtIn("labels.group", key, stored) ?? stored ?? humanize(key);
}

// A desk queue's heading (GET /api/desk/inbox): the built-in ones by key, a group's by its
// name, a partner's with the partner's name; a queue this console does not know keeps the
// server's (English) name.
export function queueLabel(queue) {
  const key = queue.key || "";
  if (key.startsWith("group:")) return groupLabel(key.slice(6), queue.name);
  if (key.startsWith("level:")) return t("labels.queue.level", { level: key.slice(6) });
  if (queue.partner) return t("labels.queue.partner", { name: queue.partner });
  return known("labels.queue", key) ?? queue.name;
}

// An SLA policy's name as the server composes it (escalation.policies.effective_policy):
// the policy's own name, then " / " and the key of the category whose targets it took.
// The seeded "<tier> plan" and a category key are named in the viewer's language; a name
// an admin gave a policy is theirs and stays as written.
export function policyLabel(name) {
  if (!name) return "—";
  return String(name).split(" / ").map((part, i) => {
    const plan = i === 0 && /^(basic|regular|premium) plan$/.exec(part);
    if (plan) return t("labels.policy_plan", { plan: planLabel(plan[1]) });
    if (i > 0 && (known("category", part) !== null || storedNames.category.has(part))) return categoryLabel(part);
    return part;
  }).join(" / ");
}

// Category keys inside a server's text (a chart's axis label such as "basic plan /
// data_accuracy", drawn by the server) named in the viewer's language; other words stay.
export function categoryKeysIn(text) {
  return String(text).replace(/\b[a-z0-9]+(?:_[a-z0-9]+)+\b/g, (key) => (
    known("category", key) !== null || storedNames.category.has(key) ? categoryLabel(key) : key));
}

export const statusLabel = (status) => label("labels.status", status);
export const channelLabel = (channel) => label("labels.channel", channel);
export const closeReasonLabel = (reason) => label("labels.close_reason", reason);
export const openReasonLabel = (reason) => label("labels.open_reason", reason);
export const transferReasonLabel = (reason) => label("labels.transfer_reason", reason);
export const ratingLabel = (value) => label("labels.rating", value);
export const ratingReasonLabel = (reason) => label("labels.rating_reason", reason);
export const severityLabel = (severity) => label("labels.severity", severity);
export const slaTargetLabel = (target) => label("labels.sla_target", target);
export const taskTypeLabel = (type) => label("labels.task_type", type);
export const taskStatusLabel = (status) => label("labels.task_status", status);
export const roleLabel = (role) => label("labels.role", role);
export const planLabel = (plan) => label("labels.plan", plan);
export const escalationActionLabel = (action) => label("labels.escalation_action", action);
export const autoAssignLabel = (how) => label("labels.auto", how);
export const mailStatusLabel = (status) => label("labels.mail_status", status);
export const inboundStatusLabel = (status) => label("labels.inbound_status", status);
export const availabilityLabel = (availability) => label("labels.availability", availability);
export const presenceLabel = (status) => label("labels.presence", status);

// A refusal from the API (static/shared/protocol.js: {status, code, message}) in the
// viewer's language when its code has a catalog text; otherwise the server's own message,
// which names the field or the limit (validation_failed and the like say which).
export function errorText(err) {
  if (!err) return "";
  return known("labels.error", err.code) ?? (err.status === 0 ? t("labels.error.unreachable") : null)
    ?? err.message ?? String(err);
}

// One name for everyone, a nameless visitor included (names.js, the server's chat.people).
function who(user) {
  return displayName(user);
}

function target(data) {
  const parts = [];
  if (data.group) parts.push(groupLabel(data.group, data.group_name));
  if (data.level) parts.push(t("labels.level", { level: data.level }));
  return parts.join(", ") || t("labels.first_line");
}

// " — note" / ": comment" tails, kept out of the catalog (they are the people's own words).
const tail = (sep, text) => (text ? `${sep}${text}` : "");

// The fields of ticket.updated, by name.
function fields(data) {
  const names = Object.keys(data.changes || data.fields || {});
  return names.length ? names.map((f) => label("labels.field", f)).join(", ") : t("labels.the_ticket");
}

// One line for a system event (its `data`). Unknown names are shown generically.
export function describe(data) {
  const actor = data.actor ? who(data.actor) : t("labels.system");
  switch (data.event) {
    case "conversation.created":
      return t("labels.ev.created", { who: who(data.user) }) + tail(": ", data.subject);
    case "participant.joined":
      return t("labels.ev.joined", { who: who(data.user) });
    case "ticket.opened":
      if (!data.channel) return t("labels.ev.opened");
      return known("labels.opened", data.channel) ?? t("labels.ev.opened_via", { channel: channelLabel(data.channel) });
    case "ticket.status_changed":
      return `${actor}: ${statusLabel(data.from)} → ${statusLabel(data.to)}`
        + (data.reason === "customer_reply" ? ` (${t("labels.ev.customer_reply")})` : "");
    case "ticket.assigned":
      if (!data.assignee) return t(data.released ? "labels.ev.released" : "labels.ev.unassigned", { actor });
      if (data.claimed || (data.actor && data.actor.id === data.assignee.id)) {
        return t("labels.ev.will_answer", { who: who(data.assignee) });
      }
      if (data.auto) return t("labels.ev.assigned_auto", { who: who(data.assignee), how: autoAssignLabel(data.auto) });
      return t("labels.ev.assigned", { actor, who: who(data.assignee) });
    case "ticket.transferred":
      if (data.to_platform) return t("labels.ev.to_platform", { actor }) + tail(" — ", data.note);
      return t("labels.ev.transferred", { actor, target: target(data) })
        + (data.reason ? ` (${transferReasonLabel(data.reason)})` : "") + tail(" — ", data.note);
    case "ticket.recategorized":
      return t("labels.ev.recategorized", { actor, from: categoryLabel(data.from), to: categoryLabel(data.to) });
    case "ticket.updated":
      return t("labels.ev.updated", { actor, fields: fields(data) });
    case "ticket.deadlines":
      return t("labels.ev.deadlines");
    case "ticket.sla_warning":
      return t("labels.ev.sla_warning", { target: slaTargetLabel(data.target) });
    case "ticket.sla_breached":
      return t("labels.ev.sla_breached", { target: slaTargetLabel(data.target) });
    case "ticket.escalated":
      return data.action ? t("labels.ev.escalated_action", { step: data.step, action: escalationActionLabel(data.action) })
        : t("labels.ev.escalated", { step: data.step });
    case "ticket.rated":
      return t("labels.ev.rated", { rating: ratingLabel(data.value) })
        + tail(" — ", data.reason ? ratingReasonLabel(data.reason) : "") + tail(": ", data.comment);
    case "ticket.spam":
      return t("labels.ev.spam", { actor });
    case "ticket.not_spam":
      return t("labels.ev.not_spam", { actor });
    case "ticket.task_added":
      return t("labels.ev.task_added", { actor }) + tail(": ", data.task && data.task.text);
    case "ticket.task_updated":
      return t("labels.ev.task_updated", { actor })
        + (data.task && data.task.status ? ` (${taskStatusLabel(data.task.status)})` : "");
    case "conversation.closed":
      return data.reason ? t("labels.ev.closed_reason", { reason: closeReasonLabel(data.reason) }) : t("labels.ev.closed");
    case "ticket.linked":
      return t("labels.ev.linked", { id: data.to || data.from });
    // Group chats (docs/protocol.md, "Group chats"): the console's Groups queue and the portal.
    case "group.created":
      return t("labels.ev.group_created", { name: (data.group && data.group.name) || "" });
    case "member.joined":
      return t("labels.ev.member_joined", { who: who(data.user) });
    case "member.removed":
      return t("labels.ev.member_removed", { who: who(data.user) });
    default:
      return data.event ? humanize(data.event) : t("labels.ev.other");
  }
}

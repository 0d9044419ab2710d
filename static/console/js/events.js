// Human text for system events (docs/protocol.md lists the names). Unknown names are shown
// generically: new server features must never break the console.

import { displayName } from "/static/shared/names.js";

const STATUS = {
  new: "New",
  in_progress: "In progress",
  waiting_on_customer: "Waiting on customer",
  proposed_to_close: "Proposed to close",
  closed: "Closed",
};

export function statusLabel(status) {
  return STATUS[status] || status || "—";
}

const AUTO = { rule: "by a rule", default: "default assignee", round_robin: "round-robin" };

function who(user) {
  return displayName(user); // one name for everyone, a nameless visitor included (names.js)
}

function target(data) {
  const parts = [];
  if (data.group) parts.push(data.group_name || data.group);
  if (data.level) parts.push(`level ${data.level}`);
  return parts.join(", ") || "first line";
}

export function describe(data) {
  const actor = data.actor ? who(data.actor) : "System";
  switch (data.event) {
    case "conversation.created":
      return `${who(data.user)} started the conversation${data.subject ? `: ${data.subject}` : ""}`;
    case "participant.joined":
      return `${who(data.user)} joined`;
    case "ticket.opened":
      return `Ticket opened${data.channel ? ` via ${data.channel}` : ""}`;
    case "ticket.status_changed":
      return `${actor}: ${statusLabel(data.from)} → ${statusLabel(data.to)}`;
    case "ticket.assigned":
      if (!data.assignee) return data.released ? `${actor} stopped answering` : `${actor} unassigned the ticket`;
      if (data.claimed || (data.actor && data.actor.id === data.assignee.id)) return `${who(data.assignee)} will answer`;
      if (data.auto) return `Assigned to ${who(data.assignee)} automatically (${AUTO[data.auto] || data.auto})`;
      return `${actor} assigned the ticket to ${who(data.assignee)}`;
    case "ticket.transferred":
      if (data.to_platform) return `${actor} handed it to platform support${data.note ? ` — ${data.note}` : ""}`;
      return `${actor} transferred to ${target(data)}${data.note ? ` — ${data.note}` : ""}`;
    case "ticket.recategorized":
      return `${actor} changed the category: ${data.from || "none"} → ${data.to || "none"}`;
    case "ticket.updated":
      return `${actor} updated ${Object.keys(data.changes || data.fields || {}).join(", ") || "the ticket"}`;
    case "ticket.deadlines":
      return "SLA deadlines recalculated";
    case "ticket.sla_warning":
      return `SLA warning: ${data.target} due soon`;
    case "ticket.sla_breached":
      return `SLA breached: ${data.target}`;
    case "ticket.escalated":
      return `Escalated (step ${data.step}${data.action ? `: ${data.action}` : ""})`;
    case "ticket.rated":
      return `Rated ${data.value}${data.reason ? ` — ${data.reason}` : ""}${data.comment ? `: ${data.comment}` : ""}`;
    case "ticket.task_added":
      return `${actor} added a task${data.task && data.task.text ? `: ${data.task.text}` : ""}`;
    case "ticket.task_updated":
      return `${actor} updated a task${data.task && data.task.status ? ` (${data.task.status})` : ""}`;
    case "conversation.closed":
      return `Conversation closed${data.reason ? ` (${data.reason})` : ""}`;
    case "ticket.linked":
      return `Linked conversation #${data.to || data.from}`;
    default:
      return data.event ? data.event.replaceAll(/[._]/g, " ") : "system event";
  }
}

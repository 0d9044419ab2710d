// Modal dialogs for the ticket actions. Each resolves to the request body, or null if cancelled.

import { h } from "/static/shared/dom.js";
import { register, t } from "/static/shared/i18n.js";
import { displayName } from "/static/shared/names.js";
import catalog from "../i18n/dialogs.js";

register(catalog);

function modal(title, fields, okLabel, collect) {
  return new Promise((resolve) => {
    const error = h("div", { class: "error", role: "alert" });
    const form = h("form", { method: "dialog" },
      h("h2", {}, title), ...fields, error,
      h("div", { class: "buttons" },
        h("button", { type: "button", value: "cancel", onclick: () => dialog.close("cancel") }, t("dialogs.cancel")),
        h("button", { type: "submit", class: "primary", value: "ok" }, okLabel)));
    const dialog = h("dialog", {}, form);
    let result = null;
    form.addEventListener("submit", (ev) => {
      try {
        result = collect();
      } catch (err) {
        ev.preventDefault();
        error.textContent = err.message;
        return;
      }
    });
    dialog.addEventListener("close", () => {
      dialog.remove();
      resolve(dialog.returnValue === "ok" ? result : null);
    });
    document.body.append(dialog);
    dialog.showModal();
    const first = form.querySelector("textarea, input, select");
    if (first) first.focus();
  });
}

export function openDialog(title, text, okLabel) {
  return modal(title, [h("p", {}, text)], okLabel, () => true).then((ok) => ok === true);
}

export function resolveDialog(prefill) {
  const text = h("textarea", { name: "body", "aria-label": t("dialogs.resolve_reply"), required: true });
  text.value = prefill || "";
  return modal(t("dialogs.resolve_title"), [
    h("p", { class: "muted" }, t("dialogs.resolve_hint")),
    text,
  ], t("dialogs.resolve_ok"), () => {
    if (!text.value.trim()) throw new Error(t("dialogs.resolve_empty"));
    return text.value;
  });
}

async function supportGroups(ctx) {
  if (!ctx.support) ctx.support = await ctx.api("GET", "/api/groups/support");
  return ctx.support;
}

async function categories(ctx) {
  if (!ctx.categories) ctx.categories = (await ctx.api("GET", "/api/categories")).categories;
  return ctx.categories;
}

function lineName(level) {
  return level === 1 ? t("dialogs.line_first") : t("dialogs.line_level", { level });
}

// Every other place a ticket can go: the support lines themselves (a line's own queue, no
// group) and the groups; where it is now is shown but cannot be picked. A transfer
// releases the claim (docs/http.md): the dialog says so.
export async function transferDialog(ctx, ticket) {
  let support;
  try {
    support = await supportGroups(ctx);
  } catch (err) {
    ctx.toast(err.message, true);
    return null;
  }
  const here = ticket ? (ticket.group ? `group:${ticket.group}` : `level:${ticket.level}`) : null;
  const option = (value, label) => h("option", { value, disabled: value === here },
    value === here ? t("dialogs.current", { place: label }) : label);
  const select = h("select", { name: "target", "aria-label": t("dialogs.transfer_target") },
    h("optgroup", { label: t("dialogs.transfer_lines") },
      support.levels.map((level) => option(`level:${level}`, lineName(level)))),
    support.groups.length ? h("optgroup", { label: t("dialogs.transfer_groups") },
      support.groups.map((g) => option(`group:${g.key}`, t("dialogs.group_level", { name: g.name, level: g.level })))) : null);
  const first = [...select.options].find((o) => !o.disabled);
  if (first) select.value = first.value;
  const note = h("textarea", { name: "note", "aria-label": t("dialogs.transfer_note"),
    placeholder: t("dialogs.transfer_note_placeholder") });
  const releases = ticket && ticket.assignee ? h("p", { class: "muted" }, t("dialogs.transfer_releases")) : null;
  return modal(t("dialogs.transfer_title"), [h("label", {}, `${t("dialogs.transfer_to")} `, select), releases, note],
    t("dialogs.transfer_ok"), () => {
      const [kind, value] = select.value.split(":");
      const body = kind === "group" ? { group: value } : { level: Number(value) };
      if (note.value.trim()) body.note = note.value.trim();
      return body;
    });
}

// A partner's first line hands its ticket to platform support (PSD), with a note for them.
export function toPlatformDialog() {
  const note = h("textarea", { name: "note", "aria-label": t("dialogs.platform_note"),
    placeholder: t("dialogs.platform_note_placeholder") });
  return modal(t("dialogs.platform_title"), [
    h("p", { class: "muted" }, t("dialogs.platform_hint")),
    note,
  ], t("dialogs.transfer_ok"), () => {
    const body = { to_platform: true };
    if (note.value.trim()) body.note = note.value.trim();
    return body;
  });
}

export async function fieldsDialog(ctx, ticket) {
  let cats;
  try {
    cats = await categories(ctx);
  } catch (err) {
    ctx.toast(err.message, true);
    return null;
  }
  const category = h("select", { name: "category", "aria-label": t("dialogs.category") },
    h("option", { value: "" }, t("dialogs.category_none")), cats.map((c) => h("option", { value: c.key }, c.name)));
  const severity = h("select", { name: "severity", "aria-label": t("dialogs.severity") },
    [1, 2, 3].map((n) => h("option", { value: String(n) }, t(`dialogs.severity_${n}`))));
  if (ticket) {
    category.value = ticket.category || "";
    severity.value = String(ticket.severity || 3);
  }
  return modal(t("dialogs.fields_title"), [h("label", {}, `${t("dialogs.category")} `, category),
    h("label", {}, `${t("dialogs.severity")} `, severity)], t("dialogs.save"), () => {
    const body = {};
    if ((ticket && ticket.category) !== (category.value || null) && category.value) body.category = category.value;
    if (!ticket || Number(severity.value) !== ticket.severity) body.severity = Number(severity.value);
    if (!Object.keys(body).length) throw new Error(t("dialogs.nothing_changed"));
    return body;
  });
}

export const TASK_TYPES = ["support_operation", "software", "commercial", "customer_request", "firmware", "internal"];

export function taskTypeName(type) {
  return TASK_TYPES.includes(type) ? t(`dialogs.type.${type}`) : type;
}

// A due date picked as a day means the end of that working day, in the agent's time zone.
function dueAt(day) {
  return new Date(`${day}T18:00:00`).toISOString();
}

export function taskDialog() {
  const text = h("textarea", { name: "text", "aria-label": t("dialogs.task_text"), required: true });
  const hours = h("input", { type: "number", name: "hours", min: "0", step: "0.25", "aria-label": t("dialogs.task_hours") });
  const type = h("select", { name: "type", "aria-label": t("dialogs.task_type") },
    TASK_TYPES.map((k) => h("option", { value: k }, taskTypeName(k))));
  const due = h("input", { type: "date", name: "due", "aria-label": t("dialogs.task_due") });
  return modal(t("dialogs.task_title"), [text, h("label", {}, `${t("dialogs.task_type")} `, type),
    h("label", {}, `${t("dialogs.task_hours")} `, hours), h("label", {}, `${t("dialogs.task_due")} `, due)],
  t("dialogs.task_add"), () => {
    if (!text.value.trim()) throw new Error(t("dialogs.task_empty"));
    const body = { text: text.value.trim(), type: type.value };
    if (hours.value) body.hours = Number(hours.value);
    if (due.value) body.due_at = dueAt(due.value);
    return body;
  });
}

// Who does a task: the desk's agents and support admins (GET /api/desk/agents).
export async function reassignTaskDialog(ctx, task) {
  let agents;
  try {
    agents = (await ctx.api("GET", "/api/desk/agents")).agents;
  } catch (err) {
    ctx.toast(err.message, true);
    return null;
  }
  const select = h("select", { name: "assignee", "aria-label": t("dialogs.task_assignee") },
    h("option", { value: "" }, t("dialogs.task_nobody")),
    agents.map((a) => h("option", { value: String(a.id) }, displayName(a))));
  select.value = task.assignee_id ? String(task.assignee_id) : "";
  return modal(t("dialogs.reassign_title"), [h("p", {}, task.text),
    h("label", {}, `${t("dialogs.task_assignee")} `, select)], t("dialogs.reassign_ok"), () => {
    const chosen = select.value ? Number(select.value) : null;
    if (chosen === (task.assignee_id || null)) throw new Error(t("dialogs.nothing_changed"));
    return { assignee_id: chosen };
  });
}

export function redateTaskDialog(task) {
  const due = h("input", { type: "date", name: "due", "aria-label": t("dialogs.task_due") });
  if (task.due_at) {
    const d = new Date(task.due_at);
    due.value = `${d.getFullYear()}-${String(d.getMonth() + 1).padStart(2, "0")}-${String(d.getDate()).padStart(2, "0")}`;
  }
  return modal(t("dialogs.redate_title"), [h("p", {}, task.text), h("label", {}, `${t("dialogs.task_due")} `, due)],
    t("dialogs.redate_ok"), () => {
      if (!due.value) throw new Error(t("dialogs.redate_empty"));
      return { due_at: dueAt(due.value) };
    });
}

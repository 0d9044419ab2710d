// Modal dialogs for the ticket actions. Each resolves to the request body, or null if cancelled.

import { h } from "/static/shared/dom.js";

function modal(title, fields, okLabel, collect) {
  return new Promise((resolve) => {
    const error = h("div", { class: "error" });
    const form = h("form", { method: "dialog" },
      h("h2", {}, title), ...fields, error,
      h("div", { class: "buttons" },
        h("button", { type: "button", value: "cancel", onclick: () => dialog.close("cancel") }, "Cancel"),
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
  const text = h("textarea", { name: "body", "aria-label": "Reply to the customer", required: true });
  text.value = prefill || "";
  return modal("Resolve: reply to the customer", [
    h("p", { class: "muted" }, "The reply is sent and the ticket is proposed to close; the customer is asked to rate it."),
    text,
  ], "Send and resolve", () => {
    if (!text.value.trim()) throw new Error("Write the reply first.");
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

export async function transferDialog(ctx, ticket) {
  let support;
  try {
    support = await supportGroups(ctx);
  } catch (err) {
    ctx.toast(err.message, true);
    return null;
  }
  const select = h("select", { name: "target", "aria-label": "Transfer to" },
    support.levels.map((level) => h("option", { value: `level:${level}` }, level === 1 ? "First line (level 1)" : `Level ${level}`)),
    support.groups.map((g) => h("option", { value: `group:${g.key}` }, `${g.name} (level ${g.level})`)));
  if (ticket) select.value = ticket.group ? `group:${ticket.group}` : `level:${ticket.level}`;
  const note = h("textarea", { name: "note", "aria-label": "Note for the next line", placeholder: "What the next line needs to know" });
  return modal("Transfer", [h("label", {}, "To ", select), note], "Transfer", () => {
    const [kind, value] = select.value.split(":");
    const body = kind === "group" ? { group: value } : { level: Number(value) };
    if (note.value.trim()) body.note = note.value.trim();
    return body;
  });
}

// A partner's first line hands its ticket to platform support (PSD), with a note for them.
export function toPlatformDialog() {
  const note = h("textarea", { name: "note", "aria-label": "Note for platform support",
    placeholder: "What platform support needs to know" });
  return modal("Transfer to platform support", [
    h("p", { class: "muted" }, "The ticket leaves your queue for the platform's; you stop answering it."),
    note,
  ], "Transfer", () => {
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
  const category = h("select", { name: "category", "aria-label": "Category" },
    h("option", { value: "" }, "(none)"), cats.map((c) => h("option", { value: c.key }, c.name)));
  const severity = h("select", { name: "severity", "aria-label": "Severity" },
    h("option", { value: "1" }, "1 — critical"), h("option", { value: "2" }, "2 — major"), h("option", { value: "3" }, "3 — minor"));
  if (ticket) {
    category.value = ticket.category || "";
    severity.value = String(ticket.severity || 3);
  }
  return modal("Category and severity", [h("label", {}, "Category ", category), h("label", {}, "Severity ", severity)], "Save", () => {
    const body = {};
    if ((ticket && ticket.category) !== (category.value || null) && category.value) body.category = category.value;
    if (!ticket || Number(severity.value) !== ticket.severity) body.severity = Number(severity.value);
    if (!Object.keys(body).length) throw new Error("Nothing changed.");
    return body;
  });
}

export const TASK_TYPES = [
  ["support_operation", "Support operation"], ["software", "Software"], ["commercial", "Commercial"],
  ["customer_request", "Customer request"], ["firmware", "Firmware"], ["internal", "Internal"],
];

export function taskDialog() {
  const text = h("textarea", { name: "text", "aria-label": "Task", required: true });
  const hours = h("input", { type: "number", name: "hours", min: "0", step: "0.25", "aria-label": "Hours" });
  const type = h("select", { name: "type", "aria-label": "Type" }, TASK_TYPES.map(([k, n]) => h("option", { value: k }, n)));
  const due = h("input", { type: "date", name: "due", "aria-label": "Due date" });
  return modal("Add an action task", [text, h("label", {}, "Type ", type), h("label", {}, "Hours ", hours),
    h("label", {}, "Due ", due)], "Add task", () => {
    if (!text.value.trim()) throw new Error("Describe the task.");
    const body = { text: text.value.trim(), type: type.value };
    if (hours.value) body.hours = Number(hours.value);
    if (due.value) body.due_at = new Date(`${due.value}T18:00:00`).toISOString();
    return body;
  });
}

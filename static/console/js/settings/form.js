// What every settings screen shares: a refused change marks the field the server named
// (`error.field`, docs/http.md "Errors") and says why beside it; nothing else changes.

import { h } from "/static/shared/dom.js";
import { errorText } from "/static/shared/labels.js";

// The control a server field name points at, inside `form`: `[data-field="calendar"]`
// first (a screen names its controls so), else `[name="calendar"]`; a dotted field
// ("definition.weekly.0") falls back to its longest marked prefix.
export function fieldControl(form, field) {
  if (!form || !field) return null;
  const parts = String(field).split(".");
  for (let n = parts.length; n > 0; n--) {
    const name = parts.slice(0, n).join(".");
    const esc = CSS.escape(name);
    const el = form.querySelector(`[data-field="${esc}"]`) || form.querySelector(`[name="${esc}"]`);
    if (el) return el;
  }
  return null;
}

// Clear every mark a previous refusal left in `form`.
export function clearMarks(form) {
  for (const el of form.querySelectorAll("[aria-invalid=true]")) {
    el.removeAttribute("aria-invalid");
    el.removeAttribute("aria-describedby");
  }
  for (const el of form.querySelectorAll(".field-error")) el.remove();
}

// Show `err` on `form`: the named field marked (aria-invalid, focused, the reason beside
// it, data-testid "field-error"), else the reason at the form's end. Returns the message.
export function markError(form, err) {
  clearMarks(form);
  const text = errorText(err);
  const control = fieldControl(form, err && err.field);
  const id = `field-error-${Math.random().toString(36).slice(2, 9)}`;
  const note = h("div", { class: "field-error", role: "alert", id, "data-testid": "field-error" }, text);
  if (control) {
    control.setAttribute("aria-invalid", "true");
    control.setAttribute("aria-describedby", id);
    control.after(note);
    control.focus();
  } else {
    form.append(note);
  }
  return text;
}

// Send a form's change: `send()` performs the request; on refusal the form is marked and
// the promise resolves to null (nothing was stored), on success the marks go and the
// response comes back.
export async function submitting(form, send) {
  clearMarks(form);
  try {
    return await send();
  } catch (err) {
    markError(form, err);
    return null;
  }
}

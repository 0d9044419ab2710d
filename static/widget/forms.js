// The intake and rating forms (README.md): each hands validated values to a callback.

import { h, replace } from "./dom.js";

const EMAIL_RE = /^[^@\s]+@[^@\s]+\.[^@\s]+$/;
const REASONS = {
  good: ["solved", "fast", "friendly", "other"],
  bad: ["not_solved", "slow", "unclear", "other"],
};

function localNow() {
  const now = new Date();
  now.setMinutes(now.getMinutes() - now.getTimezoneOffset());
  return now.toISOString().slice(0, 16);
}

// A category in the widget's language: the admin's title for it, else its stored name.
const categoryTitle = (c) => (c.titles && c.titles[document.documentElement.lang]) || c.name;

/** The intake form. ``submit(values)`` may throw; the form shows a generic error then. */
export function intakeForm({ t, lang, cfg, categories, offline, defaults, keep, maxChars, submit }) {
  const modes = Object.fromEntries(cfg.prechat.fields.map((f) => [f.name, f.mode]));
  if (offline) modes.email = "required";
  if (!categories.length) modes.category = "hidden";
  const controls = {};
  const labels = {};

  function field(name, labelKey, control, extra) {
    const mode = modes[name];
    if (!mode || mode === "hidden") return null;
    controls[name] = control;
    labels[name] = t(labelKey);
    control.id = "f-" + name;
    control.required = mode === "required";
    const optional = mode === "optional" ? h("span", { class: "opt" }, " (" + t("optional") + ")") : null;
    return h("div", { class: "field" }, h("label", { for: control.id }, t(labelKey), optional), extra || control);
  }

  const kind = h("select", { "aria-label": t("f_object") },
    cfg.prechat.object_kinds.map((k) => h("option", { value: k }, t("obj_" + k))));
  const objectName = h("input", { maxlength: 200, placeholder: t("object_name") });
  const error = h("p", { class: "error", role: "alert", hidden: true });
  const button = h("button", { type: "submit", class: "primary" }, t(offline ? "leave_message" : "start_chat"));
  const form = h("form", { class: "intake", novalidate: true },
    h("p", { class: "intro" }, offline && (cfg.offline_message || {})[lang] || t(offline ? "offline_intro" : "prechat_intro")),
    field("name", "f_name", h("input", { maxlength: 200, autocomplete: "name", value: defaults.name || "" })),
    field("email", "f_email", h("input", { type: "email", maxlength: 320, autocomplete: "email" })),
    field("category", "f_category", h("select", {},
      h("option", { value: "" }, t("choose")), categories.map((c) => h("option", { value: c.key }, categoryTitle(c))))),
    field("severity", "f_severity", h("select", {},
      h("option", { value: "" }, t("choose")), [1, 2, 3].map((n) => h("option", { value: n }, t("sev_" + n))))),
    field("affected_object", "f_object", objectName, h("div", { class: "pair" }, kind, objectName)),
    field("happened_at", "f_happened", h("input", { type: "datetime-local", max: localNow() })),
    field("description", "f_description", h("textarea", { rows: 4, maxlength: Math.max(200, maxChars - 1500) })),
    error, button);

  const value = (name) => (controls[name] ? controls[name].value.trim() : "");

  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    error.hidden = true;
    for (const name of Object.keys(controls)) {
      if (controls[name].required && !value(name)) return fail(t("required", { field: labels[name] }), controls[name]);
    }
    if (value("email") && !EMAIL_RE.test(value("email"))) return fail(t("bad_email"), controls.email);
    const category = categories.find((c) => c.key === value("category"));
    const happened = value("happened_at") ? new Date(value("happened_at")) : null;
    button.disabled = true;
    try {
      await submit({
        name: value("name"),
        email: value("email"),
        category: category || null,
        severity: value("severity") ? Number(value("severity")) : null,
        object: value("affected_object") ? { kind: kind.value, name: value("affected_object") } : null,
        happenedAt: happened && !isNaN(happened) ? happened : null,
        description: value("description"),
      });
    } catch (e) {
      button.disabled = false;
      fail(t("failed"));
    }
  });

  function fail(message, control) {
    error.textContent = message;
    error.hidden = false;
    if (control) control.focus();
  }

  // Rebuilt in another language: what was typed stays.
  for (const name in keep || {}) if (controls[name]) controls[name].value = keep[name];
  if (keep) kind.value = keep.kind;
  form.values = () => ({ ...Object.fromEntries(Object.entries(controls).map(([k, c]) => [k, c.value])), kind: kind.value });
  form.pristine = () => Object.values(controls).every((c) => !c.value || c.value === c.defaultValue);
  return form;
}

/** The rating sheet: Good / No rating / Bad, a reason for good and bad, a comment.
 *  ``closing``: ending the chat, where the rating is optional. */
export function ratingSheet({ t, closing, intro, submit, cancel }) {
  let chosen = null;
  const reason = h("select", { id: "rate-reason" });
  const reasonField = h("div", { class: "field", hidden: true }, h("label", { for: "rate-reason" }, t("reason")), reason);
  const comment = h("textarea", { id: "rate-comment", rows: 3, maxlength: 2000 });
  const error = h("p", { class: "error", role: "alert", hidden: true });
  const send = h("button", { type: "submit", class: "primary", disabled: !closing },
    t(closing ? "submit_close" : "submit_rating"));
  const choices = ["good", "none", "bad"].map((v) =>
    h("button", { type: "button", class: "choice " + v, "aria-pressed": "false", onclick: () => choose(v) }, t(v)));

  function choose(v) {
    chosen = v;
    choices.forEach((b, i) => b.setAttribute("aria-pressed", String(["good", "none", "bad"][i] === v)));
    reasonField.hidden = !REASONS[v];
    replace(reason, h("option", { value: "" }, t("choose")),
      (REASONS[v] || []).map((r) => h("option", { value: r }, t("r_" + r))));
    send.disabled = false;
  }

  const form = h("form", { class: "sheet", role: "dialog", "aria-label": t("rate_title") },
    h("h2", {}, t("rate_title")), intro ? h("p", {}, intro) : null,
    h("div", { class: "choices", role: "group" }, choices), reasonField,
    h("div", { class: "field" }, h("label", { for: "rate-comment" }, t("comment"),
      h("span", { class: "opt" }, " (" + t("optional") + ")")), comment),
    error, h("div", { class: "row" }, send, h("button", { type: "button", onclick: cancel }, t("cancel"))));

  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const rating = chosen ? { value: chosen } : null;
    if (rating && reason.value) rating.reason = reason.value;
    if (rating && comment.value.trim()) rating.comment = comment.value.trim();
    send.disabled = true;
    try {
      await submit(rating);
    } catch (e) {
      send.disabled = false;
      error.textContent = t("failed");
      error.hidden = false;
    }
  });
  return form;
}

// The "Categories" settings screen (GET /api/categories, PUT/DELETE /api/categories/{key},
// docs/http.md "SLA"): what a ticket is about, who may choose it (customers, staff only,
// specialists, or handled by e-mail), its own resolution and stage-one targets, its default
// severity and its title per language (the UI's five; an empty one falls back to the name).
// A category tickets or policies use cannot be deleted: it is retired (no longer offered,
// old tickets keep it). A refusal marks the control the server names (`titles.ru`...).

import { api } from "../api.js";
import { h, replace } from "/static/shared/dom.js";
import { LANGUAGES, LANGUAGE_NAMES, register, t } from "/static/shared/i18n.js";
import {
  availabilityLabel, categoryLabel, errorText, rememberCategories, severityLabel,
} from "/static/shared/labels.js";
import catalog from "../../i18n/categories.js";
import { submitting } from "./form.js";

register(catalog);

const AVAILABILITY = ["customer", "staff", "email", "specialist"];
const UNITS = ["minutes", "hours", "business_days"];

// A stored target ({"minutes": 480} | {"business_days": 2}) as amount and unit, in hours
// when whole hours.
function targetParts(spec) {
  if (!spec) return { amount: "", unit: "hours" };
  if (spec.business_days !== undefined) return { amount: String(spec.business_days), unit: "business_days" };
  const minutes = spec.minutes;
  return minutes % 60 === 0 ? { amount: String(minutes / 60), unit: "hours" } : { amount: String(minutes), unit: "minutes" };
}

function targetText(spec) {
  if (!spec) return "—";
  const { amount, unit } = targetParts(spec);
  return t(`categories.unit_n.${unit}`, { n: amount });
}

export class CategoriesScreen {
  constructor(ctx) {
    this.ctx = ctx;
    this.selected = null;
    // One element for the screen's life: a render started while another is under way
    // draws into the same element, never into one already replaced.
    this.el = h("section", { class: "settings-categories", "data-testid": "settings-categories" });
  }

  get manage() {
    return this.ctx.me.can.manage;
  }

  async render() {
    await this._reload(null);
    return this.el;
  }

  async _reload(key) {
    this.categories = (await api("GET", "/api/categories")).categories;
    rememberCategories(this.categories);
    this.selected = key;
    this._draw();
  }

  _draw() {
    const current = this.categories.find((c) => c.key === this.selected) || null;
    replace(this.el, h("h2", {}, t("categories.title")), h("p", { class: "muted" }, t("categories.help")),
      this._list(),
      h("button", { type: "button", "data-testid": "category-new", disabled: !this.manage,
        onclick: () => { this.selected = null; this._draw(); } }, t("categories.new")),
      this._editor(current));
  }

  _list() {
    const off = !this.manage;
    return h("table", { "data-testid": "category-list" },
      h("tr", {}, [t("categories.key"), t("categories.name"), t("categories.availability"), t("categories.resolution"),
        t("categories.stage_one"), t("categories.default_severity"), t("categories.active"), ""].map((x) => h("th", {}, x))),
      this.categories.map((c) => h("tr", { "data-key": c.key, class: c.active ? null : "muted" },
        h("td", {}, c.key), h("td", { class: "category-title" }, categoryLabel(c.key, c.name, c.titles)),
        h("td", {}, availabilityLabel(c.availability)), h("td", {}, targetText(c.sla.resolution)),
        h("td", {}, targetText(c.sla.stage_one)),
        h("td", {}, c.default_severity ? severityLabel(c.default_severity) : "—"),
        h("td", {}, c.active ? t("categories.yes") : t("categories.retired")),
        h("td", {},
          h("button", { type: "button", "data-testid": `category-edit-${c.key}`,
            onclick: () => { this.selected = c.key; this._draw(); } }, t("categories.edit")), " ",
          h("button", { type: "button", disabled: off, "data-testid": `category-toggle-${c.key}`,
            onclick: () => this._toggle(c) }, c.active ? t("categories.retire") : t("categories.reactivate")), " ",
          h("button", { type: "button", disabled: off, class: "danger", "data-testid": `category-delete-${c.key}`,
            onclick: () => this._delete(c.key) }, t("categories.delete"))))));
  }

  _target(name, spec) {
    const off = !this.manage;
    const { amount, unit } = targetParts(spec);
    const amountInput = h("input", { type: "number", min: "0", step: "any", value: amount, disabled: off,
      name, "aria-label": t(`categories.${name}`) });
    const unitSelect = h("select", { disabled: off, "aria-label": t("categories.unit_of", { target: t(`categories.${name}`) }),
      "data-unit-for": name }, UNITS.map((u) => h("option", { value: u }, t(`categories.unit.${u}`))));
    unitSelect.value = unit;
    return h("label", {}, t(`categories.${name}`), " ", amountInput, " ", unitSelect);
  }

  _editor(current) {
    const off = !this.manage;
    const c = current || { key: "", name: "", titles: {}, availability: "customer", sla: { resolution: null, stage_one: null },
      default_severity: null, position: 0, active: true };
    this.form = h("form", { "data-testid": "category-form", novalidate: true });
    const key = h("input", { name: "key", value: c.key, disabled: off || !!current, "aria-label": t("categories.key") });
    const name = h("input", { name: "name", value: c.name, disabled: off, "aria-label": t("categories.name") });
    const titles = LANGUAGES.map((lang) => h("label", {}, LANGUAGE_NAMES[lang] || lang, " ",
      h("input", { name: `titles.${lang}`, value: (c.titles || {})[lang] || "", disabled: off, lang,
        "aria-label": t("categories.title_in", { language: LANGUAGE_NAMES[lang] || lang }) })));
    const availability = h("select", { name: "availability", disabled: off, "aria-label": t("categories.availability") },
      AVAILABILITY.map((a) => h("option", { value: a }, availabilityLabel(a))));
    availability.value = c.availability || "customer";
    const severity = h("select", { name: "default_severity", disabled: off, "aria-label": t("categories.default_severity") },
      h("option", { value: "" }, "—"), [1, 2, 3].map((s) => h("option", { value: String(s) }, severityLabel(s))));
    severity.value = c.default_severity ? String(c.default_severity) : "";
    const position = h("input", { type: "number", name: "position", value: String(c.position ?? 0), disabled: off,
      "aria-label": t("categories.position") });
    const active = h("input", { type: "checkbox", name: "active", checked: c.active !== false, disabled: off });
    this.form.addEventListener("submit", (e) => {
      e.preventDefault();
      this._save(key.value.trim(), { name: name.value, availability: availability.value,
        default_severity: severity.value ? Number(severity.value) : null, position: Number(position.value || 0),
        active: active.checked });
    });
    this.form.append(
      h("label", {}, t("categories.key"), " ", key), h("label", {}, t("categories.name"), " ", name),
      h("fieldset", {}, h("legend", {}, t("categories.titles")), h("p", { class: "muted" }, t("categories.titles_help")), titles),
      h("label", {}, t("categories.availability"), " ", availability),
      this._target("resolution", c.sla.resolution), this._target("stage_one", c.sla.stage_one),
      h("label", {}, t("categories.default_severity"), " ", severity),
      h("label", {}, t("categories.position"), " ", position),
      h("label", {}, active, " ", t("categories.active")),
      h("div", { class: "actions" },
        h("button", { type: "submit", disabled: off, "data-testid": "category-save" }, t("categories.save"))));
    return h("div", {}, h("h3", {}, current ? t("categories.editing", { name: categoryLabel(c.key, c.name, c.titles) })
      : t("categories.new")), this.form);
  }

  _spec(name) {
    const amount = this.form.querySelector(`[name="${name}"]`).value.trim();
    if (amount === "") return null;
    const unit = this.form.querySelector(`[data-unit-for="${name}"]`).value;
    return { [unit]: Number(amount) };
  }

  async _save(key, fields) {
    const titles = {};
    for (const input of this.form.querySelectorAll('[name^="titles."]')) titles[input.name.slice(7)] = input.value;
    const saved = await submitting(this.form, () => {
      if (!key) throw Object.assign(new Error(t("categories.key_needed")), { field: "key" });
      return api("PUT", `/api/categories/${encodeURIComponent(key)}`, {
        ...fields, titles, resolution: this._spec("resolution"), stage_one: this._spec("stage_one") });
    });
    if (!saved) return;
    this.ctx.toast(t("categories.saved", { name: saved.category.name }));
    await this._reload(saved.category.key);
  }

  async _toggle(c) {
    const body = { name: c.name, titles: c.titles, availability: c.availability, resolution: c.sla.resolution,
      stage_one: c.sla.stage_one, default_severity: c.default_severity, position: c.position, active: !c.active };
    try {
      await api("PUT", `/api/categories/${encodeURIComponent(c.key)}`, body);
    } catch (err) {
      this.ctx.toast(errorText(err), true);
      return;
    }
    await this._reload(this.selected);
  }

  async _delete(key) {
    try {
      await api("DELETE", `/api/categories/${encodeURIComponent(key)}`);
    } catch (err) {
      // "in use: retire it instead", as the server says it.
      this.ctx.toast(errorText(err), true);
      replace(this.el.querySelector('[data-testid="category-refusal"]') || this.el.appendChild(
        h("p", { class: "error", role: "alert", "data-testid": "category-refusal" })), errorText(err));
      return;
    }
    this.ctx.toast(t("categories.deleted", { key }));
    await this._reload(null);
  }
}

// Admin → SLA policies (issue 19): the rules of the SLA policy table (plan × category ×
// severity → targets on a business calendar), each target in words, how day targets are
// counted, the warning share and the rule's auto-close delays; add, edit, delete.
// Support admins change them; read-only staff see everything with the controls disabled
// (the server refuses anyone else). A refusal marks the control the server names
// (settings/form.js); nothing is stored then. docs/console.md "SLA policies".

import { api } from "../api.js";
import { h, replace } from "/static/shared/dom.js";
import { register, t } from "/static/shared/i18n.js";
import { categoryLabel, errorText, planLabel, rememberCategories, severityLabel } from "/static/shared/labels.js";
import { submitting } from "./form.js";
import catalog from "../../i18n/settings_policies.js";

register(catalog);

const TARGETS = ["first_response", "next_response", "stage_one", "resolution"];
const PLANS = ["basic", "regular", "premium"];
const UNITS = ["minutes", "hours", "business_days"];
const DAY_RULES = ["whole_days", "working_hours"];

// A stored target ({"minutes": n} / {"business_days": n}) as the form's amount and unit:
// whole hours show as hours.
function splitTarget(target) {
  if (!target) return { amount: "", unit: "" };
  if (target.business_days !== undefined) return { amount: String(target.business_days), unit: "business_days" };
  if (target.hours !== undefined) return { amount: String(target.hours), unit: "hours" };
  const minutes = target.minutes;
  return minutes % 60 === 0 ? { amount: String(minutes / 60), unit: "hours" } : { amount: String(minutes), unit: "minutes" };
}

// A target in words: "4 h", "30 min", "1 business day (to the close of the day)",
// "1 working day of hours"; the day rule says which of the last two.
export function targetText(target, dayRule) {
  if (!target) return t("policies.not_timed");
  const { amount, unit } = splitTarget(target);
  const n = Number(amount);
  if (unit === "minutes") return t("policies.minutes_short", { n });
  if (unit === "hours") return t("policies.hours_short", { n });
  const one = n === 1 ? "one" : "other";
  return dayRule === "working_hours" ? t(`policies.working_days_${one}`, { n }) : t(`policies.whole_days_${one}`, { n });
}

function delayText(delay) {
  return delay ? delay : t("policies.desk_default");
}

export class PoliciesScreen {
  constructor(ctx) {
    this.ctx = ctx;
    this.el = h("section", { "data-testid": "settings-policies", class: "settings-policies" });
  }

  get manage() {
    return this.ctx.me.can.manage;
  }

  async render() {
    const [policies, categories, calendars] = await Promise.all([
      api("GET", "/api/sla/policies"),
      api("GET", "/api/categories"),
      api("GET", "/api/sla/calendars"),
    ]);
    this.policies = policies.policies;
    this.categories = categories.categories;
    this.calendars = calendars.calendars;
    rememberCategories(this.categories);
    this._draw();
    return this.el;
  }

  _draw(editing = null) {
    replace(this.el,
      h("h2", {}, t("policies.title")),
      h("p", { class: "muted" }, t("policies.help")),
      this._table(),
      this._form(editing));
  }

  _calendarName(key) {
    const found = (this.calendars || []).find((c) => c.key === key);
    return found ? found.name : key;
  }

  _table() {
    const head = [t("policies.name"), t("policies.plan"), t("policies.category"), t("policies.severity"),
      t("policies.calendar"), ...TARGETS.map((target) => t(`policies.target.${target}`)), t("policies.warning"),
      t("policies.auto_close_waiting"), t("policies.auto_close_proposed"), ""];
    return h("table", { "data-testid": "policies-table" },
      h("tr", {}, head.map((text) => h("th", {}, text))),
      this.policies.map((p) => h("tr", { "data-policy": String(p.id), "data-testid": "policy-row" },
        h("td", {}, p.name),
        h("td", {}, p.tier ? planLabel(p.tier) : t("policies.any")),
        h("td", {}, p.category ? categoryLabel(p.category) : t("policies.any")),
        h("td", {}, p.severity ? severityLabel(p.severity) : t("policies.any")),
        h("td", {}, this._calendarName(p.calendar)),
        TARGETS.map((target) => h("td", { "data-target": target }, targetText(p[target], p.day_rule))),
        h("td", {}, `${Math.round(p.warning_share * 100)} %`),
        h("td", {}, delayText(p.auto_close_waiting)),
        h("td", {}, delayText(p.auto_close_proposed)),
        h("td", {},
          h("button", { type: "button", disabled: !this.manage, "data-action": "edit",
            onclick: () => this._draw(p) }, t("policies.edit")),
          " ",
          h("button", { type: "button", disabled: !this.manage, "data-action": "delete",
            onclick: () => this._delete(p) }, t("policies.delete"))))));
  }

  _select(name, label, options, value) {
    const select = h("select", { name, disabled: !this.manage, "aria-label": label },
      options.map(([v, text]) => h("option", { value: v }, text)));
    select.value = value == null ? "" : String(value);
    return h("label", { class: "field" }, h("span", {}, label), select);
  }

  _input(name, label, value, props = {}) {
    const input = h("input", { name, disabled: !this.manage, "aria-label": label, ...props });
    input.value = value == null ? "" : String(value);
    return h("label", { class: "field" }, h("span", {}, label), input);
  }

  // The categories a ticket can be given (active, not handled by e-mail): a rule for any
  // other could never match (the server refuses it, `unmatchable_policy`); a rule's own
  // category is kept in the list so that editing it shows what it is.
  _categoryChoices(current) {
    return this.categories
      .filter((c) => c.key === current || (c.active !== false && c.availability !== "email"))
      .map((c) => [c.key, categoryLabel(c.key, c.name)]);
  }

  _targetControl(target, value) {
    const { amount, unit } = splitTarget(value);
    const label = t(`policies.target.${target}`);
    // The amount carries the server's field name: a refusal of this target marks it.
    const input = h("input", { type: "number", min: "0", step: "any", name: `${target}.amount`, "data-field": target,
      disabled: !this.manage, "aria-label": t("policies.amount_of", { target: label }) });
    input.value = amount;
    const select = h("select", { name: `${target}.unit`, disabled: !this.manage,
      "aria-label": t("policies.unit_of", { target: label }) },
      h("option", { value: "" }, t("policies.unit.none")),
      UNITS.map((u) => h("option", { value: u }, t(`policies.unit.${u}`))));
    select.value = unit;
    return h("fieldset", { class: "policy-target", "data-target": target }, h("legend", {}, label), input, " ", select);
  }

  _form(editing) {
    const p = editing || { name: "", tier: null, category: null, severity: null, calendar: "24x7",
      first_response: null, next_response: null, stage_one: null, resolution: null, warning_share: 0.8,
      day_rule: "whole_days", auto_close_waiting: null, auto_close_proposed: null };
    const any = ["", t("policies.any")];
    const rules = h("fieldset", { class: "policy-day-rule" }, h("legend", {}, t("policies.day_rule")),
      DAY_RULES.map((rule) => {
        const radio = h("input", { type: "radio", name: "day_rule", value: rule, disabled: !this.manage,
          "data-testid": `day-rule-${rule}` });
        radio.checked = (p.day_rule || "whole_days") === rule;
        return h("label", { class: "choice" }, radio, " ", h("strong", {}, t(`policies.day_rule.${rule}`)), " — ",
          h("span", { class: "muted" }, t(`policies.day_rule.${rule}.help`)));
      }));
    const form = h("form", { "data-testid": "policy-form", class: "settings-form" },
      h("h3", {}, editing ? t("policies.edit_title", { name: editing.name }) : t("policies.add_title")),
      this._input("name", t("policies.name"), p.name, { required: true, maxlength: "200" }),
      this._select("tier", t("policies.plan"), [any, ...PLANS.map((plan) => [plan, planLabel(plan)])], p.tier),
      this._select("category", t("policies.category"), [any, ...this._categoryChoices(p.category)], p.category),
      this._select("severity", t("policies.severity"), [any, ...[1, 2, 3].map((s) => [String(s), severityLabel(s)])],
        p.severity),
      this._select("calendar", t("policies.calendar"), this.calendars.map((c) => [c.key, c.name]), p.calendar),
      TARGETS.map((target) => this._targetControl(target, p[target])),
      rules,
      this._input("warning_share", t("policies.warning_percent"), Math.round(p.warning_share * 100),
        { type: "number", min: "1", max: "99" }),
      this._input("auto_close_waiting", t("policies.auto_close_waiting"), p.auto_close_waiting,
        { placeholder: t("policies.delay_placeholder") }),
      this._input("auto_close_proposed", t("policies.auto_close_proposed"), p.auto_close_proposed,
        { placeholder: t("policies.delay_placeholder") }),
      h("p", { class: "muted" }, t("policies.delay_help")),
      h("div", { class: "buttons" },
        editing ? h("button", { type: "button", onclick: () => this._draw() }, t("policies.cancel")) : null,
        h("button", { type: "submit", class: "primary", disabled: !this.manage, "data-action": "save" },
          editing ? t("policies.save") : t("policies.add"))));
    form.addEventListener("submit", async (ev) => {
      ev.preventDefault();
      const body = this._body(form);
      const path = editing ? `/api/sla/policies/${editing.id}` : "/api/sla/policies";
      const done = await submitting(form, () => api(editing ? "PUT" : "POST", path, body));
      if (done) {
        this.ctx.toast(t("policies.saved"));
        await this.render();
      }
    });
    return form;
  }

  _body(form) {
    const value = (name) => form.elements.namedItem(name).value;
    const body = {
      name: value("name"),
      tier: value("tier") || null,
      category: value("category") || null,
      severity: value("severity") ? Number(value("severity")) : null,
      calendar: value("calendar"),
      warning_share: Number(value("warning_share")) / 100,
      day_rule: form.querySelector("input[name=day_rule]:checked")?.value || "whole_days",
      auto_close_waiting: value("auto_close_waiting").trim() || null,
      auto_close_proposed: value("auto_close_proposed").trim() || null,
    };
    for (const target of TARGETS) {
      const unit = value(`${target}.unit`);
      const amount = value(`${target}.amount`);
      // An amount without a unit (or a unit without an amount) is sent as it is read, so
      // the server names the target: "none" with an empty amount is "not timed".
      body[target] = unit ? { [unit]: amount === "" ? 0 : Number(amount) } : null;
    }
    return body;
  }

  async _delete(policy) {
    if (!window.confirm(t("policies.confirm_delete", { name: policy.name }))) return;
    try {
      await api("DELETE", `/api/sla/policies/${policy.id}`);
      this.ctx.toast(t("policies.deleted"));
      await this.render();
    } catch (err) {
      this.ctx.toast(errorText(err), true);
    }
  }
}

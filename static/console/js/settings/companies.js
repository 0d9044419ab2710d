// "Companies" (issue 19): the organizations with their plan and e-mail domains; a support
// admin renames one, changes its plan and domains (one per line), and sets its own
// auto-close delays — how long a ticket waits on the customer, and how long one proposed
// for closing waits, before it closes: "the policy's default" (null: the SLA policy's,
// else the desk's) or an amount and a unit (PATCH /api/organizations/{id}, stored as
// escalation.autoclose.Delay's "2bd", "7d"...). Read-only staff see it with the controls
// disabled. A refusal marks the field the server names (./form.js).

import { api } from "../api.js";
import { h, replace } from "/static/shared/dom.js";
import { register, t } from "/static/shared/i18n.js";
import { planLabel } from "/static/shared/labels.js";
import { submitting } from "./form.js";
import catalog from "../../i18n/companies.js";

register(catalog);

const PLANS = ["basic", "regular", "premium"];
// escalation.autoclose.Delay.parse's units, in the order people think of them.
const UNITS = ["h", "d", "bh", "bd"];
const DELAY = /^(\d+)(bd|bh|bm|m|h|d)$/;

// "7d" → "7 days" in the viewer's language; null → "the policy's default".
function delayText(value) {
  const m = value ? DELAY.exec(value) : null;
  if (!m) return value || t("companies.policy_default");
  return t(`companies.unit_n.${m[2]}`, { n: m[1] });
}

export class CompaniesScreen {
  constructor(ctx) {
    this.ctx = ctx;
    this.editing = null;
  }

  get manage() {
    return Boolean(this.ctx.me.can && this.ctx.me.can.manage);
  }

  async render() {
    this.organizations = (await api("GET", "/api/organizations")).organizations;
    this.el = h("section", { class: "admin", "data-testid": "settings-companies" });
    this._draw();
    return this.el;
  }

  _draw() {
    const head = [t("companies.name"), t("companies.kind"), t("companies.plan"), t("companies.domains"),
      t("companies.waiting"), t("companies.proposed"), ""];
    const rows = this.organizations.map((o) => {
      const row = h("tr", { "data-testid": "company-row" },
        h("td", {}, o.name), h("td", {}, t(`companies.kind.${o.kind}`)), h("td", {}, planLabel(o.plan_tier)),
        h("td", {}, o.domains.join(", ") || "—"),
        h("td", { "data-testid": "company-waiting" }, delayText(o.auto_close_waiting)),
        h("td", { "data-testid": "company-proposed" }, delayText(o.auto_close_proposed)),
        h("td", {}, h("button", { type: "button", "aria-label": t("companies.edit_named", { name: o.name }),
          onclick: () => { this.editing = this.editing === o.id ? null : o.id; this._draw(); } }, t("companies.edit"))));
      return this.editing === o.id ? [row, h("tr", {}, h("td", { colspan: 7 }, this._editor(o)))] : row;
    });
    replace(this.el, h("h2", {}, t("companies.title")), h("p", { class: "muted" }, t("companies.help")),
      this.organizations.length
        ? h("table", { "data-testid": "companies-table" }, h("tr", {}, head.map((x) => h("th", {}, x))), rows)
        : h("p", { class: "muted" }, t("companies.none")));
  }

  // "The policy's default" or an amount and a unit; the amount carries the server's field
  // name, so a refusal marks it.
  _delay(field, value, labelText) {
    const off = !this.manage;
    const m = value ? DELAY.exec(value) : null;
    const mode = h("select", { "aria-label": labelText, disabled: off },
      h("option", { value: "default", selected: !m }, t("companies.policy_default")),
      h("option", { value: "own", selected: Boolean(m) }, t("companies.own_delay")));
    const amount = h("input", { type: "number", min: 1, max: 8760, name: field, value: m ? m[1] : "",
      "aria-label": t("companies.amount_of", { what: labelText }), disabled: off });
    const unit = h("select", { "aria-label": t("companies.unit_of", { what: labelText }), disabled: off },
      UNITS.map((u) => h("option", { value: u, selected: m ? m[2] === u : u === "bd" }, t(`companies.unit.${u}`))));
    const sync = () => {
      const own = mode.value === "own";
      amount.hidden = !own;
      unit.hidden = !own;
    };
    mode.addEventListener("change", sync);
    sync();
    return {
      el: h("fieldset", {}, h("legend", {}, labelText), mode, amount, unit),
      value: () => (mode.value === "own" ? `${amount.value.trim()}${unit.value}` : null),
    };
  }

  _editor(o) {
    const off = !this.manage;
    const name = h("input", { name: "name", value: o.name, "aria-label": t("companies.name"), disabled: off });
    const plan = h("select", { name: "plan_tier", "aria-label": t("companies.plan"), disabled: off },
      PLANS.map((p) => h("option", { value: p, selected: p === o.plan_tier }, planLabel(p))));
    const domains = h("textarea", { name: "domains", rows: 2, "aria-label": t("companies.domains_label"), disabled: off },
      o.domains.join("\n"));
    const waiting = this._delay("auto_close_waiting", o.auto_close_waiting, t("companies.waiting"));
    const proposed = this._delay("auto_close_proposed", o.auto_close_proposed, t("companies.proposed"));
    const form = h("form", { "data-testid": "company-edit", novalidate: true },
      h("label", { class: "stacked" }, h("span", {}, t("companies.name")), name),
      h("label", { class: "stacked" }, h("span", {}, t("companies.plan")), plan),
      h("label", { class: "stacked" }, h("span", {}, t("companies.domains_label")), domains),
      h("p", { class: "muted" }, t("companies.delays_help")), waiting.el, proposed.el,
      h("button", { type: "submit", class: "primary", disabled: off }, t("companies.save")),
      h("button", { type: "button", onclick: () => { this.editing = null; this._draw(); } }, t("companies.cancel")));
    form.addEventListener("submit", async (ev) => {
      ev.preventDefault();
      const body = {
        name: name.value, plan_tier: plan.value,
        domains: domains.value.split("\n").map((d) => d.trim()).filter(Boolean),
        auto_close_waiting: waiting.value(), auto_close_proposed: proposed.value(),
      };
      const done = await submitting(form, () => api("PATCH", `/api/organizations/${o.id}`, body));
      if (!done) return;
      this.organizations = this.organizations.map((x) => (x.id === done.organization.id ? done.organization : x));
      this.editing = null;
      this.ctx.toast(t("companies.saved", { name: done.organization.name }));
      this._draw();
    });
    return form;
  }
}

// "Ticket rules": the desk-wide rules (GET/PATCH /api/desk/settings, docs/console.md):
// the escalation ladder as steps, the default auto-close delays, the statuses' labels and
// the chat-to-ticket timers. One form and one Save per section; a refusal marks the control
// the server names (`ladder.1.after_minutes`) and nothing is stored. Each section says
// whether its values are the environment's first defaults or saved here. The forms do not
// validate in the browser (novalidate): the server's refusal marks the control and says why.

import { api } from "../api.js";
import { h, replace } from "/static/shared/dom.js";
import { register, t } from "/static/shared/i18n.js";
import { errorText, statusLabel } from "/static/shared/labels.js";
import { submitting } from "./form.js";
import catalog from "../../i18n/rules.js";

register(catalog);

const DELAY = /^(\d+)(m|h|d|bm|bh|bd)$/;
const UNITS = ["h", "d", "bd"];
const TIMERS = ["chat_idle_ticket_minutes", "chat_unanswered_ticket_minutes", "chat_left_ticket_minutes"];

function actionLabel(action) {
  return t(`rules.action.${action.replace(":", "_")}`);
}

export class TicketRulesScreen {
  constructor(ctx) {
    this.ctx = ctx;
    this.el = h("div", { class: "ticket-rules", "data-testid": "ticket-rules" });
  }

  get manage() {
    return this.ctx.me.can.manage;
  }

  async render() {
    this.data = await api("GET", "/api/desk/settings");
    this._draw();
    return this.el;
  }

  _draw() {
    const d = this.data;
    this.steps = d.settings.ladder.map((s) => ({ ...s }));
    this.labels = d.settings.status_labels.map((l) => ({ ...l }));
    replace(this.el,
      h("h2", {}, t("rules.title")),
      h("p", { class: "muted" }, t("rules.help")),
      this._ladder(), this._autoClose(), this._labels(), this._timers());
  }

  // "Saved here" or "From the environment" for the keys a section shows, and a way back
  // to the environment's values once saved.
  _source(keys, testid) {
    const stored = keys.some((k) => this.data.stored.includes(k));
    const reset = h("button", { type: "button", disabled: !this.manage || !stored,
      onclick: () => this._save(null, Object.fromEntries(keys.map((k) => [k, null]))) }, t("rules.reset"));
    return h("p", { class: "muted", "data-testid": `rules-source-${testid}`, "data-stored": String(stored) },
      stored ? t("rules.source.stored") : t("rules.source.env"), " ", stored ? reset : null);
  }

  async _save(form, body) {
    const send = () => api("PATCH", "/api/desk/settings", body);
    const saved = form ? await submitting(form, send) : await send().catch((err) => {
      this.ctx.toast(errorText(err), true);
      return null;
    });
    if (!saved) return;
    this.data = saved;
    this._draw();
    this.ctx.toast(t("rules.saved"));
  }

  _section(testid, title, help, form) {
    return h("section", { "data-testid": `rules-${testid}` }, h("h3", {}, title),
      h("p", { class: "muted" }, help), form);
  }

  _ladder() {
    const rows = h("tbody");
    const drawRows = () => replace(rows, this.steps.map((step, i) => {
      const action = h("select", { name: `ladder.${i}.action`, "data-field": `ladder.${i}.action`,
        disabled: !this.manage, "aria-label": t("rules.ladder.action_of", { n: i + 1 }),
        onchange: (ev) => { step.action = ev.target.value; } },
      this.data.actions.map((a) => h("option", { value: a }, actionLabel(a))));
      action.value = step.action;
      const after = h("input", { type: "number", min: "0", step: "1", value: String(step.after_minutes),
        name: `ladder.${i}.after_minutes`, "data-field": `ladder.${i}.after_minutes`, disabled: !this.manage,
        "aria-label": t("rules.ladder.after_of", { n: i + 1 }),
        oninput: (ev) => { step.after_minutes = ev.target.value === "" ? null : Number(ev.target.value); } });
      const move = (to) => {
        const [moved] = this.steps.splice(i, 1);
        this.steps.splice(to, 0, moved);
        drawRows();
      };
      return h("tr", { "data-testid": "ladder-step" },
        h("td", {}, String(i + 1)), h("td", {}, action), h("td", {}, after, " ", t("rules.minutes")),
        h("td", {},
          h("button", { type: "button", disabled: !this.manage || i === 0, "aria-label": t("rules.earlier_of", { n: i + 1 }),
            onclick: () => move(i - 1) }, "↑"),
          h("button", { type: "button", disabled: !this.manage || i === this.steps.length - 1,
            "aria-label": t("rules.later_of", { n: i + 1 }), onclick: () => move(i + 1) }, "↓"),
          h("button", { type: "button", disabled: !this.manage, onclick: () => { this.steps.splice(i, 1); drawRows(); } },
            t("rules.remove"))));
    }));
    drawRows();
    const form = h("form", { "data-field": "ladder", novalidate: true },
      h("table", {}, h("thead", {}, h("tr", {}, h("th", {}, "#"), h("th", {}, t("rules.ladder.action")),
        h("th", {}, t("rules.ladder.after")), h("th", {}, ""))), rows),
      h("div", { class: "buttons" },
        h("button", { type: "button", disabled: !this.manage, "data-testid": "ladder-add", onclick: () => {
          const last = this.steps[this.steps.length - 1];
          this.steps.push({ action: "notify_admins", after_minutes: last ? last.after_minutes : 0 });
          drawRows();
        } }, t("rules.ladder.add")),
        h("button", { type: "submit", class: "primary", disabled: !this.manage }, t("rules.save"))));
    form.addEventListener("submit", (ev) => {
      ev.preventDefault();
      this._save(form, { ladder: this.steps.map((s) => ({ action: s.action, after_minutes: s.after_minutes })) });
    });
    return this._section("ladder", t("rules.ladder.title"), t("rules.ladder.help"),
      h("div", {}, this._source(["ladder"], "ladder"), form));
  }

  _delay(key, label) {
    const match = DELAY.exec(this.data.settings[key]) || [null, "48", "h"];
    const units = UNITS.includes(match[2]) ? UNITS : [...UNITS, match[2]];
    const amount = h("input", { type: "number", min: "1", step: "1", value: match[1], name: key, "data-field": key,
      disabled: !this.manage, "aria-label": label });
    const unit = h("select", { name: `${key}_unit`, disabled: !this.manage, "aria-label": t("rules.unit_of", { what: label }) },
      units.map((u) => h("option", { value: u }, t(`rules.unit.${u}`))));
    unit.value = match[2];
    return { row: h("div", { class: "field" }, h("label", {}, label), " ", amount, " ", unit),
      value: () => `${amount.value}${unit.value}` };
  }

  _autoClose() {
    const waiting = this._delay("auto_close_waiting", t("rules.auto.waiting"));
    const proposed = this._delay("auto_close_proposed", t("rules.auto.proposed"));
    const form = h("form", { novalidate: true }, waiting.row, proposed.row,
      h("button", { type: "submit", class: "primary", disabled: !this.manage }, t("rules.save")));
    form.addEventListener("submit", (ev) => {
      ev.preventDefault();
      this._save(form, { auto_close_waiting: waiting.value(), auto_close_proposed: proposed.value() });
    });
    return this._section("autoclose", t("rules.auto.title"), t("rules.auto.help"),
      h("div", {}, this._source(["auto_close_waiting", "auto_close_proposed"], "autoclose"), form));
  }

  _labels() {
    const rows = h("tbody");
    const drawRows = () => replace(rows, this.labels.map((item, i) => {
      const label = h("input", { value: item.label, name: `status_labels.${i}.label`,
        "data-field": `status_labels.${i}.label`, maxlength: "100", disabled: !this.manage,
        "aria-label": t("rules.labels.label_of", { n: i + 1 }), oninput: (ev) => { item.label = ev.target.value; } });
      const status = h("select", { name: `status_labels.${i}.status`, "data-field": `status_labels.${i}.status`,
        disabled: !this.manage, "aria-label": t("rules.labels.status_of", { n: i + 1 }),
        onchange: (ev) => { item.status = ev.target.value; } },
      this.data.statuses.map((s) => h("option", { value: s }, statusLabel(s))));
      status.value = item.status;
      return h("tr", {}, h("td", {}, label), h("td", {}, status),
        h("td", {}, h("button", { type: "button", disabled: !this.manage,
          onclick: () => { this.labels.splice(i, 1); drawRows(); } }, t("rules.remove"))));
    }));
    drawRows();
    const form = h("form", { "data-field": "status_labels", novalidate: true },
      h("table", {}, h("thead", {}, h("tr", {}, h("th", {}, t("rules.labels.label")), h("th", {}, t("rules.labels.status")),
        h("th", {}, ""))), rows),
      h("div", { class: "buttons" },
        h("button", { type: "button", disabled: !this.manage, onclick: () => {
          this.labels.push({ label: "", status: "in_progress" });
          drawRows();
        } }, t("rules.labels.add")),
        h("button", { type: "submit", class: "primary", disabled: !this.manage }, t("rules.save"))));
    form.addEventListener("submit", (ev) => {
      ev.preventDefault();
      this._save(form, { status_labels: this.labels.map((l) => ({ label: l.label, status: l.status })) });
    });
    return this._section("labels", t("rules.labels.title"), t("rules.labels.help"),
      h("div", {}, this._source(["status_labels"], "labels"), form));
  }

  _timers() {
    const inputs = TIMERS.map((key) => h("input", { type: "number", min: "0", max: "1440", step: "1",
      value: String(this.data.settings[key]), name: key, "data-field": key, disabled: !this.manage,
      "aria-label": t(`rules.timers.${key}`) }));
    const online = h("input", { type: "checkbox", name: "ticket_when_no_agent_online",
      "data-field": "ticket_when_no_agent_online", disabled: !this.manage });
    online.checked = this.data.settings.ticket_when_no_agent_online;
    const form = h("form", { novalidate: true },
      TIMERS.map((key, i) => h("div", { class: "field" }, h("label", {}, t(`rules.timers.${key}`)), " ", inputs[i], " ",
        t("rules.minutes"))),
      h("label", { class: "field" }, online, " ", t("rules.timers.no_agent_online")),
      h("button", { type: "submit", class: "primary", disabled: !this.manage }, t("rules.save")));
    form.addEventListener("submit", (ev) => {
      ev.preventDefault();
      const body = Object.fromEntries(TIMERS.map((key, i) => [key, inputs[i].value === "" ? "" : Number(inputs[i].value)]));
      body.ticket_when_no_agent_online = online.checked;
      this._save(form, body);
    });
    return this._section("timers", t("rules.timers.title"), t("rules.timers.help"),
      h("div", {}, this._source([...TIMERS, "ticket_when_no_agent_online"], "timers"), form));
  }
}

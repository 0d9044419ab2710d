// "Audit log" (support admins and read-only staff): who did what, when, for whom, to what
// and why, newest first (GET /api/audit), filtered by actor, action, target and time, with
// "Older entries" paging. Read-only: the product never changes an audit row.

import { displayName } from "/static/shared/names.js";
import { api } from "./api.js";
import { dateTime } from "./format.js";
import { h, replace } from "/static/shared/dom.js";
import { register, t } from "/static/shared/i18n.js";
import { errorText } from "/static/shared/labels.js";
import catalog from "../i18n/audit.js";

register(catalog);

const PAGE = 50;
// The filter's choices: a prefix matches every action under it (docs/http.md).
const ACTIONS = ["", "impersonation.", "impersonation.start", "impersonation.end"];

// An action in the viewer's language; one a newer server records shows as it is stored.
function actionLabel(action) {
  const key = `audit.action.${action}`;
  const text = t(key);
  return text === key ? action : text;
}

function targetLabel(kind) {
  const key = `audit.target.${kind}`;
  const text = t(key);
  return text === key ? kind : text;
}

function person(p) {
  return p ? (p.anonymous || !p.name ? displayName(p) : `${p.name} #${p.id}`) : t("audit.system");
}

// The record as stored, field names and all: a technical view, not translated.
function json(value) {
  return value ? h("div", { class: "audit-json", translate: "no" }, JSON.stringify(value, null, 1)) : "";
}

export class AuditView {
  constructor(el, ctx) {
    this.el = el;
    this.ctx = ctx;
    this.filters = {};
  }

  show() {
    const field = (name, label, attrs = {}) => {
      const input = h("input", { name, "aria-label": label, placeholder: label, ...attrs });
      input.value = this.filters[name] || "";
      return input;
    };
    const action = h("select", { name: "action", "aria-label": t("audit.action") },
      ACTIONS.map((v) => h("option", { value: v }, t(`audit.filter.${v || "any"}`))));
    action.value = this.filters.action || "";
    const inputs = [field("actor", t("audit.actor_id"), { inputmode: "numeric", size: 8 }),
      field("on_behalf_of", t("audit.on_behalf_of_id"), { inputmode: "numeric", size: 8 }), action,
      field("target_kind", t("audit.target_kind"), { size: 10 }), field("target_id", t("audit.target_id"), { size: 8 }),
      field("since", t("audit.since"), { type: "datetime-local" }), field("until", t("audit.until"), { type: "datetime-local" })];
    const form = h("form", { class: "audit-filters", "data-testid": "audit-filters" },
      inputs.map((i) => h("label", {}, i.getAttribute("aria-label"), " ", i)), h("button", { type: "submit" }, t("audit.filter")));
    form.addEventListener("submit", (ev) => {
      ev.preventDefault();
      this.filters = Object.fromEntries(inputs.map((i) => [i.name, i.value.trim()]).filter(([, v]) => v));
      this._load(null);
    });
    this.list = h("tbody", {});
    this.more = h("button", { type: "button", hidden: true, onclick: () => this._load(this.next) }, t("audit.older"));
    this.error = h("div", { class: "error", role: "alert" });
    replace(this.el, h("section", { "data-testid": "audit-log" }, h("h2", {}, t("audit.title")), form, this.error,
      h("table", {}, h("thead", {}, h("tr", {}, [t("audit.when"), t("audit.actor"), t("audit.on_behalf_of"), t("audit.action"),
        t("audit.target"), t("audit.reason"), t("audit.before"), t("audit.after")].map((text) => h("th", {}, text)))),
      this.list), this.more));
    this._load(null);
  }

  async _load(before) {
    const q = new URLSearchParams({ limit: String(PAGE) });
    for (const [k, v] of Object.entries(this.filters)) {
      // datetime-local has no zone: it is the browser's local time.
      q.set(k, k === "since" || k === "until" ? new Date(v).toISOString() : v);
    }
    if (before) q.set("before", String(before));
    this.error.textContent = "";
    let page;
    try {
      page = await api("GET", `/api/audit?${q}`);
    } catch (err) {
      this.error.textContent = errorText(err);
      return;
    }
    if (!before) replace(this.list);
    for (const e of page.entries) {
      this.list.append(h("tr", { "data-testid": "audit-entry" }, h("td", {}, dateTime(e.at)), h("td", {}, person(e.actor)),
        h("td", {}, e.on_behalf_of ? person(e.on_behalf_of) : ""), h("td", { title: e.action }, actionLabel(e.action)),
        h("td", {}, e.target ? `${targetLabel(e.target.kind)} ${e.target.id}` : ""), h("td", {}, e.reason || ""),
        h("td", {}, json(e.before)), h("td", {}, json(e.after))));
    }
    if (!before && !page.entries.length) this.list.append(h("tr", {}, h("td", { colspan: "8", class: "muted" }, t("audit.none"))));
    this.next = page.next_before;
    this.more.hidden = !page.next_before;
  }
}

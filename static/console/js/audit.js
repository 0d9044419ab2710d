// "Audit log" (support admins and read-only staff): who did what, when, for whom, to what
// and why, newest first (GET /api/audit), filtered by actor, action, target and time, with
// "Older entries" paging. Read-only: the product never changes an audit row.
// A configuration change (action config.*, issue 19) reads as a diff: the keys that changed,
// the old value struck and the new one beside it; a creation shows what was created.

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
const ACTIONS = ["", "config.", "impersonation.", "impersonation.start", "impersonation.end"];
const CONFIG = "config.";
// Bookkeeping every view carries: the row's own time and actor already say it.
const BOOKKEEPING = new Set(["created_at", "updated_at", "created_by_id", "updated_by_id"]);
const COMPACT_MAX = 120;

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

// One value on one line: nested objects and lists as compact JSON, long ones cut (the
// whole value in the tooltip).
function compact(value) {
  if (value === null || value === undefined || value === "") return h("span", { class: "muted" }, t("audit.diff.empty"));
  const text = typeof value === "string" ? value : JSON.stringify(value);
  const shown = text.length > COMPACT_MAX ? `${text.slice(0, COMPACT_MAX - 1)}…` : text;
  return h("span", { translate: "no", title: shown === text ? null : text }, shown);
}

const same = (a, b) => JSON.stringify(a) === JSON.stringify(b);

// The keys a change touched: for an update those whose value differs; for a creation or a
// deletion every key (the other side is null).
export function changedKeys(before, after) {
  const keys = [...new Set([...Object.keys(before || {}), ...Object.keys(after || {})])];
  return keys.filter((k) => !BOOKKEEPING.has(k) && (!before || !after || !same(before[k], after[k])));
}

function diff(before, after) {
  const keys = changedKeys(before, after);
  const head = !before ? t("audit.diff.created") : !after ? t("audit.diff.deleted") : null;
  const lines = keys.map((k) => h("li", { "data-testid": "audit-diff-line", "data-key": k },
    h("span", { class: "audit-key", translate: "no" }, k), ": ",
    before ? h("del", { "aria-label": t("audit.diff.was") }, compact(before[k])) : "",
    before && after ? " → " : "",
    after ? h("ins", { "aria-label": t("audit.diff.now") }, compact(after[k])) : ""));
  return h("div", { class: "audit-diff", "data-testid": "audit-diff" }, head ? h("strong", {}, head) : "",
    lines.length ? h("ul", {}, lines) : h("span", { class: "muted" }, t("audit.diff.unchanged")));
}

// A target by kind and by name when its view has one (a rule's name, a reply's title, a
// group's key), the id beside it.
function target(e) {
  if (!e.target) return "";
  const view = e.after || e.before || {};
  const name = e.action.startsWith(CONFIG) ? (view.name || view.title || view.key || null) : null;
  const kind = targetLabel(e.target.kind);
  return name && String(name) !== e.target.id ? `${kind} ${name} (#${e.target.id})` : `${kind} ${e.target.id}`;
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
        h("td", { "data-testid": "audit-target" }, target(e)), h("td", {}, e.reason || ""),
        e.action.startsWith(CONFIG) ? h("td", { colspan: "2" }, diff(e.before, e.after))
          : [h("td", {}, json(e.before)), h("td", {}, json(e.after))]));
    }
    if (!before && !page.entries.length) this.list.append(h("tr", {}, h("td", { colspan: "8", class: "muted" }, t("audit.none"))));
    this.next = page.next_before;
    this.more.hidden = !page.next_before;
  }
}

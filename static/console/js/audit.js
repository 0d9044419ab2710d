// "Audit log" (support admins and read-only staff): who did what, when, for whom, to what
// and why, newest first (GET /api/audit), filtered by actor, action, target and time, with
// "Older entries" paging. Read-only: the product never changes an audit row.

import { displayName } from "/static/shared/names.js";
import { api } from "./api.js";
import { dateTime } from "./format.js";
import { h, replace } from "/static/shared/dom.js";

const PAGE = 50;
const ACTIONS = [["", "Any action"], ["impersonation.", "Impersonation (start and end)"],
  ["impersonation.start", "Impersonation started"], ["impersonation.end", "Impersonation ended"]];

function person(p) {
  return p ? (p.anonymous || !p.name ? displayName(p) : `${p.name} #${p.id}`) : "system";
}

function json(value) {
  return value ? h("div", { class: "audit-json" }, JSON.stringify(value, null, 1)) : "";
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
    const action = h("select", { name: "action", "aria-label": "Action" },
      ACTIONS.map(([v, label]) => h("option", { value: v }, label)));
    action.value = this.filters.action || "";
    const inputs = [field("actor", "Actor id", { inputmode: "numeric", size: 8 }),
      field("on_behalf_of", "On behalf of (user id)", { inputmode: "numeric", size: 8 }), action,
      field("target_kind", "Target kind", { size: 10 }), field("target_id", "Target id", { size: 8 }),
      field("since", "Since", { type: "datetime-local" }), field("until", "Until", { type: "datetime-local" })];
    const form = h("form", { class: "audit-filters", "data-testid": "audit-filters" },
      inputs.map((i) => h("label", {}, i.getAttribute("aria-label"), " ", i)), h("button", { type: "submit" }, "Filter"));
    form.addEventListener("submit", (ev) => {
      ev.preventDefault();
      this.filters = Object.fromEntries(inputs.map((i) => [i.name, i.value.trim()]).filter(([, v]) => v));
      this._load(null);
    });
    this.list = h("tbody", {});
    this.more = h("button", { type: "button", hidden: true, onclick: () => this._load(this.next) }, "Older entries");
    this.error = h("div", { class: "error", role: "alert" });
    replace(this.el, h("section", { "data-testid": "audit-log" }, h("h2", {}, "Audit log"), form, this.error,
      h("table", {}, h("thead", {}, h("tr", {}, ["When", "Actor", "On behalf of", "Action", "Target", "Reason", "Before",
        "After"].map((t) => h("th", {}, t)))), this.list), this.more));
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
      this.error.textContent = err.message;
      return;
    }
    if (!before) replace(this.list);
    for (const e of page.entries) {
      this.list.append(h("tr", { "data-testid": "audit-entry" }, h("td", {}, dateTime(e.at)), h("td", {}, person(e.actor)),
        h("td", {}, e.on_behalf_of ? person(e.on_behalf_of) : ""), h("td", {}, e.action),
        h("td", {}, e.target ? `${e.target.kind} ${e.target.id}` : ""), h("td", {}, e.reason || ""),
        h("td", {}, json(e.before)), h("td", {}, json(e.after))));
    }
    if (!before && !page.entries.length) this.list.append(h("tr", {}, h("td", { colspan: "8", class: "muted" }, "No entries")));
    this.next = page.next_before;
    this.more.hidden = !page.next_before;
  }
}

// Reports (issue 17; docs/console.md, "Reports"): a filters bar, one tab per report, each
// loaded with one request to /api/reports/{name} (docs/http.md, "Reports"). A report is
// tables and charts: each chart is the server's SVG (chat/reports/charts.py) and under it
// the real <table> of the same numbers, formatted for the viewer's language — the table
// is the accessible view, and what the tests read. A drillable number (a cell, or a mark
// of a chart: its data-x and data-series) opens the tickets behind it in a panel
// (/api/reports/tickets). "Export CSV" links download what is on screen.
//
// The console mounts it at /console/reports (staff); the portal mounts the same module
// for reseller admins, with its own `api` (ctx.api). The server decides what each role
// sees; this page shows what it is given.

import { api as consoleApi } from "./api.js";
import { h, replace } from "/static/shared/dom.js";
import { language, register, t } from "/static/shared/i18n.js";
import {
  categoryKeysIn, categoryLabel, channelLabel, errorText, groupLabel, planLabel, policyLabel, ratingLabel,
  ratingReasonLabel, severityLabel, slaTargetLabel, statusLabel,
} from "/static/shared/labels.js";
import catalog from "../i18n/reports.js";

register(catalog);

export const REPORTS = ["volume", "breakdown", "times", "sla", "ratings", "messages", "heatmap", "now"];
// Labels are looked up when drawn, not at import: the language is set after the modules load.
const reportLabel = (name) => t(`reports.tab.${name}`);

// A breakdown's rows by a server enum: the key (the row's x) named in the viewer's language
// rather than by the server's English name; a key the catalog lacks keeps the server's name.
const NAMED_BY = {
  status: (key, name) => (key ? statusLabel(key) : name),
  category: (key, name) => (key ? categoryLabel(key, name) : name),
  channel: (key, name) => (key ? channelLabel(key) : name),
  rating: (key, name) => (key ? ratingLabel(key) : name),
  severity: (key, name) => (key ? severityLabel(key) : name),
  group: (key, name) => (key ? groupLabel(key, name) : name),
};

// The filters of every report (docs/http.md): fixed lists, or a list endpoint the viewer
// may read. One the viewer may not read (e.g. /api/sites: support admins) is not shown.
// Each is labelled t("reports.f.<key>") when drawn; fixed lists are built when drawn too.
const FILTERS = [
  { key: "site", load: async (api) => (await api("GET", "/api/sites")).sites.map((s) => [s.id, s.name]) },
  { key: "company",
    load: async (api) => (await api("GET", "/api/organizations")).organizations.map((o) => [o.id, o.name]) },
  { key: "plan", options: () => ["basic", "regular", "premium"].map((p) => [p, planLabel(p)]) },
  { key: "group",
    load: async (api) => (await api("GET", "/api/groups/support")).groups.map((g) => [g.key, groupLabel(g.key, g.name)]) },
  { key: "agent", load: async (api) => (await api("GET", "/api/desk/agents")).agents.map((a) => [a.id, a.name]) },
  { key: "category",
    load: async (api) => (await api("GET", "/api/categories")).categories.map((c) => [c.key, categoryLabel(c.key, c.name)]) },
  { key: "severity", options: () => [1, 2, 3].map((s) => [s, severityLabel(s)]) },
  { key: "channel",
    options: () => ["chat", "widget_offline", "web", "email", "phone", "group_chat", "api"].map((c) => [c, channelLabel(c)]) },
];
// Text cells holding a server enum (a ticket's status, a rating and its reason, an SLA
// target, …), by column key: named in the viewer's language.
const VALUE_LABELS = {
  status: statusLabel, rating: ratingLabel, reason: ratingReasonLabel, target: slaTargetLabel,
  channel: channelLabel, category: (key) => categoryLabel(key), severity: severityLabel, policy: policyLabel,
};

// A ticket's SLA outcome on one target (met, breached, …) in the viewer's language.
function slaOutcome(value) {
  const key = `reports.sla.${value}`;
  const text = t(key);
  return text === key ? String(value).replaceAll("_", " ") : text;
}

const RANGE_DAYS = 30; // the server's default too
const NUMERIC = new Set(["int", "number", "percent", "duration"]);
// Text that is an instant (a due time, a rating's time) is shown as one, in the report's zone.
const INSTANT = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}/;
// An instant inside a sentence (a note's "Live, at 2026-12-05T21:56:21.240490+00:00; …").
const INSTANT_IN_TEXT = /\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?:Z|[+-]\d{2}:?\d{2})?/g;

const isoDay = (date) => date.toISOString().slice(0, 10);

// Today's date where `tz` is, as YYYY-MM-DD ("en-CA" writes dates that way).
function today(tz) {
  try {
    return new Intl.DateTimeFormat("en-CA", { timeZone: tz, year: "numeric", month: "2-digit", day: "2-digit" })
      .format(new Date());
  } catch {
    return isoDay(new Date());
  }
}

function daysBefore(day, n) {
  const d = new Date(`${day}T00:00:00Z`);
  d.setUTCDate(d.getUTCDate() - n);
  return isoDay(d);
}

function timeZones(current) {
  const zones = typeof Intl.supportedValuesOf === "function" ? Intl.supportedValuesOf("timeZone") : ["UTC"];
  return [...new Set([current, "UTC", ...zones])];
}

// Numbers, dates and durations in the viewer's language (the labels stay the server's).
export function formatter(lang, tz) {
  const safe = (make) => { try { return make(lang); } catch { return make("en"); } };
  const int = safe((l) => new Intl.NumberFormat(l, { maximumFractionDigits: 0 }));
  const num = safe((l) => new Intl.NumberFormat(l, { maximumFractionDigits: 2 }));
  const pct = safe((l) => new Intl.NumberFormat(l, { style: "percent", maximumFractionDigits: 1 }));
  const day = safe((l) => new Intl.DateTimeFormat(l, { dateStyle: "medium", timeZone: "UTC" }));
  const hour = safe((l) => new Intl.DateTimeFormat(l, { hour: "numeric", timeZone: "UTC" }));
  let stamp;
  try {
    stamp = new Intl.DateTimeFormat(lang, { dateStyle: "medium", timeStyle: "short", timeZone: tz });
  } catch {
    stamp = new Intl.DateTimeFormat(lang, { dateStyle: "medium", timeStyle: "short" });
  }
  const spans = typeof Intl.DurationFormat === "function" ? safe((l) => new Intl.DurationFormat(l, { style: "narrow" })) : null;
  const span = (parts) => spans ? spans.format(parts)
    : Object.entries(parts).filter(([, v]) => v).map(([k, v]) => `${v}${k[0]}`).join(" ") || "0m";

  // Seconds as h/m: "45s", "12m", "3h 5m", "2d 4h" (negative: overdue, "−1h 5m").
  function duration(seconds) {
    const sign = seconds < 0 ? "−" : "";
    const total = Math.round(Math.abs(seconds));
    if (total < 60) return sign + span({ seconds: total });
    const minutes = Math.floor(total / 60);
    const hours = Math.floor(minutes / 60);
    if (hours < 48) return sign + span(hours ? { hours, minutes: minutes % 60 } : { minutes });
    return sign + span({ days: Math.floor(hours / 24), hours: hours % 24 });
  }

  return {
    duration,
    // A server's sentence with the instants in it shown like the table's (language, zone).
    text(value) {
      return String(value ?? "").replace(INSTANT_IN_TEXT, (found) => stampOf(found));
    },
    cell(type, value) {
      if (value === null || value === undefined || value === "") return "—";
      switch (type) {
        case "int": return typeof value === "number" ? int.format(value) : String(value);
        case "number": return typeof value === "number" ? num.format(value) : String(value);
        case "percent": return typeof value === "number" ? pct.format(value) : String(value);
        case "duration": return typeof value === "number" ? duration(value) : String(value);
        case "date": return /^\d{4}-\d{2}-\d{2}$/.test(value) ? day.format(new Date(`${value}T00:00:00Z`)) : String(value);
        case "hour": return typeof value === "number" ? hour.format(Date.UTC(2000, 0, 1, value)) : stampOf(value);
        case "datetime": return stampOf(value);
        case "id": return `#${value}`;
        default:
          if (typeof value === "string" && INSTANT.test(value)) return stampOf(value);
          return typeof value === "object" ? nameOf(value) : String(value);
      }
    },
  };

  function stampOf(value) {
    const t = Date.parse(value);
    return Number.isNaN(t) ? String(value) : stamp.format(new Date(t));
  }
}

// A person or company may come as {id, name} or as a plain value.
function nameOf(v) {
  if (v === null || v === undefined) return "—";
  return typeof v === "object" ? String(v.name ?? v.id ?? "—") : String(v);
}

// The server's SVG, parsed as SVG (never as HTML) and imported: our code drew it with every
// text escaped, and this keeps it so — a parse error shows nothing, and anything active
// that could ever slip in (script, foreignObject, on* handlers, links) is dropped.
export function svgNode(markup) {
  const doc = new DOMParser().parseFromString(String(markup), "image/svg+xml");
  const root = doc.documentElement;
  if (!root || root.localName !== "svg" || root.namespaceURI !== "http://www.w3.org/2000/svg"
      || doc.getElementsByTagName("parsererror").length) return null;
  for (const el of [...root.querySelectorAll("script, foreignObject, a, use, image")]) el.remove();
  for (const el of [root, ...root.querySelectorAll("*")]) {
    for (const attr of [...el.attributes]) {
      if (/^on/i.test(attr.name) || /href$/i.test(attr.name)) el.removeAttribute(attr.name);
    }
  }
  return document.importNode(root, true);
}

export class ReportsView {
  /** `ctx`: {me, api?, open?(ticketId), params?: URLSearchParams, onParams?(URLSearchParams)}. */
  constructor(el, ctx) {
    this.el = el;
    this.ctx = ctx;
    this.api = ctx.api || consoleApi;
    // The language the page was drawn in (the person's choice, else the browser's: pickLanguage).
    this.lang = language();
    this.tab = "volume";
    this.built = false;
    this.loaded = new Map(); // report name -> the query it shows
  }

  async show() {
    if (!this.built) await this._build();
    this._pick(this.tab);
  }

  // -- the frame: filters, tabs, panels, the drill-down panel ---------------------------

  async _build() {
    this.built = true;
    const initial = this.ctx.params || new URLSearchParams();
    const tz = initial.get("tz") || Intl.DateTimeFormat().resolvedOptions().timeZone || "UTC";
    const to = initial.get("to") || today(tz);
    if (REPORTS.includes(initial.get("tab"))) this.tab = initial.get("tab");

    this.from = h("input", { type: "date", name: "from", value: initial.get("from") || daysBefore(to, RANGE_DAYS - 1) });
    this.to = h("input", { type: "date", name: "to", value: to });
    this.tz = h("select", { name: "tz" }, timeZones(tz).map((z) => h("option", { value: z }, z)));
    this.tz.value = tz;
    this.selects = new Map();
    const lists = await Promise.all(FILTERS.map((f) => (f.options ? Promise.resolve(f.options()) : f.load(this.api).catch(() => null))));
    const fields = [
      h("label", {}, t("reports.from"), this.from), h("label", {}, t("reports.to"), this.to),
      h("label", {}, t("reports.tz"), this.tz),
    ];
    FILTERS.forEach((f, i) => {
      if (!lists[i] || !lists[i].length) return; // not for this viewer, or nothing to pick
      const wanted = new Set(initial.getAll(f.key));
      const select = h("select", { name: f.key, multiple: true, size: Math.max(2, Math.min(4, lists[i].length)) },
        lists[i].map(([value, label]) => h("option", { value: String(value), selected: wanted.has(String(value)) }, label)));
      this.selects.set(f.key, select);
      fields.push(h("label", { class: "multi" }, t(`reports.f.${f.key}`), select));
    });
    const form = h("form", { class: "filters", "aria-label": t("reports.filters") }, fields,
      h("div", { class: "buttons" }, h("button", { type: "submit", class: "primary" }, t("reports.apply")),
        h("button", { type: "button", onclick: () => this._reset() }, t("reports.clear"))));
    form.addEventListener("submit", (ev) => {
      ev.preventDefault();
      this.loaded.clear();
      this._pick(this.tab);
    });

    this.tabs = h("div", { class: "tabs", role: "tablist", "aria-label": t("reports.title") });
    this.panels = new Map();
    for (const name of REPORTS) {
      const label = reportLabel(name);
      const panel = h("section", { class: "report hidden", role: "tabpanel", id: `report-${name}`, "aria-label": label,
        "data-report": name });
      this.panels.set(name, panel);
      this.tabs.append(h("button", { type: "button", role: "tab", id: `report-tab-${name}`, "aria-controls": `report-${name}`,
        "aria-selected": "false", dataset: { report: name }, onclick: () => this._pick(name) }, label));
    }
    // Arrow keys move between the tabs (WAI-ARIA tabs pattern); Tab leaves the list.
    this.tabs.addEventListener("keydown", (ev) => {
      const step = { ArrowRight: 1, ArrowLeft: -1 }[ev.key];
      if (!step) return;
      const at = REPORTS.indexOf(this.tab);
      const next = REPORTS[(at + step + REPORTS.length) % REPORTS.length];
      this._pick(next);
      this.tabs.querySelector(`[data-report="${next}"]`).focus();
    });
    this.drillEl = h("section", { class: "drill-panel hidden", "data-testid": "drill",
      "aria-label": t("reports.drill_label") });
    replace(this.el, h("div", { class: "reports" }, h("h1", {}, t("reports.title")), form, this.tabs, [...this.panels.values()],
      this.drillEl));
  }

  _reset() {
    for (const select of this.selects.values()) for (const option of select.options) option.selected = false;
    const tz = Intl.DateTimeFormat().resolvedOptions().timeZone || "UTC";
    this.tz.value = tz;
    this.to.value = today(tz);
    this.from.value = daysBefore(this.to.value, RANGE_DAYS - 1);
    this.loaded.clear();
    this._pick(this.tab);
  }

  /** The filters as query parameters (every report and drill-down takes the same). */
  params() {
    const q = new URLSearchParams();
    if (this.from.value) q.set("from", this.from.value);
    if (this.to.value) q.set("to", this.to.value);
    q.set("tz", this.tz.value);
    for (const [key, select] of this.selects) {
      for (const option of select.selectedOptions) q.append(key, option.value);
    }
    return q;
  }

  // `q` with the language the server writes the report's texts in (titles, labels, chart
  // titles and legends, CSV headers): the page's own, so the two never disagree. Not part
  // of the page's address (params()), which a colleague in another language may open.
  withLang(q) {
    const out = new URLSearchParams(q);
    out.set("lang", this.lang);
    return out;
  }

  _pick(name) {
    this.tab = name;
    for (const button of this.tabs.children) {
      const on = button.dataset.report === name;
      button.classList.toggle("active", on);
      button.setAttribute("aria-selected", String(on));
      button.tabIndex = on ? 0 : -1;
    }
    for (const [key, panel] of this.panels) panel.classList.toggle("hidden", key !== name);
    const q = this.params();
    if (this.ctx.onParams) this.ctx.onParams(new URLSearchParams([...q, ["tab", name]]));
    if (this.loaded.get(name) !== String(q)) this.load(name);
  }

  // -- one report -----------------------------------------------------------------------

  async load(name) {
    const q = this.params();
    const panel = this.panels.get(name);
    this.loaded.set(name, String(q));
    replace(panel, h("p", { class: "muted" }, t("reports.loading")));
    panel.setAttribute("aria-busy", "true");
    let data;
    try {
      data = await this.api("GET", `/api/reports/${name}?${this.withLang(q)}`);
    } catch (err) {
      this.loaded.delete(name);
      panel.removeAttribute("aria-busy");
      replace(panel, h("p", { class: "error", role: "alert", "data-code": err.code }, errorText(err)));
      return;
    }
    if (this.loaded.get(name) !== String(q)) return; // the filters changed while it loaded
    panel.removeAttribute("aria-busy");
    this._render(panel, name, data, q);
  }

  _render(panel, name, data, q) {
    const fmt = formatter(this.lang, data.tz || this.tz.value);
    const label = reportLabel(name);
    const head = h("header", { class: "report-head" },
      h("h2", {}, label),
      data.from ? h("span", { class: "muted" }, `${fmt.cell("date", data.from)} – ${fmt.cell("date", data.to)} (${data.tz})`) : null,
      h("span", { class: "spacer" }),
      h("button", { type: "button", onclick: () => { this.loaded.delete(name); this.load(name); } }, t("reports.refresh")),
      h("a", { class: "button csv", href: `/api/reports/${name}.csv?${this.withLang(q)}`, download: `${name}.csv` },
        t("reports.csv")));
    const charts = data.charts || [];
    const tables = data.tables || [];
    const sections = tables.map((table) => {
      const figures = charts.filter((c) => c.table === table.id).map((c) => this._chart(c, table));
      return h("section", { class: "report-table", "data-table": table.id }, figures, this._table(table, fmt));
    });
    const orphans = charts.filter((c) => !tables.some((table) => table.id === c.table)).map((c) => this._chart(c, null));
    replace(panel, head, orphans, sections, tables.length ? null : h("p", { class: "muted" }, t("reports.nothing")));
  }

  _chart(chart, table) {
    const svg = svgNode(chart.svg || "");
    if (!svg) return null;
    // The server draws the chart in the page's language (lang); the category keys in its
    // labels (a policy named after its category) read as the table below names them.
    for (const leaf of svg.querySelectorAll("text, tspan, title")) {
      if (!leaf.children.length) leaf.textContent = categoryKeysIn(leaf.textContent);
    }
    const figure = h("figure", { class: "chart", "data-kind": chart.kind || "", "data-table": chart.table || "" }, svg);
    if (table) {
      svg.addEventListener("click", (ev) => {
        const mark = ev.target.closest && ev.target.closest("[data-series]");
        if (mark) this._drillMark(table, chart, mark);
      });
      for (const mark of svg.querySelectorAll("[data-series]")) {
        if (this._markCell(table, chart, mark)) mark.classList.add("drillable");
      }
    }
    return figure;
  }

  _table(table, fmt) {
    const all = table.columns || [];
    const rows = table.rows || [];
    // The first column is the row's x (its value: the row's data-x, and a drill's `by`).
    // When a "name" column follows it (an agent id and the agent's name, a weekday's key
    // and its name), the name heads the row and the key is not shown.
    const x = all.length ? all[0].key : null;
    const columns = all.length > 1 && all[1].key === "name" ? all.slice(1) : all;
    const head = columns.length ? columns[0] : null;
    const row = (r, total) => h("tr", { dataset: x !== null && !total ? { x: String(r[x] ?? "") } : { total: "" } },
      columns.map((c, i) => {
        const value = r[c.key];
        const attrs = { "data-key": c.key, "data-value": value === null || value === undefined ? "" : String(value),
          class: NUMERIC.has(c.type) ? "num" : null };
        const spec = !total && this._spec(table, c.key);
        const named = !total && c.key === "name" && NAMED_BY[x];
        const enumText = !total && c.type === "text" && value && VALUE_LABELS[c.key];
        let content = i === 0 && total ? t("reports.total") : named ? named(r[x], value)
          : enumText ? enumText(value) : fmt.cell(c.type, value);
        if (c.type === "id" && value != null) content = this._ticketLink(value, `#${value}`);
        else if (spec && typeof value === "number" && value > 0) {
          const what = head && head !== c ? ` · ${fmt.cell(head.type, r[head.key])}` : "";
          content = h("button", { type: "button", class: "drill", title: t("reports.tickets_of", { what: c.label }),
            onclick: () => this.drill(this._drillQuery(spec, r), `${c.label}${what}`) }, content);
        }
        return i === 0 ? h("th", { scope: "row", ...attrs }, content) : h("td", attrs, content);
      }));
    const body = rows.length ? rows.map((r) => row(r, false))
      : h("tr", {}, h("td", { colspan: String(Math.max(1, columns.length)), class: "muted" }, t("reports.no_data")));
    return h("div", { class: "table-wrap" }, h("table", { "data-table": table.id },
      h("caption", {}, table.title || table.id),
      h("thead", {}, h("tr", {}, columns.map((c) => h("th", { scope: "col", "data-key": c.key,
        class: NUMERIC.has(c.type) ? "num" : null }, c.label || c.key)))),
      h("tbody", {}, body),
      table.totals ? h("tfoot", {}, row(table.totals, true)) : null),
    table.note ? h("p", { class: "muted note" }, fmt.text(table.note)) : null);
  }

  // -- drill-down -----------------------------------------------------------------------

  // What opens the tickets behind column `key` of `table` (docs/http.md, "Reports"): the
  // table's drill object — every key but `by` is a parameter as it stands, and `by` names
  // the column whose value in the row is set as the parameter of that name.
  _spec(table, key) {
    const given = (table.drill || {})[key];
    if (given && given.metric) return given;
    const column = (table.columns || []).find((c) => c.key === key);
    if (!column || !column.drill) return null;
    const first = (table.columns || [])[0];
    return { metric: typeof column.drill === "string" ? column.drill : column.drill.metric, by: first && first.key };
  }

  _drillQuery(spec, row) {
    const q = this.params();
    for (const [key, value] of Object.entries(spec)) if (key !== "by") q.set(key, String(value));
    if (spec.by && row) {
      const value = row[spec.by];
      q.set(spec.by, value === null || value === undefined ? "none" : String(value)); // "none": not set
    }
    return q;
  }

  // The cell a chart's mark stands for: its column (the series; a heatmap's x) and its row
  // (the one whose x column holds the mark's data-x; a heatmap's data-y).
  _markCell(table, chart, mark) {
    const heat = mark.hasAttribute("data-y");
    const key = heat ? mark.getAttribute("data-x") : mark.getAttribute("data-series");
    const at = heat ? mark.getAttribute("data-y") : mark.getAttribute("data-x");
    const row = (table.rows || []).find((r) => String(r[chart.x] ?? "") === at);
    const spec = row ? this._spec(table, key) : null;
    return spec ? { spec, row } : null;
  }

  _drillMark(table, chart, mark) {
    const cell = this._markCell(table, chart, mark);
    if (!cell) return;
    const title = mark.querySelector("title");
    this.drill(this._drillQuery(cell.spec, cell.row), title ? title.textContent : mark.getAttribute("data-x"));
  }

  _ticketLink(id, text) {
    if (!this.ctx.open) return text;
    return h("a", { href: `/console/#${id}`, onclick: (ev) => { ev.preventDefault(); this.ctx.open(Number(id)); } }, text);
  }

  /** Open the tickets of `query` (filters + metric + what the number stands for). */
  async drill(query, title) {
    const fmt = formatter(this.lang, this.tz.value);
    const body = h("tbody", {});
    const more = h("button", { type: "button", class: "hidden" }, t("reports.more"));
    const status = h("p", { class: "muted", role: "status" }, t("reports.loading"));
    const heading = h("h2", { tabindex: "-1" }, t("reports.tickets_of", { what: title }));
    replace(this.drillEl,
      h("header", { class: "report-head" }, heading, h("span", { class: "spacer" }),
        h("a", { class: "button csv", href: `/api/reports/tickets.csv?${this.withLang(query)}`, download: "tickets.csv" },
          t("reports.csv")),
        h("button", { type: "button", onclick: () => this.drillEl.classList.add("hidden") }, t("reports.close"))),
      h("div", { class: "table-wrap" }, h("table", {},
        h("caption", {}, t("reports.tickets_of", { what: title })),
        h("thead", {}, h("tr", {}, ["ticket", "subject", "company", "status", "created", "first_response", "resolution",
          "sla", "rating", "assignee"].map((k) => h("th", { scope: "col" }, t(`reports.col.${k}`))))),
        body)),
      status, more);
    this.drillEl.classList.remove("hidden");
    heading.focus();
    const page = async (cursor) => {
      const q = new URLSearchParams(query);
      if (cursor) q.set("cursor", cursor);
      let data;
      try {
        data = await this.api("GET", `/api/reports/tickets?${q}`);
      } catch (err) {
        status.className = "error";
        status.textContent = errorText(err);
        return;
      }
      for (const tk of data.tickets) body.append(this._ticketRow(tk, fmt));
      status.textContent = body.children.length ? t("reports.count", { n: fmt.cell("int", body.children.length) })
        : t("reports.no_tickets");
      more.classList.toggle("hidden", !data.next);
      more.onclick = () => page(data.next);
    };
    await page(null);
  }

  _ticketRow(tk, fmt) {
    const both = (wall, business) => wall == null ? "—"
      : business == null || business === wall ? fmt.duration(wall)
        : `${fmt.duration(wall)} (${t("reports.business", { time: fmt.duration(business) })})`;
    const outcomes = ["first_response", "next_response", "resolution"]
      .filter((k) => tk[`sla_${k}`]).map((k) => `${slaTargetLabel(k)}: ${slaOutcome(tk[`sla_${k}`])}`).join(", ");
    const sla = [tk.sla_policy ? policyLabel(nameOf(tk.sla_policy)) : "", outcomes].filter(Boolean).join(" — ");
    return h("tr", { dataset: { ticketId: String(tk.id) } },
      h("th", { scope: "row" }, this._ticketLink(tk.id, `#${tk.id}`)),
      h("td", {}, tk.subject || t("reports.no_subject")),
      h("td", {}, nameOf(tk.company)),
      h("td", {}, tk.status ? statusLabel(tk.status) : "—"),
      h("td", {}, fmt.cell("datetime", tk.created_at)),
      h("td", { class: "num" }, both(tk.first_response_wall_s, tk.first_response_business_s)),
      h("td", { class: "num" }, both(tk.resolution_wall_s, tk.resolution_business_s)),
      h("td", {}, sla || "—"),
      h("td", {}, tk.rating ? ratingLabel(tk.rating) : "—"),
      h("td", {}, nameOf(tk.assignee)));
  }
}

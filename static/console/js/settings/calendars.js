// The "Calendars" settings screen: business calendars the SLA policies measure time on
// (GET/PUT/DELETE /api/sla/calendars, docs/http.md "SLA"). A calendar is opening periods
// per weekday in one IANA time zone, minus a country's public holidays (and region), minus
// custom closed days, with special days (other hours, or closed) and the hours of weekend
// days a country declares working days. The server checks everything; a refusal marks the
// control it names (`definition.weekly.0` is Monday's row, `definition.timezone`...).

import { api } from "../api.js";
import { h, replace } from "/static/shared/dom.js";
import { fmtDateTime, language, register, t } from "/static/shared/i18n.js";
import { errorText } from "/static/shared/labels.js";
import catalog from "../../i18n/calendars.js";
import { submitting } from "./form.js";

register(catalog);

const WEEKDAYS = [0, 1, 2, 3, 4, 5, 6];

// Monday is 0, as the server counts; 2024-01-01 was a Monday.
function weekdayName(day) {
  return new Intl.DateTimeFormat(language(), { weekday: "long", timeZone: "UTC" }).format(Date.UTC(2024, 0, 1 + day));
}

function countryName(country) {
  try {
    return new Intl.DisplayNames([language()], { type: "region" }).of(country.code) || country.name;
  } catch {
    return country.name;
  }
}

function timeZones() {
  const zones = typeof Intl.supportedValuesOf === "function" ? Intl.supportedValuesOf("timeZone") : [];
  return zones.includes("UTC") ? zones : ["UTC", ...zones];
}

// A time input cannot say 24:00; its 00:00 as the end of a period means "until midnight".
const endOf = (value) => (value === "00:00" ? "24:00" : value);
const shownEnd = (value) => (value === "24:00" ? "00:00" : value);

export class CalendarsScreen {
  constructor(ctx) {
    this.ctx = ctx;
    this.selected = null; // the key being edited; null: a new calendar
    // One element for the screen's life: a render started while another is under way
    // draws into the same element, never into one already replaced.
    this.el = h("section", { class: "settings-calendars", "data-testid": "settings-calendars" });
  }

  get manage() {
    return this.ctx.me.can.manage;
  }

  async render() {
    const [{ calendars }, { countries }] = await Promise.all([
      api("GET", "/api/sla/calendars"), api("GET", "/api/sla/holiday-countries")]);
    this.calendars = calendars;
    this.countries = countries;
    this._draw();
    return this.el;
  }

  async _reload(key) {
    this.calendars = (await api("GET", "/api/sla/calendars")).calendars;
    this.selected = key;
    this._draw();
  }

  _draw() {
    const current = this.calendars.find((c) => c.key === this.selected) || null;
    replace(this.el,
      h("h2", {}, t("calendars.title")),
      h("p", { class: "muted" }, t("calendars.help")),
      this._list(),
      h("button", { type: "button", "data-testid": "calendar-new", disabled: !this.manage,
        onclick: () => { this.selected = null; this._draw(); } }, t("calendars.new")),
      this._editor(current),
      current ? this._previewBox(current) : null);
  }

  _list() {
    return h("table", { "data-testid": "calendar-list" },
      h("tr", {}, h("th", {}, t("calendars.key")), h("th", {}, t("calendars.name")),
        h("th", {}, t("calendars.timezone")), h("th", {}, t("calendars.holidays")), h("th", {}, "")),
      this.calendars.map((c) => h("tr", { "data-key": c.key, class: c.key === this.selected ? "selected" : null },
        h("td", {}, c.key), h("td", {}, c.name), h("td", {}, c.definition.timezone),
        h("td", {}, c.definition.holidays ? this._countryLabel(c.definition.holidays, c.definition.subdivision) : "—"),
        h("td", {}, h("button", { type: "button", "data-testid": `calendar-open-${c.key}`,
          onclick: () => { this.selected = c.key; this._draw(); } }, t("calendars.open"))))));
  }

  _countryLabel(code, region) {
    const country = this.countries.find((c) => c.code === code);
    const name = country ? countryName(country) : code;
    return region ? `${name} (${region})` : name;
  }

  // -- the editor ------------------------------------------------------------------------

  _editor(current) {
    const def = current ? current.definition : { timezone: "UTC", weekly: {}, holidays: null, subdivision: null,
      closed_dates: [], special_days: {}, weekend_workdays: [] };
    const off = !this.manage;
    const zones = h("datalist", { id: "calendar-zones" }, timeZones().map((z) => h("option", { value: z })));
    this.form = h("form", { class: "calendar-form", "data-testid": "calendar-form", novalidate: true });
    const key = h("input", { name: "key", value: current ? current.key : "", required: true, disabled: off || !!current,
      "aria-label": t("calendars.key"), placeholder: "berlin-office" });
    const name = h("input", { name: "name", value: current ? current.name : "", disabled: off,
      "aria-label": t("calendars.name") });
    const zone = h("input", { name: "definition.timezone", list: "calendar-zones", value: def.timezone || "",
      disabled: off, "aria-label": t("calendars.timezone"), autocomplete: "off" });
    const country = h("select", { name: "definition.holidays", disabled: off, "aria-label": t("calendars.holidays") },
      h("option", { value: "" }, t("calendars.no_holidays")),
      this.countries.map((c) => h("option", { value: c.code }, countryName(c)))
        .sort((a, b) => a.textContent.localeCompare(b.textContent, language())));
    country.value = def.holidays || "";
    const region = h("select", { name: "definition.subdivision", disabled: off, "aria-label": t("calendars.region") });
    const fillRegions = (value) => {
      const found = this.countries.find((c) => c.code === country.value);
      replace(region, h("option", { value: "" }, t("calendars.whole_country")),
        (found ? found.subdivisions : []).map((s) => h("option", { value: s }, s)));
      region.value = value || "";
    };
    fillRegions(def.subdivision);
    country.addEventListener("change", () => fillRegions(""));
    this.weekRows = WEEKDAYS.map((d) => this._dayRow(`definition.weekly.${d}`, weekdayName(d),
      def.weekly[String(d)] || [], `calendar-day-${d}`));
    this.workdayRow = this._dayRow("definition.weekend_workdays", t("calendars.weekend_workdays"),
      def.weekend_workdays || [], "calendar-weekend-workdays");
    this.closedList = h("div", { class: "calendar-dates", "data-testid": "calendar-closed" });
    for (const day of def.closed_dates || []) this._closedRow(day);
    this.specialList = h("div", { class: "calendar-dates", "data-testid": "calendar-special" });
    for (const [day, periods] of Object.entries(def.special_days || {})) this._specialRow(day, periods);
    const save = h("button", { type: "submit", disabled: off, "data-testid": "calendar-save" }, t("calendars.save"));
    const del = current ? h("button", { type: "button", disabled: off, class: "danger", "data-testid": "calendar-delete",
      onclick: () => this._delete(current.key) }, t("calendars.delete")) : null;
    this.form.addEventListener("submit", (e) => { e.preventDefault(); this._save(key.value.trim(), name.value); });
    return h("div", {}, zones, h("h3", {}, current ? t("calendars.edit", { name: current.name }) : t("calendars.new")),
      append(this.form,
        h("label", {}, t("calendars.key"), " ", key),
        h("label", {}, t("calendars.name"), " ", name),
        h("label", {}, t("calendars.timezone"), " ", zone),
        h("fieldset", {}, h("legend", {}, t("calendars.week")), this.weekRows),
        h("fieldset", {}, h("legend", {}, t("calendars.public_holidays")),
          h("label", {}, t("calendars.holidays"), " ", country), " ",
          h("label", {}, t("calendars.region"), " ", region),
          h("p", { class: "muted" }, t("calendars.weekend_workdays_help")), this.workdayRow),
        h("fieldset", {}, h("legend", {}, t("calendars.closed_days")), this.closedList,
          h("button", { type: "button", disabled: off, "data-testid": "calendar-add-closed",
            onclick: () => this._closedRow("") }, t("calendars.add_closed"))),
        h("fieldset", {}, h("legend", {}, t("calendars.special_days")),
          h("p", { class: "muted" }, t("calendars.special_help")), this.specialList,
          h("button", { type: "button", disabled: off, "data-testid": "calendar-add-special",
            onclick: () => this._specialRow("", []) }, t("calendars.add_special"))),
        h("div", { class: "actions" }, save, " ", del)));
  }

  // One day's periods: from–to pairs, each removable, and "add a period"; none: closed.
  _dayRow(field, label, periods, testid) {
    const off = !this.manage;
    const list = h("span", { class: "periods" });
    const closed = h("span", { class: "muted closed-note" }, t("calendars.closed"));
    const sync = () => { closed.hidden = list.children.length > 0; };
    const addPeriod = (from, to) => {
      const start = h("input", { type: "time", value: from, disabled: off, "aria-label": t("calendars.from", { day: label }),
        class: "period-from" });
      const end = h("input", { type: "time", value: shownEnd(to), disabled: off, "aria-label": t("calendars.to", { day: label }),
        class: "period-to" });
      const period = h("span", { class: "period" }, start, "–", end, h("button", { type: "button", disabled: off,
        "aria-label": t("calendars.remove_period", { day: label }),
        onclick: () => { period.remove(); sync(); } }, "×"), " ");
      list.append(period);
      sync();
    };
    for (const [from, to] of periods) addPeriod(from, to);
    sync();
    const row = h("div", { class: "calendar-day", "data-field": field || null, "data-testid": testid, tabindex: "-1",
      role: "group", "aria-label": label },
      h("span", { class: "day-name" }, label), " ", list, closed, " ",
      h("button", { type: "button", disabled: off, "data-testid": `${testid}-add`,
        onclick: () => addPeriod("09:00", "18:00") }, t("calendars.add_period")));
    row.periods = () => [...list.querySelectorAll(".period")].map((p) => [
      p.querySelector(".period-from").value, endOf(p.querySelector(".period-to").value)]);
    return row;
  }

  _closedRow(day) {
    const off = !this.manage;
    const date = h("input", { type: "date", value: day, disabled: off, "aria-label": t("calendars.closed_day") });
    const row = h("div", { class: "calendar-date" }, date, " ", h("button", { type: "button", disabled: off,
      onclick: () => { row.remove(); this._renumber(); } }, t("calendars.remove")));
    this.closedList.append(row);
    this._renumber();
  }

  _specialRow(day, periods) {
    const off = !this.manage;
    const date = h("input", { type: "date", value: day, disabled: off, "aria-label": t("calendars.special_day") });
    const hoursRow = this._dayRow(null, t("calendars.special_day"), periods, "calendar-special-hours");
    const row = h("div", { class: "calendar-date" }, date, " ", hoursRow, " ", h("button", { type: "button", disabled: off,
      onclick: () => { row.remove(); this._renumber(); } }, t("calendars.remove")));
    row.date = date;
    row.hours = hoursRow;
    this.specialList.append(row);
    this._renumber();
  }

  // The server names a custom day by its place in the list (definition.closed_dates.2).
  _renumber() {
    [...this.closedList.children].forEach((row, i) => row.firstChild.setAttribute("data-field", `definition.closed_dates.${i}`));
    [...this.specialList.children].forEach((row, i) => row.setAttribute("data-field", `definition.special_days.${i}`));
  }

  _definition() {
    const weekly = {};
    this.weekRows.forEach((row, d) => {
      const periods = row.periods();
      if (periods.length) weekly[String(d)] = periods;
    });
    const special = {};
    for (const row of this.specialList.children) special[row.date.value] = row.hours.periods();
    const country = this.form.querySelector('[name="definition.holidays"]').value;
    const region = this.form.querySelector('[name="definition.subdivision"]').value;
    return {
      timezone: this.form.querySelector('[name="definition.timezone"]').value.trim(),
      weekly,
      holidays: country || null,
      subdivision: country && region ? region : null,
      closed_dates: [...this.closedList.querySelectorAll("input")].map((i) => i.value),
      special_days: special,
      weekend_workdays: this.workdayRow.periods(),
    };
  }

  async _save(key, name) {
    const saved = await submitting(this.form, () => {
      if (!key) throw Object.assign(new Error(t("calendars.key_needed")), { field: "key" });
      return api("PUT", `/api/sla/calendars/${encodeURIComponent(key)}`, { name, definition: this._definition() });
    });
    if (!saved) return;
    this.ctx.toast(t("calendars.saved", { name: saved.calendar.name }));
    await this._reload(saved.calendar.key);
  }

  async _delete(key) {
    try {
      await api("DELETE", `/api/sla/calendars/${encodeURIComponent(key)}`);
    } catch (err) {
      this.ctx.toast(errorText(err), true);
      return;
    }
    this.ctx.toast(t("calendars.deleted", { key }));
    await this._reload(null);
  }

  // -- the preview -------------------------------------------------------------------------

  // Which days are open, closed and why, from today (or a chosen date) for six weeks.
  _previewBox(current) {
    const from = h("input", { type: "date", "data-testid": "calendar-preview-from", "aria-label": t("calendars.preview_from") });
    const table = h("div", {}, h("p", { class: "muted" }, t("shell.loading")));
    const load = () => {
      const query = from.value ? `from=${from.value}&days=42` : "days=42";
      api("GET", `/api/sla/calendars/${encodeURIComponent(current.key)}/preview?${query}`).then(({ days }) => {
        replace(table, h("table", {}, days.map((d) => h("tr", { "data-date": d.date, class: d.periods.length ? "open" : "closed" },
          h("td", {}, fmtDateTime(`${d.date}T12:00:00Z`, { weekday: "short", day: "numeric", month: "short", timeZone: "UTC" })),
          h("td", {}, d.periods.length ? d.periods.map(([a, b]) => `${a}–${b}`).join(", ") : t("calendars.closed")),
          h("td", { class: "muted" }, this._reason(d))))));
      }, (err) => replace(table, h("div", { class: "error" }, errorText(err))));
    };
    from.addEventListener("change", load);
    load();
    return h("div", { class: "calendar-preview", "data-testid": "calendar-preview" },
      h("h3", {}, t("calendars.preview", { name: current.name })),
      h("label", {}, t("calendars.preview_from"), " ", from), table, this._closedThisYear(current));
  }

  // The days this year that close although the week would open them: public holidays by
  // name, custom closed days, special days without hours.
  _closedThisYear(current) {
    const year = new Date().getFullYear();
    const days = (Date.UTC(year + 1, 0, 1) - Date.UTC(year, 0, 1)) / 86400000;
    const box = h("div", { "data-testid": "calendar-closed-year" }, h("h4", {}, t("calendars.closed_this_year", { year })));
    api("GET", `/api/sla/calendars/${encodeURIComponent(current.key)}/preview?from=${year}-01-01&days=${days}`).then(
      ({ days: all }) => {
        const closed = all.filter((d) => !d.periods.length && d.reason !== "weekly");
        box.append(closed.length ? h("ul", {}, closed.map((d) => h("li", { "data-date": d.date },
          fmtDateTime(`${d.date}T12:00:00Z`, { weekday: "short", day: "numeric", month: "long", timeZone: "UTC" }),
          " — ", this._reason(d)))) : h("p", { class: "muted" }, t("calendars.none_closed")));
      }, (err) => box.append(h("div", { class: "error" }, errorText(err))));
    return box;
  }

  _reason(day) {
    if (day.reason === "holiday") return day.holiday || t("calendars.reason.holiday");
    if (day.reason === "weekly") return "";
    return t(`calendars.reason.${day.reason}`);
  }
}

function append(el, ...kids) {
  for (const kid of kids.flat(Infinity)) if (kid != null && kid !== false) el.append(kid);
  return el;
}

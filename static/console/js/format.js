// Times, durations and a debounce for the console's screens (DOM building: /static/shared/dom.js).
// Times and dates are in the console's language (/static/shared/i18n.js: set at the start,
// before anything is drawn).

import { fmtDateTime, fmtTime, register, t } from "/static/shared/i18n.js";
import catalog from "../i18n/shell.js";

register(catalog);

export function time(iso) {
  return fmtTime(iso);
}

export function dateTime(iso) {
  return fmtDateTime(iso, { year: "numeric", month: "short", day: "numeric", hour: "2-digit", minute: "2-digit" });
}

// "12m", "3h 05m", "2d 4h" (in the language's own units): compact enough for a queue row.
export function duration(ms) {
  const minutes = Math.floor(Math.abs(ms) / 60000);
  if (minutes < 60) return t("shell.minutes", { m: minutes });
  const hours = Math.floor(minutes / 60);
  if (hours < 48) return t("shell.hours", { h: hours, m: String(minutes % 60).padStart(2, "0") });
  return t("shell.days", { d: Math.floor(hours / 24), h: hours % 24 });
}

export function debounce(fn, ms) {
  let timer = null;
  return (...args) => {
    clearTimeout(timer);
    timer = setTimeout(() => fn(...args), ms);
  };
}

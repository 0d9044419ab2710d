// System alerts for the company (docs/http.md, "System alerts"): newest first, live through
// the socket's alert frame. Addresses in an alert's text are links (http/https only).

import { h } from "/static/shared/dom.js";
import { register, t } from "/static/shared/i18n.js";
import catalog from "../i18n/portal.js";
import { $, api, fill, show } from "./state.js";
import { linkified, stamp } from "./format.js";

register(catalog);

const TYPES = {
  information: "portal.alerts.information",
  complaint: "portal.alerts.complaint",
  suspicious_activity: "portal.alerts.suspicious_activity",
};

// An alert's files are served by their own endpoint (the session's cookie, sandboxed).
function alertItem(a) {
  const files = a.files.map((f) => h("a", { href: f.url, target: "_blank", rel: "noopener" }, f.filename));
  return h("li", { "data-alert": String(a.id) },
    h("span", { class: "badge " + a.type }, (TYPES[a.type] ? t(TYPES[a.type]) : a.type)),
    h("strong", { class: "grow" }, a.title),
    stamp(a.created_at),
    h("p", { class: "alert-body" }, linkified(a.body)),
    ...files);
}

export async function loadAlerts() {
  const { alerts } = await api("GET", "/api/alerts");
  fill("alerts", "alerts-empty", alerts.map(alertItem));
}

export function alertArrived(a) {
  if (document.querySelector(`#alerts [data-alert="${a.id}"]`)) return;
  $("alerts").prepend(alertItem(a));
  show("alerts-empty", false);
}

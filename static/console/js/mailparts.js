// Pieces the mail pages share (Sent mail: mailbox.js; Spam and received mail: spam.js):
// a time stamp, the status filter, a mail's headers, and the tabs of an opened mail.

import { h, replace } from "/static/shared/dom.js";
import { fmtDateTime, register, t } from "/static/shared/i18n.js";
import catalog from "../i18n/mail.js";

register(catalog);

export function when(iso) {
  return iso ? fmtDateTime(iso) : "";
}

// A select of `statuses` ("every status" first, each named by `label`) set to `value`; `onChange(status)`.
export function statusFilter(statuses, label, value, testId, onChange) {
  const filter = h("select", { "aria-label": t("mail.status"), "data-testid": testId },
    h("option", { value: "" }, t("mail.every_status")), statuses.map((s) => h("option", { value: s }, label(s))));
  filter.value = value;
  filter.addEventListener("change", () => onChange(filter.value));
  return filter;
}

export function headersTable(headers, testId) {
  return h("table", { "data-testid": testId },
    headers.map((hd) => h("tr", {}, h("th", {}, hd.name), h("td", {}, hd.value))));
}

// Tabs over `panes` ({name: element}; the tab reads t("mail.pane.<name>")); returns the tab bar, the pane
// area and pick(name).
export function tabbed(panes) {
  const tabs = h("div", { class: "tabs", role: "tablist" });
  const body = h("div", {});
  const pick = (name) => {
    for (const b of tabs.children) b.classList.toggle("active", b.dataset.pane === name);
    replace(body, panes[name]);
  };
  for (const name of Object.keys(panes)) {
    tabs.append(h("button", { type: "button", role: "tab", dataset: { pane: name }, onclick: () => pick(name) }, t(`mail.pane.${name}`)));
  }
  return { tabs, body, pick };
}

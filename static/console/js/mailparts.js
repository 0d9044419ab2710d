// Pieces the mail pages share (Sent mail: mailbox.js; Spam and received mail: spam.js):
// a time stamp, the status filter, a mail's headers, and the tabs of an opened mail.

import { h, replace } from "/static/shared/dom.js";

export function when(iso) {
  return iso ? new Date(iso).toLocaleString() : "";
}

// A select of `statuses` ("every status" first) set to `value`; `onChange(status)`.
export function statusFilter(statuses, value, testId, onChange) {
  const filter = h("select", { "aria-label": "Status", "data-testid": testId },
    h("option", { value: "" }, "every status"), statuses.map((s) => h("option", { value: s }, s)));
  filter.value = value;
  filter.addEventListener("change", () => onChange(filter.value));
  return filter;
}

export function headersTable(headers, testId) {
  return h("table", { "data-testid": testId },
    headers.map((hd) => h("tr", {}, h("th", {}, hd.name), h("td", {}, hd.value))));
}

// Tabs over `panes` ({name: element}); returns the tab bar, the pane area and pick(name).
export function tabbed(panes) {
  const tabs = h("div", { class: "tabs", role: "tablist" });
  const body = h("div", {});
  const pick = (name) => {
    for (const b of tabs.children) b.classList.toggle("active", b.dataset.pane === name);
    replace(body, panes[name]);
  };
  for (const name of Object.keys(panes)) {
    tabs.append(h("button", { type: "button", role: "tab", dataset: { pane: name }, onclick: () => pick(name) }, name));
  }
  return { tabs, body, pick };
}

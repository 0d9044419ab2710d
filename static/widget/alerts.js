// A company's system alerts (README.md): a bell counting those not seen, a sheet listing them.

import { h, replace } from "./dom.js";
import { icon, linkified, fileSize } from "./chat.js";

/** seen.get() / seen.set(id): the newest alert id looked at. Returns {el, add(alert)}. */
export function alertsButton({ t, lang, api, token, main, seen }) {
  const list = [];
  let sheet = null;
  const when = new Intl.DateTimeFormat(lang, { dateStyle: "medium", timeStyle: "short" });
  const count = h("span", { class: "count" });
  const el = h("button", { type: "button", class: "icon-btn bell", title: t("alerts"), hidden: true,
    onclick: () => (sheet && sheet.isConnected ? close() : open()) }, icon("bell"), count);

  function add(a) {
    if (list.some((x) => x.id === a.id)) return;
    list.push(a);
    list.sort((x, y) => y.id - x.id);
    if (sheet) seen.set(list[0].id); // on screen: seen
    const n = list.filter((x) => x.id > seen.get()).length;
    el.hidden = false;
    count.textContent = n || "";
    el.setAttribute("aria-label", t("alerts") + (n ? " (" + n + ")" : ""));
    if (sheet) render();
  }

  function render() {
    replace(sheet.firstChild, h("h2", {}, t("alerts")),
      h("ol", {}, list.map((a) => h("li", { class: a.type, "data-alert": a.id },
        h("span", { class: "kind" }, t("al_" + a.type)), h("span", { class: "size" }, when.format(new Date(a.created_at))),
        h("h3", {}, a.title), h("p", {}, linkified(a.body)),
        a.files.map((f) => h("button", { type: "button", class: "file", onclick: () => download(f) },
          icon("file"), h("span", {}, f.filename), h("span", { class: "size" }, fileSize(f.size))))))),
      h("button", { type: "button", onclick: close }, t("close")));
  }

  function open() {
    sheet = h("div", { class: "overlay" }, h("div", { class: "sheet alerts" }));
    main.append(sheet);
    seen.set(list[0].id);
    count.textContent = "";
    el.setAttribute("aria-label", t("alerts"));
    render();
    sheet.querySelector("button:last-child").focus();
  }

  function close() {
    sheet.remove();
    sheet = null;
    el.focus();
  }

  // The token never goes into a URL: the file is fetched, then saved from a blob: URL.
  async function download(f) {
    if (!/^\/api\/alert-files\/\d+$/.test(f.url)) return;
    const r = await fetch(f.url, { headers: { Authorization: "Bearer " + token() }, credentials: "omit" });
    if (!r.ok) return;
    const url = URL.createObjectURL(await r.blob());
    h("a", { href: url, download: f.filename }).click();
    setTimeout(() => URL.revokeObjectURL(url), 60000);
  }

  api("GET", "/api/alerts?limit=20").then((r) => r.alerts.forEach(add), () => {});
  return { el, add };
}

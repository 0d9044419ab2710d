// The DOM, never parsed from HTML: what people type only becomes text, so it cannot run.

const PROPS = new Set(["value", "checked", "disabled", "hidden", "required", "selected", "multiple", "type", "name"]);

export function h(tag, props, ...kids) {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(props || {})) {
    if (value == null || value === false) continue;
    if (key.startsWith("on")) el.addEventListener(key.slice(2), value);
    else if (key === "class") el.className = value;
    else if (PROPS.has(key)) el[key] = value;
    else el.setAttribute(key, value === true ? "" : String(value));
  }
  append(el, kids);
  return el;
}

export function append(el, kids) {
  for (const kid of kids.flat(Infinity)) {
    if (kid != null && kid !== false) el.append(kid instanceof Node ? kid : String(kid));
  }
  return el;
}

export function replace(el, ...kids) {
  el.replaceChildren();
  return append(el, kids);
}

const ICONS = {
  close: "M6 6l12 12M18 6L6 18",
  send: "M4 12l16-8-6 16-2-7z",
  attach: "M8 12.5l6.5-6.5a3 3 0 0 1 4.2 4.2l-8 8a5 5 0 0 1-7-7l7.5-7.5",
  end: "M9 4H5v16h4M16 8l4 4-4 4M20 12H10",
  file: "M6 3h8l4 4v14H6zM14 3v4h4",
  bell: "M6 16v-5a6 6 0 0 1 12 0v5l2 2H4zM10 20a2 2 0 0 0 4 0",
};

export function icon(name) {
  const ns = "http://www.w3.org/2000/svg";
  const svg = document.createElementNS(ns, "svg");
  svg.setAttribute("viewBox", "0 0 24 24");
  svg.setAttribute("aria-hidden", "true");
  svg.setAttribute("class", "icon");
  const path = svg.appendChild(document.createElementNS(ns, "path"));
  path.setAttribute("d", ICONS[name]);
  return svg;
}

const URL_RE = /\bhttps?:\/\/[^\s<>"']+/g;

/** Message text with its web addresses as links (only http and https ever become one). */
export function linkified(text) {
  const parts = [];
  let at = 0;
  for (const m of text.matchAll(URL_RE)) {
    const url = m[0].replace(/[.,;:!?)\]]+$/, "");
    parts.push(text.slice(at, m.index), h("a", { href: url, target: "_blank", rel: "noopener noreferrer" }, url));
    at = m.index + url.length;
  }
  parts.push(text.slice(at));
  return parts;
}

export function fileSize(bytes) {
  if (bytes >= 1048576) return (bytes / 1048576).toFixed(bytes < 10485760 ? 1 : 0) + " MB";
  return Math.max(1, Math.round(bytes / 1024)) + " KB";
}

// DOM building, never from HTML: what people type only becomes text, so it cannot run.

const PROPS = new Set(["value", "checked", "disabled", "hidden", "required", "selected", "multiple", "type", "name"]);

export function h(tag, props, ...kids) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(props || {})) {
    if (v == null || v === false) continue;
    if (k.startsWith("on")) el.addEventListener(k.slice(2), v);
    else if (k === "class") el.className = v;
    else if (k === "dataset") Object.assign(el.dataset, v);
    else if (PROPS.has(k)) el[k] = v;
    else el.setAttribute(k, v === true ? "" : String(v));
  }
  return append(el, kids);
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

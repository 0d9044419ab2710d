// "A secret was masked": the marker on a message whose body the server masked before it
// stored it (docs/protocol.md, "Masked secrets"). Staff see that a key or password was
// given and of which kind — never the value, which the server did not keep.

import { h } from "/static/shared/dom.js";
import { register, t } from "/static/shared/i18n.js";
import catalog from "../i18n/tools.js";

register(catalog);

// The kinds of chat/secrets_mask.py (KINDS), as people name them: catalog keys masking.kind.*.
function kindLabel(kind) {
  const key = `masking.kind.${kind}`;
  const text = t(key);
  return text === key ? kind.replace(/_/g, " ") : text;
}

export function maskedLabel(kinds) {
  return kinds.map(kindLabel).join(", ");
}

// The marker for an event's data, or null when nothing was masked.
export function maskedMarker(data) {
  const kinds = (data && Array.isArray(data.masked) && data.masked) || [];
  if (!kinds.length) return null;
  const text = t(kinds.length > 1 ? "masking.many" : "masking.one", { kinds: maskedLabel(kinds) });
  return h("div", { class: "masked", "data-testid": "masked", title: t("masking.title") },
    `🔒 ${text}`);
}

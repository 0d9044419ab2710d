// "Presets": the three source desks (360, FFC, SKAI) an admin applies in one step
// (GET /api/sla/presets, POST /api/sla/presets/{name}/apply; docs/console.md). Each card
// says what the preset sets; "Apply" asks to confirm, naming what will change (calendars,
// categories and rules of the same keys replaced, everything else kept), then shows what
// was created and updated.

import { api } from "../api.js";
import { h, replace } from "/static/shared/dom.js";
import { register, t } from "/static/shared/i18n.js";
import { categoryLabel, errorText } from "/static/shared/labels.js";
import catalog from "../../i18n/rules.js";

register(catalog);

function settingText(key, value) {
  return t("presets.setting", { name: t(`presets.key.${key}`), value: String(value) });
}

function changeList(changes) {
  const items = [];
  if (changes.calendars.length) items.push(t("presets.calendars", { keys: changes.calendars.join(", ") }));
  if (changes.categories.length) {
    items.push(t("presets.categories", { count: String(changes.categories.length),
      names: changes.categories.map((k) => categoryLabel(k)).join(", ") }));
  }
  if (changes.policies.length) {
    items.push(t("presets.policies", { count: String(changes.policies.length),
      names: changes.policies.map((p) => p.name).join(", ") }));
  }
  for (const [key, value] of Object.entries(changes.settings)) items.push(settingText(key, value));
  return h("ul", {}, items.map((text) => h("li", {}, text)));
}

function resultText(applied) {
  const part = (kind) => t("presets.result.kind", { kind: t(`presets.kind.${kind}`),
    created: String(applied[kind].created.length), updated: String(applied[kind].updated.length) });
  return [part("calendars"), part("categories"), part("policies")].join("; ");
}

export class PresetsScreen {
  constructor(ctx) {
    this.ctx = ctx;
    this.el = h("div", { class: "presets", "data-testid": "presets" });
  }

  get manage() {
    return this.ctx.me.can.manage;
  }

  async render() {
    const { presets } = await api("GET", "/api/sla/presets");
    replace(this.el, h("h2", {}, t("presets.title")), h("p", { class: "muted" }, t("presets.help")),
      presets.map((p) => this._card(p)));
    return this.el;
  }

  _card(preset) {
    const result = h("p", { "data-testid": `preset-result-${preset.name}`, role: "status" });
    const apply = h("button", { type: "button", class: "primary", disabled: !this.manage,
      "data-testid": `preset-apply-${preset.name}`, onclick: () => this._confirm(preset, result) },
    t("presets.apply", { name: preset.name }));
    return h("section", { class: "preset", "data-testid": `preset-${preset.name}` },
      h("h3", {}, preset.name), h("p", {}, t(`presets.desc.${preset.name}`)),
      h("p", { class: "muted" }, t("presets.sets")), changeList(preset.changes), apply, result);
  }

  _confirm(preset, result) {
    const dialog = h("dialog", { "data-testid": "preset-confirm" });
    const ok = h("button", { type: "button", class: "primary", "data-testid": "preset-confirm-apply" },
      t("presets.apply", { name: preset.name }));
    const cancel = h("button", { type: "button", onclick: () => dialog.close() }, t("presets.cancel"));
    ok.addEventListener("click", async () => {
      ok.disabled = true;
      try {
        const { applied } = await api("POST", `/api/sla/presets/${encodeURIComponent(preset.name)}/apply`);
        result.textContent = t("presets.done", { name: preset.name, what: resultText(applied) });
        this.ctx.toast(t("presets.done", { name: preset.name, what: resultText(applied) }));
      } catch (err) {
        result.textContent = errorText(err);
        this.ctx.toast(errorText(err), true);
      }
      dialog.close();
    });
    dialog.addEventListener("close", () => dialog.remove());
    dialog.append(h("h2", {}, t("presets.confirm_title", { name: preset.name })),
      h("p", {}, t("presets.confirm_text")), changeList(preset.changes),
      h("div", { class: "buttons" }, cancel, ok));
    document.body.append(dialog);
    dialog.showModal();
    ok.focus();
  }
}

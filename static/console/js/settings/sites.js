// "Sites" (issue 19): the widget installations. A support admin creates one, edits its
// name, allowed origins (one per line), default language and company, its widget
// (language policy, pre-chat fields each required / optional / hidden, object kinds,
// the leave-a-message form and its message per language), rotates its identity secret
// (the new one shown once; the old one works until the grace ends) and copies its embed
// snippet. Read-only staff see it all with the controls disabled. Endpoints: docs/http.md
// ("Sites"); a refusal marks the field the server names (./form.js).

import { api } from "../api.js";
import { h, replace } from "/static/shared/dom.js";
import { LANGUAGE_NAMES, LANGUAGES, fmtDateTime, register, t } from "/static/shared/i18n.js";
import { errorText } from "/static/shared/labels.js";
import { clearMarks, markError, submitting } from "./form.js";
import catalog from "../../i18n/sites.js";
import common from "/static/shared/i18n/common.js";

register(catalog);
register(common);

// chat/widget.py: the pre-chat form's fields in the order the widget shows them, the
// modes each may take, the object kinds and the language policies.
const FIELDS = ["name", "email", "category", "severity", "affected_object", "happened_at", "description"];
const MODES = ["required", "optional", "hidden"];
const OBJECT_KINDS = ["site", "device", "vehicle"];

// One origin per line; blank lines are nothing. Returns the lines sent and, for each
// index the server may name (allowed_origins.<i>), the line number it came from.
function originLines(text) {
  const lines = [];
  const numbers = [];
  text.split("\n").forEach((line, n) => {
    if (line.trim()) {
      lines.push(line.trim());
      numbers.push(n + 1);
    }
  });
  return { lines, numbers };
}

async function copy(ctx, text) {
  try {
    await navigator.clipboard.writeText(text);
    ctx.toast(t("sites.copied"));
  } catch (err) {
    ctx.toast(t("sites.copy_failed"), true);
  }
}

function label(text, control) {
  return h("label", { class: "stacked" }, h("span", {}, text), control);
}

export class SitesScreen {
  constructor(ctx) {
    this.ctx = ctx;
    this.chosen = null;
  }

  get manage() {
    return Boolean(this.ctx.me.can && this.ctx.me.can.manage);
  }

  async render() {
    const [sites, orgs] = await Promise.all([api("GET", "/api/sites"), api("GET", "/api/organizations")]);
    this.sites = sites.sites;
    this.snippets = sites.snippets || {};
    this.organizations = orgs.organizations.filter((o) => o.kind === "customer");
    this.el = h("section", { class: "admin", "data-testid": "settings-sites" });
    this._draw();
    return this.el;
  }

  async _reload(chosenId) {
    const sites = await api("GET", "/api/sites");
    this.sites = sites.sites;
    this.snippets = sites.snippets || {};
    if (chosenId !== undefined) this.chosen = chosenId;
    this._draw();
  }

  _draw() {
    const rows = this.sites.map((s) => h("tr", { "data-testid": "site-row" },
      h("td", {}, s.name), h("td", {}, s.allowed_origins.join(", ")), h("td", {}, LANGUAGE_NAMES[s.default_language] || s.default_language),
      h("td", {}, h("button", { type: "button", "aria-label": t("sites.edit_named", { name: s.name }),
        onclick: () => { this.chosen = s.id; this._draw(); } }, t("sites.edit")))));
    const table = this.sites.length
      ? h("table", { "data-testid": "sites-table" },
        h("tr", {}, [t("sites.name"), t("sites.origins"), t("sites.default_language"), ""].map((x) => h("th", {}, x))), rows)
      : h("p", { class: "muted" }, t("sites.none"));
    const site = this.sites.find((s) => s.id === this.chosen);
    replace(this.el, h("h2", {}, t("sites.title")), h("p", { class: "muted" }, t("sites.help")), table,
      site ? this._editor(site) : null, this._create());
    if (site) this._loadWidget(site);
  }

  _languageSelect(name, value) {
    return h("select", { name, "aria-label": t("sites.default_language"), disabled: !this.manage },
      LANGUAGES.map((v) => h("option", { value: v, selected: v === value }, LANGUAGE_NAMES[v])));
  }

  _originsArea(value) {
    return h("textarea", { name: "allowed_origins", rows: 3, "aria-label": t("sites.origins_label"),
      placeholder: "https://shop.example.com", disabled: !this.manage }, value || "");
  }

  // A refusal naming allowed_origins.<i> also says which line it was.
  async _sendOrigins(form, area, send) {
    const { lines, numbers } = originLines(area.value);
    clearMarks(form);
    try {
      return await send(lines);
    } catch (err) {
      markError(form, err);
      const match = /^allowed_origins\.(\d+)$/.exec((err && err.field) || "");
      const line = match ? numbers[Number(match[1])] : null;
      const note = form.querySelector("[data-testid=field-error]");
      if (line && note) note.prepend(h("strong", { "data-testid": "origin-line" }, t("sites.line", { line }) + " "));
      return null;
    }
  }

  _create() {
    const name = h("input", { name: "name", "aria-label": t("sites.new_name"), disabled: !this.manage });
    const origins = this._originsArea("");
    const language = this._languageSelect("default_language", "en");
    const result = h("div", { "data-testid": "site-created", role: "status" });
    const submit = h("button", { type: "submit", class: "primary", disabled: !this.manage }, t("sites.create"));
    const form = h("form", { "data-testid": "site-create" }, h("h3", {}, t("sites.new")),
      label(t("sites.new_name"), name), label(t("sites.origins_label"), origins), label(t("sites.default_language"), language),
      submit, result);
    form.addEventListener("submit", async (ev) => {
      ev.preventDefault();
      const created = await this._sendOrigins(form, origins, (lines) => api("POST", "/api/sites", {
        name: name.value, allowed_origins: lines, default_language: language.value }));
      if (!created) return;
      this.ctx.toast(t("sites.created", { name: created.site.name }));
      await this._reload(created.site.id);
    });
    return form;
  }

  _editor(site) {
    const name = h("input", { name: "name", value: site.name, "aria-label": t("sites.name"), disabled: !this.manage });
    const origins = this._originsArea(site.allowed_origins.join("\n"));
    const language = this._languageSelect("default_language", site.default_language);
    const organization = h("select", { name: "organization", "aria-label": t("sites.company"), disabled: !this.manage },
      h("option", { value: "" }, t("sites.no_company")),
      this.organizations.map((o) => h("option", { value: String(o.id), selected: o.id === site.organization_id }, o.name)));
    const save = h("button", { type: "submit", class: "primary", disabled: !this.manage }, t("common.save"));
    const form = h("form", { "data-testid": "site-edit" }, h("h3", {}, t("sites.editing", { name: site.name })),
      label(t("sites.name"), name), label(t("sites.origins_label"), origins), label(t("sites.default_language"), language),
      label(t("sites.company"), organization), save);
    form.addEventListener("submit", async (ev) => {
      ev.preventDefault();
      const done = await this._sendOrigins(form, origins, (lines) => api("PATCH", `/api/sites/${site.id}`, {
        name: name.value, allowed_origins: lines, default_language: language.value,
        organization: organization.value ? Number(organization.value) : null }));
      if (!done) return;
      this.ctx.toast(t("sites.saved"));
      await this._reload();
    });
    this.widgetBox = h("div", { "data-testid": "site-widget" }, h("p", { class: "muted" }, t("sites.loading")));
    return h("div", { class: "site-editor" }, form, this.widgetBox, this._secret(site), this._snippet(site));
  }

  async _loadWidget(site) {
    try {
      const { widget } = await api("GET", `/api/sites/${site.id}/widget`);
      replace(this.widgetBox, this._widgetForm(site, widget));
    } catch (err) {
      replace(this.widgetBox, h("p", { class: "error" }, errorText(err)));
    }
  }

  _widgetForm(site, widget) {
    const off = !this.manage;
    const policy = h("select", { name: "widget.language", "aria-label": t("sites.widget_language"), disabled: off },
      ["auto", ...LANGUAGES].map((v) => h("option", { value: v, selected: v === widget.language },
        v === "auto" ? t("sites.language_auto") : LANGUAGE_NAMES[v])));
    const prechat = h("input", { type: "checkbox", name: "widget.prechat.enabled", checked: widget.prechat.enabled, disabled: off });
    const modes = {};
    const fieldRows = FIELDS.map((f) => {
      modes[f] = h("select", { name: `widget.prechat.fields.${f}`, "aria-label": t("sites.field_mode", { field: t(`sites.field.${f}`) }),
        disabled: off }, MODES.map((m) => h("option", { value: m, selected: widget.prechat.fields[f] === m }, t(`sites.mode.${m}`))));
      return h("tr", {}, h("td", {}, t(`sites.field.${f}`)), h("td", {}, modes[f]));
    });
    const kinds = {};
    const kindBoxes = OBJECT_KINDS.map((k) => {
      kinds[k] = h("input", { type: "checkbox", checked: widget.prechat.object_kinds.includes(k), disabled: off });
      return h("label", { class: "check" }, kinds[k], " ", t(`sites.kind.${k}`));
    });
    const offlineForm = h("input", { type: "checkbox", name: "widget.offline_form", checked: widget.offline_form, disabled: off });
    const messages = {};
    const messageRows = LANGUAGES.map((lang) => {
      messages[lang] = h("textarea", { name: `widget.offline_message.${lang}`, rows: 2, maxlength: 500, disabled: off,
        "aria-label": t("sites.offline_message_in", { language: LANGUAGE_NAMES[lang] }) }, (widget.offline_message || {})[lang] || "");
      return label(t("sites.offline_message_in", { language: LANGUAGE_NAMES[lang] }), messages[lang]);
    });
    const save = h("button", { type: "submit", class: "primary", disabled: off }, t("sites.save_widget"));
    const form = h("form", { "data-testid": "widget-form" }, h("h3", {}, t("sites.widget")),
      label(t("sites.widget_language"), policy),
      h("label", { class: "check" }, prechat, " ", t("sites.prechat_enabled")),
      h("table", { "data-testid": "prechat-fields" }, h("tr", {}, h("th", {}, t("sites.field_col")), h("th", {}, t("sites.mode_col"))), fieldRows),
      h("fieldset", { "data-field": "widget.prechat.object_kinds" }, h("legend", {}, t("sites.object_kinds")), kindBoxes),
      h("label", { class: "check" }, offlineForm, " ", t("sites.offline_form")),
      h("fieldset", {}, h("legend", {}, t("sites.offline_message")), h("p", { class: "muted" }, t("sites.offline_help")), messageRows),
      save);
    form.addEventListener("submit", async (ev) => {
      ev.preventDefault();
      const body = {
        language: policy.value,
        prechat: {
          enabled: prechat.checked,
          fields: Object.fromEntries(FIELDS.map((f) => [f, modes[f].value])),
          object_kinds: OBJECT_KINDS.filter((k) => kinds[k].checked),
        },
        offline_form: offlineForm.checked,
        offline_message: Object.fromEntries(LANGUAGES.map((l) => [l, messages[l].value])),
      };
      const done = await submitting(form, () => api("PUT", `/api/sites/${site.id}/widget`, body));
      if (done) this.ctx.toast(t("sites.widget_saved"));
    });
    return form;
  }

  _secret(site) {
    const box = h("div", { "data-testid": "site-secret" });
    const grace = h("input", { type: "number", name: "grace_hours", min: 0, max: 168, value: "24", disabled: !this.manage,
      "aria-label": t("sites.grace_hours") });
    const start = h("button", { type: "button", disabled: !this.manage }, t("sites.rotate"));
    const confirmBox = h("form", { hidden: true, "data-testid": "rotate-confirm", class: "confirm" },
      h("p", {}, t("sites.rotate_confirm")), label(t("sites.grace_hours"), grace),
      h("button", { type: "submit", class: "danger" }, t("sites.rotate_now")),
      h("button", { type: "button", onclick: () => { confirmBox.hidden = true; } }, t("common.cancel")));
    start.addEventListener("click", () => { confirmBox.hidden = false; grace.focus(); });
    const shown = h("div", { "data-testid": "new-secret", role: "status" });
    confirmBox.addEventListener("submit", async (ev) => {
      ev.preventDefault();
      const done = await submitting(confirmBox, () => api("POST", `/api/sites/${site.id}/rotate-secret`,
        { grace_hours: Number(grace.value) }));
      if (!done) return;
      confirmBox.hidden = true;
      const value = h("input", { readonly: true, value: done.identity_secret, "aria-label": t("sites.new_secret"),
        "data-testid": "secret-value" });
      const until = done.site.previous_secret_until;
      replace(shown, h("p", {}, t("sites.secret_once")), value,
        h("button", { type: "button", onclick: () => copy(this.ctx, done.identity_secret) }, t("sites.copy_secret")),
        h("p", { "data-testid": "secret-grace" }, until ? t("sites.old_until", { time: fmtDateTime(until) }) : t("sites.old_stopped")));
    });
    const grace_note = site.previous_secret_until
      ? h("p", { class: "muted" }, t("sites.old_until", { time: fmtDateTime(site.previous_secret_until) })) : null;
    return h("div", {}, h("h3", {}, t("sites.secret")), h("p", { class: "muted" }, t("sites.secret_help")), grace_note,
      start, confirmBox, shown, box);
  }

  _snippet(site) {
    const snippet = this.snippets[String(site.id)] || "";
    return h("div", {}, h("h3", {}, t("sites.snippet")),
      h("textarea", { readonly: true, rows: 2, "aria-label": t("sites.snippet"), "data-testid": "site-snippet" }, snippet),
      h("button", { type: "button", onclick: () => copy(this.ctx, snippet) }, t("sites.copy_snippet")));
  }
}

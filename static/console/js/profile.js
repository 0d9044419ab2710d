// "My profile": the signed-in person's own settings. The console's language (issue 18: their
// choice, or "Browser's language" — PATCH /api/me {"language": null} — then the page reloads
// in it); the alerts (docs/console.md "Alerts": sound, desktop notifications, the support
// groups whose transfers alert me — ui_prefs, saved as they are switched); the e-mail
// notifications (SKAI: "My profile"), one switch per kind of mail their role receives, and
// the time zone their mails use. Password reset and invitation mails are always sent and
// have no switch.

import { api } from "./api.js";
import { h, replace } from "/static/shared/dom.js";
import { register, t, LANGUAGES, LANGUAGE_NAMES } from "/static/shared/i18n.js";
import common from "/static/shared/i18n/common.js";
import catalog from "../i18n/alerts.js";
import { permission } from "./alerts.js";

register(common);
register(catalog);

// A kind's label in the console's language (the catalog's alerts.kind.*).
export function kindLabel(kind) {
  const key = `alerts.kind.${kind}`;
  const text = t(key);
  return text === key ? kind : text;
}

// What mailbox.js reads (KIND_LABELS[kind]): the same labels, translated.
export const KIND_LABELS = new Proxy({}, { get: (_, kind) => (typeof kind === "string" ? kindLabel(kind) : undefined) });

function timeZones(current) {
  // The browser's list of IANA names; the server checks against its own tz database.
  const zones = typeof Intl.supportedValuesOf === "function" ? Intl.supportedValuesOf("timeZone") : ["UTC"];
  return current && !zones.includes(current) ? [current, ...zones] : zones;
}

export class ProfileView {
  constructor(el, ctx) {
    this.el = el;
    this.ctx = ctx;
  }

  async show() {
    replace(this.el, h("div", { class: "muted" }, t("alerts.profile.loading")));
    let prefs;
    try {
      prefs = await api("GET", "/api/me/mail");
    } catch (err) {
      replace(this.el, h("div", { class: "error" }, err.message));
      return;
    }
    const readOnly = this.ctx.me.user.role === "read_only";
    replace(this.el, h("section", { "data-testid": "profile" }, h("h2", {}, t("alerts.profile.title")),
      readOnly ? h("p", { class: "muted" }, t("alerts.profile.read_only")) : null,
      this.languageForm(readOnly),
      readOnly ? null : this.alertsForm(),
      this.mailForm(prefs, readOnly),
      readOnly ? null : this.passwordForm()));
  }

  // The console's language: saved, then the page reloads in it (every string is t()'s at
  // render time; a reload is simpler and surer than re-rendering every view).
  languageForm(readOnly) {
    const user = this.ctx.me.user;
    const select = h("select", { name: "console_language", "aria-label": t("common.language"), disabled: readOnly,
      "data-testid": "language-picker" },
      h("option", { value: "" }, t("common.language_auto")),
      LANGUAGES.map((l) => h("option", { value: l, lang: l }, LANGUAGE_NAMES[l])));
    select.value = user.language_chosen ? user.language : "";
    const form = h("form", { "data-testid": "language-form" },
      h("h3", {}, t("common.language")),
      select, " ",
      h("button", { type: "submit", disabled: readOnly }, t("alerts.profile.language_apply")),
      h("p", { class: "muted" }, t("alerts.profile.language_help")));
    form.addEventListener("submit", async (ev) => {
      ev.preventDefault();
      try {
        await api("PATCH", "/api/me", { language: select.value || null });
        location.reload();
      } catch (err) {
        this.ctx.toast(err.message, true);
      }
    });
    return form;
  }

  // Alert switches (ui_prefs: sound, desktop, groups), saved as they change.
  alertsForm() {
    const alerts = this.ctx.alerts;
    const prefs = this.ctx.me.user.ui_prefs || {};
    const save = (change) => alerts.savePrefs(change).then(() => this.ctx.toast(t("alerts.profile.saved")));
    const sound = h("input", { type: "checkbox", name: "sound", checked: prefs.sound !== false,
      onchange: () => save({ sound: sound.checked }) });
    const state = h("p", { class: "muted", "data-testid": "desktop-state" });
    const desktop = h("input", { type: "checkbox", name: "desktop", checked: alerts.desktopOn });
    const turnOn = h("button", { type: "button", "data-testid": "desktop-on" }, t("alerts.turn_on"));
    const refresh = () => {
      const allowed = permission();
      desktop.checked = alerts.desktopOn;
      desktop.disabled = allowed !== "granted";
      turnOn.hidden = allowed !== "default";
      state.textContent = allowed === "denied" ? t("alerts.denied") : allowed === "unsupported" ? t("alerts.unsupported") : "";
    };
    desktop.addEventListener("change", () => save({ desktop: desktop.checked }).then(refresh));
    turnOn.addEventListener("click", async () => {
      await alerts.enableDesktop();
      refresh();
    });
    refresh();
    // The transfer groups are the inbox's "group:" queues.
    const groups = ((this.ctx.inbox && this.ctx.inbox.queues) || []).filter((q) => q.key.startsWith("group:"));
    const followed = new Set(prefs.groups || []);
    const boxes = groups.map((q) => {
      const key = q.key.slice("group:".length);
      const box = h("input", { type: "checkbox", name: `group-${key}`, value: key, checked: followed.has(key) });
      box.addEventListener("change", () => save({ groups: boxes.filter((b) => b.checked).map((b) => b.value) }));
      return box;
    });
    return h("form", { "data-testid": "alerts-form", onsubmit: (ev) => ev.preventDefault() },
      h("h3", {}, t("alerts.profile.alerts")),
      h("p", { class: "muted" }, t("alerts.profile.alerts_help")),
      h("div", {}, h("label", { class: "switch" }, sound, " ", t("alerts.profile.sound"))),
      h("div", {}, h("label", { class: "switch" }, desktop, " ", t("alerts.profile.desktop")), " ", turnOn),
      state,
      groups.length ? h("fieldset", {}, h("legend", {}, t("alerts.profile.groups")),
        groups.map((q, i) => h("div", {}, h("label", { class: "switch" }, boxes[i], " ", q.name)))) : null);
  }

  mailForm(prefs, readOnly) {
    const boxes = prefs.switches.map((s) => {
      const box = h("input", { type: "checkbox", name: s.kind, checked: s.on, disabled: readOnly });
      return { kind: s.kind, box, row: h("label", { class: "switch" }, box, " ", kindLabel(s.kind)) };
    });
    const zone = h("select", { name: "time_zone", "aria-label": t("alerts.profile.time_zone"), disabled: readOnly },
      h("option", { value: "" }, t("alerts.profile.time_zone_unset")), timeZones(prefs.time_zone).map((z) => h("option", { value: z }, z)));
    zone.value = prefs.time_zone || "";
    const form = h("form", { "data-testid": "profile-form" },
      h("h3", {}, t("alerts.profile.mail")),
      h("fieldset", {}, h("legend", {}, t("alerts.profile.mail_when")), boxes.map((b) => h("div", {}, b.row))),
      h("p", { class: "muted" }, t("alerts.profile.always_sent", { kinds: prefs.essential.map(kindLabel).join(", ") })),
      h("label", {}, t("alerts.profile.time_zone"), " ", zone), " ",
      h("button", { type: "submit", class: "primary", disabled: readOnly }, t("common.save")));
    form.addEventListener("submit", async (ev) => {
      ev.preventDefault();
      const notification_prefs = Object.fromEntries(boxes.map((b) => [b.kind, b.box.checked]));
      try {
        await api("PATCH", "/api/me", { notification_prefs, time_zone: zone.value || null });
        this.ctx.toast(t("alerts.profile.saved"));
      } catch (err) {
        this.ctx.toast(err.message, true);
      }
    });
    return form;
  }

  // POST /api/me/password: the server checks the current password and the policy (it says
  // why a password is refused); every other session of mine ends, this one goes on.
  passwordForm() {
    const field = (name, label, autocomplete) =>
      h("input", { type: "password", name, "aria-label": label, autocomplete, required: true, minlength: 10 });
    const current = field("current_password", t("alerts.profile.current_password"), "current-password");
    const next = field("new_password", t("alerts.profile.new_password"), "new-password");
    const again = field("new_password_again", t("alerts.profile.new_password_again"), "new-password");
    const form = h("form", { "data-testid": "password-form" },
      h("h3", {}, t("alerts.profile.password")),
      h("label", {}, t("alerts.profile.current_password"), " ", current), " ",
      h("label", {}, t("alerts.profile.new_password"), " ", next), " ",
      h("label", {}, t("alerts.profile.new_password_again"), " ", again), " ",
      h("button", { type: "submit" }, t("alerts.profile.change_password")),
      h("p", { class: "muted" }, t("alerts.profile.password_note")));
    form.addEventListener("submit", async (ev) => {
      ev.preventDefault();
      if (next.value !== again.value) {
        this.ctx.toast(t("alerts.profile.passwords_differ"), true);
        return;
      }
      try {
        await api("POST", "/api/me/password", { current_password: current.value, new_password: next.value });
        form.reset();
        this.ctx.toast(t("alerts.profile.password_changed"));
      } catch (err) {
        this.ctx.toast(err.message, true);
      }
    });
    return form;
  }
}

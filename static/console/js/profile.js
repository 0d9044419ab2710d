// "My profile": the signed-in person's own e-mail notifications (SKAI: "My profile"), one
// switch per kind of mail their role receives, and the language and time zone their mails
// use. Password reset and invitation mails are always sent and have no switch.

import { api } from "./api.js";
import { h, replace } from "/static/shared/dom.js";

export const KIND_LABELS = {
  ticket_opened: "Ticket opened (confirmation with its number)",
  support_reply: "Replies from support",
  close_proposed: "Ticket proposed to close",
  ticket_closed: "Ticket closed (with the rating request)",
  ticket_reopened: "Ticket reopened",
  system_alert: "System alerts for my company",
  join_decided: "My group join requests decided",
  offline_received: "Offline message received",
  ticket_assigned: "A ticket assigned to me",
  group_transfer: "A ticket transferred to my group",
  unassigned_ticket: "A new ticket nobody is assigned to",
  customer_replied: "The customer replied while I am offline",
  sla_warning: "SLA warnings",
  sla_breach: "SLA breaches",
  escalation: "Escalation steps",
  password_reset: "Password reset",
  invitation: "Invitation",
  account_accessed: "Support signed in to my account",
};

const LANGUAGE_NAMES = { en: "English", "pt-BR": "Português (Brasil)", de: "Deutsch", es: "Español", ru: "Русский" };

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
    replace(this.el, h("div", { class: "muted" }, "Loading…"));
    let prefs;
    try {
      prefs = await api("GET", "/api/me/mail");
    } catch (err) {
      replace(this.el, h("div", { class: "error" }, err.message));
      return;
    }
    const readOnly = this.ctx.me.user.role === "read_only";
    const boxes = prefs.switches.map((s) => {
      const box = h("input", { type: "checkbox", name: s.kind, checked: s.on, disabled: readOnly });
      return { kind: s.kind, box, row: h("label", { class: "switch" }, box, " ", KIND_LABELS[s.kind] || s.kind) };
    });
    const language = h("select", { name: "language", "aria-label": "Language of my mails", disabled: readOnly },
      prefs.languages.map((l) => h("option", { value: l }, LANGUAGE_NAMES[l] || l)));
    language.value = prefs.language;
    const zone = h("select", { name: "time_zone", "aria-label": "My time zone", disabled: readOnly },
      h("option", { value: "" }, "not set (UTC)"), timeZones(prefs.time_zone).map((z) => h("option", { value: z }, z)));
    zone.value = prefs.time_zone || "";
    const form = h("form", { "data-testid": "profile-form" },
      h("fieldset", {}, h("legend", {}, "Send me an e-mail when…"), boxes.map((b) => h("div", {}, b.row))),
      h("p", { class: "muted" }, `Always sent: ${prefs.essential.map((k) => KIND_LABELS[k] || k).join(", ")}.`),
      h("label", {}, "Language ", language), " ",
      h("label", {}, "Time zone ", zone), " ",
      h("button", { type: "submit", class: "primary", disabled: readOnly }, "Save"));
    form.addEventListener("submit", async (ev) => {
      ev.preventDefault();
      const notification_prefs = Object.fromEntries(boxes.map((b) => [b.kind, b.box.checked]));
      try {
        await api("PATCH", "/api/me", { notification_prefs, language: language.value, time_zone: zone.value || null });
        this.ctx.toast("Saved.");
      } catch (err) {
        this.ctx.toast(err.message, true);
      }
    });
    replace(this.el, h("section", { "data-testid": "profile" }, h("h2", {}, "My profile: e-mail notifications"),
      readOnly ? h("p", { class: "muted" }, "Read-only accounts cannot change settings.") : null, form,
      readOnly ? null : this.passwordForm()));
  }

  // POST /api/me/password: the server checks the current password and the policy (it says
  // why a password is refused); every other session of mine ends, this one goes on.
  passwordForm() {
    const field = (name, label, autocomplete) =>
      h("input", { type: "password", name, "aria-label": label, autocomplete, required: true, minlength: 10 });
    const current = field("current_password", "Current password", "current-password");
    const next = field("new_password", "New password", "new-password");
    const again = field("new_password_again", "New password again", "new-password");
    const form = h("form", { "data-testid": "password-form" },
      h("h3", {}, "Change my password"),
      h("label", {}, "Current password ", current), " ",
      h("label", {}, "New password ", next), " ",
      h("label", {}, "New password again ", again), " ",
      h("button", { type: "submit" }, "Change password"),
      h("p", { class: "muted" }, "Your other sessions (other browsers and devices) are signed out."));
    form.addEventListener("submit", async (ev) => {
      ev.preventDefault();
      if (next.value !== again.value) {
        this.ctx.toast("The two new passwords differ.", true);
        return;
      }
      try {
        await api("POST", "/api/me/password", { current_password: current.value, new_password: next.value });
        form.reset();
        this.ctx.toast("Password changed. Your other sessions were signed out.");
      } catch (err) {
        this.ctx.toast(err.message, true);
      }
    });
    return form;
  }
}

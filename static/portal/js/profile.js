// Profile: my name, language and time zone, my e-mail notifications (issue 15: one switch
// per kind of mail), my password, and support's sessions in my account (impersonation).
//
// The language: "Browser's language" (not chosen: `"language": null`) or one of the five the
// product speaks. Saving sends it only when the choice changed, so saving the switches
// does not pin the browser's language as a choice.

import { h } from "/static/shared/dom.js";
import { LANGUAGES, LANGUAGE_NAMES, fmtTime, language, register, t } from "/static/shared/i18n.js";
import catalog from "../i18n/profile.js";
import common from "/static/shared/i18n/common.js";
import { $, api, fill, state } from "./state.js";
import { stamp } from "./format.js";

register(catalog);
register(common);

const KINDS = {
  ticket_opened: "portal.profile.kind_ticket_opened",
  support_reply: "portal.profile.kind_support_reply",
  close_proposed: "portal.profile.kind_close_proposed",
  ticket_closed: "portal.profile.kind_ticket_closed",
  ticket_reopened: "portal.profile.kind_ticket_reopened",
  system_alert: "portal.profile.kind_system_alert",
  join_decided: "portal.profile.kind_join_decided",
  offline_received: "portal.profile.kind_offline_received",
  password_reset: "portal.profile.kind_password_reset",
  invitation: "portal.profile.kind_invitation",
  account_accessed: "portal.profile.kind_account_accessed",
};
const kind = (k) => (KINDS[k] ? t(KINDS[k]) : k);

export async function loadProfile() {
  const prefs = await api("GET", "/api/me/mail");
  $("profile-name").value = state.me.name || "";
  const switches = prefs.switches.map((s) => {
    const box = h("input", { type: "checkbox", name: s.kind, checked: s.on });
    return h("label", {}, box, kind(s.kind));
  });
  $("profile-switches").replaceChildren($("profile-switches").querySelector("legend"), ...switches);
  $("profile-essential").textContent = t("portal.profile.always_sent", { kinds: prefs.essential.map(kind).join(", ") });
  const offered = LANGUAGES.filter((l) => prefs.languages.includes(l));
  $("profile-language").replaceChildren(h("option", { value: "" }, t("common.language_auto")),
    ...offered.map((l) => h("option", { value: l, lang: l }, LANGUAGE_NAMES[l])));
  $("profile-language").value = state.me.language_chosen ? language() : "";
  // The browser's IANA names; the server checks against its own tz database.
  const zones = typeof Intl.supportedValuesOf === "function" ? Intl.supportedValuesOf("timeZone") : ["UTC"];
  if (prefs.time_zone && !zones.includes(prefs.time_zone)) zones.unshift(prefs.time_zone);
  $("profile-zone").replaceChildren(h("option", { value: "" }, t("portal.profile.zone_unset")),
    ...zones.map((z) => h("option", { value: z }, z)));
  $("profile-zone").value = prefs.time_zone || "";
}

$("profile-form").addEventListener("submit", async (e) => {
  e.preventDefault();
  $("profile-notice").textContent = "";
  $("profile-error").textContent = "";
  const boxes = [...$("profile-switches").querySelectorAll("input[type=checkbox]")];
  const chosen = $("profile-language").value || null;
  const languageChanged = chosen !== (state.me.language_chosen ? language() : null);
  const body = {
    notification_prefs: Object.fromEntries(boxes.map((b) => [b.name, b.checked])),
    time_zone: $("profile-zone").value || null,
  };
  const name = $("profile-name").value.trim();
  if (name && name !== state.me.name) body.name = name;
  if (languageChanged) body.language = chosen;
  try {
    const { user } = await api("PATCH", "/api/me", body);
    state.me = { ...state.me, ...user };
    $("who-name").textContent = user.name || user.email;
    // Every string on the page is in the old language: start again in the new one.
    if (languageChanged) {
      location.reload();
      return;
    }
    $("profile-notice").textContent = t("portal.profile.saved");
  } catch (err) {
    $("profile-error").textContent = err.message;
  }
});

// POST /api/me/password: the server checks the current password and the policy and says
// why it refuses one; the user's other sessions end, this one goes on.
$("password-form").addEventListener("submit", async (e) => {
  e.preventDefault();
  $("password-notice").textContent = "";
  $("password-error").textContent = "";
  if ($("password-new").value !== $("password-again").value) {
    $("password-error").textContent = t("portal.profile.passwords_differ");
    return;
  }
  try {
    await api("POST", "/api/me/password", { current_password: $("password-current").value, new_password: $("password-new").value });
    $("password-form").reset();
    $("password-notice").textContent = t("portal.profile.password_changed");
  } catch (err) {
    $("password-error").textContent = err.message;
  }
});

// -- support's sessions in my account (impersonation, docs/http.md) ------------------

export async function loadAccessLog() {
  const { sessions } = await api("GET", "/api/account/access-log");
  fill("access-log", "access-log-empty", sessions.map((s) => h("li", { "data-testid": "access-log-entry" },
    h("strong", {}, s.by.name || `#${s.by.id}`), ` — ${s.reason} — `, stamp(s.started_at), " ",
    s.ended_at ? [t("portal.profile.access_until"), " ", stamp(s.ended_at)]
      : t("portal.profile.access_now", { end: fmtTime(s.ends_at) }))));
}

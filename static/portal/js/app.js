// The customer area (docs/console.md, "The customer portal"): sign in, then three pages
// under a top bar — Group chats (alerts, the company's groups, join requests, the group
// chat; reseller admins and staff also decide requests, manage groups and send alerts),
// My tickets, and Profile. Plain JS against the documented HTTP API (docs/http.md) and the
// websocket protocol (docs/protocol.md) through the client the console and the widget share
// (/static/shared/). Text from the server only ever becomes text, never HTML.
//
// The language: the person's choice, else the browser's (shared/i18n.js pickLanguage); the
// sign-in form follows the browser. A change of language reloads the page.

import { Client } from "/static/shared/protocol.js";
import { pickLanguage, register, setLanguage, t } from "/static/shared/i18n.js";
import { PORTAL_TOKEN_KEY, showImpersonationBanner } from "/static/shared/impersonation.js";
import catalog from "../i18n/portal.js";
import { $, ALERTERS, DECIDERS, MANAGERS, api, call, show, state } from "./state.js";
import { loadAlerts, alertArrived } from "./alerts.js";
import { loadCompanies, loadGroups, loadMyRequests, loadToDecide, onJoinRequest, onMembership } from "./groups.js";
import { chatEvent, chatAck, chatFailed, closeChat } from "./chat.js";
import { loadTickets, ticketEvent, ticketAck, ticketFailed, closeTicket, openTicketFromHash } from "./tickets.js";
import { loadAccessLog, loadProfile } from "./profile.js";
import { mountReports } from "./reports.js";

register(catalog);

// Static text of index.html: data-i18n (text), data-i18n-placeholder, data-i18n-aria-label.
export function translatePage(root = document) {
  for (const el of root.querySelectorAll("[data-i18n]")) el.textContent = t(el.dataset.i18n);
  for (const el of root.querySelectorAll("[data-i18n-placeholder]")) el.placeholder = t(el.dataset.i18nPlaceholder);
  for (const el of root.querySelectorAll("[data-i18n-aria-label]")) el.setAttribute("aria-label", t(el.dataset.i18nAriaLabel));
  document.title = t("portal.title");
}

// -- pages: #groups (the default), #tickets (#tickets/42 opens one), #profile ---------

const PAGES = ["groups", "tickets", "profile"];

function pageOf(hash) {
  const name = hash.replace(/^#/, "").split("/")[0];
  return PAGES.includes(name) ? name : "groups";
}

function showPage() {
  if (!state.me) return;
  const page = pageOf(location.hash);
  for (const name of PAGES) {
    show("page-" + name, name === page);
    const link = document.querySelector(`#nav a[data-page="${name}"]`);
    if (name === page) link.setAttribute("aria-current", "page");
    else link.removeAttribute("aria-current");
  }
  if (page === "tickets") openTicketFromHash(location.hash).catch(() => {});
  else closeTicket();
  if (page === "profile" && location.hash === "#profile") $("profile").scrollIntoView();
}

window.addEventListener("hashchange", showPage);

// -- signing in and out -------------------------------------------------------------

$("login-form").addEventListener("submit", async (e) => {
  e.preventDefault();
  $("login-error").textContent = "";
  try {
    const data = await call("POST", "/api/auth/login", { email: $("login-email").value, password: $("login-password").value });
    state.token = data.token;
    sessionStorage.setItem(PORTAL_TOKEN_KEY, data.token);
    await start();
  } catch (err) {
    $("login-error").textContent = err.message;
  }
});

$("logout").addEventListener("click", async () => {
  // Support signed in as this customer: signing out ends the impersonation (audited).
  if (state.impersonation) {
    try { await call("POST", "/api/impersonation/end"); } catch (_) { /* over either way */ }
    backToConsole();
    return;
  }
  try { await api("POST", "/api/auth/logout"); } catch (_) { /* signed out either way */ }
  signedOut();
});

// The end of an impersonation: the tab goes back to the console, whose own session (its own
// sessionStorage key in this tab) was never touched.
function backToConsole() {
  sessionStorage.removeItem(PORTAL_TOKEN_KEY);
  state.token = null;
  if (state.client) state.client.stop();
  location.assign("/console/");
}

function signedOut() {
  state.token = null;
  state.me = null;
  sessionStorage.removeItem(PORTAL_TOKEN_KEY);
  if (state.client) state.client.stop();
  state.client = null;
  closeChat();
  closeTicket();
  show("app-view", false);
  show("who", false);
  show("nav", false);
  show("login-view", true);
}
state.onSignedOut = signedOut;

async function start() {
  const me = await api("GET", "/api/me");
  state.me = me.user;
  // Before anything is drawn: the person's language (chosen, else the browser's).
  setLanguage(pickLanguage(me.user));
  translatePage();
  state.impersonation = await showImpersonationBanner(call, backToConsole);
  $("who-name").textContent = me.user.name || me.user.email;
  $("who-org").textContent = me.organization ? me.organization.name : "";
  show("login-view", false);
  show("who", true);
  show("nav", true);
  show("app-view", true);
  show("decide-section", DECIDERS.has(me.user.role));
  show("manage-section", MANAGERS.has(me.user.role));
  show("alert-form", ALERTERS.has(me.user.role));
  // Reports of their customers' tickets (issue 17); staff read theirs in the console.
  show("reports-section", me.user.role === "reseller_admin");
  connect();
  showPage();
  await Promise.all([loadGroups(), loadMyRequests(), loadToDecide(), loadAlerts(), loadCompanies(), loadProfile(),
    loadAccessLog(), loadTickets()]);
}

$("reports-open").addEventListener("click", () => {
  $("reports-open").hidden = true;
  mountReports($("reports"));
});

// -- the websocket (docs/protocol.md; the client resumes, deduplicates and resends) -------

function connect() {
  const live = (on, key) => {
    $("live").textContent = t(key);
    $("live").dataset.state = key;
    $("live").classList.toggle("on", on);
  };
  let resumed = false;
  const client = state.client = new Client((location.protocol === "https:" ? "wss://" : "ws://") + location.host + "/ws",
    () => state.token);
  client
    .on("ready", () => {
      live(true, "portal.live");
      // join_request and alert frames are not replayed: after a reconnect, read the lists again.
      if (resumed) refresh();
      resumed = true;
    })
    .on("state", (s) => { if (s !== "online") live(false, s === "failed" ? "portal.refused" : "portal.offline"); })
    // docs/protocol.md, "Close codes": these are not retried. 4401 / 4409: the session is over.
    .on("fatal", (code) => { if (code === 4401 || code === 4409) signedOut(); })
    .on("event", (ev) => { chatEvent(ev); ticketEvent(ev); })
    .on("ack", (f) => { chatAck(f.client_msg_id); ticketAck(f.client_msg_id); })
    .on("sendFailed", (item, f) => { chatFailed(item, f); ticketFailed(item, f); })
    .on("joinFailed", (id, f) => { chatFailed({ conversation_id: id }, f); ticketFailed({ conversation_id: id }, f); })
    .on("error", (f) => { chatFailed(f, f); ticketFailed(f, f); })
    .on("membership", onMembership)
    .on("join_request", onJoinRequest)
    .on("alert", (f) => alertArrived(f.alert))
    .start();
}

function refresh() {
  Promise.all([loadGroups(), loadMyRequests(), loadToDecide(), loadAlerts(), loadTickets()]).catch(() => {});
}

// The sign-in form follows the browser's language.
setLanguage(pickLanguage(null));
translatePage();
if (state.token) start().catch(() => signedOut());
else signedOut();

// The iframe app (README.md). postMessage only with the embedding page, both ways checked.

import { pickLanguage, translator, LANGUAGES, NAMES } from "./i18n.js";
import { h, replace } from "./dom.js";
import { intakeForm } from "./forms.js";
import { ChatView, icon } from "./chat.js";
import { Client, uuid, apiClient } from "./protocol.js";

const params = new URLSearchParams(location.search);
const SITE = params.get("site") || "";
const HOST = params.get("host") || ""; // checked by the server against the site's origins
const PAGE_LANG = params.get("lang");
const FRAMED = window.parent !== window;
const WS_URL = (location.protocol === "https:" ? "wss://" : "ws://") + location.host + "/ws";
const SUBJECT_MAX = 120;

const store = {
  key: (k) => "sc." + SITE + "." + k,
  get(k) { try { return localStorage.getItem(this.key(k)); } catch (e) { return null; } },
  set(k, v) { try { localStorage.setItem(this.key(k), String(v)); } catch (e) { /* storage off: memory only */ } },
  del(k) { try { localStorage.removeItem(this.key(k)); } catch (e) { /* storage off */ } },
};

const S = {
  cfg: null, t: translator("en"), lang: "en", token: null, me: null, identity: null, open: !FRAMED,
  view: null, form: null, linkedTo: null, unread: 0, authFailures: 0, booted: false, starting: null, conn: null,
  alerts: null,
};
const root = document.getElementById("app");
const head = {};

function toParent(message) {
  if (FRAMED) window.parent.postMessage(message, HOST);
}

window.addEventListener("message", (event) => {
  if (!FRAMED || event.source !== window.parent || event.origin !== HOST) return;
  const m = event.data || {};
  if (m.type === "init" && !S.booted) {
    boot(m);
  } else if (m.type === "open") {
    S.open = true;
    if (S.view) S.view.markRead();
    focusMain();
  } else if (m.type === "close") {
    S.open = false;
  } else if (m.type === "identify" && S.booted) {
    restart(() => { S.identity = m.identity || null; });
  } else if (m.type === "page") {
    S.page = m.page;
    if (S.token) where();
  } else if (m.type === "reset" && S.booted) {
    restart(() => { forget(); S.identity = null; });
  }
});
document.addEventListener("visibilitychange", () => S.view && S.view.markRead());
document.addEventListener("keydown", (e) => { if (e.key === "Escape") toParent({ type: "close" }); });

const api = apiClient(() => S.token, "omit");

async function boot(init) {
  S.booted = true;
  S.open = !FRAMED || !!init.open;
  S.identity = init.identity || null;
  S.page = init.page;
  if (init.reset) forget();
  try {
    S.cfg = await api("GET", "/api/widget/config?site=" + encodeURIComponent(SITE));
  } catch (e) {
    replace(root, h("p", { class: "fatal" }, S.t("failed")));
    return;
  }
  setLang(langFor(null));
  restart(() => {});
}

function langFor(user) {
  return pickLanguage({ chosen: store.get("lang"), page: PAGE_LANG, user: user && user.language_chosen && user.language,
    policy: S.cfg.language, siteDefault: S.cfg.site.default_language,
    browser: navigator.languages && navigator.languages.length ? navigator.languages : [navigator.language] });
}

/** Show everything in ``lang`` at once: the header, and the conversation (replayed in the
 *  new language) or the form, keeping what the visitor typed. */
function setLang(lang) {
  if (lang === S.lang && head.name) return;
  S.lang = lang;
  S.t = translator(lang);
  document.documentElement.lang = lang;
  document.title = S.t("title") + " · " + S.cfg.site.name;
  toParent({ type: "lang", lang });
  const view = S.view, form = S.form, main = S.main;
  shell();
  if (view) showChat(view.conv).ta.value = view.ta.value;
  else if (form) showIntake(form.values());
  else if (main) replace(S.main, ...main.childNodes);
  if (S.alerts) loadAlerts().catch(() => {});
}

/** The switch: kept in this frame, and for a signed-in customer in their profile. */
function chooseLang(lang) {
  store.set("lang", lang);
  setLang(lang);
  head.lang.focus();
  if (S.me && S.me.role === "customer") api("PATCH", "/api/me", { language: lang }).catch(() => {});
}

/** Where the visitor types next: the composer, else the form's first field. */
function focusMain() {
  if (!S.open) return;
  if (S.view && !S.view.composer.hidden) S.view.ta.focus();
  else if (S.form) S.form.querySelector("input, select, textarea").focus();
}

function shell() {
  const t = S.t;
  head.name = h("strong", { class: "name" }, t("title"));
  head.presence = h("span", { class: "presence" });
  head.ticket = h("span", { class: "ticket", hidden: true });
  head.alerts = h("span", { hidden: true });
  head.end = h("button", { type: "button", class: "icon-btn", title: t("end_chat"), "aria-label": t("end_chat"),
    hidden: true, onclick: () => S.view && S.view.rate(true) }, icon("end"));
  head.lang = h("select", { class: "lang", title: t("language"), "aria-label": t("language"),
    onchange: () => chooseLang(head.lang.value) },
  LANGUAGES.map((l, i) => h("option", { value: l, lang: l, selected: l === S.lang }, NAMES[i])));
  const minimize = h("button", { type: "button", class: "icon-btn", title: t("minimize"), "aria-label": t("minimize"),
    hidden: !FRAMED, onclick: () => toParent({ type: "close" }) }, icon("close"));
  S.banner = h("p", { class: "banner", role: "status", hidden: true });
  S.main = h("main", { class: "main" });
  replace(root,
    h("header", { class: "head" },
      h("div", { class: "who" }, head.name, h("span", { class: "sub" }, head.presence, head.ticket)), head.lang, head.alerts, head.end,
      minimize),
    S.banner, S.main);
  showPresence();
}

function showPresence() {
  head.presence.textContent = S.t(S.cfg.agents_online ? "online" : "offline");
  head.presence.className = "presence " + (S.cfg.agents_online ? "on" : "off");
}

/** The socket's ``support`` frame (the config gave the first value). */
function setOnline(on) {
  const changed = on !== S.cfg.agents_online;
  S.cfg.agents_online = on;
  showPresence();
  // Switch between the live and the leave-a-message form only if nothing was typed yet.
  if (changed && S.form && !S.view && S.form.pristine()) showIntake();
}

/** One socket per session, from the start (it brings support and alert frames); the
 *  conversation on screen gets its own frames. */
function connect() {
  const key = "outbox." + S.me.id;
  let outbox = [];
  try { outbox = JSON.parse(store.get(key) || "[]"); } catch (e) { /* a broken entry is dropped */ }
  const c = S.conn = new Client(WS_URL, () => S.token, outbox)
    .on("outbox", (items) => (items.length ? store.set(key, JSON.stringify(items)) : store.del(key)))
    .on("state", banner)
    .on("status", (f) => banner(f.live ? "online" : "delayed"))
    // 4401: a new token (a new session) may do; three in a row, and the widget gives up.
    .on("fatal", (code) => (code === 4401 && ++S.authFailures <= 3 ? restart(() => {})
      : fatal(code === 4403 ? "blocked" : code === 4409 ? "disabled" : "failed")))
    .on("support", (f) => setOnline(f.agents_online))
    .on("alert", (f) => S.alerts && S.alerts.add(f.alert));
  for (const k of ["joined", "event", "ack", "sendFailed", "joinFailed", "typing", "read"]) {
    c.on(k, (f, x) => S.view?.conv?.id === (f.conversation_id || f) && S.view.on[k](f, x));
  }
  c.start();
}

/** Alerts are for identified customers (visitors have no company): their code is
 *  fetched only for them. */
async function loadAlerts() {
  const id = S.me.id, key = "alerts." + id;
  if (S.me.role !== "customer") return;
  const { alertsButton } = await import("./alerts.js");
  if (S.me.id !== id) return; // the visitor changed meanwhile
  S.alerts = alertsButton({ t: S.t, lang: S.lang, api, token: () => S.token, main: S.main,
    seen: { get: () => +store.get(key) || 0, set: (v) => store.set(key, v) } });
  head.alerts.replaceWith(S.alerts.el);
  head.alerts = S.alerts.el;
}

/** Restarts run one after another: an identify() arriving while the chat is still
 *  starting must not race it. */
function restart(change) {
  S.starting = (S.starting || Promise.resolve()).then(() => { change(); return start(); });
}

/** (Re)start for the current identity: a session, then the conversation or the form. */
async function start() {
  stopView();
  if (S.conn) S.conn.stop();
  S.alerts = null;
  head.alerts.hidden = true;
  setAgent(null);
  replace(S.main, h("p", { class: "boot" }, "…"));
  try {
    await session();
    where();
    connect();
    loadAlerts().catch(() => {}); // alerts are extra: the chat works without them
    const conv = await currentConversation();
    if (conv) showChat(conv);
    else await showIntake();
  } catch (e) {
    fatal(e.code === "account_disabled" ? "disabled" : "failed");
  }
}

async function session(name) {
  const body = { site: SITE };
  const saved = store.get("token") || S.token; // without storage, the token of this visit
  if (saved) body.visitor_token = saved;
  if (S.identity) {
    body.user_id = String(S.identity.user_id);
    body.user_hash = String(S.identity.user_hash || "");
    if (S.identity.name) body.name = String(S.identity.name);
  }
  if (name) body.name = name;
  let r;
  try {
    r = await api("POST", "/api/widget/session", body);
  } catch (e) {
    if (e.code !== "identity_rejected") throw e;
    // A wrong hash is the site's bug; the visitor can still chat, anonymously.
    console.warn("supportchat: identify() was refused (user_hash does not match); chatting anonymously");
    S.identity = null;
    return session(name);
  }
  S.token = r.token;
  S.me = r.user;
  store.set("token", r.token);
  setLang(langFor(r.user));
}

/** Tell support where the visitor is (docs/widget.md, "Visitor context"); best effort. */
function where() {
  const p = S.page || {};
  api("POST", "/api/widget/context", { page_url: p.url || null, page_title: p.title || null, referrer: p.referrer || null,
    language: navigator.language, time_zone: Intl.DateTimeFormat().resolvedOptions().timeZone }).catch(() => {});
}

/** Forget this site's visitor in this browser: token, conversation, unsent messages. */
function forget() {
  try {
    Object.keys(localStorage).filter((k) => k.startsWith(store.key(""))).forEach((k) => localStorage.removeItem(k));
  } catch (e) { /* storage off: nothing kept */ }
  S.token = null;
}

async function currentConversation() {
  const { conversations } = await api("GET", "/api/conversations?limit=10");
  const latest = conversations.find((c) => c.kind === "chat");
  if (!latest) return null;
  // A closed one is shown only until the visitor moves on (they may not have seen the end).
  return latest.status === "open" || String(latest.id) === store.get("conv") ? latest : null;
}

function stopView() {
  if (S.view) S.view.destroy();
  S.view = null;
  S.form = null;
  head.end.hidden = true;
  head.ticket.hidden = true;
}

function showChat(conv) {
  stopView();
  S.view = new ChatView({
    t: S.t, lang: S.lang, cfg: S.cfg, me: S.me, conv, api, conn: S.conn,
    token: () => S.token,
    isOpen: () => S.open,
    createConversation: (body, clientMsgId) => createConversation(body, clientMsgId, subjectOf(body)),
    onActive: (active) => { head.end.hidden = !active; toParent({ type: "active", active }); },
    onUnread: (n) => { if (n !== S.unread) { S.unread = n; toParent({ type: "unread", count: n }); } },
    onAgent: setAgent,
    onTicket: (id) => {
      store.set("conv", id);
      head.ticket.textContent = S.t("ticket", { id });
      head.ticket.hidden = false;
    },
    onConnState: banner,
    onNewConversation: (oldId) => { S.linkedTo = oldId; store.del("conv"); toParent({ type: "active", active: false }); showIntake(); },
  });
  replace(S.main, S.view.el);
  S.view.toBottom();
  return S.view;
}

function setAgent(name) {
  head.name.textContent = name || S.t("title");
}

function banner(state) {
  const text = { reconnecting: "reconnecting", delayed: "delayed", failed: "failed" }[state];
  S.banner.hidden = !text;
  S.banner.textContent = text ? S.t(text) : "";
  if (state === "online") S.authFailures = 0;
}

function fatal(key) {
  stopView();
  replace(S.main, h("p", { class: "fatal", role: "alert" }, S.t(key)));
}

async function loadCategories() {
  try {
    const { categories } = await api("GET", "/api/categories");
    return categories.filter((c) => c.customer_selectable !== false);
  } catch (e) {
    return []; // no categories to offer: the field is left out
  }
}

async function showIntake(keep) {
  stopView();
  const offline = !S.cfg.agents_online && S.cfg.offline_form;
  if (!offline && !S.cfg.prechat.enabled) {
    showChat(null);
    return;
  }
  const categories = await loadCategories();
  S.form = intakeForm({
    t: S.t, lang: S.lang, cfg: S.cfg, categories, offline, maxChars: S.cfg.max_message_chars,
    defaults: { name: S.me.name || (S.identity && S.identity.name) || "" }, keep,
    submit: offline ? leaveMessage : startChat,
  });
  replace(S.main, h("div", { class: "scroll pad" }, S.form));
  if (!keep) focusMain();
}

function subjectOf(text) {
  const line = (text || "").trim().split("\n")[0];
  return line.length > SUBJECT_MAX ? line.slice(0, SUBJECT_MAX - 1) + "…" : line;
}

/** The pre-chat answers as the ticket's fields (docs/http.md), added to ``r``. */
function answers(v, r) {
  if (v.name) r.name = v.name;
  if (v.email) r.email = v.email;
  if (v.category) r.category = v.category.key;
  if (v.severity) r.severity = v.severity;
  if (v.object) r.assets = [v.object.kind + ": " + v.object.name];
  if (v.happenedAt) r.happened_at = v.happenedAt.toISOString();
  return r;
}

async function createConversation(body, clientMsgId, subject, fields) {
  const request = answers(fields || {}, { subject: subject || "" });
  if (body) Object.assign(request, { body, client_msg_id: clientMsgId });
  if (S.linkedTo) request.linked_to = S.linkedTo;
  const { conversation } = await api("POST", "/api/conversations", request);
  S.linkedTo = null;
  return conversation;
}

/** The server names a socket's typing after the user as it was at connect: a new name, a new socket. */
async function rename(name) {
  if (!name || name === S.me.name) return;
  await session(name);
  S.conn.stop();
  connect();
}

async function startChat(v) {
  await rename(v.name);
  const subject = subjectOf(v.description) || (v.category ? v.category.name : "");
  showChat(await createConversation(v.description, uuid(), subject, v)).ta.focus();
}

async function leaveMessage(v) {
  await rename(v.name);
  const subject = subjectOf(v.description) || (v.category ? v.category.name : S.t("title"));
  const request = answers(v, { channel: "widget_offline", subject, description: v.description || subject });
  const { ticket, conversation } = await api("POST", "/api/tickets", request);
  const view = showChat(conversation);
  view.note(S.t("offline_done", { id: (ticket && ticket.id) || conversation.id }));
  view.ta.focus();
}

if (FRAMED) toParent({ type: "ready" });
else boot({ open: true });

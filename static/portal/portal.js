// The customer area: sign in, the company's support chat groups (request to join, chat),
// join requests (one's own; and, for reseller admins and staff, the ones to decide), and
// system alerts. Plain JS against the documented HTTP API (docs/http.md, "Groups") and the
// websocket protocol (docs/protocol.md), through the client the console and the widget
// use too (/static/shared/). Text from the server only ever becomes text, never HTML.

import { CSRF_HEADERS, Client, apiClient } from "/static/shared/protocol.js";
import { h } from "/static/shared/dom.js";
import { PORTAL_TOKEN_KEY, showImpersonationBanner } from "/static/shared/impersonation.js";
// The console's reports page, mounted here for reseller admins with the portal's session.
import { ReportsView } from "/console/js/reports.js";

const $ = (id) => document.getElementById(id);
const STAFF = new Set(["agent", "support_admin", "read_only"]);
const DECIDERS = new Set(["reseller_admin", "agent", "support_admin"]);
const MANAGERS = DECIDERS; // who may create groups and remove members (their scope is the server's)
const ALERTERS = new Set(["agent", "support_admin"]);
const ALERT_TYPES = { information: "Information", complaint: "Complaint", suspicious_activity: "Suspicious activity" };

const state = {
  token: sessionStorage.getItem(PORTAL_TOKEN_KEY),
  me: null,
  client: null, // the websocket (/static/shared/protocol.js)
  chat: null, // {groupId, convId, name, canPost}
  impersonation: null, // support signed in as this customer (static/shared/impersonation.js)
};

const call = apiClient(() => state.token);

async function api(method, path, body) {
  try {
    return await call(method, path, body);
  } catch (err) {
    if (err.status === 401) signedOut();
    throw err;
  }
}

function show(id, visible) { $(id).hidden = !visible; }
function fill(listId, emptyId, items) {
  $(listId).replaceChildren(...items);
  show(emptyId, items.length === 0);
}

// -- signing in and out -------------------------------------------------------------

$("login-form").addEventListener("submit", async (e) => {
  e.preventDefault();
  $("login-error").textContent = "";
  try {
    const data = await call("POST", "/api/auth/login", { email: $("login-email").value, password: $("login-password").value });
    state.token = data.token;
    sessionStorage.setItem("portal.token", data.token);
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
  sessionStorage.removeItem("portal.token");
  if (state.client) state.client.stop();
  state.client = null;
  state.chat = null;
  show("app-view", false);
  show("who", false);
  show("login-view", true);
}

async function start() {
  const me = await api("GET", "/api/me");
  state.me = me.user;
  // An impersonated session shows who, by whom, why and until when, with "End now".
  state.impersonation = await showImpersonationBanner(api, backToConsole);
  $("who-name").textContent = me.user.name || me.user.email;
  $("who-org").textContent = me.organization ? me.organization.name : "Support";
  show("login-view", false);
  show("who", true);
  show("app-view", true);
  show("decide-section", DECIDERS.has(me.user.role));
  show("manage-section", MANAGERS.has(me.user.role));
  show("alert-form", ALERTERS.has(me.user.role));
  // Reports of their customers' tickets (issue 17); staff read theirs in the console.
  show("reports-section", me.user.role === "reseller_admin");
  connect();
  await Promise.all([loadGroups(), loadMyRequests(), loadToDecide(), loadAlerts(), loadCompanies(), loadProfile(),
    loadAccessLog()]);
  // /portal/#profile: where an unsubscribe page sends customers to change their switches.
  if (location.hash === "#profile") $("profile").scrollIntoView();
}

// -- reports (a reseller admin: its customers' tickets; the server scopes them) --------

$("reports-open").addEventListener("click", () => {
  $("reports-open").hidden = true;
  new ReportsView($("reports"), { me: { user: state.me }, api }).show();
});

// -- support's sessions in my account (impersonation, docs/http.md) ------------------

async function loadAccessLog() {
  const { sessions } = await api("GET", "/api/account/access-log");
  const when = (iso) => new Date(iso).toLocaleString();
  fill("access-log", "access-log-empty", sessions.map((s) => h("li", { "data-testid": "access-log-entry" },
    h("strong", {}, s.by.name || `#${s.by.id}`), ` — ${s.reason} — ${when(s.started_at)} to `,
    s.ended_at ? when(s.ended_at) : `now (ends by ${when(s.ends_at)})`)));
}

// -- my e-mail notifications (issue 15: one switch per kind of mail) -----------------

const KIND_LABELS = {
  ticket_opened: "A ticket of mine was opened (confirmation with its number)",
  support_reply: "Support replied while I am not in the chat",
  close_proposed: "Support proposes to close my ticket",
  ticket_closed: "My ticket was closed (with a rating request)",
  ticket_reopened: "My ticket was reopened",
  system_alert: "A system alert for my company",
  join_decided: "My group join request was decided",
  offline_received: "My offline message was received",
  password_reset: "Password reset",
  invitation: "Invitation",
  account_accessed: "Support signed in to my account",
};
const LANGUAGE_NAMES = { en: "English", "pt-BR": "Português (Brasil)", de: "Deutsch", es: "Español", ru: "Русский" };

async function loadProfile() {
  const prefs = await api("GET", "/api/me/mail");
  const switches = prefs.switches.map((s) => {
    const box = h("input", { type: "checkbox", name: s.kind, checked: s.on });
    return h("label", {}, box, KIND_LABELS[s.kind] || s.kind);
  });
  $("profile-switches").replaceChildren($("profile-switches").querySelector("legend"), ...switches);
  $("profile-essential").textContent = `Always sent: ${prefs.essential.map((k) => KIND_LABELS[k] || k).join(", ")}.`;
  $("profile-language").replaceChildren(...prefs.languages.map((l) => h("option", { value: l }, LANGUAGE_NAMES[l] || l)));
  $("profile-language").value = prefs.language;
  // The browser's IANA names; the server checks against its own tz database.
  const zones = typeof Intl.supportedValuesOf === "function" ? Intl.supportedValuesOf("timeZone") : ["UTC"];
  if (prefs.time_zone && !zones.includes(prefs.time_zone)) zones.unshift(prefs.time_zone);
  $("profile-zone").replaceChildren(h("option", { value: "" }, "not set (UTC)"), ...zones.map((z) => h("option", { value: z }, z)));
  $("profile-zone").value = prefs.time_zone || "";
}

$("profile-form").addEventListener("submit", async (e) => {
  e.preventDefault();
  $("profile-notice").textContent = "";
  $("profile-error").textContent = "";
  const boxes = [...$("profile-switches").querySelectorAll("input[type=checkbox]")];
  try {
    await api("PATCH", "/api/me", {
      notification_prefs: Object.fromEntries(boxes.map((b) => [b.name, b.checked])),
      language: $("profile-language").value,
      time_zone: $("profile-zone").value || null,
    });
    $("profile-notice").textContent = "Saved.";
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
    $("password-error").textContent = "The two new passwords differ.";
    return;
  }
  try {
    await api("POST", "/api/me/password", { current_password: $("password-current").value, new_password: $("password-new").value });
    $("password-form").reset();
    $("password-notice").textContent = "Password changed. Your other sessions were signed out.";
  } catch (err) {
    $("password-error").textContent = err.message;
  }
});

// -- groups and requests ------------------------------------------------------------

async function loadGroups() {
  const { groups } = await api("GET", "/api/chat-groups");
  const role = state.me.role;
  fill("groups", "groups-empty", groups.map((g) => {
    const standing = g.membership || "none";
    const item = h("li", { "data-group": g.name },
      h("span", { class: "grow" }, g.name),
      h("span", { class: "badge " + standing, "data-testid": "membership" }, standing === "none" ? "not a member" : standing));
    if (role === "customer" && standing !== "member" && standing !== "pending") {
      item.append(h("button", { type: "button", onclick: () => requestJoin(g) }, "Request to join"));
    }
    if (standing === "member" || STAFF.has(role) || role === "reseller_admin") {
      item.append(h("button", { type: "button", onclick: () => openChat(g) }, "Open chat"));
    }
    if (MANAGERS.has(role)) {
      item.append(h("button", { type: "button", onclick: () => showMembers(g) }, "Members"));
    }
    return item;
  }));
}

async function requestJoin(group) {
  $("groups-error").textContent = "";
  try {
    await api("POST", "/api/group-join-requests", { group: group.id });
  } catch (err) {
    $("groups-error").textContent = err.message;
  }
  await Promise.all([loadGroups(), loadMyRequests()]);
}

function requestLine(r) {
  const parts = [r.group.name];
  if (r.reason) parts.push("— " + r.reason);
  return parts.join(" ");
}

async function loadMyRequests() {
  const { requests } = await api("GET", "/api/group-join-requests?mine=true");
  fill("my-requests", "my-requests-empty", requests.map((r) => h("li", { "data-request": String(r.id) },
    h("span", { class: "grow" }, requestLine(r)),
    h("span", { class: "badge " + r.status }, r.status))));
}

async function loadToDecide() {
  if (!DECIDERS.has(state.me.role)) return;
  const { requests } = await api("GET", "/api/group-join-requests?status=pending");
  const others = requests.filter((r) => r.user.id !== state.me.id);
  fill("to-decide", "to-decide-empty", others.map((r) => {
    const reason = h("input", { type: "text", placeholder: "Reason (needed to reject)", "aria-label": "reason" });
    return h("li", { "data-request": String(r.id), "data-user": r.user.email || r.user.name },
      h("span", { class: "grow" }, `${r.user.name || r.user.email} → ${r.group.name}`),
      r.note ? h("span", { class: "note" }, "“" + r.note + "”") : null,
      reason,
      h("button", { type: "button", onclick: () => decide(r, "approve", reason.value) }, "Approve"),
      h("button", { type: "button", onclick: () => decide(r, "reject", reason.value) }, "Reject"));
  }));
}

async function decide(request, verb, reason) {
  $("decide-error").textContent = "";
  try {
    await api("POST", `/api/group-join-requests/${request.id}/${verb}`, reason ? { reason } : {});
  } catch (err) {
    $("decide-error").textContent = err.message;
  }
  await loadToDecide();
}

// -- managing: groups, members, alerts ------------------------------------------------

async function loadCompanies() {
  if (!MANAGERS.has(state.me.role)) return;
  const { organizations } = await api("GET", "/api/organizations");
  const companies = organizations.filter((o) => o.kind === "customer");
  for (const select of document.querySelectorAll(".org-select")) {
    select.replaceChildren(...companies.map((o) => h("option", { value: String(o.id) }, o.name)));
  }
}

function managed(formId, action) {
  $(formId).addEventListener("submit", async (e) => {
    e.preventDefault();
    $("manage-error").textContent = "";
    $("manage-notice").textContent = "";
    try {
      $("manage-notice").textContent = await action();
      $(formId).reset();
    } catch (err) {
      $("manage-error").textContent = err.message;
    }
  });
}

managed("group-form", async () => {
  const { group } = await api("POST", "/api/chat-groups", {
    organization: Number($("group-org").value), name: $("group-name").value, history: $("group-history").value,
  });
  await loadGroups();
  return `Group ${group.name} created.`;
});

async function uploadAlertFile(file) {
  const response = await fetch("/api/alert-files?filename=" + encodeURIComponent(file.name), {
    method: "POST",
    headers: { ...CSRF_HEADERS, Authorization: "Bearer " + state.token, "Content-Type": file.type || "application/octet-stream" },
    body: file,
  });
  const data = await response.json();
  if (!response.ok) throw new Error(`${file.name}: ${data.error.message}`);
  return data.file.id;
}

managed("alert-form", async () => {
  const files = [];
  for (const file of $("alert-files").files) files.push(await uploadAlertFile(file));
  const { alert } = await api("POST", "/api/alerts", {
    organization: Number($("alert-org").value), type: $("alert-type").value, title: $("alert-title").value,
    body: $("alert-body").value, files,
  });
  return `Alert "${alert.title}" sent.`;
});

async function showMembers(group) {
  $("members-error").textContent = "";
  $("members-title").textContent = "Members of " + group.name;
  show("members-section", true);
  const { members } = await api("GET", `/api/chat-groups/${group.id}`);
  const active = (members || []).filter((m) => m.state === "active");
  fill("members", "members-empty", active.map((m) => {
    const reason = h("input", { type: "text", placeholder: "Reason (told to the member)", "aria-label": "reason" });
    return h("li", { "data-member": m.user.email || m.user.name },
      h("span", { class: "grow" }, m.user.name || m.user.email),
      reason,
      h("button", { type: "button", onclick: () => removeMember(group, m.user, reason.value) }, "Remove"));
  }));
}

async function removeMember(group, user, reason) {
  try {
    await api("POST", `/api/chat-groups/${group.id}/members/${user.id}/remove`, reason ? { reason } : {});
  } catch (err) {
    $("members-error").textContent = err.message;
  }
  await showMembers(group);
}

// -- alerts -------------------------------------------------------------------------

function alertItem(a) {
  const files = a.files.map((f) => h("a", { href: f.url, target: "_blank", rel: "noopener" }, f.filename));
  return h("li", { "data-alert": String(a.id) },
    h("span", { class: "badge " + a.type }, ALERT_TYPES[a.type] || a.type),
    h("strong", { class: "grow" }, a.title),
    h("time", { datetime: a.created_at }, new Date(a.created_at).toLocaleString()),
    h("p", { class: "alert-body" }, a.body),
    ...files);
}

async function loadAlerts() {
  const { alerts } = await api("GET", "/api/alerts");
  fill("alerts", "alerts-empty", alerts.map(alertItem));
}

function alertArrived(a) {
  if (document.querySelector(`#alerts [data-alert="${a.id}"]`)) return;
  $("alerts").prepend(alertItem(a));
  show("alerts-empty", false);
}

// -- the websocket (docs/protocol.md; the client resumes, deduplicates and resends) -------

function connect() {
  const live = (on, text) => {
    $("live").textContent = text;
    $("live").classList.toggle("on", on);
  };
  let resumed = false;
  const client = state.client = new Client((location.protocol === "https:" ? "wss://" : "ws://") + location.host + "/ws",
    () => state.token);
  client
    .on("ready", () => {
      live(true, "live");
      // join_request and alert frames are not replayed: after a reconnect, read the lists again.
      if (resumed) refresh();
      resumed = true;
    })
    .on("state", (s) => { if (s !== "online") live(false, s === "failed" ? "refused" : "offline"); })
    // docs/protocol.md, "Close codes": these are not retried. 4401 / 4409: the session is over.
    .on("fatal", (code) => { if (code === 4401 || code === 4409) signedOut(); })
    .on("event", onEvent)
    .on("ack", (f) => unpend(f.client_msg_id))
    .on("sendFailed", (item, f) => {
      unpend(item.client_msg_id);
      if (state.chat && item.conversation_id === state.chat.convId) {
        $("chat-error").textContent = `Not sent: “${item.body}”: ${f.message}`;
      }
    })
    .on("joinFailed", (id, f) => { if (state.chat && id === state.chat.convId) $("chat-error").textContent = f.message; })
    .on("error", (f) => { if (state.chat && f.conversation_id === state.chat.convId) $("chat-error").textContent = f.message; })
    .on("membership", onMembership)
    .on("join_request", () => {
      loadMyRequests();
      loadToDecide();
      loadGroups();
    })
    .on("alert", (f) => alertArrived(f.alert))
    .start();
}

function refresh() {
  Promise.all([loadGroups(), loadMyRequests(), loadToDecide(), loadAlerts()]).catch(() => {});
}

function onMembership(f) {
  loadGroups();
  loadMyRequests();
  if (f.state === "member") {
    notice(`You are now a member of ${f.group_name}.`);
  } else {
    notice(`You are no longer a member of ${f.group_name}.`);
  }
  if (f.state !== "member" && state.chat && state.chat.convId === f.conversation_id) {
    state.chat.canPost = false;
    $("chat-send").disabled = true;
    $("chat-notice").textContent = "You are no longer a member of this group." + (f.reason ? " " + f.reason : "");
  }
}

function notice(text) {
  $("groups-notice").textContent = text;
}

// -- the group chat -----------------------------------------------------------------

function openChat(group) {
  const client = state.client;
  if (state.chat && state.chat.convId !== group.conversation_id) client.leave(state.chat.convId);
  const role = state.me.role;
  state.chat = { groupId: group.id, convId: group.conversation_id, name: group.name,
                 canPost: group.membership === "member" || role === "agent" || role === "support_admin" };
  $("chat-title").textContent = group.name;
  $("chat-notice").textContent = state.chat.canPost ? "" : "You can read this group but not write in it.";
  $("chat-error").textContent = "";
  $("chat-log").replaceChildren();
  $("chat-pending").replaceChildren(...client.outbox.filter((i) => i.conversation_id === state.chat.convId).map(pendingItem));
  $("chat-send").disabled = !state.chat.canPost;
  show("chat-section", true);
  client.join(state.chat.convId, 0); // the log starts empty: the whole history
}

function describe(ev) {
  const d = ev.data || {};
  const who = d.user ? d.user.name : "";
  switch (d.event) {
    case "group.created": return `Group ${d.group ? d.group.name : ""} created`;
    case "member.joined": return `${who} joined the group`;
    case "member.removed": return `${who} left the group`;
    case "participant.joined": return `${who} (support) joined`;
    case "ticket.linked": return `A ticket was opened from this group: #${d.to}`;
    default: return d.event || "update";
  }
}

// Only new events, in order: the client drops repeats and fills gaps before this.
function onEvent(ev) {
  if (!state.chat || ev.conversation_id !== state.chat.convId) return;
  if (ev.client_msg_id) unpend(ev.client_msg_id);
  let item;
  if (ev.kind === "message") {
    const staff = ev.author && STAFF.has(ev.author.role);
    item = h("li", { class: staff ? "staff" : "", "data-seq": String(ev.seq) },
      h("span", { class: "author" }, ev.author ? ev.author.name : ""),
      h("span", { class: "body" }, ev.body));
  } else {
    item = h("li", { class: "system", "data-seq": String(ev.seq) }, describe(ev));
  }
  $("chat-log").append(item);
  $("chat-log").scrollTop = $("chat-log").scrollHeight;
}

// Written, not yet acknowledged: kept by the client (and sent again after a reconnect).
function pendingItem(item) {
  return h("li", { "data-cid": item.client_msg_id }, h("span", { class: "body" }, item.body),
    h("span", { class: "status" }, "sending…"));
}

function unpend(clientMsgId) {
  for (const li of [...$("chat-pending").children]) if (li.dataset.cid === clientMsgId) li.remove();
}

$("chat-form").addEventListener("submit", (e) => {
  e.preventDefault();
  const chat = state.chat;
  const body = $("chat-input").value.trim();
  if (!chat || !chat.canPost || !body || !state.client) return;
  $("chat-error").textContent = "";
  $("chat-pending").append(pendingItem(state.client.send(chat.convId, body)));
  $("chat-input").value = "";
});

$("chat-input").addEventListener("keydown", (e) => {
  if (e.key === "Enter" && !e.shiftKey) {
    e.preventDefault();
    $("chat-form").requestSubmit();
  }
});

if (state.token) start().catch(() => signedOut());
else signedOut();

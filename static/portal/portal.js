// The customer area: sign in, the company's support chat groups (request to join, chat),
// join requests (one's own; and, for reseller admins and staff, the ones to decide), and
// system alerts. Plain JS against the documented HTTP API (docs/http.md, "Groups") and the
// websocket protocol (docs/protocol.md). Text from the server is only ever set with
// textContent, never parsed as HTML.
"use strict";
(() => {
  const $ = (id) => document.getElementById(id);
  const STAFF = new Set(["agent", "support_admin", "read_only"]);
  const DECIDERS = new Set(["reseller_admin", "agent", "support_admin"]);
  const MANAGERS = DECIDERS; // who may create groups and remove members (their scope is the server's)
  const ALERTERS = new Set(["agent", "support_admin"]);
  const ALERT_TYPES = { information: "Information", complaint: "Complaint", suspicious_activity: "Suspicious activity" };
  // Reconnect backoff (docs/protocol.md, "Reconnecting well"): full jitter up to 30 s.
  const BACKOFF_MIN_MS = 500;
  const BACKOFF_MAX_MS = 30000;

  const state = {
    token: sessionStorage.getItem("portal.token"),
    me: null,
    ws: null,
    backoff: BACKOFF_MIN_MS,
    chat: null, // {groupId, convId, name, lastSeq, canPost}
    refs: 0,
    pending: new Map(), // ref -> what the answer is for
  };

  function el(tag, props, ...children) {
    const node = document.createElement(tag);
    for (const [key, value] of Object.entries(props || {})) {
      if (key === "text") node.textContent = value;
      else if (key === "class") node.className = value;
      else if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
      else node.setAttribute(key, value);
    }
    for (const child of children) if (child != null) node.append(child);
    return node;
  }

  async function api(method, path, body) {
    const init = { method, headers: { Authorization: "Bearer " + state.token } };
    if (body !== undefined) {
      init.headers["Content-Type"] = "application/json";
      init.body = JSON.stringify(body);
    }
    const response = await fetch(path, init);
    const data = response.status === 204 ? null : await response.json().catch(() => null);
    if (!response.ok) {
      const err = new Error((data && data.error && data.error.message) || response.statusText);
      err.code = data && data.error && data.error.code;
      err.status = response.status;
      if (response.status === 401) signedOut();
      throw err;
    }
    return data;
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
      const response = await fetch("/api/auth/login", {
        method: "POST", headers: { "Content-Type": "application/json" },
        body: JSON.stringify({ email: $("login-email").value, password: $("login-password").value }),
      });
      const data = await response.json();
      if (!response.ok) throw new Error(data.error.message);
      state.token = data.token;
      sessionStorage.setItem("portal.token", data.token);
      await start();
    } catch (err) {
      $("login-error").textContent = err.message;
    }
  });

  $("logout").addEventListener("click", async () => {
    try { await api("POST", "/api/auth/logout"); } catch (_) { /* signed out either way */ }
    signedOut();
  });

  function signedOut() {
    state.token = null;
    state.me = null;
    sessionStorage.removeItem("portal.token");
    if (state.ws) { state.ws.onclose = null; state.ws.close(); state.ws = null; }
    state.chat = null;
    show("app-view", false);
    show("who", false);
    show("login-view", true);
  }

  async function start() {
    const me = await api("GET", "/api/me");
    state.me = me.user;
    $("who-name").textContent = me.user.name || me.user.email;
    $("who-org").textContent = me.organization ? me.organization.name : "Support";
    show("login-view", false);
    show("who", true);
    show("app-view", true);
    show("decide-section", DECIDERS.has(me.user.role));
    show("manage-section", MANAGERS.has(me.user.role));
    show("alert-form", ALERTERS.has(me.user.role));
    connect();
    await Promise.all([loadGroups(), loadMyRequests(), loadToDecide(), loadAlerts(), loadCompanies()]);
  }

  // -- groups and requests ------------------------------------------------------------

  async function loadGroups() {
    const { groups } = await api("GET", "/api/chat-groups");
    const role = state.me.role;
    fill("groups", "groups-empty", groups.map((g) => {
      const standing = g.membership || "none";
      const item = el("li", { "data-group": g.name },
        el("span", { class: "grow", text: g.name }),
        el("span", { class: "badge " + standing, "data-testid": "membership", text: standing === "none" ? "not a member" : standing }));
      if (role === "customer" && standing !== "member" && standing !== "pending") {
        item.append(el("button", { type: "button", text: "Request to join", onclick: () => requestJoin(g) }));
      }
      if (standing === "member" || STAFF.has(role) || role === "reseller_admin") {
        item.append(el("button", { type: "button", text: "Open chat", onclick: () => openChat(g) }));
      }
      if (MANAGERS.has(role)) {
        item.append(el("button", { type: "button", text: "Members", onclick: () => showMembers(g) }));
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
    fill("my-requests", "my-requests-empty", requests.map((r) => el("li", { "data-request": String(r.id) },
      el("span", { class: "grow", text: requestLine(r) }),
      el("span", { class: "badge " + r.status, text: r.status }))));
  }

  async function loadToDecide() {
    if (!DECIDERS.has(state.me.role)) return;
    const { requests } = await api("GET", "/api/group-join-requests?status=pending");
    const others = requests.filter((r) => r.user.id !== state.me.id);
    fill("to-decide", "to-decide-empty", others.map((r) => {
      const reason = el("input", { type: "text", placeholder: "Reason (needed to reject)", "aria-label": "reason" });
      return el("li", { "data-request": String(r.id), "data-user": r.user.email || r.user.name },
        el("span", { class: "grow", text: `${r.user.name || r.user.email} → ${r.group.name}` }),
        r.note ? el("span", { class: "note", text: "“" + r.note + "”" }) : null,
        reason,
        el("button", { type: "button", text: "Approve", onclick: () => decide(r, "approve", reason.value) }),
        el("button", { type: "button", text: "Reject", onclick: () => decide(r, "reject", reason.value) }));
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
      select.replaceChildren(...companies.map((o) => el("option", { value: String(o.id), text: o.name })));
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
      headers: { Authorization: "Bearer " + state.token, "Content-Type": file.type || "application/octet-stream" },
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
      const reason = el("input", { type: "text", placeholder: "Reason (told to the member)", "aria-label": "reason" });
      return el("li", { "data-member": m.user.email || m.user.name },
        el("span", { class: "grow", text: m.user.name || m.user.email }),
        reason,
        el("button", { type: "button", text: "Remove", onclick: () => removeMember(group, m.user, reason.value) }));
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
    const files = a.files.map((f) => el("a", { href: f.url, target: "_blank", rel: "noopener", text: f.filename }));
    return el("li", { "data-alert": String(a.id) },
      el("span", { class: "badge " + a.type, text: ALERT_TYPES[a.type] || a.type }),
      el("strong", { class: "grow", text: a.title }),
      el("time", { datetime: a.created_at, text: new Date(a.created_at).toLocaleString() }),
      el("p", { class: "alert-body", text: a.body }),
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

  // -- the websocket --------------------------------------------------------------------

  function send(frame) {
    if (state.ws && state.ws.readyState === WebSocket.OPEN) state.ws.send(JSON.stringify(frame));
  }

  function connect() {
    const ws = new WebSocket((location.protocol === "https:" ? "wss://" : "ws://") + location.host + "/ws");
    state.ws = ws;
    ws.onopen = () => ws.send(JSON.stringify({ type: "auth", token: state.token }));
    ws.onmessage = (m) => onFrame(JSON.parse(m.data));
    ws.onclose = (e) => {
      $("live").textContent = "offline";
      $("live").classList.remove("on");
      if (state.ws !== ws) return;
      state.ws = null;
      if (e.code === 4401 || e.code === 4409) { signedOut(); return; }
      const delay = Math.random() * state.backoff;
      state.backoff = Math.min(state.backoff * 2, BACKOFF_MAX_MS);
      setTimeout(() => { if (state.token && !state.ws) connect(); }, delay);
    };
  }

  function onFrame(f) {
    switch (f.type) {
      case "ready":
        state.backoff = BACKOFF_MIN_MS;
        $("live").textContent = "live";
        $("live").classList.add("on");
        if (state.chat) join(state.chat);
        break;
      case "event": onEvent(f); break;
      case "joined":
      case "ack":
        state.pending.delete(f.ref);
        break;
      case "resync":
        if (state.chat && (f.conversation_id == null || f.conversation_id === state.chat.convId)) join(state.chat);
        break;
      case "membership": onMembership(f); break;
      case "join_request":
        loadMyRequests();
        loadToDecide();
        loadGroups();
        break;
      case "alert": alertArrived(f.alert); break;
      case "error": onError(f); break;
      default: break; // presence, typing, inbox…: not shown here
    }
  }

  function onError(f) {
    const what = f.ref && state.pending.get(f.ref);
    if (f.ref) state.pending.delete(f.ref);
    if (what === "join" || what === "send" || (state.chat && f.conversation_id === state.chat.convId)) {
      $("chat-error").textContent = f.message;
    }
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

  function join(chat) {
    const ref = "j" + ++state.refs;
    state.pending.set(ref, "join");
    send({ type: "join", conversation_id: chat.convId, after_seq: chat.lastSeq, ref });
  }

  function openChat(group) {
    if (state.chat && state.chat.convId !== group.conversation_id) {
      send({ type: "leave", conversation_id: state.chat.convId });
    }
    const role = state.me.role;
    state.chat = { groupId: group.id, convId: group.conversation_id, name: group.name, lastSeq: 0,
                   canPost: group.membership === "member" || role === "agent" || role === "support_admin" };
    $("chat-title").textContent = group.name;
    $("chat-notice").textContent = state.chat.canPost ? "" : "You can read this group but not write in it.";
    $("chat-error").textContent = "";
    $("chat-log").replaceChildren();
    $("chat-send").disabled = !state.chat.canPost;
    show("chat-section", true);
    join(state.chat);
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

  function onEvent(ev) {
    const chat = state.chat;
    if (!chat || ev.conversation_id !== chat.convId) return;
    if (ev.seq <= chat.lastSeq) return; // a repeat
    if (ev.prev_seq !== chat.lastSeq) { join(chat); return; } // a gap: ask again from what we have
    chat.lastSeq = ev.seq;
    let item;
    if (ev.kind === "message") {
      const staff = ev.author && STAFF.has(ev.author.role);
      item = el("li", { class: staff ? "staff" : "", "data-seq": String(ev.seq) },
        el("span", { class: "author", text: ev.author ? ev.author.name : "" }),
        el("span", { class: "body", text: ev.body }));
    } else {
      item = el("li", { class: "system", "data-seq": String(ev.seq), text: describe(ev) });
    }
    $("chat-log").append(item);
    $("chat-log").scrollTop = $("chat-log").scrollHeight;
  }

  $("chat-form").addEventListener("submit", (e) => {
    e.preventDefault();
    const chat = state.chat;
    const body = $("chat-input").value.trim();
    if (!chat || !chat.canPost || !body) return;
    const id = crypto.randomUUID ? crypto.randomUUID() : String(Date.now()) + Math.random();
    state.pending.set(id, "send");
    $("chat-error").textContent = "";
    send({ type: "send", conversation_id: chat.convId, client_msg_id: id, body, ref: id });
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
})();

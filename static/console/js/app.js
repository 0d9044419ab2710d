// The agent console: sign-in, the shell, and the wiring between the socket, the queues,
// the open conversation and the admin page. A reseller admin whose company runs its own
// first line gets the same console on its partner queue only ("partner mode": no admin
// page, no presence; the queue is re-read on its actions and every 30 s, since staff
// doorbells do not reach it). Keyboard: Alt+↓/Alt+↑ next/previous
// conversation, Alt+N the first item waiting in New, "/" search, Esc back to the composer.
// Pages have addresses: /console/ the inbox (#42 opens conversation 42), /console/reports
// the reports (its filters in the query string, so a report can be bookmarked and shared).

import { api, login, logout, token, setToken } from "./api.js";
import { h, replace } from "/static/shared/dom.js";
import { Client } from "/static/shared/protocol.js";
import { setLanguage, pickLanguage } from "/static/shared/i18n.js";
import { Inbox } from "./inbox.js";
import { ConversationView } from "./conversation.js";
import { AdminView } from "./admin.js";
import { MailboxView } from "./mailbox.js";
import { SpamView } from "./spam.js";
import { ProfileView } from "./profile.js";
import { ReportsView } from "./reports.js";
import { AuditView } from "./audit.js";

const STAFF = new Set(["agent", "support_admin", "read_only"]);
// Consoles of a partner's own first line hear no staff doorbells: they poll their queue.
const PARTNER_POLL_MS = 30000;
const root = document.getElementById("app");
const REPORTS_PATH = "/console/reports";

function toast(message, isError = false) {
  const el = h("div", { class: `toast${isError ? " error" : ""}`, role: isError ? "alert" : "status" }, message);
  document.body.append(el);
  setTimeout(() => el.remove(), isError ? 6000 : 3000);
}

function showLogin(message) {
  const email = h("input", { type: "email", name: "email", placeholder: "E-mail", autocomplete: "username", required: true });
  const password = h("input", { type: "password", name: "password", placeholder: "Password", autocomplete: "current-password",
    required: true });
  const error = h("div", { class: "error", role: "alert" }, message || "");
  const form = h("form", { class: "login" }, h("h1", {}, "Support console"), email, password, error,
    h("button", { type: "submit", class: "primary" }, "Sign in"),
    h("a", { href: "/account/forgot", class: "forgot" }, "Forgot password?"));
  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    error.textContent = "";
    try {
      const data = await login(email.value, password.value);
      if (!STAFF.has(data.user.role) && data.user.role !== "reseller_admin") {
        await logout();
        error.textContent = "This console is for support staff.";
        return;
      }
      start();
    } catch (err) {
      error.textContent = err.message;
    }
  });
  replace(root, form);
  email.focus();
}

async function start() {
  let me;
  try {
    me = await api("GET", "/api/desk/me");
  } catch (err) {
    setToken(null);
    if (err.status === 403) await logout().catch(() => {});
    showLogin(err.status === 401 ? "" : err.status === 403
      ? "This console is for support staff and for partners who run their own first line." : err.message);
    return;
  }
  setLanguage(pickLanguage(me.user)); // issue 18: the person's language, else the browser's
  new Console(me).mount();
}

class Console {
  constructor(me) {
    this.me = me;
    this.partnerMode = Boolean(me.partner);
    this.logs = new Map();
    this.presence = new Map();
    this.skew = 0;
    this.api = api;
    this.toast = toast;
    const scheme = location.protocol === "https:" ? "wss" : "ws";
    this.socket = new Client(`${scheme}://${location.host}/ws`, token);
  }

  setServerTime(iso) {
    if (iso) this.skew = Date.parse(iso) - Date.now();
  }

  mount() {
    const me = this.me;
    this.conn = h("span", { class: "conn down", "data-testid": "connection" }, "connecting…");
    this.status = h("select", { "aria-label": "My status", disabled: !me.can.work },
      h("option", { value: "online" }, "Online"), h("option", { value: "away" }, "Away"));
    this.status.value = me.profile && me.profile.away ? "away" : "online";
    this.status.addEventListener("change", () => this.setStatus(this.status.value));
    this.tabInbox = h("button", { class: "active", onclick: () => this.showInbox() }, "Inbox");
    this.tabAdmin = h("button", { onclick: () => this.showAdmin() }, "Admin");
    const partner = this.partnerMode;
    // The outbox carries live account links: support admins only (the server says so too).
    this.tabMail = partner || me.user.role !== "support_admin" ? null
      : h("button", { onclick: () => this.showPage("mail") }, "Sent mail");
    // Received mail, spam and the block list: platform staff (read-only may look).
    this.tabSpam = partner ? null : h("button", { onclick: () => this.showPage("spam") }, "Spam");
    this.tabProfile = h("button", { onclick: () => this.showPage("profile") }, "My profile");
    // The audit log (issue 20): support admins and read-only staff (auditors).
    this.tabAudit = partner || !["support_admin", "read_only"].includes(me.user.role) ? null
      : h("button", { onclick: () => this.showPage("audit"), "data-testid": "tab-audit" }, "Audit log");
    // Reports (issue 17): staff; a partner's admin reads its reports in the portal.
    this.tabReports = partner || !STAFF.has(me.user.role) ? null
      : h("button", { onclick: () => this.showPage("reports") }, "Reports");
    const top = h("header", { class: "topbar" },
      h("span", { class: "brand" }, partner ? `Partner console — ${me.partner.name}` : "Support console"), this.tabInbox,
      partner ? null : this.tabAdmin, this.tabReports, this.tabMail, this.tabSpam, this.tabAudit, this.tabProfile,
      h("span", { class: "spacer" }),
      h("span", { "data-testid": "me" }, `${me.user.name} (${me.user.role.replace("_", " ")})`),
      partner ? null : this.status, this.conn,
      h("button", { onclick: () => logout().finally(() => location.reload()) }, "Sign out"));
    this.sidebar = h("nav", { class: "sidebar", "aria-label": "Queues" });
    this.main = h("section", { class: "main" });
    this.aside = h("aside", { class: "aside" });
    this.adminEl = h("div", { class: "admin hidden" });
    this.mailEl = h("div", { class: "admin hidden", "data-testid": "mailbox" });
    this.profileEl = h("div", { class: "admin hidden", "data-testid": "profile-page" });
    this.spamEl = h("div", { class: "admin hidden", "data-testid": "spam-page" });
    this.reportsEl = h("div", { class: "admin hidden", "data-testid": "reports-page" });
    this.auditEl = h("div", { class: "admin hidden", "data-testid": "audit-page" });
    this.body = h("div", { class: "body" }, this.sidebar, this.main, this.aside, this.adminEl, this.mailEl, this.spamEl,
      this.profileEl, this.reportsEl, this.auditEl);
    replace(root, h("div", { class: "shell" }, top, this.body));

    this.inbox = new Inbox(this.sidebar, this);
    this.view = new ConversationView(this.main, this.aside, this);
    this.admin = new AdminView(this.adminEl, this);
    this.mailbox = new MailboxView(this.mailEl, this);
    this.profile = new ProfileView(this.profileEl, this);
    this.spam = new SpamView(this.spamEl, this);
    this.audit = this.tabAudit ? new AuditView(this.auditEl, this) : null;
    this.reports = this.tabReports ? new ReportsView(this.reportsEl, {
      me, api, open: (id) => this.open(id),
      params: location.pathname === REPORTS_PATH ? new URLSearchParams(location.search) : null,
      onParams: (q) => { if (location.pathname === REPORTS_PATH) history.replaceState(null, "", `${REPORTS_PATH}?${q}`); },
    }) : null;
    this._wireSocket();
    document.addEventListener("keydown", (ev) => this.onKey(ev));
    addEventListener("popstate", () => this.showPage(location.pathname === REPORTS_PATH && this.reports ? "reports" : "inbox"));
    this.socket.start();
    if (this.partnerMode) setInterval(() => this.inbox.load(), PARTNER_POLL_MS);
  }

  _wireSocket() {
    const s = this.socket;
    s.on("ready", (frame) => {
      this.myId = frame.user && frame.user.id;
      this.setServerTime(frame.server_time);
      this.conn.textContent = "live";
      this.conn.classList.remove("down");
      if (this.me.can.work && this.status.value === "away") s.tell({ type: "presence", status: "away" });
      // Doorbells are not replayed: whatever moved while we were away, read it afresh.
      this.inbox.load().then(() => this._openFromLink());
      this.view.resumed();
    });
    s.on("state", (state) => {
      if (state === "online") return;
      this.conn.textContent = state === "connecting" ? "connecting…" : "reconnecting…";
      this.conn.classList.add("down");
    });
    // docs/protocol.md, "Close codes": the ones not worth retrying with this token.
    s.on("fatal", (code) => {
      setToken(null);
      showLogin(code === 4401 || code === 4409 ? "Your session ended; sign in again."
        : `The server refused the connection (${code}); sign in again.`);
    });
    s.on("status", (frame) => {
      this.conn.textContent = frame.live ? "live" : "delayed…";
      this.conn.classList.toggle("down", !frame.live);
    });
    s.on("event", (ev) => this.view.onEvent(ev));
    s.on("joined", (frame) => this.view.onJoined(frame));
    s.on("joinFailed", (id, error) => toast(`#${id}: ${error.message}`, true));
    s.on("sendFailed", (item, error) => this.view.onSendFailed(item, error));
    s.on("viewers", (frame) => this.view.onViewers(frame));
    s.on("typing", (frame) => this.view.onTyping(frame));
    s.on("inbox", (frame) => this.inbox.ring(frame.conversation_id));
    s.on("presence", (frame) => {
      // My own choice, made in another tab or on another device, shows here too.
      if (frame.user_id === this.myId && (frame.status === "online" || frame.status === "away")) {
        this.status.value = frame.status;
      }
      if (frame.status === "offline") this.presence.delete(frame.user_id);
      else this.presence.set(frame.user_id, frame);
      this.inbox.renderAgents(this.presence);
    });
    s.on("error", (frame) => toast(`${frame.code}: ${frame.message}`, true));
  }

  // Deep link: /console/#42 opens conversation 42 once the queues are in.
  _openFromLink() {
    if (this.linked) return;
    this.linked = true;
    // /console/#profile: where an unsubscribe page sends staff to change their switches.
    if (location.hash === "#profile") return this.showPage("profile");
    if (location.pathname === REPORTS_PATH && this.reports) return this.showPage("reports");
    const id = Number(location.hash.slice(1));
    if (Number.isInteger(id) && id > 0) this.open(id);
  }

  async setStatus(status) {
    this.socket.tell({ type: "presence", status });
    try {
      await api("PATCH", "/api/desk/me", { away: status === "away" });
    } catch (err) {
      toast(err.message, true);
    }
  }

  open(id) {
    this.showInbox();
    this.inbox.select(id);
    this.view.open(id);
    history.replaceState(null, "", `/console/#${id}`);
  }

  itemChanged(items) {
    if (this.view.id !== null && items.some((i) => i.conversation_id === this.view.id)) this.view.reloadDetail();
  }

  move(step) {
    const order = this.inbox.order();
    if (!order.length) return;
    const at = order.indexOf(this.view.id);
    const next = at === -1 ? (step > 0 ? 0 : order.length - 1) : Math.max(0, Math.min(order.length - 1, at + step));
    this.open(order[next]);
  }

  onKey(ev) {
    if (ev.altKey && (ev.key === "ArrowDown" || ev.key === "ArrowUp")) {
      ev.preventDefault();
      this.move(ev.key === "ArrowDown" ? 1 : -1);
    } else if (ev.altKey && (ev.key === "n" || ev.key === "N")) {
      ev.preventDefault();
      const first = this.inbox.queues.find((q) => q.items.length);
      if (first) this.open(first.items[0].conversation_id);
    } else if (ev.key === "/" && !["INPUT", "TEXTAREA", "SELECT"].includes(document.activeElement.tagName)) {
      ev.preventDefault();
      this.inbox.searchInput.focus();
    } else if (ev.key === "Escape" && document.activeElement === this.inbox.searchInput) {
      this.view.focusComposer();
    }
  }

  showInbox() {
    this.showPage("inbox");
  }

  showAdmin() {
    this.showPage("admin");
  }

  // One page at a time: the inbox (queues, conversation, aside) or a full-width page.
  showPage(name) {
    const pages = {
      inbox: [this.tabInbox, null, null],
      admin: [this.tabAdmin, this.adminEl, this.admin],
      mail: [this.tabMail, this.mailEl, this.mailbox],
      spam: [this.tabSpam, this.spamEl, this.spam],
      profile: [this.tabProfile, this.profileEl, this.profile],
      reports: [this.tabReports, this.reportsEl, this.reports],
      audit: [this.tabAudit, this.auditEl, this.audit],
    };
    for (const [key, [tab, el]] of Object.entries(pages)) {
      if (tab) tab.classList.toggle("active", key === name);
      if (el) el.classList.toggle("hidden", key !== name);
    }
    for (const el of [this.sidebar, this.main, this.aside]) el.classList.toggle("hidden", name !== "inbox");
    // The reports page has its own address; leaving it goes back to the console's.
    if (name === "reports" && location.pathname !== REPORTS_PATH) history.pushState(null, "", REPORTS_PATH);
    else if (name !== "reports" && location.pathname === REPORTS_PATH) history.pushState(null, "", "/console/");
    const view = pages[name][2];
    if (view) view.show();
  }
}

if (token()) start();
else showLogin();


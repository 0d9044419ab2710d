// The company's support chat groups (docs/http.md, "Groups"): your standing in each, asking
// to join, your own requests; for reseller admins and staff the requests to decide, new
// groups, a group's members, and (staff) system alerts to send.

import { h } from "/static/shared/dom.js";
import { register, t } from "/static/shared/i18n.js";
import { CSRF_HEADERS } from "/static/shared/protocol.js";
import catalog from "../i18n/groups.js";
import { $, DECIDERS, MANAGERS, STAFF, api, fill, show, state } from "./state.js";
import { chatLeft, openChat } from "./chat.js";

register(catalog);

const STANDING = {
  none: "portal.groups.standing_none", member: "portal.groups.standing_member",
  pending: "portal.groups.standing_pending", removed: "portal.groups.standing_removed",
  rejected: "portal.groups.standing_rejected",
};
const REQUEST_STATUS = {
  pending: "portal.groups.request_pending", approved: "portal.groups.request_approved",
  rejected: "portal.groups.request_rejected",
};

export async function loadGroups() {
  const { groups } = await api("GET", "/api/chat-groups");
  const role = state.me.role;
  fill("groups", "groups-empty", groups.map((g) => {
    const standing = g.membership || "none";
    const item = h("li", { "data-group": g.name },
      h("span", { class: "grow" }, g.name),
      h("span", { class: "badge " + standing, "data-testid": "membership", "data-standing": standing },
        STANDING[standing] ? t(STANDING[standing]) : standing));
    if (role === "customer" && standing !== "member" && standing !== "pending") {
      item.append(h("button", { type: "button", onclick: () => requestJoin(g) }, t("portal.groups.request_join")));
    }
    if (standing === "member" || STAFF.has(role) || role === "reseller_admin") {
      item.append(h("button", { type: "button", onclick: () => openChat(g) }, t("portal.groups.open_chat")));
    }
    if (MANAGERS.has(role)) {
      item.append(h("button", { type: "button", onclick: () => showMembers(g) }, t("portal.groups.members")));
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

export async function loadMyRequests() {
  const { requests } = await api("GET", "/api/group-join-requests?mine=true");
  fill("my-requests", "my-requests-empty", requests.map((r) => h("li", { "data-request": String(r.id) },
    h("span", { class: "grow" }, requestLine(r)),
    h("span", { class: "badge " + r.status, "data-status": r.status },
      REQUEST_STATUS[r.status] ? t(REQUEST_STATUS[r.status]) : r.status))));
}

export async function loadToDecide() {
  if (!DECIDERS.has(state.me.role)) return;
  const { requests } = await api("GET", "/api/group-join-requests?status=pending");
  const others = requests.filter((r) => r.user.id !== state.me.id);
  fill("to-decide", "to-decide-empty", others.map((r) => {
    const reason = h("input", { type: "text", placeholder: t("portal.groups.reject_reason"),
      "aria-label": t("portal.groups.reason") });
    return h("li", { "data-request": String(r.id), "data-user": r.user.email || r.user.name },
      h("span", { class: "grow" }, `${r.user.name || r.user.email} → ${r.group.name}`),
      r.note ? h("span", { class: "note" }, "“" + r.note + "”") : null,
      reason,
      h("button", { type: "button", onclick: () => decide(r, "approve", reason.value) }, t("portal.groups.approve")),
      h("button", { type: "button", onclick: () => decide(r, "reject", reason.value) }, t("portal.groups.reject")));
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

export function onJoinRequest() {
  loadMyRequests();
  loadToDecide();
  loadGroups();
}

export function onMembership(f) {
  loadGroups();
  loadMyRequests();
  $("groups-notice").textContent = f.state === "member"
    ? t("portal.groups.now_member", { group: f.group_name })
    : t("portal.groups.no_longer_member", { group: f.group_name });
  if (f.state !== "member") chatLeft(f.conversation_id, f.reason);
}

// -- managing: groups, members, alerts ------------------------------------------------

export async function loadCompanies() {
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
  return t("portal.manage.group_created", { group: group.name });
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
  return t("portal.manage.alert_sent", { title: alert.title });
});

async function showMembers(group) {
  $("members-error").textContent = "";
  $("members-title").textContent = t("portal.groups.members_of", { group: group.name });
  show("members-section", true);
  const { members } = await api("GET", `/api/chat-groups/${group.id}`);
  const active = (members || []).filter((m) => m.state === "active");
  fill("members", "members-empty", active.map((m) => {
    const reason = h("input", { type: "text", placeholder: t("portal.groups.remove_reason"),
      "aria-label": t("portal.groups.reason") });
    return h("li", { "data-member": m.user.email || m.user.name },
      h("span", { class: "grow" }, m.user.name || m.user.email),
      reason,
      h("button", { type: "button", onclick: () => removeMember(group, m.user, reason.value) }, t("portal.groups.remove")));
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

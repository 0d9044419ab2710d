// The queues: New, First level — reply needed, the groups, … with counts and an SLA
// countdown per item. Live: an `inbox` doorbell re-reads that one item and the counts;
// after a reconnect everything is re-read (doorbells are not replayed). Group chats have a
// queue of their own, Groups, with what this agent has not read of each (a `group.message`
// doorbell re-reads that one row). Support admins
// pick whose queues they see (`handled_by`: the platform's, the partners', all); a
// partner's console gets its own queue whatever it asks.

import { api } from "./api.js";
import { h, replace } from "/static/shared/dom.js";
import { duration, debounce } from "./format.js";
import { t, register, fmtNumber } from "/static/shared/i18n.js";
import catalog from "../i18n/inbox.js";
import { queueLabel } from "/static/shared/labels.js";
import { savedView, inView, viewSwitch } from "./views.js";
import { displayName } from "/static/shared/names.js";

register(catalog);

export const GROUPS_QUEUE = "groups";

export function slaState(sla, now) {
  if (!sla || !sla.due_at) return null;
  if (sla.state === "met" || sla.state === "paused") return { cls: "ok", text: t(`inbox.sla_${sla.state}`) };
  const due = Date.parse(sla.due_at);
  const warn = sla.warn_at ? Date.parse(sla.warn_at) : due;
  if (now >= due) return { cls: "breached", text: t("inbox.sla_late", { time: duration(now - due) }) };
  return { cls: now >= warn ? "near" : "ok", text: t("inbox.sla_left", { time: duration(due - now) }) };
}

// "left 12m ago": the customer's last socket left the live chat.
export function leftText(item, now) {
  if (!item || !item.customer_left_at) return "";
  const ago = duration(now - Date.parse(item.customer_left_at));
  return item.customer && item.customer.role === "visitor" ? t("inbox.visitor_left", { time: ago })
    : t("inbox.customer_left", { time: ago });
}

const VIEWS = [["platform", "inbox.view_platform"], ["partner", "inbox.view_partner"], ["any", "inbox.view_any"]];

function byWaiting(a, b) {
  return Date.parse(a.waiting_since) - Date.parse(b.waiting_since) || a.conversation_id - b.conversation_id;
}

export class Inbox {
  constructor(el, ctx) {
    this.el = el;
    this.ctx = ctx;
    this.queues = [];
    this.groups = []; // the Groups queue: group chats, each with this agent's unread count
    this.selected = null;
    this.results = null; // search results, shown instead of the queues
    this.loading = null;
    this.pending = new Set();
    this.flush = debounce(() => this._flush(), 120);
    this.searchInput = h("input", { type: "search", placeholder: t("inbox.search_placeholder"), "aria-label": t("inbox.search") });
    this.searchInput.addEventListener("keydown", (ev) => {
      if (ev.key === "Enter") this.search(this.searchInput.value);
      if (ev.key === "Escape") this.clearSearch();
    });
    this.list = h("div", { "data-testid": "queues" });
    this.agents = h("div", { class: "agents" });
    this.handledBy = "platform";
    let view = null;
    if (ctx.me.can.oversee) {
      view = h("select", { "aria-label": t("inbox.whose_queues"), "data-testid": "handled-by" },
        VIEWS.map(([value, label]) => h("option", { value }, t(label))));
      view.addEventListener("change", () => {
        this.handledBy = view.value;
        this.load();
      });
    }
    this.view = savedView(ctx.me); // views.js: Mine / Unassigned / All
    const views = viewSwitch(ctx, this.view, (v) => { this.view = v; this.load(); });
    replace(this.el, h("div", { class: "search" }, this.searchInput), views, view ? h("div", { class: "search" }, view) : null,
      this.list, this.agents);
    setInterval(() => this._tick(), 1000);
  }

  load() {
    this.loading = this._load();
    return this.loading;
  }

  async _load() {
    try {
      const [data, groups] = await Promise.all([api("GET", `/api/desk/inbox${this._query()}`), this._readGroups()]);
      this.ctx.setServerTime(data.server_time);
      this.queues = data.queues;
      this.groups = groups;
    } catch (err) {
      this.ctx.toast(t("inbox.not_loaded", { error: err.message }), true);
      return;
    }
    this.render();
  }

  // An `inbox` doorbell: re-read that item (and the counts) a moment later, once per burst.
  ring(conversationId) {
    if (this.isGroup(conversationId)) {
      // The chat open in front marks itself read and hands the row over (a re-read here
      // could land after that and bring back a count already read).
      const view = this.ctx.view;
      if (!(view && view.id === conversationId && document.visibilityState === "visible")) this.refreshGroup(conversationId);
      return;
    }
    this.pending.add(conversationId);
    this.flush();
  }

  // -- the Groups queue ---------------------------------------------------------------

  // A partner's console has no group chats (they are platform staff's).
  async _readGroups() {
    if (this.ctx.partnerMode) return [];
    return (await api("GET", "/api/desk/group-chats")).group_chats;
  }

  isGroup(conversationId) {
    return this.groups.some((g) => g.conversation_id === conversationId);
  }

  groupOf(conversationId) {
    return this.groups.find((g) => g.conversation_id === conversationId) || null;
  }

  // A `group.message` doorbell, or the open chat read: re-read that row.
  async refreshGroup(conversationId) {
    try {
      this.updateGroup((await api("GET", `/api/desk/group-chats/${conversationId}`)).group_chat);
    } catch (err) {
      if (err.status !== 404) this.ctx.toast(err.message, true);
    }
  }

  updateGroup(row) {
    this.groups = [row, ...this.groups.filter((g) => g.conversation_id !== row.conversation_id)];
    // As the server orders them: unread first, then the most recently active.
    this.groups.sort((a, b) => (a.unread === 0) - (b.unread === 0)
      || Date.parse(b.last_activity_at) - Date.parse(a.last_activity_at) || b.conversation_id - a.conversation_id);
    if (!this.results) this.render();
  }

  _groupRow(group) {
    const unread = group.unread > 0;
    return h("li", {
      class: `item group${group.conversation_id === this.selected ? " selected" : ""}${unread ? " unread" : ""}`,
      dataset: { conversationId: group.conversation_id, testid: "group-item" },
      tabindex: "0",
      onclick: () => this.ctx.open(group.conversation_id),
      onkeydown: (ev) => { if (ev.key === "Enter") this.ctx.open(group.conversation_id); },
    }, h("span", { class: "subject" }, group.name),
    h("span", { class: `count${unread ? "" : " hidden"}`, "data-testid": "unread",
      "aria-label": t("inbox.unread_label", { count: fmtNumber(group.unread) }) }, fmtNumber(group.unread)),
    h("span", { class: "meta" }, [group.organization.name, t("inbox.members", { count: fmtNumber(group.members) })]
      .join(" · ")));
  }

  _groupsSection() {
    const total = this.groups.reduce((n, g) => n + g.unread, 0);
    return h("section", { class: "queue", dataset: { queue: GROUPS_QUEUE } },
      h("h2", {}, h("span", {}, t("inbox.groups")),
        h("span", { class: "count", "data-testid": "count", "aria-label": t("inbox.unread_label", { count: fmtNumber(total) }) },
          fmtNumber(total))),
      h("ul", {}, this.groups.length ? this.groups.map((g) => this._groupRow(g))
        : h("li", { class: "empty" }, t("inbox.no_groups"))));
  }

  async _flush() {
    // A full read still on its way may predate this doorbell: let it land first, so the
    // item read below (made after it) has the last word.
    if (this.loading) await this.loading;
    const ids = [...this.pending];
    this.pending.clear();
    // Declared out here: the doorbell's items are handed to the app after the try (issue 18:
    // they were scoped to it, and every queue update threw "items is not defined").
    let items = [];
    const reads = ids.map((id) => api("GET", `/api/desk/items/${id}`).then((d) => d.item).catch((err) => {
      if (err.status === 404) return { conversation_id: id, queue: null, ticketless: true };
      throw err;
    }));
    try {
      let counts;
      [items, counts] = await Promise.all([Promise.all(reads), api("GET", `/api/desk/counts${this._query()}`)]);
      const known = new Set(this.queues.map((q) => q.key));
      const shown = items.filter((i) => this._inView(i));
      if (shown.some((i) => i.queue && !known.has(i.queue)) || Object.keys(counts.counts).some((k) => !known.has(k))) {
        // A queue appeared or went (a line without a group, a group an admin added).
        await this.load();
        this.ctx.itemChanged(items);
        return;
      }
      for (const item of items) this._place(this._inView(item) ? item : { ...item, queue: null }); // out of view: out
      for (const queue of this.queues) queue.count = counts.counts[queue.key] ?? queue.count;
      this.ctx.setServerTime(counts.server_time);
    } catch (err) {
      await this.load(); // something is off; start from a fresh read
      return;
    }
    this.render();
    this.ctx.itemChanged(items);
    // No ticket: perhaps a group chat made after the queues were read.
    for (const item of items) if (item.ticketless) this.refreshGroup(item.conversation_id);
  }

  _query() {
    const q = new URLSearchParams(this.handledBy === "platform" ? {} : { handled_by: this.handledBy });
    if (this.view !== "all") q.set("view", this.view);
    return q.size ? `?${q}` : "";
  }

  // Whether an item re-read after a doorbell belongs to the queues on screen.
  _inView(item) {
    if (!inView(item, this.view, this.ctx.me.user.id)) return false;
    if (this.ctx.partnerMode || this.handledBy === "any") return true;
    return this.handledBy === "partner" ? Boolean(item.handled_by_org_id) : !item.handled_by_org_id;
  }

  _place(item) {
    for (const queue of this.queues) {
      queue.items = queue.items.filter((i) => i.conversation_id !== item.conversation_id);
    }
    const target = this.queues.find((q) => q.key === item.queue);
    if (target) {
      target.items.push(item);
      target.items.sort(byWaiting);
    }
  }

  find(conversationId) {
    for (const queue of this.queues) {
      const item = queue.items.find((i) => i.conversation_id === conversationId);
      if (item) return item;
    }
    return (this.results || []).find((i) => i.conversation_id === conversationId) || null;
  }

  async search(q) {
    try {
      const data = await api("GET", `/api/desk/search?q=${encodeURIComponent(q.trim())}`);
      this.results = data.items;
    } catch (err) {
      this.ctx.toast(err.message, true);
      return;
    }
    this.render();
  }

  clearSearch() {
    this.searchInput.value = "";
    this.results = null;
    this.render();
  }

  order() {
    if (this.results) return this.results.map((i) => i.conversation_id);
    return [...this.queues.flatMap((q) => q.items.map((i) => i.conversation_id)), ...this.groups.map((g) => g.conversation_id)];
  }

  select(id) {
    this.selected = id;
    for (const row of this.el.querySelectorAll(".item")) {
      row.classList.toggle("selected", Number(row.dataset.conversationId) === id);
    }
  }

  _row(item) {
    const meta = [
      item.partner && !this.ctx.partnerMode ? t("inbox.partner", { name: item.partner.name }) : null,
      item.customer ? displayName(item.customer) : null,
      item.organization ? item.organization.name : null,
      item.assignee ? t("inbox.answering", { name: item.assignee.name }) : t("inbox.unassigned"),
      item.queue ? null : item.status_label || item.status,
    ].filter(Boolean).join(" · ");
    const badge = h("span", { class: "sla", "data-testid": "sla" });
    const left = h("span", { class: "left", "data-testid": "left" });
    const row = h("li", {
      class: `item${item.conversation_id === this.selected ? " selected" : ""}`,
      dataset: { conversationId: item.conversation_id, testid: "item" },
      tabindex: "0",
      onclick: () => this.ctx.open(item.conversation_id),
      onkeydown: (ev) => { if (ev.key === "Enter") this.ctx.open(item.conversation_id); },
    }, h("span", { class: "subject" }, `#${item.conversation_id} ${item.subject || t("inbox.no_subject")}`), badge,
    h("span", { class: "meta" }, meta), left);
    row._sla = item.sla;
    row._badge = badge;
    row._item = item;
    row._left = left;
    return row;
  }

  render() {
    if (this.results) {
      replace(this.list, h("section", { class: "queue", dataset: { queue: "search" } },
        h("h2", {}, t("inbox.search_results"), h("button", { onclick: () => this.clearSearch() }, t("inbox.back_to_queues"))),
        h("ul", {}, this.results.length ? this.results.map((i) => this._row(i))
          : h("li", { class: "empty" }, t("inbox.nothing_found")))));
    } else {
      replace(this.list, this.queues.map((q) => h("section", { class: "queue", dataset: { queue: q.key } },
        h("h2", {}, h("span", {}, queueLabel(q)), h("span", { class: "count", "data-testid": "count" }, String(q.count))),
        h("ul", {}, q.items.map((i) => this._row(i))))), this.ctx.partnerMode ? null : this._groupsSection());
    }
    this._tick();
  }

  _tick() {
    const now = Date.now() + this.ctx.skew;
    // Ticket rows only: a group chat's row has no SLA (and no badge to set).
    for (const row of this.list.querySelectorAll(".item:not(.group)")) {
      const state = slaState(row._sla, now);
      row._badge.className = `sla ${state ? state.cls : ""}`;
      row._badge.textContent = state ? state.text : "";
      row._left.textContent = leftText(row._item, now);
    }
  }

  renderAgents(presence) {
    const rows = [...presence.values()].sort((a, b) => a.name.localeCompare(b.name));
    replace(this.agents, h("section", { class: "queue" }, h("h2", {}, t("inbox.agents")),
      h("ul", {}, rows.map((p) => h("li", { class: "item", dataset: { userId: p.user_id } },
        h("span", {}, p.name), h("span", { class: `sla ${p.status === "online" ? "ok" : "near"}` },
          t(`inbox.presence_${p.status}`)))))));
  }
}

// The queues: New, First level — reply needed, the groups, … with counts and an SLA
// countdown per item. Live: an `inbox` doorbell re-reads that one item and the counts;
// after a reconnect everything is re-read (doorbells are not replayed). Support admins
// pick whose queues they see (`handled_by`: the platform's, the partners', all); a
// partner's console gets its own queue whatever it asks.

import { api } from "./api.js";
import { h, replace } from "/static/shared/dom.js";
import { duration, debounce } from "./format.js";
import { savedView, inView, viewSwitch } from "./views.js";
import { displayName } from "/static/shared/names.js";

export function slaState(sla, now) {
  if (!sla || !sla.due_at) return null;
  if (sla.state === "met" || sla.state === "paused") return { cls: "ok", text: sla.state };
  const due = Date.parse(sla.due_at);
  const warn = sla.warn_at ? Date.parse(sla.warn_at) : due;
  if (now >= due) return { cls: "breached", text: `late ${duration(now - due)}` };
  return { cls: now >= warn ? "near" : "ok", text: `${duration(due - now)} left` };
}

// "left 12m ago": the customer's last socket left the live chat.
export function leftText(item, now) {
  if (!item || !item.customer_left_at) return "";
  const who = item.customer && item.customer.role === "visitor" ? "Visitor" : "Customer";
  return `${who} left ${duration(now - Date.parse(item.customer_left_at))} ago`;
}

const VIEWS = [["platform", "Platform queues"], ["partner", "Partners' queues"], ["any", "All queues"]];

function byWaiting(a, b) {
  return Date.parse(a.waiting_since) - Date.parse(b.waiting_since) || a.conversation_id - b.conversation_id;
}

export class Inbox {
  constructor(el, ctx) {
    this.el = el;
    this.ctx = ctx;
    this.queues = [];
    this.selected = null;
    this.results = null; // search results, shown instead of the queues
    this.loading = null;
    this.pending = new Set();
    this.flush = debounce(() => this._flush(), 120);
    this.searchInput = h("input", { type: "search", placeholder: "Search all, incl. resolved and closed", "aria-label": "Search" });
    this.searchInput.addEventListener("keydown", (ev) => {
      if (ev.key === "Enter") this.search(this.searchInput.value);
      if (ev.key === "Escape") this.clearSearch();
    });
    this.list = h("div", { "data-testid": "queues" });
    this.agents = h("div", { class: "agents" });
    this.handledBy = "platform";
    let view = null;
    if (ctx.me.can.oversee) {
      view = h("select", { "aria-label": "Whose queues", "data-testid": "handled-by" },
        VIEWS.map(([value, label]) => h("option", { value }, label)));
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
      const data = await api("GET", `/api/desk/inbox${this._query()}`);
      this.ctx.setServerTime(data.server_time);
      this.queues = data.queues;
    } catch (err) {
      this.ctx.toast(`Queues not loaded: ${err.message}`, true);
      return;
    }
    this.render();
  }

  // An `inbox` doorbell: re-read that item (and the counts) a moment later, once per burst.
  ring(conversationId) {
    this.pending.add(conversationId);
    this.flush();
  }

  async _flush() {
    // A full read still on its way may predate this doorbell: let it land first, so the
    // item read below (made after it) has the last word.
    if (this.loading) await this.loading;
    const ids = [...this.pending];
    this.pending.clear();
    const reads = ids.map((id) => api("GET", `/api/desk/items/${id}`).then((d) => d.item).catch((err) => {
      if (err.status === 404) return { conversation_id: id, queue: null };
      throw err;
    }));
    let items; // read after the try as well (issue 18: "items is not defined" on every update)
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
    return this.queues.flatMap((q) => q.items.map((i) => i.conversation_id));
  }

  select(id) {
    this.selected = id;
    for (const row of this.el.querySelectorAll(".item")) {
      row.classList.toggle("selected", Number(row.dataset.conversationId) === id);
    }
  }

  _row(item) {
    const meta = [
      item.partner && !this.ctx.partnerMode ? `partner: ${item.partner.name}` : null,
      item.customer ? displayName(item.customer) : null,
      item.organization ? item.organization.name : null,
      item.assignee ? `answering: ${item.assignee.name}` : "unassigned",
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
    }, h("span", { class: "subject" }, `#${item.conversation_id} ${item.subject || "(no subject)"}`), badge,
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
        h("h2", {}, "Search results", h("button", { onclick: () => this.clearSearch() }, "Back to queues")),
        h("ul", {}, this.results.length ? this.results.map((i) => this._row(i)) : h("li", { class: "empty" }, "Nothing found"))));
    } else {
      replace(this.list, this.queues.map((q) => h("section", { class: "queue", dataset: { queue: q.key } },
        h("h2", {}, h("span", {}, q.name), h("span", { class: "count", "data-testid": "count" }, String(q.count))),
        h("ul", {}, q.items.map((i) => this._row(i))))));
    }
    this._tick();
  }

  _tick() {
    const now = Date.now() + this.ctx.skew;
    for (const row of this.list.querySelectorAll(".item")) {
      const state = slaState(row._sla, now);
      row._badge.className = `sla ${state ? state.cls : ""}`;
      row._badge.textContent = state ? state.text : "";
      row._left.textContent = leftText(row._item, now);
    }
  }

  renderAgents(presence) {
    const rows = [...presence.values()].sort((a, b) => a.name.localeCompare(b.name));
    replace(this.agents, h("section", { class: "queue" }, h("h2", {}, "Agents"),
      h("ul", {}, rows.map((p) => h("li", { class: "item", dataset: { userId: p.user_id } },
        h("span", {}, p.name), h("span", { class: `sla ${p.status === "online" ? "ok" : "near"}` }, p.status))))));
  }
}

// Canned replies in the composer: a searchable list (arrows + Enter), and "/shortcut" + Tab.
// The server fills in the placeholders for the open conversation.

import { api } from "./api.js";
import { h, replace } from "/static/shared/dom.js";
import { debounce } from "./format.js";
import { register, t } from "/static/shared/i18n.js";
import { errorText } from "/static/shared/labels.js";
import admin from "../i18n/admin.js";
import catalog from "../i18n/tools.js";

register(catalog);
register(admin);

export class CannedPicker {
  constructor(ctx, conversationId, insert, disabled) {
    this.ctx = ctx;
    this.conversationId = conversationId;
    this.insert = insert;
    this.items = [];
    this.active = 0;
    this.search = h("input", { type: "search", placeholder: t("canned.search"), "aria-label": t("canned.search") });
    this.list = h("ul", { role: "listbox" });
    this.popover = h("div", { class: "popover hidden" }, this.search, this.list);
    this.button = h("button", { "data-action": "canned", disabled, onclick: () => this.toggle() },
      `${t("admin.canned_title")} ▾`);
    this.element = h("span", { class: "canned" }, this.button, this.popover);
    this.search.addEventListener("input", debounce(() => this.load(), 150));
    this.search.addEventListener("keydown", (ev) => this.onKey(ev));
  }

  toggle() {
    if (this.popover.classList.contains("hidden")) {
      this.popover.classList.remove("hidden");
      this.search.value = "";
      this.search.focus();
      this.load();
    } else {
      this.popover.classList.add("hidden");
    }
  }

  async load() {
    const q = this.search.value.trim();
    try {
      const data = await api("GET", `/api/desk/canned-replies${q ? `?q=${encodeURIComponent(q)}` : ""}`);
      this.items = data.canned_replies;
    } catch (err) {
      this.ctx.toast(errorText(err), true);
      this.items = [];
    }
    this.active = 0;
    this.render();
  }

  render() {
    replace(this.list, this.items.length ? this.items.map((item, i) =>
      h("li", {
        role: "option", class: i === this.active ? "active" : "", "aria-selected": i === this.active ? "true" : "false",
        onmousedown: (ev) => { ev.preventDefault(); this.choose(item); },
      }, h("strong", {}, item.title), item.shortcut ? h("span", { class: "muted" }, ` /${item.shortcut}`) : null,
      h("div", { class: "muted" }, item.body.slice(0, 80))))
      : [h("li", { class: "muted" }, t("canned.none"))]);
  }

  onKey(ev) {
    if (ev.key === "ArrowDown" || ev.key === "ArrowUp") {
      ev.preventDefault();
      const step = ev.key === "ArrowDown" ? 1 : -1;
      this.active = Math.max(0, Math.min(this.items.length - 1, this.active + step));
      this.render();
    } else if (ev.key === "Enter") {
      ev.preventDefault();
      if (this.items[this.active]) this.choose(this.items[this.active]);
    } else if (ev.key === "Escape") {
      this.popover.classList.add("hidden");
      this.button.focus();
    }
  }

  async fill(item) {
    const data = await api("POST", `/api/desk/canned-replies/${item.id}/render`, { conversation_id: this.conversationId() });
    return data.text;
  }

  async choose(item) {
    this.popover.classList.add("hidden");
    try {
      this.insert(await this.fill(item));
    } catch (err) {
      this.ctx.toast(errorText(err), true);
    }
  }

  async byShortcut(shortcut) {
    try {
      const data = await api("GET", `/api/desk/canned-replies?q=${encodeURIComponent(shortcut)}`);
      const item = data.canned_replies.find((r) => r.shortcut === shortcut.toLowerCase());
      if (!item) {
        this.ctx.toast(t("canned.no_shortcut", { shortcut }), true);
        return null;
      }
      return await this.fill(item);
    } catch (err) {
      this.ctx.toast(errorText(err), true);
      return null;
    }
  }
}

// Desk configuration: agents' limits, assignment rules, the default assignee, canned
// replies, the support groups; for support admins, inviting people (./people.js). Everyone
// on staff sees it; only support admins change it (the server refuses anyone else,
// whatever this page shows).

import { api } from "./api.js";
import { h, replace } from "/static/shared/dom.js";
import { PeopleSection } from "./people.js";

export class AdminView {
  constructor(el, ctx) {
    this.el = el;
    this.ctx = ctx;
    this.people = new PeopleSection(ctx);
  }

  async show() {
    replace(this.el, h("div", { class: "muted" }, "Loading…"));
    let agents, rules, canned, support;
    try {
      [agents, rules, canned, support] = await Promise.all([
        api("GET", "/api/desk/agents"),
        api("GET", "/api/desk/rules"),
        api("GET", "/api/desk/canned-replies"),
        api("GET", "/api/groups/support").catch(() => null),
      ]);
    } catch (err) {
      replace(this.el, h("div", { class: "error" }, err.message));
      return;
    }
    this.agents = agents.agents;
    const people = await this.people.render();
    replace(this.el,
      this._agents(agents.agents),
      this._rules(rules),
      this._canned(canned.canned_replies),
      this._groups(support),
      people);
  }

  async _do(method, path, body) {
    try {
      await api(method, path, body);
      await this.show();
    } catch (err) {
      this.ctx.toast(err.message, true);
    }
  }

  get manage() {
    return this.ctx.me.can.manage;
  }

  _agentName(id) {
    const agent = this.agents.find((a) => a.id === id);
    return agent ? agent.name : `#${id}`;
  }

  _agentSelect(name, value, allowNone) {
    const select = h("select", { name, disabled: !this.manage, "aria-label": name },
      allowNone ? h("option", { value: "" }, "(nobody)") : null,
      this.agents.map((a) => h("option", { value: String(a.id) }, a.name)));
    select.value = value == null ? "" : String(value);
    return select;
  }

  _agents(agents) {
    return h("section", { "data-testid": "admin-agents" }, h("h2", {}, "Agents"),
      h("table", {}, h("tr", {}, h("th", {}, "Name"), h("th", {}, "Role"), h("th", {}, "Status"),
        h("th", {}, "Live chats"), h("th", {}, "Limit")),
      agents.map((a) => {
        const limit = h("input", { type: "number", min: "0", max: "100", value: String(a.max_chats), disabled: !this.manage,
          "aria-label": `Chat limit of ${a.name}` });
        limit.addEventListener("change", () => this._do("PATCH", `/api/desk/agents/${a.id}`, { max_chats: Number(limit.value) }));
        return h("tr", {}, h("td", {}, a.name), h("td", {}, a.role), h("td", {}, a.status),
          h("td", {}, String(a.active_chats)), h("td", {}, limit));
      })));
  }

  _rules(data) {
    const def = this._agentSelect("default assignee", data.default_assignee_id, true);
    def.addEventListener("change", () => this._do("PUT", "/api/desk/default-assignee",
      { user_id: def.value ? Number(def.value) : null }));
    const rows = data.rules.map((r, i) => {
      const enabled = h("input", { type: "checkbox", disabled: !this.manage, "aria-label": `Rule ${r.name} enabled` });
      enabled.checked = r.enabled;
      enabled.addEventListener("change", () => this._do("PATCH", `/api/desk/rules/${r.id}`, { enabled: enabled.checked }));
      const swap = (other) => other && Promise.all([
        api("PATCH", `/api/desk/rules/${r.id}`, { position: other.position }),
        api("PATCH", `/api/desk/rules/${other.id}`, { position: r.position }),
      ]).then(() => this.show(), (err) => this.ctx.toast(err.message, true));
      return h("tr", {}, h("td", {}, r.name), h("td", {}, r.category || "any"), h("td", {}, r.severity ? String(r.severity) : "any"),
        h("td", {}, r.source || "any"), h("td", {}, this._agentName(r.assignee_id)), h("td", {}, enabled),
        h("td", {},
          h("button", { disabled: !this.manage || i === 0, title: "Earlier", onclick: () => swap(data.rules[i - 1]) }, "↑"),
          h("button", { disabled: !this.manage || i === data.rules.length - 1, title: "Later", onclick: () => swap(data.rules[i + 1]) }, "↓"),
          h("button", { disabled: !this.manage, onclick: () => this._do("DELETE", `/api/desk/rules/${r.id}`) }, "Delete")));
    });
    const name = h("input", { name: "name", placeholder: "Rule name", required: true, disabled: !this.manage });
    const category = h("input", { name: "category", placeholder: "category key (any)", disabled: !this.manage });
    const severity = h("select", { name: "severity", disabled: !this.manage, "aria-label": "severity" },
      h("option", { value: "" }, "any severity"), [1, 2, 3].map((s) => h("option", { value: String(s) }, `severity ${s}`)));
    const source = h("input", { name: "source", placeholder: "source/channel (any)", disabled: !this.manage });
    const assignee = this._agentSelect("assignee", this.agents[0] && this.agents[0].id, false);
    const form = h("form", { class: "inline" }, name, category, severity, source, assignee,
      h("button", { type: "submit", disabled: !this.manage }, "Add rule"));
    form.addEventListener("submit", (ev) => {
      ev.preventDefault();
      this._do("POST", "/api/desk/rules", {
        name: name.value, assignee_id: Number(assignee.value), category: category.value || null,
        severity: severity.value ? Number(severity.value) : null, source: source.value || null,
      });
    });
    return h("section", { "data-testid": "admin-rules" }, h("h2", {}, "Automatic assignment"),
      h("p", { class: "muted" }, "New chats go to the first matching rule whose agent is online with room, else the default "
        + "assignee, else round-robin among online agents with room. Oldest waiting chats first."),
      h("label", {}, "Default assignee ", def),
      h("table", {}, h("tr", {}, ["Rule", "Category", "Severity", "Source", "Agent", "On", ""].map((t) => h("th", {}, t))), rows),
      form);
  }

  _canned(replies) {
    const rows = replies.map((r) => h("tr", {},
      h("td", {}, r.title), h("td", {}, r.shortcut ? `/${r.shortcut}` : ""), h("td", { class: "pre" }, r.body),
      h("td", {}, r.kb_url ? h("a", { href: r.kb_url, target: "_blank", rel: "noopener noreferrer" }, "KB") : ""),
      h("td", {}, h("button", { disabled: !this.manage, onclick: () => this._editCanned(r) }, "Edit"),
        h("button", { disabled: !this.manage, onclick: () => this._do("DELETE", `/api/desk/canned-replies/${r.id}`) }, "Delete"))));
    this.cannedForm = this._cannedForm(null);
    return h("section", { "data-testid": "admin-canned" }, h("h2", {}, "Canned replies"),
      h("p", { class: "muted" }, "Placeholders: {customer.name}, {customer.first_name}, {customer.email}, {organization.name}, "
        + "{agent.name}, {agent.first_name}, {conversation.id}, {conversation.subject}; a fallback after |, e.g. "
        + "{customer.first_name|there}."),
      h("table", {}, h("tr", {}, ["Title", "Shortcut", "Text", "Link", ""].map((t) => h("th", {}, t))), rows),
      this.cannedForm);
  }

  _cannedForm(reply) {
    const title = h("input", { name: "title", placeholder: "Title", required: true, disabled: !this.manage });
    const shortcut = h("input", { name: "shortcut", placeholder: "shortcut", disabled: !this.manage });
    const kb = h("input", { name: "kb_url", placeholder: "https://kb… (optional)", disabled: !this.manage });
    const body = h("textarea", { name: "body", placeholder: "Hello {customer.first_name|there}, …", required: true,
      disabled: !this.manage });
    if (reply) {
      title.value = reply.title;
      shortcut.value = reply.shortcut || "";
      kb.value = reply.kb_url || "";
      body.value = reply.body;
    }
    const form = h("form", { class: "inline" }, title, shortcut, kb, body,
      h("button", { type: "submit", disabled: !this.manage }, reply ? "Save" : "Add canned reply"));
    form.addEventListener("submit", (ev) => {
      ev.preventDefault();
      const payload = { title: title.value, body: body.value, shortcut: shortcut.value || null, kb_url: kb.value || null };
      if (reply) this._do("PATCH", `/api/desk/canned-replies/${reply.id}`, payload);
      else this._do("POST", "/api/desk/canned-replies", payload);
    });
    return form;
  }

  _editCanned(reply) {
    const form = this._cannedForm(reply);
    this.cannedForm.replaceWith(form);
    this.cannedForm = form;
    form.querySelector("input").focus();
  }

  _groups(support) {
    if (!support) return h("section", {}, h("h2", {}, "Support groups"), h("p", { class: "muted" }, "Not available."));
    const levelSelect = (value, label) => {
      const select = h("select", { disabled: !this.manage, "aria-label": label },
        [1, 2, 3].map((l) => h("option", { value: String(l) }, `level ${l}`)));
      select.value = String(value);
      return select;
    };
    const rows = support.groups.map((g) => {
      const name = h("input", { value: g.name, disabled: !this.manage, "aria-label": `Name of ${g.key}` });
      const level = levelSelect(g.level, `Level of ${g.key}`);
      const save = () => this._do("PATCH", `/api/desk/groups/${encodeURIComponent(g.key)}`,
        { name: name.value, level: Number(level.value) });
      name.addEventListener("change", save);
      level.addEventListener("change", save);
      return h("tr", {}, h("td", {}, name), h("td", {}, g.key), h("td", {}, level),
        h("td", {}, h("button", { disabled: !this.manage,
          onclick: () => this._do("DELETE", `/api/desk/groups/${encodeURIComponent(g.key)}`) }, "Delete")));
    });
    const key = h("input", { placeholder: "key, e.g. billing", required: true, disabled: !this.manage, "aria-label": "New group key" });
    const name = h("input", { placeholder: "Name", required: true, disabled: !this.manage, "aria-label": "New group name" });
    const level = levelSelect(2, "New group level");
    const form = h("form", { class: "inline" }, key, name, level,
      h("button", { type: "submit", disabled: !this.manage }, "Add group"));
    form.addEventListener("submit", (ev) => {
      ev.preventDefault();
      this._do("POST", "/api/desk/groups", { key: key.value, name: name.value, level: Number(level.value) });
    });
    return h("section", { "data-testid": "admin-groups" }, h("h2", {}, "Support groups"),
      h("p", { class: "muted" }, "Transfer queues, each on a support line. A group with open tickets cannot be deleted."),
      h("table", {}, h("tr", {}, h("th", {}, "Group"), h("th", {}, "Key"), h("th", {}, "Line"), h("th", {}, "")), rows),
      form);
  }
}

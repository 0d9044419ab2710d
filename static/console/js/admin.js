// Desk configuration: agents' limits, assignment rules, the default assignee, canned
// replies, the support groups; for support admins, inviting people (./people.js). Everyone
// on staff sees it; only support admins change it (the server refuses anyone else,
// whatever this page shows).

import { api } from "./api.js";
import { h, replace } from "/static/shared/dom.js";
import { PeopleSection } from "./people.js";
import { SETTINGS_PAGES } from "./settings/pages.js";
import { submitting } from "./settings/form.js";
import { register, t } from "/static/shared/i18n.js";
import {
  categoryLabel, channelLabel, errorText, groupLabel, presenceLabel, roleLabel, severityLabel,
} from "/static/shared/labels.js";
import catalog from "../i18n/admin.js";
import common from "/static/shared/i18n/common.js";

register(catalog);
register(common);

const PLACEHOLDERS = "{customer.name}, {customer.first_name}, {customer.email}, {organization.name}, {agent.name}, "
  + "{agent.first_name}, {conversation.id}, {conversation.subject}; {customer.first_name|…}";

export class AdminView {
  constructor(el, ctx) {
    this.el = el;
    this.ctx = ctx;
    this.people = new PeopleSection(ctx);
    this.page = "team";
    this.screens = new Map();
  }

  // The admin page: a tab per screen ("Team and routing" first, then js/settings/pages.js),
  // one screen shown at a time.
  async show() {
    const pages = [{ key: "team", label: () => t("settings.nav.team") }, ...SETTINGS_PAGES];
    if (!pages.some((p) => p.key === this.page)) this.page = "team";
    const nav = h("nav", { class: "settings-nav", "aria-label": t("settings.nav.label") },
      pages.map((p) => h("button", {
        type: "button", "data-testid": `settings-nav-${p.key}`, "aria-pressed": String(p.key === this.page),
        class: p.key === this.page ? "active" : null, onclick: () => { this.page = p.key; this.show(); },
      }, p.label())));
    this.body = h("div", { class: "settings-body" });
    replace(this.el, nav, this.body);
    const page = pages.find((p) => p.key === this.page);
    if (page.key === "team") return this._team();
    if (!this.screens.has(page.key)) this.screens.set(page.key, page.make(this.ctx));
    replace(this.body, h("div", { class: "muted" }, t("shell.loading")));
    try {
      replace(this.body, await this.screens.get(page.key).render());
    } catch (err) {
      replace(this.body, h("div", { class: "error" }, errorText(err)));
    }
  }

  async _team() {
    // The body this call fills: another tab chosen meanwhile has its own (this.body moves on).
    const body = this.body;
    replace(body, h("div", { class: "muted" }, t("shell.loading")));
    let agents, rules, canned, support;
    try {
      [agents, rules, canned, support] = await Promise.all([
        api("GET", "/api/desk/agents"),
        api("GET", "/api/desk/rules"),
        api("GET", "/api/desk/canned-replies"),
        api("GET", "/api/groups/support").catch(() => null),
      ]);
    } catch (err) {
      replace(body, h("div", { class: "error" }, errorText(err)));
      return;
    }
    this.agents = agents.agents;
    const people = await this.people.render();
    replace(body,
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
      this.ctx.toast(errorText(err), true);
    }
  }

  get manage() {
    return this.ctx.me.can.manage;
  }

  _agentName(id) {
    const agent = this.agents.find((a) => a.id === id);
    return agent ? agent.name : `#${id}`;
  }

  _agentSelect(name, label, value, allowNone) {
    const select = h("select", { name, disabled: !this.manage, "aria-label": label },
      allowNone ? h("option", { value: "" }, t("admin.nobody")) : null,
      this.agents.map((a) => h("option", { value: String(a.id) }, a.name)));
    select.value = value == null ? "" : String(value);
    return select;
  }

  _agents(agents) {
    return h("section", { "data-testid": "admin-agents" }, h("h2", {}, t("admin.agents")),
      h("table", {}, h("tr", {}, h("th", {}, t("admin.name")), h("th", {}, t("admin.role")), h("th", {}, t("admin.status")),
        h("th", {}, t("admin.live_chats")), h("th", {}, t("admin.limit"))),
      agents.map((a) => {
        const limit = h("input", { type: "number", name: "max_chats", min: "0", max: "100", value: String(a.max_chats),
          disabled: !this.manage, "aria-label": t("admin.limit_of", { name: a.name }) });
        const row = h("tr", {}, h("td", {}, a.name), h("td", {}, roleLabel(a.role)), h("td", {}, presenceLabel(a.status)),
          h("td", {}, String(a.active_chats)), h("td", {}, limit));
        // A refused limit is marked on its own row's input (the server names "max_chats").
        limit.addEventListener("change", () => teamSend(this, row, "PATCH", `/api/desk/agents/${a.id}`,
          { max_chats: limit.value === "" ? null : Number(limit.value) }));
        return row;
      })));
  }

  _rules(data) {
    const def = this._agentSelect("user_id", t("admin.default_assignee"), data.default_assignee_id, true);
    const defBox = h("label", {}, t("admin.default_assignee"), " ", def);
    def.addEventListener("change", () => teamSend(this, defBox, "PUT", "/api/desk/default-assignee",
      { user_id: def.value ? Number(def.value) : null }));
    const rows = data.rules.map((r, i) => {
      const enabled = h("input", { type: "checkbox", disabled: !this.manage, "aria-label": t("admin.rule_enabled", { name: r.name }) });
      enabled.checked = r.enabled;
      enabled.addEventListener("change", () => this._do("PATCH", `/api/desk/rules/${r.id}`, { enabled: enabled.checked }));
      const swap = (other) => other && Promise.all([
        api("PATCH", `/api/desk/rules/${r.id}`, { position: other.position }),
        api("PATCH", `/api/desk/rules/${other.id}`, { position: r.position }),
      ]).then(() => this.show(), (err) => this.ctx.toast(errorText(err), true));
      return h("tr", {}, h("td", {}, r.name), h("td", {}, r.category ? categoryLabel(r.category) : t("admin.any")),
        h("td", {}, r.severity ? severityLabel(r.severity) : t("admin.any")),
        h("td", {}, r.source ? channelLabel(r.source) : t("admin.any")), h("td", {}, this._agentName(r.assignee_id)), h("td", {}, enabled),
        h("td", {},
          h("button", { disabled: !this.manage || i === 0, title: t("admin.earlier"), onclick: () => swap(data.rules[i - 1]) }, "↑"),
          h("button", { disabled: !this.manage || i === data.rules.length - 1, title: t("admin.later"), onclick: () => swap(data.rules[i + 1]) }, "↓"),
          h("button", { disabled: !this.manage, onclick: () => this._do("DELETE", `/api/desk/rules/${r.id}`) }, t("shell.delete"))));
    });
    const name = h("input", { name: "name", placeholder: t("admin.rule_name"), "aria-label": t("admin.rule_name"), required: true, disabled: !this.manage });
    const category = h("input", { name: "category", placeholder: t("admin.category_key"), "aria-label": t("admin.category_key"), disabled: !this.manage });
    const severity = h("select", { name: "severity", disabled: !this.manage, "aria-label": t("admin.severity") },
      h("option", { value: "" }, t("admin.any_severity")), [1, 2, 3].map((s) => h("option", { value: String(s) }, severityLabel(s))));
    const source = h("input", { name: "source", placeholder: t("admin.source"), "aria-label": t("admin.source"), disabled: !this.manage });
    const assignee = this._agentSelect("assignee", t("admin.assignee"), this.agents[0] && this.agents[0].id, false);
    assignee.dataset.field = "assignee_id";
    const form = h("form", { class: "inline" }, name, category, severity, source, assignee,
      h("button", { type: "submit", disabled: !this.manage }, t("admin.add_rule")));
    form.addEventListener("submit", (ev) => {
      ev.preventDefault();
      teamSend(this, form, "POST", "/api/desk/rules", {
        name: name.value, assignee_id: Number(assignee.value), category: category.value || null,
        severity: severity.value ? Number(severity.value) : null, source: source.value || null,
      });
    });
    return h("section", { "data-testid": "admin-rules" }, h("h2", {}, t("admin.auto_title")),
      h("p", { class: "muted" }, t("admin.auto_help")),
      defBox,
      h("table", {}, h("tr", {}, [t("admin.rule"), t("admin.category"), t("admin.severity_col"), t("admin.source_col"),
        t("admin.agent"), t("admin.on"), ""].map((text) => h("th", {}, text))), rows),
      form);
  }

  _canned(replies) {
    const rows = replies.map((r) => h("tr", {},
      h("td", {}, r.title), h("td", {}, r.shortcut ? `/${r.shortcut}` : ""), h("td", { class: "pre" }, r.body),
      h("td", {}, r.kb_url ? h("a", { href: r.kb_url, target: "_blank", rel: "noopener noreferrer" }, t("admin.kb")) : ""),
      h("td", {}, h("button", { disabled: !this.manage, onclick: () => this._editCanned(r) }, t("shell.edit")),
        h("button", { disabled: !this.manage, onclick: () => this._do("DELETE", `/api/desk/canned-replies/${r.id}`) }, t("shell.delete")))));
    this.cannedForm = this._cannedForm(null);
    return h("section", { "data-testid": "admin-canned" }, h("h2", {}, t("admin.canned_title")),
      // The placeholders are the server's names, the same in every language.
      h("p", { class: "muted" }, t("admin.canned_help"), " ", h("code", { translate: "no" }, PLACEHOLDERS)),
      h("table", {}, h("tr", {}, [t("admin.title"), t("admin.shortcut"), t("admin.text"), t("admin.link"), ""]
        .map((text) => h("th", {}, text))), rows),
      this.cannedForm);
  }

  _cannedForm(reply) {
    const title = h("input", { name: "title", placeholder: t("admin.title"), "aria-label": t("admin.title"), required: true, disabled: !this.manage });
    const shortcut = h("input", { name: "shortcut", placeholder: t("admin.shortcut"), "aria-label": t("admin.shortcut"), disabled: !this.manage });
    const kb = h("input", { name: "kb_url", placeholder: t("admin.kb_placeholder"), "aria-label": t("admin.link"), disabled: !this.manage });
    const body = h("textarea", { name: "body", placeholder: t("admin.body_placeholder"), "aria-label": t("admin.text"), required: true,
      disabled: !this.manage });
    if (reply) {
      title.value = reply.title;
      shortcut.value = reply.shortcut || "";
      kb.value = reply.kb_url || "";
      body.value = reply.body;
    }
    const form = h("form", { class: "inline" }, title, shortcut, kb, body,
      h("button", { type: "submit", disabled: !this.manage }, reply ? t("common.save") : t("admin.add_canned")));
    form.addEventListener("submit", (ev) => {
      ev.preventDefault();
      const payload = { title: title.value, body: body.value, shortcut: shortcut.value || null, kb_url: kb.value || null };
      if (reply) teamSend(this, form, "PATCH", `/api/desk/canned-replies/${reply.id}`, payload);
      else teamSend(this, form, "POST", "/api/desk/canned-replies", payload);
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
    if (!support) return h("section", {}, h("h2", {}, t("admin.groups_title")), h("p", { class: "muted" }, t("admin.not_available")));
    const levelSelect = (value, label) => {
      const select = h("select", { disabled: !this.manage, "aria-label": label },
        [1, 2, 3].map((l) => h("option", { value: String(l) }, t("labels.level", { level: l }))));
      select.value = String(value);
      return select;
    };
    const rows = support.groups.map((g) => {
      const name = h("input", { value: g.name, disabled: !this.manage, "aria-label": t("admin.name_of", { key: groupLabel(g.key, g.name) }) });
      const level = levelSelect(g.level, t("admin.level_of", { key: groupLabel(g.key, g.name) }));
      // The lead the escalation ladder's "notify the group's lead" pages (catalog: i18n/rules.js).
      const lead = this._agentSelect("lead_id", t("rules.group.lead_of", { key: groupLabel(g.key, g.name) }), g.lead_id, true);
      lead.dataset.testid = `group-lead-${g.key}`;
      const save = () => this._do("PATCH", `/api/desk/groups/${encodeURIComponent(g.key)}`,
        { name: name.value, level: Number(level.value), lead_id: lead.value ? Number(lead.value) : null });
      name.addEventListener("change", save);
      level.addEventListener("change", save);
      lead.addEventListener("change", save);
      return h("tr", {}, h("td", {}, name), h("td", { translate: "no" }, h("code", {}, g.key)), h("td", {}, level),
        h("td", {}, lead),
        h("td", {}, h("button", { disabled: !this.manage,
          onclick: () => this._do("DELETE", `/api/desk/groups/${encodeURIComponent(g.key)}`) }, t("shell.delete"))));
    });
    const key = h("input", { placeholder: t("admin.group_key_placeholder"), required: true, disabled: !this.manage,
      "aria-label": t("admin.new_group_key") });
    const name = h("input", { placeholder: t("admin.name"), required: true, disabled: !this.manage,
      "aria-label": t("admin.new_group_name") });
    const level = levelSelect(2, t("admin.new_group_level"));
    const form = h("form", { class: "inline" }, key, name, level,
      h("button", { type: "submit", disabled: !this.manage }, t("admin.add_group")));
    form.addEventListener("submit", (ev) => {
      ev.preventDefault();
      this._do("POST", "/api/desk/groups", { key: key.value, name: name.value, level: Number(level.value) });
    });
    return h("section", { "data-testid": "admin-groups" }, h("h2", {}, t("admin.groups_title")),
      h("p", { class: "muted" }, t("admin.groups_help")),
      h("table", {}, h("tr", {}, h("th", {}, t("admin.group")), h("th", {}, t("admin.key")), h("th", {}, t("admin.line")),
        h("th", {}, t("rules.group.lead")), h("th", {}, "")), rows),
      form);
  }
}

// A Team-page change (agents, rules, canned replies; issue 19): a refusal marks the control
// the server's `error.field` names inside `box` (settings/form.js) instead of a toast, and
// nothing else changes; a success reloads the page.
async function teamSend(view, box, method, path, body) {
  const done = await submitting(box, async () => {
    await api(method, path, body);
    return true;
  });
  if (done) await view.show();
}

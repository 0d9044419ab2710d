// "People" (issue 19): everyone who signs in (GET /api/users: not anonymous widget
// visitors), searched by name or e-mail and filtered by role, company and whether
// disabled; a support admin changes a person's role, company, name and language, disables
// or enables them (disabling ends their sessions at once) and mails them a password reset
// (the forgot-password link: nobody but them ever sees a password). "Invite a person"
// (../people.js) heads this tab for support admins, as it does "Team and routing", where
// it was first. Read-only staff search and read, with the controls disabled. A refusal marks the field the server names (./form.js).

import { api } from "../api.js";
import { PeopleSection } from "../people.js";
import { h, replace } from "/static/shared/dom.js";
import { LANGUAGE_NAMES, LANGUAGES, fmtDateTime, register, t } from "/static/shared/i18n.js";
import { errorText, roleLabel } from "/static/shared/labels.js";
import { submitting } from "./form.js";
import catalog from "../../i18n/users.js";

register(catalog);

const ROLES = ["agent", "support_admin", "read_only", "customer", "reseller_admin"];
// Which companies a role may belong to (chat.directory.check_membership).
const ORG_KIND = { customer: "customer", reseller_admin: "reseller" };

export class UsersScreen {
  constructor(ctx) {
    this.ctx = ctx;
    this.editing = null;
    this.people = new PeopleSection(ctx);
  }

  get manage() {
    return Boolean(this.ctx.me.can && this.ctx.me.can.manage);
  }

  async render() {
    this.organizations = (await api("GET", "/api/organizations")).organizations;
    this.q = h("input", { type: "search", name: "q", "aria-label": t("users.search"), placeholder: t("users.search") });
    this.role = h("select", { name: "role", "aria-label": t("users.role_filter") },
      h("option", { value: "" }, t("users.any_role")), ROLES.map((r) => h("option", { value: r }, roleLabel(r))));
    this.org = h("select", { name: "organization", "aria-label": t("users.company_filter") },
      h("option", { value: "" }, t("users.any_company")),
      this.organizations.map((o) => h("option", { value: String(o.id) }, o.name)));
    this.disabled = h("select", { name: "disabled", "aria-label": t("users.state_filter") },
      h("option", { value: "" }, t("users.any_state")), h("option", { value: "false" }, t("users.active")),
      h("option", { value: "true" }, t("users.disabled")));
    const filters = h("form", { class: "inline", "data-testid": "users-filters", role: "search" },
      this.q, this.role, this.org, this.disabled, h("button", { type: "submit" }, t("users.find")));
    filters.addEventListener("submit", (ev) => { ev.preventDefault(); this._load(); });
    for (const el of [this.role, this.org, this.disabled]) el.addEventListener("change", () => this._load());
    this.list = h("div", { "data-testid": "users-list" });
    const invite = await this.people.render();
    this.el = h("div", {}, invite,
      h("section", { class: "admin", "data-testid": "settings-users" }, h("h2", {}, t("users.title")),
        h("p", { class: "muted" }, t("users.help")), filters, this.list));
    await this._load();
    return this.el;
  }

  _query(after) {
    const params = new URLSearchParams();
    if (this.q.value.trim()) params.set("q", this.q.value.trim());
    for (const [k, el] of [["role", this.role], ["organization", this.org], ["disabled", this.disabled]]) {
      if (el.value) params.set(k, el.value);
    }
    if (after) params.set("after", String(after));
    return `/api/users?${params}`;
  }

  async _load(more) {
    try {
      const data = await api("GET", this._query(more ? this.next : null));
      this.people = more ? [...this.people, ...data.users] : data.users;
      this.next = data.next_after;
      this._draw();
    } catch (err) {
      replace(this.list, h("p", { class: "error" }, errorText(err)));
    }
  }

  _company(id) {
    const org = this.organizations.find((o) => o.id === id);
    return org ? org.name : "—";
  }

  _draw() {
    if (!this.people.length) {
      replace(this.list, h("p", { class: "muted" }, t("users.nobody")));
      return;
    }
    const head = [t("users.name"), t("users.email"), t("users.role"), t("users.company"), t("users.language"),
      t("users.state"), t("users.last_sign_in"), ""];
    const rows = this.people.map((u) => {
      const row = h("tr", { "data-testid": "user-row", "data-email": u.email || "" },
        h("td", {}, u.name || "—"), h("td", {}, u.email || "—"), h("td", {}, roleLabel(u.role)),
        h("td", {}, this._company(u.organization_id)), h("td", {}, LANGUAGE_NAMES[u.language] || u.language),
        h("td", {}, u.disabled ? t("users.disabled") : t("users.active")),
        h("td", {}, u.last_sign_in_at ? fmtDateTime(u.last_sign_in_at) : t("users.never")),
        h("td", {}, this._actions(u)));
      return this.editing === u.id ? [row, h("tr", {}, h("td", { colspan: 8 }, this._editor(u)))] : row;
    });
    const more = this.next
      ? h("button", { type: "button", onclick: () => this._load(true) }, t("users.more")) : null;
    replace(this.list, h("table", { "data-testid": "users-table" }, h("tr", {}, head.map((x) => h("th", {}, x))), rows), more);
  }

  _actions(u) {
    const who = u.email || u.name;
    const off = !this.manage || u.id === this.ctx.me.user.id;
    return [
      h("button", { type: "button", disabled: !this.manage, "aria-label": t("users.edit_named", { who }),
        onclick: () => { this.editing = this.editing === u.id ? null : u.id; this._draw(); } }, t("users.edit")),
      h("button", { type: "button", disabled: off, "aria-label": t(u.disabled ? "users.enable_named" : "users.disable_named", { who }),
        onclick: (ev) => this._toggle(u, ev.currentTarget) }, t(u.disabled ? "users.enable" : "users.disable")),
      u.email ? h("button", { type: "button", disabled: off || u.disabled, "aria-label": t("users.reset_named", { who }),
        onclick: (ev) => this._reset(u, ev.currentTarget) }, t("users.reset")) : null,
    ];
  }

  async _toggle(u, button) {
    button.disabled = true;
    try {
      const { user } = await api("POST", `/api/users/${u.id}/${u.disabled ? "enable" : "disable"}`);
      this.people = this.people.map((p) => (p.id === user.id ? { ...p, ...user } : p));
      this.ctx.toast(t(user.disabled ? "users.disabled_done" : "users.enabled_done", { who: user.email || user.name }));
      this._draw();
    } catch (err) {
      this.ctx.toast(errorText(err), true);
      button.disabled = false;
    }
  }

  async _reset(u, button) {
    button.disabled = true;
    try {
      const { queued } = await api("POST", `/api/users/${u.id}/reset-password`);
      this.ctx.toast(t(queued ? "users.reset_sent" : "users.reset_suppressed", { email: u.email }), !queued);
    } catch (err) {
      this.ctx.toast(errorText(err), true);
    } finally {
      button.disabled = false;
    }
  }

  _editor(u) {
    const name = h("input", { name: "name", value: u.name, "aria-label": t("users.name") });
    const role = h("select", { name: "role", "aria-label": t("users.role"), disabled: u.id === this.ctx.me.user.id },
      ROLES.map((r) => h("option", { value: r, selected: r === u.role }, roleLabel(r))));
    const organization = h("select", { name: "organization", "aria-label": t("users.company") });
    const fill = () => {
      const kind = ORG_KIND[role.value];
      const choices = kind ? this.organizations.filter((o) => o.kind === kind) : [];
      replace(organization, h("option", { value: "" }, kind ? t("users.no_company") : t("users.platform_staff")),
        choices.map((o) => h("option", { value: String(o.id), selected: o.id === u.organization_id }, o.name)));
    };
    role.addEventListener("change", fill);
    fill();
    const language = h("select", { name: "language", "aria-label": t("users.language") },
      LANGUAGES.map((l) => h("option", { value: l, selected: l === u.language }, LANGUAGE_NAMES[l])));
    const form = h("form", { class: "inline", "data-testid": "user-edit" }, name, role, organization, language,
      h("button", { type: "submit", class: "primary" }, t("users.save")),
      h("button", { type: "button", onclick: () => { this.editing = null; this._draw(); } }, t("users.cancel")));
    form.addEventListener("submit", async (ev) => {
      ev.preventDefault();
      const body = { name: name.value, organization: organization.value ? Number(organization.value) : null,
        language: language.value };
      if (role.value !== u.role) body.role = role.value;
      const done = await submitting(form, () => api("PATCH", `/api/users/${u.id}`, body));
      if (!done) return;
      this.people = this.people.map((p) => (p.id === done.user.id ? { ...p, ...done.user } : p));
      this.editing = null;
      this.ctx.toast(t("users.saved"));
      this._draw();
    });
    return form;
  }
}

// "Invite a person" (issue 15, item 6), a section of the admin page for support admins:
// the person is created without a password and mailed a link to set their own
// (POST /api/users with "invite": true), so no password is passed around by hand. The
// people invited from this page are listed with "Resend invitation"
// (POST /api/users/{id}/invite); there is no API listing users, so the list lasts as long
// as the page. The server decides who may invite whom; this only offers the form to the
// role that may use it.

import { api } from "./api.js";
import { h, replace } from "/static/shared/dom.js";

const ROLES = [
  ["agent", "Agent"],
  ["support_admin", "Support admin"],
  ["read_only", "Read-only"],
  ["customer", "Customer user"],
  ["reseller_admin", "Partner admin"],
];
// Which organizations a role may belong to (chat.directory.add_user): staff to none, a
// customer user to a customer company (or none), a partner admin to a reseller.
const ORG_KIND = { customer: "customer", reseller_admin: "reseller" };
const ORG_REQUIRED = new Set(["reseller_admin"]);
// The languages mails are written in (chat.validation.LANGUAGES).
const LANGUAGES = [["en", "English"], ["pt-BR", "Português (Brasil)"], ["de", "Deutsch"], ["es", "Español"], ["ru", "Русский"]];

export class PeopleSection {
  constructor(ctx) {
    this.ctx = ctx;
    this.invited = [];
    this.organizations = null;
  }

  get allowed() {
    return this.ctx.me.user.role === "support_admin";
  }

  // The section, built afresh each time the admin page renders; the list of invited
  // people survives re-renders.
  async render() {
    if (!this.allowed) return null;
    if (this.organizations === null) {
      try {
        this.organizations = (await api("GET", "/api/organizations")).organizations;
      } catch (err) {
        this.organizations = [];
        this.ctx.toast(err.message, true);
      }
    }
    this.list = h("div", { "data-testid": "invited-people" });
    this._renderList();
    return h("section", { "data-testid": "admin-invite" }, h("h2", {}, "Invite a person"),
      h("p", { class: "muted" }, "They receive an e-mail with a link to set their own password (valid 7 days)."),
      this._form(), this.list);
  }

  _form() {
    const email = h("input", { type: "email", name: "email", placeholder: "E-mail", required: true, "aria-label": "E-mail" });
    const name = h("input", { name: "name", placeholder: "Name", "aria-label": "Name" });
    const role = h("select", { name: "role", "aria-label": "Role" }, ROLES.map(([v, label]) => h("option", { value: v }, label)));
    const organization = h("select", { name: "organization", "aria-label": "Organization" });
    const language = h("select", { name: "language", "aria-label": "Language" },
      LANGUAGES.map(([v, label]) => h("option", { value: v }, label)));
    const result = h("div", { "data-testid": "invite-result", role: "status" });
    const submit = h("button", { type: "submit", class: "primary" }, "Send invitation");
    const fillOrganizations = () => {
      const kind = ORG_KIND[role.value];
      const choices = kind ? this.organizations.filter((o) => o.kind === kind) : [];
      replace(organization,
        ORG_REQUIRED.has(role.value) ? null : h("option", { value: "" }, kind ? "(no organization)" : "(platform staff)"),
        choices.map((o) => h("option", { value: String(o.id) }, o.name)));
      organization.disabled = !kind;
    };
    role.addEventListener("change", fillOrganizations);
    fillOrganizations();
    const form = h("form", { class: "inline", "data-testid": "invite-form" }, email, name, role, organization, language, submit,
      result);
    form.addEventListener("submit", async (ev) => {
      ev.preventDefault();
      submit.disabled = true;
      result.className = "";
      result.textContent = "";
      try {
        const data = await api("POST", "/api/users", {
          email: email.value, name: name.value, role: role.value, language: language.value, invite: true,
          organization: organization.value ? Number(organization.value) : null,
        });
        const who = data.user.email;
        // Not queued: the address is on the suppression list (it refused mail for good).
        result.textContent = data.invitation_queued ? `Invitation sent to ${who}.`
          : `${who} was added, but no invitation could be sent: the address is on the suppression list.`;
        result.className = data.invitation_queued ? "ok" : "error";
        this.invited.unshift(data.user);
        this._renderList();
        email.value = "";
        name.value = "";
      } catch (err) {
        result.className = "error";
        result.textContent = err.message;
      } finally {
        submit.disabled = false;
      }
    });
    return form;
  }

  _renderList() {
    if (!this.invited.length) {
      replace(this.list);
      return;
    }
    const rows = this.invited.map((u) => {
      const resend = h("button", { type: "button", "aria-label": `Resend invitation to ${u.email}` }, "Resend invitation");
      resend.addEventListener("click", () => this._resend(u, resend));
      return h("tr", {}, h("td", {}, u.email), h("td", {}, u.name), h("td", {}, u.role.replace("_", " ")), h("td", {}, resend));
    });
    replace(this.list, h("h3", {}, "Invited from this page"),
      h("table", {}, h("tr", {}, ["E-mail", "Name", "Role", ""].map((t) => h("th", {}, t))), rows));
  }

  async _resend(user, button) {
    button.disabled = true;
    try {
      const data = await api("POST", `/api/users/${user.id}/invite`);
      this.ctx.toast(data.queued ? `Invitation sent again to ${user.email}.`
        : `No invitation could be sent to ${user.email}: the address is on the suppression list.`, !data.queued);
    } catch (err) {
      // 409 password_already_set: they accepted already and sign in with their password.
      this.ctx.toast(err.message, true);
    } finally {
      button.disabled = false;
    }
  }
}

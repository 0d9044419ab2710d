// "Invite a person" (issue 15, item 6), a section of the admin page for support admins:
// the person is created without a password and mailed a link to set their own
// (POST /api/users with "invite": true), so no password is passed around by hand. The
// people invited from this page are listed with "Resend invitation"
// (POST /api/users/{id}/invite); that list lasts as long as the page (everyone is on the
// People tab, ./settings/users.js). The server decides who may invite whom; this only offers the form to the
// role that may use it.

import { api } from "./api.js";
import { h, replace } from "/static/shared/dom.js";
import { LANGUAGE_NAMES, LANGUAGES, register, t } from "/static/shared/i18n.js";
import { errorText, roleLabel } from "/static/shared/labels.js";
import catalog from "../i18n/admin.js";
import common from "/static/shared/i18n/common.js";

register(catalog);
register(common);

const ROLES = ["agent", "support_admin", "read_only", "customer", "reseller_admin"];
// Which organizations a role may belong to (chat.directory.add_user): staff to none, a
// customer user to a customer company (or none), a partner admin to a reseller.
const ORG_KIND = { customer: "customer", reseller_admin: "reseller" };
const ORG_REQUIRED = new Set(["reseller_admin"]);

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
        this.ctx.toast(errorText(err), true);
      }
    }
    this.list = h("div", { "data-testid": "invited-people" });
    this._renderList();
    return h("section", { "data-testid": "admin-invite" }, h("h2", {}, t("people.title")),
      h("p", { class: "muted" }, t("people.help")),
      this._form(), this.list);
  }

  _form() {
    const email = h("input", { type: "email", name: "email", placeholder: t("shell.email"), required: true, "aria-label": t("shell.email") });
    const name = h("input", { name: "name", placeholder: t("admin.name"), "aria-label": t("admin.name") });
    const role = h("select", { name: "role", "aria-label": t("admin.role") }, ROLES.map((v) => h("option", { value: v }, roleLabel(v))));
    const organization = h("select", { name: "organization", "aria-label": t("people.organization") });
    // The languages mails and screens are written in (chat.validation.LANGUAGES), each in its own
    // name. Picking one chooses it for the person (their console or portal opens in it); the
    // first choice leaves it to their browser until they pick one themselves.
    const language = h("select", { name: "language", "aria-label": t("common.language") },
      h("option", { value: "" }, t("common.language_auto")),
      LANGUAGES.map((v) => h("option", { value: v }, LANGUAGE_NAMES[v])));
    const result = h("div", { "data-testid": "invite-result", role: "status" });
    const submit = h("button", { type: "submit", class: "primary" }, t("people.send"));
    const fillOrganizations = () => {
      const kind = ORG_KIND[role.value];
      const choices = kind ? this.organizations.filter((o) => o.kind === kind) : [];
      replace(organization,
        ORG_REQUIRED.has(role.value) ? null : h("option", { value: "" }, kind ? t("people.no_org") : t("people.platform_staff")),
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
          email: email.value, name: name.value, role: role.value, language: language.value || null, invite: true,
          organization: organization.value ? Number(organization.value) : null,
        });
        const who = data.user.email;
        // Not queued: the address is on the suppression list (it refused mail for good).
        result.textContent = data.invitation_queued ? t("people.sent", { email: who })
          : t("people.suppressed", { email: who });
        result.className = data.invitation_queued ? "ok" : "error";
        this.invited.unshift(data.user);
        this._renderList();
        email.value = "";
        name.value = "";
      } catch (err) {
        result.className = "error";
        result.textContent = errorText(err);
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
      const resend = h("button", { type: "button", "aria-label": t("people.resend_to", { email: u.email }) },
        t("people.resend"));
      resend.addEventListener("click", () => this._resend(u, resend));
      return h("tr", {}, h("td", {}, u.email), h("td", {}, u.name), h("td", {}, roleLabel(u.role)), h("td", {}, resend));
    });
    replace(this.list, h("h3", {}, t("people.invited")),
      h("table", {}, h("tr", {}, [t("shell.email"), t("admin.name"), t("admin.role"), ""].map((text) => h("th", {}, text))), rows));
  }

  async _resend(user, button) {
    button.disabled = true;
    try {
      const data = await api("POST", `/api/users/${user.id}/invite`);
      this.ctx.toast(data.queued ? t("people.sent_again", { email: user.email })
        : t("people.not_sent", { email: user.email }), !data.queued);
    } catch (err) {
      // 409 password_already_set: they accepted already and sign in with their password.
      this.ctx.toast(errorText(err), true);
    } finally {
      button.disabled = false;
    }
  }
}

// "Sign in as this user" (docs/console.md, "Impersonation"): a support admin (an agent too
// when IMPERSONATION_BY_AGENTS is on) enters a customer's account to diagnose, with a
// reason. The customer's session goes to the portal in this tab under the portal's own
// key; the console's session stays in its key, so "End now" there brings the admin back
// here, signed in as themselves. The server decides who may (GET /api/impersonation says
// whether to offer it) and refuses staff, partners, visitors and disabled users.

import { api } from "./api.js";
import { h } from "/static/shared/dom.js";
import { PORTAL_TOKEN_KEY } from "/static/shared/impersonation.js";
import { register, t } from "/static/shared/i18n.js";
import { errorText } from "/static/shared/labels.js";
import catalog from "../i18n/tools.js";
import common from "/static/shared/i18n/common.js";

register(catalog);
register(common);

const REASON_MAX = 500;
let allowed = null; // asked once per page

async function mayImpersonate() {
  if (allowed === null) {
    allowed = api("GET", "/api/impersonation").then((r) => Boolean(r.may_impersonate), () => false);
  }
  return allowed;
}

function askReason(name) {
  return new Promise((resolve) => {
    const reason = h("textarea", { name: "reason", "aria-label": t("impersonate.reason"), required: true, maxlength: String(REASON_MAX),
      placeholder: t("impersonate.why") });
    const error = h("div", { class: "error", role: "alert" });
    const form = h("form", { method: "dialog" }, h("h2", {}, t("impersonate.title", { name })),
      h("p", { class: "muted" }, t("impersonate.help")), reason, error,
      h("div", { class: "buttons" },
        h("button", { type: "button", onclick: () => dialog.close("cancel") }, t("common.cancel")),
        h("button", { type: "submit", class: "primary", value: "ok" }, t("impersonate.button"))));
    const dialog = h("dialog", { "data-testid": "impersonate-dialog" }, form);
    form.addEventListener("submit", (ev) => {
      if (!reason.value.trim()) {
        ev.preventDefault();
        error.textContent = t("impersonate.give_reason");
      }
    });
    dialog.addEventListener("close", () => {
      dialog.remove();
      resolve(dialog.returnValue === "ok" ? reason.value.trim() : null);
    });
    document.body.append(dialog);
    dialog.showModal();
    reason.focus();
  });
}

export function impersonateButton(ctx, customer) {
  if (!customer || customer.role !== "customer") return null;
  const button = h("button", { type: "button", hidden: true, "data-testid": "impersonate" }, t("impersonate.button"));
  mayImpersonate().then((ok) => { button.hidden = !ok; });
  button.addEventListener("click", async () => {
    const reason = await askReason(customer.name || customer.email || `#${customer.id}`);
    if (reason === null) return;
    button.disabled = true;
    try {
      const started = await api("POST", `/api/users/${customer.id}/impersonate`, { reason });
      sessionStorage.setItem(PORTAL_TOKEN_KEY, started.token);
      location.assign("/portal/");
    } catch (err) {
      ctx.toast(errorText(err), true);
      button.disabled = false;
    }
  });
  return h("div", { class: "impersonate" }, button);
}

// Impersonation (docs/http.md, "Impersonation"): support signed in as a customer sees, on
// every page of that session, who they are signed in as, by whom, why, when it ends, and a
// button that ends it. Shared by the portal and the console so the banner is one thing.
// Text from the server only ever becomes text (dom.js).

import { h } from "/static/shared/dom.js";
import { fmtTime, register, t } from "/static/shared/i18n.js";
import catalog from "/static/shared/i18n/impersonation.js";

register(catalog);

// Where the console keeps the impersonated session for the portal tab it opens: the portal's
// own per-tab key (sessionStorage), so the admin's console session stays as it was.
export const PORTAL_TOKEN_KEY = "portal.token";

/**
 * Ask the server whether this session impersonates someone; if it does, put the banner at
 * the top of the page and return the impersonation. ``call`` is the page's apiClient;
 * ``onEnded`` runs after "End now" succeeded or the time ran out.
 */
export async function showImpersonationBanner(call, onEnded) {
  document.getElementById("impersonation-banner")?.remove();
  const { impersonation } = await call("GET", "/api/impersonation");
  if (!impersonation) return null;
  const who = impersonation.user.name || impersonation.user.email || `#${impersonation.user.id}`;
  const end = h("button", { type: "button", "data-testid": "impersonation-end" }, t("shared.impersonation.end"));
  const banner = h("div", { id: "impersonation-banner", class: "impersonation-banner", role: "alert",
    "data-testid": "impersonation-banner" },
  h("strong", {}, t("shared.impersonation.signed_in_as", { who })), " ",
  t("shared.impersonation.by", { name: impersonation.impersonator.name, reason: impersonation.reason }),
  " — ", t("shared.impersonation.ends", { time: fmtTime(impersonation.ends_at) }), " — ", end);
  end.addEventListener("click", async () => {
    end.disabled = true;
    try {
      await call("POST", "/api/impersonation/end");
    } catch (err) {
      // 401: it had ended already (expired); either way it is over for this page.
      if (err.status !== 401 && err.status !== 409) {
        end.disabled = false;
        alert(err.message);
        return;
      }
    }
    banner.remove();
    onEnded();
  });
  // The server refuses the session from ends_at on; the page stops pretending at that moment.
  const left = Date.parse(impersonation.ends_at) - Date.now();
  setTimeout(() => { banner.remove(); onEnded(); }, Math.max(0, Math.min(left, 2 ** 31 - 1)));
  document.body.prepend(banner);
  return impersonation;
}

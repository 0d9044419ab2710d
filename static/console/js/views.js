// The inbox views (issue 18): Mine (what I answer: claimed by or assigned to me),
// Unassigned (nobody's), All (everything I may see). The server filters the queues and
// their counts (`view=` on /api/desk/inbox and /api/desk/counts); the choice is saved on
// the person (`ui_prefs.view`, PATCH /api/me), so it follows them to another browser.

import { h } from "/static/shared/dom.js";
import { register, t } from "/static/shared/i18n.js";
import catalog from "../i18n/views.js";

register(catalog);

export const VIEWS = ["mine", "unassigned", "all"];

export function savedView(me) {
  const view = me && me.user && me.user.ui_prefs && me.user.ui_prefs.view;
  return VIEWS.includes(view) ? view : "all";
}

// Whether an item re-read after a doorbell belongs in the view (the server's rule, so a
// claim or a release moves it in or out at once).
export function inView(item, view, myId) {
  const assignee = item.assignee ? item.assignee.id : null;
  if (view === "mine") return assignee === myId;
  if (view === "unassigned") return assignee === null;
  return true;
}

// Three toggle buttons; `onChange(view)` runs once the choice is shown, saving follows.
export function viewSwitch(ctx, current, onChange) {
  const buttons = VIEWS.map((view) => h("button", {
    type: "button", "aria-pressed": String(view === current), dataset: { view, testid: `view-${view}` },
    onclick: () => pick(view),
  }, t(`views.${view}`)));
  const el = h("div", { class: "views", role: "group", "aria-label": t("views.label"), "data-testid": "views" }, buttons);
  async function pick(view) {
    for (const b of buttons) b.setAttribute("aria-pressed", String(b.dataset.view === view));
    onChange(view);
    try {
      const saved = await ctx.api("PATCH", "/api/me", { ui_prefs: { view } });
      if (ctx.me.user) ctx.me.user.ui_prefs = (saved && saved.user && saved.user.ui_prefs) || { ...ctx.me.user.ui_prefs, view };
    } catch (err) {
      ctx.toast(t("views.saved_failed", { error: err.message }), true);
    }
  }
  return el;
}

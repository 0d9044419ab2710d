// Alerts that reach the agent (issue 18; docs/console.md "Alerts"): the server's `attention`
// frames (docs/protocol.md, "Alerts") — work for me: a new chat or ticket in my queues, a
// customer's reply in a conversation I answer, an assignment, a transfer to my group, an SLA
// warning — become a short tone, a desktop notification and a count in the tab's title.
//
// Why on the client and not the server: whether I am looking at the conversation (a focused
// tab with it open) and whether I am away are this console's facts. Quiet while away: the
// count still grows, so nothing is missed on return. The switches (`sound`, default on;
// `desktop`, off until the browser allows it) live in my ui_prefs, so they follow me.
//
// The tone is made with WebAudio (no asset to load, nothing autoplays before a gesture:
// browsers start an AudioContext only after one, so it is created on the first click/key).

import { h } from "/static/shared/dom.js";
import { register, t, fmtNumber } from "/static/shared/i18n.js";
import catalog from "../i18n/alerts.js";

register(catalog);

// A short two-note chime: audible over music, gone before it annoys.
const NOTES = [[880, 0], [1320, 0.12]];
const NOTE_SECONDS = 0.18;

export class Alerts {
  // ctx: the console — me, api, toast, open(id), and what it knows of the screen.
  constructor(ctx) {
    this.ctx = ctx;
    this.unread = new Set();
    this.baseTitle = document.title;
    this.audio = null;
    const unlock = () => this._audioContext();
    addEventListener("pointerdown", unlock, { once: true, capture: true });
    addEventListener("keydown", unlock, { once: true, capture: true });
    // Coming back to the tab counts as seeing the conversation that is open in it.
    addEventListener("focus", () => this.seen(this._openId()));
    document.addEventListener("visibilitychange", () => {
      if (document.visibilityState === "visible" && document.hasFocus()) this.seen(this._openId());
    });
  }

  get prefs() {
    return (this.ctx.me.user && this.ctx.me.user.ui_prefs) || {};
  }

  get soundOn() {
    return this.prefs.sound !== false;
  }

  get desktopOn() {
    return this.prefs.desktop === true && permission() === "granted";
  }

  // The one-time bar under the top bar: shown until the person answers it (either way,
  // stored in their ui_prefs), and only while the browser has not been asked.
  mount(before) {
    if (permission() !== "default" || this.prefs.desktop !== undefined || this.ctx.me.user.role === "read_only") return;
    const bar = h("div", { class: "alert-prompt", role: "region", "aria-label": t("alerts.profile.alerts"),
      "data-testid": "alert-prompt" },
      h("span", {}, t("alerts.prompt")), " ",
      h("button", { class: "primary", onclick: async () => { await this.enableDesktop(); bar.remove(); } }, t("alerts.turn_on")),
      " ",
      h("button", { onclick: async () => { bar.remove(); await this.savePrefs({ desktop: false }); } }, t("alerts.not_now")));
    before.before(bar);
  }

  // From a user gesture (the prompt bar or the profile's button): ask the browser once,
  // then remember the answer for this person.
  async enableDesktop() {
    if (permission() === "unsupported") {
      this.ctx.toast(t("alerts.unsupported"), true);
      return false;
    }
    const answer = permission() === "default" ? await Notification.requestPermission() : permission();
    if (answer !== "granted") {
      this.ctx.toast(t("alerts.denied"), true);
      await this.savePrefs({ desktop: false });
      return false;
    }
    await this.savePrefs({ desktop: true });
    this.ctx.toast(t("alerts.enabled"));
    return true;
  }

  async savePrefs(change) {
    try {
      const data = await this.ctx.api("PATCH", "/api/me", { ui_prefs: change });
      this.ctx.me.user.ui_prefs = data.user.ui_prefs;
    } catch (err) {
      this.ctx.toast(err.message, true);
    }
  }

  // An `attention` frame from the server.
  on(frame) {
    const id = frame.conversation_id;
    if (id === this._openId() && document.visibilityState === "visible" && document.hasFocus()) return;
    this.unread.add(id);
    this._title();
    if (this.ctx.status && this.ctx.status.value === "away") return;
    if (this.soundOn) this.chime();
    if (this.desktopOn) this.notify(frame);
  }

  // I opened (or came back to) a conversation: it no longer counts.
  seen(id) {
    if (id != null && this.unread.delete(id)) this._title();
  }

  chime() {
    const audio = this._audioContext();
    if (!audio) return;
    const start = audio.currentTime;
    for (const [freq, at] of NOTES) {
      const osc = audio.createOscillator();
      const gain = audio.createGain();
      osc.type = "sine";
      osc.frequency.value = freq;
      gain.gain.setValueAtTime(0.0001, start + at);
      gain.gain.exponentialRampToValueAtTime(0.2, start + at + 0.02);
      gain.gain.exponentialRampToValueAtTime(0.0001, start + at + NOTE_SECONDS);
      osc.connect(gain).connect(audio.destination);
      osc.start(start + at);
      osc.stop(start + at + NOTE_SECONDS);
    }
  }

  notify(frame) {
    const [title, body] = describe(frame, (key) => this._groupName(key));
    // One notification per conversation: a newer one replaces it instead of stacking.
    const note = new Notification(title, { body, tag: `conversation-${frame.conversation_id}` });
    note.onclick = () => {
      window.focus();
      this.ctx.open(frame.conversation_id);
      note.close();
    };
  }

  _groupName(key) {
    const queues = (this.ctx.inbox && this.ctx.inbox.queues) || [];
    const queue = queues.find((q) => q.key === `group:${key}`);
    return queue ? queue.name : key;
  }

  _openId() {
    const view = this.ctx.view;
    const onInbox = this.ctx.main && !this.ctx.main.classList.contains("hidden");
    return view && onInbox ? view.id : null;
  }

  _title() {
    const n = this.unread.size;
    document.title = n ? `(${fmtNumber(n)}) ${this.baseTitle}` : this.baseTitle;
  }

  _audioContext() {
    if (this.audio) {
      if (this.audio.state === "suspended") this.audio.resume().catch(() => {});
      return this.audio;
    }
    const Ctx = window.AudioContext || window.webkitAudioContext;
    if (!Ctx) return null;
    this.audio = new Ctx();
    return this.audio;
  }
}

export function permission() {
  return typeof Notification === "undefined" ? "unsupported" : Notification.permission;
}

// The notification's title and body for a frame, in the console's language.
export function describe(frame, groupName = (key) => key) {
  const id = frame.conversation_id;
  const subject = frame.subject || "";
  switch (frame.reason) {
    case "customer_reply":
      return [frame.author ? t("alerts.customer_reply", { name: frame.author, id }) : t("alerts.customer_reply_anon", { id }),
        frame.preview || subject];
    case "assigned":
      return [t("alerts.assigned", { id }), subject];
    case "transferred":
      return [frame.group ? t("alerts.transferred", { id, group: groupName(frame.group) }) : t("alerts.transferred_platform", { id }), subject];
    case "sla_warning": {
      const target = frame.target ? t(`alerts.target.${frame.target}`) : "";
      return [t("alerts.sla_warning", { id }), [t("alerts.sla_warning_body", { target }), subject].filter(Boolean).join(" ")];
    }
    default:
      return [t("alerts.new", { id }), subject];
  }
}

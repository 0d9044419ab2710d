/* Support chat loader: a launcher button, and the chat iframe only once it is needed.
   API and data-* attributes: docs/widget.md. */
(() => {
  "use strict";
  const me = document.currentScript;
  const queued = window.SupportChat;
  if (!me || (queued && queued.version)) return;
  const base = new URL(me.src).origin;
  const d = me.dataset;
  // No token and nothing personal: "this visitor has an open conversation", so the chat
  // loads at once to show replies and the unread badge.
  const hint = "supportchat:" + d.site;
  const tr = (lang) => ({
    pt: ["Abrir chat de suporte", "Nova mensagem"], de: ["Support-Chat öffnen", "Neue Nachricht"],
    es: ["Abrir chat de soporte", "Nuevo mensaje"], ru: ["Открыть чат поддержки", "Новое сообщение"],
  }[(lang || "").slice(0, 2).toLowerCase()] || ["Open support chat", "New message"]);
  let T = tr(d.language || navigator.language);
  const side = d.position === "left" ? "left" : "right";
  const css = (el, style) => Object.assign(el.style, style);
  const add = (tag, parent, ns) => parent.appendChild(ns ? document.createElementNS(ns, tag) : document.createElement(tag));
  const store = (on) => { try { on ? localStorage.setItem(hint, 1) : localStorage.removeItem(hint); } catch (e) {} };

  let frame, ready = false, isOpen = false, unread = 0, reset = false, title = "", blink = 0;
  let identity = d.userId ? { user_id: d.userId, user_hash: d.userHash || "", name: d.userName } : null;
  const listeners = new Set();

  // In a shadow root the page's CSS cannot restyle us; styles set through the DOM are
  // allowed even under a page's strict style-src.
  const holder = document.createElement("div");
  holder.id = "supportchat";
  const root = holder.attachShadow({ mode: "open" });
  const button = add("button", root);
  button.type = "button";
  // The launcher speaks the chat's language (the chat may know the visitor's choice).
  const label = () => { button.title = T[0]; button.setAttribute("aria-label", T[0]); if (frame) frame.title = T[0]; };
  label();
  button.setAttribute("aria-expanded", "false");
  css(button, {
    position: "fixed", bottom: "20px", [side]: "20px", width: "56px", height: "56px", padding: "0", border: "0",
    borderRadius: "50%", background: d.color || "#2855d8", color: "#fff", cursor: "pointer",
    boxShadow: "0 4px 14px rgba(0,0,0,.25)", zIndex: "2147483000",
  });
  const SVG = "http://www.w3.org/2000/svg";
  const svg = add("svg", button, SVG);
  svg.setAttribute("viewBox", "0 0 24 24");
  svg.setAttribute("width", "28");
  svg.setAttribute("height", "28");
  const path = add("path", svg, SVG);
  path.setAttribute("fill", "currentColor");
  path.setAttribute("d", "M4 3h16a2 2 0 0 1 2 2v11a2 2 0 0 1-2 2H8l-5 4V5a2 2 0 0 1 1-2z");
  const badge = add("span", button);
  css(badge, {
    position: "absolute", top: "-4px", right: "-4px", minWidth: "20px", padding: "0 5px", borderRadius: "10px",
    boxSizing: "border-box", background: "#d93025", font: "bold 12px/20px sans-serif", display: "none",
  });
  const panel = add("div", root);
  css(panel, { position: "fixed", display: "none", zIndex: "2147483000", background: "#fff", overflow: "hidden",
    boxShadow: "0 8px 30px rgba(0,0,0,.3)" });
  const small = matchMedia("(max-width: 480px)");
  const fit = () => css(panel, small.matches
    ? { inset: "0", width: "100%", height: "100dvh", borderRadius: "0" }
    : { inset: "auto", bottom: "88px", [side]: "20px", width: "min(380px, calc(100vw - 40px))",
        height: "min(600px, calc(100vh - 110px))", borderRadius: "12px" });
  fit();
  small.addEventListener("change", fit);

  const post = (message) => ready && frame.contentWindow.postMessage(message, base);
  // The host page, for the agent's side panel (docs/widget.md, "Visitor context").
  const page = () => ({ url: location.href, title: document.title, referrer: document.referrer });
  const moved = () => post({ type: "page", page: page() });
  addEventListener("popstate", moved);
  addEventListener("hashchange", moved);

  function load() {
    if (frame) return;
    frame = add("iframe", panel);
    frame.title = T[0];
    const query = new URLSearchParams({ site: d.site, host: location.origin });
    if (d.language) query.set("lang", d.language);
    frame.src = base + "/widget/frame?" + query;
    css(frame, { border: "0", width: "100%", height: "100%", display: "block" });
  }

  function setUnread(count) {
    const grew = count > unread;
    unread = count;
    badge.textContent = count > 99 ? "99+" : count;
    badge.style.display = count ? "block" : "none";
    listeners.forEach((fn) => { try { fn(count); } catch (e) { setTimeout(() => { throw e; }); } });
    // The iframe cannot touch this page's title: a hidden tab learns of a reply here.
    if (grew && document.hidden && !blink) {
      title = document.title;
      let on = false;
      blink = setInterval(() => { document.title = (on = !on) ? "(" + unread + ") " + T[1] : title; }, 1000);
    }
  }

  document.addEventListener("visibilitychange", () => {
    if (!document.hidden && blink) { clearInterval(blink); blink = 0; document.title = title; }
  });

  addEventListener("message", (event) => {
    if (!frame || event.source !== frame.contentWindow || event.origin !== base) return;
    const m = event.data || {};
    if (m.type === "ready") {
      ready = true;
      post({ type: "init", open: isOpen, identity, reset, page: page() });
    } else if (m.type === "unread") setUnread(+m.count || 0);
    else if (m.type === "active") store(m.active);
    else if (m.type === "close") api.close();
    else if (m.type === "lang") { T = tr(m.lang); label(); }
  });

  const show = (on) => {
    isOpen = on;
    panel.style.display = on ? "block" : "none";
    button.setAttribute("aria-expanded", on);
    post({ type: on ? "open" : "close" });
  };
  const api = {
    version: 1,
    open() { load(); show(true); },
    close() {
      show(false);
      // Focus was in the chat (the shadow host holds it): hand it back to the button.
      if (document.activeElement === holder) button.focus();
    },
    toggle() { isOpen ? api.close() : api.open(); },
    identify(user) {
      identity = { user_id: String(user.userId), user_hash: String(user.userHash || ""), name: user.name };
      post({ type: "identify", identity });
    },
    reset() {
      identity = null;
      reset = !ready;
      store(false);
      post({ type: "reset" });
    },
    onUnread(fn) {
      listeners.add(fn);
      fn(unread);
      return () => listeners.delete(fn);
    },
    get unread() { return unread; },
  };
  // Opened by the visitor: their next keys go to the chat.
  button.addEventListener("click", () => { api.toggle(); if (isOpen) frame.focus(); });

  const mount = () => {
    document.body.appendChild(holder);
    try { if (localStorage.getItem(hint)) load(); } catch (e) {}
  };
  document.body ? mount() : document.addEventListener("DOMContentLoaded", mount);
  window.SupportChat = api;
  if (Array.isArray(queued)) queued.forEach(([name, ...args]) => typeof api[name] == "function" && api[name](...args));
  dispatchEvent(new Event("supportchat:ready"));
})();

// The server's two interfaces for the widget, the console and the portal: the hub protocol
// (docs/protocol.md, which ends with how to use this) and the HTTP API (docs/http.md).

// docs/protocol.md, "Close codes": reconnect? Codes not listed (1006: lost) are "backoff".
export const CLOSE = {
  1000: "backoff", 1001: "backoff", 1007: "no", 1009: "backoff", 1011: "backoff", 1012: "backoff", 1013: "backoff",
  4400: "no", 4401: "new token", 4403: "no", 4408: "backoff", 4409: "no", 4429: "pause", 4430: "pause",
};

export class Client {
  constructor(url, token, outbox = []) {
    this.url = url;
    this.token = token;
    this.outbox = outbox.slice(); // unacknowledged sends, in the order written
    this.convs = new Map(); // id -> {joined, keep}
    this.seen = new Map(); // id -> last seq accepted
    this.fns = {};
    this.t = {};
    this.state = "idle";
    this.attempt = 0;
    this.stopped = true;
    this.ws = this.inflight = null;
    this.online = () => { if (!this.ws && !this.stopped) { this.attempt = 0; this.connect(); } };
  }

  on(type, fn) {
    (this.fns[type] ||= []).push(fn);
    return this;
  }

  emit(type, ...args) {
    for (const fn of this.fns[type] || []) {
      try { fn(...args); } catch (e) { console.error(e); }
    }
  }

  start() {
    this.stopped = false;
    addEventListener("online", this.online);
    this.connect();
  }

  stop() {
    this.stopped = true;
    removeEventListener("online", this.online);
    Object.values(this.t).forEach(clearTimeout);
    const ws = this.ws;
    this.down();
    this.setState("idle");
    if (ws) ws.close(1000);
  }

  /** From seq ``after``, else the last one seen. */
  join(id, after) {
    if (after != null) this.seen.set(id, after);
    this.convs.set(id, { keep: true });
    this.sendJoin(id);
  }

  /** Once no send there waits for its ack. */
  leave(id) {
    const c = this.convs.get(id);
    if (c) c.keep = false;
    this.drop(id);
  }

  send(id, body, extra) {
    const item = { conversation_id: id, client_msg_id: uuid(), body, ...extra };
    this.outbox.push(item);
    this.emit("outbox", this.outbox);
    this.flush();
    return item;
  }

  typing(id, state) { this.tell({ type: "typing", conversation_id: id, state }); }

  read(id, seq) { this.tell({ type: "read", conversation_id: id, seq }); }

  /** Sent if online (and joined to its conversation), else dropped. */
  tell(f) {
    if (!f.conversation_id || this.convs.get(f.conversation_id)?.joined) this.put(f);
  }

  put(f) {
    if (this.ws && this.state === "online") this.ws.send(JSON.stringify(f));
  }

  setState(state) {
    if (state !== this.state) this.emit("state", this.state = state);
  }

  connect() {
    clearTimeout(this.t.retry);
    if (this.stopped || this.ws) return;
    this.setState(this.attempt ? "reconnecting" : "connecting");
    let ws;
    try { ws = new WebSocket(this.url); } catch (e) { return this.retry(); }
    this.ws = ws;
    ws.onopen = () => ws.send(JSON.stringify({ type: "auth", token: this.token() }));
    ws.onmessage = (m) => ws === this.ws && this.frame(JSON.parse(m.data));
    ws.onclose = (e) => ws === this.ws && this.closed(e.code);
  }

  down() {
    clearInterval(this.t.ping);
    clearTimeout(this.t.pong);
    this.ws = this.inflight = null;
    for (const c of this.convs.values()) c.joined = false;
  }

  closed(code) {
    const sent = this.outbox.find((i) => i.client_msg_id === this.inflight);
    this.down();
    if (this.stopped) return;
    this.setState("reconnecting");
    // 1009: that frame is not sent again.
    if (code === 1009 && sent) this.fail(sent, { code: "frame_too_large", message: "too large" });
    const how = CLOSE[code] || "backoff";
    if (how === "no" || how === "new token") {
      this.stopped = true;
      this.setState(how === "no" ? "failed" : "auth");
      this.emit("fatal", code);
    } else {
      this.retry(how === "pause" ? 5 : 0);
    }
  }

  retry(floor = 0) {
    if (this.stopped) return;
    // Exponential, 0.5 s to 30 s, full jitter (docs/protocol.md, "Reconnecting well").
    const ceiling = Math.min(30, 0.5 * 2 ** this.attempt++);
    this.t.retry = setTimeout(() => this.connect(), Math.max(floor, Math.random() * ceiling) * 1000);
  }

  sendJoin(id) {
    const c = this.convs.get(id);
    if (c && this.state === "online") {
      c.joined = false;
      this.put({ type: "join", conversation_id: id, after_seq: this.seen.get(id) || 0, ref: "join:" + id });
    }
  }

  drop(id) {
    const c = this.convs.get(id);
    if (c && !c.keep && !this.outbox.some((i) => i.conversation_id === id)) {
      this.tell({ type: "leave", conversation_id: id });
      this.convs.delete(id);
    }
  }

  frame(f) {
    const id = f.conversation_id;
    const c = this.convs.get(id);
    switch (f.type) {
      case "ready":
        this.attempt = 0;
        this.setState("online");
        // A dead socket may never close: ping every 25 s, give up after 10 s without a pong.
        this.t.ping = setInterval(() => {
          this.put({ type: "ping" });
          this.t.pong = setTimeout(() => { const ws = this.ws; this.closed(1006); ws.close(); }, 10000);
        }, 25000);
        this.emit("ready", f);
        // Resume each conversation from its last seq; its sends follow its "joined".
        for (const i of this.convs.keys()) this.sendJoin(i);
        return;
      case "joined":
        if (!c) return;
        c.joined = true;
        this.emit("joined", f);
        this.flush();
        return this.drop(id);
      case "event": {
        const last = this.seen.get(id) || 0;
        if (!c || f.seq <= last) return; // not ours any more, or a repeat
        // A gap: never shown out of order; join again from what we have.
        if (f.prev_seq !== last) return c.joined && this.sendJoin(id);
        this.seen.set(id, f.seq);
        return this.emit("event", f);
      }
      case "ack": {
        // Stored, now or before (duplicate): delivered.
        const item = this.outbox.find((i) => i.client_msg_id === f.client_msg_id);
        if (item) this.remove(item);
        return this.emit("ack", f);
      }
      case "error": return this.error(f);
      case "resync":
        for (const i of id ? [id] : this.convs.keys()) this.sendJoin(i);
        return;
      case "pong": return clearTimeout(this.t.pong);
      case "left":
        // The server took this socket out (access_revoked): a join would be refused, so the
        // conversation and what waits to be sent there end as a refused join does.
        if (f.reason && c) {
          this.convs.delete(id);
          this.outbox.filter((i) => i.conversation_id === id).forEach((i) => this.fail(i, { code: f.reason, message: "you may no longer see this conversation" }));
        }
        break;
    }
    this.emit(f.type, f);
  }

  error(f) {
    const wait = f.retry_after_ms || 1000;
    const later = f.code === "rate_limited" || f.code === "unavailable";
    const ref = f.ref || "";
    if (ref.startsWith("join:")) {
      const id = +ref.slice(5);
      if (later) {
        this.t["j" + id] = setTimeout(() => this.sendJoin(id), wait);
      } else {
        this.convs.delete(id);
        this.outbox.filter((i) => i.conversation_id === id).forEach((i) => this.fail(i, f));
        this.emit("joinFailed", id, f);
      }
      return;
    }
    const item = this.outbox.find((i) => i.client_msg_id === ref);
    if (!item) return this.emit("error", f);
    this.inflight = null;
    if (later) this.t.flush = setTimeout(() => this.flush(), wait);
    else if (f.code === "not_joined") this.sendJoin(item.conversation_id);
    else this.fail(item, f); // sent again, it would fail the same way
  }

  fail(item, f) {
    this.remove(item);
    this.emit("sendFailed", item, f);
  }

  remove(item) {
    this.outbox = this.outbox.filter((i) => i !== item);
    this.emit("outbox", this.outbox);
    if (this.inflight === item.client_msg_id) this.inflight = null;
    this.flush();
    this.drop(item.conversation_id);
  }

  flush() {
    // One send in flight: stored in the order written, whatever drops between.
    if (this.inflight || this.state !== "online") return;
    const item = this.outbox.find((i) => this.convs.has(i.conversation_id));
    if (item && this.convs.get(item.conversation_id).joined) {
      this.inflight = item.client_msg_id;
      this.put({ type: "send", ...item, ref: item.client_msg_id });
    }
  }
}

export function uuid() {
  if (crypto.randomUUID) return crypto.randomUUID();
  return Array.from(crypto.getRandomValues(new Uint8Array(16)), (x) => x.toString(16).padStart(2, "0")).join("");
}

// HTTP. Errors carry status (0: unreachable), code and message. The widget sends no
// cookies ("omit"): it is its token, a staff cookie must not count.
// CSRF_HEADERS: a cookie-signed change without them is refused (403 csrf_failed).
export const CSRF_HEADERS = Object.freeze({ "X-Requested-With": "supportchat" });
export const apiClient = (token, credentials = "same-origin") => async (method, path, body) => {
  const headers = { Accept: "application/json", ...CSRF_HEADERS };
  if (token()) headers.Authorization = "Bearer " + token();
  if (body !== undefined) headers["Content-Type"] = "application/json";
  const r = await fetch(path, { method, headers, credentials, cache: "no-store", body: body && JSON.stringify(body) })
    .catch(() => ({ status: 0, statusText: "the server cannot be reached" }));
  const data = r.status === 204 ? null : await r.json?.().catch(() => null);
  const e = r.ok ? null : (data && data.error) || {};
  if (e) throw Object.assign(new Error(e.message || r.statusText || r.status), { status: r.status, code: e.code || "http_error", field: e.field || null });
  return data;
};

// The hub protocol (docs/protocol.md; what this keeps and why: README.md).

const PING_EVERY_MS = 25000; // below common idle timeouts of proxies and home routers
const PONG_WAIT_MS = 10000; // a socket that cannot answer a ping within this is dead
const BACKOFF_MIN_S = 0.5;
const BACKOFF_MAX_S = 30;
// Close codes after which retrying the same way cannot help (docs/protocol.md).
const FATAL = new Set([4400, 4403, 4409]);

export class Conn {
  /** hooks: token, onState, onReady, onJoined, onEvent, onAck, onSendFailed, onJoinFailed,
   *  onTyping, onRead, onLive, onAuthFailed, onFatal, saveOutbox, onFrame (other frames) */
  constructor(url, hooks, outbox = []) {
    this.url = url;
    this.h = hooks;
    this.outbox = outbox.slice(); // [{conversation_id, client_msg_id, body, attachments}], in typing order
    this.convs = new Map(); // id -> {last, joined}
    this.ws = null;
    this.state = "idle";
    this.attempt = 0;
    this.inflight = null;
    this.stopped = true;
    this.timers = {};
    this.onOnline = () => { if (!this.ws && !this.stopped) { this.attempt = 0; this.connect(); } };
    window.addEventListener("online", this.onOnline);
  }

  start() {
    this.stopped = false;
    if (!this.ws) this.connect();
  }

  stop() {
    this.stopped = true;
    window.removeEventListener("online", this.onOnline);
    Object.values(this.timers).forEach(clearTimeout);
    const ws = this.ws;
    this.teardown();
    if (ws) ws.close(1000);
  }

  join(id, afterSeq = 0) {
    this.convs.set(id, { last: afterSeq, joined: false });
    this.sendJoin(id);
  }

  leave(id) {
    if (this.convs.delete(id)) this.raw({ type: "leave", conversation_id: id });
  }

  send(conversationId, body, attachments = []) {
    const item = { conversation_id: conversationId, client_msg_id: uuid(), body, attachments };
    this.outbox.push(item);
    this.h.saveOutbox(this.outbox);
    this.flush();
    return item;
  }

  typing(id, state) { if (this.convs.get(id)?.joined) this.raw({ type: "typing", conversation_id: id, state }); }

  read(id, seq) { if (this.convs.get(id)?.joined) this.raw({ type: "read", conversation_id: id, seq }); }

  // -- the socket --------------------------------------------------------------------

  setState(state) {
    if (state !== this.state) { this.state = state; this.h.onState(state); }
  }

  connect() {
    clearTimeout(this.timers.retry);
    if (this.stopped || this.ws) return;
    this.setState(this.attempt ? "reconnecting" : "connecting");
    let ws;
    try { ws = new WebSocket(this.url); } catch (e) { this.retry(); return; }
    this.ws = ws;
    ws.onopen = () => this.raw({ type: "auth", token: this.h.token() });
    ws.onmessage = (m) => { if (ws === this.ws) this.frame(JSON.parse(m.data)); };
    ws.onclose = (e) => { if (ws === this.ws) this.closed(e.code); };
  }

  raw(frame) {
    if (this.ws && this.ws.readyState === WebSocket.OPEN) this.ws.send(JSON.stringify(frame));
  }

  teardown() {
    clearInterval(this.timers.ping);
    clearTimeout(this.timers.pong);
    this.ws = null;
    this.inflight = null;
    for (const c of this.convs.values()) c.joined = false;
  }

  closed(code) {
    this.teardown();
    if (this.stopped) return;
    if (code === 4401) { this.setState("auth"); this.h.onAuthFailed(); return; }
    if (FATAL.has(code)) { this.stopped = true; this.setState("failed"); this.h.onFatal(code); return; }
    // 4429: we flooded; come back slowly whatever the backoff says.
    this.retry(code === 4429 ? 5 : 0);
  }

  retry(floorSeconds = 0) {
    if (this.stopped) return;
    this.setState("reconnecting");
    // Full jitter: a server restart does not bring every widget back in the same instant.
    const ceiling = Math.min(BACKOFF_MAX_S, BACKOFF_MIN_S * 2 ** this.attempt++);
    const delay = Math.max(floorSeconds, Math.random() * ceiling);
    this.timers.retry = setTimeout(() => this.connect(), delay * 1000);
  }

  dead() {
    const ws = this.ws;
    this.closed(1006);
    if (ws) ws.close();
  }

  keepAlive() {
    clearInterval(this.timers.ping);
    this.timers.ping = setInterval(() => {
      this.raw({ type: "ping", ref: "ping" });
      clearTimeout(this.timers.pong);
      this.timers.pong = setTimeout(() => this.dead(), PONG_WAIT_MS);
    }, PING_EVERY_MS);
  }

  sendJoin(id) {
    const c = this.convs.get(id);
    if (c && this.state === "online") {
      c.joined = false;
      this.raw({ type: "join", conversation_id: id, after_seq: c.last, ref: "join:" + id });
    }
  }

  // -- frames from the server --------------------------------------------------------

  frame(f) {
    switch (f.type) {
      case "ready":
        this.attempt = 0;
        this.userId = f.user.id;
        this.setState("online");
        this.h.onReady(f.user);
        this.keepAlive();
        for (const id of this.convs.keys()) this.sendJoin(id);
        break;
      case "joined": {
        const c = this.convs.get(f.conversation_id);
        if (!c) break;
        c.joined = true;
        this.h.onJoined(f);
        this.flush();
        break;
      }
      case "event": this.event(f); break;
      case "ack": this.settle(f.client_msg_id); this.h.onAck(f); break;
      case "error": this.error(f); break;
      case "typing": this.h.onTyping(f); break;
      case "read": this.h.onRead(f); break;
      case "resync":
        for (const id of f.conversation_id ? [f.conversation_id] : [...this.convs.keys()]) this.sendJoin(id);
        break;
      case "pong": clearTimeout(this.timers.pong); break;
      case "status": this.h.onLive(f.live); break;
      default: this.h.onFrame(f); // support, alert, and frames of later versions
    }
  }

  event(f) {
    const c = this.convs.get(f.conversation_id);
    if (!c || f.seq <= c.last) return; // not ours any more, or a repeat
    if (f.prev_seq !== c.last) {
      // Something was missed: never show this out of order; ask again from what we have.
      if (c.joined) this.sendJoin(f.conversation_id);
      return;
    }
    c.last = f.seq;
    this.h.onEvent(f);
    // Our own message came back: it is stored even if its ack was lost with a socket.
    if (f.client_msg_id && f.author && f.author.id === this.userId) this.settle(f.client_msg_id);
  }

  error(f) {
    const later = f.code === "rate_limited" || f.code === "unavailable";
    if (f.ref && f.ref.startsWith("join:")) {
      const id = Number(f.ref.slice(5));
      if (later) this.timers["join" + id] = setTimeout(() => this.sendJoin(id), f.retry_after_ms || 1000);
      else this.h.onJoinFailed(id, f.code);
      return;
    }
    const item = this.outbox.find((i) => i.client_msg_id === f.ref);
    if (!item) return;
    this.inflight = null;
    if (later) {
      this.timers.flush = setTimeout(() => this.flush(), f.retry_after_ms || 1000);
    } else if (f.code === "not_joined") {
      this.sendJoin(item.conversation_id);
    } else {
      // conversation_closed, invalid_attachment, message_too_long, …: resending the same
      // frame would fail the same way.
      this.outbox = this.outbox.filter((i) => i !== item);
      this.h.saveOutbox(this.outbox);
      this.h.onSendFailed(item, f.code);
      this.flush();
    }
  }

  settle(clientMsgId) {
    const before = this.outbox.length;
    this.outbox = this.outbox.filter((i) => i.client_msg_id !== clientMsgId);
    if (this.outbox.length !== before) this.h.saveOutbox(this.outbox);
    if (this.inflight === clientMsgId) {
      this.inflight = null;
      this.flush();
    }
  }

  flush() {
    // One message in flight at a time: the server stores them in the order typed.
    if (this.inflight || this.state !== "online") return;
    const item = this.outbox.find((i) => this.convs.has(i.conversation_id));
    if (!item || !this.convs.get(item.conversation_id).joined) return;
    this.inflight = item.client_msg_id;
    this.raw({ type: "send", ...item, ref: item.client_msg_id });
  }
}

export function uuid() {
  if (crypto.randomUUID) return crypto.randomUUID();
  const b = crypto.getRandomValues(new Uint8Array(16));
  return Array.from(b, (x) => x.toString(16).padStart(2, "0")).join("");
}

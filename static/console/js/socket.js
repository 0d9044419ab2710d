// The websocket protocol client (docs/protocol.md): authenticate in the first frame, join
// conversations from the last seq seen, drop repeats, re-join on a gap, reconnect with
// jittered backoff, and resend unacknowledged messages with their original client_msg_id.

const BACKOFF_MIN_MS = 500;
const BACKOFF_MAX_MS = 30000;
const REQUEST_TIMEOUT_MS = 10000;
// Close codes after which retrying with the same token cannot help (docs/protocol.md).
const FATAL_CLOSES = new Set([4401, 4403, 4409]);

export class Socket {
  constructor(url, token) {
    this.url = url;
    this.token = token;
    this.ws = null;
    this.handlers = new Map();
    this.lastSeq = new Map(); // conversation id -> last seq accepted
    this.joined = new Set();
    this.waiters = new Map(); // ref -> {resolve, reject, timer}
    this.unacked = new Map(); // client_msg_id -> send frame
    this.refs = 0;
    this.attempt = 0;
    this.stopped = false;
    this.isReady = false;
    this.user = null;
  }

  on(type, fn) {
    if (!this.handlers.has(type)) this.handlers.set(type, new Set());
    this.handlers.get(type).add(fn);
    return () => this.handlers.get(type).delete(fn);
  }

  emit(type, payload) {
    for (const fn of this.handlers.get(type) || []) {
      try {
        fn(payload);
      } catch (err) {
        console.error("handler for", type, "failed", err);
      }
    }
  }

  connect() {
    this.stopped = false;
    const ws = new WebSocket(this.url);
    this.ws = ws;
    ws.addEventListener("open", () => ws.send(JSON.stringify({ type: "auth", token: this.token })));
    ws.addEventListener("message", (msg) => this._onFrame(JSON.parse(msg.data)));
    ws.addEventListener("close", (ev) => this._onClose(ws, ev.code));
  }

  stop() {
    this.stopped = true;
    if (this.ws) this.ws.close(1000, "bye");
  }

  _onClose(ws, code) {
    if (ws !== this.ws) return;
    const wasReady = this.isReady;
    this.isReady = false;
    for (const [ref, waiter] of this.waiters) {
      clearTimeout(waiter.timer);
      waiter.reject(new Error("connection lost"));
      this.waiters.delete(ref);
    }
    this.emit("down", { code, wasReady });
    if (this.stopped) return;
    if (FATAL_CLOSES.has(code)) {
      this.emit("fatal", { code });
      return;
    }
    // Full jitter: a server restart must not bring every console back in the same instant.
    const ceiling = Math.min(BACKOFF_MAX_MS, BACKOFF_MIN_MS * 2 ** this.attempt);
    this.attempt += 1;
    setTimeout(() => this.stopped || this.connect(), Math.random() * ceiling);
  }

  async _afterReady() {
    for (const id of [...this.joined]) {
      this._sendJoin(id).catch(() => {});
    }
    for (const frame of [...this.unacked.values()]) {
      this._request({ ...frame }).catch(() => {});
    }
  }

  _onFrame(frame) {
    const type = frame.type;
    if (type === "ready") {
      this.isReady = true;
      this.attempt = 0;
      this.user = frame.user;
      this.emit("ready", frame);
      this._afterReady();
      return;
    }
    if (type === "event") {
      this._onEvent(frame);
      return;
    }
    if (type === "ack") this.unacked.delete(frame.client_msg_id);
    if (frame.ref && this.waiters.has(frame.ref)) {
      const waiter = this.waiters.get(frame.ref);
      this.waiters.delete(frame.ref);
      clearTimeout(waiter.timer);
      if (type === "error") waiter.reject(Object.assign(new Error(frame.message), { code: frame.code, frame }));
      else waiter.resolve(frame);
      return;
    }
    if (type === "resync") {
      const ids = frame.conversation_id ? [frame.conversation_id] : [...this.joined];
      for (const id of ids) this._sendJoin(id).catch(() => {});
    }
    this.emit(type, frame);
  }

  _onEvent(event) {
    const id = event.conversation_id;
    const last = this.lastSeq.get(id) || 0;
    if (event.seq <= last) return; // a repeat
    if (event.prev_seq !== last) {
      // Something was missed: never show out of order; ask again from what we have.
      this._sendJoin(id).catch(() => {});
      return;
    }
    this.lastSeq.set(id, event.seq);
    this.emit("event", event);
  }

  _send(frame) {
    if (!this.ws || this.ws.readyState !== WebSocket.OPEN || !this.isReady) return false;
    this.ws.send(JSON.stringify(frame));
    return true;
  }

  _request(frame) {
    const ref = frame.ref || `c${++this.refs}`;
    frame.ref = ref;
    return new Promise((resolve, reject) => {
      if (!this._send(frame)) {
        reject(Object.assign(new Error("not connected"), { code: "offline" }));
        return;
      }
      const timer = setTimeout(() => {
        this.waiters.delete(ref);
        reject(Object.assign(new Error("no answer from the server"), { code: "timeout" }));
      }, REQUEST_TIMEOUT_MS);
      this.waiters.set(ref, { resolve, reject, timer });
    });
  }

  _sendJoin(id) {
    return this._request({ type: "join", conversation_id: id, after_seq: this.lastSeq.get(id) || 0 });
  }

  // Join from the last seq this page has seen of the conversation (0 the first time), so
  // re-opening a conversation or reconnecting resumes without gaps or repeats.
  join(id) {
    this.joined.add(id);
    if (!this.lastSeq.has(id)) this.lastSeq.set(id, 0);
    if (!this.isReady) return Promise.resolve(null); // joined on ready
    return this._sendJoin(id);
  }

  leave(id) {
    this.joined.delete(id);
    if (!this.isReady) return Promise.resolve(null);
    return this._request({ type: "leave", conversation_id: id }).catch(() => null);
  }

  send(conversationId, body, { internal = false } = {}) {
    const clientMsgId = crypto.randomUUID();
    const frame = { type: "send", conversation_id: conversationId, client_msg_id: clientMsgId, body };
    if (internal) frame.internal = true;
    this.unacked.set(clientMsgId, frame);
    return this._request({ ...frame, ref: clientMsgId }).catch((err) => {
      // Refused frames are final; only transport failures are retried after reconnect.
      if (err.code && err.code !== "offline" && err.code !== "timeout" && err.code !== "unavailable") {
        this.unacked.delete(clientMsgId);
      }
      throw err;
    });
  }

  typing(conversationId, state) {
    this._send({ type: "typing", conversation_id: conversationId, state });
  }

  viewing(conversationId, mode) {
    this._send({ type: "viewing", conversation_id: conversationId, mode });
  }

  presence(status) {
    this._send({ type: "presence", status });
  }
}

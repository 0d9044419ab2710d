"""The baseline: a bare ``websockets`` broadcast server with no persistence.

It speaks just enough of our wire protocol (docs/protocol.md) for the same client,
:class:`chat.client.ChatClient`, to drive it exactly as it drives our server:

- ``auth`` → ``ready`` (any token is accepted; it only names the user);
- ``join`` → ``joined``, then the events kept in memory after ``after_seq``, then live ones;
- ``send`` → ``ack`` to the sender, then the ``event`` broadcast to every socket of the room
  (the sender included, as ours does), with ``seq``/``prev_seq`` counted in memory;
- ``leave`` → ``left``, ``ping`` → ``pong``; anything else → ``error``.

Frames are encoded with msgspec like ours and have the same fields, so bytes on the wire
and JSON work are comparable; what the baseline leaves out is everything that makes ours
a product (database, authorization, rate limits, per-socket ordered queues, the broker).
History is kept in memory (bounded) so that resume after a reconnect works too.

Run: ``python -m bench.baseline_server --port 8765``. It runs on uvloop when installed,
because uvicorn (which serves ours) picks uvloop too.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import resource
import signal
from collections import deque
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import msgspec
from websockets.asyncio.server import ServerConnection, broadcast, serve
from websockets.exceptions import ConnectionClosed

# Same limits as ours: the authentication deadline, frame size and keepalive of
# docs/protocol.md, and uvicorn's default listen backlog (the reconnect storm depends on it).
AUTH_TIMEOUT_SECONDS = 5.0
MAX_FRAME_BYTES = 65_536
HEARTBEAT_SECONDS = 20
LISTEN_BACKLOG = 2048
# Events kept per room for resume; far more than any benchmark run replays.
HISTORY_PER_ROOM = 50_000
# Idempotency memory (author, client_msg_id) → ack, cleared wholesale when it gets this big.
ACKS_REMEMBERED = 200_000

_encode = msgspec.json.Encoder().encode
_decode = msgspec.json.Decoder().decode


@dataclass
class Room:
    seq: int = 0
    members: set[ServerConnection] = field(default_factory=set)
    history: deque[tuple[int, str]] = field(default_factory=lambda: deque(maxlen=HISTORY_PER_ROOM))


class BaselineHub:
    def __init__(self) -> None:
        self.rooms: dict[int, Room] = {}
        self.acks: dict[tuple[int, str], str] = {}
        self.next_id = 1
        self.sockets = 0

    async def handler(self, ws: ServerConnection) -> None:
        try:
            first = await asyncio.wait_for(ws.recv(), AUTH_TIMEOUT_SECONDS)
        except TimeoutError:
            await ws.close(4401, "authenticate within 5 seconds")
            return
        except ConnectionClosed:
            return
        try:
            frame = _decode(first)
        except msgspec.DecodeError:
            await ws.close(4400, "invalid_json")
            return
        if not isinstance(frame, dict) or frame.get("type") != "auth" or not isinstance(frame.get("token"), str):
            await ws.close(4400, "the first frame must be auth")
            return
        token: str = frame["token"]
        user_id = int(token.rpartition(":")[2]) if token.rpartition(":")[2].isdigit() else 0
        user = {"id": user_id, "name": f"user {user_id}", "role": "visitor"}
        await ws.send(_encode({
            "type": "ready", "user": user, "server_time": datetime.now(UTC).isoformat(),
            "limits": {"max_frame_bytes": MAX_FRAME_BYTES, "max_message_chars": 10_000,
                       "rate_per_second": 0, "burst": 0},
            "heartbeat_seconds": HEARTBEAT_SECONDS, "live": True,
        }).decode())
        joined: set[int] = set()
        self.sockets += 1
        try:
            async for text in ws:
                if isinstance(text, bytes):
                    await ws.close(4400, "text frames only")
                    return
                await self._handle(ws, user, joined, text)
        except ConnectionClosed:
            pass
        finally:
            self.sockets -= 1
            for conv_id in joined:
                room = self.rooms.get(conv_id)
                if room is not None:
                    room.members.discard(ws)

    async def _reply(self, ws: ServerConnection, frame: dict[str, Any], ref: Any) -> None:
        if ref is not None:
            frame["ref"] = ref
        await ws.send(_encode(frame).decode())

    async def _handle(self, ws: ServerConnection, user: dict[str, Any], joined: set[int], text: str) -> None:
        try:
            frame = _decode(text)
        except msgspec.DecodeError:
            await self._reply(ws, {"type": "error", "code": "invalid_json", "message": "not JSON"}, None)
            return
        if not isinstance(frame, dict):
            await self._reply(ws, {"type": "error", "code": "invalid_json", "message": "not an object"}, None)
            return
        kind, ref = frame.get("type"), frame.get("ref")
        if kind == "send":
            await self._send(ws, user, joined, frame, ref)
        elif kind == "join":
            conv_id, after = int(frame["conversation_id"]), int(frame.get("after_seq", 0))
            room = self.rooms.setdefault(conv_id, Room())
            # Written synchronously (no await in between), so no live event can slip in
            # between the answer and the backlog: the socket sees one ordered stream.
            answer: dict[str, Any] = {"type": "joined", "conversation_id": conv_id, "last_seq": room.seq, "read_seq": 0}
            if ref is not None:
                answer["ref"] = ref
            broadcast([ws], _encode(answer).decode())
            for seq, item in room.history:
                if seq > after:
                    broadcast([ws], item)
            room.members.add(ws)
            joined.add(conv_id)
        elif kind == "leave":
            conv_id = int(frame["conversation_id"])
            joined.discard(conv_id)
            if conv_id in self.rooms:
                self.rooms[conv_id].members.discard(ws)
            await self._reply(ws, {"type": "left", "conversation_id": conv_id}, ref)
        elif kind == "ping":
            await self._reply(ws, {"type": "pong"}, ref)
        else:
            await self._reply(ws, {"type": "error", "code": "invalid_frame", "message": f"unsupported: {kind}"}, ref)

    async def _send(self, ws: ServerConnection, user: dict[str, Any], joined: set[int], frame: dict[str, Any], ref: Any) -> None:
        conv_id = int(frame["conversation_id"])
        cid = str(frame["client_msg_id"])
        if conv_id not in joined:
            await self._reply(ws, {"type": "error", "code": "not_joined", "message": "join first",
                             "conversation_id": conv_id}, ref)
            return
        known = self.acks.get((user["id"], cid))
        if known is not None:
            ack = _decode(known)
            ack["duplicate"] = True
            await self._reply(ws, ack, ref)
            return
        room = self.rooms[conv_id]
        room.seq += 1
        now = datetime.now(UTC).isoformat()
        event_id, self.next_id = self.next_id, self.next_id + 1
        event = _encode({
            "type": "event", "conversation_id": conv_id, "seq": room.seq, "id": event_id, "kind": "message",
            "author": user, "body": frame["body"], "data": {}, "client_msg_id": cid, "created_at": now,
            "prev_seq": room.seq - 1, "internal": False,
        }).decode()
        room.history.append((room.seq, event))
        ack = {"type": "ack", "conversation_id": conv_id, "client_msg_id": cid, "id": event_id, "seq": room.seq,
               "created_at": now, "duplicate": False}
        if len(self.acks) >= ACKS_REMEMBERED:
            self.acks.clear()
        self.acks[(user["id"], cid)] = _encode(ack).decode()
        # Ack and broadcast without yielding in between, so two senders in one room cannot
        # reorder their events on the wire (seq order is the order of these writes).
        if ref is not None:
            ack["ref"] = ref
        broadcast([ws], _encode(ack).decode())
        broadcast(room.members, event)


def raise_fd_limit() -> int:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


async def main(host: str, port: int) -> None:
    hub = BaselineHub()
    stop = asyncio.get_running_loop().create_future()
    for sig in (signal.SIGTERM, signal.SIGINT):
        asyncio.get_running_loop().add_signal_handler(sig, lambda: stop.done() or stop.set_result(None))
    async with serve(hub.handler, host, port, compression=None, max_size=MAX_FRAME_BYTES,
                     ping_interval=HEARTBEAT_SECONDS, ping_timeout=HEARTBEAT_SECONDS, backlog=LISTEN_BACKLOG):
        await stop


def run() -> None:
    parser = argparse.ArgumentParser(description="bare websockets broadcast server (benchmark baseline)")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--loop", choices=["auto", "asyncio", "uvloop"], default="auto")
    args = parser.parse_args()
    raise_fd_limit()
    use_uvloop = args.loop == "uvloop"
    if args.loop == "auto":
        with contextlib.suppress(ImportError):
            import uvloop

            use_uvloop = True
    if use_uvloop:
        import uvloop

        uvloop.run(main(args.host, args.port))
    else:
        asyncio.run(main(args.host, args.port))


if __name__ == "__main__":
    run()

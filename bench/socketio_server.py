"""The peer: a chat server written as a typical python-socketio app would be.

``socketio.AsyncServer(async_mode="asgi")`` wrapped in ``socketio.ASGIApp`` and served by
uvicorn with the options ``supportchat serve`` gives ours where they apply (uvloop via
``loop="auto"``, websockets-sansio, no permessage-deflate, log level warning, no access
log), so the difference measured is the application stack, not the server's settings.

Events, as such an app handles them:

- ``join`` {room} → enter the Socket.IO room; the ack answers the room's last seq;
- ``send`` {room, body, client_id} → the room's next seq; an ``event`` {room, seq, body,
  client_id} to everyone in the room (the sender included, as ours echoes to the sender);
  the ack answers the seq;
- ``ping`` → ``"pong"`` (the idle scenario's liveness check).

Two variants: without persistence (seq counters in memory, as such apps usually run) and
``--sqlite PATH``: each message is stored in SQLite — one row, committed — before it is
broadcast and acknowledged, what a careful app does. The durability settings are ours
(chat/db.py and chat/writer.py): WAL, ``synchronous=NORMAL`` (durable at checkpoints, a
commit does not fsync), ``busy_timeout=5000``. The store is one aiosqlite connection: its
single thread runs the statements in the order they were queued, so commits (and therefore
broadcasts) follow the order in which the seqs were handed out.

Run: ``python -m bench.socketio_server --port 8767 [--sqlite /tmp/peer.db] [--profile out.prof]``.
"""

from __future__ import annotations

import argparse
import resource
import sys
import time
from typing import Any

import aiosqlite
import socketio  # type: ignore[import-untyped]  # python-socketio ships no type information
import uvicorn

# Ours' SQLite settings (chat/db.py _configure_sqlite, chat/writer.py _open_sqlite), so a
# commit here is as durable as one of ours.
SQLITE_PRAGMAS = ("journal_mode=WAL", "synchronous=NORMAL", "busy_timeout=5000")
SCHEMA = """
CREATE TABLE IF NOT EXISTS messages (
    room TEXT NOT NULL,
    seq INTEGER NOT NULL,
    client_id TEXT NOT NULL,
    body TEXT NOT NULL,
    created_at REAL NOT NULL,
    PRIMARY KEY (room, seq)
)
"""


class MessageStore:
    """Where the peer keeps each room's seq and, in the SQLite variant, its messages."""

    def __init__(self, db: aiosqlite.Connection | None) -> None:
        self.db = db
        self.last_seq: dict[str, int] = {}

    @classmethod
    async def open(cls, path: str | None) -> MessageStore:
        if path is None:
            return cls(None)
        db = await aiosqlite.connect(path)
        for pragma in SQLITE_PRAGMAS:
            await db.execute(f"PRAGMA {pragma}")
        await db.execute(SCHEMA)
        await db.commit()
        return cls(db)

    async def last(self, room: str) -> int:
        if room not in self.last_seq:
            seq = 0
            if self.db is not None:
                async with self.db.execute("SELECT max(seq) FROM messages WHERE room = ?", (room,)) as cursor:
                    row = await cursor.fetchone()
                seq = int(row[0]) if row and row[0] is not None else 0
            self.last_seq.setdefault(room, seq)
        return self.last_seq[room]

    async def append(self, room: str, body: str, client_id: str) -> int:
        """The message's seq, once it is stored (committed, in the SQLite variant)."""
        seq = await self.last(room) + 1
        self.last_seq[room] = seq  # handed out before the await below: the next send gets the next one
        if self.db is not None:
            await self.db.execute("INSERT INTO messages (room, seq, client_id, body, created_at) VALUES (?, ?, ?, ?, ?)",
                                  (room, seq, client_id, body, time.time()))
            await self.db.commit()
        return seq

    async def close(self) -> None:
        if self.db is not None:
            await self.db.close()


def build_app(sqlite_path: str | None) -> Any:
    """The ASGI app: the Socket.IO server and its three handlers; the store opens at startup."""
    sio = socketio.AsyncServer(async_mode="asgi", logger=False, engineio_logger=False)
    state: dict[str, MessageStore] = {}

    async def startup() -> None:
        state["store"] = await MessageStore.open(sqlite_path)

    async def shutdown() -> None:
        await state["store"].close()

    async def join(sid: str, data: dict[str, Any]) -> int:
        room = str(data["room"])
        await sio.enter_room(sid, room)
        return await state["store"].last(room)

    async def send(sid: str, data: dict[str, Any]) -> int:
        room, body, client_id = str(data["room"]), str(data["body"]), str(data["client_id"])
        seq = await state["store"].append(room, body, client_id)
        await sio.emit("event", {"room": room, "seq": seq, "body": body, "client_id": client_id}, room=room)
        return seq

    async def ping(sid: str, data: Any = None) -> str:
        return "pong"

    for event, handler in (("join", join), ("send", send), ("ping", ping)):
        sio.on(event, handler)
    return socketio.ASGIApp(sio, on_startup=startup, on_shutdown=shutdown)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="the python-socketio peer, as the benchmark runs it")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--sqlite", metavar="PATH", help="store each message in this SQLite file before broadcasting")
    parser.add_argument("--profile", metavar="FILE", help="write a cProfile of the event-loop thread to FILE on exit")
    args = parser.parse_args(argv)
    _soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))

    def serve() -> None:
        # The options of chat/cli.py _serve that apply to a plain ASGI app (no proxy headers:
        # nothing is proxied here; no max size: Socket.IO has its own, max_http_buffer_size).
        uvicorn.run(build_app(args.sqlite), host=args.host, port=args.port, loop="auto", log_level="warning",
                    access_log=False, ws="websockets-sansio", ws_per_message_deflate=False, timeout_keep_alive=5)

    if args.profile:
        import cProfile
        import signal

        # As bench/ours_server.py: uvicorn re-raises the SIGTERM it caught once it has shut
        # down, which would kill the process before the profile is written.
        signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
        profiler = cProfile.Profile()
        try:
            profiler.runcall(serve)
        finally:
            profiler.dump_stats(args.profile)
        return 0
    serve()
    return 0


if __name__ == "__main__":
    sys.exit(main())

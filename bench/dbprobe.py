"""Where a persisted message's time goes on SQLite, measured in-process on a scratch database.

Three views of the same write (``chat.conversations.post_message``):

1. the product's path (the message writer, chat/writer.py): one send at a time (a
   transaction each) and 64 in flight (group commit), wall and CPU per message;
2. the same statements issued with the standard ``sqlite3`` module in one thread with the
   product's PRAGMAs, one transaction per message: what SQLite itself costs;
3. the same, 100 messages per transaction (group commit), and set-based (one seq UPDATE
   and one multi-row INSERT per batch): what batching could reach.

And the resume path (authenticate + join + catch-up, as ``/ws`` runs it): SQLAlchemy
statements and CPU per socket. Nothing here touches the server under test.
"""

from __future__ import annotations

import asyncio
import json
import sqlite3
import time
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import event

from chat import directory, migrate
from chat.auth import authenticate, principal_of, visitor_session
from chat.conversations import post_message, start_conversation
from chat.events import read_events, room_view
from chat.models import OrgKind
from chat.services import Services
from chat.settings import load_settings
from chat.wiring import build_services
from chat.writer import writer_of

BODY = "x" * 200


class Counters:
    def __init__(self) -> None:
        self.statements = 0
        self.hops = 0


def _count(svc: Services, counters: Counters) -> None:
    for engine in {svc.engine, svc.read_engine}:
        @event.listens_for(engine.sync_engine, "before_cursor_execute")
        def on_statement(*_: Any) -> None:
            counters.statements += 1

    import aiosqlite.core

    original = aiosqlite.core.Connection._execute
    if getattr(original, "_bench_counted", False):
        return

    async def counted(self: Any, fn: Any, *args: Any, **kwargs: Any) -> Any:
        counters.hops += 1
        return await original(self, fn, *args, **kwargs)

    counted._bench_counted = True  # type: ignore[attr-defined]
    aiosqlite.core.Connection._execute = counted  # type: ignore[method-assign]


async def _measure(n: int, one: Callable[[int], Awaitable[Any]], counters: Counters) -> dict[str, float]:
    for i in range(min(20, n)):  # warm caches (compiled statements, pool) first
        await one(-1 - i)
    counters.statements = counters.hops = 0
    wall, cpu = time.perf_counter(), time.process_time()
    for i in range(n):
        await one(i)
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    return {"wall_ms": round(wall / n * 1000, 3), "cpu_ms": round(cpu / n * 1000, 3),
            "per_s": round(n / wall, 1), "statements": round(counters.statements / n, 1),
            "aiosqlite_round_trips": round(counters.hops / n, 1)}


async def _measure_concurrent(n: int, window: int, one: Callable[[int], Awaitable[Any]],
                              svc: Services) -> dict[str, float]:
    """``n`` sends with ``window`` in flight at a time (as a busy socket or many sockets
    give the writer): what group commit makes of them."""
    writer = writer_of(svc)
    gate = asyncio.Semaphore(window)

    async def gated(i: int) -> None:
        async with gate:
            await one(i)

    await asyncio.gather(*(gated(-1 - i) for i in range(min(window, n))))
    batches, sends = writer.batches, writer.sends
    wall, cpu = time.perf_counter(), time.process_time()
    await asyncio.gather(*(gated(i) for i in range(n)))
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    per_tx = (writer.sends - sends) / max(1, writer.batches - batches)
    return {"wall_ms": round(wall / n * 1000, 4), "cpu_ms": round(cpu / n * 1000, 4), "per_s": round(n / wall, 1),
            "in_flight": window, "messages_per_transaction": round(per_tx, 1)}


async def product_paths(env: dict[str, str], n: int) -> dict[str, Any]:
    svc = build_services(load_settings(env))
    counters = Counters()
    try:
        org = (await directory.create_organization(svc, None, name="Probe", kind=OrgKind.CUSTOMER)).organization
        site = (await directory.create_site(svc, None, name="Probe", allowed_origins=["https://p.example"],
                                            organization=org.id)).site
        visitor = await visitor_session(svc, site_key=site.public_key, name="Probe visitor")
        principal = principal_of(visitor.user)
        conv = (await start_conversation(svc, principal, subject="probe")).conversation.id
        _count(svc, counters)

        async def send(_: int) -> None:
            await post_message(svc, principal, conv, client_msg_id=uuid.uuid4().hex, body=BODY)

        async def resume(_: int) -> None:
            # What /ws does for one socket: auth, join (one read: visibility, last seq,
            # read position), then the catch-up page (chat/hub/endpoint.py,
            # chat/hub/connection.py); here the page holds the last 3 events.
            p, _user = await authenticate(svc, visitor.token)
            async with svc.reads() as db:
                view = await room_view(db, p, conv)
            async with svc.reads() as db:
                await read_events(db, conv, after_seq=max(0, view.last_seq - 3), staff=False, floor=view.floor,
                                  limit=500)

        one_by_one = await _measure(n, send, counters)
        grouped = await _measure_concurrent(max(n, 20 * 64), 64, send, svc)
        return {"post_message": one_by_one, "post_message_64": grouped,
                "resume": await _measure(n, resume, counters), "conversation_id": conv,
                "user_id": visitor.user.id}
    finally:
        await svc.close()


def _connect(path: Path) -> sqlite3.Connection:
    db = sqlite3.connect(path, isolation_level=None)
    for pragma in ("journal_mode=WAL", "foreign_keys=ON", "busy_timeout=5000", "synchronous=NORMAL"):
        db.execute(f"PRAGMA {pragma}")
    return db


def _raw_message(db: sqlite3.Connection, conv: int, user: int) -> None:
    """The statements post_message issues, in order (captured from SQLAlchemy's log)."""
    cid = uuid.uuid4().hex
    now = datetime.now(UTC).replace(tzinfo=None).isoformat(sep=" ")
    db.execute("SELECT id, conversation_id, seq FROM events WHERE author_id = ? AND client_msg_id = ?", (user, cid)).fetchall()
    db.execute("SELECT * FROM conversations WHERE id = ?", (conv,)).fetchall()
    db.execute("SELECT id FROM participants WHERE conversation_id = ? AND user_id = ? AND left_at IS NULL",
               (conv, user)).fetchall()
    db.execute("SELECT * FROM users WHERE id = ?", (user,)).fetchall()
    db.execute("SAVEPOINT sp")
    seq, public = db.execute(
        "UPDATE conversations SET last_seq = last_seq + 1, updated_at = ? WHERE id = ? RETURNING last_seq, last_public_seq",
        (now, conv)).fetchone()
    db.execute("UPDATE conversations SET last_public_seq = ? WHERE id = ?", (seq, conv))
    db.execute("INSERT INTO events (conversation_id, seq, prev_public_seq, type, author_id, client_msg_id, body, data,"
               " internal, created_at) VALUES (?, ?, ?, 'message', ?, ?, ?, '{}', 0, ?)",
               (conv, seq, public, user, cid, BODY, now))
    db.execute("RELEASE SAVEPOINT sp")


def _raw_batch_set_based(db: sqlite3.Connection, conv: int, user: int, batch: int) -> None:
    now = datetime.now(UTC).replace(tzinfo=None).isoformat(sep=" ")
    last, _public = db.execute(
        "UPDATE conversations SET last_seq = last_seq + ?, last_public_seq = last_seq + ?, updated_at = ? WHERE id = ?"
        " RETURNING last_seq, last_public_seq", (batch, batch, now, conv)).fetchone()
    first = last - batch + 1
    rows = [(conv, seq, seq - 1, user, uuid.uuid4().hex, BODY, now) for seq in range(first, last + 1)]
    db.executemany("INSERT INTO events (conversation_id, seq, prev_public_seq, type, author_id, client_msg_id, body,"
                   " data, internal, created_at) VALUES (?, ?, ?, 'message', ?, ?, ?, '{}', 0, ?)", rows)


def raw_sqlite(path: Path, conv: int, user: int, n: int) -> dict[str, Any]:
    db = _connect(path)
    out: dict[str, Any] = {}
    try:
        def run(label: str, batch: int, set_based: bool) -> None:
            wall, cpu = time.perf_counter(), time.process_time()
            done = 0
            while done < n:
                db.execute("BEGIN IMMEDIATE")
                if set_based:
                    _raw_batch_set_based(db, conv, user, batch)
                else:
                    for _ in range(batch):
                        _raw_message(db, conv, user)
                db.execute("COMMIT")
                done += batch
            wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
            out[label] = {"batch": batch, "wall_ms": round(wall / done * 1000, 4), "cpu_ms": round(cpu / done * 1000, 4),
                          "per_s": round(done / wall, 1)}

        run("same_statements_commit_each", 1, False)
        run("same_statements_commit_per_100", 100, False)
        run("set_based_commit_per_100", 100, True)
    finally:
        db.close()
    return out


async def _layers_async(path: Path, n: int) -> dict[str, float]:
    import aiosqlite
    from sqlalchemy import text
    from sqlalchemy.ext.asyncio import create_async_engine

    import chat.sqlite_inloop  # noqa: F401  (registers sqlite+inloop://)

    out: dict[str, float] = {}

    async def timed(label: str, one: Callable[[], Awaitable[Any]]) -> None:
        for _ in range(50):
            await one()
        wall, cpu = time.perf_counter(), time.process_time()
        for _ in range(n):
            await one()
        out[label] = round((time.process_time() - cpu) / n * 1e6, 1)
        out[label + " (wall)"] = round((time.perf_counter() - wall) / n * 1e6, 1)

    async with aiosqlite.connect(path) as db:
        await timed("aiosqlite, 1 round trip (execute_fetchall)", lambda: db.execute_fetchall("SELECT 1"))

        async def cursor_way() -> None:
            async with db.execute("SELECT 1") as cursor:
                await cursor.fetchall()

        await timed("aiosqlite, cursor: 3 round trips", cursor_way)
    for label, url in (("SQLAlchemy async (aiosqlite)", f"sqlite+aiosqlite:///{path}"),
                       ("SQLAlchemy async (sqlite+inloop, the read engine)", f"sqlite+inloop:///{path}")):
        engine = create_async_engine(url)
        try:
            async with engine.connect() as conn:
                async def sa_async() -> None:
                    (await conn.execute(text("SELECT 1"))).all()

                await timed(label, sa_async)
        finally:
            await engine.dispose()
    return out


def statement_layers(path: Path, n: int = 2000) -> dict[str, float]:
    """CPU µs for one trivial statement (``SELECT 1``) through each layer of the stack,
    so the cost of a layer is the difference between two lines."""
    from sqlalchemy import create_engine, text

    out: dict[str, float] = {}
    db = _connect(path)
    wall, cpu = time.perf_counter(), time.process_time()
    for _ in range(n):
        db.execute("SELECT 1").fetchall()
    out["sqlite3"] = round((time.process_time() - cpu) / n * 1e6, 1)
    out["sqlite3 (wall)"] = round((time.perf_counter() - wall) / n * 1e6, 1)
    db.close()
    engine = create_engine(f"sqlite:///{path}")
    with engine.connect() as conn:
        for _ in range(50):
            conn.execute(text("SELECT 1")).all()
        wall, cpu = time.perf_counter(), time.process_time()
        for _ in range(n):
            conn.execute(text("SELECT 1")).all()
        out["SQLAlchemy sync (pysqlite)"] = round((time.process_time() - cpu) / n * 1e6, 1)
        out["SQLAlchemy sync (pysqlite) (wall)"] = round((time.perf_counter() - wall) / n * 1e6, 1)
    engine.dispose()
    out.update(asyncio.run(_layers_async(path, n)))
    return out


def probe(workdir: Path, secret: str, n: int) -> dict[str, Any]:
    """Run every probe on a fresh migrated database under ``workdir``."""
    workdir.mkdir(parents=True, exist_ok=True)
    path = workdir / "probe.db"
    url = f"sqlite:///{path}"
    migrate.upgrade("sqlite+aiosqlite:///" + str(path))
    env = {"VAR_DIR": str(workdir), "DATABASE_URL": url, "SECRET_KEY": secret, "LOG_LEVEL": "warning"}
    product = asyncio.run(product_paths(env, n))
    raw = raw_sqlite(path, product["conversation_id"], product["user_id"], max(n, 1000))
    return {"product": {k: product[k] for k in ("post_message", "post_message_64", "resume")}, "raw_sqlite": raw,
            "layers": statement_layers(path)}


if __name__ == "__main__":
    import sys
    import tempfile

    with tempfile.TemporaryDirectory(prefix="dbprobe-") as tmp:
        print(json.dumps(probe(Path(tmp), "p" * 40, int(sys.argv[1]) if len(sys.argv) > 1 else 300), indent=2))

"""The per-process message writer: group commit for sends.

Every send of the process joins one queue. One task drains it: it takes everything
waiting (up to :data:`MAX_BATCH`), stores it in ONE transaction (chat/message_batch.py),
and only after the commit resolves each sender's future — an ack is never sent for
something not yet durable — and, for senders that asked, publishes the events in commit
order. While a batch is being written the next one gathers, so the busier the process,
the bigger the batches and the cheaper each message; an idle process writes a lone send
at once (no waiting for company).

Why: through SQLAlchemy's async ORM on aiosqlite one message cost ~7 ms of CPU (ten
statements, ~37 hops to the driver's thread); SQLite itself commits ~10 000 times a
second. Here a batch costs a handful of statements (and at most one hop to the writer's thread),
whatever its size (docs/benchmarks.md has the measurements).

SQLite: the writer has ``sqlite3`` connections of its own with the PRAGMAs of chat/db.py
and ``BEGIN IMMEDIATE`` (the write lock, so ``seq`` and the idempotency check are race-free
across connections and processes): a batch runs inline on the event loop when the lock is
free, and on the writer's thread, which may wait for it, when it is not (``_SqliteFile``).
Other databases (PostgreSQL): one transaction per batch on the process's engine, through
``run_sync``.
"""

from __future__ import annotations

import asyncio
import logging
import sqlite3
from collections import deque
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError, IntegrityError, InterfaceError, OperationalError
from sqlalchemy.ext.asyncio import AsyncEngine

from chat import metrics
from chat.authz import Principal
from chat.db import SQLITE_BUSY_TIMEOUT_MS, PerEngine
from chat.errors import ValidationFailed
from chat.events import publish_events
from chat.message_batch import BatchConflict, Outcome, SendItem, SendResult, SqlAlchemyTx, SqliteTx, write_batch
from chat.services import Services

log = logging.getLogger(__name__)

# Sends per transaction at most: bounds how long one commit holds SQLite's write lock
# (~2 ms at this size) and the size of one INSERT.
MAX_BATCH = 256
# Transactions between two checkpoints of the WAL (run on the writer's thread): with
# SQLite's default of 1 000 pages a checkpoint comes every ~4 MB of WAL; this is about
# as often under a steady load of small batches.
CHECKPOINT_EVERY = 500
# A batch refused by a constraint is retried send by send; a single send that keeps
# losing races (another process claiming the same row each time) gives up after this.
SINGLE_RETRIES = 3


@dataclass
class _Pending:
    item: SendItem
    future: asyncio.Future[SendResult]
    publish: bool


class _Backend(Protocol):
    async def write(self, items: Sequence[SendItem], now: datetime) -> list[Outcome]: ...

    def close(self) -> None: ...


def _as_sqlalchemy_error(exc: Exception) -> Exception:
    """sqlite3's errors as SQLAlchemy's, which every caller already handles ("database
    unavailable": the send did nothing and may be retried)."""
    if isinstance(exc, sqlite3.Error):
        return DBAPIError.instance(None, None, exc, sqlite3.Error)
    if isinstance(exc, BatchConflict):
        return DBAPIError(None, None, exc)
    return exc


def _refused(exc: BaseException) -> Exception:
    """The outcome of a send that failed alone, in a transaction of its own, for a reason
    that is neither a race (IntegrityError, BatchConflict: those are retried or answered
    ``unavailable``) nor the database being unavailable (OperationalError): something in
    this send (a value the edge let through, a row a trigger refuses) that a retry would
    only repeat. Its sender is refused; every other send of the batch went on."""
    log.warning("a send was refused by the database alone (%s: %s)", type(exc).__name__, exc)
    return ValidationFailed("the database refused this message; it was not stored", code="invalid_frame")


def _transient(exc: BaseException) -> bool:
    """Whether ``exc`` says the database as a whole is unavailable (locked past its
    timeout, disconnected, out of disk): every send would fail alike, so the batch fails as
    one, ``unavailable``, instead of being tried send by send."""
    if isinstance(exc, sqlite3.OperationalError | OperationalError | InterfaceError | sqlite3.InterfaceError):
        return True
    return isinstance(exc, DBAPIError) and exc.connection_invalidated


class _Busy(Exception):
    """Another connection holds SQLite's write lock: this batch waits for it elsewhere."""


def _open_sqlite(path: str, busy_timeout_ms: int, *, autocheckpoint: bool) -> sqlite3.Connection:
    # isolation_level=None: this code says when transactions begin, not the module.
    db = sqlite3.connect(path, timeout=busy_timeout_ms / 1000, isolation_level=None, cached_statements=256,
                         check_same_thread=False)
    for pragma in ("journal_mode=WAL", "foreign_keys=ON", f"busy_timeout={busy_timeout_ms}", "synchronous=NORMAL"):
        db.execute(f"PRAGMA {pragma}")
    if not autocheckpoint:
        db.execute("PRAGMA wal_autocheckpoint=0")
    return db


class _SqliteFile:
    """Two sqlite3 connections of the writer's own.

    The quick one is used on the event loop's thread when SQLite's write lock is free
    (the common case: in the embedded default this writer is nearly the only writer). It
    never waits: ``busy_timeout=0``, and no automatic checkpoint (which would fsync). A
    batch that finds the lock taken goes to the patient one, on a thread of its own,
    which waits up to ``SQLITE_BUSY_TIMEOUT_MS`` and also runs the checkpoints.

    Why not always the thread: a hop there and back costs ~50 µs of CPU on this kind of
    VM plus the GIL passing to and fro, more than a small batch's whole transaction.
    """

    def __init__(self, path: str) -> None:
        self._path = path
        self._thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="chat-writer")
        self._patient: sqlite3.Connection | None = None
        self._quick: sqlite3.Connection | None = None
        self._since_checkpoint = 0

    def _transaction(self, db: sqlite3.Connection, items: Sequence[SendItem], now: datetime) -> list[Outcome]:
        try:
            db.execute("BEGIN IMMEDIATE")
        except sqlite3.OperationalError as exc:
            if db is self._quick and exc.sqlite_errorcode in (sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED):
                raise _Busy() from exc
            raise
        try:
            result = write_batch(SqliteTx(db), items, now)
            db.execute("COMMIT")
        except BaseException:
            if db.in_transaction:
                db.execute("ROLLBACK")
            raise
        return result

    def _write(self, db: sqlite3.Connection, items: Sequence[SendItem], now: datetime) -> list[Outcome]:
        try:
            return self._transaction(db, items, now)
        except _Busy:
            raise
        except Exception as exc:  # classified below: one send's trouble must stay its own
            # The write lock makes races with other connections impossible here, so this
            # is a constraint no rule foresaw (a trigger, a damaged row) or a value the
            # driver cannot bind (an integer past 2**63-1): find whose. Only an error of
            # the database as a whole fails the batch.
            if _transient(exc):
                raise _as_sqlalchemy_error(exc) from exc
            if len(items) == 1:
                return [self._single_failure(exc)]
            if db is self._quick:
                # Nothing was written; one by one is for the thread, which can wait for
                # the lock between them (the quick connection cannot, halfway through).
                raise _Busy() from exc
            log.warning("batch of %d refused (%s); writing its sends one by one", len(items), exc)
        outcomes: list[Outcome] = []
        for item in items:
            try:
                outcomes.extend(self._transaction(db, [item], now))
            except Exception as exc:  # noqa: BLE001 - the outcome of this send alone
                outcomes.append(_as_sqlalchemy_error(exc) if _transient(exc) else self._single_failure(exc))
        return outcomes

    @staticmethod
    def _single_failure(exc: Exception) -> Exception:
        if isinstance(exc, sqlite3.IntegrityError | BatchConflict):
            return _as_sqlalchemy_error(exc)  # as before: a constraint, answered unavailable
        return _refused(exc)

    def _write_patiently(self, items: Sequence[SendItem], now: datetime) -> list[Outcome]:
        if self._patient is None:
            self._patient = _open_sqlite(self._path, SQLITE_BUSY_TIMEOUT_MS, autocheckpoint=True)
        return self._write(self._patient, items, now)

    def _checkpoint(self) -> None:
        if self._patient is None:
            self._patient = _open_sqlite(self._path, SQLITE_BUSY_TIMEOUT_MS, autocheckpoint=True)
        try:
            self._patient.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()
        except sqlite3.Error as exc:
            log.warning("WAL checkpoint skipped: %s", exc)

    async def write(self, items: Sequence[SendItem], now: datetime) -> list[Outcome]:
        if self._quick is None:
            self._quick = _open_sqlite(self._path, 0, autocheckpoint=False)
        try:
            outcomes = self._write(self._quick, items, now)
        except _Busy:
            pass
        else:
            self._since_checkpoint += 1
            if self._since_checkpoint >= CHECKPOINT_EVERY:
                # The quick connection never checkpoints (an fsync would hold the loop);
                # the thread does it without holding anyone up (PASSIVE).
                self._since_checkpoint = 0
                self._thread.submit(self._checkpoint)
            return outcomes
        return await asyncio.get_running_loop().run_in_executor(self._thread, self._write_patiently, list(items), now)

    def _close_patient(self) -> None:
        if self._patient is not None:
            self._patient.close()
            self._patient = None

    def close(self) -> None:
        if self._quick is not None:
            self._quick.close()
            self._quick = None
        self._thread.submit(self._close_patient)
        self._thread.shutdown(wait=False)


class _EngineBackend:
    """Any other database: one transaction per batch on the process's engine."""

    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine

    async def _transaction(self, items: Sequence[SendItem], now: datetime) -> list[Outcome]:
        async with self._engine.begin() as conn:
            return await conn.run_sync(lambda sync: write_batch(SqlAlchemyTx(sync), items, now))

    async def write(self, items: Sequence[SendItem], now: datetime) -> list[Outcome]:
        try:
            return await self._transaction(items, now)
        except (BatchConflict, IntegrityError) as exc:
            # Another process won a race that no read could see coming (the same client
            # id, the same participant row, the same attachment): each send alone, so that
            # the loser's trouble is its own, and again, as the reads now see the winner.
            log.info("batch of %d refused (%s); writing its sends one by one", len(items), exc)
        except Exception as exc:  # classified: one send's bad value must not fail the others
            if _transient(exc):
                raise
            # A value the driver or the database refuses (DataError: an integer past
            # BIGINT) or a bug: find whose, send by send.
            log.warning("batch of %d refused (%s: %s); writing its sends one by one", len(items), type(exc).__name__, exc)
        return [await self._single(item, now) for item in items]

    async def _single(self, item: SendItem, now: datetime) -> Outcome:
        failure: Exception = BatchConflict("no attempt")
        for _ in range(SINGLE_RETRIES):
            try:
                return (await self._transaction([item], now))[0]
            except (BatchConflict, IntegrityError) as exc:
                failure = exc
            except Exception as exc:  # noqa: BLE001 - the outcome of this send alone
                return exc if _transient(exc) and isinstance(exc, DBAPIError) else _refused(exc)
        return failure if isinstance(failure, DBAPIError) else DBAPIError(None, None, failure)

    def close(self) -> None:
        return None


class MessageWriter:
    """One per process and database; see the module docstring."""

    def __init__(self, svc: Services) -> None:
        self._svc = svc
        self._queue: deque[_Pending] = deque()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._drainer: asyncio.Task[None] | None = None
        self._to_react: dict[Principal, list[dict[str, Any]]] = {}
        self._reactor: asyncio.Future[None] | None = None
        self._closed = False
        self.backend = self._make_backend(svc)
        # Observability (and tests): how many transactions carried how many sends.
        self.batches = 0
        self.sends = 0

    @staticmethod
    def _make_backend(svc: Services) -> _Backend:
        if svc.engine.dialect.name == "sqlite":
            path = make_url(svc.settings.database_url).database
            if path and path != ":memory:":
                return _SqliteFile(path)
        return _EngineBackend(svc.engine)

    def submit(self, item: SendItem, *, publish: bool) -> asyncio.Future[SendResult]:
        if self._closed:
            raise DBAPIError(None, None, RuntimeError("the writer was closed"))
        loop = asyncio.get_running_loop()
        if loop is not self._loop:
            # A new event loop (a test's, a CLI command's): what the old one queued died with it.
            self._loop, self._queue, self._drainer = loop, deque(), None
            self._to_react, self._reactor = {}, None
        future: asyncio.Future[SendResult] = loop.create_future()
        self._queue.append(_Pending(item, future, publish))
        if self._drainer is None:
            self._drainer = loop.create_task(self._drain(), name="message-writer")
        return future

    async def _drain(self) -> None:
        try:
            while self._queue and not self._closed:
                batch: list[_Pending] = []
                while self._queue and len(batch) < MAX_BATCH:
                    pending = self._queue.popleft()
                    if not pending.future.done():  # a sender that gave up (cancelled) wants nothing
                        batch.append(pending)
                # What waits behind this batch: once per transaction, not per send.
                metrics.WRITER_QUEUE_DEPTH.set(len(self._queue))
                if batch:
                    await self._write(batch)
        finally:
            self._drainer = None
            while self._queue and self._closed:
                pending = self._queue.popleft()
                if not pending.future.done():
                    pending.future.set_exception(DBAPIError(None, None, RuntimeError("the writer was closed")))

    async def _write(self, batch: list[_Pending]) -> None:
        now = self._svc.clock.now()
        try:
            outcomes = await self.backend.write([p.item for p in batch], now)
        except asyncio.CancelledError:
            # The transaction either committed as a whole or not at all; these senders
            # cannot know which, exactly as after a dropped connection: they resend.
            for p in batch:
                if not p.future.done():
                    p.future.cancel()
            raise
        # Everything, bugs included: each sender awaits its future and re-raises what it
        # gets; an exception escaping here would leave them all waiting forever.
        except Exception as exc:  # noqa: BLE001
            log.warning("a batch of %d sends failed: %s", len(batch), exc)
            for p in batch:
                if not p.future.done():
                    p.future.set_exception(exc)
            return
        self.batches += 1
        self.sends += len(batch)
        metrics.WRITER_BATCH_SIZE.observe(len(batch))
        published: list[tuple[Principal, list[dict[str, Any]]]] = []
        stored = 0
        for p, outcome in zip(batch, outcomes, strict=True):
            if isinstance(outcome, Exception):
                if not p.future.done():
                    p.future.set_exception(outcome)
                continue
            if not outcome.ack.duplicate:
                stored += 1
            if not p.future.done():
                p.future.set_result(outcome)
            if p.publish and outcome.events:
                published.append((p.item.actor, outcome.events))
        if stored:
            metrics.MESSAGES_STORED.inc(stored)
        if published:
            await self._publish(published)

    async def _publish(self, published: list[tuple[Principal, list[dict[str, Any]]]]) -> None:
        # After the futures above: their senders' acks go out before the events reach
        # anyone (the broker's deliveries run after the callbacks already scheduled).
        for _, events in published:
            await publish_events(self._svc, events)
        if not self._svc.reactions:
            return
        for actor, events in published:
            self._to_react.setdefault(actor, []).extend(events)
        if self._reactor is None:
            self._reactor = asyncio.ensure_future(self._react())

    async def _react(self) -> None:
        """Run the reactions on what was published, one run at a time; whatever commits
        while a run is busy waits for the next, merged per author (reactions take any
        events of any conversations and pay their reads once per call)."""
        try:
            while self._to_react:
                batch, self._to_react = self._to_react, {}
                for actor, events in batch.items():
                    await self._svc.react(actor, events)
        finally:
            self._reactor = None

    def close(self) -> None:
        self._closed = True
        if self._drainer is not None and not self._drainer.done():
            self._drainer.cancel()
        self.backend.close()


_writers: PerEngine[MessageWriter] = PerEngine()


def writer_of(svc: Services) -> MessageWriter:
    """The writer of ``svc``'s database in this process, made on first use and closed
    when the engine is disposed (``Services.close``)."""
    return _writers.get(svc.engine, lambda: MessageWriter(svc))


__all__ = ["MAX_BATCH", "MessageWriter", "writer_of"]

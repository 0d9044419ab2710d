"""Plain-SQL reads for code that runs after every committed message.

An after-commit reaction (a ticket checking whether a reply matters to it) reads one
indexed row per message. Through SQLAlchemy's asyncio API that read costs ~0.3 ms of
CPU — a pooled connection, a ``BEGIN``, the execution context, a rollback on return, a
greenlet switch each way — while SQLite answers it in ~10 µs: at a few dozen messages a
second it was a third of the server's CPU per message (docs/benchmarks.md).

SQLite (a file): one ``sqlite3`` connection of this process's own, ``query_only``, in
autocommit mode, called inline on the event loop: a single ``SELECT`` is its own
consistent snapshot and, under WAL, never waits for a writer. Other databases (and an
in-memory SQLite, which only the engine's own connection can see): the read engine,
through ``exec_driver_sql`` (no statement compilation). The SQL is portable, with
``:name`` parameters, as in :mod:`chat.message_batch`; values come back as the driver
gives them (SQLite: booleans as 0/1, enums as their stored strings).

Only for bounded indexed lookups: a read here holds the event loop for its duration.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from typing import Any

from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError

from chat.db import SQLITE_READ_BUSY_TIMEOUT_MS, PerEngine
from chat.message_batch import SqlAlchemyTx, SqliteTx
from chat.services import Services


class HotReads:
    """One per process and database: :func:`hot_reads_of`."""

    def __init__(self, svc: Services) -> None:
        self._svc = svc
        path = make_url(svc.settings.database_url).database if svc.engine.dialect.name == "sqlite" else None
        self._path = path if path and path != ":memory:" else None
        self._db: sqlite3.Connection | None = None

    def _connection(self) -> sqlite3.Connection:
        if self._db is None:
            assert self._path is not None
            # isolation_level=None: no BEGIN; each statement is its own read transaction.
            db = sqlite3.connect(self._path, timeout=SQLITE_READ_BUSY_TIMEOUT_MS / 1000, isolation_level=None,
                                 cached_statements=64, check_same_thread=False)
            db.execute("PRAGMA query_only=ON")
            self._db = db
        return self._db

    async def rows(self, sql: str, params: dict[str, Any]) -> list[Sequence[Any]]:
        """The rows of one ``SELECT``. Database failures raise SQLAlchemy's ``DBAPIError``,
        as every other read does."""
        if self._path is None:
            async with self._svc.read_engine.connect() as conn:
                return await conn.run_sync(lambda sync: SqlAlchemyTx(sync).rows(sql, params))
        try:
            return SqliteTx(self._connection()).rows(sql, params)
        except sqlite3.Error as exc:
            raise DBAPIError.instance(sql, params, exc, sqlite3.Error) from exc

    def close(self) -> None:
        if self._db is not None:
            self._db.close()
            self._db = None


_readers: PerEngine[HotReads] = PerEngine()


def hot_reads_of(svc: Services) -> HotReads:
    """The hot reads of ``svc``'s database in this process, made on first use and closed
    when the engine is disposed (``Services.close``)."""
    return _readers.get(svc.engine, lambda: HotReads(svc))


__all__ = ["HotReads", "hot_reads_of"]

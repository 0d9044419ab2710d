"""Database engine and sessions: SQLite (embedded default) or PostgreSQL, both async."""

from __future__ import annotations

import weakref
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, Generic, Protocol, TypeVar

from sqlalchemy import DateTime, event, text
from sqlalchemy.engine import Dialect, Engine
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine
from sqlalchemy.pool import ConnectionPoolEntry
from sqlalchemy.types import TypeDecorator

import chat.sqlite_inloop  # noqa: F401  (registers sqlite+inloop:// for the read engine)

# Writers wait this long for SQLite's single write lock before failing with "database is
# locked"; long enough to ride out a burst from several workers, short enough that a
# stuck writer surfaces as an error instead of a hung request.
SQLITE_BUSY_TIMEOUT_MS = 5_000


# Shorter than a client's patience (the Python client waits 10 s): a request that cannot
# get a connection fails while its caller still listens, instead of being served to nobody.
POOL_TIMEOUT_SECONDS = 5.0


class UTCDateTime(TypeDecorator[datetime]):
    """Timezone-aware UTC in Python, whatever the backend keeps.

    SQLite has no time zones and hands back naive values; PostgreSQL keeps ``timestamptz``.
    Naive datetimes are refused on the way in: a naive value is a bug, not local time.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to the database; use timezone-aware UTC")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


# A reader waits for a lock only in rare cases (WAL recovery after a crash); it must not
# hold the event loop for long when it does: the query fails and its caller retries.
SQLITE_READ_BUSY_TIMEOUT_MS = 200


def _configure_sqlite(engine: AsyncEngine, *, immediate: bool, busy_timeout_ms: int = SQLITE_BUSY_TIMEOUT_MS) -> None:
    @event.listens_for(engine.sync_engine, "connect")
    def on_connect(dbapi_connection: Any, _record: ConnectionPoolEntry) -> None:
        # Take transaction control away from the sqlite3 module (which would BEGIN lazily
        # and late) so that SQLAlchemy's "begin" below decides when a transaction starts.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")  # readers never wait for the writer
        cursor.execute("PRAGMA foreign_keys=ON")  # off by default in SQLite
        cursor.execute(f"PRAGMA busy_timeout={busy_timeout_ms}")
        cursor.execute("PRAGMA synchronous=NORMAL")  # durable at checkpoints; safe with WAL
        cursor.close()

    # A deferred transaction that reads and then writes fails at once with SQLITE_BUSY
    # when another writer committed in between (no busy wait applies to that upgrade).
    # Transactions that may write therefore take the write lock up front.
    begin = "BEGIN IMMEDIATE" if immediate else "BEGIN"

    @event.listens_for(engine.sync_engine, "begin")
    def on_begin(conn: Any) -> None:
        conn.exec_driver_sql(begin)


def create_engine(
    database_url: str, *, echo: bool = False, read_only: bool = False, inline: bool = True
) -> AsyncEngine:
    """An engine for ``database_url`` (already normalized by settings).

    On SQLite, ``read_only=True`` gives an engine whose transactions do not take the
    write lock, for queries that never write; the default engine's transactions do.
    Its reads run inline on the event loop (chat/sqlite_inloop.py) unless ``inline`` is
    false: then on aiosqlite's threads, for long reads (reports, exports) that must not
    hold every socket of the process while they run.
    """
    if database_url.startswith("sqlite"):
        busy_ms = SQLITE_READ_BUSY_TIMEOUT_MS if read_only else SQLITE_BUSY_TIMEOUT_MS
        engine = create_async_engine(
            # Short reads run inline on the loop (chat/sqlite_inloop.py); writes and long
            # reads on aiosqlite.
            database_url.replace("sqlite+aiosqlite:", "sqlite+inloop:", 1) if read_only and inline else database_url,
            echo=echo,
            connect_args={"timeout": busy_ms / 1000},
            # Writers queue here (cheaply) rather than in SQLite's sleeping busy handler.
            # Readers hold a connection per open session, across awaits.
            pool_size=10 if read_only else 5,
            max_overflow=20 if read_only else 5,
            pool_timeout=POOL_TIMEOUT_SECONDS,
        )
        _configure_sqlite(engine, immediate=not read_only, busy_timeout_ms=busy_ms)
        return engine
    return create_async_engine(
        database_url,
        echo=echo,
        pool_size=10,
        max_overflow=20,
        # A connection the server closed (failover, idle timeout) is replaced instead of
        # failing the next request.
        pool_pre_ping=True,
        pool_timeout=POOL_TIMEOUT_SECONDS,
    )


def create_sessionmaker(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(engine, expire_on_commit=False)


class DatabaseUnavailable(Exception):
    """The database did not answer a trivial query; the message names the driver's error."""


async def ping(engine: AsyncEngine) -> None:
    """Raise ``DatabaseUnavailable`` if the database cannot answer a trivial query."""
    try:
        async with engine.connect() as conn:
            await conn.execute(text("SELECT 1"))
    # SQLAlchemy wraps the driver's own errors; a refused or unresolvable host reaches
    # us as the socket's OSError, unwrapped.
    except (SQLAlchemyError, OSError) as exc:
        raise DatabaseUnavailable(type(exc).__name__) from exc


class _Closeable(Protocol):
    def close(self) -> None: ...


_T = TypeVar("_T", bound=_Closeable)


class PerEngine(Generic[_T]):
    """One object per engine in this process (the message writer, the hot reads), made
    on first use and closed when the engine is disposed (``Services.close``)."""

    def __init__(self) -> None:
        self._found: weakref.WeakKeyDictionary[Engine, _T] = weakref.WeakKeyDictionary()

    def get(self, engine: AsyncEngine, make: Callable[[], _T]) -> _T:
        sync = engine.sync_engine
        found = self._found.get(sync)
        if found is None:
            found = self._found[sync] = make()

            def disposed(_engine: Engine) -> None:
                gone = self._found.pop(sync, None)
                if gone is not None:
                    gone.close()

            event.listen(sync, "engine_disposed", disposed)
        return found

"""``sqlite+inloop://``: the standard library's sqlite3 called inline on the event loop's
thread, behind SQLAlchemy's asyncio API. Used for the read-only engine on SQLite.

Why: aiosqlite sends every call to its own thread and back. A simple read cost 230–510 µs
of CPU that way (about four cross-thread wake-ups per statement, docs/benchmarks.md),
while the same indexed read in sqlite3 takes a few µs. Under WAL a reader never waits for
a writer, so an inline read holds the loop only for its own work; writes stay on
aiosqlite, which may wait for SQLite's write lock without holding anyone up.

The price: a slow query (a large report) holds every socket of the process for its
duration. Queries on the read engine should be indexed lookups and bounded pages.

The adapter speaks the small async cursor/connection API that SQLAlchemy's generic
asyncio connector drives (``sqlalchemy.connectors.asyncio``, as for aiosqlite); every
"await" here finishes without suspending.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from typing import Any

from sqlalchemy.connectors.asyncio import AsyncAdapt_dbapi_connection, AsyncAdapt_dbapi_module
from sqlalchemy.dialects import registry
from sqlalchemy.dialects.sqlite.aiosqlite import SQLiteDialect_aiosqlite
from sqlalchemy.engine import URL
from sqlalchemy.pool import AsyncAdaptedQueuePool, Pool


class _Cursor:
    __slots__ = ("_cursor",)

    def __init__(self, cursor: sqlite3.Cursor) -> None:
        self._cursor = cursor

    async def __aenter__(self) -> _Cursor:
        return self

    @property
    def description(self) -> Any:
        return self._cursor.description

    @property
    def rowcount(self) -> int:
        return self._cursor.rowcount

    @property
    def lastrowid(self) -> int | None:
        return self._cursor.lastrowid

    @property
    def arraysize(self) -> int:
        return self._cursor.arraysize

    @arraysize.setter
    def arraysize(self, value: int) -> None:
        self._cursor.arraysize = value

    async def execute(self, operation: str, parameters: Any = None) -> None:
        if parameters is None:
            self._cursor.execute(operation)
        else:
            self._cursor.execute(operation, parameters)

    async def executemany(self, operation: str, parameters: Sequence[Any]) -> None:
        self._cursor.executemany(operation, parameters)

    async def fetchone(self) -> Any:
        return self._cursor.fetchone()

    async def fetchmany(self, size: int | None = None) -> list[Any]:
        return self._cursor.fetchmany(size if size is not None else self._cursor.arraysize)

    async def fetchall(self) -> list[Any]:
        return self._cursor.fetchall()

    async def nextset(self) -> None:
        return None

    async def setinputsizes(self, *sizes: Any) -> None:
        return None

    async def close(self) -> None:
        self._cursor.close()


class _Connection:
    __slots__ = ("raw",)

    def __init__(self, raw: sqlite3.Connection) -> None:
        self.raw = raw

    def cursor(self) -> _Cursor:
        return _Cursor(self.raw.cursor())

    async def commit(self) -> None:
        self.raw.commit()

    async def rollback(self) -> None:
        self.raw.rollback()

    async def close(self) -> None:
        self.raw.close()


class _AdaptedConnection(AsyncAdapt_dbapi_connection):
    __slots__ = ()
    _connection: _Connection  # type: ignore[assignment]

    @property
    def isolation_level(self) -> str | None:
        return self._connection.raw.isolation_level

    @isolation_level.setter
    def isolation_level(self, value: str | None) -> None:
        # SQLAlchemy passes only None or a BEGIN mode; typeshed narrows the attribute to those.
        self._connection.raw.isolation_level = value  # type: ignore[assignment]

    def create_function(self, *args: Any, **kw: Any) -> None:
        self._connection.raw.create_function(*args, **kw)


class _DBAPI(AsyncAdapt_dbapi_module):
    def __init__(self) -> None:
        super().__init__(sqlite3, dbapi_module=sqlite3)
        self.paramstyle = "qmark"
        self.has_stop = False
        for name in ("DatabaseError", "Error", "IntegrityError", "NotSupportedError", "OperationalError",
                     "ProgrammingError", "InterfaceError", "InternalError", "DataError", "Warning",
                     "sqlite_version", "sqlite_version_info", "PARSE_COLNAMES", "PARSE_DECLTYPES", "Binary"):
            setattr(self, name, getattr(sqlite3, name))

    def connect(self, *args: Any, **kw: Any) -> _AdaptedConnection:
        return _AdaptedConnection(self, _Connection(sqlite3.connect(*args, **kw)))  # type: ignore[arg-type]


class SQLiteInLoopDialect(SQLiteDialect_aiosqlite):
    driver = "inloop"
    supports_statement_cache = True
    supports_server_side_cursors = False
    has_terminate = False

    @classmethod
    def import_dbapi(cls) -> _DBAPI:  # type: ignore[override]
        return _DBAPI()

    def retrieve_dbapi_version(self, dbapi: Any) -> Any:
        return None

    @classmethod
    def get_pool_class(cls, url: URL) -> type[Pool]:
        return AsyncAdaptedQueuePool


registry.register("sqlite.inloop", __name__, "SQLiteInLoopDialect")

"""Counting what a piece of work costs the database, for tests that a batch stays one."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from types import SimpleNamespace

from sqlalchemy import event

from chat.services import Services


@contextlib.contextmanager
def counted_transactions(svc: Services) -> Iterator[SimpleNamespace]:
    """How many transactions that wrote something commit meanwhile (on PostgreSQL reads
    share the engine, and some of them commit too)."""
    seen = SimpleNamespace(count=0)
    wrote: set[int] = set()
    engine = svc.engine.sync_engine

    def executed(conn: object, _cursor: object, statement: str, *_: object) -> None:
        if statement.lstrip()[:6].upper() in {"INSERT", "UPDATE", "DELETE"}:
            wrote.add(id(conn))

    def committed(conn: object) -> None:
        if id(conn) in wrote:
            wrote.discard(id(conn))
            seen.count += 1

    event.listen(engine, "before_cursor_execute", executed)
    event.listen(engine, "commit", committed)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", executed)
        event.remove(engine, "commit", committed)

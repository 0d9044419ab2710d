"""Failed-login throttling, per account and per client address.

Counters live in the database so that every web process sees the same ones. A key is
locked for ``login_lockout_seconds`` once it collects ``max`` failures inside one window;
the lock applies whether or not the password is right, so a locked account cannot be
brute-forced by waiting out nothing.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import delete, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession

from chat.errors import TooManyRequests
from chat.models import LoginFailure
from chat.settings import Settings


def account_key(email: str) -> str:
    return "acct:" + email.strip().lower()[:320]


def address_key(address: str | None) -> str:
    return "addr:" + (address or "unknown")


async def check_not_locked(db: AsyncSession, keys: list[str], now: datetime) -> None:
    rows = await db.scalars(select(LoginFailure).where(LoginFailure.key.in_(keys)))
    waits = [int((row.locked_until - now).total_seconds()) + 1 for row in rows if row.locked_until and row.locked_until > now]
    if waits:
        # Same answer for a locked account and a locked address: no hint which it was.
        raise TooManyRequests(
            "too many failed sign-in attempts; try again later",
            retry_after=max(waits),
            code="too_many_attempts",
        )


async def record_failure(db: AsyncSession, settings: Settings, keys: dict[str, int], now: datetime) -> None:
    """Count a failure under each key (key -> its maximum before lockout)."""
    window = timedelta(seconds=settings.login_failure_window_seconds)
    for key, limit in keys.items():
        row = await _locked_row(db, key, now)
        if now - row.window_started_at > window:
            row.failures, row.window_started_at, row.locked_until = 0, now, None
        row.failures += 1
        if row.failures >= limit:
            row.locked_until = now + timedelta(seconds=settings.login_lockout_seconds)


async def take(db: AsyncSession, key: str, *, limit: int, window_seconds: int, now: datetime, message: str,
               code: str) -> None:
    """Count one use under ``key`` in a fixed window of ``window_seconds``; the use past
    ``limit`` is refused (:class:`TooManyRequests`, ``Retry-After`` until the window ends)
    and not counted. The row is the login failures' (``failures`` counts uses here), so
    every process shares the count with no schema of its own."""
    row = await _locked_row(db, key, now)
    window = timedelta(seconds=window_seconds)
    if now - row.window_started_at >= window:
        row.failures, row.window_started_at = 0, now
    if row.failures >= limit:
        raise TooManyRequests(message, retry_after=int((row.window_started_at + window - now).total_seconds()) + 1,
                              code=code)
    row.failures += 1


async def clear(db: AsyncSession, key: str) -> None:
    await db.execute(delete(LoginFailure).where(LoginFailure.key == key))


async def _locked_row(db: AsyncSession, key: str, now: datetime) -> LoginFailure:
    """The counter row of ``key``, created if missing, locked for this transaction: two
    processes counting at once both count instead of one hitting a duplicate key."""
    assert db.bind is not None  # sessions are made by chat.db.create_sessionmaker, bound to an engine
    insert = pg_insert if db.bind.dialect.name == "postgresql" else sqlite_insert
    await db.execute(
        insert(LoginFailure)
        .values(key=key, failures=0, window_started_at=now, locked_until=None)
        .on_conflict_do_nothing(index_elements=["key"])
    )
    row = await db.scalar(
        select(LoginFailure).where(LoginFailure.key == key).with_for_update().execution_options(populate_existing=True)
    )
    assert row is not None
    return row

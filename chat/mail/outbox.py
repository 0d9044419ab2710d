"""The outbox after a row exists: claiming due mails, marking what happened to each, and
the suppression list. Storage only: every function runs inside the caller's transaction
and commits nothing.

Claims are leases (``claimed_until``), not locks held across the send: a sender takes a
batch in one short transaction, sends outside any transaction, and marks each mail in a
short transaction of its own. A sender that dies leaves its leases to expire; the rows
are then claimed again and sent with the same ``Message-ID`` (the row's), so a receiver
that saw the first copy can tell.

Every mark is conditional on the row still being pending: if a lease expired while a slow
send was still running and another sender took the row, the first mark wins and the
second changes nothing.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta

from sqlalchemy import case, delete, func, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql.elements import ColumnElement

from chat.mail.models import MailStatus, MailSuppression, OutboxMail

# Retry delays after the 1st, 2nd, ... temporary failure; then hourly. Short at first
# (greylisting asks for a retry after a few minutes), then hourly so a 48 h outage costs
# about 50 attempts per mail, not thousands.
BACKOFF = (
    timedelta(minutes=1),
    timedelta(minutes=5),
    timedelta(minutes=15),
    timedelta(minutes=30),
)
BACKOFF_AFTER = timedelta(hours=1)

ERROR_MAX = 500  # mail_outbox.last_error and mail_suppressions.reason are String(500)
SUPPRESSED = "suppressed"
"""``last_error`` of a mail not sent because its address was suppressed after it was queued."""


def normalize_address(address: str) -> str:
    """The suppression list's key: trimmed and lower case. Local parts may in theory be
    case-sensitive, but no mail system we send to treats them so, and a refusal of
    ``Ann@x`` must also stop mail to ``ann@x``."""
    return address.strip().lower()


def backoff(attempts: int) -> timedelta:
    """The wait after the ``attempts``-th temporary failure (1-based)."""
    return BACKOFF[attempts - 1] if 1 <= attempts <= len(BACKOFF) else BACKOFF_AFTER


def _claimable(now: datetime) -> tuple[ColumnElement[bool], ...]:
    """Pending, due, and no live lease: what a sender may take at ``now``."""
    return (OutboxMail.status == MailStatus.PENDING, OutboxMail.due_at <= now,
            or_(OutboxMail.claimed_until.is_(None), OutboxMail.claimed_until < now))


async def oldest_claimable(db: AsyncSession, now: datetime) -> datetime | None:
    """The due time of the oldest mail a sender could take at ``now`` (one step of the
    status-and-due index), or None."""
    due: datetime | None = await db.scalar(select(func.min(OutboxMail.due_at)).where(*_claimable(now)))
    return due


async def count_waiting(db: AsyncSession, now: datetime) -> tuple[int, int, int]:
    """(held, pending, pending and due at ``now``): the outbox's depth, counted on the
    status-and-due index (sent and failed rows, however many, are not read)."""
    rows = (await db.execute(
        select(OutboxMail.status, func.count(), func.sum(case((OutboxMail.due_at <= now, 1), else_=0)))
        .where(OutboxMail.status.in_((MailStatus.HELD, MailStatus.PENDING)))
        .group_by(OutboxMail.status)
    )).all()
    found = {status: (int(count), int(due or 0)) for status, count, due in rows}
    held = found.get(MailStatus.HELD, (0, 0))[0]
    pending, due = found.get(MailStatus.PENDING, (0, 0))
    return held, pending, due


async def claim_due(db: AsyncSession, now: datetime, *, limit: int, lease: timedelta) -> list[OutboxMail]:
    """Lease up to ``limit`` due mails (pending, ``due_at <= now``, no live lease), the
    oldest due first, until ``now + lease``; returns them in that order.

    Two statements in the caller's write transaction: pick the ids, then lease them. On
    PostgreSQL the pick is ``FOR UPDATE SKIP LOCKED``, so two senders claiming at once get
    disjoint rows instead of waiting for each other. (Not one ``UPDATE … WHERE id IN
    (SELECT … LIMIT n FOR UPDATE SKIP LOCKED)``: PostgreSQL does not promise to run a
    subquery once, and that form leased more than ``n`` rows in our test.) On SQLite the write
    transaction (``BEGIN IMMEDIATE``) lets one sender in at a time, and the next one sees
    the leases.
    """
    pick = select(OutboxMail.id).where(*_claimable(now)).order_by(OutboxMail.due_at, OutboxMail.id).limit(limit)
    if _dialect(db) == "postgresql":
        pick = pick.with_for_update(skip_locked=True)
    ids = list((await db.scalars(pick)).all())
    if not ids:
        return []
    rows = (
        await db.execute(
            update(OutboxMail)
            .where(OutboxMail.id.in_(ids))
            .values(claimed_until=now + lease, updated_at=now)
            .returning(OutboxMail)
            .execution_options(synchronize_session=False, populate_existing=True)
        )
    ).scalars().all()
    # RETURNING gives no order.
    return sorted(rows, key=lambda m: (m.due_at, m.id))


async def release(db: AsyncSession, mails: Iterable[OutboxMail], now: datetime) -> int:
    """Give back leases of mails that were claimed but not attempted (the sender ran out
    of time, or the server is down): they are due again at once, for any sender."""
    ids = [m.id for m in mails]
    if not ids:
        return 0
    result = await db.execute(
        update(OutboxMail)
        .where(OutboxMail.id.in_(ids), OutboxMail.status == MailStatus.PENDING)
        .values(claimed_until=None, updated_at=now)
    )
    return int(result.rowcount)  # type: ignore[attr-defined]


async def mark_sent(db: AsyncSession, mail: OutboxMail, transport: str, now: datetime) -> bool:
    """The server took the mail (or the development mailbox kept it). False when the row
    was no longer pending (another sender marked it first)."""
    return await _mark(db, mail, now, status=MailStatus.SENT, transport=transport, sent_at=now,
                       attempts=mail.attempts + 1, last_error=None, claimed_until=None)


async def mark_retry(db: AsyncSession, mail: OutboxMail, now: datetime, error: str, *, retry_hours: int) -> MailStatus:
    """A temporary failure: due again after :func:`backoff`, but never later than
    ``created_at + retry_hours``; a failure at or after that instant fails the mail for
    good. The address is not suppressed then: a relay that was down for two days says
    nothing about the recipient. Returns the row's new status."""
    attempts = mail.attempts + 1
    give_up_at = mail.created_at + timedelta(hours=retry_hours)
    if now >= give_up_at:
        await _mark(db, mail, now, status=MailStatus.FAILED, attempts=attempts, claimed_until=None,
                    last_error=_line(f"gave up after {retry_hours} h: {error}"))
        return MailStatus.FAILED
    await _mark(db, mail, now, attempts=attempts, claimed_until=None, last_error=_line(error),
                due_at=min(now + backoff(attempts), give_up_at))
    return MailStatus.PENDING


async def mark_failed_permanently(db: AsyncSession, mail: OutboxMail, now: datetime, error: str) -> None:
    """A permanent refusal (5xx): the mail fails and its address goes on the suppression
    list (kept as it was first refused when it is already there)."""
    await _mark(db, mail, now, status=MailStatus.FAILED, attempts=mail.attempts + 1, claimed_until=None,
                last_error=_line(error))
    await suppress(db, mail.to_addr, _line(error), now, mail_id=mail.id)


async def mark_suppressed(db: AsyncSession, mail: OutboxMail, now: datetime) -> None:
    """The address was suppressed after the mail was queued: not sent, failed."""
    await _mark(db, mail, now, status=MailStatus.FAILED, claimed_until=None, last_error=SUPPRESSED)


async def suppress(db: AsyncSession, address: str, reason: str, now: datetime, *, mail_id: int | None = None) -> bool:
    """Put ``address`` on the suppression list; False when it already was there."""
    insert = postgresql.insert if _dialect(db) == "postgresql" else sqlite.insert
    result = await db.execute(
        insert(MailSuppression)
        .values(address=normalize_address(address), reason=_line(reason), mail_id=mail_id, created_at=now)
        .on_conflict_do_nothing(index_elements=["address"])
    )
    return int(result.rowcount) == 1  # type: ignore[attr-defined]


async def is_suppressed(db: AsyncSession, address: str) -> bool:
    found = await db.scalar(select(MailSuppression.address).where(MailSuppression.address == normalize_address(address)))
    return found is not None


async def suppressed_among(db: AsyncSession, addresses: Iterable[str]) -> set[str]:
    """Which of ``addresses`` are suppressed, as normalized addresses (one query for a batch)."""
    wanted = {normalize_address(a) for a in addresses}
    if not wanted:
        return set()
    found = await db.scalars(select(MailSuppression.address).where(MailSuppression.address.in_(wanted)))
    return set(found)


async def list_suppressions(db: AsyncSession, *, limit: int = 100, offset: int = 0) -> Sequence[MailSuppression]:
    """The suppression list, newest first (the console's page)."""
    return (
        await db.scalars(
            select(MailSuppression)
            .order_by(MailSuppression.created_at.desc(), MailSuppression.address)
            .limit(limit)
            .offset(offset)
        )
    ).all()


async def count_suppressions(db: AsyncSession) -> int:
    return int(await db.scalar(select(func.count()).select_from(MailSuppression)) or 0)


async def clear_suppression(db: AsyncSession, address: str) -> bool:
    """Take ``address`` off the list (an admin fixed the mailbox); False if it was not on it.
    Mails already failed stay failed; new ones are sent again."""
    result = await db.execute(delete(MailSuppression).where(MailSuppression.address == normalize_address(address)))
    return int(result.rowcount) == 1  # type: ignore[attr-defined]


async def _mark(db: AsyncSession, mail: OutboxMail, now: datetime, **values: object) -> bool:
    result = await db.execute(
        update(OutboxMail)
        .where(OutboxMail.id == mail.id, OutboxMail.status == MailStatus.PENDING)
        .values(updated_at=now, **values)
        .execution_options(synchronize_session=False)
    )
    return int(result.rowcount) == 1  # type: ignore[attr-defined]


def _dialect(db: AsyncSession) -> str:
    return db.get_bind().dialect.name


def _line(text: str) -> str:
    return " ".join(text.split())[:ERROR_MAX]

"""The reports rollup (issue 17): public messages counted from the committed event log, so
that a report sums a few rows per ticket and hour instead of scanning the messages.

A sweeper job (``reports.roll``, the tickets loop). It reads the events after its cursor
(``report_cursor``) in batches — only the columns the count needs — and for each public
message of a conversation that has a ticket row it adds one to that ticket's UTC hour in
``report_hours`` (customer or staff by its author), to ``tickets.messages_count``, and, for
a support chat, stores ``tickets.first_agent_join_s`` at the first staff message. Each
batch is one transaction with the cursor's move, which holds the cursor row's lock: a
batch is counted once, whatever crashes or how many sweepers run.

Only events older than :data:`SETTLE` are counted (the cursor stops at the first younger
one and the next pass goes on from there). Counting cannot take the mail planner's way of
reading the young ones again — a count is not idempotent — so it waits, for two reasons:
on PostgreSQL commit order is not id order (an id may commit after a higher one), and a
support chat's ticket row is made by the reaction after the chat's first commit (or, after
a crash, by the tickets.backfill job) — a message seen before its row would never count.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import cast

from sqlalchemy import Integer, Table, bindparam, func, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession

from chat.events import EventKind
from chat.models import STAFF_ROLES, Event, Role, User
from chat.services import Services
from escalation.models import ReportCursor, ReportHour, Ticket, TicketChannel

log = logging.getLogger("chat.reports.rollup")

CURSOR = "events"
# Longer than any write transaction takes from its first insert to its commit, and than
# a support chat waits for its ticket row: the after-commit reaction makes it at once, the
# crash-recovery backfill (escalation.jobs: 30 s of quiet, every 60 s) at worst ~90 s on.
# Reports are read by the day; two minutes behind is nothing to them.
SETTLE = timedelta(minutes=2)
# Events read per transaction. The batch holds the write lock while it reads, counts and
# writes (on SQLite the whole database's): ~1 000 events is tens of milliseconds.
BATCH = 1000
# Batches per pass, so that a long log (the first run after the upgrade reads the whole
# history) never holds up the other jobs of the tickets loop for long.
BATCHES_PER_PASS = 20
# Rows per upsert statement: 5 parameters each, far inside both backends' limits.
_ROWS_PER_STATEMENT = 500

_HOUR = timedelta(hours=1)
# Above every id (BIGINT's largest): "no young event" in the scan's bound.
_NO_ID = 2**63 - 1


@dataclass(frozen=True)
class Seen:
    """One event as the scan reads it (columns only, no body or data)."""

    id: int
    conversation_id: int
    type: str
    internal: bool
    created_at: datetime
    role: Role | None  # its author's
    organization_id: int | None  # its author's
    ticket: bool  # the conversation has a ticket row
    channel: TicketChannel | None
    ticket_created_at: datetime | None
    partner: int | None  # the reseller handling the ticket's first line

    @property
    def counts(self) -> bool:
        return self.ticket and self.type == EventKind.MESSAGE and not self.internal

    @property
    def by_staff(self) -> bool:
        """Written by support: platform staff, or the partner answering its own first line."""
        if self.role in STAFF_ROLES:
            return True
        return self.role is Role.RESELLER_ADMIN and self.partner is not None and self.organization_id == self.partner


@dataclass
class HourCount:
    messages: int = 0
    customer_messages: int = 0
    staff_messages: int = 0


@dataclass
class TicketCount:
    messages: int = 0
    first_agent_join_s: int | None = None


@dataclass
class Tally:
    """What one batch adds: per (conversation, UTC hour) and per ticket."""

    hours: dict[tuple[int, datetime], HourCount] = field(default_factory=dict)
    tickets: dict[int, TicketCount] = field(default_factory=dict)

    @property
    def messages(self) -> int:
        return sum(t.messages for t in self.tickets.values())


def tally(events: Iterable[Seen]) -> Tally:
    """Count the public messages of ``events`` (in id order). ``first_agent_join_s``: a
    support chat's first staff message of the batch, in whole seconds after the chat's
    start; the stored value wins over it (the update keeps the first one)."""
    found = Tally()
    for seen in events:
        if not seen.counts:
            continue
        hour = seen.created_at.replace(minute=0, second=0, microsecond=0)
        bucket = found.hours.setdefault((seen.conversation_id, hour), HourCount())
        ticket = found.tickets.setdefault(seen.conversation_id, TicketCount())
        bucket.messages += 1
        ticket.messages += 1
        if not seen.by_staff:
            bucket.customer_messages += 1
            continue
        bucket.staff_messages += 1
        if (seen.channel is TicketChannel.CHAT and ticket.first_agent_join_s is None
                and seen.ticket_created_at is not None):
            ticket.first_agent_join_s = max((seen.created_at - seen.ticket_created_at) // timedelta(seconds=1), 0)
    return found


async def roll_job(svc: Services, now: datetime) -> int:
    """The sweeper job ``reports.roll``: count the settled events after the cursor, up to
    :data:`BATCHES_PER_PASS` batches. Returns how many messages it counted."""
    counted = 0
    for _ in range(BATCHES_PER_PASS):
        done, more = await roll_batch(svc, now)
        counted += done
        if not more:
            break
    return counted


async def roll_batch(svc: Services, now: datetime) -> tuple[int, bool]:
    """One batch: (messages counted, whether more settled events may follow)."""
    async with svc.sessions.begin() as db:
        cursor = await _lock_cursor(db, svc)
        rows = await _scan(db, cursor.last_event_id, now - SETTLE)
        settled = settled_prefix(rows, now - SETTLE)
        if not settled:
            return 0, False
        found = tally(settled)
        await _add_hours(db, svc, found)
        await _add_to_tickets(db, found)
        cursor.last_event_id = settled[-1].id
    return found.messages, len(settled) == BATCH


def settled_prefix(rows: Sequence[Seen], before: datetime) -> Sequence[Seen]:
    """The events up to (not including) the first one stored after ``before``, in id order."""
    for index, seen in enumerate(rows):
        if seen.created_at > before:
            return rows[:index]
    return rows


async def roll_backlog(svc: Services, now: datetime) -> datetime | None:
    """When the oldest event the rollup has not counted yet became countable (stored, plus
    :data:`SETTLE`), or None: ``reports.roll``'s lag (an ``escalation.worker.Backlog``).
    One step of the events' primary key."""
    async with svc.reads() as db:
        cursor = await db.get(ReportCursor, CURSOR)
        after = cursor.last_event_id if cursor is not None else 0
        created: datetime | None = await db.scalar(
            select(Event.created_at).where(Event.id > after).order_by(Event.id).limit(1))
    return None if created is None else created + SETTLE


async def _lock_cursor(db: AsyncSession, svc: Services) -> ReportCursor:
    """The cursor row, locked for the transaction (PostgreSQL ``FOR UPDATE``; SQLite's
    write transaction holds the whole database). Missing — the first run after the
    upgrade — it starts at the beginning of the log: the history is counted too."""
    locked = select(ReportCursor).where(ReportCursor.name == CURSOR).with_for_update()
    cursor = await db.scalar(locked)
    if cursor is None:
        insert = pg_insert if svc.engine.dialect.name == "postgresql" else sqlite_insert
        await db.execute(insert(ReportCursor).values(name=CURSOR, last_event_id=0).on_conflict_do_nothing())
        cursor = await db.scalar(locked)
        assert cursor is not None
    return cursor


async def _scan(db: AsyncSession, after: int, before: datetime) -> list[Seen]:
    """The events after ``after`` in id order, up to (not including) the first one stored
    after ``before``: the settled prefix, at most :data:`BATCH`.

    Why the bound is in the statement: at any steady message rate every event of the
    last :data:`SETTLE` lies after the cursor, and a pass every 5 s read up to ``BATCH``
    of them as rows only to drop them all (16 % of the web process's CPU in the hub
    benchmark's fan-out at 40 messages/s, docs/benchmarks.md). The first young event is
    looked for among the next :data:`BATCH` ids only (the primary key's order): a long
    settled backlog after downtime is not scanned to its end on every batch."""
    window = select(Event.id, Event.created_at).where(Event.id > after).order_by(Event.id).limit(BATCH).subquery()
    first_young = select(func.min(window.c.id)).where(window.c.created_at > before).scalar_subquery()
    rows = await db.execute(
        select(Event.id, Event.conversation_id, Event.type, Event.internal, Event.created_at, User.role,
               User.organization_id, Ticket.conversation_id.is_not(None), Ticket.channel, Ticket.created_at,
               Ticket.handled_by_org_id)
        .outerjoin(Ticket, Ticket.conversation_id == Event.conversation_id)
        .outerjoin(User, User.id == Event.author_id)
        .where(Event.id > after, Event.id < func.coalesce(first_young, _NO_ID))
        .order_by(Event.id)
        .limit(BATCH)
    )
    return [Seen(*row) for row in rows.all()]


async def _add_hours(db: AsyncSession, svc: Services, found: Tally) -> None:
    """Upsert the batch's hours: added to what earlier batches counted in the same hour."""
    table = cast(Table, ReportHour.__table__)
    insert = pg_insert if svc.engine.dialect.name == "postgresql" else sqlite_insert
    rows = [
        {"conversation_id": conversation_id, "hour": hour, "messages": c.messages,
         "customer_messages": c.customer_messages, "staff_messages": c.staff_messages}
        for (conversation_id, hour), c in found.hours.items()
    ]
    for start in range(0, len(rows), _ROWS_PER_STATEMENT):
        statement = insert(table).values(rows[start:start + _ROWS_PER_STATEMENT])
        added = statement.excluded
        await db.execute(statement.on_conflict_do_update(
            index_elements=[table.c.conversation_id, table.c.hour],
            set_={"messages": table.c.messages + added.messages,
                  "customer_messages": table.c.customer_messages + added.customer_messages,
                  "staff_messages": table.c.staff_messages + added.staff_messages},
        ))


async def _add_to_tickets(db: AsyncSession, found: Tally) -> None:
    """One executemany: each ticket's count grows, its first join time is kept once set."""
    if not found.tickets:
        return
    table = cast(Table, Ticket.__table__)
    statement = (
        update(table)
        .where(table.c.conversation_id == bindparam("ticket_id"))
        .values(messages_count=table.c.messages_count + bindparam("added"),
                first_agent_join_s=func.coalesce(table.c.first_agent_join_s, bindparam("join_s", type_=Integer)))
    )
    await db.execute(statement, [
        {"ticket_id": conversation_id, "added": c.messages, "join_s": c.first_agent_join_s}
        for conversation_id, c in found.tickets.items()
    ])

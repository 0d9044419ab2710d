"""The sweeper's ticket jobs: SLA warnings, breaches and the escalation ladder; auto-close;
chat-to-ticket conversion; and the crash-recovery backfill.

Due work is found through the indexed deadline columns (``sla_next_check_at``,
``auto_close_at``, ``convert_at``), oldest first, a batch per pass. Each ticket is then
handled as a unit of work, several to a transaction (:func:`escalation.batch.run_batch`):
the conversations' row locks are taken first - on PostgreSQL with ``SKIP LOCKED``, so a
second worker moves on instead of waiting - each ticket's stored events are caught up (a
reply that landed a moment ago meets its target before anything is escalated; Zammad
#3140), and its due column is checked again under the lock. Every warning, breach and
ladder step also leaves a row in ``ticket_sla_marks`` keyed by its stable key, so nothing
is acted on twice, whatever restarts or how many workers.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import Select, exists, func, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import InstrumentedAttribute

from chat.models import Conversation, ConversationKind, Role, User
from chat.services import Services
from escalation.autoclose import auto_close
from escalation.batch import UNITS_PER_TRANSACTION, run_in_batches
from escalation.config import load_desk
from escalation.ladder import DueStep, LadderAction
from escalation.lifecycle import TicketStatus
from escalation.models import DeskVersion, Ticket, TicketSlaMark
from escalation.partner import partner_admins
from escalation.prechat import apply_committed
from escalation.sla import SlaClock, SlaEventKind
from escalation.steps import apply_status, mark_tracked, transfer
from escalation.unit_of_work import Work, auto_close_settings, convert_times, facts_of, run_unit

log = logging.getLogger("escalation.jobs")

# Tickets handled per job and pass; the rest wait for the next pass (seconds later). Acting
# runs at several hundred tickets a second (docs/benchmarks.md, "Sweeper"), so a pass at
# this limit stays within a few seconds, about the pause between passes, while a backlog
# (a weekend's breaches) drains in a few passes instead of dozens.
BATCH = 500
# The backfill is crash recovery, not due work: once a minute is plenty.
BACKFILL_INTERVAL = timedelta(seconds=60)
# Conversations written to within this window are left to their own reactions.
BACKFILL_QUIET = timedelta(seconds=30)
# A backfill run looks at two windows of this many conversation ids, not at every ticket:
# the newest (where a crash most likely left something behind) and one that moves on each
# run, so every conversation is looked at within (highest id / BACKFILL_SLICE) runs.
BACKFILL_SLICE = 10_000

_OPEN_WORK = (TicketStatus.NEW, TicketStatus.IN_PROGRESS, TicketStatus.WAITING_ON_CUSTOMER)


DUE_COLUMNS: dict[str, InstrumentedAttribute[datetime | None]] = {
    "tickets.sla": Ticket.sla_next_check_at,
    "tickets.auto_close": Ticket.auto_close_at,
    "tickets.convert": Ticket.convert_at,
}


def due_query(column: InstrumentedAttribute[datetime | None], now: datetime) -> Select[int]:
    """A job's "find due work": a range of its indexed deadline column, oldest first."""
    return select(Ticket.conversation_id).where(column <= now).order_by(column, Ticket.conversation_id).limit(BATCH)


async def _due(svc: Services, column: InstrumentedAttribute[datetime | None], now: datetime) -> list[int]:
    async with svc.reads() as db:
        return list(await db.scalars(due_query(column, now)))


async def act_on(svc: Services, ids: list[int], step: Callable[[Work], Awaitable[int]]) -> int:
    """Run ``step`` on each ticket of ``ids``, :data:`UNITS_PER_TRANSACTION` to a
    transaction (:func:`escalation.batch.run_in_batches`); the sum of what the steps did.
    A batch that fails is retried ticket by ticket, so one bad ticket holds up only itself
    (it is logged, and retried on the next pass); a ticket another worker holds is left
    to the next pass."""
    return sum((await acted_on(svc, ids, step)).values())


async def acted_on(svc: Services, ids: list[int], step: Callable[[Work], Awaitable[int]]) -> dict[int, int]:
    """:func:`act_on`, by ticket: what ``step`` did on each ticket it ran on. A ticket
    missing from the answer was held by another transaction (or failed, logged)."""
    if not ids:
        return {}
    # The desk's dictionaries, once per job and pass (escalation.config).
    async with svc.reads() as db:
        desk = await load_desk(db, svc.settings)
    return await run_in_batches(svc, ids, step, log=log, what=f"sweep step {step.__name__}",
                                then="retrying on the next pass", desk=desk,
                                per_transaction=UNITS_PER_TRANSACTION, skip_locked=True)


async def _mark(work: Work, key: str) -> bool:
    """Record that ``key`` was acted on; ``False`` if it already was."""
    marks = await work.marks()
    if key in marks:
        return False
    if work.deferred:
        # Written with the batch's flush. The row lock makes the marks read above current;
        # should two sweepers ever race past it, the primary key fails the whole batch,
        # and :func:`act_on` retries its tickets one unit each.
        work.db.add(TicketSlaMark(conversation_id=work.ticket.conversation_id, key=key, created_at=work.now))
    else:
        # The primary key is the backstop here too; DO NOTHING rather than a savepoint.
        insert = pg_insert if work.svc.engine.dialect.name == "postgresql" else sqlite_insert
        row = {"conversation_id": work.ticket.conversation_id, "key": key, "created_at": work.now}
        stored = await work.db.execute(
            insert(TicketSlaMark).values(row).on_conflict_do_nothing().returning(TicketSlaMark.key)
        )
        if stored.first() is None:
            return False
    marks.add(key)
    return True


# -- SLA: warnings, breaches, the ladder -----------------------------------------------------


async def sla_step(work: Work) -> int:
    t = work.ticket
    if t.sla_next_check_at is None or t.sla_next_check_at > work.now or t.status is TicketStatus.CLOSED:
        return 0
    policy, calendar = work.policy()
    facts = facts_of(t)
    if policy is None or not facts:
        return 0
    clock = SlaClock(policy, calendar, tuple(facts))
    due = clock.due_events(work.now)
    done = 0
    for event in due:
        if await _mark(work, event.key):
            name = "ticket.sla_warning" if event.kind is SlaEventKind.WARNING else "ticket.sla_breached"
            await work.append(name, None, internal=True, target=event.target.value, due_at=event.at.isoformat())
            done += 1
    breaches = [e for e in due if e.kind is SlaEventKind.BREACH]
    for step in work.desk.ladder.due_steps(breaches, calendar, work.now, await work.marks()):
        if await _mark(work, step.key):
            await _climb(work, step)
            done += 1
    return done


async def _admins(work: Work) -> list[int]:
    if "support_admins" not in work.shared:
        rows = await work.db.scalars(
            select(User.id).where(User.role == Role.SUPPORT_ADMIN, User.disabled.is_(False)).order_by(User.id)
        )
        work.shared["support_admins"] = list(rows)
    return list(work.shared["support_admins"])


async def _climb(work: Work, due: DueStep) -> None:
    """One ladder step: act, and record it as ``ticket.escalated``. "Notify" is a recorded,
    published event for now (e-mail comes later) naming whom it is for."""
    t, step = work.ticket, due.step
    data: dict[str, object] = {"step": due.index, "action": step.action.value, "target": due.breach.target.value,
                               "breached_at": due.breach.at.isoformat()}
    notify: list[int] = []
    partner = t.handled_by_org_id
    if step.action is LadderAction.RAISE_LEVEL and partner is not None:
        # The platform's lines are reached only when the partner transfers the ticket.
        data.update(level=t.level, group=t.group_key, held_by_partner=partner)
    elif step.action is LadderAction.RAISE_LEVEL:
        assert step.level is not None
        if t.level < step.level and t.status in _OPEN_WORK:
            first_group = next((g.key for g in work.desk.groups.values() if g.level == step.level), None)
            await transfer(work, None, int(step.level), first_group, None, reason="sla_breach")
        data.update(level=t.level, group=t.group_key)
    elif step.action is LadderAction.NOTIFY_ASSIGNEE and t.assignee_id is not None:
        notify = [t.assignee_id]
    elif step.action is LadderAction.NOTIFY_GROUP_LEAD:
        group = work.desk.groups.get(t.group_key) if t.group_key else None
        if group is not None and group.lead_id is not None:
            notify = [group.lead_id]
    if step.action is not LadderAction.RAISE_LEVEL and not notify:
        # Nobody in particular to tell (no assignee, no lead): tell every support admin
        # (BX), or for a partner's own queue the partner's admins.
        notify = await partner_admins(work) if partner is not None else await _admins(work)
    data["notify"] = notify
    t.escalation_step = max(t.escalation_step, due.index)
    await work.append("ticket.escalated", None, internal=True, data=data)


async def sla_job(svc: Services, now: datetime) -> int:
    return await act_on(svc, await _due(svc, Ticket.sla_next_check_at, now), sla_step)


# -- auto-close ------------------------------------------------------------------------------


async def auto_close_step(work: Work) -> int:
    t = work.ticket
    # The catch-up has already applied any reply since the row was read: a customer's
    # reopened the ticket, anyone's moved activity_at (and so the due time) forward.
    if t.auto_close_at is None or t.auto_close_at > work.now:
        return 0
    _, calendar = work.policy()
    activity = max(t.status_changed_at, t.activity_at)
    settings = auto_close_settings(work)  # company > policy > desk default
    if auto_close(work.state(), activity, settings, calendar, work.now) is None:
        return 0
    await apply_status(work, None, "close")
    return 1


async def auto_close_job(svc: Services, now: datetime) -> int:
    return await act_on(svc, await _due(svc, Ticket.auto_close_at, now), auto_close_step)


# -- chat -> ticket ----------------------------------------------------------------------------


async def convert_step(work: Work) -> int:
    t = work.ticket
    if t.tracked or t.convert_at is None or t.convert_at > work.now or t.status not in _OPEN_WORK:
        return 0
    idle_due, left_due = convert_times(work.desk, t)
    if left_due is not None and left_due <= work.now:
        reason = "visitor_left"
    elif idle_due is not None and idle_due <= work.now:
        reason = "visitor_idle" if t.first_replied_at is not None else "no_answer"
    else:
        return 0  # activity moved it, or the customer came back; the recompute stores the new time
    await mark_tracked(work, None, reason)
    return 1


async def convert_job(svc: Services, now: datetime) -> int:
    return await act_on(svc, await _due(svc, Ticket.convert_at, now), convert_step)


# -- crash recovery ----------------------------------------------------------------------------


async def _caught_up(work: Work) -> int:
    if work.created:  # the chat's reaction never ran: its pre-chat answers go on the row now
        await apply_committed(work)
    return 1


@dataclass
class Backfill:
    """One sweeper's own progress through the crash-recovery backfill: where its moving
    window starts next and when it runs again. Nothing another process needs; after a
    restart it starts again from the bottom. Owned by the sweeper that runs its job."""

    window_from: int = 0
    next_run: datetime | None = None

    async def job(self, svc: Services, now: datetime) -> int:
        """:meth:`run`, at most once per :data:`BACKFILL_INTERVAL`."""
        if self.next_run is not None and now < self.next_run:
            return 0
        self.next_run = now + BACKFILL_INTERVAL
        return await self.run(svc, now)

    async def windows(self, svc: Services) -> list[tuple[int, int]]:
        """The id ranges (inclusive) this run looks at; advances the moving one."""
        async with svc.reads() as db:
            top = int(await db.scalar(select(func.max(Conversation.id))) or 0)
        start = self.window_from if self.window_from <= top else 0
        self.window_from = start + BACKFILL_SLICE
        newest = (max(top - BACKFILL_SLICE + 1, 0), top)
        moving = (start, start + BACKFILL_SLICE - 1)
        return [newest] if moving[1] >= newest[0] else [moving, newest]

    async def run(self, svc: Services, now: datetime) -> int:
        """Support chats without a ticket row, and open tickets behind their conversation,
        go through a unit (which creates / catches up). Leaves recently active
        conversations to their own reactions. Looks at :meth:`windows`, never the whole
        table."""
        return await _recover(svc, now, await self.windows(svc))


async def _recover(svc: Services, now: datetime, windows: list[tuple[int, int]]) -> int:
    quiet = now - BACKFILL_QUIET
    found: list[int] = []
    for low, high in windows:
        async with svc.reads() as db:
            found += list(await db.scalars(missing_query(quiet, low, high)))
            found += list(await db.scalars(behind_query(quiet, low, high)))
    done = 0
    for conversation_id in dict.fromkeys(found):
        try:
            result = await run_unit(svc, conversation_id, _caught_up, skip_locked=True)
        except Exception:
            log.exception("ticket %s: backfill failed; retrying on the next pass", conversation_id)
            continue
        done += result[0] if result is not None else 0
    return done


def missing_query(quiet: datetime, low: int, high: int) -> Select[int]:
    """Support chats with ids in [low, high] without a ticket row (a crash between a
    chat's commit and its reaction)."""
    return (
        select(Conversation.id)
        .where(Conversation.id.between(low, high), Conversation.kind == ConversationKind.CHAT,
               Conversation.updated_at <= quiet,
               # The window again on tickets: without it PostgreSQL hashes every ticket.
               ~exists().where(Ticket.conversation_id == Conversation.id, Ticket.conversation_id.between(low, high)))
        .order_by(Conversation.id).limit(BATCH)
    )


def behind_query(quiet: datetime, low: int, high: int) -> Select[int]:
    """Open tickets with ids in [low, high] whose conversation has events they have not applied."""
    return (
        select(Ticket.conversation_id)
        .join(Conversation, Conversation.id == Ticket.conversation_id)
        .where(Ticket.conversation_id.between(low, high), Conversation.id.between(low, high),
               Ticket.status != TicketStatus.CLOSED, Ticket.processed_seq < Conversation.last_seq,
               Conversation.updated_at <= quiet)
        .order_by(Ticket.conversation_id).limit(BATCH)
    )


# -- configuration changes reach open tickets ------------------------------------------------


async def _recomputed(work: Work) -> int:
    """Nothing to change: the unit's recompute (:func:`escalation.unit_of_work.recompute`)
    derives the deadlines on the desk as it is now, and announces those that moved
    (``ticket.deadlines``, published after the commit: a console showing the ticket
    reloads it)."""
    return 1


@dataclass
class DeskFollower:
    """Brings a desk configuration change (a policy, a calendar, a category...: the
    ``desk_version`` counter moved) to every open ticket's stored deadlines without
    waiting for the ticket's next unit of work.

    Kept in the job object, like :class:`Backfill`'s window: ``seen`` is the version every
    open ticket was recomputed at, ``walking`` the version a walk in progress brings them
    to, ``after`` the last conversation id it reached and ``held`` the tickets of the walk
    another transaction held when it came to them. A pass reads one row (the counter);
    when it moved, a walk starts over from the lowest id and each pass handles the held
    tickets and one :data:`BATCH` of open tickets (id order) through :func:`acted_on`:
    batched units, ``SKIP LOCKED``. A held ticket is retried on the next pass, and the
    walk ends only when none is left: the unit holding it may have read the desk before
    the change, so it does not stand for the recompute. Idempotent: a recompute that
    changes nothing writes and publishes nothing, so a second sweeper, a restart (which
    walks once) or a repeated walk costs reads only. A change during a walk restarts it.
    Nothing another process needs: each sweeper process that runs it walks; the row locks
    keep two from acting on one ticket at once."""

    seen: int | None = None
    walking: int | None = None
    after: int = 0
    held: list[int] = field(default_factory=list)

    async def job(self, svc: Services, now: datetime) -> int:
        async with svc.reads() as db:
            version = await db.scalar(select(DeskVersion.version).where(DeskVersion.id == 1))
        if version is None:
            return 0
        # A sweeper that starts (seen None) walks once: a change made while no sweeper ran,
        # or during a walk a restart cut short, is brought to the open tickets too. On a
        # desk that did not change the walk costs reads only.
        if version != self.seen and version != self.walking:
            self.walking, self.after, self.held = version, 0, []
        if self.walking is None:
            return 0
        async with svc.reads() as db:
            ids = list(await db.scalars(open_after_query(self.after)))
            # A held ticket closed since needs nothing.
            held = list(await db.scalars(still_open_query(self.held))) if self.held else []
        todo = [*held, *ids]
        done = await acted_on(svc, todo, _recomputed)
        self.held = [i for i in todo if i not in done]
        if ids:
            self.after = ids[-1]
        if len(ids) < BATCH and not self.held:
            self.seen, self.walking, self.after = self.walking, None, 0
        return sum(done.values())


def still_open_query(ids: list[int]) -> Select[int]:
    """Those of ``ids`` whose ticket is not yet closed."""
    return select(Ticket.conversation_id).where(Ticket.conversation_id.in_(ids), Ticket.status != TicketStatus.CLOSED)


def open_after_query(after: int) -> Select[int]:
    """The next :data:`BATCH` of not yet closed tickets with ids above ``after``."""
    return (
        select(Ticket.conversation_id)
        .where(Ticket.conversation_id > after, Ticket.status != TicketStatus.CLOSED)
        .order_by(Ticket.conversation_id).limit(BATCH)
    )


def _backlog(column: InstrumentedAttribute[datetime | None]) -> Callable[[Services, datetime], Awaitable[datetime | None]]:
    async def oldest_due(svc: Services, now: datetime) -> datetime | None:
        # The first entry of the column's index at or before now.
        async with svc.reads() as db:
            due: datetime | None = await db.scalar(select(func.min(column)).where(column <= now))
            return due

    return oldest_due


def ticket_backlogs() -> dict[str, Callable[[Services, datetime], Awaitable[datetime | None]]]:
    """Per ticket job with a due column, its oldest unhandled due time (an
    ``escalation.worker.Backlog``): what the sweeper's lag metric reports."""
    return {name: _backlog(column) for name, column in DUE_COLUMNS.items()}


def ticket_jobs() -> list[tuple[str, Callable[[Services, datetime], Awaitable[int]]]]:
    """The tickets' sweep jobs, for one sweeper (the backfill keeps its progress in it)."""
    return [
        ("tickets.backfill", Backfill().job),
        ("tickets.follow_desk", DeskFollower().job),
        ("tickets.convert", convert_job),
        ("tickets.sla", sla_job),
        ("tickets.auto_close", auto_close_job),
    ]

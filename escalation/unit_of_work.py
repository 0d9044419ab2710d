"""One ticket's unit of work: lock, catch up with the conversation, change, recompute every
stored deadline, commit, then publish.

Every writer of a ticket goes through :func:`run_unit`, which takes the conversation's row
lock first (PostgreSQL ``FOR UPDATE``; SQLite's write lock is taken by ``BEGIN IMMEDIATE``)
and then reads the ticket. A message send takes the same conversation lock to number its
event, so while a unit runs no message can slip in between its catch-up and its commit:
that is what lets a unit mark every event up to the conversation's ``last_seq`` as
processed, and what makes the sweeper's "re-check from stored events" airtight (a reply
that committed a moment before a breach is always seen; Zammad #3140).
"""

from __future__ import annotations

import bisect
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, TypeVar

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession

from chat.access_changes import publish_access
from chat.attention import alert_staff
from chat.errors import AppError, NotFound
from chat.events import EventKind, append_event, author_json, event_json, publish_events, ring_inbox, stage_event
from chat.groups.queries import partner_first_line
from chat.models import Conversation, ConversationKind, ConversationStatus, Event, Role, User
from chat.services import Services
from escalation.autoclose import AutoCloseOverride, AutoCloseSettings, auto_close_due_at, effective_auto_close
from escalation.calendars import BusinessCalendar, as_utc
from escalation.chat_reads import company_terms, lock_conversation, reply_turns
from escalation.config import Desk, load_desk
from escalation.deadline_columns import (
    SlaColumns,
    due_times_moved,
    sla_columns,
    watches_agent_reply,
    watches_customer_reply,
)
from escalation.errors import EscalationError
from escalation.history_facts import sla_facts
from escalation.lifecycle import (
    Actor,
    CloseReason,
    HistoryEvent,
    SupportLevel,
    TicketState,
    TicketStatus,
    agent_reply,
    customer_reply,
    open_chat,
)
from escalation.models import ReportReopen, Ticket, TicketChannel, TicketSlaMark
from escalation.policy_table import PlanTier, Severity
from escalation.report_facts import ReportFacts, ticket_facts
from escalation.sla import FactKind, SlaClock, SlaFact
from escalation.sla_targets import SlaPolicy, SlaTarget

T = TypeVar("T")

STAFF_WRITERS = frozenset({Role.AGENT, Role.SUPPORT_ADMIN})
_RESOLVED = (TicketStatus.PROPOSED_TO_CLOSE, TicketStatus.CLOSED)
_CONVERTIBLE = (TicketStatus.NEW, TicketStatus.IN_PROGRESS, TicketStatus.WAITING_ON_CUSTOMER)


def actor_of(user: User | None, partner: int | None = None) -> Actor:
    """The lifecycle's view of who acts: staff are agents, and so are the admins of
    ``partner``, the reseller whose own first line holds the ticket; everyone else is a
    customer."""
    if user is None:
        return Actor.system()
    if user.role in STAFF_WRITERS or is_partner(user, partner):
        return Actor.agent(str(user.id))
    return Actor.customer(str(user.id))


def is_partner(user: User, partner: int | None) -> bool:
    """Whether ``user`` answers for ``partner`` (a reseller handling its own first line)."""
    return partner is not None and user.role is Role.RESELLER_ADMIN and user.organization_id == partner


def new_chat_ticket(conv: Conversation, now: datetime, *, channel: TicketChannel = TicketChannel.CHAT) -> Ticket:
    """The row of a support chat in its live-chat phase (only first response is timed)."""
    opened = open_chat(conv.created_at, Actor.system())
    ticket = Ticket(
        conversation_id=conv.id,
        tracked=False,
        status=opened.state.status,
        status_changed_at=conv.created_at,
        activity_at=conv.created_at,
        channel=channel,
        level=1,
        requester_id=conv.created_by_id,
        cc=[],
        assets=[],
        resolution_round=0,
        sla_facts=[],
        deadlines={},
        escalation_step=0,
        processed_seq=0,
        watch_agent_reply=True,
        watch_customer_reply=False,
        created_at=conv.created_at,
        updated_at=now,
    )
    record_facts(ticket, sla_facts(opened.events))
    return ticket


def record_facts(ticket: Ticket, facts: Iterable[SlaFact]) -> None:
    """Insert SLA facts in time order (a replayed reply may be older than a fact already
    stored); nothing goes before the opening fact."""
    stored = [list(item) for item in ticket.sla_facts or []]
    times = [datetime.fromisoformat(at) for _, at in stored]
    for fact in facts:
        at = max(fact.at, times[0]) if times else fact.at
        index = bisect.bisect_right(times, at)
        times.insert(index, at)
        stored.insert(index, [fact.kind.value, at.isoformat()])
    ticket.sla_facts = stored


def facts_of(ticket: Ticket) -> list[SlaFact]:
    return [SlaFact(FactKind(kind), datetime.fromisoformat(at)) for kind, at in ticket.sla_facts or []]


@dataclass
class Work:
    """The state of one unit of work on one ticket (one transaction)."""

    svc: Services
    db: AsyncSession
    desk: Desk
    now: datetime
    conv: Conversation
    ticket: Ticket
    tier: PlanTier | None
    created: bool = False
    # The company's own auto-close delays, read with its plan (chat_reads.company_terms).
    company_auto_close: AutoCloseOverride | None = None
    events: list[dict[str, Any]] = field(default_factory=list)
    inbox: list[str] = field(default_factory=list)
    # People who lost the conversation in this unit (chat.access_changes), told to the hubs
    # after the commit so their open sockets leave the room.
    access: list[dict[str, Any]] = field(default_factory=list)
    rendered: Any = None
    _marks: set[str] | None = None
    # Set by escalation.batch: history events are numbered here and written with the
    # batch's flush instead of three statements each (see :meth:`append`).
    deferred: bool = False
    # Reads every ticket of a batch would repeat (the support admins to notify...), kept
    # for the transaction: escalation.batch hands its units one shared dict.
    shared: dict[str, Any] = field(default_factory=dict)
    _unflushed: list[tuple[int, Event, User | None]] = field(default_factory=list)
    # The acting session's chat.events.attribution (an impersonation names both people):
    # added to the history events the acting user writes in this unit.
    acting: dict[str, int] = field(default_factory=dict)

    # -- reading ---------------------------------------------------------------------------

    def state(self) -> TicketState:
        t = self.ticket
        return TicketState(
            status=t.status,
            opened_at=t.created_at,
            tracked=t.tracked,
            level=SupportLevel(t.level),
            group=t.group_key,
            label=t.label,
            stage_one_done_at=t.stage_one_done_at,
            closed_at=t.closed_at,
            closed_by=CloseReason(t.close_reason) if t.close_reason else None,
        )

    def policy(self) -> tuple[SlaPolicy | None, BusinessCalendar]:
        return self.desk.policy_for(self.tier, self.ticket.category, self.ticket.severity)

    async def marks(self) -> set[str]:
        if self._marks is None:
            rows = await self.db.scalars(
                select(TicketSlaMark.key).where(TicketSlaMark.conversation_id == self.ticket.conversation_id)
            )
            self._marks = set(rows)
        return self._marks

    def actor(self, user: User | None) -> Actor:
        """Who acts on this ticket, as the lifecycle sees it (:func:`actor_of`)."""
        return actor_of(user, self.ticket.handled_by_org_id)

    def next_response_open(self, at: datetime | None = None) -> bool:
        """Whether a customer message waits for its next response at ``at`` (default: now).
        Read from the facts, not the stored deadlines: those are recomputed at the end of
        the unit, and a catch-up applies several turns before that."""
        policy, calendar = self.policy()
        facts = facts_of(self.ticket)
        if policy is None or policy.next_response is None or not facts:
            return False
        cycle = SlaClock(policy, calendar, tuple(facts)).deadlines(at or self.now).get(SlaTarget.NEXT_RESPONSE)
        return cycle is not None and cycle.met_at is None

    # -- changing --------------------------------------------------------------------------

    def store_state(self, state: TicketState, at: datetime | None = None) -> None:
        """Copy a lifecycle state onto the row; a status change is timed and may close the
        conversation (sends then fail with ``conversation_closed``)."""
        t, at = self.ticket, at or self.now
        if state.status is not t.status:
            if state.status in _RESOLVED and t.status not in _RESOLVED:
                t.resolution_round += 1  # a new resolution: it may be rated once
            t.status = state.status
            t.status_changed_at = at
        t.tracked = state.tracked
        t.level = int(state.level)
        t.group_key = state.group
        t.label = state.label
        t.stage_one_done_at = state.stage_one_done_at
        if state.status is TicketStatus.CLOSED and t.closed_at is None:
            t.closed_at = state.closed_at or at
            t.close_reason = state.closed_by.value if state.closed_by else None
            self.conv.status = ConversationStatus.CLOSED
            self.conv.closed_at = t.closed_at
        t.updated_at = self.now

    def record(self, history: Iterable[HistoryEvent], *, keep: Callable[[SlaFact], bool] = lambda f: True) -> None:
        record_facts(self.ticket, [f for f in sla_facts(history) if keep(f)])

    async def append(
        self, name: str, actor: User | None, *, internal: bool, body: str | None = None,
        data: Mapping[str, Any] | None = None, **fields: Any,
    ) -> None:
        """A history event in the conversation's seq stream, published after the commit:
        ``data = {"event": name, "actor": ..., **data, **fields}``."""
        payload = {"event": name, "actor": author_json(actor), **(data or {}), **fields}
        if actor is not None and self.acting.get("on_behalf_of") == actor.id:
            payload.update(self.acting)
        self.ticket.updated_at = self.now
        if self.deferred:
            self._defer(payload, body, internal)
            return
        stored = await append_event(
            self.db, self.conv.id, kind=EventKind.SYSTEM, now=self.now, body=body, data=payload, internal=internal
        )
        self.events.append(event_json(stored, None))

    def _defer(self, payload: dict[str, Any], body: str | None, internal: bool) -> None:
        """Stage the event on the loaded row (:func:`chat.events.stage_event`): the unit
        holds the conversation's lock, and the flush writes the batch's all at once."""
        event = stage_event(self.db, self.conv, kind=EventKind.SYSTEM, now=self.now, body=body, data=payload,
                            internal=internal)
        self.staged(event, None)

    def staged(self, event: Event, author: User | None) -> None:
        """An event staged on this unit's conversation, published in this place of the
        unit's events; its JSON needs the row's id: see :meth:`settle`."""
        self._unflushed.append((len(self.events), event, author))
        self.events.append({})

    def settle(self) -> None:
        """After the flush: the deferred events as they are published."""
        for index, event, author in self._unflushed:
            self.events[index] = event_json(event, author)
        self._unflushed.clear()

    def ring(self, reason: str) -> None:
        self.inbox.append(reason)


# -- catching up with the conversation ---------------------------------------------------------


async def catch_up(work: Work) -> None:
    """Apply the messages stored after ``processed_seq``: a real staff reply (not a system
    event, not an internal note) answers; a customer message reopens a ticket that waits
    on them or was proposed to close, and feeds the next-response clock."""
    if work.conv.last_seq <= work.ticket.processed_seq:
        # The conversation was read under its lock, so its last_seq is current: nothing
        # landed since the ticket's last unit (most sweeps), and there is nothing to read.
        return
    rows = await reply_turns(work.db, work.conv.id, work.ticket.processed_seq)
    work.ticket.processed_seq = max(work.ticket.processed_seq, work.conv.last_seq)
    previous: bool | None = None  # the side of the last reply applied: agent (True) or customer
    for created_at, user in rows:
        if work.ticket.status is TicketStatus.CLOSED:
            break
        work.ticket.activity_at = max(work.ticket.activity_at, created_at)
        agent = user.role in STAFF_WRITERS or is_partner(user, work.ticket.handled_by_org_id)
        if not agent and user.role is Role.READ_ONLY:
            continue
        if agent is previous:
            # The next message of the same side changes nothing the first one did not (the
            # reply that answers or reopens, the fact that starts a cycle): a chat of
            # thousands of messages is caught up at the cost of its turns, not its lines.
            continue
        previous = agent
        if agent:
            await _agent_replied(work, created_at, user)
        else:
            await _customer_replied(work, created_at, user)


async def _agent_replied(work: Work, at: datetime, user: User) -> None:
    t = work.ticket
    counts = t.first_replied_at is None or work.next_response_open(at)
    moved = agent_reply(work.state(), at, work.actor(user))
    # NEW -> IN_PROGRESS by a reply is no separate event: the reply is the record.
    work.store_state(moved.state, at)
    if counts:
        work.record(moved.events)
    if t.first_replied_at is None:
        t.first_replied_at = at
        work.ring("ticket.answered")


async def _customer_replied(work: Work, at: datetime, user: User) -> None:
    t = work.ticket
    before = work.state()
    moved = customer_reply(before, at, actor_of(user))
    policy, _ = work.policy()
    starts_cycle = (
        t.tracked
        and t.first_replied_at is not None
        and policy is not None
        and policy.next_response is not None
        and not work.next_response_open(at)
    )
    work.store_state(moved.state, at)
    work.record(moved.events, keep=lambda f: f.kind is not FactKind.CUSTOMER_REPLY or starts_cycle)
    if moved.state.status is not before.status:
        await work.append(
            "ticket.status_changed", user, internal=False,
            data={"from": before.status.value, "to": moved.state.status.value, "label": None, "reason": "customer_reply"},
        )


# -- recomputing the stored deadlines ----------------------------------------------------------


async def recompute(work: Work) -> None:
    """Derive every stored deadline column, and the report facts, from the facts and the
    status, at ``now``."""
    policy, calendar = work.policy()
    facts = facts_of(work.ticket)
    clock = _sla_clock(facts, policy, calendar)
    sla = await _sla_columns(work, clock)
    await _store_sla_columns(work, policy, sla)
    await _schedule_auto_close(work, calendar)
    _schedule_conversion(work)
    _watch_replies(work, policy, sla.next_response_waits)
    # The marks were read for the clock (none matter without one): no statement here.
    await _store_report_facts(work, facts, calendar, clock, await work.marks() if clock is not None else set())


def _sla_clock(facts: list[SlaFact], policy: SlaPolicy | None, calendar: BusinessCalendar) -> SlaClock | None:
    """The ticket's clock, or ``None`` when no policy applies or nothing started it."""
    if policy is None or not facts:
        return None
    return SlaClock(policy, calendar, tuple(facts))


async def _sla_columns(work: Work, clock: SlaClock | None) -> SlaColumns:
    if clock is None:
        return SlaColumns()
    return sla_columns(
        clock, work.now, ticket_open=work.ticket.status is not TicketStatus.CLOSED, marks=await work.marks(),
        ladder=work.desk.ladder,
    )


async def _store_sla_columns(work: Work, policy: SlaPolicy | None, sla: SlaColumns) -> None:
    """Store the deadlines, the policy's name and the sweeper's next look; announce moved
    deadlines in the stream."""
    t = work.ticket
    moved = due_times_moved(t.deadlines or {}, sla.deadlines)
    t.deadlines = sla.deadlines
    t.sla_policy = policy.name if policy is not None else None
    t.sla_next_check_at = sla.next_check_at
    # The live-chat phase and a ticket's birth are no news; a tracked ticket's moved
    # deadlines are (pause, resume, re-categorization...).
    if moved and t.tracked and not work.created:
        await work.append("ticket.deadlines", None, internal=True, deadlines=sla.deadlines)


async def _store_report_facts(
    work: Work, facts: list[SlaFact], calendar: BusinessCalendar, clock: SlaClock | None, marks: set[str]
) -> None:
    """The report columns on the loaded row (escalation.report_facts): written with the
    ticket's own UPDATE, so a unit costs no statement more — except the unit that reopens
    a ticket, which also logs the reopen in ``report_reopens``. ``clock``: the one the
    deadlines were just derived from; every next-response cycle is judged on it."""
    t = work.ticket
    computed = ticket_facts(
        status=t.status, created_at=t.created_at, status_changed_at=t.status_changed_at,
        first_replied_at=t.first_replied_at, facts=facts, calendar=calendar, clock=clock,
        deadlines=t.deadlines or {}, marks=marks, previous=ReportFacts.stored(t),
    )
    if computed.reopened_count > (t.reopened_count or 0):
        await _log_reopens(work, computed.reopens)
    for name, value in computed.columns().items():
        if getattr(t, name) != value:
            setattr(t, name, value)


async def _log_reopens(work: Work, instants: tuple[datetime, ...]) -> None:
    """Every reopen instant of the ticket in ``report_reopens``; those already there stay
    (a ticket's first unit after the upgrade logs its earlier reopens too)."""
    insert = pg_insert if work.svc.engine.dialect.name == "postgresql" else sqlite_insert
    rows = [{"conversation_id": work.ticket.conversation_id, "at": at} for at in instants]
    await work.db.execute(insert(ReportReopen).values(rows).on_conflict_do_nothing())


async def _schedule_auto_close(work: Work, calendar: BusinessCalendar) -> None:
    """When the ticket closes by itself (waiting on the customer or proposed to close)."""
    t = work.ticket
    activity = max(t.status_changed_at, t.activity_at)
    if t.status not in _AUTO_CLOSING:
        t.auto_close_at = None  # no delay applies: nothing is read for one
        return
    t.auto_close_at = auto_close_due_at(work.state(), activity, auto_close_settings(work), calendar)


_AUTO_CLOSING = (TicketStatus.WAITING_ON_CUSTOMER, TicketStatus.PROPOSED_TO_CLOSE)


def auto_close_settings(work: Work) -> AutoCloseSettings:
    """The auto-close delays of this ticket: each from its company if the company sets it,
    else from the SLA rule the ticket falls under (tier x category x severity, as
    :meth:`Desk.policy_for` picks it), else the desk's default (``Desk.auto_close``)."""
    severity = Severity(work.ticket.severity) if work.ticket.severity is not None else None
    rule = work.desk.policies.select_rule(work.tier or PlanTier.BASIC, work.ticket.category, severity)
    return effective_auto_close(
        work.desk.auto_close, work.company_auto_close, rule.auto_close if rule is not None else None
    )


def _schedule_conversion(work: Work) -> None:
    """When a live chat still open to work becomes a ticket (:func:`convert_times`)."""
    t = work.ticket
    t.convert_at = None
    if not t.tracked and t.status in _CONVERTIBLE:
        t.convert_at = min(filter(None, convert_times(work.desk, t)), default=None)


def _watch_replies(work: Work, policy: SlaPolicy | None, next_response_waits: bool) -> None:
    """Whose next message the after-commit reaction must bring to the ticket."""
    t = work.ticket
    t.watch_agent_reply = watches_agent_reply(
        t.status, answered=t.first_replied_at is not None, next_response_waits=next_response_waits
    )
    t.watch_customer_reply = watches_customer_reply(
        t.status, tracked=t.tracked, policy=policy, next_response_waits=next_response_waits
    )


def convert_times(desk: Desk, t: Ticket) -> tuple[datetime | None, datetime | None]:
    """When a live chat becomes a ticket: on idleness (answered) or no answer, and a
    grace period after its customer left (``None``: not scheduled)."""
    activity = max(t.status_changed_at, t.activity_at)
    answered = t.first_replied_at is not None
    since = max(activity, t.first_replied_at) if t.first_replied_at is not None else t.created_at
    return desk.convert_due(answered=answered, since=since), desk.left_due(t.customer_left_at)


# -- running a unit ----------------------------------------------------------------------------


async def first_line_partner(db: AsyncSession, organization_id: int | None) -> int | None:
    """The reseller whose own queue a new ticket of ``organization_id`` lands in (partner
    first line), or ``None``: platform staff's queues."""
    if organization_id is None:
        return None
    return await partner_first_line(db, organization_id)


async def begin_work(
    svc: Services, db: AsyncSession, conv: Conversation, ticket: Ticket, *, created: bool, deferred: bool = False
) -> Work:
    """The unit on a ticket whose conversation this transaction holds. ``deferred``: its
    history events are staged on the loaded row (:meth:`Work.append`) and written by
    :func:`finish_work`'s flush — for a conversation created in this transaction or
    read with its lock and ``populate_existing``. A ticket ``created`` here has no SLA
    marks yet (nothing is read for them)."""
    desk = await load_desk(db, svc.settings)
    org = conv.organization_id
    terms = (await company_terms(db, {org})).get(org) if org is not None else None
    return Work(svc, db, desk, as_utc(svc.clock.now()), conv, ticket, terms.tier if terms else None, created,
                company_auto_close=terms.auto_close if terms else None, deferred=deferred,
                _marks=set() if created else None)


async def finish_work(work: Work) -> None:
    await recompute(work)
    if work.deferred:
        # The unit numbered every event of its conversation on the loaded row, under its
        # lock: the row's last_seq is the stored one after the flush.
        work.ticket.processed_seq = work.conv.last_seq
        await work.db.flush()
        work.settle()
        return
    last = await work.db.scalar(select(Conversation.last_seq).where(Conversation.id == work.conv.id))
    # Safe: the conversation's lock is held, so nothing was appended that is not ours or
    # already caught up.
    work.ticket.processed_seq = int(last or 0)
    await work.db.flush()


async def publish_work(svc: Services, work: Work) -> None:
    await publish_events(svc, work.events)
    await publish_access(svc, work.access)
    reasons = work.inbox + [e["data"]["event"] for e in work.events if e["kind"] == "system"]
    if reasons:
        await ring_inbox(svc, work.conv.id, reasons[0])
    # The people the change concerns (a transfer to their group, an SLA warning, …).
    await alert_staff(svc, work.events)


def app_error(exc: EscalationError, field: str | None = None) -> AppError:
    """The domain's error as the web layer's: same code, same status, same message; about
    the input the domain named, else ``field``."""
    return AppError(exc.message, code=exc.code, status=exc.status, field=exc.field or field)


def checked(build: Callable[[], T], field: str | None = None) -> T:
    """``build()`` (a core object built from an admin's input), its domain refusal as the
    web layer's error, about the input it names, else ``field``."""
    try:
        return build()
    except EscalationError as exc:
        raise app_error(exc, field) from None


async def run_unit(
    svc: Services,
    conversation_id: int,
    change: Callable[[Work], Awaitable[T]],
    *,
    create: bool = True,
    skip_locked: bool = False,
    render: Callable[[Work], Awaitable[Any]] | None = None,
    acting: dict[str, int] | None = None,
) -> tuple[T, Work] | None:
    """Run ``change`` on the ticket of ``conversation_id`` in one transaction; publish after
    the commit. A missing row of a support chat is created first (a crash between a chat's
    commit and its reaction must not lose the ticket). ``skip_locked``: return ``None``
    when another worker holds the conversation (PostgreSQL), instead of waiting.
    ``render``: called after the deadlines are recomputed, still in the transaction; its
    result is stored in ``work.rendered`` (the ticket as the caller should see it).
    ``acting``: the caller's :func:`chat.events.attribution` (see :attr:`Work.acting`)."""
    async with svc.sessions.begin() as db:
        conv = await lock_conversation(db, conversation_id, skip_locked=skip_locked)
        if conv is None:
            if skip_locked:
                return None
            raise NotFound("no such ticket", code="not_found")
        ticket = await db.get(Ticket, conversation_id, populate_existing=True)
        created = False
        if ticket is None:
            if not create or conv.kind is not ConversationKind.CHAT:
                raise NotFound("no such ticket", code="not_found")
            ticket = new_chat_ticket(conv, svc.clock.now())
            ticket.handled_by_org_id = await first_line_partner(db, conv.organization_id)
            db.add(ticket)
            await db.flush()
            created = True
        work = await begin_work(svc, db, conv, ticket, created=created)
        await catch_up(work)
        work.acting = dict(acting or {})
        try:
            result = await change(work)
        except EscalationError as exc:
            raise app_error(exc) from None
        await finish_work(work)
        if render is not None:
            work.rendered = await render(work)
    await publish_work(svc, work)
    return result, work

"""The ticket state machine: statuses, who may issue which command, and the guarded
commands themselves (auto-close rules are in :mod:`escalation.autoclose`; transfers and
status labels in :mod:`escalation.transfers`; the rating value in :mod:`escalation.ratings`;
what the history means to the SLA clock in :mod:`escalation.history_facts`).

Pure functions over an immutable :class:`TicketState`. Every command takes ``now`` and an
:class:`Actor` and returns a :class:`Transition`: the new state plus the history events the
storage layer appends to the conversation's stream (one per changed field, in order). An
illegal command raises :class:`IllegalTransition` and changes nothing. Which command is
legal in which status is one table, :data:`TRANSITIONS`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import datetime
from enum import IntEnum, StrEnum

from escalation.calendars import as_utc
from escalation.errors import ActorNotAllowed, AlreadyRated, IllegalTransition, RatingNotAllowed
from escalation.ratings import Rating


class TicketStatus(StrEnum):
    NEW = "new"  # no real support reply yet
    IN_PROGRESS = "in_progress"
    WAITING_ON_CUSTOMER = "waiting_on_customer"
    PROPOSED_TO_CLOSE = "proposed_to_close"  # the auto-close flag (FFC/SKAI)
    CLOSED = "closed"


class NextAction(StrEnum):
    CUSTOMER = "customer"
    SUPPORT = "support"


class SupportLevel(IntEnum):
    FIRST = 1
    SECOND = 2
    THIRD = 3


class ActorKind(StrEnum):
    CUSTOMER = "customer"
    AGENT = "agent"
    SYSTEM = "system"  # the sweeper, chat-to-ticket conversion, automatic closing


@dataclass(frozen=True)
class Actor:
    kind: ActorKind
    id: str | None = None

    @classmethod
    def agent(cls, id: str | None = None) -> Actor:
        return cls(ActorKind.AGENT, id)

    @classmethod
    def customer(cls, id: str | None = None) -> Actor:
        return cls(ActorKind.CUSTOMER, id)

    @classmethod
    def system(cls) -> Actor:
        return cls(ActorKind.SYSTEM)


class Command(StrEnum):
    START = "start"  # an agent takes a NEW ticket into work without replying yet
    TRACK = "track"  # a live chat becomes a tracked ticket (SLA clocks per policy)
    AGENT_REPLY = "agent_reply"
    CUSTOMER_REPLY = "customer_reply"
    WAIT_ON_CUSTOMER = "wait_on_customer"
    PROPOSE_CLOSE = "propose_close"
    REOPEN = "reopen"
    CLOSE_BY_AGENT = "close_by_agent"
    CLOSE_BY_CUSTOMER = "close_by_customer"
    AUTO_CLOSE = "auto_close"
    ESCALATE = "escalate"
    RATE = "rate"


class CloseReason(StrEnum):
    AGENT = "agent"
    CUSTOMER = "customer"
    AUTO = "auto"


_S = TicketStatus
_OPEN = (_S.NEW, _S.IN_PROGRESS, _S.WAITING_ON_CUSTOMER, _S.PROPOSED_TO_CLOSE)

# (command, current status) -> resulting status. A pair that is missing is illegal.
TRANSITIONS: Mapping[tuple[Command, TicketStatus], TicketStatus] = {
    (Command.START, _S.NEW): _S.IN_PROGRESS,
    # Tracking changes the clocks, not the status; a proposed solution is about to close
    # by itself, so there is nothing left to track.
    (Command.TRACK, _S.NEW): _S.NEW,
    (Command.TRACK, _S.IN_PROGRESS): _S.IN_PROGRESS,
    (Command.TRACK, _S.WAITING_ON_CUSTOMER): _S.WAITING_ON_CUSTOMER,
    # A real reply takes a NEW ticket into work; elsewhere it leaves the status alone (an
    # agent adding detail while waiting on the customer still waits on the customer).
    (Command.AGENT_REPLY, _S.NEW): _S.IN_PROGRESS,
    (Command.AGENT_REPLY, _S.IN_PROGRESS): _S.IN_PROGRESS,
    (Command.AGENT_REPLY, _S.WAITING_ON_CUSTOMER): _S.WAITING_ON_CUSTOMER,
    (Command.AGENT_REPLY, _S.PROPOSED_TO_CLOSE): _S.PROPOSED_TO_CLOSE,
    # The customer answering puts the ball back in support's court and removes the
    # auto-close flag (SKAI). After CLOSED it starts a follow-up instead (FFC).
    (Command.CUSTOMER_REPLY, _S.NEW): _S.NEW,
    (Command.CUSTOMER_REPLY, _S.IN_PROGRESS): _S.IN_PROGRESS,
    (Command.CUSTOMER_REPLY, _S.WAITING_ON_CUSTOMER): _S.IN_PROGRESS,
    (Command.CUSTOMER_REPLY, _S.PROPOSED_TO_CLOSE): _S.IN_PROGRESS,
    (Command.CUSTOMER_REPLY, _S.CLOSED): _S.CLOSED,
    (Command.WAIT_ON_CUSTOMER, _S.IN_PROGRESS): _S.WAITING_ON_CUSTOMER,
    # Proposing needs a prior real reply (so not from NEW): the proposal follows a solution.
    (Command.PROPOSE_CLOSE, _S.IN_PROGRESS): _S.PROPOSED_TO_CLOSE,
    (Command.PROPOSE_CLOSE, _S.WAITING_ON_CUSTOMER): _S.PROPOSED_TO_CLOSE,
    (Command.REOPEN, _S.WAITING_ON_CUSTOMER): _S.IN_PROGRESS,
    (Command.REOPEN, _S.PROPOSED_TO_CLOSE): _S.IN_PROGRESS,
    **{(Command.CLOSE_BY_AGENT, status): _S.CLOSED for status in _OPEN},
    **{(Command.CLOSE_BY_CUSTOMER, status): _S.CLOSED for status in _OPEN},
    # The system closes only what the auto-close rules cover.
    (Command.AUTO_CLOSE, _S.WAITING_ON_CUSTOMER): _S.CLOSED,
    (Command.AUTO_CLOSE, _S.PROPOSED_TO_CLOSE): _S.CLOSED,
    # A proposed solution must be withdrawn (reopen) before the ticket moves elsewhere.
    (Command.ESCALATE, _S.NEW): _S.NEW,
    (Command.ESCALATE, _S.IN_PROGRESS): _S.IN_PROGRESS,
    (Command.ESCALATE, _S.WAITING_ON_CUSTOMER): _S.WAITING_ON_CUSTOMER,
    # The customer may rate the proposed solution (the console's "Resolve") or the close.
    (Command.RATE, _S.PROPOSED_TO_CLOSE): _S.PROPOSED_TO_CLOSE,
    (Command.RATE, _S.CLOSED): _S.CLOSED,
}

ALLOWED_ACTORS: Mapping[Command, frozenset[ActorKind]] = {
    Command.START: frozenset({ActorKind.AGENT}),
    # An agent escalates; the system converts (idle visitor, no answer, nobody online).
    Command.TRACK: frozenset({ActorKind.AGENT, ActorKind.SYSTEM}),
    Command.AGENT_REPLY: frozenset({ActorKind.AGENT}),
    Command.CUSTOMER_REPLY: frozenset({ActorKind.CUSTOMER}),
    Command.WAIT_ON_CUSTOMER: frozenset({ActorKind.AGENT}),
    Command.PROPOSE_CLOSE: frozenset({ActorKind.AGENT}),
    Command.REOPEN: frozenset({ActorKind.AGENT, ActorKind.CUSTOMER}),
    Command.CLOSE_BY_AGENT: frozenset({ActorKind.AGENT}),
    Command.CLOSE_BY_CUSTOMER: frozenset({ActorKind.CUSTOMER}),
    Command.AUTO_CLOSE: frozenset({ActorKind.SYSTEM}),
    Command.ESCALATE: frozenset({ActorKind.AGENT, ActorKind.SYSTEM}),  # SLA breach escalates
    Command.RATE: frozenset({ActorKind.CUSTOMER}),
}

# The status each command is *meant* to reach, for error messages about illegal ones.
_INTENDED: Mapping[Command, TicketStatus] = {
    Command.START: _S.IN_PROGRESS,
    Command.AGENT_REPLY: _S.IN_PROGRESS,
    Command.CUSTOMER_REPLY: _S.IN_PROGRESS,
    Command.WAIT_ON_CUSTOMER: _S.WAITING_ON_CUSTOMER,
    Command.PROPOSE_CLOSE: _S.PROPOSED_TO_CLOSE,
    Command.REOPEN: _S.IN_PROGRESS,
    Command.CLOSE_BY_AGENT: _S.CLOSED,
    Command.CLOSE_BY_CUSTOMER: _S.CLOSED,
    Command.AUTO_CLOSE: _S.CLOSED,
}


@dataclass(frozen=True)
class TicketState:
    status: TicketStatus
    opened_at: datetime
    # False while a support chat is a live chat (only the first-response clock runs);
    # True for a ticket opened directly or once the chat was escalated/converted.
    tracked: bool = True
    level: SupportLevel = SupportLevel.FIRST
    group: str | None = None  # None: the first-line queue
    label: str | None = None
    stage_one_done_at: datetime | None = None
    closed_at: datetime | None = None
    closed_by: CloseReason | None = None
    rating: Rating | None = None

    def __post_init__(self) -> None:
        for name in ("opened_at", "stage_one_done_at", "closed_at"):
            value = getattr(self, name)
            if value is not None:
                object.__setattr__(self, name, as_utc(value, name))

    @property
    def is_open(self) -> bool:
        return self.status is not TicketStatus.CLOSED

    @property
    def next_action(self) -> NextAction | None:
        """Whose move it is (FFC's "next action"); ``None`` once closed."""
        if self.status in (TicketStatus.WAITING_ON_CUSTOMER, TicketStatus.PROPOSED_TO_CLOSE):
            return NextAction.CUSTOMER
        if self.status is TicketStatus.CLOSED:
            return None
        return NextAction.SUPPORT


class EventType(StrEnum):
    OPENED = "opened"
    CHAT_OPENED = "chat_opened"
    TRACKED = "tracked"
    AGENT_REPLY = "agent_reply"
    CUSTOMER_REPLY = "customer_reply"
    STAGE_ONE_DONE = "stage_one_done"
    STATUS_CHANGED = "status_changed"
    LABEL_CHANGED = "label_changed"
    LEVEL_CHANGED = "level_changed"
    GROUP_CHANGED = "group_changed"
    RATED = "rated"
    FOLLOW_UP_STARTED = "follow_up_started"


@dataclass(frozen=True)
class HistoryEvent:
    """One recorded change; ``before``/``after`` are the field's old/new value as text."""

    type: EventType
    at: datetime
    actor: Actor
    before: str | None = None
    after: str | None = None


class Outcome(StrEnum):
    UPDATED = "updated"
    # The customer wrote on a closed ticket: start a new conversation linked to this one.
    FOLLOW_UP = "follow_up"


@dataclass(frozen=True)
class Transition:
    state: TicketState
    events: tuple[HistoryEvent, ...]
    outcome: Outcome = Outcome.UPDATED


def guard(state: TicketState, command: Command, actor: Actor) -> TicketStatus:
    """The status ``command`` leads to from ``state``; raises :class:`ActorNotAllowed` if
    ``actor`` may not issue it, else :class:`IllegalTransition` (:class:`RatingNotAllowed`
    for a rating) if the table has no such transition."""
    if actor.kind not in ALLOWED_ACTORS[command]:
        raise ActorNotAllowed(f"a {actor.kind} may not {command}")
    target = TRANSITIONS.get((command, state.status))
    if target is None:
        intended = _INTENDED.get(command, state.status)
        error = RatingNotAllowed if command is Command.RATE else IllegalTransition
        raise error(
            f"illegal transition: {command} from {state.status} to {intended}",
            command=command.value,
            from_status=state.status.value,
            to_status=intended.value,
        )
    return target


def _move(
    state: TicketState, target: TicketStatus, now: datetime, actor: Actor, events: list[HistoryEvent]
) -> TicketState:
    """Change status (if it changes), clearing the label, and record both."""
    if target is state.status:
        return state
    events.append(HistoryEvent(EventType.STATUS_CHANGED, now, actor, state.status.value, target.value))
    if state.label is not None:
        events.append(HistoryEvent(EventType.LABEL_CHANGED, now, actor, state.label, None))
    return replace(state, status=target, label=None)


def _simple(state: TicketState, command: Command, now: datetime, actor: Actor) -> Transition:
    now = as_utc(now, "now")
    target = guard(state, command, actor)
    events: list[HistoryEvent] = []
    return Transition(_move(state, target, now, actor, events), tuple(events))


def open_ticket(now: datetime, actor: Actor) -> Transition:
    """A NEW ticket on the first-line queue (any actor: widget, phone intake, sweeper)."""
    now = as_utc(now, "now")
    state = TicketState(TicketStatus.NEW, opened_at=now)
    return Transition(state, (HistoryEvent(EventType.OPENED, now, actor, None, TicketStatus.NEW.value),))


def open_chat(now: datetime, actor: Actor) -> Transition:
    """A support chat's row: NEW, not tracked yet (only the first-response clock runs)."""
    now = as_utc(now, "now")
    state = TicketState(TicketStatus.NEW, opened_at=now, tracked=False)
    return Transition(state, (HistoryEvent(EventType.CHAT_OPENED, now, actor, None, TicketStatus.NEW.value),))


def track(state: TicketState, now: datetime, actor: Actor) -> Transition:
    """The live chat becomes a tracked ticket: stage-one and resolution clocks start now.

    Raises :class:`IllegalTransition` if it is already tracked or no longer open to work
    (proposed to close, closed)."""
    now = as_utc(now, "now")
    guard(state, Command.TRACK, actor)
    if state.tracked:
        raise IllegalTransition(
            "illegal transition: track from tracked to tracked (this is already a ticket)",
            command=Command.TRACK.value,
            from_status=state.status.value,
            to_status=state.status.value,
        )
    return Transition(replace(state, tracked=True), (HistoryEvent(EventType.TRACKED, now, actor, "chat", "ticket"),))


def start(state: TicketState, now: datetime, actor: Actor) -> Transition:
    """An agent takes a NEW ticket into work. Not a response: the SLA clock is untouched."""
    return _simple(state, Command.START, now, actor)


def agent_reply(state: TicketState, now: datetime, actor: Actor, *, stage_one: bool = False) -> Transition:
    """A real answer by an agent. ``stage_one=True`` marks it as SKAI's first-stage result
    (consultation or ETA); only the first such mark is recorded."""
    now = as_utc(now, "now")
    target = guard(state, Command.AGENT_REPLY, actor)
    events = [HistoryEvent(EventType.AGENT_REPLY, now, actor)]
    if stage_one and state.stage_one_done_at is None:
        events.append(HistoryEvent(EventType.STAGE_ONE_DONE, now, actor))
        state = replace(state, stage_one_done_at=now)
    return Transition(_move(state, target, now, actor, events), tuple(events))


def customer_reply(state: TicketState, now: datetime, actor: Actor) -> Transition:
    """A customer message. Waiting or proposed-to-close tickets return to IN_PROGRESS (the
    auto-close flag goes). On a CLOSED ticket nothing reopens: the outcome is
    :attr:`Outcome.FOLLOW_UP` and the caller starts a new conversation linked to it."""
    now = as_utc(now, "now")
    target = guard(state, Command.CUSTOMER_REPLY, actor)
    if state.status is TicketStatus.CLOSED:
        event = HistoryEvent(EventType.FOLLOW_UP_STARTED, now, actor)
        return Transition(state, (event,), Outcome.FOLLOW_UP)
    events = [HistoryEvent(EventType.CUSTOMER_REPLY, now, actor)]
    return Transition(_move(state, target, now, actor, events), tuple(events))


def wait_on_customer(state: TicketState, now: datetime, actor: Actor) -> Transition:
    """Support needs something from the customer; the SLA clock pauses."""
    return _simple(state, Command.WAIT_ON_CUSTOMER, now, actor)


def propose_close(state: TicketState, now: datetime, actor: Actor) -> Transition:
    """Set the auto-close flag after giving a solution."""
    return _simple(state, Command.PROPOSE_CLOSE, now, actor)


def reopen(state: TicketState, now: datetime, actor: Actor) -> Transition:
    """Back to IN_PROGRESS from waiting/proposed (agent withdraws, or customer disagrees)."""
    return _simple(state, Command.REOPEN, now, actor)


_CLOSE_COMMAND = {
    ActorKind.AGENT: (Command.CLOSE_BY_AGENT, CloseReason.AGENT),
    ActorKind.CUSTOMER: (Command.CLOSE_BY_CUSTOMER, CloseReason.CUSTOMER),
    ActorKind.SYSTEM: (Command.AUTO_CLOSE, CloseReason.AUTO),
}


def close(state: TicketState, now: datetime, actor: Actor) -> Transition:
    """Close: by an agent or the customer from any open status, by the system (auto-close)
    only from waiting/proposed. Closed is final; a later problem needs a new ticket."""
    now = as_utc(now, "now")
    command, reason = _CLOSE_COMMAND[actor.kind]
    target = guard(state, command, actor)
    events: list[HistoryEvent] = []
    moved = _move(state, target, now, actor, events)
    return Transition(replace(moved, closed_at=now, closed_by=reason), tuple(events))


def rate(state: TicketState, now: datetime, actor: Actor, rating: Rating) -> Transition:
    """The customer's feedback on a proposed solution or a closed ticket; once per close.

    ``state.rating`` is the rating of the current resolution (the storage layer clears it
    when a customer reply reopens the ticket); a second one raises :class:`AlreadyRated`."""
    now = as_utc(now, "now")
    guard(state, Command.RATE, actor)
    if state.rating is not None:
        raise AlreadyRated(
            "this ticket is already rated",
            command=Command.RATE.value,
            from_status=state.status.value,
            to_status=state.status.value,
        )
    event = HistoryEvent(EventType.RATED, now, actor, None, rating.value.value)
    return Transition(replace(state, rating=rating), (event,))


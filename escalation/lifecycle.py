"""The ticket state machine: statuses, guarded commands, ratings (auto-close rules are in
:mod:`escalation.autoclose`).

Pure functions over an immutable :class:`TicketState`. Every command takes ``now`` and an
:class:`Actor` and returns a :class:`Transition`: the new state plus the history events the
storage layer appends to the conversation's stream (one per changed field, in order). An
illegal command raises :class:`IllegalTransition` and changes nothing. Which command is
legal in which status is one table, :data:`TRANSITIONS`.

Deployment-defined statuses ("Re-check approved", "Hard to configure", ...) are *labels*:
shown to people, each mapped onto one core status, and cleared when the status changes.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from datetime import datetime
from enum import IntEnum, StrEnum

from escalation.calendars import as_utc
from escalation.errors import (
    ActorNotAllowed,
    AlreadyRated,
    IllegalTransition,
    InvalidLabel,
    InvalidRating,
    InvalidTransfer,
    RatingNotAllowed,
)
from escalation.sla import FactKind, SlaFact


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
    SYSTEM = "system"  # the sweeper, auto-replies, chat-to-ticket conversion


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
    AUTO_REPLY = "auto_reply"
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
    **{(Command.AUTO_REPLY, status): status for status in _OPEN},
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
    Command.AUTO_REPLY: frozenset({ActorKind.SYSTEM}),
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


class RatingValue(StrEnum):
    GOOD = "good"
    NO_RATING = "none"
    BAD = "bad"


MAX_REASON = 200  # a reason is a short pick/phrase shown in report tables
MAX_COMMENT = 4000  # generous for free text, bounded so a report row stays a row


def _clean_text(value: str | None, limit: int, name: str) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise InvalidRating(f"rating {name} must be text")
    value = value.strip()
    if len(value) > limit:
        raise InvalidRating(f"rating {name} is longer than {limit} characters")
    return value or None


@dataclass(frozen=True)
class Rating:
    """Feedback at close (SKAI/BX): Good / No rating / Bad, a reason and a comment."""

    value: RatingValue
    reason: str | None = None
    comment: str | None = None

    def __post_init__(self) -> None:
        try:
            object.__setattr__(self, "value", RatingValue(self.value))
        except ValueError as exc:
            raise InvalidRating(f"rating must be one of {[v.value for v in RatingValue]}") from exc
        object.__setattr__(self, "reason", _clean_text(self.reason, MAX_REASON, "reason"))
        object.__setattr__(self, "comment", _clean_text(self.comment, MAX_COMMENT, "comment"))


@dataclass(frozen=True)
class StatusLabel:
    name: str
    status: TicketStatus


DEFAULT_GROUPS = ("Second level", "Marketing", "Vendor", "Incidents")  # PSD queues
DEFAULT_LABELS = (  # FFC's own statuses that are not core ones
    StatusLabel("Re-check approved", TicketStatus.IN_PROGRESS),
    StatusLabel("Hard to configure", TicketStatus.IN_PROGRESS),
)


@dataclass(frozen=True)
class LifecycleSettings:
    """Deployment configuration: transfer groups and status labels."""

    groups: tuple[str, ...] = DEFAULT_GROUPS
    labels: tuple[StatusLabel, ...] = DEFAULT_LABELS

    def label(self, name: str) -> StatusLabel:
        for label in self.labels:
            if label.name == name:
                return label
        raise InvalidLabel(f"unknown status label {name!r}")


DEFAULT_SETTINGS = LifecycleSettings()


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
    AUTO_REPLY = "auto_reply"
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


def _guard(state: TicketState, command: Command, actor: Actor) -> TicketStatus:
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
    target = _guard(state, command, actor)
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
    _guard(state, Command.TRACK, actor)
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
    target = _guard(state, Command.AGENT_REPLY, actor)
    events = [HistoryEvent(EventType.AGENT_REPLY, now, actor)]
    if stage_one and state.stage_one_done_at is None:
        events.append(HistoryEvent(EventType.STAGE_ONE_DONE, now, actor))
        state = replace(state, stage_one_done_at=now)
    return Transition(_move(state, target, now, actor, events), tuple(events))


def auto_reply(state: TicketState, now: datetime, actor: Actor) -> Transition:
    """An automatic acknowledgement: recorded, but it answers nothing and moves nothing."""
    now = as_utc(now, "now")
    _guard(state, Command.AUTO_REPLY, actor)
    return Transition(state, (HistoryEvent(EventType.AUTO_REPLY, now, actor),))


def customer_reply(state: TicketState, now: datetime, actor: Actor) -> Transition:
    """A customer message. Waiting or proposed-to-close tickets return to IN_PROGRESS (the
    auto-close flag goes). On a CLOSED ticket nothing reopens: the outcome is
    :attr:`Outcome.FOLLOW_UP` and the caller starts a new conversation linked to it."""
    now = as_utc(now, "now")
    target = _guard(state, Command.CUSTOMER_REPLY, actor)
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
    target = _guard(state, command, actor)
    events: list[HistoryEvent] = []
    moved = _move(state, target, now, actor, events)
    return Transition(replace(moved, closed_at=now, closed_by=reason), tuple(events))


def escalate(
    state: TicketState,
    now: datetime,
    actor: Actor,
    *,
    level: SupportLevel,
    group: str | None,
    settings: LifecycleSettings = DEFAULT_SETTINGS,
) -> Transition:
    """Transfer to support ``level`` and ``group`` (``None`` = the first-line queue).

    Raises :class:`InvalidTransfer` for an unknown group or a transfer that changes nothing.
    """
    now = as_utc(now, "now")
    _guard(state, Command.ESCALATE, actor)
    try:
        level = SupportLevel(level)
    except ValueError as exc:
        raise InvalidTransfer(f"support level must be 1, 2 or 3, got {level!r}") from exc
    if group is not None and group not in settings.groups:
        raise InvalidTransfer(f"unknown group {group!r}; known: {', '.join(settings.groups)}")
    if level == state.level and group == state.group:
        raise InvalidTransfer("the ticket is already there")
    events: list[HistoryEvent] = []
    if level != state.level:
        events.append(HistoryEvent(EventType.LEVEL_CHANGED, now, actor, str(int(state.level)), str(int(level))))
    if group != state.group:
        events.append(HistoryEvent(EventType.GROUP_CHANGED, now, actor, state.group, group))
    return Transition(replace(state, level=level, group=group), tuple(events))


def set_label(
    state: TicketState,
    now: datetime,
    actor: Actor,
    label: str | None,
    settings: LifecycleSettings = DEFAULT_SETTINGS,
) -> Transition:
    """Show a deployment label (``None`` clears it). The label must belong to the current
    status - move the status with its own command first - else :class:`IllegalTransition`."""
    now = as_utc(now, "now")
    if actor.kind not in (ActorKind.AGENT, ActorKind.SYSTEM):
        raise ActorNotAllowed(f"a {actor.kind} may not set status labels")
    if label is not None:
        status = settings.label(label).status
        if status is not state.status:
            raise IllegalTransition(
                f"illegal transition: label {label!r} from {state.status} to {status} "
                f"(the label belongs to {status}; change the status first)",
                command="set_label",
                from_status=state.status.value,
                to_status=status.value,
            )
    if label == state.label:
        raise InvalidLabel("the ticket already has this label")
    event = HistoryEvent(EventType.LABEL_CHANGED, now, actor, state.label, label)
    return Transition(replace(state, label=label), (event,))


def rate(state: TicketState, now: datetime, actor: Actor, rating: Rating) -> Transition:
    """The customer's feedback on a proposed solution or a closed ticket; once per close.

    ``state.rating`` is the rating of the current resolution (the storage layer clears it
    when a customer reply reopens the ticket); a second one raises :class:`AlreadyRated`."""
    now = as_utc(now, "now")
    _guard(state, Command.RATE, actor)
    if state.rating is not None:
        raise AlreadyRated(
            "this ticket is already rated",
            command=Command.RATE.value,
            from_status=state.status.value,
            to_status=state.status.value,
        )
    event = HistoryEvent(EventType.RATED, now, actor, None, rating.value.value)
    return Transition(replace(state, rating=rating), (event,))


# -- bridge to the SLA clock ----------------------------------------------------------------


def sla_facts(events: Iterable[HistoryEvent]) -> list[SlaFact]:
    """The SLA facts implied by history events, in order (see :class:`escalation.sla.SlaClock`).

    Waiting on the customer pauses; proposing to close resolves; leaving waiting resumes;
    leaving proposed reopens; closing closes. Auto-replies and follow-ups imply nothing.
    """
    facts: list[SlaFact] = []
    direct = {
        EventType.OPENED: FactKind.OPENED,
        EventType.CHAT_OPENED: FactKind.CHAT_OPENED,
        EventType.TRACKED: FactKind.TRACKED,
        EventType.AGENT_REPLY: FactKind.AGENT_REPLY,
        EventType.CUSTOMER_REPLY: FactKind.CUSTOMER_REPLY,
        EventType.STAGE_ONE_DONE: FactKind.STAGE_ONE_DONE,
    }
    for event in events:
        kind = direct.get(event.type)
        if event.type is EventType.STATUS_CHANGED:
            kind = _status_fact(event.before, event.after)
        if kind is not None:
            facts.append(SlaFact(kind, event.at))
    return facts


def _status_fact(before: str | None, after: str | None) -> FactKind | None:
    if after == TicketStatus.CLOSED:
        return FactKind.CLOSED
    if after == TicketStatus.WAITING_ON_CUSTOMER:
        return FactKind.PAUSED
    if after == TicketStatus.PROPOSED_TO_CLOSE:
        return FactKind.RESOLVED
    if before == TicketStatus.WAITING_ON_CUSTOMER:
        return FactKind.RESUMED
    if before == TicketStatus.PROPOSED_TO_CLOSE:
        return FactKind.REOPENED
    return None

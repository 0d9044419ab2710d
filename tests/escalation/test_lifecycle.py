"""The ticket state machine, auto-close rules, ratings, and the bridge to the SLA clock."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from escalation import errors
from escalation.autoclose import (
    FFC_AUTO_CLOSE,
    SKAI_AUTO_CLOSE,
    AutoCloseSettings,
    Delay,
    auto_close,
    auto_close_due_at,
)
from escalation.calendars import moscow_business_calendar
from escalation.errors import (
    ActorNotAllowed,
    AlreadyRated,
    IllegalTransition,
    InvalidLabel,
    InvalidPolicy,
    InvalidRating,
    InvalidTransfer,
    NaiveDatetime,
    RatingNotAllowed,
)
from escalation.history_facts import sla_facts
from escalation.lifecycle import (
    TRANSITIONS,
    Actor,
    CloseReason,
    Command,
    EventType,
    HistoryEvent,
    NextAction,
    Outcome,
    SupportLevel,
    TicketState,
    TicketStatus,
    Transition,
    agent_reply,
    close,
    customer_reply,
    open_ticket,
    propose_close,
    rate,
    reopen,
    start,
    track,
    wait_on_customer,
)
from escalation.ratings import Rating, RatingValue
from escalation.sla import DeadlineState, FactKind, SlaClock
from escalation.sla_targets import SlaPolicy, SlaTarget, TargetSpec
from escalation.transfers import DEFAULT_GROUPS, LifecycleSettings, StatusLabel, escalate, set_label

MSK = ZoneInfo("Europe/Moscow")
T0 = datetime(2026, 11, 9, 7, 0, tzinfo=UTC)
NOW = T0 + timedelta(hours=1)
AGENT, CUSTOMER, SYSTEM = Actor.agent("a1"), Actor.customer("c1"), Actor.system()
S = TicketStatus


def msk(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=MSK)


def ticket(status: TicketStatus, **changes: object) -> TicketState:
    state = TicketState(status, opened_at=T0)
    if status is S.CLOSED:
        state = replace(state, closed_at=T0, closed_by=CloseReason.AGENT)
    return replace(state, **changes)  # type: ignore[arg-type]


# -- the full status x command matrix -------------------------------------------------------

COMMANDS: dict[Command, Callable[[TicketState], Transition]] = {
    Command.START: lambda s: start(s, NOW, AGENT),
    Command.TRACK: lambda s: track(replace(s, tracked=False), NOW, AGENT),
    Command.AGENT_REPLY: lambda s: agent_reply(s, NOW, AGENT),
    Command.CUSTOMER_REPLY: lambda s: customer_reply(s, NOW, CUSTOMER),
    Command.WAIT_ON_CUSTOMER: lambda s: wait_on_customer(s, NOW, AGENT),
    Command.PROPOSE_CLOSE: lambda s: propose_close(s, NOW, AGENT),
    Command.REOPEN: lambda s: reopen(s, NOW, CUSTOMER),
    Command.CLOSE_BY_AGENT: lambda s: close(s, NOW, AGENT),
    Command.CLOSE_BY_CUSTOMER: lambda s: close(s, NOW, CUSTOMER),
    Command.AUTO_CLOSE: lambda s: close(s, NOW, SYSTEM),
    Command.ESCALATE: lambda s: escalate(s, NOW, AGENT, level=SupportLevel.SECOND, group="Second level"),
    Command.RATE: lambda s: rate(s, NOW, CUSTOMER, Rating(RatingValue.GOOD)),
}

X = None  # illegal
STATUSES = [S.NEW, S.IN_PROGRESS, S.WAITING_ON_CUSTOMER, S.PROPOSED_TO_CLOSE, S.CLOSED]
# Rows: command; columns: NEW, IN_PROGRESS, WAITING_ON_CUSTOMER, PROPOSED_TO_CLOSE, CLOSED.
EXPECTED: dict[Command, list[TicketStatus | None]] = {
    Command.START: [S.IN_PROGRESS, X, X, X, X],
    Command.TRACK: [S.NEW, S.IN_PROGRESS, S.WAITING_ON_CUSTOMER, X, X],
    Command.AGENT_REPLY: [S.IN_PROGRESS, S.IN_PROGRESS, S.WAITING_ON_CUSTOMER, S.PROPOSED_TO_CLOSE, X],
    Command.CUSTOMER_REPLY: [S.NEW, S.IN_PROGRESS, S.IN_PROGRESS, S.IN_PROGRESS, S.CLOSED],
    Command.WAIT_ON_CUSTOMER: [X, S.WAITING_ON_CUSTOMER, X, X, X],
    Command.PROPOSE_CLOSE: [X, S.PROPOSED_TO_CLOSE, S.PROPOSED_TO_CLOSE, X, X],
    Command.REOPEN: [X, X, S.IN_PROGRESS, S.IN_PROGRESS, X],
    Command.CLOSE_BY_AGENT: [S.CLOSED, S.CLOSED, S.CLOSED, S.CLOSED, X],
    Command.CLOSE_BY_CUSTOMER: [S.CLOSED, S.CLOSED, S.CLOSED, S.CLOSED, X],
    Command.AUTO_CLOSE: [X, X, S.CLOSED, S.CLOSED, X],
    Command.ESCALATE: [S.NEW, S.IN_PROGRESS, S.WAITING_ON_CUSTOMER, X, X],
    Command.RATE: [X, X, X, S.PROPOSED_TO_CLOSE, S.CLOSED],
}
MATRIX = [
    (command, status, EXPECTED[command][column]) for command in Command for column, status in enumerate(STATUSES)
]


def test_the_matrix_covers_every_command_and_status() -> None:
    assert set(EXPECTED) == set(Command) == set(COMMANDS)
    assert len(MATRIX) == len(Command) * len(TicketStatus)
    assert dict(TRANSITIONS) == {(c, s): e for c, s, e in MATRIX if e is not None}


@pytest.mark.parametrize(("command", "status", "expected"), MATRIX, ids=[f"{c}-{s}" for c, s, _ in MATRIX])
def test_transition_matrix(command: Command, status: TicketStatus, expected: TicketStatus | None) -> None:
    state = ticket(status)
    if expected is None:
        error = RatingNotAllowed if command is Command.RATE else IllegalTransition
        with pytest.raises(error) as info:
            COMMANDS[command](state)
        assert info.value.code in ("illegal_transition", "rating_not_allowed")
        assert info.value.status == 409
        assert info.value.from_status == status.value
        assert f"from {status.value}" in info.value.message and " to " in info.value.message
    else:
        result = COMMANDS[command](state)
        assert result.state.status is expected
        assert all(event.at == NOW for event in result.events)


# -- events, per command --------------------------------------------------------------------


def types(transition: Transition) -> list[EventType]:
    return [event.type for event in transition.events]


def test_open_and_work_a_ticket_records_every_change() -> None:
    opened = open_ticket(T0, CUSTOMER)
    assert opened.state.status is S.NEW and opened.state.next_action is NextAction.SUPPORT
    assert opened.events == (HistoryEvent(EventType.OPENED, T0, CUSTOMER, None, "new"),)
    replied = agent_reply(opened.state, NOW, AGENT, stage_one=True)
    assert replied.events == (
        HistoryEvent(EventType.AGENT_REPLY, NOW, AGENT),
        HistoryEvent(EventType.STAGE_ONE_DONE, NOW, AGENT),
        HistoryEvent(EventType.STATUS_CHANGED, NOW, AGENT, "new", "in_progress"),
    )
    again = agent_reply(replied.state, NOW, AGENT, stage_one=True)
    assert types(again) == [EventType.AGENT_REPLY]  # stage one is recorded once
    waiting = wait_on_customer(replied.state, NOW, AGENT)
    assert waiting.state.next_action is NextAction.CUSTOMER
    assert waiting.events == (HistoryEvent(EventType.STATUS_CHANGED, NOW, AGENT, "in_progress", "waiting_on_customer"),)


def test_customer_reply_removes_the_auto_close_flag_and_the_label() -> None:
    proposed = ticket(S.PROPOSED_TO_CLOSE, label="Solution sent")
    result = customer_reply(proposed, NOW, CUSTOMER)
    assert result.state.status is S.IN_PROGRESS and result.state.label is None
    assert result.events == (
        HistoryEvent(EventType.CUSTOMER_REPLY, NOW, CUSTOMER),
        HistoryEvent(EventType.STATUS_CHANGED, NOW, CUSTOMER, "proposed_to_close", "in_progress"),
        HistoryEvent(EventType.LABEL_CHANGED, NOW, CUSTOMER, "Solution sent", None),
    )
    assert types(customer_reply(ticket(S.NEW), NOW, CUSTOMER)) == [EventType.CUSTOMER_REPLY]


def test_a_customer_message_after_close_starts_a_follow_up_instead_of_reopening() -> None:
    closed = ticket(S.CLOSED)
    result = customer_reply(closed, NOW, CUSTOMER)
    assert result.outcome is Outcome.FOLLOW_UP
    assert result.state is closed
    assert types(result) == [EventType.FOLLOW_UP_STARTED]
    assert customer_reply(ticket(S.IN_PROGRESS), NOW, CUSTOMER).outcome is Outcome.UPDATED


@pytest.mark.parametrize(
    ("actor", "reason"), [(AGENT, CloseReason.AGENT), (CUSTOMER, CloseReason.CUSTOMER), (SYSTEM, CloseReason.AUTO)]
)
def test_close_records_who_closed(actor: Actor, reason: CloseReason) -> None:
    result = close(ticket(S.WAITING_ON_CUSTOMER), NOW, actor)
    assert result.state.closed_by is reason and result.state.closed_at == NOW
    assert result.state.next_action is None and not result.state.is_open
    assert result.events == (HistoryEvent(EventType.STATUS_CHANGED, NOW, actor, "waiting_on_customer", "closed"),)


@pytest.mark.parametrize(
    "call",
    [
        lambda: agent_reply(ticket(S.NEW), NOW, CUSTOMER),
        lambda: agent_reply(ticket(S.NEW), NOW, SYSTEM),
        lambda: customer_reply(ticket(S.NEW), NOW, AGENT),
        lambda: propose_close(ticket(S.IN_PROGRESS), NOW, CUSTOMER),
        lambda: wait_on_customer(ticket(S.IN_PROGRESS), NOW, SYSTEM),
        lambda: reopen(ticket(S.WAITING_ON_CUSTOMER), NOW, SYSTEM),
        lambda: escalate(ticket(S.NEW), NOW, CUSTOMER, level=SupportLevel.SECOND, group=None),
        lambda: rate(ticket(S.CLOSED), NOW, AGENT, Rating(RatingValue.GOOD)),
        lambda: set_label(ticket(S.IN_PROGRESS), NOW, CUSTOMER, "Hard to configure"),
    ],
)
def test_actors_may_only_issue_their_own_commands(call: Callable[[], Transition]) -> None:
    with pytest.raises(ActorNotAllowed) as info:
        call()
    assert info.value.status == 403


def test_next_action_derives_from_status() -> None:
    assert [ticket(s).next_action for s in STATUSES] == [
        NextAction.SUPPORT,
        NextAction.SUPPORT,
        NextAction.CUSTOMER,
        NextAction.CUSTOMER,
        None,
    ]


# -- escalation and labels ------------------------------------------------------------------


def test_escalate_between_levels_and_groups() -> None:
    assert DEFAULT_GROUPS == ("Second level", "Marketing", "Vendor", "Incidents")
    first = ticket(S.IN_PROGRESS)
    second = escalate(first, NOW, SYSTEM, level=SupportLevel.SECOND, group="Second level")
    assert (second.state.level, second.state.group) == (SupportLevel.SECOND, "Second level")
    assert second.events == (
        HistoryEvent(EventType.LEVEL_CHANGED, NOW, SYSTEM, "1", "2"),
        HistoryEvent(EventType.GROUP_CHANGED, NOW, SYSTEM, None, "Second level"),
    )
    vendor = escalate(second.state, NOW, AGENT, level=SupportLevel.SECOND, group="Vendor")
    assert types(vendor) == [EventType.GROUP_CHANGED]
    back = escalate(vendor.state, NOW, AGENT, level=SupportLevel.FIRST, group=None)
    assert (back.state.level, back.state.group) == (SupportLevel.FIRST, None)
    custom = LifecycleSettings(groups=("Billing",))
    assert escalate(first, NOW, AGENT, level=SupportLevel.THIRD, group="Billing", settings=custom).state.group == "Billing"
    bad_calls: tuple[Callable[[], object], ...] = (
        lambda: escalate(first, NOW, AGENT, level=SupportLevel.SECOND, group="Nowhere"),
        lambda: escalate(first, NOW, AGENT, level=SupportLevel.FIRST, group=None),
        lambda: escalate(first, NOW, AGENT, level=4, group=None),  # type: ignore[arg-type]
        lambda: escalate(first, NOW, AGENT, level=SupportLevel.SECOND, group="Marketing", settings=custom),
    )
    for bad in bad_calls:
        with pytest.raises(InvalidTransfer):
            bad()


def test_labels_map_onto_core_statuses() -> None:
    working = ticket(S.IN_PROGRESS)
    labelled = set_label(working, NOW, AGENT, "Hard to configure")
    assert labelled.state.label == "Hard to configure" and labelled.state.status is S.IN_PROGRESS
    assert labelled.events == (HistoryEvent(EventType.LABEL_CHANGED, NOW, AGENT, None, "Hard to configure"),)
    relabelled = set_label(labelled.state, NOW, AGENT, "Re-check approved")
    assert relabelled.events[0].before == "Hard to configure"
    with pytest.raises(IllegalTransition, match="from new"):
        set_label(ticket(S.NEW), NOW, AGENT, "Hard to configure")
    with pytest.raises(InvalidLabel):
        set_label(working, NOW, AGENT, "Made up")
    with pytest.raises(InvalidLabel):
        set_label(labelled.state, NOW, AGENT, "Hard to configure")
    cleared = set_label(labelled.state, NOW, AGENT, None)
    assert cleared.state.label is None
    moved = wait_on_customer(labelled.state, NOW, AGENT)
    assert moved.state.label is None and types(moved) == [EventType.STATUS_CHANGED, EventType.LABEL_CHANGED]
    solved = LifecycleSettings(labels=(StatusLabel("Solved", S.CLOSED),))
    assert set_label(ticket(S.CLOSED), NOW, SYSTEM, "Solved", solved).state.label == "Solved"


# -- ratings --------------------------------------------------------------------------------


def test_ratings_once_per_resolution_and_only_when_proposed_or_closed() -> None:
    with pytest.raises(RatingNotAllowed) as info:
        rate(ticket(S.IN_PROGRESS), NOW, CUSTOMER, Rating(RatingValue.GOOD))
    assert isinstance(info.value, IllegalTransition) and info.value.code == "rating_not_allowed"
    rated = rate(ticket(S.CLOSED), NOW, CUSTOMER, Rating(RatingValue.BAD, " Slow ", "Took a week"))
    assert rated.state.rating == Rating(RatingValue.BAD, "Slow", "Took a week")
    assert rated.events == (HistoryEvent(EventType.RATED, NOW, CUSTOMER, None, "bad"),)
    with pytest.raises(AlreadyRated, match="already rated") as again:
        rate(rated.state, NOW, CUSTOMER, Rating(RatingValue.GOOD))
    assert (again.value.code, again.value.status) == ("already_rated", 409)
    proposed = rate(ticket(S.PROPOSED_TO_CLOSE), NOW, CUSTOMER, Rating(RatingValue.GOOD))
    assert proposed.state.status is S.PROPOSED_TO_CLOSE and proposed.state.rating == Rating(RatingValue.GOOD)
    assert Rating("none", "  ").reason is None  # type: ignore[arg-type]
    bad_calls: tuple[Callable[[], object], ...] = (
        lambda: Rating("great"),  # type: ignore[arg-type]
        lambda: Rating(RatingValue.BAD, "x" * 201),
        lambda: Rating(RatingValue.BAD, None, "x" * 4001),
        lambda: Rating(RatingValue.BAD, 5),  # type: ignore[arg-type]
    )
    for bad in bad_calls:
        with pytest.raises(InvalidRating):
            bad()


# -- auto-close -----------------------------------------------------------------------------

MOSCOW = moscow_business_calendar()


def test_waiting_on_the_customer_closes_after_48_hours_without_activity() -> None:
    waiting = ticket(S.WAITING_ON_CUSTOMER)
    last = msk(2026, 11, 6, 17, 50)
    due = auto_close_due_at(waiting, last, FFC_AUTO_CLOSE, MOSCOW)
    assert due == last + timedelta(hours=48)  # calendar time: the weekend counts
    assert auto_close(waiting, last, FFC_AUTO_CLOSE, MOSCOW, due - timedelta(microseconds=1)) is None
    closed = auto_close(waiting, last, FFC_AUTO_CLOSE, MOSCOW, due)
    assert closed is not None and closed.state.closed_by is CloseReason.AUTO
    assert closed.events == (HistoryEvent(EventType.STATUS_CHANGED, due, SYSTEM, "waiting_on_customer", "closed"),)


@pytest.mark.parametrize(
    ("settings", "last", "due"),
    [
        (FFC_AUTO_CLOSE, msk(2026, 11, 5, 15, 0), msk(2026, 11, 12, 15, 0)),  # FFC: 7 days
        (SKAI_AUTO_CLOSE, msk(2026, 11, 5, 15, 0), msk(2026, 11, 9, 18, 0)),  # Fri, Mon
        (SKAI_AUTO_CLOSE, msk(2026, 11, 3, 12, 0), msk(2026, 11, 6, 18, 0)),  # Unity Day skipped
        (
            AutoCloseSettings(proposed_delay=Delay.business_time(timedelta(hours=4))),
            msk(2026, 11, 6, 17, 50),
            msk(2026, 11, 9, 13, 20),
        ),
    ],
)
def test_proposed_to_close_delay(settings: AutoCloseSettings, last: datetime, due: datetime) -> None:
    assert auto_close_due_at(ticket(S.PROPOSED_TO_CLOSE), last, settings, MOSCOW) == due


def test_only_waiting_and_proposed_tickets_auto_close() -> None:
    for status in (S.NEW, S.IN_PROGRESS, S.CLOSED):
        assert auto_close_due_at(ticket(status), T0, FFC_AUTO_CLOSE, MOSCOW) is None
        assert auto_close(ticket(status), T0, FFC_AUTO_CLOSE, MOSCOW, T0 + timedelta(days=30)) is None
    bad_calls: tuple[Callable[[], object], ...] = (
        lambda: Delay.calendar_time(timedelta(0)),
        lambda: Delay.business_time(-timedelta(hours=1)),
        lambda: Delay.calendar_time(timedelta(days=366)),
        lambda: Delay.business_days(0),
    )
    for bad in bad_calls:
        with pytest.raises(InvalidPolicy):
            bad()


# -- naive datetimes and the error catalogue ------------------------------------------------


def test_naive_datetimes_are_refused() -> None:
    naive = datetime(2026, 11, 9, 10, 0)
    calls: tuple[Callable[[], object], ...] = (
        lambda: open_ticket(naive, CUSTOMER),
        lambda: agent_reply(ticket(S.NEW), naive, AGENT),
        lambda: close(ticket(S.NEW), naive, AGENT),
        lambda: auto_close_due_at(ticket(S.WAITING_ON_CUSTOMER), naive, FFC_AUTO_CLOSE, MOSCOW),
        lambda: auto_close_due_at(ticket(S.NEW), naive, FFC_AUTO_CLOSE, MOSCOW),
        lambda: TicketState(S.NEW, opened_at=naive),
    )
    for call in calls:
        with pytest.raises(NaiveDatetime):
            call()


def test_every_error_has_a_stable_code_and_status() -> None:
    classes = [
        cls
        for cls in vars(errors).values()
        if isinstance(cls, type) and issubclass(cls, errors.EscalationError) and cls is not errors.EscalationError
    ]
    codes = {cls.code for cls in classes}
    assert len(codes) == len(classes)
    assert {"illegal_transition", "invalid_calendar", "invalid_policy"} <= codes
    assert all(cls.status in (403, 409, 422) for cls in classes)


# -- from lifecycle events to the SLA clock -------------------------------------------------


def test_lifecycle_events_drive_the_sla_clock() -> None:
    policy = SlaPolicy(
        "p",
        "moscow",
        first_response=TargetSpec.hours(4),
        next_response=TargetSpec.hours(2),
        resolution=TargetSpec.hours(16),
    )
    history: list[HistoryEvent] = []

    def do(transition: Transition) -> TicketState:
        history.extend(transition.events)
        return transition.state

    state = do(open_ticket(msk(2026, 11, 6, 17, 50), CUSTOMER))
    state = do(agent_reply(state, msk(2026, 11, 9, 10, 0), AGENT))
    state = do(wait_on_customer(state, msk(2026, 11, 9, 10, 5), AGENT))
    state = do(customer_reply(state, msk(2026, 11, 10, 11, 0), CUSTOMER))
    assert [f.kind for f in sla_facts(history)] == [
        FactKind.OPENED,
        FactKind.AGENT_REPLY,
        FactKind.PAUSED,
        FactKind.CUSTOMER_REPLY,
        FactKind.RESUMED,
    ]
    clock = SlaClock(policy, MOSCOW, tuple(sla_facts(history)))
    now = msk(2026, 11, 10, 11, 0)
    deadlines = clock.deadlines(now)
    assert deadlines[SlaTarget.FIRST_RESPONSE].state is DeadlineState.MET  # type: ignore[union-attr]
    assert deadlines[SlaTarget.NEXT_RESPONSE].due_at == msk(2026, 11, 10, 13, 0)  # type: ignore[union-attr]
    # Resolution used Friday's 10 min and Monday 09:30-10:05; the pause did not count.
    assert deadlines[SlaTarget.RESOLUTION].remaining == timedelta(hours=16) - timedelta(minutes=45)  # type: ignore[union-attr]
    state = do(propose_close(state, msk(2026, 11, 10, 12, 0), AGENT))
    state = do(customer_reply(state, msk(2026, 11, 11, 10, 0), CUSTOMER))
    state = do(close(state, msk(2026, 11, 11, 12, 0), CUSTOMER))
    assert [f.kind for f in sla_facts(history)][5:] == [
        FactKind.RESOLVED,
        FactKind.CUSTOMER_REPLY,
        FactKind.REOPENED,
        FactKind.CLOSED,
    ]
    final = SlaClock(policy, MOSCOW, tuple(sla_facts(history)))
    assert final.due_events(msk(2026, 12, 1, 12, 0)) == []
    assert final.deadlines(msk(2026, 12, 1, 12, 0))[SlaTarget.RESOLUTION].state is DeadlineState.MET  # type: ignore[union-attr]
    follow_up = customer_reply(state, msk(2026, 11, 12, 10, 0), CUSTOMER)
    assert follow_up.outcome is Outcome.FOLLOW_UP and sla_facts(follow_up.events) == []

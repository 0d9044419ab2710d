"""SLA policies, the policy table, and the SLA clock."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from escalation.calendars import always_open, moscow_business_calendar
from escalation.errors import InvalidPolicy, InvalidSlaFacts, NaiveDatetime
from escalation.policies import Availability
from escalation.policy_table import PlanTier, PolicyRule, PolicyTable, Severity
from escalation.seeds import FFC_CATEGORIES, SKAI_TOPICS, default_policy_table, seed_calendars, skai_policy_table
from escalation.sla import DeadlineState, FactKind, SlaClock, SlaEvent, SlaEventKind, SlaFact
from escalation.sla_targets import SlaPolicy, SlaTarget, TargetSpec, TargetUnit

MSK = ZoneInfo("Europe/Moscow")
H = timedelta(hours=1)
MIN = timedelta(minutes=1)
MOSCOW = moscow_business_calendar()
ALWAYS = always_open()
FR, NR, S1, RES = SlaTarget.FIRST_RESPONSE, SlaTarget.NEXT_RESPONSE, SlaTarget.STAGE_ONE, SlaTarget.RESOLUTION


def msk(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=MSK)


def fact(kind: FactKind, at: datetime) -> SlaFact:
    return SlaFact(kind, at)


FRIDAY_EVENING = msk(2026, 11, 6, 17, 50)
FOUR_HOURS = SlaPolicy("regular", "moscow", first_response=TargetSpec.hours(4))


# -- targets and policies -------------------------------------------------------------------


@pytest.mark.parametrize(
    "build",
    [
        lambda: TargetSpec.of(timedelta(0)),
        lambda: TargetSpec.of(-MIN),
        lambda: TargetSpec.of(timedelta(days=365, seconds=1)),
        lambda: TargetSpec.hours(24 * 400),
        lambda: TargetSpec.business_days(0),
        lambda: TargetSpec.business_days(-1),
        lambda: TargetSpec.business_days(366),
        lambda: TargetSpec.business_days(True),
        lambda: TargetSpec(TargetUnit.BUSINESS_DAYS, duration=H),
        lambda: TargetSpec(TargetUnit.BUSINESS_TIME, days=1),
        lambda: SlaPolicy("p", "moscow", warning_share=0),
        lambda: SlaPolicy("p", "moscow", warning_share=1),
        lambda: SlaPolicy("p", "moscow", warning_share=1.5),
        lambda: SlaPolicy("p", "moscow", warning_share=-0.2),
        lambda: SlaPolicy("", "moscow"),
        lambda: SlaPolicy("p", " "),
        lambda: PolicyTable((PolicyRule(FOUR_HOURS, tier=PlanTier.BASIC), PolicyRule(FOUR_HOURS, tier=PlanTier.BASIC))),
        lambda: SlaClock(FOUR_HOURS, ALWAYS),  # the policy is measured on "moscow"
        lambda: SlaPolicy("p", "moscow", day_rule="calendar_days"),  # type: ignore[arg-type]
    ],
)
def test_bad_policies_are_refused(build: Callable[[], object]) -> None:
    with pytest.raises(InvalidPolicy) as info:
        build()
    assert info.value.code == "invalid_policy"
    expected = {"code": "invalid_policy", "message": info.value.message}
    if info.value.field is not None:  # a policy's own value names its field (issue 19)
        expected["field"] = info.value.field
    assert info.value.body() == {"error": expected}


def test_target_units() -> None:
    assert TargetSpec.of(timedelta(days=365)).duration == timedelta(days=365)
    assert TargetSpec.business_days(365).days == 365
    one_day = TargetSpec.business_days(1)
    assert one_day.due_from(MOSCOW, FRIDAY_EVENING) == msk(2026, 11, 9, 18, 0)
    # Friday's last 10 minutes plus Monday's 8.5 hours.
    assert one_day.budget_from(MOSCOW, FRIDAY_EVENING) == 8 * H + 40 * MIN
    assert TargetSpec.hours(4).budget_from(MOSCOW, FRIDAY_EVENING) == 4 * H


def test_policy_table_most_specific_rule_wins() -> None:
    def policy(name: str) -> SlaPolicy:
        return SlaPolicy(name, "24x7", first_response=TargetSpec.hours(1))

    table = PolicyTable(
        (
            PolicyRule(policy("catch-all")),
            PolicyRule(policy("premium"), tier=PlanTier.PREMIUM),
            PolicyRule(policy("critical"), severity=Severity.CRITICAL),
            PolicyRule(policy("premium critical"), tier=PlanTier.PREMIUM, severity=Severity.CRITICAL),
            PolicyRule(policy("training"), category="training"),
            PolicyRule(policy("premium training"), tier=PlanTier.PREMIUM, category="training"),
        )
    )

    def pick(tier: PlanTier | None, category: str | None, severity: Severity | None) -> str | None:
        chosen = table.select(tier, category, severity)
        return None if chosen is None else chosen.name

    assert pick(PlanTier.BASIC, None, Severity.MINOR) == "catch-all"
    assert pick(PlanTier.PREMIUM, None, Severity.MINOR) == "premium"
    assert pick(PlanTier.BASIC, "other", Severity.CRITICAL) == "critical"  # severity beats tier
    assert pick(PlanTier.PREMIUM, None, Severity.CRITICAL) == "premium critical"
    assert pick(PlanTier.BASIC, "training", Severity.CRITICAL) == "training"  # category beats severity
    assert pick(PlanTier.PREMIUM, "training", Severity.CRITICAL) == "premium training"
    assert PolicyTable((PolicyRule(policy("premium"), tier=PlanTier.PREMIUM),)).select(PlanTier.BASIC, None, None) is None


def test_seed_first_response_and_resolution_by_tier_and_category() -> None:
    table = default_policy_table()
    basic = table.select(PlanTier.BASIC, None, Severity.MINOR)
    assert basic is not None and basic.first_response == TargetSpec.hours(24)
    assert basic.resolution == TargetSpec.hours(48)
    regular = table.select(PlanTier.REGULAR, "business_request", Severity.MAJOR)
    assert regular is not None and regular.first_response == TargetSpec.hours(4)
    assert regular.resolution == TargetSpec.hours(48)  # no category SLA: the tier default
    premium = table.select(PlanTier.PREMIUM, "device_error", Severity.CRITICAL)
    assert premium is not None and premium.first_response == TargetSpec.minutes(30)
    assert premium.resolution == TargetSpec.business_days(3)
    assert premium.calendar_key in seed_calendars()


def test_seed_categories() -> None:
    by_key = {c.key: c for c in FFC_CATEGORIES}
    days = {key: c.resolution.days for key, c in by_key.items() if c.resolution is not None}
    assert days == {
        "data_accuracy": 3,
        "technical_question": 1,
        "training_request": 1,
        "configuration_request": 3,
        "service_request": 1,
        "device_error": 3,
        "software_error": 3,
    }
    choosable = {key for key, c in by_key.items() if c.customer_may_choose}
    assert choosable == {"data_accuracy", "technical_question", "training_request", "configuration_request", "service_request"}
    assert by_key["device_error"].availability is Availability.STAFF
    assert by_key["business_request"].availability is Availability.EMAIL
    assert by_key["audit_blockade"].availability is Availability.SPECIALIST
    assert {t.resolution.days for t in SKAI_TOPICS if t.resolution} == {1, 2, 5}
    assert all(t.stage_one == TargetSpec.business_days(1) for t in SKAI_TOPICS)


def test_skai_table() -> None:
    table = skai_policy_table()
    consultation = table.select(PlanTier.BASIC, "consultation", None)
    assert consultation is not None and consultation.calendar_key == "moscow"
    assert consultation.stage_one == TargetSpec.business_days(1)
    assert consultation.resolution == TargetSpec.business_days(5)
    fallback = table.select(None, "unknown topic", None)
    assert fallback is not None and fallback.resolution is None and fallback.stage_one is not None


# -- the clock: first response --------------------------------------------------------------


def test_friday_evening_first_response_lands_monday_in_business_time() -> None:
    clock = SlaClock.open(FOUR_HOURS, MOSCOW, FRIDAY_EVENING)
    deadline = clock.deadlines(FRIDAY_EVENING)[FR]
    assert deadline is not None
    assert deadline.due_at == msk(2026, 11, 9, 13, 20)
    # 80 % of 4 h = 3 h 12 min: 10 min on Friday, 3 h 02 min from Monday 09:30. Never at
    # midnight, never counted in wall-clock (Zammad #4432, Chatwoot #13392).
    assert deadline.warn_at == msk(2026, 11, 9, 12, 32)
    assert deadline.state is DeadlineState.RUNNING
    assert deadline.remaining == 4 * H
    assert clock.deadlines(msk(2026, 11, 7, 12, 0))[FR].remaining == 3 * H + 50 * MIN  # type: ignore[union-attr]
    assert clock.deadlines(FRIDAY_EVENING) == {FR: deadline, NR: None, S1: None, RES: None}


def test_warning_and_breach_become_due_in_order() -> None:
    clock = SlaClock.open(FOUR_HOURS, MOSCOW, FRIDAY_EVENING)
    assert clock.due_events(msk(2026, 11, 9, 0, 0)) == []
    assert clock.due_events(msk(2026, 11, 9, 12, 31)) == []
    assert clock.next_due_at(msk(2026, 11, 9, 12, 31)) == msk(2026, 11, 9, 12, 32)
    warning = SlaEvent(FR, SlaEventKind.WARNING, msk(2026, 11, 9, 12, 32), FRIDAY_EVENING)
    breach = SlaEvent(FR, SlaEventKind.BREACH, msk(2026, 11, 9, 13, 20), FRIDAY_EVENING)
    assert clock.due_events(msk(2026, 11, 9, 12, 32)) == [warning]
    assert clock.due_events(msk(2026, 11, 9, 13, 20)) == [warning, breach]
    assert clock.next_due_at(msk(2026, 11, 9, 13, 20)) is None
    assert clock.deadlines(msk(2026, 11, 9, 13, 20))[FR].state is DeadlineState.BREACHED  # type: ignore[union-attr]
    assert warning.key != breach.key


def test_auto_reply_is_not_a_first_response() -> None:
    clock = SlaClock.open(FOUR_HOURS, MOSCOW, FRIDAY_EVENING).record(fact(FactKind.AUTO_REPLY, FRIDAY_EVENING))
    deadline = clock.deadlines(msk(2026, 11, 9, 14, 0))[FR]
    assert deadline is not None and deadline.met_at is None
    assert deadline.state is DeadlineState.BREACHED
    assert [e.kind for e in clock.due_events(msk(2026, 11, 9, 14, 0))] == [SlaEventKind.WARNING, SlaEventKind.BREACH]


def test_a_real_reply_meets_first_response_and_nothing_escalates_afterwards() -> None:
    clock = SlaClock.open(FOUR_HOURS, MOSCOW, FRIDAY_EVENING).record(fact(FactKind.AGENT_REPLY, msk(2026, 11, 9, 10, 0)))
    for now in (msk(2026, 11, 9, 10, 0), msk(2026, 11, 9, 13, 20), msk(2026, 12, 31, 12, 0)):
        deadline = clock.deadlines(now)[FR]
        assert deadline is not None and deadline.state is DeadlineState.MET
        assert deadline.met_at == msk(2026, 11, 9, 10, 0)
        assert deadline.remaining == 3 * H + 20 * MIN
        assert clock.due_events(now) == []  # Zammad #3140
        assert clock.next_due_at(now) is None


def test_a_late_reply_stays_breached_but_stops_escalation() -> None:
    clock = SlaClock.open(FOUR_HOURS, MOSCOW, FRIDAY_EVENING).record(fact(FactKind.AGENT_REPLY, msk(2026, 11, 9, 14, 0)))
    deadline = clock.deadlines(msk(2026, 11, 9, 15, 0))[FR]
    assert deadline is not None and deadline.state is DeadlineState.BREACHED
    assert deadline.remaining == timedelta(0)
    assert clock.due_events(msk(2026, 11, 9, 15, 0)) == []
    exactly_on_time = SlaClock.open(FOUR_HOURS, MOSCOW, FRIDAY_EVENING).record(
        fact(FactKind.AGENT_REPLY, msk(2026, 11, 9, 13, 20))
    )
    assert exactly_on_time.deadlines(msk(2026, 11, 9, 15, 0))[FR].state is DeadlineState.BREACHED  # type: ignore[union-attr]


# -- the clock: pause and resume ------------------------------------------------------------


def test_waiting_on_customer_pauses_and_resume_recomputes_from_what_is_left() -> None:
    monday = msk(2026, 11, 9, 10, 0)
    clock = SlaClock.open(FOUR_HOURS, MOSCOW, monday).record(fact(FactKind.PAUSED, msk(2026, 11, 9, 11, 0)))
    paused = clock.deadlines(msk(2026, 11, 10, 10, 0))[FR]
    assert paused is not None and paused.state is DeadlineState.PAUSED
    assert paused.due_at is None and paused.warn_at is None
    assert paused.remaining == 3 * H
    assert clock.due_events(msk(2026, 11, 12, 10, 0)) == []
    assert clock.next_due_at(msk(2026, 11, 10, 10, 0)) is None
    resumed = clock.record(fact(FactKind.RESUMED, msk(2026, 11, 10, 10, 0)))
    running = resumed.deadlines(msk(2026, 11, 10, 10, 0))[FR]
    assert running is not None and running.state is DeadlineState.RUNNING
    assert running.due_at == msk(2026, 11, 10, 13, 0)
    assert running.warn_at == msk(2026, 11, 10, 12, 12)


def test_a_breach_before_the_pause_stays_due() -> None:
    monday = msk(2026, 11, 9, 10, 0)
    clock = SlaClock.open(FOUR_HOURS, MOSCOW, monday).record(fact(FactKind.PAUSED, msk(2026, 11, 9, 15, 0)))
    deadline = clock.deadlines(msk(2026, 11, 10, 10, 0))[FR]
    assert deadline is not None and deadline.state is DeadlineState.BREACHED
    assert deadline.due_at == msk(2026, 11, 9, 14, 0)
    assert [e.kind for e in clock.due_events(msk(2026, 11, 10, 10, 0))] == [SlaEventKind.WARNING, SlaEventKind.BREACH]


def test_business_day_targets_pause_exactly() -> None:
    policy = SlaPolicy("skai", "moscow", stage_one=TargetSpec.business_days(1), resolution=TargetSpec.business_days(2))
    monday = msk(2026, 11, 9, 10, 0)
    clock = SlaClock.open(policy, MOSCOW, monday)
    assert clock.deadlines(monday)[S1].due_at == msk(2026, 11, 10, 18, 0)  # type: ignore[union-attr]
    assert clock.deadlines(monday)[RES].due_at == msk(2026, 11, 11, 18, 0)  # type: ignore[union-attr]
    # Two hours used, paused until Wednesday opening: 14.5 of 16.5 hours are left.
    clock = clock.record(fact(FactKind.PAUSED, msk(2026, 11, 9, 12, 0)), fact(FactKind.RESUMED, msk(2026, 11, 11, 9, 30)))
    stage_one = clock.deadlines(msk(2026, 11, 11, 9, 30))[S1]
    assert stage_one is not None and stage_one.due_at == msk(2026, 11, 12, 15, 30)
    done = clock.record(fact(FactKind.STAGE_ONE_DONE, msk(2026, 11, 11, 11, 0)))
    assert done.deadlines(msk(2026, 11, 13, 9, 0))[S1].state is DeadlineState.MET  # type: ignore[union-attr]


def test_skai_stage_one_across_a_holiday() -> None:
    policy = skai_policy_table().select(None, "data_update", None)
    assert policy is not None
    opened = msk(2026, 11, 3, 17, 50)
    clock = SlaClock.open(policy, seed_calendars()["moscow"], opened)
    deadlines = clock.deadlines(opened)
    assert deadlines[S1].due_at == msk(2026, 11, 5, 18, 0)  # type: ignore[union-attr]
    assert deadlines[RES].due_at == msk(2026, 11, 6, 18, 0)  # type: ignore[union-attr]


def test_resolution_reopen_continues_with_the_time_left() -> None:
    policy = SlaPolicy("p", "moscow", first_response=TargetSpec.hours(1), resolution=TargetSpec.hours(8))
    monday = msk(2026, 11, 9, 10, 0)
    clock = SlaClock.open(policy, MOSCOW, monday).record(
        fact(FactKind.AGENT_REPLY, msk(2026, 11, 9, 10, 30)),
        fact(FactKind.RESOLVED, msk(2026, 11, 9, 13, 0)),  # 3 h used
    )
    resolved = clock.deadlines(msk(2026, 11, 9, 13, 0))[RES]
    assert resolved is not None and resolved.state is DeadlineState.MET
    reopened = clock.record(fact(FactKind.CUSTOMER_REPLY, msk(2026, 11, 10, 10, 0)), fact(FactKind.REOPENED, msk(2026, 11, 10, 10, 0)))
    running = reopened.deadlines(msk(2026, 11, 10, 10, 0))[RES]
    assert running is not None and running.state is DeadlineState.RUNNING
    assert running.remaining == 5 * H
    assert running.due_at == msk(2026, 11, 10, 15, 0)


def test_closing_stops_every_clock() -> None:
    policy = SlaPolicy("p", "moscow", first_response=TargetSpec.hours(4), resolution=TargetSpec.hours(40))
    monday = msk(2026, 11, 9, 10, 0)
    clock = SlaClock.open(policy, MOSCOW, monday).record(fact(FactKind.CLOSED, msk(2026, 11, 9, 11, 0)))
    later = msk(2026, 11, 20, 10, 0)
    deadlines = clock.deadlines(later)
    assert deadlines[FR].state is DeadlineState.STOPPED  # type: ignore[union-attr]
    assert deadlines[RES].state is DeadlineState.MET  # type: ignore[union-attr]
    assert clock.due_events(later) == [] and clock.next_due_at(later) is None
    with pytest.raises(InvalidSlaFacts):
        clock.record(fact(FactKind.CUSTOMER_REPLY, later))


# -- the clock: next response ---------------------------------------------------------------


def test_next_response_restarts_at_each_unanswered_customer_message() -> None:
    policy = SlaPolicy("p", "24x7", first_response=TargetSpec.hours(4), next_response=TargetSpec.hours(1))
    t0 = datetime(2026, 11, 7, 22, 0, tzinfo=UTC)  # Saturday night: a 24/7 desk does not care
    clock = SlaClock.open(policy, ALWAYS, t0).record(fact(FactKind.CUSTOMER_REPLY, t0 + 5 * MIN))
    assert clock.deadlines(t0 + 10 * MIN)[NR] is None  # still waiting for the first response
    assert clock.deadlines(t0)[FR].due_at == t0 + 4 * H  # type: ignore[union-attr]
    clock = clock.record(
        fact(FactKind.AGENT_REPLY, t0 + 10 * MIN),
        fact(FactKind.CUSTOMER_REPLY, t0 + H),
        fact(FactKind.CUSTOMER_REPLY, t0 + H + 20 * MIN),  # same unanswered run: no restart
    )
    first_round = clock.deadlines(t0 + H + 30 * MIN)[NR]
    assert first_round is not None and first_round.started_at == t0 + H
    assert first_round.due_at == t0 + 2 * H
    clock = clock.record(fact(FactKind.AGENT_REPLY, t0 + H + 30 * MIN), fact(FactKind.CUSTOMER_REPLY, t0 + 3 * H))
    second_round = clock.deadlines(t0 + 5 * H)[NR]
    assert second_round is not None and second_round.started_at == t0 + 3 * H
    assert second_round.state is DeadlineState.BREACHED
    events = clock.due_events(t0 + 5 * H)
    assert [(e.target, e.kind, e.cycle_started_at) for e in events] == [
        (NR, SlaEventKind.WARNING, t0 + 3 * H),
        (NR, SlaEventKind.BREACH, t0 + 3 * H),
    ]
    assert clock.deadlines(t0 + 5 * H)[FR].state is DeadlineState.MET  # type: ignore[union-attr]


# -- the clock: bad facts -------------------------------------------------------------------


def test_inconsistent_facts_are_refused() -> None:
    monday = msk(2026, 11, 9, 10, 0)
    with pytest.raises(InvalidSlaFacts):
        SlaClock(FOUR_HOURS, MOSCOW, (fact(FactKind.AGENT_REPLY, monday),))
    with pytest.raises(InvalidSlaFacts):
        SlaClock.open(FOUR_HOURS, MOSCOW, monday).record(fact(FactKind.AGENT_REPLY, monday - MIN))
    with pytest.raises(InvalidSlaFacts):
        SlaClock.open(FOUR_HOURS, MOSCOW, monday).record(fact(FactKind.OPENED, monday))
    with pytest.raises(NaiveDatetime):
        fact(FactKind.OPENED, datetime(2026, 11, 9, 10, 0))
    with pytest.raises(NaiveDatetime):
        SlaClock.open(FOUR_HOURS, MOSCOW, monday).deadlines(datetime(2026, 11, 9, 10, 0))
    assert SlaClock(FOUR_HOURS, MOSCOW).deadlines(monday) == {FR: None, NR: None, S1: None, RES: None}


# -- property: pauses never leak into the budget --------------------------------------------


@settings(max_examples=80, deadline=None)
@given(
    st.integers(min_value=0, max_value=60 * 24 * 14),
    st.lists(st.integers(min_value=1, max_value=60 * 24 * 3), max_size=8),
    st.integers(min_value=30, max_value=60 * 30),
)
def test_due_at_spends_exactly_the_budget_on_running_time(start_min: int, gaps: list[int], budget_min: int) -> None:
    policy = SlaPolicy("p", "moscow", resolution=TargetSpec.minutes(budget_min))
    opened = msk(2026, 10, 26, 0, 0) + start_min * MIN
    facts, t, running = [fact(FactKind.OPENED, opened)], opened, True
    segments: list[tuple[datetime, datetime | None]] = []
    segment_start = opened
    for gap in gaps:
        t += gap * MIN
        facts.append(fact(FactKind.PAUSED if running else FactKind.RESUMED, t))
        if running:
            segments.append((segment_start, t))
        else:
            segment_start = t
        running = not running
    if running:
        segments.append((segment_start, None))
    clock = SlaClock(policy, MOSCOW, tuple(facts))
    now = t + H
    deadline = clock.deadlines(now)[RES]
    assert deadline is not None
    budget = budget_min * MIN

    def running_time(until: datetime) -> timedelta:
        total = timedelta(0)
        for a, b in segments:
            end = until if b is None else min(b, until)
            if end > a:
                total += MOSCOW.business_time_between(a, end)
        return total

    if deadline.due_at is not None:
        assert running_time(deadline.due_at) == budget
        assert running_time(deadline.due_at - timedelta(microseconds=1)) < budget
    else:
        assert not running and running_time(t) < budget
    assert deadline.remaining == max(budget - running_time(now), timedelta(0))
    breached = deadline.due_at is not None and deadline.due_at <= now
    assert (deadline.state is DeadlineState.BREACHED) == breached

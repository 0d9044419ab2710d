"""The report facts of a ticket (escalation.report_facts): times in both clocks across
weekends, holidays and DST changes, pauses, reopens, the SLA outcomes' stickiness, and
next response judged over every cycle."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from escalation.calendars import BusinessCalendar, always_open, business_calendar, hours, moscow_business_calendar
from escalation.deadline_columns import deadline_json
from escalation.lifecycle import TicketStatus
from escalation.report_facts import (
    BREACHED,
    MET,
    ReportFacts,
    business_seconds,
    next_response_outcome,
    reopen_instants,
    resolved_instant,
    sla_outcome,
    ticket_facts,
)
from escalation.sla import FactKind, SlaClock, SlaFact
from escalation.sla_targets import SlaPolicy, SlaTarget, TargetSpec

MSK = ZoneInfo("Europe/Moscow")
BERLIN = ZoneInfo("Europe/Berlin")
H = timedelta(hours=1)
ALWAYS = always_open()
MOSCOW = moscow_business_calendar()
FR, NR, RES = SlaTarget.FIRST_RESPONSE, SlaTarget.NEXT_RESPONSE, SlaTarget.RESOLUTION
T0 = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)  # a Monday


def facts(*items: tuple[FactKind, datetime]) -> list[SlaFact]:
    return [SlaFact(kind, at) for kind, at in items]


def deadlines(policy: SlaPolicy, calendar: BusinessCalendar, fs: Sequence[SlaFact], now: datetime) -> dict[str, dict[str, str | None]]:
    """``tickets.deadlines`` as recompute stores it."""
    found = SlaClock(policy, calendar, tuple(fs)).deadlines(now)
    return {t.value: deadline_json(d) for t, d in found.items() if d is not None}


def compute(
    fs: Sequence[SlaFact],
    *,
    status: TicketStatus,
    created_at: datetime = T0,
    first_replied_at: datetime | None = None,
    status_changed_at: datetime | None = None,
    calendar: BusinessCalendar = ALWAYS,
    stored: dict[str, dict[str, str | None]] | None = None,
    marks: set[str] | None = None,
    previous: ReportFacts | None = None,
    policy: SlaPolicy | None = None,
    now: datetime | None = None,
) -> ReportFacts:
    """The facts as recompute derives them; with a ``policy``, its clock over ``fs`` and
    the deadlines stored from it at ``now`` (default: the last fact)."""
    clock = None
    if policy is not None:
        clock = SlaClock(policy, calendar, tuple(fs))
        stored = stored or deadlines(policy, calendar, fs, now or fs[-1].at)
    return ticket_facts(
        status=status, created_at=created_at, status_changed_at=status_changed_at or created_at,
        first_replied_at=first_replied_at, facts=fs, calendar=calendar, clock=clock, deadlines=stored or {},
        marks=marks or set(), previous=previous or ReportFacts(),
    )


# -- times in both clocks ----------------------------------------------------------------------


def test_first_response_over_a_weekend_counts_only_open_hours() -> None:
    created = datetime(2026, 11, 6, 17, 50, tzinfo=MSK)  # Friday, 10 minutes before closing
    replied = datetime(2026, 11, 9, 10, 0, tzinfo=MSK)  # Monday, 30 minutes after opening
    got = compute(facts((FactKind.OPENED, created), (FactKind.AGENT_REPLY, replied)), status=TicketStatus.IN_PROGRESS,
                  created_at=created, first_replied_at=replied, calendar=MOSCOW)
    assert got.first_response_wall_s == int((replied - created).total_seconds()) == (64 * 60 + 10) * 60
    assert got.first_response_business_s == 40 * 60
    assert got.calendar_key == "moscow"
    assert (got.resolved_at, got.resolution_wall_s, got.resolution_business_s) == (None, None, None)


def test_a_public_holiday_is_not_business_time() -> None:
    week = {day: [hours("09:00", "17:00")] for day in range(5)}
    german = business_calendar("de", "Europe/Berlin", week, holidays="DE")
    plain = business_calendar("plain", "Europe/Berlin", week)
    created = datetime(2026, 12, 24, 16, 0, tzinfo=BERLIN)  # Thursday, an ordinary working day
    replied = datetime(2026, 12, 28, 10, 0, tzinfo=BERLIN)  # Monday; Friday the 25th is Christmas
    fs = facts((FactKind.OPENED, created), (FactKind.AGENT_REPLY, replied))
    assert compute(fs, status=TicketStatus.IN_PROGRESS, created_at=created, first_replied_at=replied,
                   calendar=german).first_response_business_s == 2 * 3600
    assert compute(fs, status=TicketStatus.IN_PROGRESS, created_at=created, first_replied_at=replied,
                   calendar=plain).first_response_business_s == 10 * 3600


def test_dst_changes_count_real_seconds_in_both_clocks() -> None:
    nights = business_calendar("night", "Europe/Berlin", {day: [hours("01:00", "04:00")] for day in range(7)})
    # Spring forward (Sunday 29 March 2026, 02:00 -> 03:00): 5 local hours are 4 real ones,
    # and the 01:00-04:00 period holds 2 hours of open time.
    created, replied = datetime(2026, 3, 29, 0, 0, tzinfo=BERLIN), datetime(2026, 3, 29, 5, 0, tzinfo=BERLIN)
    spring = compute(facts((FactKind.OPENED, created), (FactKind.AGENT_REPLY, replied)), status=TicketStatus.IN_PROGRESS,
                     created_at=created, first_replied_at=replied, calendar=nights)
    assert (spring.first_response_wall_s, spring.first_response_business_s) == (4 * 3600, 2 * 3600)
    # Fall back (Sunday 25 October 2026, 03:00 -> 02:00): 5 local hours are 6 real ones,
    # and the period holds 4 hours (the repeated hour is open twice).
    created, replied = datetime(2026, 10, 25, 0, 0, tzinfo=BERLIN), datetime(2026, 10, 25, 5, 0, tzinfo=BERLIN)
    autumn = compute(facts((FactKind.OPENED, created), (FactKind.AGENT_REPLY, replied)), status=TicketStatus.IN_PROGRESS,
                     created_at=created, first_replied_at=replied, calendar=nights)
    assert (autumn.first_response_wall_s, autumn.first_response_business_s) == (6 * 3600, 4 * 3600)


def test_a_pause_counts_in_elapsed_time_but_not_against_the_sla() -> None:
    policy = SlaPolicy("p", "24x7", resolution=TargetSpec.hours(8))
    fs = facts(
        (FactKind.OPENED, T0), (FactKind.AGENT_REPLY, T0 + H), (FactKind.PAUSED, T0 + H),
        (FactKind.RESUMED, T0 + 20 * H), (FactKind.RESOLVED, T0 + 22 * H),
    )
    got = compute(fs, status=TicketStatus.PROPOSED_TO_CLOSE, first_replied_at=T0 + H, status_changed_at=T0 + 22 * H,
                  stored=deadlines(policy, ALWAYS, fs, T0 + 22 * H))
    assert got.resolved_at == T0 + 22 * H
    assert (got.resolution_wall_s, got.resolution_business_s) == (22 * 3600, 22 * 3600)
    assert got.sla_resolution == MET  # 3 hours of the 8 were used: the pause stopped the clock


def test_seconds_round_down_and_never_go_negative() -> None:
    assert business_seconds(ALWAYS, T0, T0 + timedelta(seconds=59.9)) == 59
    assert business_seconds(ALWAYS, T0, T0 - H) == 0
    got = compute(facts((FactKind.OPENED, T0)), status=TicketStatus.IN_PROGRESS, first_replied_at=T0)
    assert (got.first_response_wall_s, got.first_response_business_s) == (0, 0)


# -- resolution and reopens ------------------------------------------------------------------------


def test_resolved_at_is_the_last_entry_into_resolved_and_clears_while_open() -> None:
    history = [
        (FactKind.OPENED, T0), (FactKind.AGENT_REPLY, T0 + H), (FactKind.RESOLVED, T0 + 2 * H),
        (FactKind.REOPENED, T0 + 3 * H),
    ]
    reopened = compute(facts(*history), status=TicketStatus.IN_PROGRESS, status_changed_at=T0 + 3 * H)
    assert (reopened.resolved_at, reopened.resolution_wall_s, reopened.resolution_business_s) == (None, None, None)
    assert reopened.reopened_count == 1 and reopened.reopens == (T0 + 3 * H,)
    history.append((FactKind.RESOLVED, T0 + 5 * H))
    again = compute(facts(*history), status=TicketStatus.PROPOSED_TO_CLOSE, status_changed_at=T0 + 5 * H)
    assert again.resolved_at == T0 + 5 * H and again.resolution_wall_s == 5 * 3600
    # Closing after the proposal keeps the proposal's time: the auto-close days are not support's.
    history.append((FactKind.CLOSED, T0 + 200 * H))
    closed = compute(facts(*history), status=TicketStatus.CLOSED, status_changed_at=T0 + 200 * H)
    assert closed.resolved_at == T0 + 5 * H and closed.reopened_count == 1


def test_closed_straight_from_work_is_resolved_when_closed() -> None:
    fs = facts((FactKind.OPENED, T0), (FactKind.AGENT_REPLY, T0 + H), (FactKind.CLOSED, T0 + 4 * H))
    assert compute(fs, status=TicketStatus.CLOSED, status_changed_at=T0 + 4 * H).resolved_at == T0 + 4 * H


def test_a_resolved_row_without_facts_falls_back_to_its_status_change() -> None:
    assert resolved_instant(TicketStatus.CLOSED, T0 + H, []) == T0 + H
    assert resolved_instant(TicketStatus.NEW, T0 + H, facts((FactKind.RESOLVED, T0))) is None


def test_reopens_are_distinct_instants_in_time_order() -> None:
    fs = facts((FactKind.OPENED, T0), (FactKind.RESOLVED, T0 + H), (FactKind.REOPENED, T0 + 2 * H),
               (FactKind.RESOLVED, T0 + 2 * H), (FactKind.REOPENED, T0 + 2 * H), (FactKind.RESOLVED, T0 + 3 * H),
               (FactKind.REOPENED, T0 + 4 * H))
    assert reopen_instants(fs) == (T0 + 2 * H, T0 + 4 * H)


# -- SLA outcomes ---------------------------------------------------------------------------------


def test_outcomes_follow_the_deadlines() -> None:
    policy = SlaPolicy("p", "24x7", first_response=TargetSpec.hours(1), resolution=TargetSpec.hours(4))
    fs = facts((FactKind.OPENED, T0), (FactKind.AGENT_REPLY, T0 + 2 * H))
    late = compute(fs, status=TicketStatus.IN_PROGRESS, first_replied_at=T0 + 2 * H,
                   stored=deadlines(policy, ALWAYS, fs, T0 + 2 * H))
    assert (late.sla_first_response, late.sla_next_response, late.sla_resolution) == (BREACHED, None, None)
    fs = facts((FactKind.OPENED, T0), (FactKind.AGENT_REPLY, T0 + H / 2), (FactKind.RESOLVED, T0 + 3 * H))
    kept = compute(fs, status=TicketStatus.PROPOSED_TO_CLOSE, first_replied_at=T0 + H / 2,
                   status_changed_at=T0 + 3 * H, stored=deadlines(policy, ALWAYS, fs, T0 + 3 * H))
    assert (kept.sla_first_response, kept.sla_resolution) == (MET, MET)


def test_a_breach_is_sticky() -> None:
    met = {"first_response": {"state": "met"}}
    assert sla_outcome(FR, met, set(), BREACHED) == BREACHED
    # The sweeper acted on a breach (a mark) though the row's deadline is met by now:
    # a later next-response cycle, or a backfill that sees only the current cycle.
    assert sla_outcome(NR, {"next_response": {"state": "met"}}, {"next_response:breach:2026-11-02T09:00:00+00:00"},
                       None) == BREACHED
    assert sla_outcome(FR, met, {"next_response:breach:x", "resolution:warning:x"}, None) == MET


def test_a_reopen_reruns_resolution() -> None:
    running = {"resolution": {"state": "running"}}
    assert sla_outcome(RES, running, set(), MET) is None
    assert sla_outcome(FR, {"first_response": {"state": "stopped"}}, set(), None) is None
    assert sla_outcome(RES, {}, set(), None) is None  # no policy, no target


# -- next response: every cycle judged -------------------------------------------------------------

NEXT = SlaPolicy("p", "24x7", first_response=TargetSpec.hours(1), next_response=TargetSpec.hours(1))


def cycles(*answers: timedelta | None, gap: timedelta = 2 * H) -> list[SlaFact]:
    """A ticket answered at once, then a customer follow-up every ``gap`` answered after
    each of ``answers`` (``None``: still waiting)."""
    fs = facts((FactKind.OPENED, T0), (FactKind.AGENT_REPLY, T0 + H / 6))
    for i, answer in enumerate(answers):
        asked = T0 + (i + 1) * gap
        fs.append(SlaFact(FactKind.CUSTOMER_REPLY, asked))
        if answer is not None:
            fs.append(SlaFact(FactKind.AGENT_REPLY, asked + answer))
    return fs


def next_response(fs: list[SlaFact], *, status: TicketStatus = TicketStatus.IN_PROGRESS,
                  previous: str | None = None, now: datetime | None = None, marks: set[str] | None = None) -> str | None:
    return compute(fs, status=status, first_replied_at=T0 + H / 6, policy=NEXT, now=now, marks=marks,
                   previous=ReportFacts(sla_next_response=previous)).sla_next_response


def test_next_response_is_met_over_several_cycles_whatever_the_previous_unit_stored() -> None:
    answered = cycles(H / 2, H / 3, H / 2)
    assert SlaClock(NEXT, ALWAYS, tuple(answered)).earlier_cycles_met(NR) == (True, True)
    assert next_response(answered) == MET
    # A unit (or the backfill) that finds a new cycle running stored nothing before: the
    # answered ones stand — running, overdue-to-be or paused.
    waiting = cycles(H / 2, H / 3, None)
    assert next_response(waiting, previous=None) == MET
    assert next_response([*waiting, SlaFact(FactKind.PAUSED, waiting[-1].at + H / 2)], previous=None) == MET
    # No cycle answered yet: nothing to say; none started: neither.
    assert next_response(cycles(None)) is None
    assert next_response(cycles()) is None
    # The other targets have a single cycle: none earlier.
    assert SlaClock(NEXT, ALWAYS, tuple(answered)).earlier_cycles_met(FR) == ()


def test_one_breached_cycle_among_met_ones_breaches_next_response() -> None:
    late_in_the_middle = cycles(H / 2, 2 * H, H / 2, gap=3 * H)
    assert SlaClock(NEXT, ALWAYS, tuple(late_in_the_middle)).earlier_cycles_met(NR) == (True, False)
    assert next_response(late_in_the_middle, previous=MET) == BREACHED
    assert next_response(late_in_the_middle, previous=None) == BREACHED
    # Answered exactly when due is late ("< 1 h" is strict), like the current cycle's deadline.
    on_the_dot = cycles(H, H / 2)
    assert SlaClock(NEXT, ALWAYS, tuple(on_the_dot)).earlier_cycles_met(NR) == (False,)
    assert next_response(on_the_dot) == BREACHED
    assert next_response(cycles(H)) == BREACHED  # the current cycle's own deadline
    # The last cycle overdue while the earlier ones were met.
    overdue = cycles(H / 2, None)
    assert next_response(overdue, now=overdue[-1].at + 2 * H) == BREACHED
    # Sticky: a mark or a stored breach stays, though every cycle reads met.
    met = cycles(H / 2, H / 2)
    assert next_response(met, previous=BREACHED) == BREACHED
    assert next_response(met, marks={f"next_response:breach:{met[2].at.isoformat()}"}) == BREACHED
    assert next_response_outcome(None, {}, set(), None) is None  # no policy, no target


def test_next_response_met_when_one_unit_catches_up_the_answer_and_the_next_follow_up() -> None:
    """The oracle's minimal history (tests/chat/reports/test_oracle.py): Berlin office
    hours, next response within 4 business hours. The customer follows up, support
    answers 10 minutes later but that answer's reaction is lost; the customer's next
    follow-up's unit records both, the agent closes. The unit before stored no outcome
    (its cycle was running), the close stops the second cycle: the first one's "met" is
    what the ticket holds — and the backfill, from nothing stored, finds it too."""
    week = {day: [hours("09:00", "18:00")] for day in range(5)}
    berlin = business_calendar("berlin", "Europe/Berlin", week, holidays="DE")
    policy = SlaPolicy("Regular", "berlin", first_response=TargetSpec.hours(8), next_response=TargetSpec.hours(4))
    start = datetime(2026, 3, 2, 10, 0, tzinfo=BERLIN)  # a Monday
    m = timedelta(minutes=10)
    fs = facts(
        (FactKind.OPENED, start), (FactKind.AGENT_REPLY, start + m), (FactKind.CUSTOMER_REPLY, start + 2 * m),
        (FactKind.AGENT_REPLY, start + 3 * m), (FactKind.CUSTOMER_REPLY, start + 4 * m),
        (FactKind.CLOSED, start + 5 * m),
    )
    stored = deadlines(policy, berlin, fs, start + 5 * m)
    assert stored["next_response"]["state"] == "stopped"
    for previous in (ReportFacts(calendar_key="berlin"), ReportFacts()):
        got = compute(fs, status=TicketStatus.CLOSED, created_at=start, first_replied_at=start + m,
                      status_changed_at=start + 5 * m, calendar=berlin, policy=policy, previous=previous)
        assert (got.sla_first_response, got.sla_next_response) == (MET, MET)


def test_business_times_measured_once_per_calendar_and_instants() -> None:
    fs = facts((FactKind.OPENED, T0), (FactKind.AGENT_REPLY, T0 + H), (FactKind.RESOLVED, T0 + 2 * H))
    first = compute(fs, status=TicketStatus.PROPOSED_TO_CLOSE, first_replied_at=T0 + H, status_changed_at=T0 + 2 * H)
    assert (first.first_response_business_s, first.resolution_business_s) == (3600, 7200)
    # A stored value on the same calendar between the same instants is kept (not measured again)...
    marked = ReportFacts(**{**first.columns(), "first_response_business_s": 1, "resolution_business_s": 2})
    kept = compute(fs, status=TicketStatus.PROPOSED_TO_CLOSE, first_replied_at=T0 + H, status_changed_at=T0 + 2 * H,
                   previous=marked)
    assert (kept.first_response_business_s, kept.resolution_business_s) == (1, 2)
    # ...and measured again on another calendar.
    other = always_open("other")
    moved = compute(fs, status=TicketStatus.PROPOSED_TO_CLOSE, first_replied_at=T0 + H, status_changed_at=T0 + 2 * H,
                    previous=marked, calendar=other)
    assert (moved.first_response_business_s, moved.resolution_business_s, moved.calendar_key) == (3600, 7200, "other")

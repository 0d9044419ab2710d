"""Issue 19's SLA rules on the pure core: what a day target means per policy (whole
business days or working days of hours), the calendar's day length, a day on the
around-the-clock calendar, auto-close delays per level, and rules no ticket could get.

The working-hours deadlines are checked against a brute-force oracle: open minutes counted
one by one with :meth:`BusinessCalendar.is_open`, never the interval walk under test.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from escalation.autoclose import AutoCloseOverride, AutoCloseSettings, Delay, effective_auto_close
from escalation.calendars import BusinessCalendar, always_open, business_calendar, hours, moscow_business_calendar
from escalation.errors import InvalidPolicy
from escalation.policies import Category, effective_policy
from escalation.policy_table import PlanTier, PolicyRule, PolicyTable, Severity, never_selected
from escalation.sla import FactKind, SlaClock, SlaFact
from escalation.sla_targets import DayRule, SlaPolicy, SlaTarget, TargetSpec

MIN = timedelta(minutes=1)
H = timedelta(hours=1)
MSK = ZoneInfo("Europe/Moscow")
BERLIN = ZoneInfo("Europe/Berlin")
MOSCOW = moscow_business_calendar()
ALWAYS = always_open()
# Open four hours a night, every night: on Berlin's spring-forward night (2026-03-29) the
# 02:00-03:00 hour does not exist, so that night holds three hours of open time; on the
# fall-back night (2026-10-25) the 02:00-03:00 hour happens twice, so it holds five.
NIGHTS = business_calendar("nights", "Europe/Berlin", {key: [hours("00:00", "04:00")] for key in range(7)})
WHOLE, WORKING = DayRule.WHOLE_DAYS, DayRule.WORKING_HOURS


def msk(*args: int) -> datetime:
    return datetime(*args, tzinfo=MSK)  # type: ignore[misc]


def berlin(*args: int) -> datetime:
    return datetime(*args, tzinfo=BERLIN)  # type: ignore[misc]


def oracle_add(calendar: BusinessCalendar, start: datetime, budget: timedelta) -> datetime:
    """The instant ``budget`` of open time has elapsed after ``start``, minute by minute
    (``start`` and ``budget`` on whole minutes)."""
    at, left = start.astimezone(UTC), budget
    while left > timedelta(0):
        if calendar.is_open(at):
            left -= MIN
        at += MIN
    return at


def oracle_whole_days(calendar: BusinessCalendar, start: datetime, days: int) -> datetime:
    """The close of the ``days``-th local date whose first open minute is at or after
    ``start``, every date scanned minute by minute over its own instants (a DST date has
    23 or 25 hours)."""
    zone = ZoneInfo(calendar.timezone)
    day, counted = start.astimezone(zone).date(), 0
    while True:
        midnight = datetime.combine(day, datetime.min.time(), tzinfo=zone).astimezone(UTC)
        following = datetime.combine(day + timedelta(days=1), datetime.min.time(), tzinfo=zone).astimezone(UTC)
        open_minutes = [midnight + i * MIN for i in range((following - midnight) // MIN)
                        if calendar.is_open(midnight + i * MIN)]
        if open_minutes and open_minutes[0] >= start:
            counted += 1
            if counted == days:
                return open_minutes[-1] + MIN
        day += timedelta(days=1)


# -- the calendar's day length ------------------------------------------------------------------


def test_day_length_is_the_usual_working_day() -> None:
    assert MOSCOW.day_length == 8 * H + 30 * MIN
    assert ALWAYS.day_length == 24 * H
    assert NIGHTS.day_length == 4 * H  # nominal: DST nights do not change the regulation's day
    # Mon-Thu 09:00-18:00 with a lunch break, Friday short: the most common length wins.
    short_friday = business_calendar("f", "Europe/Berlin", {
        **{key: [hours("09:00", "13:00"), hours("14:00", "18:00")] for key in range(4)}, 4: [hours("09:00", "15:00")]})
    assert short_friday.day_length == 8 * H
    # A tie (two days of 6 h, two of 8 h) goes to the longest.
    tie = business_calendar("t", "UTC", {0: [hours("09:00", "15:00")], 1: [hours("09:00", "15:00")],
                                         2: [hours("09:00", "17:00")], 3: [hours("09:00", "17:00")]})
    assert tie.day_length == 8 * H
    # Holidays do not shorten it: the length is the weekly day's, whatever a date holds.
    assert moscow_business_calendar("m2").day_length == MOSCOW.day_length


# -- whole business days vs working days of hours, on Moscow's calendar -------------------------


@pytest.mark.parametrize(
    ("start", "days", "whole", "working"),
    [
        # The examples: 09:31 + 1 whole day is the next day's close; Fri 17:45 + 1
        # working day of hours is Mon 17:45 (SKAI's regulation).
        (msk(2026, 11, 9, 9, 31), 1, msk(2026, 11, 10, 18, 0), msk(2026, 11, 10, 9, 31)),
        (msk(2026, 11, 6, 17, 45), 1, msk(2026, 11, 9, 18, 0), msk(2026, 11, 9, 17, 45)),
        # Across the weekend and more than one day.
        (msk(2026, 11, 6, 12, 0), 2, msk(2026, 11, 10, 18, 0), msk(2026, 11, 10, 12, 0)),
        # Saturday: both count from Monday's opening.
        (msk(2026, 11, 7, 11, 0), 1, msk(2026, 11, 9, 18, 0), msk(2026, 11, 9, 18, 0)),
        # Across a public holiday (Wednesday 2026-11-04, National Unity Day).
        (msk(2026, 11, 3, 17, 45), 1, msk(2026, 11, 5, 18, 0), msk(2026, 11, 5, 17, 45)),
        # Across the New Year holidays (closed 2026-12-31 .. 2027-01-10): 8 h on Dec 30,
        # the last half hour on Jan 11.
        (msk(2026, 12, 30, 10, 0), 1, msk(2027, 1, 11, 18, 0), msk(2027, 1, 11, 10, 0)),
    ],
)
def test_the_two_day_rules_on_moscow(start: datetime, days: int, whole: datetime, working: datetime) -> None:
    spec = TargetSpec.business_days(days)
    assert spec.due_from(MOSCOW, start, WHOLE) == whole
    assert spec.due_from(MOSCOW, start, WORKING) == working
    assert spec.due_from(MOSCOW, start) == whole  # today's only rule stays the default
    assert spec.budget_from(MOSCOW, start, WORKING) == days * MOSCOW.day_length
    assert working == oracle_add(MOSCOW, start, days * MOSCOW.day_length)


def test_the_two_day_rules_across_dst() -> None:
    # Saturday 03:00, the night before spring forward: 1 h left that night, then Sunday's
    # night holds only 3 h (02:00 is skipped) -> the 4 h day ends at Sunday 04:00 either way.
    start = berlin(2026, 3, 28, 3, 0)
    spec = TargetSpec.business_days(1)
    assert spec.due_from(NIGHTS, start, WORKING) == berlin(2026, 3, 29, 4, 0) == oracle_add(NIGHTS, start, 4 * H)
    assert spec.due_from(NIGHTS, start, WHOLE) == berlin(2026, 3, 29, 4, 0)
    # From Sunday 00:00 (spring forward): a whole day is that night (3 h); four hours of
    # work reach into Monday's night.
    sunday = berlin(2026, 3, 29, 0, 0)
    assert spec.due_from(NIGHTS, sunday, WHOLE) == berlin(2026, 3, 29, 4, 0)
    assert spec.due_from(NIGHTS, sunday, WORKING) == berlin(2026, 3, 30, 1, 0) == oracle_add(NIGHTS, sunday, 4 * H)
    # Fall back (2026-10-25 holds five hours): four hours of work end an hour early.
    october = berlin(2026, 10, 25, 0, 0)
    due = spec.due_from(NIGHTS, october, WORKING)
    assert due == oracle_add(NIGHTS, october, 4 * H) == october.astimezone(UTC) + 4 * H
    assert spec.due_from(NIGHTS, october, WHOLE) == berlin(2026, 10, 25, 4, 0)


minute_starts = st.integers(0, 60 * 24 * 240).map(lambda m: datetime(2026, 9, 1, tzinfo=UTC) + m * MIN)


@settings(max_examples=30, deadline=None)
@given(st.sampled_from(["moscow", "nights"]), minute_starts, st.integers(1, 3))
def test_both_rules_match_the_minute_oracles(key: str, start: datetime, days: int) -> None:
    # Starts from September 2026 to April 2027: both of Berlin's DST nights, Russia's
    # November holiday and the New Year closure are all in range.
    calendar = MOSCOW if key == "moscow" else NIGHTS
    due = TargetSpec.business_days(days).due_from(calendar, start, WORKING)
    assert due == oracle_add(calendar, start, days * calendar.day_length)
    whole = TargetSpec.business_days(days).due_from(calendar, start, WHOLE)
    assert whole == oracle_whole_days(calendar, start, days)


# -- pause and resume keep the chosen meaning ---------------------------------------------------


@pytest.mark.parametrize(("rule", "due"), [(WHOLE, msk(2026, 11, 10, 18, 0)), (WORKING, msk(2026, 11, 10, 17, 45))])
def test_a_pause_keeps_the_day_rule(rule: DayRule, due: datetime) -> None:
    policy = SlaPolicy("skai", "moscow", resolution=TargetSpec.business_days(1), day_rule=rule)
    facts = (SlaFact(FactKind.OPENED, msk(2026, 11, 6, 17, 45)), SlaFact(FactKind.PAUSED, msk(2026, 11, 9, 10, 0)),
             SlaFact(FactKind.RESUMED, msk(2026, 11, 10, 10, 0)))
    # Whole days: the budget fixed at the start is 15 min + 8 h 30 (to Monday's close);
    # working hours: 8 h 30. Used before the pause: 15 min Friday + 30 min Monday.
    deadline = SlaClock(policy, MOSCOW, facts).deadlines(msk(2026, 11, 10, 11, 0))[SlaTarget.RESOLUTION]
    assert deadline is not None and deadline.due_at == due
    # Unpaused, each rule gives its plain deadline.
    plain = SlaClock(policy, MOSCOW, facts[:1]).deadlines(msk(2026, 11, 6, 18, 0))[SlaTarget.RESOLUTION]
    assert plain is not None
    assert plain.due_at == TargetSpec.business_days(1).due_from(MOSCOW, msk(2026, 11, 6, 17, 45), rule)


def test_a_categorys_day_target_follows_the_policys_rule() -> None:
    rule = PolicyRule(SlaPolicy("skai", "moscow", resolution=TargetSpec.hours(48), day_rule=WORKING))
    categories = {"tech": Category("tech", "Technical", resolution=TargetSpec.business_days(1))}
    policy = effective_policy(PolicyTable((rule,)), categories, PlanTier.BASIC, "tech", None)
    assert policy is not None and policy.day_rule is WORKING
    assert policy.resolution == TargetSpec.business_days(1)


def test_an_unknown_day_rule_is_refused_naming_its_field() -> None:
    with pytest.raises(InvalidPolicy) as info:
        SlaPolicy("p", "moscow", day_rule="calendar")  # type: ignore[arg-type]
    assert info.value.field == "day_rule"


# -- a day on the around-the-clock calendar -----------------------------------------------------


@pytest.mark.parametrize("rule", [WHOLE, WORKING])
def test_a_day_on_the_24x7_calendar_is_24_hours(rule: DayRule) -> None:
    monday = datetime(2026, 3, 30, 10, 0, tzinfo=UTC)
    assert TargetSpec.business_days(1).due_from(ALWAYS, monday, rule) == datetime(2026, 3, 31, 10, 0, tzinfo=UTC)
    assert TargetSpec.business_days(3).due_from(ALWAYS, monday, rule) == monday + 72 * H
    policy = SlaPolicy("ffc", "24x7", resolution=TargetSpec.business_days(1), day_rule=rule)
    deadline = SlaClock.open(policy, ALWAYS, monday).deadlines(monday)[SlaTarget.RESOLUTION]
    assert deadline is not None and deadline.due_at == monday + 24 * H


# -- auto-close delays per level ----------------------------------------------------------------


def test_auto_close_company_over_policy_over_desk() -> None:
    desk = AutoCloseSettings()  # 48 h waiting, 7 days proposed
    skai_policy = AutoCloseOverride.parse(None, "2bd")
    ffc_company = AutoCloseOverride.parse("72h", "7d")
    assert effective_auto_close(desk) == desk
    assert effective_auto_close(desk, None, skai_policy) == AutoCloseSettings(desk.waiting_timeout, Delay.parse("2bd"))
    assert effective_auto_close(desk, ffc_company, skai_policy) == AutoCloseSettings(Delay.parse("72h"),
                                                                                      Delay.parse("7d"))
    partial = AutoCloseOverride.parse("24h", None)
    assert effective_auto_close(desk, partial, skai_policy) == AutoCloseSettings(Delay.parse("24h"),
                                                                                  Delay.parse("2bd"))
    with pytest.raises(InvalidPolicy) as info:
        AutoCloseOverride.parse(None, "two days")
    assert info.value.field == "auto_close_proposed"


# -- rules no ticket could get -------------------------------------------------------------------


def _rule(name: str, tier: PlanTier | None = None, category: str | None = None,
          severity: Severity | None = None) -> PolicyRule:
    return PolicyRule(SlaPolicy(name, "24x7", first_response=TargetSpec.hours(1)), tier=tier, category=category,
                      severity=severity)


def test_never_selected() -> None:
    tiers = [_rule(t.value, tier=t) for t in PlanTier]
    catch_all = _rule("all")
    # Every ticket has a tier, so three tier rules shadow the catch-all everywhere.
    assert never_selected(PolicyTable((*tiers, catch_all)), frozenset({"tech"})) == (catch_all,)
    assert never_selected(PolicyTable((*tiers[:2], catch_all)), frozenset({"tech"})) == ()
    # A rule for a category no ticket can have (retired, by e-mail) matches nothing.
    retired = _rule("old", category="old")
    assert never_selected(PolicyTable((*tiers, retired)), frozenset({"tech"})) == (retired,)
    # A category rule pinned to a tier is not shadowed by the tier's own rule.
    assert never_selected(PolicyTable((*tiers, _rule("t", tier=PlanTier.BASIC, category="tech"))),
                          frozenset({"tech"})) == ()

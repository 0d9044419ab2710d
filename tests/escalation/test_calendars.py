"""Business calendars: scenario table from the sources, DST, bad input, and properties
checked against a brute-force minute-stepping reference written here."""

from __future__ import annotations

import time as wallclock
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from functools import cache
from zoneinfo import ZoneInfo

import holidays
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from escalation.calendars import (
    BusinessCalendar,
    OpeningPeriod,
    always_open,
    business_calendar,
    hours,
    moscow_business_calendar,
)
from escalation.errors import InvalidCalendar, NaiveDatetime

MSK = ZoneInfo("Europe/Moscow")
BERLIN = ZoneInfo("Europe/Berlin")
NEW_YORK = ZoneInfo("America/New_York")
MINUTE = timedelta(minutes=1)
H = timedelta(hours=1)


def at(tz: ZoneInfo, year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=tz)


MOSCOW = moscow_business_calendar()
WEEKDAYS = range(5)
# Chatwoot #14009: a lunch break splits the day in two.
SPLIT_DAY = business_calendar(
    "split", "Europe/Berlin", {d: [hours("09:00", "13:00"), hours("14:00", "18:00")] for d in WEEKDAYS}
)
BERLIN_OFFICE = business_calendar("berlin-office", "Europe/Berlin", {d: [hours("09:00", "17:00")] for d in WEEKDAYS})
# Both 2026 Berlin DST changes happen on a Sunday at 02:00/03:00 local.
BERLIN_NIGHTS = business_calendar("berlin-nights", "Europe/Berlin", {d: [hours("01:00", "04:00")] for d in range(7)})
NY_SUNDAY_NIGHT = business_calendar("ny", "America/New_York", {6: [hours("00:00", "06:00")]})


# -- scenario table from the sources --------------------------------------------------------


def test_russian_holiday_data_is_what_the_scenarios_assume() -> None:
    ru = holidays.country_holidays("RU", years=[2026, 2027])
    assert date(2026, 11, 4) in ru  # Unity Day, a Wednesday
    assert all(date(2027, 1, day) in ru for day in range(1, 9))  # New Year holidays
    assert date(2026, 11, 6) not in ru and date(2027, 1, 11) not in ru


@pytest.mark.parametrize(
    ("start", "duration", "due"),
    [
        # Friday 17:50: ten minutes on Friday, the rest on Monday morning.
        (at(MSK, 2026, 11, 6, 17, 50), 4 * H, at(MSK, 2026, 11, 9, 13, 20)),
        (at(MSK, 2026, 11, 6, 17, 50), 10 * MINUTE, at(MSK, 2026, 11, 6, 18, 0)),
        (at(MSK, 2026, 11, 6, 17, 50), 11 * MINUTE, at(MSK, 2026, 11, 9, 9, 31)),
        # Opened on Unity Day (Wednesday holiday): counting starts Thursday 09:30.
        (at(MSK, 2026, 11, 4, 10, 0), 4 * H, at(MSK, 2026, 11, 5, 13, 30)),
        # Opened on 2 January 2027 (Saturday inside the New Year holidays): Monday 11 January.
        (at(MSK, 2027, 1, 2, 10, 0), 4 * H, at(MSK, 2027, 1, 11, 13, 30)),
        # Before opening and during the day.
        (at(MSK, 2026, 11, 9, 7, 0), 30 * MINUTE, at(MSK, 2026, 11, 9, 10, 0)),
        (at(MSK, 2026, 11, 9, 17, 0), 8 * H + 30 * MINUTE, at(MSK, 2026, 11, 10, 17, 0)),
        # A full week of business time from Monday opening ends at Friday close.
        (at(MSK, 2026, 11, 9, 9, 30), 5 * (8 * H + 30 * MINUTE), at(MSK, 2026, 11, 13, 18, 0)),
    ],
)
def test_moscow_add_business_time(start: datetime, duration: timedelta, due: datetime) -> None:
    result = MOSCOW.add_business_time(start, duration)
    assert result == due
    assert result.tzinfo is UTC
    assert MOSCOW.business_time_between(start, result) == duration


@pytest.mark.parametrize(
    ("start", "days", "due"),
    [
        # The SKAI example: Friday 17:50, one business day -> close of Monday.
        (at(MSK, 2026, 11, 6, 17, 50), 1, at(MSK, 2026, 11, 9, 18, 0)),
        # Tuesday evening; Wednesday is Unity Day, so Thursday is the first business day.
        (at(MSK, 2026, 11, 3, 17, 50), 1, at(MSK, 2026, 11, 5, 18, 0)),
        (at(MSK, 2026, 11, 3, 17, 50), 2, at(MSK, 2026, 11, 6, 18, 0)),
        # Arriving before a day opens gets that whole day; at or after opening, it does not.
        (at(MSK, 2026, 11, 9, 8, 0), 1, at(MSK, 2026, 11, 9, 18, 0)),
        (at(MSK, 2026, 11, 9, 9, 30), 1, at(MSK, 2026, 11, 9, 18, 0)),
        (at(MSK, 2026, 11, 9, 9, 31), 1, at(MSK, 2026, 11, 10, 18, 0)),
        (at(MSK, 2026, 11, 9, 12, 0), 5, at(MSK, 2026, 11, 16, 18, 0)),
        (at(MSK, 2027, 1, 2, 10, 0), 1, at(MSK, 2027, 1, 11, 18, 0)),
    ],
)
def test_moscow_add_business_days(start: datetime, days: int, due: datetime) -> None:
    assert MOSCOW.add_business_days(start, days) == due


def test_moscow_opening_hours_and_holidays() -> None:
    assert MOSCOW.is_open(at(MSK, 2026, 11, 6, 9, 30))
    assert MOSCOW.is_open(at(MSK, 2026, 11, 6, 17, 59))
    assert not MOSCOW.is_open(at(MSK, 2026, 11, 6, 18, 0))  # periods are half-open
    assert not MOSCOW.is_open(at(MSK, 2026, 11, 6, 9, 29))
    assert not MOSCOW.is_open(at(MSK, 2026, 11, 7, 12, 0))  # Saturday
    assert not MOSCOW.is_open(at(MSK, 2026, 11, 4, 12, 0))  # Unity Day
    assert MOSCOW.next_open(at(MSK, 2026, 11, 3, 19, 0)) == at(MSK, 2026, 11, 5, 9, 30)
    assert MOSCOW.next_open(at(MSK, 2026, 11, 5, 11, 0)) == at(MSK, 2026, 11, 5, 11, 0)
    assert not MOSCOW.is_business_day(date(2026, 11, 4))
    assert MOSCOW.is_business_day(date(2026, 11, 5))


def test_weekend_workdays_declared_by_the_government_are_open() -> None:
    declared = holidays.country_holidays("RU", years=2027).weekend_workdays
    assert date(2027, 2, 20) in declared  # Saturday worked in exchange for Monday 22 Feb
    assert MOSCOW.is_open(at(MSK, 2027, 2, 20, 10, 0))
    assert not MOSCOW.is_open(at(MSK, 2027, 2, 22, 10, 0))
    assert MOSCOW.periods_on(date(2027, 2, 20)) == (hours("09:30", "18:00"),)


def test_two_periods_a_day() -> None:
    monday = (2026, 6, 1)
    assert SPLIT_DAY.add_business_time(at(BERLIN, *monday, 12, 0), 4 * H) == at(BERLIN, *monday, 17, 0)
    assert SPLIT_DAY.add_business_time(at(BERLIN, *monday, 12, 0), H) == at(BERLIN, *monday, 13, 0)
    assert SPLIT_DAY.add_business_time(at(BERLIN, *monday, 12, 0), H + MINUTE) == at(BERLIN, *monday, 14, 1)
    assert not SPLIT_DAY.is_open(at(BERLIN, *monday, 13, 30))
    assert SPLIT_DAY.next_open(at(BERLIN, *monday, 13, 30)) == at(BERLIN, *monday, 14, 0)
    assert SPLIT_DAY.business_time_between(at(BERLIN, *monday, 8, 0), at(BERLIN, *monday, 20, 0)) == 8 * H
    assert SPLIT_DAY.open_intervals(at(BERLIN, *monday, 12, 0), at(BERLIN, *monday, 15, 0)) == [
        (at(BERLIN, *monday, 12, 0), at(BERLIN, *monday, 13, 0)),
        (at(BERLIN, *monday, 14, 0), at(BERLIN, *monday, 15, 0)),
    ]


def test_always_open() -> None:
    cal = always_open()
    start = datetime(2026, 3, 28, 22, 0, tzinfo=UTC)
    assert cal.is_open(start)
    assert cal.next_open(start) == start
    assert cal.add_business_time(start, 48 * H) == start + 48 * H
    assert cal.business_time_between(start, start + 5 * H) == 5 * H
    # A day on a 24/7 desk is 24 hours from the request (issue 19: not the second UTC midnight).
    assert cal.add_business_days(start, 1) == start + 24 * H
    monday = datetime(2026, 3, 30, 10, 0, tzinfo=UTC)
    assert cal.add_business_days(monday, 1) == datetime(2026, 3, 31, 10, 0, tzinfo=UTC)
    assert cal.add_business_days(monday, 3) == monday + 72 * H


def test_midnight_continuity_across_days() -> None:
    cal = business_calendar("late", "Europe/Moscow", {4: [hours("20:00", "24:00")], 5: [hours("00:00", "02:00")]})
    friday = at(MSK, 2026, 11, 6, 20, 0)
    assert cal.add_business_time(friday, 5 * H) == at(MSK, 2026, 11, 7, 1, 0)
    assert cal.is_open(at(MSK, 2026, 11, 7, 0, 0))
    assert cal.next_open(at(MSK, 2026, 11, 7, 0, 0)) == at(MSK, 2026, 11, 7, 0, 0)


def test_custom_closed_dates_and_special_days() -> None:
    cal = business_calendar(
        "custom",
        "Europe/Moscow",
        {d: [hours("10:00", "12:00")] for d in WEEKDAYS},
        closed_dates=[date(2026, 11, 9)],
        special_days={date(2026, 11, 7): [hours("11:00", "12:00")], date(2026, 11, 10): []},
    )
    friday = at(MSK, 2026, 11, 6, 11, 0)
    assert cal.add_business_time(friday, 2 * H) == at(MSK, 2026, 11, 7, 12, 0)
    # Friday 1 h + special Saturday 1 h; Monday closed; Tuesday special-closed; then Wednesday.
    assert cal.add_business_time(friday, 3 * H) == at(MSK, 2026, 11, 11, 11, 0)
    assert cal.is_open(at(MSK, 2026, 11, 7, 11, 30))  # special Saturday
    assert not cal.is_open(at(MSK, 2026, 11, 9, 11, 0))  # closed Monday
    assert not cal.is_open(at(MSK, 2026, 11, 10, 11, 0))  # special day with no hours
    # A special day beats even a public holiday.
    holiday_open = business_calendar(
        "h", "Europe/Moscow", {d: [hours("10:00", "12:00")] for d in WEEKDAYS},
        holidays="RU", special_days={date(2026, 11, 4): [hours("10:00", "11:00")]},
    )
    assert holiday_open.is_open(at(MSK, 2026, 11, 4, 10, 30))
    assert not holiday_open.is_open(at(MSK, 2026, 11, 4, 11, 30))


# -- DST ------------------------------------------------------------------------------------


def test_office_hours_across_spring_forward_and_fall_back() -> None:
    # Friday 16:00 + 2 business hours = Monday 10:00 local, whatever the UTC offset did.
    spring = BERLIN_OFFICE.add_business_time(at(BERLIN, 2026, 3, 27, 16, 0), 2 * H)
    assert spring == at(BERLIN, 2026, 3, 30, 10, 0) == datetime(2026, 3, 30, 8, 0, tzinfo=UTC)
    autumn = BERLIN_OFFICE.add_business_time(at(BERLIN, 2026, 10, 23, 16, 0), 2 * H)
    assert autumn == at(BERLIN, 2026, 10, 26, 10, 0) == datetime(2026, 10, 26, 9, 0, tzinfo=UTC)


def test_periods_spanning_the_change_hold_real_elapsed_time() -> None:
    day = timedelta(days=1)
    spring, autumn = at(BERLIN, 2026, 3, 29, 0, 0), at(BERLIN, 2026, 10, 25, 0, 0)
    assert BERLIN_NIGHTS.business_time_between(spring, spring + day) == 2 * H  # 01:00-04:00 minus the jump
    assert BERLIN_NIGHTS.business_time_between(autumn, autumn + day) == 4 * H  # the hour happens twice
    assert BERLIN_NIGHTS.add_business_time(at(BERLIN, 2026, 3, 29, 1, 30), H) == at(BERLIN, 2026, 3, 29, 3, 30)
    assert BERLIN_NIGHTS.add_business_time(at(BERLIN, 2026, 3, 29, 1, 30), 2 * H) == at(BERLIN, 2026, 3, 30, 1, 30)
    assert BERLIN_NIGHTS.add_business_time(autumn, 4 * H) == datetime(2026, 10, 25, 3, 0, tzinfo=UTC)
    sunday_spring, sunday_autumn = at(NEW_YORK, 2026, 3, 8, 0, 0), at(NEW_YORK, 2026, 11, 1, 0, 0)
    assert NY_SUNDAY_NIGHT.business_time_between(sunday_spring, sunday_spring + day) == 5 * H
    assert NY_SUNDAY_NIGHT.business_time_between(sunday_autumn, sunday_autumn + day) == 7 * H


def test_period_boundaries_inside_the_spring_gap() -> None:
    # 02:30 does not exist on 29 March 2026 in Berlin: the period starts when clocks jump.
    late_start = business_calendar("gap", "Europe/Berlin", {6: [hours("02:30", "05:00")]})
    sunday = at(BERLIN, 2026, 3, 29, 0, 0)
    assert late_start.open_intervals(sunday, sunday + timedelta(days=1)) == [
        (datetime(2026, 3, 29, 1, 0, tzinfo=UTC), datetime(2026, 3, 29, 3, 0, tzinfo=UTC))
    ]
    swallowed = business_calendar("gone", "Europe/Berlin", {6: [hours("02:15", "02:45")]})
    assert not swallowed.is_business_day(date(2026, 3, 29))
    assert swallowed.is_business_day(date(2026, 4, 5))
    assert swallowed.next_open(sunday) == at(BERLIN, 2026, 4, 5, 2, 15)


# -- efficiency and guards ------------------------------------------------------------------


def test_long_targets_are_computed_period_by_period() -> None:
    fresh = moscow_business_calendar()
    started = wallclock.perf_counter()
    due = fresh.add_business_time(at(MSK, 2026, 11, 6, 17, 50), 365 * 24 * H)  # the largest target
    elapsed = wallclock.perf_counter() - started
    # Minute stepping would take ~500k steps (seconds); walking periods takes milliseconds.
    assert elapsed < 0.2
    assert fresh.business_time_between(at(MSK, 2026, 11, 6, 17, 50), due) == 365 * 24 * H
    thirty = fresh.add_business_time(at(MSK, 2026, 11, 6, 17, 50), 30 * (8 * H + 30 * MINUTE))
    assert thirty == at(MSK, 2026, 12, 18, 17, 50)


def test_a_calendar_whose_open_time_is_all_in_the_past_fails_instead_of_looping() -> None:
    cal = business_calendar("past", "UTC", {}, special_days={date(2020, 1, 6): [hours("09:00", "10:00")]})
    later = datetime(2021, 1, 1, tzinfo=UTC)
    assert cal.business_time_between(later, later + timedelta(days=30)) == timedelta(0)
    assert not cal.is_open(later)
    with pytest.raises(InvalidCalendar, match="no open time"):
        cal.next_open(later)
    with pytest.raises(InvalidCalendar):
        cal.add_business_time(later, H)
    with pytest.raises(InvalidCalendar):
        cal.add_business_days(later, 1)


# -- bad input ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "build",
    [
        lambda: business_calendar("x", "Europe/Nowhere", {0: [hours("09:00", "10:00")]}),
        lambda: business_calendar("x", "", {0: [hours("09:00", "10:00")]}),
        lambda: business_calendar("x", "UTC", {0: [hours("09:00", "13:00"), hours("12:00", "18:00")]}),
        lambda: business_calendar("x", "UTC", {0: [hours("09:00", "18:00"), hours("09:00", "18:00")]}),
        lambda: business_calendar("x", "UTC", {0: [hours("18:00", "09:00")]}),
        lambda: business_calendar("x", "UTC", {0: [hours("09:00", "09:00")]}),
        lambda: business_calendar("x", "UTC", {0: [hours("24:00", "24:00")]}),
        lambda: business_calendar("x", "UTC", {0: [hours("09:00", "24:30")]}),
        lambda: business_calendar("x", "UTC", {0: [hours("9am", "5pm")]}),
        lambda: business_calendar("x", "UTC", {7: [hours("09:00", "10:00")]}),
        lambda: business_calendar("x", "UTC", {}),
        lambda: business_calendar("x", "UTC", {0: []}, closed_dates=[date(2026, 1, 1)]),
        lambda: business_calendar("", "UTC", {0: [hours("09:00", "10:00")]}),
        lambda: business_calendar("x", "UTC", {0: [hours("09:00", "10:00")]}, holidays="XX"),
        lambda: business_calendar("x", "UTC", {0: [hours("09:00", "10:00")]}, holidays="RU", subdivision="ZZ"),
        lambda: business_calendar("x", "UTC", {0: [hours("09:00", "10:00")]}, subdivision="BY"),
        lambda: business_calendar(
            "x", "UTC", {0: [hours("09:00", "10:00")]},
            closed_dates=[date(2026, 1, 5)], special_days={date(2026, 1, 5): []},
        ),
        lambda: OpeningPeriod(timedelta(hours=-1), timedelta(hours=2)),
        lambda: BusinessCalendar("x", "UTC", ((),) * 6),
    ],
)
def test_malformed_calendars_are_refused(build: Callable[[], object]) -> None:
    with pytest.raises(InvalidCalendar) as info:
        build()
    assert info.value.code == "invalid_calendar"
    assert info.value.status == 422


def test_direct_construction_is_normalized() -> None:
    monday = (OpeningPeriod(timedelta(hours=14), timedelta(hours=18)), OpeningPeriod(timedelta(hours=9), timedelta(hours=13)))
    cal = BusinessCalendar("direct", "UTC", (monday,) + ((),) * 6, closed_dates={date(2026, 6, 1)})  # type: ignore[arg-type]
    assert cal.weekly[0] == tuple(sorted(monday))
    assert cal.closed_dates == frozenset({date(2026, 6, 1)})
    assert hash(cal) == hash(business_calendar("direct", "UTC", {0: monday}, closed_dates=[date(2026, 6, 1)]))
    assert not cal.is_open(datetime(2026, 6, 1, 10, 0, tzinfo=UTC))
    assert cal.is_open(datetime(2026, 6, 8, 10, 0, tzinfo=UTC))


def test_periods_ending_at_midnight_and_subdivisions_are_accepted() -> None:
    cal = business_calendar("x", "Europe/Berlin", {0: [hours("18:00", "24:00")]}, holidays="DE", subdivision="BY")
    assert cal.weekly[0] == (OpeningPeriod(timedelta(hours=18), timedelta(hours=24)),)
    assert str(cal.weekly[0][0]) == "18:00-24:00"


def test_naive_datetimes_are_refused() -> None:
    naive = datetime(2026, 11, 6, 12, 0)
    aware = at(MSK, 2026, 11, 6, 12, 0)
    calls: list[Callable[[], object]] = [
        lambda: MOSCOW.is_open(naive),
        lambda: MOSCOW.next_open(naive),
        lambda: MOSCOW.add_business_time(naive, H),
        lambda: MOSCOW.add_business_days(naive, 1),
        lambda: MOSCOW.business_time_between(naive, aware),
        lambda: MOSCOW.business_time_between(aware, naive),
        lambda: always_open().add_business_time(naive, H),
    ]
    for call in calls:
        with pytest.raises(NaiveDatetime):
            call()


def test_bad_durations_and_ranges() -> None:
    start = at(MSK, 2026, 11, 6, 12, 0)
    with pytest.raises(ValueError):
        MOSCOW.add_business_time(start, -MINUTE)
    assert MOSCOW.add_business_time(start, timedelta(0)) == start
    for days in (0, -1, True):
        with pytest.raises(ValueError):
            MOSCOW.add_business_days(start, days)
    with pytest.raises(ValueError):
        MOSCOW.business_time_between(start, start - MINUTE)
    assert MOSCOW.business_time_between(start, start) == timedelta(0)


# -- properties against a brute-force reference ---------------------------------------------

# Boundaries avoid the inside of a fall-back's repeated hour, where "wall clock reads w" has
# two answers; everywhere else the reference and the calendar must agree to the minute.
PROPERTY_CALENDARS = {
    cal.key: cal
    for cal in (
        MOSCOW,
        business_calendar(
            "berlin-mixed",
            "Europe/Berlin",
            {
                **{d: [hours("08:00", "12:00"), hours("13:00", "17:30")] for d in WEEKDAYS},
                5: [hours("10:00", "14:00")],
                6: [hours("01:00", "04:00"), hours("22:00", "24:00")],
            },
            holidays="DE",
        ),
        business_calendar(
            "ny-mixed",
            "America/New_York",
            {**{d: [hours("09:00", "17:00")] for d in WEEKDAYS}, 6: [hours("00:00", "01:00"), hours("03:00", "24:00")]},
            closed_dates=[date(2026, 3, 10), date(2026, 11, 3)],
        ),
        business_calendar(
            "kolkata-nights",
            "Asia/Kolkata",
            {d: [hours("00:00", "02:00"), hours("22:00", "24:00")] for d in range(6)},
            special_days={date(2026, 3, 15): [hours("12:00", "12:45")], date(2026, 10, 27): []},
        ),
    )
}
# Windows around both 2026 DST changes (US and EU), Unity Day, and Russian New Year.
WINDOWS = [datetime(2026, 3, 5, tzinfo=UTC), datetime(2026, 10, 20, tzinfo=UTC), datetime(2026, 12, 28, tzinfo=UTC)]


@cache
def reference_is_open(key: str, minute: datetime) -> bool:
    """Open iff the local wall-clock reading lies in one of that local date's periods."""
    cal = PROPERTY_CALENDARS[key]
    local = minute.astimezone(ZoneInfo(cal.timezone))
    wall = timedelta(hours=local.hour, minutes=local.minute)
    return any(p.start <= wall < p.end for p in cal.periods_on(local.date()))


def reference_add(key: str, start: datetime, minutes: int) -> datetime:
    counted, t = 0, start
    while True:
        if reference_is_open(key, t):
            counted += 1
            if counted == minutes:
                return t + MINUTE
        t += MINUTE


def reference_between(key: str, start: datetime, end: datetime) -> timedelta:
    total, t = 0, start
    while t < end:
        total += reference_is_open(key, t)
        t += MINUTE
    return total * MINUTE


calendar_keys = st.sampled_from(sorted(PROPERTY_CALENDARS))
minute_starts = st.builds(
    lambda window, offset: window + offset * MINUTE,
    st.sampled_from(WINDOWS),
    st.integers(min_value=0, max_value=30 * 24 * 60),
)
precise_starts = st.builds(
    lambda window, micros: window + timedelta(microseconds=micros),
    st.sampled_from(WINDOWS),
    st.integers(min_value=0, max_value=30 * 24 * 3600 * 10**6),
)
precise_durations = st.integers(min_value=0, max_value=40 * 3600 * 10**6).map(lambda us: timedelta(microseconds=us))


@settings(max_examples=120, deadline=None)
@given(calendar_keys, minute_starts, st.integers(min_value=1, max_value=12 * 60))
def test_add_business_time_matches_minute_stepping(key: str, start: datetime, minutes: int) -> None:
    cal = PROPERTY_CALENDARS[key]
    assert cal.add_business_time(start, minutes * MINUTE) == reference_add(key, start, minutes)


@settings(max_examples=120, deadline=None)
@given(calendar_keys, minute_starts, st.integers(min_value=0, max_value=4 * 24 * 60))
def test_business_time_between_matches_minute_stepping(key: str, start: datetime, span: int) -> None:
    cal = PROPERTY_CALENDARS[key]
    end = start + span * MINUTE
    assert cal.business_time_between(start, end) == reference_between(key, start, end)


@settings(max_examples=150, deadline=None)
@given(calendar_keys, minute_starts)
def test_is_open_and_next_open_match_the_reference(key: str, minute: datetime) -> None:
    cal = PROPERTY_CALENDARS[key]
    assert cal.is_open(minute) == reference_is_open(key, minute)
    opens = cal.next_open(minute)
    assert reference_is_open(key, opens)
    assert reference_between(key, minute, opens) == timedelta(0)


@settings(max_examples=200, deadline=None)
@given(calendar_keys, precise_starts, precise_durations)
def test_between_inverts_add(key: str, start: datetime, duration: timedelta) -> None:
    cal = PROPERTY_CALENDARS[key]
    due = cal.add_business_time(start, duration)
    assert due >= start
    assert cal.business_time_between(start, due) == duration
    if duration:
        # The earliest such instant: nothing of it can be shaved off, so it is open time.
        assert cal.business_time_between(start, due - timedelta(microseconds=1)) < duration


@settings(max_examples=150, deadline=None)
@given(calendar_keys, precise_starts, precise_durations, precise_durations, st.integers(0, 10**12))
def test_add_business_time_is_monotonic(
    key: str, start: datetime, first: timedelta, second: timedelta, later_us: int
) -> None:
    cal = PROPERTY_CALENDARS[key]
    shorter, longer = sorted((first, second))
    assert cal.add_business_time(start, shorter) <= cal.add_business_time(start, longer)
    later = start + timedelta(microseconds=later_us % (5 * 24 * 3600 * 10**6))
    assert cal.add_business_time(start, shorter) <= cal.add_business_time(later, shorter)


@settings(max_examples=100, deadline=None)
@given(calendar_keys, precise_starts, st.integers(min_value=1, max_value=5))
def test_add_business_days_ends_a_business_day(key: str, start: datetime, days: int) -> None:
    cal = PROPERTY_CALENDARS[key]
    due = cal.add_business_days(start, days)
    assert due > start
    assert cal.is_open(due - timedelta(microseconds=1))
    if key == MOSCOW.key:
        assert not cal.is_open(due)
    assert cal.add_business_days(start, days + 1) > due

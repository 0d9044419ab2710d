"""Business calendars: when a support desk is open, and business-time arithmetic on that.

A calendar is weekly opening hours in one IANA time zone, minus public holidays (from the
``holidays`` package, by country code) and custom closed dates, plus optional special days
(extra open dates or changed hours). All operations are pure and take and return
timezone-aware instants; results are always in UTC. The time zone lives only here.

Wall-clock semantics (DST): opening periods are *local wall-clock* times. A period on local
date ``d`` becomes the UTC interval ``[t(d, start), t(d, end))`` where ``t(d, w)`` is *the
first instant at which the local clock reads ``d + w`` or later*. So:

* a time skipped by a spring-forward jump maps to the instant of the jump (a period
  01:00-04:00 on Europe/Berlin's spring-forward day holds 2 hours of open time);
* a time that occurs twice at a fall-back maps to its first occurrence (01:00-04:00 on the
  fall-back day holds 4 hours: the repeated hour is open twice, as the staff are there);
* ``24:00`` is the next local midnight.

Arithmetic walks these intervals period by period, never minute by minute, so a target of
30 business days costs ~40 cheap day look-ups.
"""

from __future__ import annotations

import itertools
import math
import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import holidays as holidays_lib

from escalation.errors import InvalidCalendar, NaiveDatetime

ZERO = timedelta(0)
DAY = timedelta(days=1)

# A desk may legitimately stay closed for weeks (New Year in Russia closes ~11 days in a
# row), but a calendar without a single open day in ten years is a configuration error.
# Failing then beats a sweeper spinning forever on a deadline that can never come.
NO_OPEN_TIME_HORIZON = 3660  # days

# ~20 years of days per calendar: enough for any live deadline, bounded for a long-lived
# worker that also recomputes old tickets for reports.
_MEMO_LIMIT = 7500

Interval = tuple[datetime, datetime]


def as_utc(at: datetime, name: str = "instant") -> datetime:
    """Return ``at`` as a UTC datetime; raise :class:`NaiveDatetime` if it has no zone.

    Every public function of the escalation core funnels its datetimes through here, so a
    naive datetime is refused at the boundary instead of being silently read as local time.
    """
    if not isinstance(at, datetime):
        raise TypeError(f"{name} must be a datetime, got {type(at).__name__}")
    if at.tzinfo is None or at.utcoffset() is None:
        raise NaiveDatetime(f"{name} must be timezone-aware, got naive {at.isoformat()}")
    return at.astimezone(UTC)


def _fmt(offset: timedelta) -> str:
    minutes = int(offset.total_seconds()) // 60
    return f"{minutes // 60:02d}:{minutes % 60:02d}"


_HHMM = re.compile(r"^(\d{1,2}):(\d{2})$")


def _parse_hhmm(text: str) -> timedelta:
    match = _HHMM.match(text.strip()) if isinstance(text, str) else None
    if match is None:
        raise InvalidCalendar(f"time of day must look like HH:MM, got {text!r}")
    hour, minute = int(match.group(1)), int(match.group(2))
    if minute > 59 or hour > 24 or (hour == 24 and minute != 0):
        raise InvalidCalendar(f"no such time of day: {text!r}")
    return timedelta(hours=hour, minutes=minute)


@dataclass(frozen=True, order=True)
class OpeningPeriod:
    """A half-open stretch ``[start, end)`` of local wall-clock time within one day.

    ``start`` and ``end`` are offsets from local midnight; ``0 <= start < end <= 24h``
    (``end == 24h`` means "until midnight"). Inverted or empty periods raise
    :class:`InvalidCalendar`.
    """

    start: timedelta
    end: timedelta

    def __post_init__(self) -> None:
        if not isinstance(self.start, timedelta) or not isinstance(self.end, timedelta):
            raise InvalidCalendar("opening period bounds must be timedeltas from midnight")
        if not ZERO <= self.start < DAY or not ZERO < self.end <= DAY:
            raise InvalidCalendar(f"opening period {self} is outside 00:00-24:00")
        if self.start >= self.end:
            raise InvalidCalendar(f"opening period {self} is inverted or empty")

    @classmethod
    def parse(cls, start: str, end: str) -> OpeningPeriod:
        """``OpeningPeriod.parse("09:30", "18:00")``; ``"24:00"`` is allowed as an end."""
        return cls(_parse_hhmm(start), _parse_hhmm(end))

    def __str__(self) -> str:
        return f"{_fmt(self.start)}-{_fmt(self.end)}"


def hours(start: str, end: str) -> OpeningPeriod:
    """Shorthand for :meth:`OpeningPeriod.parse`."""
    return OpeningPeriod.parse(start, end)


def _normalize_day(periods: Iterable[OpeningPeriod], where: str) -> tuple[OpeningPeriod, ...]:
    items = tuple(periods)
    for item in items:
        if not isinstance(item, OpeningPeriod):
            raise InvalidCalendar(f"{where}: expected OpeningPeriod, got {item!r}")
    ordered = tuple(sorted(items))
    for first, second in itertools.pairwise(ordered):
        # Touching periods (13:00-14:00 then 14:00-18:00) are fine; overlapping ones are
        # almost always a typo and would double-count open time if accepted.
        if second.start < first.end:
            raise InvalidCalendar(f"{where}: opening periods {first} and {second} overlap")
    return ordered


@lru_cache(maxsize=512)
def _holiday_table(
    country: str, subdivision: str | None, year: int
) -> tuple[frozenset[date], frozenset[date]]:
    """(public holidays, weekend days declared working days) of one year, cached.

    Neighbouring years are generated too because some countries' observed days spill
    over New Year into the adjacent year's table.
    """
    years = [y for y in (year - 1, year, year + 1) if 1 <= y <= 9999]
    table = holidays_lib.country_holidays(country, subdiv=subdivision, years=years)
    days = frozenset(d for d in table if d.year == year)
    workdays = frozenset(d for d in getattr(table, "weekend_workdays", ()) if d.year == year)
    return days, workdays


@dataclass(frozen=True)
class BusinessCalendar:
    """Opening hours of a desk in one time zone. Build it with :func:`business_calendar`.

    ``weekly[i]`` are the periods of weekday ``i`` (0 = Monday). How a local date's hours
    are decided, first match wins: a *special day* (explicit hours, possibly none) >
    a custom *closed date* > a *public holiday* of ``holiday_country`` > a weekend day the
    country declares a working day (opens with ``weekend_workday_periods`` if given) >
    the weekly hours.

    Raises :class:`InvalidCalendar` for an unknown time zone or country/subdivision,
    overlapping or inverted periods, a date both closed and special, or a calendar that
    has no opening hours at all.
    """

    key: str
    timezone: str
    weekly: tuple[tuple[OpeningPeriod, ...], ...]
    holiday_country: str | None = None
    holiday_subdivision: str | None = None
    closed_dates: frozenset[date] = frozenset()
    special_days: tuple[tuple[date, tuple[OpeningPeriod, ...]], ...] = ()
    weekend_workday_periods: tuple[OpeningPeriod, ...] = ()
    _zone: ZoneInfo = field(init=False, repr=False, compare=False)
    _special: dict[date, tuple[OpeningPeriod, ...]] = field(init=False, repr=False, compare=False)
    _always_open: bool = field(init=False, repr=False, compare=False)
    # Memo of local date -> UTC intervals. Pure (same input, same output), so sharing it is
    # safe; it makes the sweeper's recomputation of many tickets on one calendar cheap.
    _memo: dict[date, tuple[Interval, ...]] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if not isinstance(self.key, str) or not self.key.strip():
            raise InvalidCalendar("a calendar needs a non-empty key")
        try:
            zone = ZoneInfo(self.timezone)
        except (ZoneInfoNotFoundError, ValueError, TypeError) as exc:
            raise InvalidCalendar(f"unknown time zone {self.timezone!r}") from exc
        if len(self.weekly) != 7:
            raise InvalidCalendar("weekly hours need exactly 7 days (Monday first)")
        weekly = tuple(_normalize_day(day, f"weekday {i}") for i, day in enumerate(self.weekly))
        self._check_holidays()
        closed = frozenset(self.closed_dates)
        special_items = self.special_days.items() if isinstance(self.special_days, Mapping) else self.special_days
        for day in closed:
            if isinstance(day, datetime) or not isinstance(day, date):
                raise InvalidCalendar(f"closed dates must be dates, got {day!r}")
        special: dict[date, tuple[OpeningPeriod, ...]] = {}
        for day, periods in special_items:
            if isinstance(day, datetime) or not isinstance(day, date):
                raise InvalidCalendar(f"special days must be dates, got {day!r}")
            if day in special:
                raise InvalidCalendar(f"special day {day} is listed twice")
            if day in closed:
                raise InvalidCalendar(f"{day} is both a closed date and a special day")
            special[day] = _normalize_day(periods, f"special day {day}")
        workday = _normalize_day(self.weekend_workday_periods, "weekend workday hours")
        if not any(weekly) and not any(special.values()) and not workday:
            raise InvalidCalendar(f"calendar {self.key!r} has no opening hours at all")
        full_day = (OpeningPeriod(ZERO, DAY),)
        always = (
            all(day == full_day for day in weekly)
            and self.holiday_country is None
            and not closed
            and not special
        )
        object.__setattr__(self, "weekly", weekly)
        object.__setattr__(self, "closed_dates", closed)
        object.__setattr__(self, "special_days", tuple(sorted(special.items())))
        object.__setattr__(self, "weekend_workday_periods", workday)
        object.__setattr__(self, "_zone", zone)
        object.__setattr__(self, "_special", special)
        object.__setattr__(self, "_always_open", always)
        object.__setattr__(self, "_memo", {})

    def _check_holidays(self) -> None:
        if self.holiday_country is None:
            if self.holiday_subdivision is not None:
                raise InvalidCalendar("a holiday subdivision needs a holiday country")
            return
        try:
            holidays_lib.country_holidays(self.holiday_country, subdiv=self.holiday_subdivision)
        except (NotImplementedError, KeyError, ValueError, TypeError) as exc:
            where = self.holiday_country
            if self.holiday_subdivision is not None:
                where += f"/{self.holiday_subdivision}"
            raise InvalidCalendar(f"no public holidays known for {where!r}") from exc

    # -- days -----------------------------------------------------------------------------

    def periods_on(self, day: date) -> tuple[OpeningPeriod, ...]:
        """The local opening periods of ``day`` after all exceptions (see class docstring)."""
        special = self._special.get(day)
        if special is not None:
            return special
        if day in self.closed_dates:
            return ()
        if self.holiday_country is not None:
            public, workdays = _holiday_table(self.holiday_country, self.holiday_subdivision, day.year)
            if day in public:
                return ()
            if day in workdays and self.weekend_workday_periods:
                return self.weekend_workday_periods
        return self.weekly[day.weekday()]

    def is_business_day(self, day: date) -> bool:
        """Whether local date ``day`` has any open time (a period swallowed whole by a DST
        gap does not count)."""
        return bool(self._day_intervals(day))

    def _local_date(self, at: datetime) -> date:
        return at.astimezone(self._zone).date()

    def _to_utc(self, day: date, offset: timedelta) -> datetime:
        """First instant at which the local clock reads ``day + offset`` or later."""
        # Aware + timedelta is wall-clock arithmetic, so this is local midnight + offset,
        # with fold=0: an ambiguous reading resolves to its first occurrence.
        local = datetime.combine(day, time(), tzinfo=self._zone) + offset
        guess = local.astimezone(UTC)
        # A reading inside a spring-forward gap does not survive the round trip: the
        # offset it was converted with is not the offset in force at the result.
        if guess.astimezone(self._zone).utcoffset() == local.utcoffset():
            return guess
        return self._gap_end(local.replace(tzinfo=None))

    def _gap_end(self, wall: datetime) -> datetime:
        """The instant the clocks jumped over the nonexistent local time ``wall``."""
        candidates = sorted(
            wall.replace(tzinfo=self._zone, fold=fold).astimezone(UTC) for fold in (0, 1)
        )
        # The clock reads < wall at lo and >= wall at hi; tz transitions are whole seconds,
        # so bisecting on seconds finds the jump exactly (a dozen steps for a 1-hour gap).
        lo = math.floor(candidates[0].timestamp())
        hi = math.ceil(candidates[1].timestamp())
        while hi - lo > 1:
            mid = (lo + hi) // 2
            reading = datetime.fromtimestamp(mid, UTC).astimezone(self._zone).replace(tzinfo=None)
            if reading >= wall:
                hi = mid
            else:
                lo = mid
        return datetime.fromtimestamp(hi, UTC)

    def _day_intervals(self, day: date) -> tuple[Interval, ...]:
        cached = self._memo.get(day)
        if cached is not None:
            return cached
        intervals = self._compute_day_intervals(day)
        if len(self._memo) >= _MEMO_LIMIT:
            self._memo.clear()
        self._memo[day] = intervals
        return intervals

    def _compute_day_intervals(self, day: date) -> tuple[Interval, ...]:
        intervals: list[Interval] = []
        for period in self.periods_on(day):
            start, end = self._to_utc(day, period.start), self._to_utc(day, period.end)
            if start >= end:
                continue  # swallowed by a spring-forward gap
            if intervals and intervals[-1][1] >= start:
                intervals[-1] = (intervals[-1][0], end)
            else:
                intervals.append((start, end))
        return tuple(intervals)

    def _intervals(self, start: datetime, until: datetime | None) -> Iterator[Interval]:
        """Open intervals (UTC, ascending, disjoint) that end after ``start``.

        With ``until`` the walk stops a day past it; without, it runs on and raises
        :class:`InvalidCalendar` after :data:`NO_OPEN_TIME_HORIZON` days without open time.
        """
        # No interval of an earlier local date can contain ``start``: a date's intervals end
        # by the first instant the clock reads the next midnight. The day of slack after
        # ``until`` covers zones whose clocks fall back across midnight (the next date's
        # hours may begin before an instant still dated the day before).
        day = self._local_date(start)
        last = None if until is None else self._local_date(until) + DAY
        closed_run = 0
        while last is None or day <= last:
            intervals = self._day_intervals(day)
            if intervals:
                closed_run = 0
            else:
                closed_run += 1
                if until is None and closed_run > NO_OPEN_TIME_HORIZON:
                    raise InvalidCalendar(
                        f"calendar {self.key!r} has no open time in the "
                        f"{NO_OPEN_TIME_HORIZON} days after {start.isoformat()}"
                    )
            for interval in intervals:
                if interval[1] > start:
                    yield interval
            day += DAY

    # -- instants -------------------------------------------------------------------------

    def is_open(self, at: datetime) -> bool:
        """Whether the desk is open at instant ``at``."""
        at = as_utc(at, "at")
        if self._always_open:
            return True
        for start, end in self._intervals(at, at):
            if start > at:
                break
            if start <= at < end:
                return True
        return False

    def next_open(self, at: datetime) -> datetime:
        """The first open instant at or after ``at`` (``at`` itself when open), in UTC."""
        at = as_utc(at, "at")
        if self._always_open:
            return at
        for start, _end in self._intervals(at, None):
            return max(start, at)
        raise AssertionError("unreachable: _intervals without until never ends")

    def open_intervals(self, start: datetime, end: datetime) -> list[Interval]:
        """The open stretches within ``[start, end)``, clipped, in UTC, ascending."""
        start, end = as_utc(start, "start"), as_utc(end, "end")
        if end < start:
            raise ValueError(f"end {end.isoformat()} is before start {start.isoformat()}")
        if end == start:
            return []
        if self._always_open:
            return [(start, end)]
        clipped: list[Interval] = []
        for open_at, close_at in self._intervals(start, end):
            if open_at >= end:
                break
            clipped.append((max(open_at, start), min(close_at, end)))
        return clipped

    def business_time_between(self, start: datetime, end: datetime) -> timedelta:
        """Open time elapsed in ``[start, end)``. ``end < start`` raises ValueError."""
        return sum((b - a for a, b in self.open_intervals(start, end)), ZERO)

    def add_business_time(self, start: datetime, duration: timedelta) -> datetime:
        """The earliest instant ``t`` with ``business_time_between(start, t) == duration``.

        In words: when ``duration`` of open time has elapsed after ``start``. A zero
        duration returns ``start`` itself; a positive one always lands inside or at the
        closing edge of an open interval (never at an idle midnight). Negative durations
        raise ValueError.
        """
        start = as_utc(start, "start")
        if not isinstance(duration, timedelta):
            raise TypeError("duration must be a timedelta")
        if duration < ZERO:
            raise ValueError(f"duration must not be negative, got {duration}")
        if duration == ZERO or self._always_open:
            return start + duration
        remaining = duration
        for open_at, close_at in self._intervals(start, None):
            open_at = max(open_at, start)
            available = close_at - open_at
            if available >= remaining:
                return open_at + remaining
            remaining -= available
        raise AssertionError("unreachable: _intervals without until never ends")

    @property
    def day_length(self) -> timedelta:
        """The open time of the calendar's *usual working day*: N "working days of hours"
        are N times this (:class:`escalation.sla_targets.DayRule`).

        Definition: the nominal (wall-clock) open time of each weekday of ``weekly``, the
        weekdays without any left out; the length most weekdays share wins, a tie goes to the
        longest. Holidays, special days and DST do not change it: a day's *length* is what the
        regulation states ("a working day is 8.5 hours"), not what a given date happens to
        hold. Moscow Mon-Fri 09:30-18:00 -> 8 h 30 min; Mon-Thu 9-18, Fri 9-16:45 -> 9 h; a
        24/7 calendar -> 24 h. A calendar open only on special days (no weekly hours) has
        the longest special or weekend-workday length.
        """
        lengths = [sum((p.end - p.start for p in day), ZERO) for day in self.weekly]
        usual = [length for length in lengths if length > ZERO]
        if not usual:
            usual = [sum((p.end - p.start for p in periods), ZERO) for _, periods in self.special_days]
            usual.append(sum((p.end - p.start for p in self.weekend_workday_periods), ZERO))
            return max(usual)
        return max(usual, key=lambda length: (usual.count(length), length))

    def add_business_days(self, start: datetime, days: int) -> datetime:
        """Due instant of a "within ``days`` business days" target started at ``start``.

        Definition: a *business day* is a local date with open time. Count the business
        days whose first opening is at or after ``start``; the result is the last closing
        instant of the ``days``-th of them. So a request that arrives before a day opens
        gets that whole day, and one that arrives during or after a day's hours starts
        counting with the next business day - the customer always gets at least ``days``
        full business days. Example (Moscow 09:30-18:00): a request on Friday 17:50 with a
        1-day target is due Monday 18:00, or at the close of the first working day after a
        holiday. ``days`` must be a positive int.

        On an always-open calendar (24/7, no holidays) a day is 24 hours from ``start``:
        there is no closing to count to, and "the close of the UTC date" would give a
        ticket opened Monday 10:00 with one day until Wednesday 00:00 (38 h).
        """
        start = as_utc(start, "start")
        if isinstance(days, bool) or not isinstance(days, int) or days < 1:
            raise ValueError(f"days must be a positive integer, got {days!r}")
        if self._always_open:
            return start + days * DAY
        counted = 0
        closed_run = 0
        day = self._local_date(start)
        while True:
            intervals = self._day_intervals(day)
            if intervals:
                closed_run = 0
                if intervals[0][0] >= start:
                    counted += 1
                    if counted == days:
                        return intervals[-1][1]
            else:
                closed_run += 1
                if closed_run > NO_OPEN_TIME_HORIZON:
                    raise InvalidCalendar(
                        f"calendar {self.key!r} has no business day in the "
                        f"{NO_OPEN_TIME_HORIZON} days after {start.isoformat()}"
                    )
            day += DAY


def business_calendar(
    key: str,
    timezone: str,
    weekly: Mapping[int, Sequence[OpeningPeriod]],
    *,
    holidays: str | None = None,
    subdivision: str | None = None,
    closed_dates: Iterable[date] = (),
    special_days: Mapping[date, Sequence[OpeningPeriod]] | None = None,
    weekend_workday_periods: Sequence[OpeningPeriod] = (),
) -> BusinessCalendar:
    """Build a :class:`BusinessCalendar` from friendly arguments.

    ``weekly`` maps weekday numbers (0 = Monday ... 6 = Sunday) to opening periods; missing
    days are closed. ``holidays`` is a country code of the ``holidays`` package ("RU",
    "DE", ...), ``subdivision`` its optional region. ``special_days`` gives explicit hours
    for single dates (extra open days, shortened days; an empty list closes the day).
    """
    days: list[tuple[OpeningPeriod, ...]] = [() for _ in range(7)]
    for weekday, periods in weekly.items():
        if isinstance(weekday, bool) or not isinstance(weekday, int) or not 0 <= weekday <= 6:
            raise InvalidCalendar(f"weekday must be 0 (Monday) .. 6 (Sunday), got {weekday!r}")
        days[weekday] = tuple(periods)
    return BusinessCalendar(
        key=key,
        timezone=timezone,
        weekly=tuple(days),
        holiday_country=holidays,
        holiday_subdivision=subdivision,
        closed_dates=frozenset(closed_dates),
        special_days=tuple((day, tuple(p)) for day, p in (special_days or {}).items()),
        weekend_workday_periods=tuple(weekend_workday_periods),
    )


def always_open(key: str = "24x7") -> BusinessCalendar:
    """A 24/7 calendar (UTC, no holidays): business time equals elapsed time."""
    full_day = [OpeningPeriod(ZERO, DAY)]
    return business_calendar(key, "UTC", dict.fromkeys(range(7), full_day))


def moscow_business_calendar(key: str = "moscow") -> BusinessCalendar:
    """SKAI's resolution hours: Mon-Fri 09:30-18:00 Europe/Moscow minus Russian public
    holidays. Weekend days the government declares working days (e.g. Saturday
    2027-02-20, traded for Monday 2027-02-22) open 09:30-18:00, as the Russian production
    calendar has staff working them."""
    workday = [hours("09:30", "18:00")]
    return business_calendar(
        key,
        "Europe/Moscow",
        dict.fromkeys(range(5), workday),
        holidays="RU",
        weekend_workday_periods=workday,
    )

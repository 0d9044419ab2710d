"""The reports' query string, parsed and checked: which local days, in which time zone,
and which tickets (site, company, plan, group, agent, category, severity, channel).

Pure: the query's items, the viewer's profile time zone and ``now`` go in, a frozen
:class:`ReportQuery` comes out, or a :class:`chat.errors.BadRequest` whose code the page
branches on: ``bad_range`` (a date that is no date, ``from`` after ``to``),
``range_too_large`` (more than :data:`MAX_DAYS` days) and ``bad_filter`` (an unknown
parameter, a value out of its domain, an unknown time zone); an unknown ``lang`` (the
language of the report's texts, :mod:`chat.reports.texts`) is a 422 ``validation_failed``.

A day is a local day in the query's zone: its UTC start and end come from zoneinfo, so a
day may last 23 or 25 hours (:meth:`ReportQuery.days`).
"""

from __future__ import annotations

import re
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from functools import cache
from typing import TypeVar
from zoneinfo import ZoneInfo, available_timezones

from chat.errors import BadRequest, ValidationFailed
from chat.reports.texts import DEFAULT as DEFAULT_LANG
from chat.reports.texts import LANGUAGES
from escalation.lifecycle import TicketStatus
from escalation.policy_table import PlanTier, Severity

# A year and a leap day: "this year vs. last year" fits, a decade does not (every report
# answers from the stored facts in one request; the bench holds them to 1 s for a year).
MAX_DAYS = 366
DEFAULT_DAYS = 30
# Ids are 64-bit in the database; a larger number is an error, not a value for SQL.
MAX_ID = 2**63 - 1
# A value may repeat (``agent=3&agent=5``), within reason: the filter becomes an IN list.
MAX_VALUES = 100
MAX_TEXT = 300  # category keys, group keys, policy names: the longest stored is 300

NONE = "none"  # a filter value meaning "not set": no assignee, no group, no category...

FILTERS = ("site", "company", "plan", "group", "agent", "category", "severity", "channel")
DATE_PARAMS = ("from", "to", "tz")
LANG = "lang"  # not a filter: the language of the answer's texts, not which tickets

_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_KEY = re.compile(r"^[A-Za-z0-9_.:-]{1,64}$")
# Dates this far out are typing mistakes; the bounds also keep date arithmetic in range.
_FIRST_YEAR, _LAST_YEAR = 2000, 2200

IdValue = int | None  # None: "none", the column is not set
KeyValue = str | None
T = TypeVar("T")


def bad_filter(message: str) -> BadRequest:
    return BadRequest(message, code="bad_filter")


def bad_range(message: str) -> BadRequest:
    return BadRequest(message, code="bad_range")


@dataclass(frozen=True)
class Day:
    """One local day of a report and the UTC instants it spans: ``[start, end)``."""

    day: date
    start: datetime
    end: datetime


@dataclass(frozen=True)
class ReportQuery:
    """A report's range and filters. An empty filter tuple means "any"; a filter's values
    are alternatives (``agent=3&agent=5``: either); ``None`` among them means "not set"."""

    first: date  # ``from``, inclusive
    last: date  # ``to``, inclusive
    tz: ZoneInfo
    sites: tuple[IdValue, ...] = ()
    companies: tuple[IdValue, ...] = ()
    plans: tuple[PlanTier | None, ...] = ()
    groups: tuple[KeyValue, ...] = ()
    agents: tuple[IdValue, ...] = ()
    categories: tuple[KeyValue, ...] = ()
    severities: tuple[int | None, ...] = ()
    channels: tuple[str, ...] = ()
    lang: str = DEFAULT_LANG  # the language of the answer's titles and labels (chat.reports.texts)
    start: datetime = field(init=False)
    end: datetime = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "start", local_midnight(self.first, self.tz))
        object.__setattr__(self, "end", local_midnight(self.last + timedelta(days=1), self.tz))

    @property
    def tz_name(self) -> str:
        return self.tz.key

    @property
    def day_count(self) -> int:
        return (self.last - self.first).days + 1

    def days(self) -> list[Day]:
        """Every local day of the range with its UTC ``[start, end)``, in order."""
        out = []
        start = self.start
        for i in range(self.day_count):
            day = self.first + timedelta(days=i)
            end = local_midnight(day + timedelta(days=1), self.tz)
            out.append(Day(day, start, end))
            start = end
        return out

    def day(self, value: date) -> Day:
        """One day of the range; ``bad_filter`` for a day outside it."""
        if not self.first <= value <= self.last:
            raise bad_filter(f"day {value.isoformat()} is outside {self.first.isoformat()}..{self.last.isoformat()}")
        return Day(value, local_midnight(value, self.tz), local_midnight(value + timedelta(days=1), self.tz))

    def filters_json(self) -> dict[str, list[int | str]]:
        """The filters as given, for the answer's ``filters`` (``None`` shown as ``"none"``)."""
        def shown(values: Iterable[object]) -> list[int | str]:
            return [NONE if v is None else v if isinstance(v, int) else str(v) for v in values]

        given = {
            "site": self.sites, "company": self.companies, "plan": self.plans, "group": self.groups,
            "agent": self.agents, "category": self.categories, "severity": self.severities,
            "channel": self.channels,
        }
        return {name: shown(values) for name, values in given.items() if values}


def local_midnight(day: date, tz: ZoneInfo) -> datetime:
    """The UTC instant a local day begins. Where midnight does not exist (a DST jump at
    00:00, e.g. America/Havana) zoneinfo moves it forward by the gap, as the wall clock does."""
    return datetime.combine(day, time(0), tzinfo=tz).astimezone(UTC)


@cache
def _zones() -> frozenset[str]:
    return frozenset(available_timezones())


def time_zone(name: str) -> ZoneInfo:
    """An IANA zone by name; ``bad_filter`` for any other string (never a file path)."""
    if name == "UTC":
        return ZoneInfo("UTC")
    if len(name) > 64 or name not in _zones():
        raise bad_filter(f"tz: {name[:64]!r} is not an IANA time zone such as 'Europe/Berlin'")
    return ZoneInfo(name)


def _date(raw: str, name: str) -> date:
    if not _DATE.match(raw):
        raise bad_range(f"{name} must be a date YYYY-MM-DD, not {raw[:40]!r}")
    try:
        value = date.fromisoformat(raw)
    except ValueError:
        raise bad_range(f"{name}: {raw!r} is not a date") from None
    if not _FIRST_YEAR <= value.year <= _LAST_YEAR:
        raise bad_range(f"{name} must be between {_FIRST_YEAR} and {_LAST_YEAR}")
    return value


def _id(raw: str, name: str) -> IdValue:
    if raw == NONE:
        return None
    if not raw.isascii() or not raw.isdigit() or not 1 <= int(raw) <= MAX_ID:
        raise bad_filter(f"{name} must be an id (a positive integer) or 'none', not {raw[:40]!r}")
    return int(raw)


def _key(raw: str, name: str) -> KeyValue:
    if raw == NONE:
        return None
    if not _KEY.match(raw):
        raise bad_filter(f"{name}: {raw[:40]!r} is not a key")
    return raw


def _plan(raw: str, name: str) -> PlanTier | None:
    if raw == NONE:
        return None
    try:
        return PlanTier(raw)
    except ValueError:
        raise bad_filter(f"plan must be one of {', '.join(p.value for p in PlanTier)} or 'none'") from None


def _severity(raw: str, name: str) -> int | None:
    if raw == NONE:
        return None
    if raw not in {str(s.value) for s in Severity}:
        raise bad_filter(f"severity must be one of {', '.join(str(s.value) for s in Severity)} or 'none'")
    return int(raw)


def parse_status(raw: str) -> TicketStatus:
    try:
        return TicketStatus(raw)
    except ValueError:
        raise bad_filter(f"status must be one of {', '.join(s.value for s in TicketStatus)}") from None


def distinct(parsed: Iterable[T]) -> tuple[T, ...]:
    """The values in their first order, each once."""
    return tuple(dict.fromkeys(parsed))


def _grouped(items: Iterable[tuple[str, str]]) -> dict[str, list[str]]:
    grouped: dict[str, list[str]] = {}
    for name, value in items:
        grouped.setdefault(name, []).append(value)
    return grouped


def parse_query(
    items: Iterable[tuple[str, str]],
    *,
    now: datetime,
    channels: Collection[str],
    profile_tz: str | None = None,
    extra: Collection[str] = (),
    lang: str = DEFAULT_LANG,
) -> tuple[ReportQuery, dict[str, str]]:
    """The report query of ``items`` (the query string's pairs, repeats kept), and the
    values of the ``extra`` parameters the caller accepts besides (each at most once).

    ``tz`` defaults to ``profile_tz`` when that is a known zone, else UTC; ``to`` to today
    in that zone, ``from`` to ``to`` minus 29 days (30 days in all); ``lang`` (the texts'
    language) to ``lang``, the viewer's chosen language or English. ``channels``: the
    ticket channels that exist (the storage's enum, which this pure core cannot import).
    """
    grouped = _grouped(items)
    unknown = sorted(set(grouped) - {*FILTERS, *DATE_PARAMS, LANG, *extra})
    if unknown:
        raise bad_filter(f"unknown parameter {unknown[0][:40]!r}; the reports take "
                         f"{', '.join((*DATE_PARAMS, *FILTERS, LANG))}")
    for name in (*DATE_PARAMS, LANG, *extra):
        if len(grouped.get(name, ())) > 1:
            raise bad_filter(f"{name} is given more than once")

    tz_raw = grouped.get("tz", [None])[0]
    if tz_raw is not None:
        tz = time_zone(tz_raw)
    else:
        try:
            tz = time_zone(profile_tz) if profile_tz else ZoneInfo("UTC")
        except BadRequest:
            tz = ZoneInfo("UTC")  # a stale profile zone is no reason to refuse the page

    last = _date(grouped["to"][0], "to") if "to" in grouped else now.astimezone(tz).date()
    first = _date(grouped["from"][0], "from") if "from" in grouped else last - timedelta(days=DEFAULT_DAYS - 1)
    if first > last:
        raise bad_range(f"from ({first.isoformat()}) is after to ({last.isoformat()})")
    if (last - first).days + 1 > MAX_DAYS:
        raise BadRequest(f"the range spans {(last - first).days + 1} days; at most {MAX_DAYS}",
                         code="range_too_large")

    def values(name: str) -> list[str]:
        given = grouped.get(name, [])
        if len(given) > MAX_VALUES:
            raise bad_filter(f"{name} is given more than {MAX_VALUES} times")
        return given

    channel_values = values("channel")
    for raw in channel_values:
        if raw not in channels:
            raise bad_filter(f"channel must be one of {', '.join(sorted(channels))}")
    query = ReportQuery(
        first=first, last=last, tz=tz,
        sites=distinct(_id(v, "site") for v in values("site")),
        companies=distinct(_id(v, "company") for v in values("company")),
        plans=distinct(_plan(v, "plan") for v in values("plan")),
        groups=distinct(_key(v, "group") for v in values("group")),
        agents=distinct(_id(v, "agent") for v in values("agent")),
        categories=distinct(_key(v, "category") for v in values("category")),
        severities=distinct(_severity(v, "severity") for v in values("severity")),
        channels=distinct(channel_values),
        lang=language(grouped[LANG][0]) if LANG in grouped else lang,
    )
    extras = {name: grouped[name][0] for name in extra if name in grouped}
    return query, extras


def language(raw: str) -> str:
    """The ``lang`` parameter: one of :data:`chat.reports.texts.LANGUAGES` (``pt-br``
    reads ``pt-BR``); anything else is a 422, like a profile's language."""
    for known in LANGUAGES:
        if raw.strip().lower() == known.lower():
            return known
    raise ValidationFailed(f"lang: {raw[:40]!r} is not one of {', '.join(LANGUAGES)}")


def query_items(query: ReportQuery) -> list[tuple[str, str]]:
    """``query`` back as query-string pairs (for links the answer carries, and tests)."""
    items = [("from", query.first.isoformat()), ("to", query.last.isoformat()), ("tz", query.tz_name)]
    for name, shown in query.filters_json().items():
        items.extend((name, str(v)) for v in shown)
    return items


def text_param(extras: Mapping[str, str], name: str, *, required: bool = False) -> str | None:
    """An extra parameter's text (trimmed, bounded); ``bad_filter`` when required and absent."""
    raw = extras.get(name)
    if raw is None or raw == "":
        if required:
            raise bad_filter(f"{name} is required here")
        return None
    if len(raw) > MAX_TEXT:
        raise bad_filter(f"{name} is longer than {MAX_TEXT} characters")
    return raw


def date_param(extras: Mapping[str, str], name: str) -> date | None:
    raw = text_param(extras, name)
    if raw is None:
        return None
    if not _DATE.match(raw):
        raise bad_filter(f"{name} must be a date YYYY-MM-DD")
    try:
        return date.fromisoformat(raw)
    except ValueError:
        raise bad_filter(f"{name}: {raw!r} is not a date") from None


def int_param(extras: Mapping[str, str], name: str, low: int, high: int) -> int | None:
    raw = text_param(extras, name)
    if raw is None:
        return None
    if not raw.isascii() or not raw.isdigit() or not low <= int(raw) <= high:
        raise bad_filter(f"{name} must be an integer from {low} to {high}")
    return int(raw)


def choice_param(extras: Mapping[str, str], name: str, choices: Collection[str]) -> str | None:
    raw = text_param(extras, name)
    if raw is not None and raw not in choices:
        raise bad_filter(f"{name} must be one of {', '.join(choices)}")
    return raw

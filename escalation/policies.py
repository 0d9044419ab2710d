"""Categories, and the JSON forms of targets, calendars and policies an admin edits.

Pure like the rest of the core: the storage layer keeps these as JSON columns and builds
the core objects through here, so a malformed value is refused with the same domain error
whether it comes from the HTTP API, a migration or a test.

The effective SLA of a ticket (:func:`effective_policy`): the most specific rule of the
policy table for (plan tier, category, severity); then, unless that rule pins the
category itself, the category's own targets (FFC: "SLA per category") replace the rule's
resolution and stage-one targets. So tier rules carry first response and the defaults,
and a category changes what it is about without a rule per tier.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import date, timedelta
from enum import StrEnum
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import holidays as holidays_lib

from escalation.calendars import BusinessCalendar, OpeningPeriod, business_calendar, hours
from escalation.errors import InvalidCalendar, InvalidPolicy
from escalation.policy_table import PlanTier, PolicyTable, Severity
from escalation.sla_targets import MAX_TARGET_DAYS, SlaPolicy, TargetSpec, TargetUnit

# Category keys travel in URLs and filters: short, lower-case, no spaces.
MAX_KEY = 64


class Availability(StrEnum):
    CUSTOMER = "customer"  # the customer may pick it when raising a ticket
    STAFF = "staff"  # support sets it after qualifying the problem
    SPECIALIST = "specialist"  # only setup specialists may submit it
    EMAIL = "email"  # not a ticket category: handled by e-mail


@dataclass(frozen=True)
class Category:
    key: str
    title: str
    resolution: TargetSpec | None
    availability: Availability = Availability.CUSTOMER
    stage_one: TargetSpec | None = None
    default_severity: Severity | None = None

    def __post_init__(self) -> None:
        check_key(self.key, "category key")
        if not isinstance(self.title, str) or not self.title.strip() or len(self.title) > 200:
            raise InvalidPolicy("a category needs a name of 1-200 characters", field="name")
        try:
            object.__setattr__(self, "availability", Availability(self.availability))
        except ValueError:
            raise InvalidPolicy(f"availability must be one of {', '.join(a.value for a in Availability)}",
                                field="availability") from None
        if self.default_severity is not None:
            try:
                object.__setattr__(self, "default_severity", severity_of(self.default_severity))
            except InvalidPolicy as exc:
                raise InvalidPolicy(exc.message, field="default_severity") from None

    @property
    def customer_may_choose(self) -> bool:
        return self.availability is Availability.CUSTOMER


def check_key(key: object, what: str, field: str | None = None) -> str:
    if (
        not isinstance(key, str)
        or not 1 <= len(key) <= MAX_KEY
        or not all(c.islower() or c.isdigit() or c in "_-" for c in key)
    ):
        raise InvalidPolicy(f"{what} must be 1-{MAX_KEY} lower-case letters, digits, '_' or '-'; got {key!r}",
                            field=field)
    return key


def severity_of(value: object) -> Severity:
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidPolicy(f"severity must be 1 (critical), 2 (major) or 3 (minor); got {value!r}")
    try:
        return Severity(value)
    except ValueError:
        raise InvalidPolicy(f"severity must be 1 (critical), 2 (major) or 3 (minor); got {value!r}") from None


# -- targets --------------------------------------------------------------------------------


def spec_from_json(data: object, what: str = "target", field: str | None = None) -> TargetSpec | None:
    """``{"minutes": 30}``, ``{"hours": 4}`` (business time) or ``{"business_days": 3}``;
    ``None`` means "not tracked". Anything else raises :class:`InvalidPolicy` (naming
    ``field``, the input it came from, when given)."""
    try:
        return _spec_from_json(data, what)
    except InvalidPolicy as exc:
        raise InvalidPolicy(exc.message, field=exc.field or field) from None


def _spec_from_json(data: object, what: str) -> TargetSpec | None:
    if data is None:
        return None
    if not isinstance(data, Mapping) or len(data) != 1:
        raise InvalidPolicy(f"{what} must be one of {{'minutes': n}}, {{'hours': n}}, {{'business_days': n}}")
    (unit, amount), = data.items()
    if isinstance(amount, bool) or not isinstance(amount, int | float):
        raise InvalidPolicy(f"{what}: {unit} must be a number, got {amount!r}")
    if unit == "business_days":
        if not isinstance(amount, int) and not float(amount).is_integer():
            raise InvalidPolicy(f"{what}: business_days must be a whole number")
        return TargetSpec.business_days(int(amount))
    if unit not in ("minutes", "hours"):
        raise InvalidPolicy(f"{what}: unknown unit {unit!r} (minutes, hours, business_days)")
    if amount <= 0:
        raise InvalidPolicy(f"{what} must be positive, got {amount} {unit}")
    duration = timedelta(minutes=amount) if unit == "minutes" else timedelta(hours=amount)
    if duration > timedelta(days=MAX_TARGET_DAYS):
        raise InvalidPolicy(f"{what} of {amount} {unit} is longer than {MAX_TARGET_DAYS} days")
    return TargetSpec.of(duration)


def spec_to_json(spec: TargetSpec | None) -> dict[str, int | float] | None:
    if spec is None:
        return None
    if spec.unit is TargetUnit.BUSINESS_DAYS:
        assert spec.days is not None
        return {"business_days": spec.days}
    assert spec.duration is not None
    minutes = spec.duration.total_seconds() / 60
    return {"minutes": int(minutes) if minutes.is_integer() else minutes}


# -- calendars ------------------------------------------------------------------------------


def _periods(data: object, where: str, field: str) -> list[OpeningPeriod]:
    """The periods of one day, refused with ``field`` (the form's row of that day) when a
    period is malformed, inverted or overlaps another of the same day."""
    if not isinstance(data, list):
        raise InvalidCalendar(f"{where}: expected a list of [start, end] pairs", field=field)
    periods = []
    for item in data:
        if not isinstance(item, list | tuple) or len(item) != 2 or not all(isinstance(x, str) for x in item):
            raise InvalidCalendar(f"{where}: each period is [\"HH:MM\", \"HH:MM\"], got {item!r}", field=field)
        try:
            periods.append(hours(item[0], item[1]))
        except InvalidCalendar as exc:
            raise InvalidCalendar(f"{where}: {exc.message}", field=field) from None
    ordered = sorted(periods)
    for first, second in itertools.pairwise(ordered):
        # The core refuses this too (escalation.calendars), but without knowing which
        # input of the form it came from.
        if second.start < first.end:
            raise InvalidCalendar(f"{where}: opening periods {first} and {second} overlap", field=field)
    return periods


def _date(text: object, where: str, field: str) -> date:
    try:
        assert isinstance(text, str)
        return date.fromisoformat(text)
    except (AssertionError, ValueError):
        raise InvalidCalendar(f"{where}: {text!r} is not a date like 2026-12-31", field=field) from None


_CALENDAR_FIELDS = {"timezone", "weekly", "holidays", "subdivision", "closed_dates", "special_days", "weekend_workdays"}
_DEF = "definition"  # the body key the JSON form travels under (PUT /api/sla/calendars/{key})


def _check_timezone(timezone: object) -> str:
    field = f"{_DEF}.timezone"
    if not isinstance(timezone, str) or not timezone:
        raise InvalidCalendar("a calendar needs a time zone such as 'Europe/Moscow'", field=field)
    try:
        ZoneInfo(timezone)
    except (ZoneInfoNotFoundError, ValueError, TypeError):
        raise InvalidCalendar(f"unknown time zone {timezone!r} (an IANA name such as 'Europe/Berlin')",
                              field=field) from None
    return timezone


def _check_holidays(country: object, subdivision: object) -> None:
    for name, value in (("holidays", country), ("subdivision", subdivision)):
        if value is not None and not isinstance(value, str):
            raise InvalidCalendar(f"{name} must be a code such as 'RU', or null", field=f"{_DEF}.{name}")
    if country is None:
        if subdivision is not None:
            raise InvalidCalendar("a holiday region needs a holiday country", field=f"{_DEF}.subdivision")
        return
    supported = holidays_lib.list_supported_countries()
    if country not in supported:
        raise InvalidCalendar(f"no public holidays known for country {country!r}", field=f"{_DEF}.holidays")
    if subdivision is not None and subdivision not in supported[country]:
        try:  # the package also takes aliases of a region (a calendar stored earlier may use one)
            holidays_lib.country_holidays(country, subdiv=str(subdivision))
        except (NotImplementedError, KeyError, ValueError, TypeError):
            raise InvalidCalendar(f"no public holidays known for region {subdivision!r} of {country}",
                                  field=f"{_DEF}.subdivision") from None


def calendar_from_json(key: str, data: Mapping[str, Any]) -> BusinessCalendar:
    """A calendar from its stored/API form::

        {"timezone": "Europe/Moscow", "weekly": {"0": [["09:30", "18:00"]], ...},
         "holidays": "RU", "subdivision": null, "closed_dates": ["2026-12-31"],
         "special_days": {"2026-12-30": [["09:30", "15:00"]]}, "weekend_workdays": [...]}

    ``weekly`` keys are weekday numbers, 0 = Monday; missing days are closed. Raises
    :class:`InvalidCalendar` for an unknown field, zone or country, overlapping periods...
    with ``field`` naming the input of the API body it is about: ``definition.timezone``,
    ``definition.weekly.<weekday>``, ``definition.holidays``, ``definition.subdivision``,
    ``definition.closed_dates.<i>``, ``definition.special_days.<i>`` (the i-th entry, in
    the object's order), ``definition.weekend_workdays``; ``definition.weekly`` when no day
    opens at all, ``definition`` for the shape.
    """
    if not isinstance(data, Mapping):
        raise InvalidCalendar("a calendar is an object", field=_DEF)
    unknown = set(data) - _CALENDAR_FIELDS
    if unknown:
        raise InvalidCalendar(f"unknown calendar fields: {', '.join(sorted(unknown))}", field=_DEF)
    timezone = _check_timezone(data.get("timezone"))
    weekly_raw = data.get("weekly") or {}
    if not isinstance(weekly_raw, Mapping):
        raise InvalidCalendar("weekly must map weekday numbers (0 = Monday) to periods", field=f"{_DEF}.weekly")
    weekly: dict[int, list[OpeningPeriod]] = {}
    for day, periods in weekly_raw.items():
        # ASCII only: str.isdigit accepts '²' (int() then raises) and '١' (read as 1).
        if not (str(day).isascii() and str(day).isdigit()) or int(day) > 6:
            raise InvalidCalendar(f"weekday must be 0 (Monday) .. 6 (Sunday), got {day!r}", field=f"{_DEF}.weekly")
        weekly[int(day)] = _periods(periods, f"weekday {day}", f"{_DEF}.weekly.{int(day)}")
    holidays = data.get("holidays")
    subdivision = data.get("subdivision")
    _check_holidays(holidays, subdivision)
    closed = data.get("closed_dates") or []
    special = data.get("special_days") or {}
    if not isinstance(closed, list):
        raise InvalidCalendar("closed_dates is a list of dates", field=f"{_DEF}.closed_dates")
    if not isinstance(special, Mapping):
        raise InvalidCalendar("special_days maps dates to periods", field=f"{_DEF}.special_days")
    closed_dates = [_date(d, "closed_dates", f"{_DEF}.closed_dates.{i}") for i, d in enumerate(closed)]
    special_days: dict[date, list[OpeningPeriod]] = {}
    for i, (text, periods) in enumerate(special.items()):
        where = f"{_DEF}.special_days.{i}"
        day = _date(text, "special_days", where)
        if day in special_days:
            raise InvalidCalendar(f"special day {day} is listed twice", field=where)
        if day in closed_dates:
            raise InvalidCalendar(f"{day} is both a closed day and a special day", field=where)
        special_days[day] = _periods(periods, f"special day {text}", where)
    workday = _periods(data.get("weekend_workdays") or [], "weekend_workdays", f"{_DEF}.weekend_workdays")
    try:
        return business_calendar(
            key,
            timezone,
            weekly,
            holidays=holidays,
            subdivision=subdivision,
            closed_dates=closed_dates,
            special_days=special_days,
            weekend_workday_periods=workday,
        )
    except InvalidCalendar as exc:
        # What is left is about the week as a whole ("no opening hours at all").
        raise InvalidCalendar(exc.message, field=exc.field or f"{_DEF}.weekly") from None


def _period_json(periods: tuple[OpeningPeriod, ...]) -> list[list[str]]:
    return [str(p).split("-") for p in periods]


def calendar_to_json(calendar: BusinessCalendar) -> dict[str, Any]:
    return {
        "timezone": calendar.timezone,
        "weekly": {str(i): _period_json(day) for i, day in enumerate(calendar.weekly) if day},
        "holidays": calendar.holiday_country,
        "subdivision": calendar.holiday_subdivision,
        "closed_dates": sorted(d.isoformat() for d in calendar.closed_dates),
        "special_days": {d.isoformat(): _period_json(p) for d, p in calendar.special_days},
        "weekend_workdays": _period_json(calendar.weekend_workday_periods),
    }


# -- the effective policy -------------------------------------------------------------------


def effective_policy(
    table: PolicyTable,
    categories: Mapping[str, Category],
    tier: PlanTier | None,
    category: str | None,
    severity: Severity | None,
) -> SlaPolicy | None:
    """The SLA policy a ticket is measured by (see the module docstring), or ``None``."""
    rule = table.select_rule(tier, category, severity)
    if rule is None:
        return None
    found = categories.get(category) if category is not None else None
    if rule.category is not None or found is None:
        return rule.policy
    changes: dict[str, Any] = {}
    if found.resolution is not None:
        changes["resolution"] = found.resolution
    if found.stage_one is not None:
        changes["stage_one"] = found.stage_one
    if not changes:
        return rule.policy
    return replace(rule.policy, name=f"{rule.policy.name} / {found.key}", **changes)


# -- what the calendar screen shows ---------------------------------------------------------


def holiday_countries() -> list[dict[str, Any]]:
    """The countries the ``holidays`` package knows, by two-letter code, with their English
    name and regions (``subdivision``), sorted by name: the calendar screen's select."""
    supported = holidays_lib.list_supported_countries()
    names: dict[str, str] = {}
    for module, entry in holidays_lib.registry.COUNTRIES.items():
        code = entry[1]
        names[code] = module.replace("_", " ").title()
    found = [
        {"code": code, "name": names.get(code, code), "subdivisions": sorted(supported[code])}
        for code in supported
        if len(code) == 2
    ]
    return sorted(found, key=lambda c: str(c["name"]))


MAX_PREVIEW_DAYS = 400


def calendar_preview(calendar: BusinessCalendar, start: date, days: int) -> list[dict[str, Any]]:
    """The local opening periods of ``days`` days from ``start``, each with why: ``special``
    (a special day), ``closed`` (a custom closed day), ``holiday`` (with its ``holiday``
    name), ``weekend_workday`` (a weekend day the country declares a working day) or
    ``weekly``. The reasons follow :meth:`BusinessCalendar.periods_on`'s order."""
    if not 1 <= days <= MAX_PREVIEW_DAYS:
        raise InvalidCalendar(f"days must be 1-{MAX_PREVIEW_DAYS}", field="days")
    special = dict(calendar.special_days)
    tables: dict[int, Any] = {}
    out = []
    for n in range(days):
        day = start + timedelta(days=n)
        reason, holiday = "weekly", None
        if day in special:
            reason = "special"
        elif day in calendar.closed_dates:
            reason = "closed"
        elif calendar.holiday_country is not None:
            if day.year not in tables:
                tables[day.year] = holidays_lib.country_holidays(
                    calendar.holiday_country, subdiv=calendar.holiday_subdivision, years=day.year)
            table = tables[day.year]
            if day in table:
                reason, holiday = "holiday", str(table.get(day))
            elif day in getattr(table, "weekend_workdays", ()) and calendar.weekend_workday_periods:
                reason = "weekend_workday"
        out.append({
            "date": day.isoformat(), "weekday": day.weekday(), "reason": reason, "holiday": holiday,
            "periods": _period_json(calendar.periods_on(day)),
        })
    return out

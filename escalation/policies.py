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

from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import date, timedelta
from enum import StrEnum
from typing import Any

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
            raise InvalidPolicy("a category needs a name of 1-200 characters")
        try:
            object.__setattr__(self, "availability", Availability(self.availability))
        except ValueError:
            raise InvalidPolicy(f"availability must be one of {', '.join(a.value for a in Availability)}") from None
        if self.default_severity is not None:
            object.__setattr__(self, "default_severity", severity_of(self.default_severity))

    @property
    def customer_may_choose(self) -> bool:
        return self.availability is Availability.CUSTOMER


def check_key(key: object, what: str) -> str:
    if (
        not isinstance(key, str)
        or not 1 <= len(key) <= MAX_KEY
        or not all(c.islower() or c.isdigit() or c in "_-" for c in key)
    ):
        raise InvalidPolicy(f"{what} must be 1-{MAX_KEY} lower-case letters, digits, '_' or '-'; got {key!r}")
    return key


def severity_of(value: object) -> Severity:
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidPolicy(f"severity must be 1 (critical), 2 (major) or 3 (minor); got {value!r}")
    try:
        return Severity(value)
    except ValueError:
        raise InvalidPolicy(f"severity must be 1 (critical), 2 (major) or 3 (minor); got {value!r}") from None


# -- targets --------------------------------------------------------------------------------


def spec_from_json(data: object, what: str = "target") -> TargetSpec | None:
    """``{"minutes": 30}``, ``{"hours": 4}`` (business time) or ``{"business_days": 3}``;
    ``None`` means "not tracked". Anything else raises :class:`InvalidPolicy`."""
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


def _periods(data: object, where: str) -> list[OpeningPeriod]:
    if not isinstance(data, list):
        raise InvalidCalendar(f"{where}: expected a list of [start, end] pairs")
    periods = []
    for item in data:
        if not isinstance(item, list | tuple) or len(item) != 2 or not all(isinstance(x, str) for x in item):
            raise InvalidCalendar(f"{where}: each period is [\"HH:MM\", \"HH:MM\"], got {item!r}")
        periods.append(hours(item[0], item[1]))
    return periods


def _date(text: object, where: str) -> date:
    try:
        assert isinstance(text, str)
        return date.fromisoformat(text)
    except (AssertionError, ValueError):
        raise InvalidCalendar(f"{where}: {text!r} is not a date like 2026-12-31") from None


_CALENDAR_FIELDS = {"timezone", "weekly", "holidays", "subdivision", "closed_dates", "special_days", "weekend_workdays"}


def calendar_from_json(key: str, data: Mapping[str, Any]) -> BusinessCalendar:
    """A calendar from its stored/API form::

        {"timezone": "Europe/Moscow", "weekly": {"0": [["09:30", "18:00"]], ...},
         "holidays": "RU", "subdivision": null, "closed_dates": ["2026-12-31"],
         "special_days": {"2026-12-30": [["09:30", "15:00"]]}, "weekend_workdays": [...]}

    ``weekly`` keys are weekday numbers, 0 = Monday; missing days are closed. Raises
    :class:`InvalidCalendar` for an unknown field, zone or country, overlapping periods...
    """
    if not isinstance(data, Mapping):
        raise InvalidCalendar("a calendar is an object")
    unknown = set(data) - _CALENDAR_FIELDS
    if unknown:
        raise InvalidCalendar(f"unknown calendar fields: {', '.join(sorted(unknown))}")
    timezone = data.get("timezone")
    if not isinstance(timezone, str):
        raise InvalidCalendar("a calendar needs a timezone such as 'Europe/Moscow'")
    weekly_raw = data.get("weekly") or {}
    if not isinstance(weekly_raw, Mapping):
        raise InvalidCalendar("weekly must map weekday numbers (0 = Monday) to periods")
    weekly: dict[int, list[OpeningPeriod]] = {}
    for day, periods in weekly_raw.items():
        # ASCII only: str.isdigit accepts '²' (int() then raises) and '١' (read as 1).
        if not (str(day).isascii() and str(day).isdigit()):
            raise InvalidCalendar(f"weekday must be 0 (Monday) .. 6 (Sunday), got {day!r}")
        weekly[int(day)] = _periods(periods, f"weekday {day}")
    holidays = data.get("holidays")
    subdivision = data.get("subdivision")
    for name, value in (("holidays", holidays), ("subdivision", subdivision)):
        if value is not None and not isinstance(value, str):
            raise InvalidCalendar(f"{name} must be a code such as 'RU', or null")
    closed = data.get("closed_dates") or []
    special = data.get("special_days") or {}
    if not isinstance(closed, list) or not isinstance(special, Mapping):
        raise InvalidCalendar("closed_dates is a list of dates; special_days maps dates to periods")
    return business_calendar(
        key,
        timezone,
        weekly,
        holidays=holidays,
        subdivision=subdivision,
        closed_dates=[_date(d, "closed_dates") for d in closed],
        special_days={_date(d, "special_days"): _periods(p, f"special day {d}") for d, p in special.items()},
        weekend_workday_periods=_periods(data.get("weekend_workdays") or [], "weekend_workdays"),
    )


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

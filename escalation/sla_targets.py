"""What an SLA promises: targets (first response, next response, stage one, resolution)
and a policy of them measured on one business calendar. Pure values, validated on
construction; which policy a ticket gets is :mod:`escalation.policy_table`, how its
deadlines run is :mod:`escalation.sla` (the clock).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from escalation.calendars import ZERO, BusinessCalendar
from escalation.errors import InvalidPolicy

# Longer than a year is no service level but a typo (days entered as minutes, ...); it
# would also push deadlines past anything the sweeper is meant to watch.
MAX_TARGET = timedelta(days=365)
MAX_TARGET_DAYS = 365


class SlaTarget(StrEnum):
    FIRST_RESPONSE = "first_response"
    NEXT_RESPONSE = "next_response"
    STAGE_ONE = "stage_one"  # SKAI's first stage: a consultation or an ETA
    RESOLUTION = "resolution"


class TargetUnit(StrEnum):
    BUSINESS_TIME = "business_time"
    BUSINESS_DAYS = "business_days"


class DayRule(StrEnum):
    """What a policy's day targets ("N business days") mean.

    * ``WHOLE_DAYS``: due at the close of the Nth working day that starts after the request
      (:meth:`BusinessCalendar.add_business_days`): "1 business day" asked at 09:31 is due
      at the next working day's 18:00.
    * ``WORKING_HOURS``: N x the calendar's day length
      (:attr:`BusinessCalendar.day_length`) of business time from the request: on Moscow's
      09:30-18:00, Friday 17:45 + 1 day -> Monday 17:45 (SKAI's regulation).

    Both agree on an always-open calendar (N x 24 h).
    """

    WHOLE_DAYS = "whole_days"
    WORKING_HOURS = "working_hours"


@dataclass(frozen=True)
class TargetSpec:
    """One target: a business-time duration, or N business days (SKAI style).

    Exactly one of ``duration`` / ``days`` is set, matching ``unit``. Durations must be
    positive and at most 365 days; day counts positive and at most 365. Anything else
    raises :class:`InvalidPolicy`. Use the constructors: :meth:`of`, :meth:`hours`,
    :meth:`minutes`, :meth:`business_days`.
    """

    unit: TargetUnit
    duration: timedelta | None = None
    days: int | None = None

    def __post_init__(self) -> None:
        if self.unit is TargetUnit.BUSINESS_TIME:
            if self.days is not None or not isinstance(self.duration, timedelta):
                raise InvalidPolicy("a business-time target needs a duration and no days")
            if self.duration <= ZERO:
                raise InvalidPolicy(f"target must be positive, got {self.duration}")
            if self.duration > MAX_TARGET:
                raise InvalidPolicy(f"target {self.duration} is longer than {MAX_TARGET.days} days")
        elif self.unit is TargetUnit.BUSINESS_DAYS:
            if self.duration is not None or isinstance(self.days, bool) or not isinstance(self.days, int):
                raise InvalidPolicy("a business-days target needs an integer day count")
            if not 1 <= self.days <= MAX_TARGET_DAYS:
                raise InvalidPolicy(f"target must be 1..{MAX_TARGET_DAYS} business days, got {self.days}")
        else:
            raise InvalidPolicy(f"unknown target unit {self.unit!r}")

    @classmethod
    def of(cls, duration: timedelta) -> TargetSpec:
        return cls(TargetUnit.BUSINESS_TIME, duration=duration)

    @classmethod
    def hours(cls, amount: float) -> TargetSpec:
        return cls.of(timedelta(hours=amount))

    @classmethod
    def minutes(cls, amount: float) -> TargetSpec:
        return cls.of(timedelta(minutes=amount))

    @classmethod
    def business_days(cls, days: int) -> TargetSpec:
        return cls(TargetUnit.BUSINESS_DAYS, days=days)

    def due_from(
        self, calendar: BusinessCalendar, start: datetime, rule: DayRule = DayRule.WHOLE_DAYS
    ) -> datetime:
        """Deadline of this target started at ``start`` with the clock never paused; a day
        target is read by ``rule``."""
        if self.duration is not None:
            return calendar.add_business_time(start, self.duration)
        assert self.days is not None
        if DayRule(rule) is DayRule.WORKING_HOURS:
            return calendar.add_business_time(start, self.days * calendar.day_length)
        return calendar.add_business_days(start, self.days)

    def budget_from(
        self, calendar: BusinessCalendar, start: datetime, rule: DayRule = DayRule.WHOLE_DAYS
    ) -> timedelta:
        """The target as business time, fixed at ``start``.

        Day targets are converted once, when their cycle starts; from then on a pause simply
        stops the budget draining, which keeps pause/resume exact for both units and both
        day rules (a pause keeps the chosen meaning: whole days fix the business time left
        to the Nth close as seen at the start, working hours N x the day length).
        """
        if self.duration is not None:
            return self.duration
        assert self.days is not None
        if DayRule(rule) is DayRule.WORKING_HOURS:
            return self.days * calendar.day_length
        return calendar.business_time_between(start, self.due_from(calendar, start, rule))

    def __str__(self) -> str:
        if self.duration is not None:
            return f"{self.duration} business time"
        return f"{self.days} business day(s)"


@dataclass(frozen=True)
class SlaPolicy:
    """Targets measured on the calendar named ``calendar_key``.

    A target left ``None`` is not tracked. ``warning_share`` (0 < share < 1) is the part of
    a target's business time after which a warning is due (0.8 = warn at 80 %).
    ``day_rule`` says what its day targets mean (:class:`DayRule`), including a category's
    own day targets that replace the policy's (:func:`escalation.policies.effective_policy`).
    """

    name: str
    calendar_key: str
    first_response: TargetSpec | None = None
    next_response: TargetSpec | None = None
    stage_one: TargetSpec | None = None
    resolution: TargetSpec | None = None
    warning_share: float = 0.8
    day_rule: DayRule = DayRule.WHOLE_DAYS

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not self.name.strip():
            raise InvalidPolicy("an SLA policy needs a name", field="name")
        try:
            object.__setattr__(self, "day_rule", DayRule(self.day_rule))
        except ValueError:
            raise InvalidPolicy(
                f"day rule must be whole_days or working_hours, got {self.day_rule!r}", field="day_rule"
            ) from None
        if not isinstance(self.calendar_key, str) or not self.calendar_key.strip():
            raise InvalidPolicy(f"policy {self.name!r} needs a calendar key", field="calendar")
        share = self.warning_share
        if isinstance(share, bool) or not isinstance(share, int | float) or not 0 < share < 1:
            raise InvalidPolicy(f"warning share must be between 0 and 1 (exclusive), got {share!r}",
                                field="warning_share")
        for target in SlaTarget:
            spec = self.spec(target)
            if spec is not None and not isinstance(spec, TargetSpec):
                raise InvalidPolicy(f"{target} of policy {self.name!r} must be a TargetSpec", field=str(target))

    def spec(self, target: SlaTarget) -> TargetSpec | None:
        return {
            SlaTarget.FIRST_RESPONSE: self.first_response,
            SlaTarget.NEXT_RESPONSE: self.next_response,
            SlaTarget.STAGE_ONE: self.stage_one,
            SlaTarget.RESOLUTION: self.resolution,
        }[target]


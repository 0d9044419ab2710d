"""Auto-close rules: when a ticket waiting on the customer, or proposed to close, closes
by itself. Pure: the sweeper passes the last activity, the calendar and "now".
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from escalation.calendars import ZERO, BusinessCalendar, as_utc
from escalation.errors import InvalidPolicy
from escalation.lifecycle import Actor, TicketState, TicketStatus, Transition, close

_DELAY = re.compile(r"^(\d{1,6})(m|h|d|bm|bh|bd)$")


class DelayUnit(StrEnum):
    CALENDAR_TIME = "calendar_time"
    BUSINESS_TIME = "business_time"
    BUSINESS_DAYS = "business_days"


@dataclass(frozen=True)
class Delay:
    """A waiting time: wall-clock, business time, or N business days on a calendar."""

    unit: DelayUnit
    duration: timedelta | None = None
    days: int | None = None

    def __post_init__(self) -> None:
        if self.unit is DelayUnit.BUSINESS_DAYS:
            if self.duration is not None or isinstance(self.days, bool) or not isinstance(self.days, int):
                raise InvalidPolicy("a business-days delay needs an integer day count")
            if not 1 <= self.days <= 365:
                raise InvalidPolicy(f"delay must be 1..365 business days, got {self.days}")
        else:
            if self.days is not None or not isinstance(self.duration, timedelta):
                raise InvalidPolicy("a time delay needs a duration")
            if not ZERO < self.duration <= timedelta(days=365):
                raise InvalidPolicy(f"delay must be positive and at most 365 days, got {self.duration}")

    @classmethod
    def parse(cls, text: str) -> Delay:
        """``"48h"``, ``"7d"``, ``"90m"`` (wall-clock), ``"16bh"``, ``"30bm"`` (business
        time) or ``"2bd"`` (business days). Anything else raises :class:`InvalidPolicy`."""
        match = _DELAY.match(text.strip().lower()) if isinstance(text, str) else None
        if match is None:
            raise InvalidPolicy(f"a delay looks like 48h, 7d, 90m, 16bh, 30bm or 2bd; got {text!r}")
        amount, unit = int(match.group(1)), match.group(2)
        if unit == "bd":
            return cls.business_days(amount)
        minutes = {"m": 1, "h": 60, "d": 1440, "bm": 1, "bh": 60}[unit] * amount
        if minutes < 1 or minutes > 365 * 1440:
            raise InvalidPolicy(f"delay must be positive and at most 365 days, got {text!r}")
        if unit.startswith("b"):
            return cls.business_time(timedelta(minutes=minutes))
        return cls.calendar_time(timedelta(minutes=minutes))

    def __str__(self) -> str:
        if self.unit is DelayUnit.BUSINESS_DAYS:
            return f"{self.days}bd"
        assert self.duration is not None
        minutes = int(self.duration.total_seconds() // 60)
        prefix = "b" if self.unit is DelayUnit.BUSINESS_TIME else ""
        if minutes % 1440 == 0 and not prefix:
            return f"{minutes // 1440}d"
        if minutes % 60 == 0:
            return f"{minutes // 60}{prefix}h"
        return f"{minutes}{prefix}m"

    @classmethod
    def calendar_time(cls, duration: timedelta) -> Delay:
        return cls(DelayUnit.CALENDAR_TIME, duration=duration)

    @classmethod
    def business_time(cls, duration: timedelta) -> Delay:
        return cls(DelayUnit.BUSINESS_TIME, duration=duration)

    @classmethod
    def business_days(cls, days: int) -> Delay:
        return cls(DelayUnit.BUSINESS_DAYS, days=days)

    def after(self, start: datetime, calendar: BusinessCalendar) -> datetime:
        start = as_utc(start, "start")
        if self.unit is DelayUnit.BUSINESS_DAYS:
            assert self.days is not None
            return calendar.add_business_days(start, self.days)
        assert self.duration is not None
        if self.unit is DelayUnit.BUSINESS_TIME:
            return calendar.add_business_time(start, self.duration)
        return start + self.duration


WAITING_TIMEOUT_360 = Delay.calendar_time(timedelta(hours=48))
PROPOSED_DELAY_FFC = Delay.calendar_time(timedelta(days=7))


@dataclass(frozen=True)
class AutoCloseSettings:
    """Waiting on the customer with no activity for 48 h closes (360); a proposed-to-close
    ticket closes after ``proposed_delay`` (FFC: 7 days; SKAI: 2 business days)."""

    waiting_timeout: Delay = WAITING_TIMEOUT_360
    proposed_delay: Delay = PROPOSED_DELAY_FFC


@dataclass(frozen=True)
class AutoCloseOverride:
    """One level's own auto-close delays (a policy's, a company's); ``None`` leaves that
    delay to the next level down."""

    waiting_timeout: Delay | None = None
    proposed_delay: Delay | None = None

    @classmethod
    def parse(cls, waiting: str | None, proposed: str | None) -> AutoCloseOverride:
        """From the stored strings (:meth:`Delay.parse`'s form, or null); a bad one raises
        :class:`InvalidPolicy` naming its field (``auto_close_waiting`` / ``auto_close_proposed``)."""
        return cls(_parsed(waiting, "auto_close_waiting"), _parsed(proposed, "auto_close_proposed"))


NO_OVERRIDE = AutoCloseOverride()


def _parsed(text: str | None, field: str) -> Delay | None:
    if text is None:
        return None
    try:
        return Delay.parse(text)
    except InvalidPolicy as exc:
        raise InvalidPolicy(exc.message, field=field) from None


def effective_auto_close(
    desk: AutoCloseSettings, *levels: AutoCloseOverride | None
) -> AutoCloseSettings:
    """The delays a ticket closes by: each delay from the first of ``levels`` (highest
    first: company, then policy) that sets it, else the desk's default."""
    waiting, proposed = desk.waiting_timeout, desk.proposed_delay
    for level in reversed(levels):
        if level is None:
            continue
        waiting = level.waiting_timeout or waiting
        proposed = level.proposed_delay or proposed
    return AutoCloseSettings(waiting_timeout=waiting, proposed_delay=proposed)


FFC_AUTO_CLOSE = AutoCloseSettings()
SKAI_AUTO_CLOSE = AutoCloseSettings(proposed_delay=Delay.business_days(2))


def auto_close_due_at(
    state: TicketState, last_activity_at: datetime, settings: AutoCloseSettings, calendar: BusinessCalendar
) -> datetime | None:
    """When the sweeper should close the ticket, counted from its last activity; ``None``
    unless it is waiting on the customer or proposed to close."""
    if state.status is TicketStatus.WAITING_ON_CUSTOMER:
        return settings.waiting_timeout.after(last_activity_at, calendar)
    if state.status is TicketStatus.PROPOSED_TO_CLOSE:
        return settings.proposed_delay.after(last_activity_at, calendar)
    as_utc(last_activity_at, "last_activity_at")
    return None


def auto_close(
    state: TicketState,
    last_activity_at: datetime,
    settings: AutoCloseSettings,
    calendar: BusinessCalendar,
    now: datetime,
) -> Transition | None:
    """The system's close if it is due at ``now``, else ``None`` (idempotent for a sweeper)."""
    due = auto_close_due_at(state, last_activity_at, settings, calendar)
    if due is None or as_utc(now, "now") < due:
        return None
    return close(state, now, Actor.system())

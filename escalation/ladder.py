"""The escalation ladder: what happens, step by step, after an SLA target is breached.

Defined as data (a deployment sets it in ``ESCALATION_LADDER``), e.g. the default::

    raise_level:2@0, notify_group_lead@60, notify_admins@240

"at the breach, raise the ticket to the 2nd line; 60 business minutes later, if the target
is still unmet, notify the group lead; 240 business minutes after the breach, notify the
support admins". Delays are *business* time on the ticket's calendar, so nobody is paged
at midnight for a desk that is closed (Zammad #4432). Pure: given the breaches that are
still unmet, the calendar, "now" and the steps already done, it says which steps are due.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from escalation.calendars import ZERO, BusinessCalendar, as_utc
from escalation.errors import InvalidPolicy
from escalation.lifecycle import SupportLevel
from escalation.sla import SlaEvent, SlaEventKind

# A ladder longer than this is a paging storm, not a policy.
MAX_STEPS = 10
MAX_AFTER = timedelta(days=30)


def _ascii_digits(text: str) -> bool:
    # str.isdigit accepts '²' and '١', which int() refuses or misreads.
    return text.strip().isascii() and text.strip().isdigit()


class LadderAction(StrEnum):
    RAISE_LEVEL = "raise_level"  # transfer to a higher support line (never lower)
    NOTIFY_ASSIGNEE = "notify_assignee"
    NOTIFY_GROUP_LEAD = "notify_group_lead"  # the lead of the ticket's group; admins if none
    NOTIFY_ADMINS = "notify_admins"  # every support admin


@dataclass(frozen=True)
class LadderStep:
    action: LadderAction
    after: timedelta = ZERO  # business time after the breach
    level: SupportLevel | None = None  # raise_level only

    def __post_init__(self) -> None:
        try:
            object.__setattr__(self, "action", LadderAction(self.action))
        except ValueError:
            known = ", ".join(a.value for a in LadderAction)
            raise InvalidPolicy(f"unknown escalation action {self.action!r}; known: {known}") from None
        if not isinstance(self.after, timedelta) or not ZERO <= self.after <= MAX_AFTER:
            raise InvalidPolicy(f"an escalation step comes 0..{MAX_AFTER.days} days after the breach, got {self.after}")
        if self.action is LadderAction.RAISE_LEVEL:
            if isinstance(self.level, bool) or self.level not in (SupportLevel.SECOND, SupportLevel.THIRD):
                raise InvalidPolicy("raise_level needs the line to raise to: raise_level:2 or raise_level:3")
            object.__setattr__(self, "level", SupportLevel(self.level))
        elif self.level is not None:
            raise InvalidPolicy(f"{self.action} takes no level")

    def __str__(self) -> str:
        arg = f":{int(self.level)}" if self.level is not None else ""
        return f"{self.action.value}{arg}@{int(self.after.total_seconds() // 60)}"


@dataclass(frozen=True)
class DueStep:
    """Step ``index`` (1-based) of the ladder, due at ``at`` for ``breach``."""

    index: int
    step: LadderStep
    breach: SlaEvent
    at: datetime

    @property
    def key(self) -> str:
        """Stable across recomputations, like :attr:`SlaEvent.key`: a sweeper records it once."""
        return f"{self.breach.key}:step{self.index}"


@dataclass(frozen=True)
class Ladder:
    steps: tuple[LadderStep, ...]

    def __post_init__(self) -> None:
        steps = tuple(self.steps)
        if len(steps) > MAX_STEPS:
            raise InvalidPolicy(f"an escalation ladder has at most {MAX_STEPS} steps")
        for earlier, later in itertools.pairwise(steps):
            if later.after < earlier.after:
                raise InvalidPolicy(f"escalation steps must come in time order: {later} comes before {earlier}")
        object.__setattr__(self, "steps", steps)

    @classmethod
    def parse(cls, text: str) -> Ladder:
        """``"raise_level:2@0, notify_group_lead@60"``: ``action[:level]@minutes`` items;
        ``"none"`` (or an empty text) is a ladder without steps (breaches are recorded,
        nothing else)."""
        if text.strip().lower() == "none":
            return cls(())
        steps = []
        for raw in (part.strip() for part in text.split(",")):
            if not raw:
                continue
            action_part, at, minutes = raw.partition("@")
            action, _, level = action_part.strip().partition(":")
            if not at or not _ascii_digits(minutes) or (level and not _ascii_digits(level)):
                raise InvalidPolicy(f"an escalation step looks like notify_admins@240 or raise_level:2@0; got {raw!r}")
            steps.append(
                LadderStep(
                    action.strip(),  # type: ignore[arg-type]  # validated by LadderStep
                    timedelta(minutes=int(minutes)),
                    int(level) if level else None,  # type: ignore[arg-type]
                )
            )
        return cls(tuple(steps))

    def __str__(self) -> str:
        return ", ".join(str(step) for step in self.steps)

    def _steps_for(self, breaches: Iterable[SlaEvent], calendar: BusinessCalendar) -> list[DueStep]:
        result = []
        for breach in breaches:
            if breach.kind is not SlaEventKind.BREACH:
                continue
            for index, step in enumerate(self.steps, start=1):
                result.append(DueStep(index, step, breach, calendar.add_business_time(breach.at, step.after)))
        result.sort(key=lambda d: (d.at, d.index))
        return result

    def due_steps(
        self, breaches: Iterable[SlaEvent], calendar: BusinessCalendar, now: datetime, done: Iterable[str] = ()
    ) -> list[DueStep]:
        """Steps due by ``now`` and not in ``done`` (keys), oldest first. ``breaches`` are
        the unmet breaches of the ticket (``SlaClock.due_events``): a met target stops
        its ladder."""
        now = as_utc(now, "now")
        finished = set(done)
        return [d for d in self._steps_for(breaches, calendar) if d.at <= now and d.key not in finished]

    def pending_at(self, breaches: Iterable[SlaEvent], calendar: BusinessCalendar, done: Iterable[str] = ()) -> datetime | None:
        """The earliest step not yet done (due or not), or ``None``."""
        finished = set(done)
        return min((d.at for d in self._steps_for(breaches, calendar) if d.key not in finished), default=None)


DEFAULT_LADDER = "raise_level:2@0, notify_group_lead@60, notify_admins@240"

"""The facts a report reads off a ticket row (issue 17), derived at the end of every unit of
work (:func:`escalation.unit_of_work.recompute`) from what the row already holds: its
status, its SLA facts and clock, the deadlines just recomputed, the SLA marks the sweeper
acted on and the facts stored by the previous unit. Pure: no I/O, the calendar and the
clock passed in.

What each figure means (the columns of ``tickets``, docs/architecture.md "Report facts"):

* ``resolved_at`` — when the ticket last went from an open status into the resolved set
  (proposed to close, or closed). Closing a ticket that was proposed to close keeps the
  proposal's time: the solution was given then, and the auto-close days after are not
  support's time. ``None`` while the ticket is open (again).
* ``first_response_*`` / ``resolution_*`` — from ``created_at`` (the chat's start for a
  support chat) to ``first_replied_at`` / ``resolved_at``, in wall-clock seconds and in
  open seconds of the ticket's calendar (its SLA policy's; the always-open fallback when
  no policy applies), whole seconds rounded down. Elapsed business time, not the SLA
  clock's consumed time: a pause while waiting on the customer counts (the SLA outcome
  columns say whether the promise was kept).
* ``sla_*`` — per target: ``"breached"`` once its deadline was seen breached, or the
  sweeper acted on a breach of it (a mark), whatever happens later (sticky); else
  ``"met"`` when its current deadline is met; else ``None`` (no such target, not started,
  still running, paused, or stopped by a close). Next response has a cycle per customer
  follow-up, every one judged from the SLA facts (not from what an earlier unit stored:
  a unit may catch up an answer and the next follow-up together, and the backfill starts
  from nothing): ``"breached"`` if any cycle was (or the sticky rules above), ``"met"``
  if at least one cycle was answered and every answered one in time (a later cycle
  running, paused or stopped by a close leaves it so), else ``None``.
* ``reopened_count`` / :attr:`ReportFacts.reopens` — the distinct instants the ticket went
  from proposed to close back to an open status (the SLA fact ``reopened``, which that
  transition and no other records).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence, Set
from dataclasses import dataclass, fields
from datetime import datetime, timedelta
from typing import Any

from escalation.calendars import BusinessCalendar, as_utc
from escalation.lifecycle import TicketStatus
from escalation.sla import DeadlineState, FactKind, SlaClock, SlaFact
from escalation.sla_targets import SlaTarget

# The version of the facts a row holds (``tickets.report_facts``). A row below it is
# completed by the reports.backfill job; raise it when a fact is added or its meaning
# changes, and the job brings every row up to it.
REPORT_FACTS_VERSION = 1

MET = "met"
BREACHED = "breached"

OUTCOME_TARGETS = (SlaTarget.FIRST_RESPONSE, SlaTarget.NEXT_RESPONSE, SlaTarget.RESOLUTION)
_RESOLVED = frozenset({TicketStatus.PROPOSED_TO_CLOSE, TicketStatus.CLOSED})
_SECOND = timedelta(seconds=1)


@dataclass(frozen=True)
class ReportFacts:
    """The report columns of one ticket (see the module docstring for their meaning).
    ``reopens`` is not a column: the instants behind ``reopened_count``, oldest first, for
    ``report_reopens``."""

    resolved_at: datetime | None = None
    first_response_wall_s: int | None = None
    first_response_business_s: int | None = None
    resolution_wall_s: int | None = None
    resolution_business_s: int | None = None
    sla_first_response: str | None = None
    sla_next_response: str | None = None
    sla_resolution: str | None = None
    calendar_key: str | None = None
    reopened_count: int = 0
    reopens: tuple[datetime, ...] = ()

    def columns(self) -> dict[str, Any]:
        """The values to store on the ticket row, by column name."""
        return {name: getattr(self, name) for name in COLUMNS}

    @classmethod
    def stored(cls, row: Any) -> ReportFacts:
        """The facts a ticket row holds (what the previous unit stored): the columns of
        the same names; a row from before the facts has ``reopened_count`` unset."""
        values = {name: getattr(row, name) for name in COLUMNS}
        values["reopened_count"] = values["reopened_count"] or 0
        return cls(**values)

    def outcome(self, target: SlaTarget) -> str | None:
        return {
            SlaTarget.FIRST_RESPONSE: self.sla_first_response,
            SlaTarget.NEXT_RESPONSE: self.sla_next_response,
            SlaTarget.RESOLUTION: self.sla_resolution,
        }.get(target)


COLUMNS = tuple(f.name for f in fields(ReportFacts) if f.name != "reopens")
"""The facts that are columns of ``tickets`` (same names); ``reopens`` is not one."""


def ticket_facts(
    *,
    status: TicketStatus,
    created_at: datetime,
    status_changed_at: datetime,
    first_replied_at: datetime | None,
    facts: Sequence[SlaFact],
    calendar: BusinessCalendar,
    clock: SlaClock | None,
    deadlines: Mapping[str, Mapping[str, Any]],
    marks: Set[str],
    previous: ReportFacts,
) -> ReportFacts:
    """The report facts of a ticket as a unit of work leaves it.

    ``facts``: its SLA facts (time order); ``calendar``: the one its SLA policy is measured
    on (the fallback when none applies); ``clock``: the SLA clock of those facts under its
    policy (``None`` when no policy applies), whose earlier next-response cycles are
    judged; ``deadlines``: ``tickets.deadlines`` as just recomputed from that clock;
    ``marks``: the keys of the warnings, breaches and ladder steps acted on;
    ``previous``: the facts stored by the previous unit (the sticky breaches; business
    times already measured on the same calendar between the same instants are kept rather
    than measured again).
    """
    reopens = reopen_instants(facts)
    resolved_at = resolved_instant(status, status_changed_at, facts)
    same_calendar = previous.calendar_key == calendar.key
    first_wall = _seconds(created_at, first_replied_at)
    first_business = None
    if first_replied_at is not None:
        if same_calendar and previous.first_response_wall_s == first_wall and previous.first_response_business_s is not None:
            first_business = previous.first_response_business_s
        else:
            first_business = business_seconds(calendar, created_at, first_replied_at)
    resolution_business = None
    if resolved_at is not None:
        if same_calendar and previous.resolved_at == resolved_at and previous.resolution_business_s is not None:
            resolution_business = previous.resolution_business_s
        else:
            resolution_business = business_seconds(calendar, created_at, resolved_at)
    return ReportFacts(
        resolved_at=resolved_at,
        first_response_wall_s=first_wall,
        first_response_business_s=first_business,
        resolution_wall_s=_seconds(created_at, resolved_at),
        resolution_business_s=resolution_business,
        sla_first_response=sla_outcome(
            SlaTarget.FIRST_RESPONSE, deadlines, marks, previous.sla_first_response),
        sla_next_response=next_response_outcome(clock, deadlines, marks, previous.sla_next_response),
        sla_resolution=sla_outcome(SlaTarget.RESOLUTION, deadlines, marks, previous.sla_resolution),
        calendar_key=calendar.key,
        reopened_count=len(reopens),
        reopens=reopens,
    )


def reopen_instants(facts: Sequence[SlaFact]) -> tuple[datetime, ...]:
    """The distinct instants of the ticket's reopens (proposed to close -> open), oldest first."""
    return tuple(sorted({f.at for f in facts if f.kind is FactKind.REOPENED}))


def resolved_instant(status: TicketStatus, status_changed_at: datetime, facts: Sequence[SlaFact]) -> datetime | None:
    """When the ticket in ``status`` last entered the resolved set, or ``None`` while open.
    Read from the facts (a resolution, a close, a reopen each leave one); a row without
    them (none was recorded) falls back to its last status change."""
    if status not in _RESOLVED:
        return None
    since: datetime | None = None
    for fact in facts:
        if fact.kind in (FactKind.RESOLVED, FactKind.CLOSED):
            since = since or fact.at
        elif fact.kind is FactKind.REOPENED:
            since = None
    return since or status_changed_at


def sla_outcome(
    target: SlaTarget, deadlines: Mapping[str, Mapping[str, Any]], marks: Set[str], previous: str | None
) -> str | None:
    """``"breached"`` (sticky), ``"met"`` or ``None`` for a target of one cycle (first
    response, resolution), from its current deadline; see the module docstring."""
    state = _state(target, deadlines)
    if previous == BREACHED or state == DeadlineState.BREACHED or breach_marked(target, marks):
        return BREACHED
    if state == DeadlineState.MET:
        return MET
    return None


def next_response_outcome(
    clock: SlaClock | None, deadlines: Mapping[str, Mapping[str, Any]], marks: Set[str], previous: str | None
) -> str | None:
    """The next-response outcome over every cycle: the current one from ``deadlines``, the
    earlier (answered) ones judged on ``clock``; see the module docstring. The earlier
    cycles are measured only when no breach is known already, each up to its answer."""
    target = SlaTarget.NEXT_RESPONSE
    state = _state(target, deadlines)
    if previous == BREACHED or state == DeadlineState.BREACHED or breach_marked(target, marks):
        return BREACHED
    earlier = clock.earlier_cycles_met(target) if clock is not None else ()
    if not all(earlier):
        return BREACHED
    if state == DeadlineState.MET or earlier:
        return MET
    return None


def _state(target: SlaTarget, deadlines: Mapping[str, Mapping[str, Any]]) -> Any:
    stored = deadlines.get(target.value)
    return stored.get("state") if stored is not None else None


def breach_marked(target: SlaTarget, marks: Set[str]) -> bool:
    """Whether the sweeper acted on a breach of ``target`` (an ``SlaEvent`` key
    ``target:breach:...``, or a ladder step after one)."""
    prefix = f"{target.value}:breach:"
    return any(key.startswith(prefix) for key in marks)


def business_seconds(calendar: BusinessCalendar, start: datetime, end: datetime) -> int:
    """Open seconds of ``calendar`` in ``[start, end)``, rounded down; 0 if ``end`` is earlier."""
    if end <= start:
        return 0
    return calendar.business_time_between(start, end) // _SECOND


def _seconds(start: datetime, end: datetime | None) -> int | None:
    if end is None:
        return None
    # In UTC: Python subtracts two instants of one zone on the wall clock (DST ignored).
    return max((as_utc(end) - as_utc(start)) // _SECOND, 0)

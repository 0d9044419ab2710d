"""What a ticket row keeps of its SLA clock, derived afresh at the end of every unit of work
(:func:`escalation.unit_of_work.recompute`): the deadlines shown (``tickets.deadlines``),
when the sweeper must look at the ticket again (``sla_next_check_at``), and whose next
message changes anything (``watch_agent_reply`` / ``watch_customer_reply``, which let the
after-commit reaction skip the write for an ordinary chat message).

Pure: the clock, the time, the marks already acted on and the ticket's status go in,
column values come out; the unit of work reads the marks and writes the columns.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Set
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from escalation.ladder import Ladder
from escalation.lifecycle import TicketStatus
from escalation.sla import Deadline, SlaClock, SlaEventKind
from escalation.sla_targets import SlaPolicy, SlaTarget

# tickets.deadlines: by target name, each deadline as deadline_json gives it.
StoredDeadlines = dict[str, dict[str, str | None]]


def _iso(at: datetime | None) -> str | None:
    return None if at is None else at.isoformat()


def deadline_json(deadline: Deadline) -> dict[str, str | None]:
    """A deadline as ``tickets.deadlines`` stores it, by target."""
    return {
        "due_at": _iso(deadline.due_at),
        "warn_at": _iso(deadline.warn_at),
        "state": deadline.state.value,
        "started_at": _iso(deadline.started_at),
        "met_at": _iso(deadline.met_at),
    }


@dataclass(frozen=True)
class SlaColumns:
    """The columns a unit of work stores from the ticket's SLA clock at its ``now``; the
    defaults are those of a ticket without a clock (no policy applies, or no facts yet).

    ``next_response_waits``: a customer message waits for its next response (the policy
    times next responses and the current cycle is unmet)."""

    deadlines: StoredDeadlines = field(default_factory=dict)
    next_check_at: datetime | None = None
    next_response_waits: bool = False


def sla_columns(clock: SlaClock, now: datetime, *, ticket_open: bool, marks: Set[str], ladder: Ladder) -> SlaColumns:
    """The SLA columns of a ticket whose clock is ``clock``. ``marks``: the keys of the
    warnings, breaches and ladder steps the sweeper has already acted on."""
    deadlines = clock.deadlines(now)
    next_response = deadlines.get(SlaTarget.NEXT_RESPONSE)
    return SlaColumns(
        deadlines={target.value: deadline_json(d) for target, d in deadlines.items() if d is not None},
        next_check_at=next_sla_check(clock, now, deadlines, ticket_open=ticket_open, marks=marks, ladder=ladder),
        next_response_waits=next_response is not None and next_response.met_at is None,
    )


def next_sla_check(
    clock: SlaClock,
    now: datetime,
    deadlines: Mapping[SlaTarget, Deadline | None],
    *,
    ticket_open: bool,
    marks: Set[str],
    ladder: Ladder,
) -> datetime | None:
    """When the sweeper must look again: the earliest warning or breach of an open ticket
    it has not acted on yet (due already or not), or the escalation ladder's next step
    after a breach still unmet; ``None`` when nothing is scheduled."""
    candidates = list(unannounced_alerts(deadlines, marks)) if ticket_open else []
    breaches = [e for e in clock.due_events(now) if e.kind is SlaEventKind.BREACH]
    step_at = ladder.pending_at(breaches, clock.calendar, marks)
    if step_at is not None:
        candidates.append(step_at)
    return min(candidates, default=None)


def unannounced_alerts(deadlines: Mapping[SlaTarget, Deadline | None], marks: Set[str]) -> Iterator[datetime]:
    """The warning and breach instants of the unmet targets whose mark (the stable key of
    :class:`escalation.sla.SlaEvent`) is not stored yet."""
    for target, deadline in deadlines.items():
        if deadline is None or deadline.met_at is not None:
            continue
        for kind, at in ((SlaEventKind.WARNING, deadline.warn_at), (SlaEventKind.BREACH, deadline.due_at)):
            if at is not None and f"{target}:{kind}:{deadline.started_at.isoformat()}" not in marks:
                yield at


def due_times_moved(before: Mapping[str, Mapping[str, Any]], after: StoredDeadlines) -> bool:
    """Whether a target's due instant changed between two ``tickets.deadlines`` values (a
    target that started or went away counts)."""
    return {k: v.get("due_at") for k, v in before.items()} != {k: v["due_at"] for k, v in after.items()}


def watches_agent_reply(status: TicketStatus, *, answered: bool, next_response_waits: bool) -> bool:
    """Whether a staff reply would change the ticket: it is open and not answered yet, or
    a customer message waits for its next response."""
    return status is not TicketStatus.CLOSED and (not answered or next_response_waits)


def watches_customer_reply(
    status: TicketStatus, *, tracked: bool, policy: SlaPolicy | None, next_response_waits: bool
) -> bool:
    """Whether a customer message would change the ticket: it reopens one that waits on
    the customer or was proposed to close, or it starts a next-response cycle of a tracked
    ticket whose policy times next responses (none is running)."""
    if status is TicketStatus.CLOSED:
        return False
    if status in (TicketStatus.WAITING_ON_CUSTOMER, TicketStatus.PROPOSED_TO_CLOSE):
        return True
    return tracked and policy is not None and policy.next_response is not None and not next_response_waits

"""The SLA clock - pure arithmetic on business calendars.

An :class:`SlaClock` is fed the ticket's *facts* in time order (opened, replies, pauses,
resolution...) and derives every deadline of its policy (:mod:`escalation.sla_targets`)
from them, so the storage layer only stores facts and the derived deadline columns and
recomputes both on every change; nothing here holds a timer.

Everything is counted in *business time* on the policy's calendar: warnings and breaches
never land at an idle midnight (Zammad #4432) and never run on wall-clock time while the
desk is closed (Chatwoot PR #13392).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
from itertools import pairwise

from escalation.calendars import ZERO, BusinessCalendar, as_utc
from escalation.errors import InvalidPolicy, InvalidSlaFacts
from escalation.sla_targets import SlaPolicy, SlaTarget


class FactKind(StrEnum):
    OPENED = "opened"  # a ticket opened directly: every clock starts
    CHAT_OPENED = "chat_opened"  # a live chat: only the first-response clock starts
    TRACKED = "tracked"  # the chat became a ticket: stage one and resolution start
    AGENT_REPLY = "agent_reply"  # a real answer by a person
    AUTO_REPLY = "auto_reply"  # accepted and ignored: an auto-reply is no response (360)
    CUSTOMER_REPLY = "customer_reply"
    STAGE_ONE_DONE = "stage_one_done"  # consultation given or ETA announced (SKAI)
    PAUSED = "paused"  # now waiting on the customer
    RESUMED = "resumed"  # no longer waiting on the customer
    RESOLVED = "resolved"  # solution given / proposed to close; clock stops
    REOPENED = "reopened"  # customer disagreed with the solution
    CLOSED = "closed"


@dataclass(frozen=True)
class SlaFact:
    kind: FactKind
    at: datetime

    def __post_init__(self) -> None:
        object.__setattr__(self, "at", as_utc(self.at, "fact time"))
        object.__setattr__(self, "kind", FactKind(self.kind))


class DeadlineState(StrEnum):
    RUNNING = "running"
    PAUSED = "paused"
    MET = "met"  # met before it was due
    BREACHED = "breached"  # due passed while unmet (it stays breached if met later)
    STOPPED = "stopped"  # ticket closed before the target was met or due


@dataclass(frozen=True)
class Deadline:
    """Where one target stands at ``now``.

    ``due_at`` is the instant the target's business time runs out; ``None`` while paused
    (it will be recomputed from the remaining business time at resume) unless it already
    ran out. ``warn_at`` likewise for the warning share. ``remaining`` is the business time
    left, never negative. A target met exactly at ``due_at`` is breached: "< 4 h" is strict.
    """

    target: SlaTarget
    state: DeadlineState
    started_at: datetime
    due_at: datetime | None
    warn_at: datetime | None
    met_at: datetime | None
    remaining: timedelta


class SlaEventKind(StrEnum):
    WARNING = "warning"
    BREACH = "breach"


@dataclass(frozen=True)
class SlaEvent:
    """A warning or breach that is due. ``key`` is stable across recomputations (pauses
    move ``at`` but not the key), so a sweeper records each one once."""

    target: SlaTarget
    kind: SlaEventKind
    at: datetime
    cycle_started_at: datetime

    @property
    def key(self) -> str:
        return f"{self.target}:{self.kind}:{self.cycle_started_at.isoformat()}"


@dataclass(frozen=True)
class _Cycle:
    started_at: datetime
    budget: timedelta
    met_at: datetime | None = None


@dataclass
class _Replay:
    """Mutable scratch state used only while folding facts in ``SlaClock.__post_init__``."""

    segments: list[tuple[datetime, datetime | None]] = field(default_factory=list)
    cycles: dict[SlaTarget, _Cycle] = field(default_factory=dict)
    earlier: dict[SlaTarget, list[_Cycle]] = field(default_factory=dict)  # cycles a later one replaced
    opened: bool = False
    tracked: bool = False
    waiting: bool = False
    resolved: bool = False
    closed: bool = False
    agent_replied: bool = False

    @property
    def running(self) -> bool:
        return self.opened and not (self.waiting or self.resolved or self.closed)

    def meet(self, target: SlaTarget, at: datetime) -> None:
        cycle = self.cycles.get(target)
        if cycle is not None and cycle.met_at is None:
            self.cycles[target] = _Cycle(cycle.started_at, cycle.budget, at)


@dataclass(frozen=True)
class SlaClock:
    """The SLA state of one ticket, derived from its facts (oldest first).

    Rules, all in business time on ``calendar``:

    * OPENED starts first response, stage one and resolution. CHAT_OPENED (a live chat)
      starts first response only; a later TRACKED (the chat became a ticket) starts stage
      one and resolution at that moment. Until then no other clock runs.
    * The first AGENT_REPLY meets first response; nothing can breach it afterwards
      (Zammad #3140). AUTO_REPLY is ignored.
    * Next response (tracked tickets only): after the first agent reply, the first
      CUSTOMER_REPLY that is not yet answered starts a cycle; the next AGENT_REPLY meets it. Later customer messages in
      the same unanswered run do not restart it.
    * STAGE_ONE_DONE meets stage one; RESOLVED meets stage one and resolution; REOPENED
      un-meets resolution, which then continues with the business time it had left.
    * The clock runs only while the ticket is open and neither waiting on the customer
      (PAUSED .. RESUMED) nor resolved (RESOLVED .. REOPENED); REOPENED also ends waiting.
    * CLOSED counts as resolving, ends everything and forbids further facts.

    Raises :class:`InvalidSlaFacts` for facts out of time order, a first fact that is not
    OPENED or CHAT_OPENED, a second opening, TRACKED on a tracked ticket or anything after
    CLOSED; :class:`InvalidPolicy` if the
    calendar is not the one the policy names.
    """

    policy: SlaPolicy
    calendar: BusinessCalendar
    facts: tuple[SlaFact, ...] = ()
    _segments: tuple[tuple[datetime, datetime | None], ...] = field(init=False, repr=False, compare=False)
    _cycles: Mapping[SlaTarget, _Cycle] = field(init=False, repr=False, compare=False)
    _earlier: Mapping[SlaTarget, tuple[_Cycle, ...]] = field(init=False, repr=False, compare=False)
    _closed: bool = field(init=False, repr=False, compare=False)
    _running: bool = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if self.calendar.key != self.policy.calendar_key:
            raise InvalidPolicy(
                f"policy {self.policy.name!r} is measured on calendar "
                f"{self.policy.calendar_key!r}, got {self.calendar.key!r}"
            )
        facts = tuple(self.facts)
        object.__setattr__(self, "facts", facts)
        replay = self._replay(facts)
        object.__setattr__(self, "_segments", tuple(replay.segments))
        object.__setattr__(self, "_cycles", dict(replay.cycles))
        object.__setattr__(self, "_earlier", {target: tuple(cs) for target, cs in replay.earlier.items()})
        object.__setattr__(self, "_closed", replay.closed)
        object.__setattr__(self, "_running", replay.running)

    @classmethod
    def open(cls, policy: SlaPolicy, calendar: BusinessCalendar, at: datetime) -> SlaClock:
        """A clock for a ticket opened at ``at``."""
        return cls(policy, calendar, (SlaFact(FactKind.OPENED, at),))

    def record(self, *facts: SlaFact) -> SlaClock:
        """A new clock with ``facts`` appended (same validation as construction)."""
        return SlaClock(self.policy, self.calendar, self.facts + facts)

    def _start(self, replay: _Replay, target: SlaTarget, at: datetime) -> None:
        spec = self.policy.spec(target)
        if spec is not None:
            if target in replay.cycles:
                replay.earlier.setdefault(target, []).append(replay.cycles[target])
            replay.cycles[target] = _Cycle(at, spec.budget_from(self.calendar, at, self.policy.day_rule))

    def _track(self, replay: _Replay, at: datetime) -> None:
        replay.tracked = True
        self._start(replay, SlaTarget.STAGE_ONE, at)
        self._start(replay, SlaTarget.RESOLUTION, at)
        if replay.resolved:
            # Tracked while proposed to close: resolution counts as met until a reopen.
            replay.meet(SlaTarget.STAGE_ONE, at)
            replay.meet(SlaTarget.RESOLUTION, at)

    def _replay(self, facts: Sequence[SlaFact]) -> _Replay:
        replay = _Replay()
        if facts and facts[0].kind not in (FactKind.OPENED, FactKind.CHAT_OPENED):
            raise InvalidSlaFacts(f"the first fact must be opened or chat_opened, got {facts[0].kind}")
        for earlier, later in pairwise(facts):
            if later.at < earlier.at:
                raise InvalidSlaFacts(f"{later.kind} at {later.at.isoformat()} is before {earlier.kind}")
        for fact in facts:
            if replay.closed:
                raise InvalidSlaFacts(f"{fact.kind} after the ticket was closed")
            was_running = replay.running
            self._apply(replay, fact)
            if replay.running and not was_running:
                replay.segments.append((fact.at, None))
            elif was_running and not replay.running:
                replay.segments[-1] = (replay.segments[-1][0], fact.at)
        return replay

    def _apply(self, replay: _Replay, fact: SlaFact) -> None:
        kind, at = fact.kind, fact.at
        if kind in (FactKind.OPENED, FactKind.CHAT_OPENED):
            if replay.opened:
                raise InvalidSlaFacts("a ticket opens only once")
            replay.opened = True
            self._start(replay, SlaTarget.FIRST_RESPONSE, at)
            if kind is FactKind.OPENED:
                self._track(replay, at)
        elif kind is FactKind.TRACKED:
            if replay.tracked:
                raise InvalidSlaFacts("tracked on a ticket that is already tracked")
            self._track(replay, at)
        elif kind is FactKind.AGENT_REPLY:
            replay.agent_replied = True
            replay.meet(SlaTarget.FIRST_RESPONSE, at)
            replay.meet(SlaTarget.NEXT_RESPONSE, at)
        elif kind is FactKind.CUSTOMER_REPLY:
            current = replay.cycles.get(SlaTarget.NEXT_RESPONSE)
            if replay.tracked and replay.agent_replied and (current is None or current.met_at is not None):
                self._start(replay, SlaTarget.NEXT_RESPONSE, at)
        elif kind is FactKind.STAGE_ONE_DONE:
            replay.meet(SlaTarget.STAGE_ONE, at)
        elif kind is FactKind.PAUSED:
            replay.waiting = True
        elif kind is FactKind.RESUMED:
            replay.waiting = False
        elif kind in (FactKind.RESOLVED, FactKind.CLOSED):
            replay.meet(SlaTarget.STAGE_ONE, at)
            replay.meet(SlaTarget.RESOLUTION, at)
            replay.resolved = True
            replay.closed = kind is FactKind.CLOSED
        elif kind is FactKind.REOPENED:
            replay.resolved = replay.waiting = False
            cycle = replay.cycles.get(SlaTarget.RESOLUTION)
            if cycle is not None:
                replay.cycles[SlaTarget.RESOLUTION] = _Cycle(cycle.started_at, cycle.budget)
        # AUTO_REPLY changes nothing, on purpose.

    # -- derived values -------------------------------------------------------------------

    def _instant_after(self, start: datetime, budget: timedelta) -> datetime | None:
        """When ``budget`` of running business time after ``start`` is used up, or None if
        the clock stopped (paused/closed) before that."""
        remaining = budget
        for seg_start, seg_end in self._segments:
            if seg_end is not None and seg_end <= start:
                continue
            begin = max(seg_start, start)
            if seg_end is None:
                return self.calendar.add_business_time(begin, remaining)
            available = self.calendar.business_time_between(begin, seg_end)
            if available >= remaining:
                return self.calendar.add_business_time(begin, remaining)
            remaining -= available
        return None

    def _consumed(self, start: datetime, until: datetime) -> timedelta:
        total = ZERO
        for seg_start, seg_end in self._segments:
            begin = max(seg_start, start)
            end = until if seg_end is None else min(seg_end, until)
            if end > begin:
                total += self.calendar.business_time_between(begin, end)
        return total

    def _deadline(self, target: SlaTarget, cycle: _Cycle, now: datetime) -> Deadline:
        due_at = self._instant_after(cycle.started_at, cycle.budget)
        warn_at = self._instant_after(cycle.started_at, cycle.budget * self.policy.warning_share)
        met_at = cycle.met_at
        if met_at is not None:
            state = DeadlineState.MET if due_at is None or met_at < due_at else DeadlineState.BREACHED
        elif due_at is not None and due_at <= now:
            state = DeadlineState.BREACHED
        elif self._closed:
            state = DeadlineState.STOPPED
        elif self._running:
            state = DeadlineState.RUNNING
        else:
            state = DeadlineState.PAUSED
        used = self._consumed(cycle.started_at, now if met_at is None else min(now, met_at))
        return Deadline(
            target=target,
            state=state,
            started_at=cycle.started_at,
            due_at=due_at,
            warn_at=warn_at,
            met_at=met_at,
            remaining=max(cycle.budget - used, ZERO),
        )

    def deadlines(self, now: datetime) -> dict[SlaTarget, Deadline | None]:
        """Every target of the policy at ``now``; ``None`` for a target the policy does not
        set or that has not started (next response before any customer follow-up)."""
        now = as_utc(now, "now")
        result: dict[SlaTarget, Deadline | None] = {}
        for target in SlaTarget:
            cycle = self._cycles.get(target)
            result[target] = None if cycle is None else self._deadline(target, cycle, now)
        return result

    def earlier_cycles_met(self, target: SlaTarget) -> tuple[bool, ...]:
        """Whether each cycle of ``target`` that a later cycle replaced was met in time,
        oldest first: next response has one per answered customer follow-up before the
        current cycle (:meth:`deadlines` gives that one); the other targets have none. A
        cycle is replaced only once met, so each was either met or breached, by the rule of
        :meth:`deadlines` (met at ``due_at`` is late): its running business time from its
        start to its answer is under its budget — measured up to the answer only."""
        return tuple(
            self._consumed(cycle.started_at, cycle.met_at) < cycle.budget
            for cycle in self._earlier.get(target, ())
            if cycle.met_at is not None
        )

    def due_events(self, now: datetime) -> list[SlaEvent]:
        """Warnings and breaches due by ``now`` that still call for action, oldest first.

        Only unmet targets of an open ticket produce events: a target met by a real reply
        never escalates afterwards, even if the sweeper runs late. Events of past cycles
        (an earlier next-response round) are not repeated.
        """
        if self._closed:
            return []
        events: list[SlaEvent] = []
        for deadline in self.deadlines(now).values():
            if deadline is None or deadline.met_at is not None:
                continue
            for kind, at in ((SlaEventKind.WARNING, deadline.warn_at), (SlaEventKind.BREACH, deadline.due_at)):
                if at is not None and at <= now:
                    events.append(SlaEvent(deadline.target, kind, at, deadline.started_at))
        order = list(SlaTarget)
        events.sort(key=lambda e: (e.at, order.index(e.target), e.kind != SlaEventKind.WARNING))
        return events

    def next_due_at(self, now: datetime) -> datetime | None:
        """The next warning/breach instant after ``now`` - when the sweeper should look
        again - or ``None`` if nothing is scheduled (paused, met or closed)."""
        if self._closed:
            return None
        upcoming = [
            at
            for deadline in self.deadlines(now).values()
            if deadline is not None and deadline.met_at is None
            for at in (deadline.warn_at, deadline.due_at)
            if at is not None and at > now
        ]
        return min(upcoming, default=None)

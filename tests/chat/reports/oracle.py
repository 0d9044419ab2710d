"""The reports' oracle: every figure the reports show, recomputed by brute force from the
event log alone — the ``events`` rows (their ``data``, ``created_at`` and their authors'
roles) — and the desk's configuration (which company is on which plan, the policy rules,
the calendars). No ticket row, no report fact, no rollup table is read.

From the log, per conversation (:func:`histories`): when it started and who asked
(``conversation.created``); whether it is a ticket opened directly (``ticket.opened``
without a reason, with its channel, category and severity) or a chat that became one
(``ticket.opened`` with a reason: when); its public messages and which side wrote them;
its statuses (``ticket.status_changed``; a staff reply takes a new ticket into work
without an event — the reply is the record; a status change for a customer's reply
happened at that reply); its assignee (``ticket.assigned``), ratings (``ticket.rated``)
and SLA breaches (``ticket.sla_breached``).

From the configuration: the ticket's policy (the most specific rule for its company's
plan and severity; a category with its own resolution target replaces the rule's), and
business time on the policy's calendar, by
:meth:`escalation.calendars.BusinessCalendar.business_time_between` only.

The SLA outcome of a target, per cycle: breached when a ``ticket.sla_breached`` event
names it, or when the business time the clock ran (open, not waiting on the customer,
not resolved) from the cycle's start to its end — the answer, the resolution, or now —
reached the target; else met when answered or resolved; else none.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select

from chat.models import Event, User
from chat.services import Services
from escalation.calendars import BusinessCalendar
from escalation.policy_table import PlanTier

STAFF = ("agent", "support_admin")  # the roles whose public message is support's answer
CUSTOMERS = ("customer", "visitor")
RESOLVED = ("proposed_to_close", "closed")
RUNNING = ("new", "in_progress")  # the SLA clock runs (neither waiting nor resolved nor closed)
TARGETS = ("first_response", "next_response", "resolution")
SECOND = timedelta(seconds=1)


@dataclass(frozen=True)
class Policy:
    name: str
    calendar: BusinessCalendar
    targets: Mapping[str, timedelta | None]  # first_response, next_response, resolution


@dataclass(frozen=True)
class Config:
    """What the oracle knows besides the log: the desk's configuration."""

    tiers: Mapping[int, PlanTier]  # organization -> plan
    company_of: Callable[[int], int | None]  # requester -> organization
    policy_for: Callable[[PlanTier, str | None, int | None], Policy]


@dataclass(frozen=True)
class Logged:
    conversation_id: int
    seq: int
    type: str
    internal: bool
    created_at: datetime
    role: str | None
    data: Mapping[str, Any]


async def read_log(svc: Services) -> list[Logged]:
    """The event log: every event with its author's role, in each conversation's order."""
    async with svc.reads() as db:
        rows = (await db.execute(
            select(Event.conversation_id, Event.seq, Event.type, Event.internal, Event.created_at, User.role, Event.data)
            .outerjoin(User, User.id == Event.author_id)
            .order_by(Event.conversation_id, Event.seq)
        )).all()
    return [Logged(c, s, t, bool(i), at, None if r is None else str(r.value), d or {}) for c, s, t, i, at, r, d in rows]


@dataclass
class History:
    """One ticket as its log tells it."""

    id: int
    created_at: datetime
    requester: int
    company: int | None = None
    channel: str = "chat"
    category: str | None = None
    severity: int | None = None
    tracked_at: datetime | None = None
    assignee: int | None = None
    messages: list[tuple[datetime, bool]] = field(default_factory=list)  # public: (at, by staff)
    statuses: list[tuple[datetime, str]] = field(default_factory=list)  # (from when, status), in time order
    closed_at: datetime | None = None
    resolved_at: datetime | None = None
    reopens: list[datetime] = field(default_factory=list)
    ratings: list[tuple[str, str | None, str | None]] = field(default_factory=list)  # (value, reason, comment)
    breach_events: set[str] = field(default_factory=set)
    policy: Policy | None = None
    outcomes: dict[str, str | None] = field(default_factory=dict)

    @property
    def status(self) -> str:
        return self.statuses[-1][1]

    @property
    def first_reply(self) -> datetime | None:
        return next((at for at, staff in self.messages if staff), None)

    @property
    def rating(self) -> str:
        """The latest rating as the reports group it: good, bad, or none."""
        latest = self.ratings[-1][0] if self.ratings else "none"
        return latest if latest in ("good", "bad") else "none"

    # -- time ------------------------------------------------------------------------------

    def running(self, now: datetime) -> list[tuple[datetime, datetime]]:
        """The intervals the SLA clock ran, up to ``now``."""
        out: list[tuple[datetime, datetime]] = []
        for (at, status), (until, _) in zip(self.statuses, [*self.statuses[1:], (now, "")], strict=True):
            if status in RUNNING and until > at:
                out.append((at, until))
        return out

    def consumed(self, start: datetime, end: datetime, now: datetime) -> timedelta:
        assert self.policy is not None
        total = timedelta(0)
        for a, b in self.running(now):
            lo, hi = max(a, start), min(b, end)
            if hi > lo:
                total += self.policy.calendar.business_time_between(lo, hi)
        return total

    def business_s(self, end: datetime | None) -> int | None:
        if end is None:
            return None
        assert self.policy is not None
        if end <= self.created_at:
            return 0
        return self.policy.calendar.business_time_between(self.created_at, end) // SECOND

    def wall_s(self, end: datetime | None) -> int | None:
        return None if end is None else max((end - self.created_at) // SECOND, 0)

    def next_response_cycles(self) -> list[tuple[datetime, datetime | None]]:
        """(start, answered at) of each next-response cycle: a customer message of a
        tracked ticket after support's first answer, while no cycle waits; the next staff
        message answers it."""
        cycles: list[tuple[datetime, datetime | None]] = []
        waiting: datetime | None = None
        answered = False
        for at, staff in self.messages:
            if staff:
                answered = True
                if waiting is not None:
                    cycles.append((waiting, at))
                    waiting = None
            elif answered and waiting is None and self.tracked_at is not None and self.tracked_at <= at:
                waiting = at
        if waiting is not None:
            cycles.append((waiting, None))
        return cycles

    def cycles(self, target: str) -> list[tuple[datetime, datetime | None]]:
        """(start, met at) of each cycle of ``target``."""
        if target == "first_response":
            return [(self.created_at, self.first_reply)]
        if target == "resolution":
            # From the opening of a ticket, the tracking of a chat (a live chat has none).
            return [] if self.tracked_at is None else [(self.tracked_at, self.resolved_at)]
        return self.next_response_cycles()

    def late(self, target: str, now: datetime) -> bool:
        """Whether a cycle of ``target`` used its whole budget before it was met (or by
        ``now``): the clock's running business time from its start reached the target."""
        assert self.policy is not None
        budget = self.policy.targets[target]
        return budget is not None and any(
            self.consumed(start, met or now, now) >= budget for start, met in self.cycles(target))

    def outcome(self, target: str, now: datetime) -> str | None:
        assert self.policy is not None
        if self.policy.targets[target] is None:
            return None
        cycles = self.cycles(target)
        if target in self.breach_events or self.late(target, now):
            return "breached"
        if any(met is not None for _, met in cycles):
            return "met"
        return None

    def unmet(self, now: datetime) -> dict[str, tuple[datetime, timedelta]]:
        """The targets of an open ticket that are running or overdue at ``now`` (not met,
        not paused short of their budget): ``{target: (cycle start, budget)}`` — what the
        SLA report's live list of open tickets ranks."""
        if self.status == "closed" or self.policy is None:
            return {}
        out = {}
        for target in TARGETS:
            budget = self.policy.targets[target]
            cycles = self.cycles(target)
            if budget is None or not cycles or cycles[-1][1] is not None:
                continue
            start = cycles[-1][0]
            if self.status in RUNNING or self.consumed(start, now, now) >= budget:
                out[target] = (start, budget)
        return out


def histories(log: Iterable[Logged], config: Config, now: datetime) -> dict[int, History]:
    """Every ticket of the log (every conversation that started as a support chat or a
    ticket), with its policy and SLA outcomes at ``now``."""
    by_conversation: dict[int, list[Logged]] = {}
    for e in log:
        by_conversation.setdefault(e.conversation_id, []).append(e)
    out = {}
    for conversation_id, events in by_conversation.items():
        h = _history(conversation_id, events)
        h.company = config.company_of(h.requester)
        tier = config.tiers.get(h.company, PlanTier.BASIC) if h.company is not None else PlanTier.BASIC
        h.policy = config.policy_for(tier, h.category, h.severity)
        h.outcomes = {target: h.outcome(target, now) for target in TARGETS}
        out[conversation_id] = h
    return out


def _history(conversation_id: int, events: Sequence[Logged]) -> History:
    first = events[0]
    assert first.data.get("event") == "conversation.created", first
    h = History(conversation_id, first.created_at, int(first.data["user"]["id"]))
    status, changes = "new", [(first.created_at, "new")]
    last_change_seq = 0
    for e in events[1:]:
        name = e.data.get("event")
        if e.type == "message" and not e.internal:
            staff = e.role in STAFF
            assert staff or e.role in CUSTOMERS, e
            h.messages.append((e.created_at, staff))
            if staff and status == "new":
                status = "in_progress"
                changes.append((e.created_at, status))
        elif name == "ticket.opened":
            h.tracked_at = e.created_at
            if "reason" not in e.data:  # opened directly
                h.channel, h.category, h.severity = e.data["channel"], e.data["category"], e.data["severity"]
        elif name == "ticket.status_changed":
            before, after = e.data["from"], e.data["to"]
            assert before == status, (conversation_id, e, status)
            at = e.created_at
            if e.data.get("reason") == "customer_reply":
                # The reply is the moment: the first customer message since the last change.
                at = next(x.created_at for x in events if x.seq > last_change_seq and x.type == "message"
                          and not x.internal and x.role in CUSTOMERS)
            last_change_seq = e.seq
            if after == before:
                continue
            if before == "proposed_to_close" and after != "closed":
                h.reopens.append(at)
            if after in RESOLVED and before not in RESOLVED:
                h.resolved_at = at
            elif after not in RESOLVED:
                h.resolved_at = None
            if after == "closed":
                h.closed_at = at
            status = after
            changes.append((at, status))
        elif name == "ticket.assigned":
            h.assignee = None if e.data["assignee"] is None else int(e.data["assignee"]["id"])
        elif name == "ticket.rated":
            h.ratings.append((e.data["value"], e.data.get("reason"), e.data.get("comment")))
        elif name == "ticket.sla_breached":
            h.breach_events.add(e.data["target"])
        else:
            # The generator changes nothing else that a report reads.
            assert name not in ("ticket.recategorized", "ticket.updated", "ticket.spam"), e
    h.statuses = sorted(changes, key=lambda c: c[0])
    return h


# -- the figures of a range ------------------------------------------------------------------


@dataclass(frozen=True)
class Range:
    """A report's range and filters, as the oracle reads them (local days by zoneinfo)."""

    first: date
    last: date
    tz: ZoneInfo
    agents: tuple[int | None, ...] = ()
    companies: tuple[int | None, ...] = ()
    channels: tuple[str, ...] = ()

    def midnight(self, day: date) -> datetime:
        return datetime.combine(day, time(0), tzinfo=self.tz).astimezone(UTC)

    @property
    def start(self) -> datetime:
        return self.midnight(self.first)

    @property
    def end(self) -> datetime:
        return self.midnight(self.last + timedelta(days=1))

    def days(self) -> list[tuple[date, datetime, datetime]]:
        out = []
        day = self.first
        while day <= self.last:
            out.append((day, self.midnight(day), self.midnight(day + timedelta(days=1))))
            day += timedelta(days=1)
        return out

    def within(self, at: datetime | None) -> bool:
        return at is not None and self.start <= at < self.end

    def day_of(self, at: datetime) -> date:
        return at.astimezone(self.tz).date()

    def selects(self, h: History) -> bool:
        return ((not self.agents or h.assignee in self.agents)
                and (not self.companies or h.company in self.companies)
                and (not self.channels or h.channel in self.channels))


def key_text(value: object) -> str:
    return "none" if value is None else str(value)


def hour_of(at: datetime) -> datetime:
    return at.replace(minute=0, second=0, microsecond=0)


def volume(tickets: Iterable[History], r: Range) -> list[dict[str, Any]]:
    """Per local day: created, closed, reopened, backlog at the day's end, chats started,
    answered live, converted, public messages (by the UTC hour they fall in)."""
    rows = []
    chosen = [h for h in tickets if r.selects(h)]
    for day, start, end in r.days():
        def on(at: datetime | None, start: datetime = start, end: datetime = end) -> bool:
            return at is not None and start <= at < end

        chats = [h for h in chosen if h.channel == "chat" and on(h.created_at)]
        rows.append({
            "day": day.isoformat(),
            "created": sum(on(h.created_at) for h in chosen),
            "closed": sum(on(h.closed_at) for h in chosen),
            "reopened": sum(on(at) for h in chosen for at in h.reopens),
            "backlog": sum(h.created_at < end and (h.closed_at is None or h.closed_at >= end) for h in chosen),
            "chats": len(chats),
            "answered_live": sum(h.first_reply is not None and (h.tracked_at is None or h.first_reply <= h.tracked_at)
                                 for h in chats),
            "converted": sum(h.tracked_at is not None for h in chats),
            "messages": sum(on(hour_of(at)) for h in chosen for at, _ in h.messages),
        })
    return rows


def heatmap(tickets: Iterable[History], r: Range) -> list[list[int]]:
    grid = [[0] * 24 for _ in range(7)]
    for h in tickets:
        if r.selects(h):
            for at, _ in h.messages:
                hour = hour_of(at)
                if r.within(hour):
                    local = hour.astimezone(r.tz)
                    grid[local.weekday()][local.hour] += 1
    return grid


BREAKDOWN: Mapping[str, Callable[[History], object]] = {
    "agent": lambda h: h.assignee, "status": lambda h: h.status, "channel": lambda h: h.channel,
    "company": lambda h: h.company, "severity": lambda h: h.severity, "category": lambda h: h.category,
    "rating": lambda h: h.rating,
}


def breakdown(tickets: Iterable[History], r: Range, dimension: str) -> dict[str, tuple[int, int, int]]:
    """Per key of ``dimension``: created in the range, open at its end, closed in it."""
    out: dict[str, list[int]] = {}
    for h in tickets:
        if not r.selects(h):
            continue
        counts = (r.within(h.created_at), h.created_at < r.end and (h.closed_at is None or h.closed_at >= r.end),
                  r.within(h.closed_at))
        if any(counts):
            row = out.setdefault(key_text(BREAKDOWN[dimension](h)), [0, 0, 0])
            for i, counted in enumerate(counts):
                row[i] += counted
    return {k: (v[0], v[1], v[2]) for k, v in out.items()}


def nearest_rank(ordered: Sequence[int], num: int, den: int) -> int:
    """The value at rank ceil(n·num/den) of a sorted list."""
    return ordered[-(-len(ordered) * num // den) - 1]


def stats(values: Iterable[int]) -> dict[str, Any]:
    ordered = sorted(values)
    if not ordered:
        return {"tickets": 0, "mean": None, "median": None, "p90": None}
    return {"tickets": len(ordered), "mean": round(sum(ordered) / len(ordered)),
            "median": nearest_rank(ordered, 1, 2), "p90": nearest_rank(ordered, 9, 10)}


def timed(h: History, measure: str, r: Range) -> int | None:
    """The ticket's value of ``measure`` if it is in the measure's set for the range."""
    first_reply = h.first_reply
    if measure.startswith("first_response") and r.within(first_reply):
        return h.wall_s(first_reply) if measure.endswith("wall") else h.business_s(first_reply)
    if measure.startswith("resolution") and r.within(h.resolved_at):
        return h.wall_s(h.resolved_at) if measure.endswith("wall") else h.business_s(h.resolved_at)
    if measure == "first_agent_join" and h.channel == "chat" and r.within(h.created_at):
        return h.wall_s(first_reply)
    return None


MEASURES = ("first_response_wall", "first_response_business", "resolution_wall", "resolution_business",
            "first_agent_join")


def times(tickets: Iterable[History], r: Range, dimension: str | None = None) -> dict[str, dict[str, Any]]:
    """``{measure: stats}`` overall (``dimension=None``), else ``{key: row}`` as the
    report's by-agent/category/severity tables: responded, resolved and the stats of the
    four first response and resolution measures."""
    chosen = [h for h in tickets if r.selects(h)]
    if dimension is None:
        return {m: stats(v for h in chosen if (v := timed(h, m, r)) is not None) for m in MEASURES}
    groups: dict[str, list[History]] = {}
    for h in chosen:
        groups.setdefault(key_text(BREAKDOWN[dimension](h)), []).append(h)
    out = {}
    for key, members in groups.items():
        row: dict[str, Any] = {}
        for measure in MEASURES[:4]:
            found = stats(v for h in members if (v := timed(h, measure, r)) is not None)
            row.update({f"{measure}_{s}": found[s] for s in ("mean", "median", "p90")})
            row["responded" if measure.startswith("first") else "resolved"] = found["tickets"]
        if row["responded"] or row["resolved"]:
            out[key] = row
    return out


def share(part: int, whole: int) -> float | None:
    return part / whole if whole else None


def sla(tickets: Iterable[History], r: Range) -> tuple[dict[str, dict[str, Any]], list[tuple[int, str]]]:
    """Per policy, over the tickets created in the range: tickets, and per target met,
    breached and the met share; and the (ticket, target) breaches."""
    per_policy: dict[str, dict[str, Any]] = {}
    breaches = []
    for h in tickets:
        if not (r.selects(h) and r.within(h.created_at)) or h.policy is None:
            continue
        row = per_policy.setdefault(h.policy.name, {"policy": h.policy.name, "tickets": 0, **{
            f"{t}_{o}": 0 for t in TARGETS for o in ("met", "breached")}})
        row["tickets"] += 1
        for target in TARGETS:
            outcome = h.outcomes[target]
            if outcome is not None:
                row[f"{target}_{outcome}"] += 1
            if outcome == "breached":
                breaches.append((h.id, target))
    for row in per_policy.values():
        for target in TARGETS:
            row[f"{target}_share"] = share(row[f"{target}_met"], row[f"{target}_met"] + row[f"{target}_breached"])
    return per_policy, sorted(breaches)


def ratings(tickets: Iterable[History], r: Range) -> tuple[dict[str, dict[str, Any]], list[tuple[Any, ...]]]:
    """By agent, over the tickets resolved in the range: resolved, good / none / bad and
    their shares; and the ratings with a reason or a comment."""
    rows: dict[str, dict[str, Any]] = {}
    listed = []
    for h in tickets:
        if not (r.selects(h) and r.within(h.resolved_at)):
            continue
        row = rows.setdefault(key_text(h.assignee), {"resolved": 0, "good": 0, "none": 0, "bad": 0})
        row["resolved"] += 1
        row[h.rating] += 1
        listed += [(h.id, value, reason, comment) for value, reason, comment in h.ratings if reason or comment]
    for row in rows.values():
        row.update({f"{v}_share": share(row[v], row["resolved"]) for v in ("good", "none", "bad")})
    return rows, sorted(listed, key=repr)


BUCKETS = (("1", 0, 1), ("2", 2, 2), ("3", 3, 3), ("4", 4, 4), ("5", 5, 5), ("6-10", 6, 10), ("11-20", 11, 20),
           ("21+", 21, 10**9))


def messages(tickets: Iterable[History], r: Range) -> tuple[dict[str, int], dict[str, Any]]:
    """The messages-per-resolution histogram over the tickets resolved in the range, and
    the summary (tickets, messages, mean)."""
    counts = [len(h.messages) for h in tickets if r.selects(h) and r.within(h.resolved_at)]
    histogram = {key: sum(low <= n <= high for n in counts) for key, low, high in BUCKETS}
    total = sum(counts)
    return histogram, {"tickets": len(counts), "messages": total,
                       "mean": round(total / len(counts), 2) if counts else None}

"""A year of a busy desk for the reports benchmark, written in bulk (issue 17).

Not through the use cases: 100 000 tickets and 2 000 000 messages that way would take
hours. Rows go in with Core ``executemany`` on SQLite and ``COPY`` on PostgreSQL, in
batches, but they are the rows the product would have written:

- organizations: resellers, and customer companies on the three plans, some of them a
  reseller's customers; users: a support admin, a read-only user, the agents, a reseller
  admin per reseller, customers of each company; a widget site per company; the seeded
  support groups get agents as their leads;
- one conversation and ticket row per ticket, created over the year (more on weekdays
  and in office hours, Europe/Berlin), with channels, categories, severities, plans,
  groups and assignees; live chats answered live, converted to tickets, or going on now;
  first answers, resolutions, reopens, auto-closes, a backlog of stuck tickets, spam;
- the report facts as the units of work store them: ``resolved_at``, first response and
  resolution in wall and business seconds (the seeded policies all run on the 24x7
  calendar, where the two clocks agree), the SLA outcome per target against the plan's
  (or the category's) targets, the policy name the desk would pick, ``reopened_count``
  with its ``report_reopens`` rows, the latest rating with its ``ticket_ratings`` row,
  the stored deadlines of the open tickets;
- the events: public messages, authors alternating customer and staff (the first staff
  message *is* the ticket's ``first_replied_at``), each inside its ticket's life, ids in
  time order across the desk as a live log has them, seqs numbered per conversation.

``messages_count``, ``first_agent_join_s`` and ``report_hours`` are left to the rollup
(:mod:`bench.reports_bench` runs it), as in production.
"""

from __future__ import annotations

import json
import random
from array import array
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import JSON, Table, insert, text, update
from sqlalchemy.ext.asyncio import AsyncConnection

from chat.models import Conversation, Event, Organization, Participant, Site, User
from chat.services import Services
from escalation.models import ReportReopen, SupportGroup, Ticket, TicketRating
from escalation.report_facts import REPORT_FACTS_VERSION
from escalation.seeds import ALWAYS_OPEN_KEY, FFC_CATEGORIES, SEED_GROUPS

DESK_TZ = ZoneInfo("Europe/Berlin")
# A Tuesday noon: the reports' "today". The year of data ends just before it.
NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
PASSWORD = "reports-bench-password-1"
ADMIN_EMAIL = "admin@bench.example"
AGENT_EMAIL = "agent1@bench.example"  # leads the first support group: the scoped viewer
BATCH = 20_000  # rows per executemany / COPY

MIN, HOUR, DAY = 60.0, 3600.0, 86400.0
# Messages stop a few minutes before NOW: the rollup counts only settled events (2 min).
LAST_MESSAGE = NOW.timestamp() - 5 * MIN

CHANNELS = (("chat", 0.35), ("email", 0.25), ("web", 0.15), ("widget_offline", 0.08), ("phone", 0.07),
            ("api", 0.05), ("group_chat", 0.05))
TIERS = (("basic", 0.5), ("regular", 0.35), ("premium", 0.15))
# escalation.seeds: first response by plan, 48 h resolution unless the category has its own.
FIRST_RESPONSE = {"basic": 24 * HOUR, "regular": 4 * HOUR, "premium": 30 * MIN}
RESOLUTION = 48 * HOUR
CATEGORY_DAYS = {c.key: c.resolution.days for c in FFC_CATEGORIES if c.resolution is not None}
CATEGORIES = tuple(c.key for c in FFC_CATEGORIES)
SEVERITIES = ((1, 0.1), (2, 0.3), (3, 0.4), (None, 0.2))
BAD_REASONS = ("Slow answer", "Problem not solved", "Had to repeat myself", "Unfriendly")
GOOD_REASONS = ("Quick answer", "Solved at once", "Friendly")
PHRASES = (
    "Hello, the tracker on our second truck stopped reporting since this morning.",
    "Thanks, I will check and come back to you.",
    "Could you send me the device serial number and a screenshot of the error?",
    "Here it is. The error appears right after login, on every browser we tried.",
    "We have restarted the service on our side; please try again now.",
    "It works again, thank you!",
    "Our invoice for last month shows twice the number of licences we ordered.",
    "I have forwarded this to billing; you will get a corrected invoice within two days.",
    "Is there a way to schedule the weekly fuel report to three recipients?",
    "Yes: Reports, Scheduled, add the addresses separated by commas.",
)


@dataclass(frozen=True)
class Size:
    tickets: int = 100_000
    messages: int = 2_000_000
    agents: int = 50
    companies: int = 200
    customers_per_company: int = 5
    days: int = 365


@dataclass(frozen=True)
class People:
    admin: int
    agent: int  # the scoped viewer: an agent leading a support group
    agents: tuple[int, ...]
    companies: tuple[int, ...]
    tier: dict[int, str]
    customers: dict[int, tuple[int, ...]]
    site: dict[int, int]


@dataclass(slots=True)
class Life:
    """One ticket's life, in epoch seconds (``None``: has not happened by NOW)."""

    id: int
    created: float
    channel: str
    company: int
    tier: str
    requester: int
    site: int | None
    category: str | None
    severity: int | None
    group: str | None
    assignee: int | None
    staff: int  # who writes the staff messages
    replied: float | None
    tracked_at: float | None
    resolved: float | None  # the last resolution (proposed to close, or closed)
    first_resolved: float | None  # a reopened ticket's first resolution
    reopened: float | None
    closed: float | None
    spam: float | None
    waiting: bool
    rating: tuple[float, str, str | None, str | None] | None = None  # at, value, reason, comment
    messages: int = 0

    @property
    def tracked(self) -> bool:
        return self.tracked_at is not None and self.tracked_at <= NOW.timestamp()

    @property
    def end(self) -> float:
        """The last message is no later than this."""
        return min(self.resolved if self.resolved is not None else LAST_MESSAGE, LAST_MESSAGE)


def _pick(rng: random.Random, weighted: Sequence[tuple[Any, float]]) -> Any:
    values, weights = zip(*weighted, strict=True)
    return rng.choices(values, weights)[0]


def _at(ts: float | None) -> datetime | None:
    return None if ts is None else datetime.fromtimestamp(ts, UTC)


def _lognormal(rng: random.Random, median: float, sigma: float) -> float:
    return median * rng.lognormvariate(0.0, sigma)


# -- people ------------------------------------------------------------------------------------


async def seed_people(svc: Services, size: Size, rng: random.Random, password_hash: str) -> People:
    """Organizations, users, sites; the support groups' leads."""
    created = NOW - timedelta(days=size.days + 30)
    resellers = max(1, size.companies // 25)
    orgs: list[dict[str, Any]] = []
    users: list[dict[str, Any]] = []
    sites: list[dict[str, Any]] = []
    for r in range(1, resellers + 1):
        orgs.append({"id": r, "slug": f"reseller-{r}", "name": f"Reseller {r}", "kind": "reseller", "parent_id": None,
                     "plan_tier": "premium", "created_by_id": None, "created_at": created})
    companies = tuple(range(resellers + 1, resellers + 1 + size.companies))
    tier = {c: _pick(rng, TIERS) for c in companies}
    for c in companies:
        parent = rng.randint(1, resellers) if rng.random() < 0.3 else None
        orgs.append({"id": c, "slug": f"company-{c}", "name": f"Company {c} GmbH", "kind": "customer",
                     "parent_id": parent, "plan_tier": tier[c], "created_by_id": None, "created_at": created})

    def user(uid: int, email: str, name: str, role: str, org: int | None, hashed: str | None = None) -> None:
        users.append({"id": uid, "email": email, "name": name, "role": role, "organization_id": org,
                      "password_hash": hashed, "language": "en", "time_zone": "Europe/Berlin",
                      "notification_prefs": {}, "disabled": False, "disabled_at": None, "site_id": None,
                      "external_id": None, "created_by_id": None, "created_at": created})

    user(1, ADMIN_EMAIL, "Ada Admin", "support_admin", None, password_hash)
    user(2, "lead@bench.example", "Rita Readonly", "read_only", None)
    agents = tuple(range(3, 3 + size.agents))
    for n, uid in enumerate(agents, 1):
        user(uid, f"agent{n}@bench.example", f"Agent {n}", "agent", None, password_hash if n == 1 else None)
    uid = agents[-1] + 1
    for r in range(1, resellers + 1):
        user(uid, f"partner{r}@bench.example", f"Partner admin {r}", "reseller_admin", r)
        uid += 1
    customers: dict[int, tuple[int, ...]] = {}
    site: dict[int, int] = {}
    for c in companies:
        ids = []
        for k in range(size.customers_per_company):
            user(uid, f"c{k}@company-{c}.example", f"Customer {k} of {c}", "customer", c)
            ids.append(uid)
            uid += 1
        customers[c] = tuple(ids)
        site[c] = len(sites) + 1
        sites.append({"id": site[c], "public_key": f"site-key-{c:05d}-bench", "name": f"Portal of company {c}",
                      "organization_id": c, "allowed_origins": [f"https://company-{c}.example"],
                      "identity_secret": "s" * 64, "default_language": "en", "settings": {}, "created_at": created})
    async with svc.engine.begin() as conn:
        await insert_rows(conn, Organization.__table__, orgs)  # type: ignore[arg-type]
        await insert_rows(conn, User.__table__, users)  # type: ignore[arg-type]
        await insert_rows(conn, Site.__table__, sites)  # type: ignore[arg-type]
        for (key, _, _), lead in zip(SEED_GROUPS, agents, strict=False):
            await conn.execute(update(SupportGroup).where(SupportGroup.key == key).values(lead_id=lead))
    return People(admin=1, agent=agents[0], agents=agents, companies=companies, tier=tier,
                  customers=customers, site=site)


# -- tickets -----------------------------------------------------------------------------------


def _created_times(rng: random.Random, size: Size) -> list[float]:
    """When the tickets were opened: a year up to 10 minutes before NOW, five times as many
    in office hours as at night, a third as many on weekends (local time of the desk)."""
    end = NOW.timestamp() - 10 * MIN
    start = end - size.days * DAY
    out: list[float] = []
    while len(out) < size.tickets:
        at = rng.uniform(start, end)
        local = datetime.fromtimestamp(at, DESK_TZ)
        weight = (1.0 if 8 <= local.hour < 18 else 0.2) * (1.0 if local.weekday() < 5 else 0.35)
        if rng.random() < weight:
            out.append(at)
    out.sort()
    return out


def lives(rng: random.Random, size: Size, people: People) -> list[Life]:
    """Every ticket's life, ids 1..n in the order they were opened."""
    now = NOW.timestamp()
    out = []
    busy = [rng.uniform(0.3, 1.7) for _ in people.agents]  # some agents take more tickets
    group_keys = [g[0] for g in SEED_GROUPS]
    for n, created in enumerate(_created_times(rng, size), 1):
        channel = _pick(rng, CHANNELS)
        company = rng.choice(people.companies)
        tier = people.tier[company]
        category = rng.choice(CATEGORIES) if rng.random() < 0.8 else None
        staff = rng.choices(people.agents, busy)[0]
        first_target = FIRST_RESPONSE[tier]
        tracked_at: float | None = created
        if channel == "chat":
            converted = rng.random() < 0.4
            if converted and rng.random() < 0.5:  # nobody answered live: a ticket after 10 minutes
                tracked_at = created + 10 * MIN
                replied = tracked_at + _lognormal(rng, 0.35 * first_target, 1.1)
            else:
                replied = created + _lognormal(rng, 45, 0.8)
                tracked_at = replied + _lognormal(rng, 15 * MIN, 0.7) if converted else None
            resolved = (created + _lognormal(rng, 20 * HOUR, 1.2) if converted
                        else replied + _lognormal(rng, 20 * MIN, 0.7))
        else:
            replied = created + _lognormal(rng, 0.35 * first_target, 1.1)
            resolved = created + _lognormal(rng, 20 * HOUR, 1.2)
        resolved = max(resolved, replied + MIN)
        if tracked_at is not None and rng.random() < 0.01:
            resolved = float("inf")  # stuck: the backlog that never clears
        spam = created + 5 * MIN if channel in ("email", "web") and rng.random() < 0.003 else None
        life = Life(
            id=n, created=created, channel=channel, company=company, tier=tier,
            requester=rng.choice(people.customers[company]),
            site=people.site[company] if channel in ("chat", "widget_offline", "web") else None,
            category=category, severity=_pick(rng, SEVERITIES),
            group=rng.choice(group_keys) if tracked_at is not None and rng.random() < 0.2 else None,
            assignee=staff, staff=staff, replied=replied, tracked_at=tracked_at, resolved=resolved,
            first_resolved=None, reopened=None, closed=None, spam=spam, waiting=rng.random() < 0.3,
        )
        if spam is not None:
            life.replied = life.resolved = None
            life.closed = spam
            life.assignee = None
        else:
            _settle(life, rng, now)
        out.append(life)
    return out


def _settle(life: Life, rng: random.Random, now: float) -> None:
    """Cut the life at NOW: what has not happened yet is ``None``; closes, reopens, ratings."""
    assert life.replied is not None and life.resolved is not None
    if life.replied > LAST_MESSAGE:
        life.replied = None
        life.assignee = None if life.tracked_at is not None else life.assignee
    if life.resolved > now or life.replied is None:
        life.resolved = None
        return
    if life.tracked_at is None or life.tracked_at > life.resolved:  # a live chat that ended
        life.tracked_at = None
        life.closed = life.resolved
        return
    if rng.random() < 0.06:  # the customer came back after a proposal to close
        span = life.resolved - life.replied
        life.first_resolved = life.replied + 0.6 * span
        life.reopened = life.first_resolved + rng.uniform(0.1, 0.3) * span
    closed = life.resolved if rng.random() < 0.5 else life.resolved + 72 * HOUR  # auto-close after 3 days
    life.closed = closed if closed <= now else None
    if rng.random() < 0.35:
        at = life.resolved + rng.uniform(MIN, DAY)
        if at <= now:
            value = _pick(rng, (("good", 0.78), ("bad", 0.15), ("none", 0.07)))
            reasons = BAD_REASONS if value == "bad" else GOOD_REASONS
            reason = rng.choice(reasons) if value != "none" and rng.random() < 0.6 else None
            comment = (f"{rng.choice(PHRASES)} (ticket {life.id})" if value != "none" and rng.random() < 0.4
                       else None)
            life.rating = (at, value, reason, comment)


def allot_messages(lives_: list[Life], total: int, rng: random.Random) -> None:
    """Spread ``total`` messages over the tickets: one for a ticket nobody answered yet, at
    least two (the question and the answer) for the others, more for long-lived ones."""
    fixed = [life for life in lives_ if life.replied is None]
    answered = [life for life in lives_ if life.replied is not None]
    for life in fixed:
        life.messages = 1
    left = total - len(fixed) - 2 * len(answered)
    if left < 0 or not answered:
        raise SystemExit(f"{total} messages are too few for {len(lives_)} tickets (2 each at least)")
    weights = [rng.lognormvariate(0.0, 0.9) for _ in answered]
    scale = left / sum(weights)
    given = 0
    for life, weight in zip(answered, weights, strict=True):
        life.messages = 2 + int(weight * scale)
        given += life.messages - 2
    for life in rng.sample(answered, left - given):  # what rounding down left over
        life.messages += 1


def _times(life: Life, rng: random.Random) -> list[float]:
    """The ticket's message instants, in order: the question at its start, the first answer
    at ``replied``, the rest between that and its resolution (or the present)."""
    if life.replied is None:
        return [life.created]
    rest = sorted(rng.uniform(life.replied, max(life.replied, life.end)) for _ in range(life.messages - 2))
    return [life.created, life.replied, *rest]


# -- rows --------------------------------------------------------------------------------------


def _policy(life: Life) -> str | None:
    if not life.tracked or life.spam is not None:
        return None  # a live chat that never became a ticket runs no SLA
    days = CATEGORY_DAYS.get(life.category or "")
    return f"{life.tier} plan / {life.category}" if days else f"{life.tier} plan"


def _outcome(done: float | None, due: float, stopped: float | None, now: float) -> str | None:
    if done is not None:
        return "met" if done <= due else "breached"
    if (stopped if stopped is not None else now) > due:
        return "breached"
    return None  # running, or stopped by a close before it was due


def _deadline(started: float, due: float, done: float | None, closed: float | None, now: float) -> dict[str, Any]:
    state = ("met" if done is not None and done <= due else "breached" if (done or now) > due
             else "stopped" if closed is not None else "running")
    return {"due_at": _at(due).isoformat(), "warn_at": _at(started + 0.8 * (due - started)).isoformat(),  # type: ignore[union-attr]
            "state": state, "started_at": _at(started).isoformat(), "met_at": None if done is None else _at(done).isoformat()}  # type: ignore[union-attr]


def ticket_rows(life: Life, last_seq: int, last_message: float) -> tuple[dict[str, Any], dict[str, Any]]:
    """The conversation and ticket rows of ``life`` (its events already numbered)."""
    now = NOW.timestamp()
    policy = _policy(life)
    status = _status(life)
    first_due = life.created + FIRST_RESPONSE[life.tier]
    days = CATEGORY_DAYS.get(life.category or "")
    resolution_due = life.created + (days * DAY if days else RESOLUTION)

    def wall(at: float | None) -> int | None:
        return None if at is None else int(at - life.created)

    facts = {
        "resolved_at": _at(life.resolved),
        "first_response_wall_s": wall(life.replied), "first_response_business_s": wall(life.replied),
        "resolution_wall_s": wall(life.resolved), "resolution_business_s": wall(life.resolved),
        "sla_first_response": _outcome(life.replied, first_due, life.closed, now) if policy else None,
        "sla_next_response": None,  # the seeded policies set no next-response target
        "sla_resolution": _outcome(life.resolved, resolution_due, life.closed, now) if policy else None,
        "calendar_key": ALWAYS_OPEN_KEY,
        "reopened_count": 1 if life.reopened is not None else 0,
        "rating": life.rating[1] if life.rating else None,
        "messages_count": 0, "first_agent_join_s": None,  # the rollup's
        "report_facts": REPORT_FACTS_VERSION,
    }
    deadlines = {}
    if policy and status != "closed":
        deadlines = {"first_response": _deadline(life.created, first_due, life.replied, life.closed, now),
                     "resolution": _deadline(life.created, resolution_due, life.resolved, life.closed, now)}
    changed = max(t for t in (life.created, life.tracked_at, life.replied, life.reopened, life.resolved, life.closed)
                  if t is not None and t <= now)
    tracked = life.tracked
    conversation = {
        "id": life.id, "kind": "chat", "status": "closed" if status == "closed" else "open",
        "subject": f"{life.channel.replace('_', ' ').capitalize()} request #{life.id}: {PHRASES[life.id % len(PHRASES)][:60]}",
        "site_id": life.site, "organization_id": life.company, "created_by_id": life.requester,
        "last_seq": last_seq, "last_public_seq": last_seq, "created_at": _at(life.created),
        "updated_at": _at(max(changed, last_message)), "closed_at": _at(life.closed),
    }
    ticket: dict[str, Any] = {
        "conversation_id": life.id, "tracked": tracked, "tracked_at": _at(life.tracked_at) if tracked else None,
        "tracked_reason": ("opened" if life.channel != "chat" else "agent" if life.replied and life.tracked_at
                           and life.replied <= life.tracked_at else "no_answer") if tracked else None,
        "status": status, "status_changed_at": _at(changed), "activity_at": _at(last_message), "label": None,
        "channel": life.channel, "category": life.category, "severity": life.severity,
        "level": {"second_level": 2, "marketing": 2, "vendor": 3, "incidents": 2}.get(life.group or "", 1),
        "group_key": life.group, "requester_id": life.requester, "assignee_id": life.assignee, "cc": [],
        "assets": [], "happened_at": None, "contact_email": None, "contact_name": None,
        "first_replied_at": _at(life.replied), "stage_one_done_at": None,
        "resolution_round": (2 if life.reopened else 1) if life.resolved else 0,
        "sla_facts": [], "sla_policy": policy, "deadlines": deadlines, "escalation_step": 0,
        "sla_next_check_at": None,
        "auto_close_at": _at(life.resolved + 72 * HOUR) if status == "proposed_to_close" and life.resolved else None,
        "convert_at": None, "processed_seq": last_seq, "watch_agent_reply": life.replied is None,
        "watch_customer_reply": status in ("waiting_on_customer", "proposed_to_close"),
        "linked_from_id": None, "linked_to_id": None, "customer_left_at": None, "handled_by_org_id": None,
        "created_at": _at(life.created), "updated_at": _at(changed), "closed_at": _at(life.closed),
        "close_reason": None if life.closed is None else "spam" if life.spam else "agent",
        "spam_at": _at(life.spam), **facts,
    }
    return conversation, ticket


def _status(life: Life) -> str:
    if life.closed is not None:
        return "closed"
    if life.resolved is not None:
        return "proposed_to_close"
    if life.replied is None:
        return "new"
    return "waiting_on_customer" if life.waiting and life.tracked else "in_progress"


# -- writing -----------------------------------------------------------------------------------


async def insert_rows(conn: AsyncConnection, table: Table, rows: Sequence[dict[str, Any]]) -> None:
    """``rows`` into ``table``: Core executemany on SQLite, ``COPY`` on PostgreSQL (JSON
    columns as their text, the rest as asyncpg encodes them)."""
    if not rows:
        return
    if conn.dialect.name != "postgresql":
        await conn.execute(insert(table), list(rows))
        return
    columns = list(rows[0])
    as_json = {c for c in columns if isinstance(table.c[c].type, JSON)}
    records = [tuple(json.dumps(row[c]) if c in as_json else row[c] for c in columns) for row in rows]
    raw = await conn.get_raw_connection()
    await raw.driver_connection.copy_records_to_table(table.name, records=records, columns=columns)  # type: ignore[union-attr]


def _chunks(items: Iterable[Any], size: int) -> Iterator[list[Any]]:
    chunk: list[Any] = []
    for item in items:
        chunk.append(item)
        if len(chunk) == size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


async def seed_tickets(svc: Services, size: Size, rng: random.Random, people: People) -> list[Life]:
    """Conversations, tickets, participants, reopens, ratings and the events."""
    all_lives = lives(rng, size, people)
    allot_messages(all_lives, size.messages, rng)
    # The events in time order across the desk, as a live log numbers them: each message
    # is a slot in three arrays, sorted by one integer (milliseconds since the first
    # ticket, then the slot).
    times, owner, side = array("d"), array("l"), array("b")
    last_at = [0.0] * len(all_lives)
    for index, life in enumerate(all_lives):
        instants = _times(life, rng)
        for position, at in enumerate(instants):
            times.append(at)
            owner.append(index)
            side.append(position % 2)
        last_at[index] = instants[-1]
    start = min(times)
    bits = len(times).bit_length()
    mask = (1 << bits) - 1
    order = sorted((int((at - start) * 1000) << bits) | slot for slot, at in enumerate(times))

    async with svc.engine.begin() as conn:
        for chunk in _chunks(range(len(all_lives)), BATCH):
            pairs = [ticket_rows(all_lives[i], all_lives[i].messages, last_at[i]) for i in chunk]
            await insert_rows(conn, Conversation.__table__, [c for c, _ in pairs])  # type: ignore[arg-type]
            await insert_rows(conn, Ticket.__table__, [t for _, t in pairs])  # type: ignore[arg-type]
        participants: list[dict[str, Any]] = []
        for life in all_lives:
            for user in sorted({life.requester, life.staff} if life.replied is not None else {life.requester}):
                participants.append({"id": len(participants) + 1, "conversation_id": life.id, "user_id": user,
                                     "joined_at": _at(life.created), "left_at": None, "last_read_seq": 0})
        for chunk in _chunks(participants, BATCH):
            await insert_rows(conn, Participant.__table__, chunk)  # type: ignore[arg-type]
        reopens = [{"conversation_id": life.id, "at": _at(life.reopened)} for life in all_lives if life.reopened]
        await insert_rows(conn, ReportReopen.__table__, reopens)  # type: ignore[arg-type]
        rated = [life for life in all_lives if life.rating is not None]
        ratings = [{"id": n, "conversation_id": life.id, "round": 2 if life.reopened else 1, "value": life.rating[1],
                    "reason": life.rating[2], "comment": life.rating[3], "rated_by_id": life.requester,
                    "created_at": _at(life.rating[0])}
                   for n, life in enumerate(rated, 1) if life.rating is not None]
        await insert_rows(conn, TicketRating.__table__, ratings)  # type: ignore[arg-type]

    seq = [0] * len(all_lives)

    def events() -> Iterator[dict[str, Any]]:
        for event_id, key in enumerate(order, 1):
            slot = key & mask
            index = owner[slot]
            life = all_lives[index]
            seq[index] += 1
            yield {"id": event_id, "conversation_id": life.id, "seq": seq[index], "prev_public_seq": seq[index] - 1,
                   "type": "message", "author_id": life.staff if side[slot] else life.requester,
                   "client_msg_id": None, "body": PHRASES[(event_id * 7 + index) % len(PHRASES)], "data": {},
                   "internal": False, "created_at": datetime.fromtimestamp(times[slot], UTC)}

    for chunk in _chunks(events(), BATCH):
        async with svc.engine.begin() as conn:  # a transaction per batch: SQLite's WAL stays small
            await insert_rows(conn, Event.__table__, chunk)  # type: ignore[arg-type]
    if svc.engine.dialect.name == "postgresql":
        async with svc.engine.begin() as conn:
            for table in ("organizations", "users", "sites", "conversations", "participants", "events",
                          "ticket_ratings"):
                await conn.execute(text(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                                        f"(SELECT coalesce(max(id), 1) FROM {table}))"))
    return all_lives

"""Random ticket histories for the reports' oracle (tests/chat/reports/test_oracle.py),
played through the real use cases with the manual clock — no HTTP.

A small desk: three companies on the three plans (plus the widget's visitor), three
agents and a support admin, and SLA policies on three calendars — around the clock,
Berlin office hours with German public holidays, New York hours with a lunch break,
Saturday mornings and a closed date — so that business time differs from wall time by
nights, weekends, holidays and two DST changes: New York's (2026-03-08) and Berlin's
(2026-03-29) both fall inside the 36 days from the clock fixture's Monday, as do Good
Friday and Easter Monday.

Each ticket is a story of random steps at random delays (a minute to a few days): live
chats that are answered live, ended by the customer, escalated by an agent or converted
by the sweeper; tickets opened on the web form, or by an agent for a caller or an
e-mail; replies from both sides, internal notes, assignment, waiting on the customer,
proposing to close, the customer reopening (by a reply or the button), closing, ratings
good and bad with reasons and comments. Each step picks among the moves the ticket's
current status allows. The sweeper runs every three to nine hours of simulated time (SLA
breaches, conversions, auto-close, the rollup), and at the end past the rollup's settle
delay.

The configuration is data here (:data:`CALENDARS`, :data:`RULES`, :data:`CATEGORY`):
:func:`configure` writes it into the desk's tables, and the oracle reads the same data.
"""

from __future__ import annotations

import heapq
import random
import uuid
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import delete

from chat import directory
from chat.auth import principal_of
from chat.authz import Principal
from chat.clock import ManualClock
from chat.conversations import post_message, start_conversation
from chat.errors import AppError
from chat.events import publish_events
from chat.models import OrgKind, Role
from chat.services import Services
from escalation import tickets
from escalation.closing import close_conversation, rate_ticket, rating_of
from escalation.intake import TicketDraft, open_ticket
from escalation.lifecycle import TicketStatus
from escalation.models import BusinessCalendarRow, SlaPolicyRow, Ticket, TicketCategory, TicketChannel
from escalation.policies import Availability
from escalation.policy_table import PlanTier
from escalation.worker import Sweeper
from tests.escalation.world import Desk

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)  # the clock fixture's Monday
DAYS = 36
END = T0 + timedelta(days=DAYS)  # Tuesday 2026-04-07
SETTLE = timedelta(minutes=3)  # past the rollup's two minutes
H = timedelta(hours=1)
MIN = timedelta(minutes=1)

CALENDARS: dict[str, dict[str, Any]] = {
    "berlin": {"timezone": "Europe/Berlin", "weekly": {str(d): [["09:00", "17:00"]] for d in range(5)},
               "holidays": "DE"},
    "newyork": {"timezone": "America/New_York",
                "weekly": {**{str(d): [["08:00", "12:00"], ["13:00", "18:00"]] for d in range(5)},
                           "5": [["10:00", "14:00"]]},
                "closed_dates": ["2026-03-17"]},
}
ALWAYS = "24x7"  # seeded by migration 0004


@dataclass(frozen=True)
class Rule:
    """One SLA policy row: the most specific matching rule wins (tier, then severity)."""

    name: str
    tier: PlanTier
    severity: int | None
    calendar: str
    first_response: timedelta
    next_response: timedelta | None
    resolution: timedelta


RULES = (
    Rule("Basic", PlanTier.BASIC, None, ALWAYS, 8 * H, None, 72 * H),
    Rule("Regular", PlanTier.REGULAR, None, "berlin", 2 * H, 4 * H, 16 * H),
    Rule("Premium", PlanTier.PREMIUM, None, "newyork", 30 * MIN, 1 * H, 8 * H),
    Rule("Premium critical", PlanTier.PREMIUM, 1, ALWAYS, 15 * MIN, 30 * MIN, 4 * H),
)
# A category with its own resolution target: it replaces the rule's, and the policy is
# named "<rule> / <category>" (escalation.policies.effective_policy).
CATEGORY = "oracle_billing"
CATEGORY_RESOLUTION = 6 * H


def _spec(duration: timedelta | None) -> dict[str, int] | None:
    return None if duration is None else {"minutes": int(duration // MIN)}


async def configure(svc: Services) -> None:
    """The calendars, the category and the policy table above, instead of the seeded ones."""
    async with svc.sessions.begin() as db:
        await db.execute(delete(SlaPolicyRow))
        for key, definition in CALENDARS.items():
            db.add(BusinessCalendarRow(key=key, name=key.title(), definition=definition))
        db.add(TicketCategory(key=CATEGORY, name="Billing", availability=Availability.CUSTOMER,
                              resolution=_spec(CATEGORY_RESOLUTION), stage_one=None, default_severity=None,
                              position=100, active=True))
        await db.flush()
        for rule in RULES:
            db.add(SlaPolicyRow(name=rule.name, tier=rule.tier, category=None, severity=rule.severity,
                                calendar_key=rule.calendar, first_response=_spec(rule.first_response),
                                next_response=_spec(rule.next_response), stage_one=None,
                                resolution=_spec(rule.resolution), warning_share=0.8))


@dataclass(frozen=True)
class People:
    agents: tuple[Principal, ...]  # who answer (the support admin among them)
    admin: Principal
    customers: tuple[Principal, ...]  # who ask (the widget's visitor among them)
    companies: dict[str, int]  # name -> organization id
    tiers: dict[int, PlanTier]  # organization id -> plan

    def company_of(self, user_id: int) -> int | None:
        return next(c.organization_id for c in self.customers if c.user_id == user_id)


async def people(svc: Services, desk: Desk) -> People:
    """The desk of tests/escalation/world.py (Acme on the regular plan, Other on the basic
    one) and a premium company with two customers, a third agent."""
    charlie = (await directory.create_organization(svc, None, name="Charlie", kind=OrgKind.CUSTOMER,
                                                   plan_tier=PlanTier.PREMIUM)).organization

    async def user(email: str, role: Role, org: int | None = None) -> Principal:
        return principal_of(await directory.create_user(svc, None, email=email, role=role, organization=org,
                                                        name=email.split("@")[0].title()))

    chuck = await user("chuck@charlie.example", Role.CUSTOMER, charlie.id)
    chloe = await user("chloe@charlie.example", Role.CUSTOMER, charlie.id)
    cid = await user("cid@support.example", Role.AGENT)
    assert desk.customer.organization_id is not None and desk.stranger.organization_id is not None
    return People(
        agents=(desk.agent, desk.agent2, cid, desk.admin),
        admin=desk.admin,
        customers=(desk.customer, desk.colleague, desk.stranger, chuck, chloe, desk.visitor),
        companies={"Acme": desk.customer.organization_id, "Other": desk.stranger.organization_id,
                   "Charlie": charlie.id},
        tiers={desk.customer.organization_id: PlanTier.REGULAR, desk.stranger.organization_id: PlanTier.BASIC,
               charlie.id: PlanTier.PREMIUM},
    )


@dataclass
class Story:
    """One ticket as the generator drives it."""

    kind: str  # chat | web | phone | email
    requester: Principal
    steps: int
    id: int = 0
    rated: bool = False  # in the current resolution round
    lost: bool = False  # a reaction to one of its messages was lost: its row may lag behind
    answer_soon: bool = False  # the customer just wrote: support's next move is an answer, soon
    live: bool = False  # a live chat: its people are there, its steps minutes apart


@dataclass
class Played:
    """What the generator did, for the test's report and its sanity checks."""

    tickets: int = 0
    sweeps: int = 0
    moves: Counter[str] = field(default_factory=Counter)


# Delays between steps: minutes (chats), hours, a night, days (auto-close, weekends).
DELAYS = ((0.3, 1 * MIN, 15 * MIN), (0.3, 15 * MIN, 2 * H), (0.25, 2 * H, 12 * H), (0.15, 12 * H, 60 * H))


def delay(rng: random.Random) -> timedelta:
    pick = rng.random()
    for weight, low, high in DELAYS:
        if pick < weight:
            return timedelta(seconds=rng.randint(int(low.total_seconds()), int(high.total_seconds())))
        pick -= weight
    return DELAYS[-1][2]


class Simulation:
    def __init__(self, svc: Services, clock: ManualClock, sweeper: Sweeper, who: People, rng: random.Random) -> None:
        self.svc, self.clock, self.sweeper, self.who, self.rng = svc, clock, sweeper, who, rng
        self.played = Played()
        self._queue: list[tuple[datetime, int, Story | None]] = []
        self._order = 0

    def _at(self, when: datetime, story: Story | None) -> None:
        self._order += 1
        heapq.heappush(self._queue, (when, self._order, story))

    async def run(self, tickets: int) -> Played:
        for _ in range(tickets):
            start = T0 + timedelta(seconds=self.rng.randint(0, int((END - T0 - 2 * H).total_seconds())))
            kind = self.rng.choices(("chat", "web", "phone", "email"), (0.4, 0.3, 0.15, 0.15))[0]
            customers = self.who.customers if kind == "chat" else self.who.customers[:-1]  # visitors only chat
            self._at(start, Story(kind, self.rng.choice(customers), self.rng.randint(2, 12)))
        when = T0
        while when < END:
            when += timedelta(seconds=self.rng.randint(3 * 3600, 9 * 3600))
            self._at(min(when, END), None)
        while self._queue:
            when, _, story = heapq.heappop(self._queue)
            if when > END:
                continue
            self.clock.set(max(when, self.clock.now()))
            if story is None:
                await self.sweep()
            elif story.id == 0:
                await self.open(story)
            else:
                await self.step(story)
        self.clock.set(END + SETTLE)
        await self.sweep()
        await self.sweep()
        return self.played

    async def sweep(self) -> None:
        done = await self.sweeper.run_once()
        failed = [name for name, n in done.items() if n < 0]
        assert not failed, f"sweeper jobs failed at {self.clock.now().isoformat()}: {failed}"
        self.played.sweeps += 1

    def next_step(self, story: Story) -> None:
        story.steps -= 1
        if story.steps > 0:
            soon = story.answer_soon or story.live
            after = timedelta(seconds=self.rng.randint(60, 20 * 60)) if soon else delay(self.rng)
            self._at(self.clock.now() + after, story)

    # -- opening -------------------------------------------------------------------------

    async def open(self, story: Story) -> None:
        rng, svc = self.rng, self.svc
        if story.kind == "chat":
            created = await start_conversation(svc, story.requester, subject="Help", body="Hello?")
            story.id, story.live = created.conversation.id, True
        else:
            severity = rng.choice((None, 1, 2, 3))
            if story.kind == "web":
                category = CATEGORY if rng.random() < 0.3 else None
                draft = TicketDraft(subject="Web form", description="It is broken", category=category,
                                    severity=severity)
                opened = await open_ticket(svc, story.requester, draft)
            else:
                channel = TicketChannel.PHONE if story.kind == "phone" else TicketChannel.EMAIL
                draft = TicketDraft(subject=f"By {story.kind}", description="The caller says hi", channel=channel,
                                    severity=severity, requester_id=story.requester.user_id)
                opened = await open_ticket(svc, rng.choice(self.who.agents), draft)
            story.id = int(opened["id"])
        self.played.tickets += 1
        self.played.moves[f"open {story.kind}"] += 1
        if rng.random() < 0.5:
            await self.assign(story)
        self.next_step(story)

    # -- the moves -------------------------------------------------------------------------

    async def say(self, who: Principal, story: Story, *, internal: bool = False) -> None:
        """As the websocket endpoint sends: store, publish, react — but now and then the
        process dies after a message commits (a customer's or support's), before its
        reaction: the ticket learns of it later (the sweeper's recovery, or the ticket's
        next unit, which may catch up an answer and the customer's next message together),
        and its facts must still be dated by the message."""
        _, events = await post_message(self.svc, who, story.id, client_msg_id=uuid.uuid4().hex,
                                       body="Internal note" if internal else "Some words", internal=internal)
        await publish_events(self.svc, events)
        if self.rng.random() < 0.8:
            await self.svc.react(who, events)
        else:
            story.lost = True
            self.played.moves["reaction lost"] += 1

    async def assign(self, story: Story) -> None:
        current = (await self.ticket(story)).assignee_id
        choices = [a.user_id for a in self.who.agents if a.user_id != current]
        target = None if current is not None and self.rng.random() < 0.1 else self.rng.choice(choices)
        await tickets.assign_ticket(self.svc, self.who.admin, story.id, target)

    async def rate(self, story: Story) -> None:
        value = self.rng.choice(("good", "good", "bad", "none"))
        reason = self.rng.choice((None, None, "fast", "slow", "rude"))
        comment = self.rng.choice((None, None, "thanks", "=1+1"))
        await rate_ticket(self.svc, story.requester, story.id, value, reason=reason, comment=comment)
        story.rated = True

    async def ticket(self, story: Story) -> Ticket:
        async with self.svc.reads() as db:
            found = await db.get(Ticket, story.id)
            assert found is not None
            return found

    async def step(self, story: Story) -> None:
        t = await self.ticket(story)
        s = t.status
        agent = self.rng.choice(self.who.agents)
        if t.assignee_id is not None and self.rng.random() < 0.7:
            agent = next(a for a in self.who.agents if a.user_id == t.assignee_id)
        customer = story.requester
        svc, sid = self.svc, story.id

        async def status(who: Principal, action: str) -> None:
            before = t.status
            await tickets.change_status(svc, who, sid, action)
            if action in ("propose_close", "close") and before is not TicketStatus.PROPOSED_TO_CLOSE:
                story.rated = False  # a new resolution round

        async def end_chat() -> None:
            # Closing what was proposed keeps its resolution round (and its rating).
            may_rate = not (story.rated and s is TicketStatus.PROPOSED_TO_CLOSE)
            rates = may_rate and customer.role is Role.CUSTOMER and self.rng.random() < 0.5
            rating = rating_of(self.rng.choice(("good", "bad")), comment="bye") if rates else None
            await close_conversation(svc, customer, sid, rating=rating)
            story.rated = story.rated or rating is not None

        moves: dict[str, tuple[float, Callable[[], Awaitable[None]]]] = {}

        def move(name: str, weight: float, run: Callable[[], Awaitable[None]]) -> None:
            moves[name] = (weight, run)

        if s is TicketStatus.CLOSED:
            if not story.rated and story.requester.role is Role.CUSTOMER and self.rng.random() < 0.5:
                await self.rate(story)
                self.played.moves["rate closed"] += 1
            return  # closed is final
        move("agent says", 3, lambda: self.say(agent, story))
        move("agent notes", 0.5, lambda: self.say(agent, story, internal=True))
        move("assign", 0.5, lambda: self.assign(story))
        move("agent closes", 0.3, lambda: status(agent, "close"))
        if s is not TicketStatus.PROPOSED_TO_CLOSE or self.rng.random() < 0.5:
            move("customer says", 3, lambda: self.say(customer, story))
        if not t.tracked:
            move("wait for conversion", 1, self._nothing)
            move("customer ends chat", 1.5, end_chat)
            if s is not TicketStatus.PROPOSED_TO_CLOSE:
                move("agent escalates", 0.4, lambda: self._escalate(agent, sid))
        if s is TicketStatus.NEW:
            move("agent starts", 0.5, lambda: status(agent, "start"))
        if s is TicketStatus.IN_PROGRESS:
            move("agent waits on customer", 1, lambda: status(agent, "wait_on_customer"))
            move("agent proposes", 2, lambda: status(agent, "propose_close"))
        if s is TicketStatus.WAITING_ON_CUSTOMER:
            move("agent proposes", 1, lambda: status(agent, "propose_close"))
            move("agent reopens", 0.5, lambda: status(agent, "reopen"))
            move("wait for auto-close", 0.5, self._nothing)
        if s is TicketStatus.PROPOSED_TO_CLOSE:
            move("customer reopens", 1, lambda: status(customer, "reopen"))
            move("wait for auto-close", 1, self._nothing)
            if not story.rated and customer.role is Role.CUSTOMER:
                move("rate proposed", 2, lambda: self.rate(story))
        names = list(moves)
        name = self.rng.choices(names, [moves[n][0] for n in names])[0]
        if story.answer_soon:
            name = "agent says"
        story.answer_soon = name == "customer says" and self.rng.random() < 0.5
        story.live = not t.tracked and name != "agent escalates"
        try:
            await moves[name][1]()
        except AppError as exc:
            # The status read may be behind a message whose reaction was lost: the unit
            # catches up first, and the move may no longer apply. Anything else is a bug.
            if not (story.lost and exc.code in ("illegal_transition", "rating_not_allowed")):
                raise AssertionError(f"{name} on ticket {sid} ({s.value}, tracked={t.tracked}): {exc.code}") from exc
            name = f"{name} (refused)"
        self.played.moves[name] += 1
        self.next_step(story)

    async def _nothing(self) -> None:
        return None

    async def _escalate(self, agent: Principal, sid: int) -> None:
        await tickets.escalate_conversation(self.svc, agent, sid)

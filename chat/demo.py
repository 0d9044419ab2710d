"""Demo data for the embedded default: a reseller, its customer company, a widget site, one
user of each kind, and the company's support chat group (with one approved member, while
the demo customer may still ask to join) and a system alert — so the widget, the customer
area (``/portal/``) and the console (``/console/``) can be tried at once. With a history
bundle (``supportchat demo`` passes one), also a month of support history for the console's
Reports page (:func:`seed_history`), seeded once.

Safe to run again: it reuses what exists and sets fresh passwords, so the printed logins
always work (no password is ever kept in the code)."""

from __future__ import annotations

import heapq
import logging
import random
import secrets
import uuid
from collections.abc import Awaitable, Callable, Mapping
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from urllib.parse import urlsplit

from sqlalchemy import func, select

from chat import directory, validation
from chat.auth import principal_of
from chat.authz import Principal
from chat.clock import ManualClock
from chat.conversations import post_message, start_conversation
from chat.errors import AppError, Conflict, NotFound
from chat.events import publish_events
from chat.groups import alerts, requests, service
from chat.groups.models import AlertType, ChatGroup, ChatGroupJoinRequest, RequestStatus, SystemAlert
from chat.models import Organization, OrgKind, Role, Site, User
from chat.services import Services
from escalation import tickets
from escalation.closing import close_conversation, rate_ticket, rating_of
from escalation.intake import TicketDraft, open_ticket
from escalation.lifecycle import TicketStatus
from escalation.models import Ticket, TicketChannel
from escalation.policy_table import PlanTier

log = logging.getLogger(__name__)

ADMIN = "admin@demo.example"
RESELLER_ADMIN = "reseller@demo-reseller.example"
CUSTOMER = "customer@demo-customer.example"  # not in the group: may ask to join it
MEMBER = "member@demo-customer.example"  # already in the group
DEMO_USERS = (
    (ADMIN, Role.SUPPORT_ADMIN, None, "Ada Admin"),
    ("agent@demo.example", Role.AGENT, None, "Alex Agent"),
    ("readonly@demo.example", Role.READ_ONLY, None, "Rita Readonly"),
    (RESELLER_ADMIN, Role.RESELLER_ADMIN, "demo-reseller", "Ravi Reseller"),
    (CUSTOMER, Role.CUSTOMER, "demo-customer", "Carla Customer"),
    (MEMBER, Role.CUSTOMER, "demo-customer", "Max Member"),
)
DEMO_GROUP = "Demo Customer Co support"
DEMO_ALERT = "Welcome to the demo"
# The demo site's signed-in user, whom the demo page vouches for at ``/?as=customer``
# the way a customer's backend does (docs/widget.md, identity verification).
DEMO_WIDGET_USER = ("demo-customer-1", "Dana Demo")


async def _organization(svc: Services, slug: str, **fields: object) -> Organization:
    async with svc.sessions() as db:
        try:
            return await directory.find_organization(db, slug)
        except NotFound:
            pass
    return (await directory.create_organization(svc, None, slug=slug, **fields)).organization  # type: ignore[arg-type]


DEMO_SITE_NAME = "Demo site"
_LOOPBACK_TWINS = {"127.0.0.1": "localhost", "localhost": "127.0.0.1"}


def demo_origins(public_url: str) -> list[str]:
    """Where the demo page may embed the widget: the public URL's origin and, for a
    loopback address, its twin (``localhost`` and ``127.0.0.1`` are different origins to a
    browser, and people type either)."""
    origin = validation.origin(public_url, "PUBLIC_URL")
    parts = urlsplit(origin)
    twin = _LOOPBACK_TWINS.get(parts.hostname or "")
    if twin is None:
        return [origin]
    return sorted({origin, origin.replace(f"//{parts.hostname}", f"//{twin}", 1)})


async def demo_site(svc: Services) -> Site | None:
    """The demo page's widget site; ``None`` until ``python -m chat demo`` has run. Public:
    the page shows its key to anyone, as any website that embeds the widget does."""
    async with svc.reads() as db:
        return await db.scalar(select(Site).where(Site.name == DEMO_SITE_NAME))


async def seed_demo(svc: Services, history: HistoryServices | None = None) -> str:
    """Seed (or refresh) the demo; return what to show its user: the URLs and the fresh logins.
    With ``history``, also the month of support history (once; see :func:`seed_history`)."""
    public_url = svc.settings.public_url
    await _organization(svc, "demo-reseller", name="Demo Reseller", kind=OrgKind.RESELLER, domains=["demo-reseller.example"])
    await _organization(
        svc, "demo-customer", name="Demo Customer Co", kind=OrgKind.CUSTOMER, plan_tier=PlanTier.REGULAR,
        domains=["demo-customer.example"], parent="demo-reseller",
    )
    origins = demo_origins(public_url)
    async with svc.sessions.begin() as db:
        site = await db.scalar(select(Site).where(Site.name == DEMO_SITE_NAME))
        if site is not None and not set(origins) <= set(site.allowed_origins):
            # PUBLIC_URL changed since the last seeding: the demo page must still embed it.
            site.allowed_origins = sorted(set(site.allowed_origins) | set(origins))
    if site is None:
        site = (await directory.create_site(
            svc, None, name=DEMO_SITE_NAME, allowed_origins=origins, organization="demo-customer"
        )).site

    lines = [
        f"Demo ready at {public_url}/",
        f"  widget site key: {site.public_key}",
        f"  embed snippet:   {directory.embed_snippet(public_url, site)}",
        "  logins (e-mail / password):",
    ]
    for email, role, org, name in DEMO_USERS:
        password = secrets.token_urlsafe(9)
        try:
            await directory.create_user(svc, None, email=email, role=role, organization=org, password=password, name=name)
        except Conflict:
            await directory.set_password(svc, email, password)
        lines.append(f"    {role.value:<15} {email:<32} {password}")
    # The history before the group chat: its events, stored on the real clock, would hold
    # the rollup's cursor back for the whole walk.
    played = await seed_history(svc, history) if history is not None else await history_count(svc)
    await _seed_group_and_alert(svc)
    lines += [
        f"  group chat:      {DEMO_GROUP!r} of Demo Customer Co, {MEMBER} in it",
        f"  customer area:   {public_url}/portal/ — {CUSTOMER} asks to join, {RESELLER_ADMIN} approves",
        f"  agent console:   {public_url}/console/ — admin, agent, read-only",
        f"  signed-in widget: {public_url}/?as=customer — a user of Demo Customer Co: sees its alerts",
    ]
    if played:
        lines.append(f"  reports:         {public_url}/console/reports — {played} tickets and chats of the last "
                     f"{HISTORY_DAYS} days")
    return "\n".join(lines)


async def _user(svc: Services, email: str) -> User:
    async with svc.sessions() as db:
        return await directory.find_user(db, email)


async def _seed_group_and_alert(svc: Services) -> None:
    """The customer company's group, its first member admitted the way every member is
    (asked, approved by the reseller admin), and one alert; each only once."""
    admin = principal_of(await _user(svc, ADMIN))
    reseller = principal_of(await _user(svc, RESELLER_ADMIN))
    member = principal_of(await _user(svc, MEMBER))
    pending: int | None = None
    async with svc.sessions() as db:
        group = await db.scalar(select(ChatGroup).where(ChatGroup.name == DEMO_GROUP))
        alerted = await db.scalar(select(SystemAlert.id).where(SystemAlert.title == DEMO_ALERT))
        is_member = group is not None and await service.active_member(db, group.id, member.user_id) is not None
        if group is not None:
            pending = await db.scalar(select(ChatGroupJoinRequest.id).where(
                ChatGroupJoinRequest.group_id == group.id, ChatGroupJoinRequest.user_id == member.user_id,
                ChatGroupJoinRequest.status == RequestStatus.PENDING,
            ))
    if group is None:
        group = await service.create_group(svc, admin, organization="demo-customer", name=DEMO_GROUP)
    if not is_member:
        if pending is None:  # else left by an earlier, interrupted run
            pending = (await requests.request_join(svc, member, group=group.id, note="Demo: the first member")).id
        await requests.decide(svc, reseller, pending, approve=True)
    if alerted is None:
        await alerts.open_alert(
            svc, admin, organization="demo-customer", type=AlertType.INFORMATION, title=DEMO_ALERT,
            body="System alerts from support show here, in the customer area and in the widget of the company's users.",
        )


# -- a month of support history, for the Reports page -----------------------------------------

Sweep = Callable[[], Awaitable[Mapping[str, int]]]
# Opens a services bundle on ``clock`` over the demo's database, with one sweeper pass
# (``chat.wiring`` builds it: this layer may not); closed on leaving.
HistoryServices = Callable[[ManualClock], AbstractAsyncContextManager[tuple[Services, Sweep]]]

HISTORY_SEED = 17  # the same month every time
HISTORY_TICKETS = 60  # tickets and live chats over the month (~15 s of the demo command)
HISTORY_DAYS = 30
HISTORY_MARGIN = timedelta(minutes=5)  # the walk ends this long before the real now
OPEN_HOUR, CLOSE_HOUR = 8, 17  # the desk's working hours, Monday to Friday (UTC)
_MIN, _H = timedelta(minutes=1), timedelta(hours=1)

# The companies and people of the history: the demo customer company and two more (one
# per plan), each with customers who never sign in (no password); two more agents.
HISTORY_COMPANIES = (
    ("northwind", "Northwind Logistics", PlanTier.PREMIUM, "northwind.example", "demo-reseller"),
    ("corner-bakery", "Corner Bakery", PlanTier.BASIC, "corner-bakery.example", None),
)
HISTORY_CUSTOMERS = (
    ("hana@demo-customer.example", "demo-customer", "Hana Hoffmann"),
    ("omar@demo-customer.example", "demo-customer", "Omar Haddad"),
    ("nina@northwind.example", "northwind", "Nina Novak"),
    ("piet@northwind.example", "northwind", "Piet Jansen"),
    ("lena@northwind.example", "northwind", "Lena Lindqvist"),
    ("bea@corner-bakery.example", "corner-bakery", "Bea Baker"),
)
HISTORY_AGENTS = (("sam@demo.example", "Sam Support"), ("kim@demo.example", "Kim Kovacs"))

_CHATS = (
    ("Login problem", "Hi, I can't log in since this morning, it says my password is wrong."),
    ("Invoice question", "Hello, where can I download last month's invoice?"),
    ("Export to Excel", "Is there a way to export the delivery list to Excel?"),
    ("New user", "Hi, quick question: how do I add a new user to our account?"),
    ("Map not loading", "The map view stays grey for me, is something down?"),
    ("Dashboard not updating", "Hello? Our dashboard shows yesterday's numbers only."),
    ("Change of address", "We moved offices, how do I update our billing address?"),
    ("Notifications", "I get every notification twice by e-mail."),
)
_TICKETS = (
    ("Report totals differ from the dashboard", "The weekly report says 312 deliveries, the dashboard 298.", "data_accuracy"),
    ("API returns 500 on /orders", "Since yesterday our integration gets HTTP 500 on every second call.", "technical_question"),
    ("Training for two new colleagues", "Could you schedule an introduction for two new dispatchers?", "training_request"),
    ("Set up a second warehouse", "Please add our new warehouse in Lyon as a depot.", "configuration_request"),
    ("Reset two-factor for Piet", "Piet lost his phone, please reset his second factor.", "service_request"),
    ("Wrong VAT on invoice", "Invoice 2291 has 19 % VAT, we are VAT exempt.", "data_accuracy"),
    ("How do scheduled reports work?", "I would like the stock report every Monday at 7.", "technical_question"),
    ("Scanner shows error E42", "The handheld scanner at gate 3 shows E42 after the update.", "technical_question"),
    ("Slow search", "Searching for a customer takes ten seconds or more.", None),
    ("Add cost centre field", "Can we get an extra field for the cost centre on orders?", "configuration_request"),
)
_CALLS = (
    ("Printer labels cut off", "Called in: shipping labels are cut off at the bottom since Monday.", "device_error"),
    ("Cannot open reports", "Phoned: the reports page spins forever for their whole team.", "software_error"),
    ("Contract renewal", "Asks whether the renewal keeps last year's price.", None),
    ("Duplicate charges", "Forwarded mail: the card was charged twice this month.", "data_accuracy"),
    ("Data deletion request", "Asks us to delete the data of a former employee.", "service_request"),
)
_CUSTOMER_SAYS = (
    "Thanks, I'll try that now.", "It still happens, I attached a screenshot.", "Any news on this?",
    "That worked for one user but not for the others.", "We need this fixed before Friday.",
    "Ok, I cleared the cache, same result.", "Here is the order number: 48213.", "Great, that did it!",
)
_AGENT_SAYS = (
    "Thanks for reaching out, I'm looking into it.", "Could you send me the order number, please?",
    "I can reproduce it, our developers are on it.", "Please try again now: we deployed a fix.",
    "You find it under Settings > Users > Invite.", "I've corrected the invoice, the new one is in your inbox.",
    "Could you tell me which browser you use?", "I've set it up for you, please check.",
)
_NOTES = ("Looks like the known sync issue, see last week's ticket.", "Asked the billing team.",
          "Customer is on the old app version.")
_GOOD = (("quick answer", "Thanks, that was fast!"), ("problem solved", None), ("friendly", "Very helpful, thank you."),
         (None, None))
_BAD = (("too slow", "Took two days for a simple question."), ("not solved", "Still broken for us."),
        ("had to ask twice", None))


def _working(at: datetime) -> bool:
    return at.weekday() < 5 and OPEN_HOUR <= at.hour < CLOSE_HOUR


def _next_opening(at: datetime) -> datetime:
    day = at.replace(hour=OPEN_HOUR, minute=0, second=0, microsecond=0)
    if at.hour >= OPEN_HOUR:
        day += timedelta(days=1)
    while day.weekday() >= 5:
        day += timedelta(days=1)
    return day


@dataclass
class _Story:
    """One ticket or live chat as the walk drives it."""

    kind: str  # chat | web | phone | email
    requester: Principal
    first_response: tuple[int, int]  # how soon support answers first (seconds, low and high), by plan
    steps: int  # exchanges before support proposes to close
    id: int = 0
    rated: bool = False  # in the current resolution round
    winding_up: bool = False  # the exchanges are done: propose to close, then rate or let it auto-close
    owed: bool = False  # the customer wrote last: support answers next


@dataclass(frozen=True)
class _Desk:
    agents: tuple[Principal, ...]  # who answer (the support admin among them)
    admin: Principal
    customers: tuple[tuple[Principal, PlanTier], ...]


# How soon support first answers a ticket, by plan (in working hours): within the plan's
# first-response target most of the time (escalation.seeds: 30 min, 4 h, 24 h).
_FIRST_RESPONSE = {PlanTier.PREMIUM: (3 * 60, 28 * 60), PlanTier.REGULAR: (10 * 60, 3 * 3600),
                   PlanTier.BASIC: (30 * 60, 20 * 3600)}
# Who asks how often: the premium company's people most, the bakery now and then.
_ASKS = (3, 2, 3, 3, 2, 2)


async def history_count(svc: Services) -> int:
    """Tickets and chats of the demo's history (its customers'); 0 before it is seeded."""
    async with svc.reads() as db:
        ids = select(User.id).where(User.email.in_([email for email, _, _ in HISTORY_CUSTOMERS]))
        return int(await db.scalar(select(func.count()).select_from(Ticket).where(Ticket.requester_id.in_(ids))) or 0)


async def seed_history(svc: Services, history: HistoryServices) -> int:
    """A month of support history, played once through the real use cases on a manual clock
    that walks from 30 days ago to a few minutes before now, with the sweeper passes
    between (SLA breaches, conversions, auto-close, the reports' rollup). Returns how many
    tickets and chats the history holds; a second run finds them and plays nothing."""
    found = await history_count(svc)
    if found:
        return found
    desk = await _history_desk(svc)
    end = (datetime.now(UTC) - HISTORY_MARGIN).replace(microsecond=0)
    clock = ManualClock(end - timedelta(days=HISTORY_DAYS))
    async with history(clock) as (past, sweep):
        await _Walk(past, clock, sweep, desk, random.Random(HISTORY_SEED), end).run(HISTORY_TICKETS)
        # The last pass at the real now: the rollup counts every message (stored before
        # ``end``, settled since); the live server's own sweeper takes over from here.
        clock.set(max(clock.now(), datetime.now(UTC)))
        await sweep()
    return await history_count(svc)


async def _history_desk(svc: Services) -> _Desk:
    for slug, name, tier, domain, parent in HISTORY_COMPANIES:
        await _organization(svc, slug, name=name, kind=OrgKind.CUSTOMER, plan_tier=tier, domains=[domain],
                            parent=parent)
    tiers = {slug: tier for slug, _, tier, _, _ in HISTORY_COMPANIES} | {"demo-customer": PlanTier.REGULAR}

    async def person(email: str, role: Role, org: str | None, name: str) -> Principal:
        try:
            return principal_of(await directory.create_user(svc, None, email=email, role=role, organization=org,
                                                            name=name))
        except Conflict:
            return principal_of(await _user(svc, email))

    agents = [await person(email, Role.AGENT, None, name) for email, name in HISTORY_AGENTS]
    admin = principal_of(await _user(svc, ADMIN))
    alex = principal_of(await _user(svc, "agent@demo.example"))
    customers = [(await person(email, Role.CUSTOMER, org, name), tiers[org]) for email, org, name in HISTORY_CUSTOMERS]
    return _Desk(agents=(alex, alex, *agents, admin), admin=admin, customers=tuple(customers))


class _Walk:
    def __init__(self, svc: Services, clock: ManualClock, sweep: Sweep, desk: _Desk, rng: random.Random,
                 end: datetime) -> None:
        self.svc, self.clock, self.sweep, self.desk, self.rng, self.end = svc, clock, sweep, desk, rng, end
        self._queue: list[tuple[datetime, int, _Story | None]] = []
        self._order = 0

    def _at(self, when: datetime, story: _Story | None) -> None:
        self._order += 1
        heapq.heappush(self._queue, (when, self._order, story))

    def _start_time(self) -> datetime:
        """Mostly weekday working hours; now and then a night or a weekend."""
        begin = self.clock.now() + _H
        span = int((self.end - begin - _H).total_seconds())
        while True:
            at = begin + timedelta(seconds=self.rng.randint(0, span))
            if _working(at) or self.rng.random() < 0.07:
                return at

    async def run(self, count: int) -> None:
        rng = self.rng
        for _ in range(count):
            kind = rng.choices(("chat", "web", "phone", "email"), (0.45, 0.3, 0.1, 0.15))[0]
            requester, tier = rng.choices(self.desk.customers, _ASKS)[0]
            steps = rng.choice((0, 1, 1, 1, 2, 2, 3, 5))
            self._at(self._start_time(), _Story(kind, requester, _FIRST_RESPONSE[tier], steps))
        when = self.clock.now()
        while when < self.end:  # the sweeper's passes: every four to seven hours
            when += timedelta(seconds=rng.randint(4 * 3600, 7 * 3600))
            self._at(min(when, self.end), None)
        while self._queue:
            when, _, story = heapq.heappop(self._queue)
            if when > self.end:
                continue
            self.clock.set(max(when, self.clock.now()))
            if story is None:
                await self.sweep()
            elif story.id == 0:
                await self.open(story)
            else:
                await self.step(story)

    def later(self, story: _Story, after: timedelta, *, staff: bool = True) -> None:
        """The story's next step ``after`` from now; staff mostly act in working hours."""
        when = self.clock.now() + after
        if staff and not _working(when) and self.rng.random() < 0.85:
            when = _next_opening(when) + timedelta(seconds=self.rng.randint(5 * 60, 150 * 60))
        self._at(when, story)

    def _seconds(self, low: int, high: int) -> timedelta:
        return timedelta(seconds=self.rng.randint(low, high))

    async def open(self, story: _Story) -> None:
        rng, svc = self.rng, self.svc
        if story.kind == "chat":
            subject, body = rng.choice(_CHATS)
            created = await start_conversation(svc, story.requester, subject=subject, body=body)
            story.id = created.conversation.id
            # Answered live within minutes when someone is there; else the sweeper makes
            # it a ticket and it is answered later.
            if _working(self.clock.now()) and rng.random() < 0.85:
                self._at(self.clock.now() + self._seconds(40, 6 * 60), story)
            else:
                self.later(story, self._seconds(*story.first_response))
            return
        severity = rng.choice((None, None, 3, 3, 2, 1))
        if story.kind == "web":
            subject, body, category = rng.choice(_TICKETS)
            draft = TicketDraft(subject=subject, description=body, category=category, severity=severity)
            opened = await open_ticket(svc, story.requester, draft)
        else:
            subject, body, category = rng.choice(_CALLS)
            channel = TicketChannel.PHONE if story.kind == "phone" else TicketChannel.EMAIL
            draft = TicketDraft(subject=subject, description=body, channel=channel, category=category,
                                severity=severity, requester_id=story.requester.user_id)
            opened = await open_ticket(svc, rng.choice(self.desk.agents), draft)
        story.id = int(opened["id"])
        if rng.random() < 0.7:
            await self.assign(story)
        self.later(story, self._seconds(*story.first_response))

    async def say(self, who: Principal, story: _Story, *, internal: bool = False) -> None:
        """As the websocket endpoint sends: store, publish, react."""
        lines = _NOTES if internal else _AGENT_SAYS if who.role is not Role.CUSTOMER else _CUSTOMER_SAYS
        msg_id = uuid.UUID(int=self.rng.getrandbits(128)).hex
        _, events = await post_message(self.svc, who, story.id, client_msg_id=msg_id, body=self.rng.choice(lines),
                                       internal=internal)
        await publish_events(self.svc, events)
        await self.svc.react(who, events)

    async def assign(self, story: _Story) -> None:
        current = (await self.ticket(story)).assignee_id
        target = self.rng.choice([a.user_id for a in self.desk.agents if a.user_id != current])
        await tickets.assign_ticket(self.svc, self.desk.admin, story.id, target)

    def _rating(self) -> tuple[str, str | None, str | None]:
        good = self.rng.random() < 0.8
        reason, comment = self.rng.choice(_GOOD if good else _BAD)
        return ("good" if good else "bad"), reason, comment

    async def ticket(self, story: _Story) -> Ticket:
        async with self.svc.reads() as db:
            found = await db.get(Ticket, story.id)
            assert found is not None
            return found

    async def step(self, story: _Story) -> None:
        t = await self.ticket(story)
        try:
            await self._step(story, t)
        except AppError as exc:  # a move the ticket's state no longer allows: the story goes on
            log.debug("demo history: ticket %s (%s): %s", story.id, t.status.value, exc.code)

    async def _step(self, story: _Story, t: Ticket) -> None:
        rng, svc, sid, customer = self.rng, self.svc, story.id, story.requester
        agent = rng.choice(self.desk.agents)
        if t.assignee_id is not None and rng.random() < 0.85:
            agent = next((a for a in self.desk.agents if a.user_id == t.assignee_id), agent)
        live = not t.tracked and t.status is not TicketStatus.CLOSED

        if t.status is TicketStatus.CLOSED:
            if not story.rated and t.resolution_round > 0 and rng.random() < 0.25:
                value, reason, comment = self._rating()
                await rate_ticket(svc, customer, sid, value, reason=reason, comment=comment)
            return  # closed (by the customer, support or auto-close) is final
        if t.status is TicketStatus.PROPOSED_TO_CLOSE:
            pick = rng.random()
            if pick < 0.55 and not story.rated:
                value, reason, comment = self._rating()
                await rate_ticket(svc, customer, sid, value, reason=reason, comment=comment)
                story.rated = True
                if rng.random() < 0.5:  # and closes it; else auto-close does, days later
                    await tickets.change_status(svc, customer, sid, "close")
            elif pick < 0.65:  # not solved after all
                await tickets.change_status(svc, customer, sid, "reopen")
                story.rated, story.winding_up, story.steps = False, False, 1
                self.later(story, self._seconds(30 * 60, 6 * 3600))
            return  # else nothing: auto-close closes it
        if t.first_replied_at is None and not (live and rng.random() < 0.1):
            if t.assignee_id is None and rng.random() < 0.8:  # who answers takes it
                await tickets.assign_ticket(svc, self.desk.admin, sid, agent.user_id)
            if t.tracked and t.status is TicketStatus.NEW and rng.random() < 0.4:
                await tickets.change_status(svc, agent, sid, "start")
            await self.say(agent, story)  # the first answer
            if t.tracked and rng.random() < 0.05:  # a duplicate, or nothing to do: closed at once
                await tickets.change_status(svc, agent, sid, "close")
                return
            self.later(story, self._seconds(60, 4 * 60) if live else self._seconds(20 * 60, 8 * 3600), staff=False)
            return
        if story.owed:  # support answers what the customer wrote
            story.owed = False
            if rng.random() < 0.2:
                await self.say(agent, story, internal=True)
                if t.tracked and rng.random() < 0.5:
                    await self.assign(story)
            await self.say(agent, story)
            if rng.random() < 0.15:  # and a second thought
                await self.say(agent, story)
            if t.tracked and t.status is not TicketStatus.WAITING_ON_CUSTOMER and rng.random() < 0.3:
                await tickets.change_status(svc, agent, sid, "wait_on_customer")
            self.later(story, self._seconds(30, 5 * 60) if live else self._seconds(20 * 60, 6 * 3600), staff=False)
            return
        if story.winding_up or story.steps <= 0:
            if live and rng.random() < 0.65:  # the customer is done and leaves, perhaps rating the chat
                rating = rating_of(*self._rating()) if rng.random() < 0.45 else None
                await close_conversation(svc, customer, sid, rating=rating)
                return
            if live and rng.random() < 0.5:  # support makes it a ticket, to answer later
                await tickets.escalate_conversation(svc, agent, sid, category=rng.choice(
                    (None, "technical_question", "service_request", "data_accuracy")))
                story.steps = 1
                self.later(story, self._seconds(1 * 3600, 20 * 3600))
                return
            await tickets.change_status(svc, agent, sid, "propose_close")
            story.winding_up, story.rated = True, False
            self.later(story, self._seconds(20 * 60, 30 * 3600), staff=False)
            return
        story.steps -= 1  # the customer writes back (now and then twice); support answers next
        await self.say(customer, story)
        if rng.random() < 0.25:
            await self.say(customer, story)
        story.owed = True
        self.later(story, self._seconds(30, 3 * 60) if live else self._seconds(5 * 60, 3 * 3600))

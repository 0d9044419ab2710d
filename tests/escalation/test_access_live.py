"""Who may see a conversation, live: taken off a ticket, a person's open socket leaves its
room at once (chat.access_changes); whoever still may read it keeps it. The two-node
version: tests/topology/test_access.py."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from sqlalchemy import update

from chat.access_changes import access_lost, publish_access
from chat.authz import Principal
from chat.client import ProtocolError
from chat.models import Conversation, Role, User
from chat.wiring import build_services
from escalation import tickets
from tests.conftest import make_settings
from tests.escalation.people import People

# Long enough for a publish to cross the in-process broker and the socket many times over.
SETTLE_SECONDS = 0.3


async def _ticket_with_cc(people: People) -> int:
    made = await people.call("customer", "POST", "/api/tickets", {
        "subject": "Reports are wrong", "description": "Mileage doubled", "cc": [people.ids["colleague"]],
    }, expect=201)
    return int(made["ticket"]["id"])


async def test_taken_off_the_cc_a_live_socket_leaves_the_room_at_once(people: People) -> None:
    conv = await _ticket_with_cc(people)
    async with (people.client("colleague") as colleague, people.client("agent") as agent,
                people.client("customer") as customer):
        for c in (colleague, agent, customer):
            await c.join(conv)
        one = await agent.send(conv, "one")
        await colleague.wait_for_seq(conv, one["seq"])

        await people.call("agent", "PATCH", f"/api/tickets/{conv}", {"cc": []})
        left = await colleague.next_frame("left")
        assert left == {"type": "left", "conversation_id": conv, "reason": "access_revoked"}
        two = await agent.send(conv, "two")
        await customer.wait_for_seq(conv, two["seq"])
        await asyncio.sleep(SETTLE_SECONDS)
        assert "one" in [e.get("body") for e in colleague.log[conv]]
        assert "two" not in [e.get("body") for e in colleague.log[conv]]
        hub = people.server.hub
        assert all(conv not in c.rooms for c in hub.by_user.get(people.ids["colleague"], ()))
        assert all(c.principal.user_id != people.ids["colleague"] for c in hub.rooms[conv])
        # The socket stays open; the room is closed to it, as to a new join.
        with pytest.raises(ProtocolError) as refused:
            await colleague.join(conv)
        assert refused.value.code == "not_found"
        assert (await colleague.ping())["type"] == "pong"
        # The others are untouched.
        three = await customer.send(conv, "three")
        assert (await agent.wait_for_seq(conv, three["seq"]))[-1]["body"] == "three"


async def test_who_still_may_read_keeps_the_socket(people: People) -> None:
    """Named in an access change, staff keep the room (they read every conversation);
    a customer who is no participant does not."""
    conv = await _ticket_with_cc(people)
    svc = people.server.services
    async with people.client("agent") as agent, people.client("colleague") as colleague:
        await agent.join(conv)
        await colleague.join(conv)
        async with svc.sessions() as db:
            row = await db.get(Conversation, conv)
            assert row is not None
            message = await access_lost(db, row, [people.ids["agent"], people.ids["colleague"]])
        assert message is not None
        await publish_access(svc, [message])
        assert (await colleague.next_frame("left"))["reason"] == "access_revoked"
        ack = await agent.send(conv, "still here")
        assert (await agent.wait_for_seq(conv, ack["seq"]))[-1]["body"] == "still here"
        assert any(c.principal.user_id == people.ids["agent"] for c in people.server.hub.rooms[conv])


async def test_an_access_change_lost_with_the_broker_is_applied_when_it_is_back(
    people: People, sqlite_url: str, tmp_path: Path
) -> None:
    """The CC removal committed by a process whose publish never reaches this one (as in a
    broker outage): when the hub recovers, it rechecks its rooms before catching up."""
    conv = await _ticket_with_cc(people)
    elsewhere = build_services(make_settings(sqlite_url, tmp_path / "elsewhere"))
    await elsewhere.broker.connect()  # its own in-memory broker: nobody here hears it
    hub = people.server.hub
    try:
        async with people.client("colleague") as colleague, people.client("customer") as customer:
            await colleague.join(conv)
            await customer.join(conv)
            agent = Principal(people.ids["agent"], Role.AGENT, None)
            await tickets.update_ticket(elsewhere, agent, conv, {"cc": []})
            await asyncio.sleep(SETTLE_SECONDS)
            assert any(c.principal.user_id == people.ids["colleague"] for c in hub.rooms[conv])  # not heard
            await hub.recheck_rooms()
            assert (await colleague.next_frame("left"))["reason"] == "access_revoked"
            assert [c.principal.user_id for c in hub.rooms[conv]] == [people.ids["customer"]]
            ack = await customer.send(conv, "still mine")
            assert (await customer.wait_for_seq(conv, ack["seq"]))[-1]["body"] == "still mine"
    finally:
        await elsewhere.close()


async def test_a_changed_role_closes_the_users_sockets_on_revalidation(people: People) -> None:
    """A socket acts with the role it authenticated as; an operator may change a role in the
    database, by hand (the admin's PATCH closes the sockets at once: tests/chat/http): the hub's periodic revalidation closes such sockets
    (4409, sign in again), others stay."""
    svc, hub = people.server.services, people.server.hub
    async with people.client("agent") as agent, people.client("agent2") as other:
        async with svc.sessions.begin() as db:
            await db.execute(update(User).where(User.id == people.ids["agent"]).values(role=Role.READ_ONLY))
        await hub.revalidate()
        assert await agent.wait_closed(5) == 4409
        assert (await other.ping())["type"] == "pong"

"""Ticket conversion and status on both topologies, the customer's sockets on one node and
the staff's on the other: an agent's escalation and the status changes after it; the
conversions the system makes — the sweeper's of an unanswered chat, and the chat that
starts while no agent is online anywhere. The single-process versions:
tests/escalation/test_ticket_usecases.py.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta
from typing import Any

from sqlalchemy import update

from escalation.models import Ticket
from tests.support.chatlog import CheckedClient, Person, identity
from tests.support.topology import Topology
from tests.topology.desk_world import (
    SWEEP_SECONDS,
    Frames,
    get,
    open_chat,
    seed_desk,
    set_limit,
    stored_events,
    system_event,
    system_names,
    uid,
    until_both_nodes_see,
)

# What an agent's escalation with a group, a category and a severity stores, in order
# (tests/escalation/test_ticket_usecases.py), and the part of it the customer may see.
ESCALATED = ["ticket.opened", "ticket.recategorized", "ticket.updated", "ticket.transferred", "ticket.deadlines"]
ESCALATED_PUBLIC = ["ticket.opened", "ticket.recategorized", "ticket.updated"]


@asynccontextmanager
async def customer_socket(topology: Topology, who: Person, *, node: int) -> AsyncIterator[CheckedClient]:
    """The customer's socket, checking the server's per-socket promise (no gaps, no repeats:
    the internal events in between are skipped by ``prev_seq``) across the nodes."""
    client = CheckedClient(topology.nodes[node].ws_url, who.token)
    async with client:
        yield client


async def ticket_on_both(topology: Topology, who: Person, conversation_id: int) -> dict[str, Any]:
    """``GET /api/tickets/{id}`` as ``who`` on both nodes: the same answer; returns it."""
    seen = [(await get(topology, who, f"/api/tickets/{conversation_id}", node=node))["ticket"] for node in (0, 1)]
    assert seen[0] == seen[1], f"node 0 and node 1 disagree:\n{seen[0]}\n{seen[1]}"
    ticket: dict[str, Any] = seen[0]
    return ticket


async def test_an_escalation_and_the_status_changes_after_it_reach_the_other_node(topology: Topology) -> None:
    """Agent 1 (node 1) converts the chat to a ticket: the visitor's tab on node 0 gets the
    public ticket events. Agent 2 (node 0) resolves it: the visitor's tab on node 1 is asked
    to rate. The visitor closes it on node 1: agent 2's socket on node 0 hears it."""
    world = await seed_desk(topology)
    agent, colleague = world.agents
    visitor = await world.visitor("Vera")
    async with customer_socket(topology, visitor, node=0) as tab_0, customer_socket(topology, visitor, node=1) as tab_1, \
            topology.client(agent.token, node=1) as answering, topology.client(colleague.token, node=0) as console:
        conv = await open_chat(topology, visitor, node=0, subject="Printer on fire")
        for socket in (tab_0, tab_1, answering, console):
            await socket.join(conv)
        ack = await answering.send(conv, "Let me check.")
        before = int(ack["seq"])
        await tab_0.wait_for_seq(conv, before)
        doorbells = Frames(console)
        doorbells.forget()

        await topology.call(agent.token, "POST", f"/api/conversations/{conv}/escalate",
                            {"group": "second_level", "category": "technical_question", "severity": 2,
                             "note": "needs L2"}, node=1, expect=200)
        staff_log = await stored_events(topology, agent, conv, node=0, after=before)
        assert system_names(staff_log) == ESCALATED
        public = await stored_events(topology, visitor, conv, node=1, after=before)
        assert system_names(public) == ESCALATED_PUBLIC
        # The visitor's tab on node 0 gets exactly the public part, in order.
        await tab_0.wait_for_seq(conv, int(public[-1]["seq"]))
        seen = [e for e in tab_0.events(conv) if e["seq"] > before]
        assert [identity(e) for e in seen] == [identity(e) for e in public]
        opened, recategorized = seen[0]["data"], seen[1]["data"]
        assert (opened["reason"], opened["actor"]["id"]) == ("agent", uid(agent))
        assert (recategorized["from"], recategorized["to"]) == (None, "technical_question")
        # Staff on node 0 are rung, and read the same ticket as node 1 does.
        await doorbells.wait("inbox", conversation_id=conv, reason="ticket.opened")
        staff = await ticket_on_both(topology, colleague, conv)
        assert (staff["tracked"], staff["tracked_reason"], staff["status"], staff["level"], staff["group"],
                staff["category"], staff["severity"]) == (True, "agent", "in_progress", 2, "second_level",
                                                          "technical_question", 2)
        deadlines = staff["deadlines"]
        assert set(deadlines) == {"first_response", "resolution"}, deadlines
        assert (deadlines["first_response"]["state"], deadlines["resolution"]["state"]) == ("met", "running")
        assert staff["sla_policy"]
        mine = await ticket_on_both(topology, visitor, conv)
        assert (mine["tracked"], mine["status"], mine["next_action"]) == (True, "in_progress", "support")
        assert "deadlines" not in mine and "group" not in mine

        # Resolve on node 0: the visitor's tab on node 1 is asked to rate.
        escalated = int(staff_log[-1]["seq"])
        proposed = await topology.call(colleague.token, "POST", f"/api/tickets/{conv}/status",
                                       {"action": "propose_close"}, node=0, expect=200)
        assert proposed.json()["ticket"]["status"] == "proposed_to_close"
        changed = await system_event(tab_1, conv, "ticket.status_changed")
        assert (changed["data"]["from"], changed["data"]["to"]) == ("in_progress", "proposed_to_close")
        assert system_names(tab_1.events(conv), after=escalated) == ["ticket.status_changed"]

        # The visitor ends it on node 1, with a rating: agent 2's socket on node 0 hears it.
        await topology.call(visitor.token, "POST", f"/api/conversations/{conv}/close",
                            {"rating": {"value": "good", "comment": "thanks"}}, node=1, expect=200)
        await system_event(console, conv, "ticket.rated")
        closing = await stored_events(topology, colleague, conv, node=1, after=escalated)
        await console.wait_for_seq(conv, int(closing[-1]["seq"]))
        assert [identity(e) for e in console.log[conv] if e["seq"] > escalated] == [identity(e) for e in closing]
        # (the pause of the resolution clock on "proposed" is an internal ticket.deadlines)
        assert [n for n in system_names(closing) if n != "ticket.deadlines"] == [
            "ticket.status_changed", "ticket.status_changed", "conversation.closed", "ticket.rated"]
        ticket = await ticket_on_both(topology, agent, conv)
        assert (ticket["status"], ticket["close_reason"], [r["value"] for r in ticket["ratings"]]) == (
            "closed", "customer", ["good"])
        # Both tabs saw the same stream, each in order without gaps or repeats.
        last = int((await stored_events(topology, visitor, conv, node=0))[-1]["seq"])
        for tab in (tab_0, tab_1):
            await tab.wait_for_seq(conv, last)
            assert tab.violations == []
        assert [identity(e) for e in tab_0.events(conv)] == [identity(e) for e in tab_1.events(conv)]


async def test_the_system_converts_an_unanswered_chat_in_the_sweeper_and_a_chat_nobody_is_online_for(
    topology: Topology,
) -> None:
    """The sweeper's conversion — on the cluster in the separate ``python -m escalation``
    process, reaching the sockets through redis — and the one at a chat's start while no
    agent is online anywhere, decided by the web process that takes the chat from its
    view of presence (on the cluster, node 1 must know of the agent whose socket is on
    node 0).

    The sweeper converts a chat nobody answered after ``CHAT_UNANSWERED_TICKET_MINUTES``
    (10 by default; the fixture sets no shorter one), so the test ages the stored chat
    instead of waiting: its ticket began that long ago and its conversion is due now."""
    world = await seed_desk(topology, agents=1)
    (agent,) = world.agents
    await set_limit(world, agent, 0, node=1)  # online, so chats are live chats; nobody takes them
    visitor = await world.visitor("Vera")
    async with topology.client(agent.token, node=0) as desk, customer_socket(topology, visitor, node=1) as customer:
        await until_both_nodes_see(world, {agent: "online"}, what="the agent online")
        conv = await open_chat(topology, visitor, node=1, subject="Anyone there?")
        assert (await ticket_on_both(topology, agent, conv))["tracked"] is False
        await customer.join(conv)
        doorbells = Frames(desk)
        doorbells.forget()

        svc = topology.services
        now = svc.clock.now()
        waited = timedelta(minutes=svc.settings.chat_unanswered_ticket_minutes + 1)
        async with svc.sessions.begin() as db:
            aged = await db.scalars(update(Ticket).where(Ticket.conversation_id == conv)
                                    .values(created_at=now - waited, convert_at=now)
                                    .returning(Ticket.conversation_id))
            assert list(aged) == [conv]

        opened = await system_event(customer, conv, "ticket.opened", timeout=SWEEP_SECONDS)
        assert (opened["data"]["reason"], opened["data"]["actor"]) == ("no_answer", None)
        await doorbells.wait("inbox", conversation_id=conv, reason="ticket.opened")
        assert system_names(customer.events(conv)) == ["conversation.created", "ticket.opened"]
        assert customer.violations == []
        ticket = await ticket_on_both(topology, agent, conv)
        assert (ticket["tracked"], ticket["tracked_reason"]) == (True, "no_answer")
        assert "resolution" in ticket["deadlines"], ticket["deadlines"]

        # The only agent steps away on node 0: a chat started on node 1 is a ticket from
        # its start. Its conversation.created is its opening: no ticket.opened follows.
        await desk.presence("away")
        await until_both_nodes_see(world, {agent: "away"}, what="the agent away")
        unattended = await open_chat(topology, visitor, node=1, subject="while nobody is in")
        ticket = await ticket_on_both(topology, agent, unattended)
        assert (ticket["tracked"], ticket["tracked_reason"], ticket["status"]) == (True, "no_agent_online", "new")
        assert "resolution" in ticket["deadlines"], ticket["deadlines"]
        joined = await customer.join(unattended)
        log = await customer.wait_for_seq(unattended, int(joined["last_seq"]))
        assert system_names(log) == ["conversation.created"]
        assert system_names(await stored_events(topology, agent, unattended, node=0)) == ["conversation.created"]

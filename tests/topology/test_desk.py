"""The desk on both topologies: claims, automatic assignment and transfers, with the agents'
sockets and requests on different nodes on purpose.

The single-process versions call the use cases with a fake presence
(tests/chat/desk/test_queues_and_claims.py, test_autoassign.py); here presence comes from
real sockets on two nodes and every change is read back over HTTP on the other node.
"""

from __future__ import annotations

from contextlib import AsyncExitStack

from tests.support.chatlog import Person, eventually
from tests.support.topology import Topology
from tests.topology.desk_world import (
    SWEEP_SECONDS,
    Frames,
    assignee_of,
    get,
    in_queues,
    open_chat,
    seed_desk,
    set_limit,
    system_event,
    uid,
    until_both_nodes_see,
)


async def test_a_claim_and_a_transfer_on_one_node_are_heard_on_the_other(topology: Topology) -> None:
    """Agent 1 (socket on node 0) claims and then transfers; agent 2 (socket on node 1) is
    the lead of the transfer group: told of both, its second claim refused, and node 1's
    queues agree at every step."""
    world = await seed_desk(topology)
    one, two = world.agents
    # Both online with no room: the new chat is a live chat that waits in New for a claim
    # (with room, automatic assignment would take it; with nobody online it would be a
    # ticket from its start).
    await set_limit(world, one, 0, node=0)
    await set_limit(world, two, 0, node=1)
    # A transfer group made on node 1 and used on node 0: each process keeps the desk's
    # configuration until its version counter moves, so node 0 must see it at once.
    await topology.call(world.admin.token, "PUT", "/api/groups/support/field_service",
                        {"name": "Field service", "level": 2, "lead_id": uid(two)}, node=1, expect=200)
    visitor = await world.visitor("Vera")
    async with topology.client(one.token, node=0), topology.client(two.token, node=1) as second:
        await until_both_nodes_see(world, {one: "online", two: "online"}, what="both agents online")
        conv = await open_chat(topology, visitor, node=1, subject="Truck 7 offline")
        for node in (0, 1):
            queue, entry = await in_queues(topology, two, conv, node=node)
            assert (queue, entry["assignee"], entry["tracked"]) == ("new", None, False), f"node {node}"
        doorbells = Frames(second)
        await second.join(conv)
        doorbells.forget()

        claimed = await topology.call(one.token, "POST", f"/api/desk/conversations/{conv}/claim", {}, node=0, expect=200)
        assert claimed.json()["assignee"]["id"] == uid(one)
        # Agent 2's socket on node 1 hears of it: the staff doorbell and the internal event.
        await doorbells.wait("inbox", conversation_id=conv, reason="claimed")
        event = await system_event(second, conv, "ticket.assigned")
        assert (event["internal"], event["data"]["claimed"], event["data"]["assignee"]["id"]) == (True, True, uid(one))
        # The queues read on node 1 agree: still New (nobody answered yet), now agent 1's.
        queue, entry = await in_queues(topology, two, conv, node=1)
        assert (queue, entry["assignee"]["id"]) == ("new", uid(one))
        # Agent 2's claim on node 1 is refused, naming who answers; nothing changes.
        refused = await topology.call(two.token, "POST", f"/api/desk/conversations/{conv}/claim", {}, node=1, expect=409)
        error = refused.json()["error"]
        assert error["code"] == "already_claimed" and one.name in error["message"], error
        assert [await assignee_of(topology, one, conv, node=node) for node in (0, 1)] == [uid(one), uid(one)]

        moved = await topology.call(one.token, "POST", f"/api/tickets/{conv}/transfer",
                                    {"group": "field_service", "note": "needs a technician"}, node=0, expect=200)
        assert (moved.json()["ticket"]["level"], moved.json()["ticket"]["group"]) == (2, "field_service")
        # The lead's socket on node 1: the doorbell and the internal event.
        await doorbells.wait("inbox", conversation_id=conv, reason="ticket.transferred")
        event = await system_event(second, conv, "ticket.transferred")
        data = event["data"]
        assert (event["internal"], data["level"], data["group"], data["note"], data["from"], data["actor"]["id"]) == (
            True, 2, "field_service", "needs a technician", {"level": 1, "group": None}, uid(one))
        # Node 1's queues: in the group's queue, and nobody's: a transfer releases the claim
        # (issue 18), so the group's people pick it up; node 1 hears the release too.
        queue, entry = await in_queues(topology, two, conv, node=1)
        assert (queue, entry["group_name"], entry["level"]) == ("group:field_service", "Field service", 2)
        assert entry["assignee"] is None
        released = await system_event(second, conv, "ticket.assigned", after=event["seq"])
        assert (released["data"]["assignee"], released["data"]["released"]) == (None, True)
        board = await get(topology, two, "/api/desk/counts", node=1)
        assert (board["counts"]["group:field_service"], board["counts"]["new"]) == (1, 0)


async def _online(stack: AsyncExitStack, topology: Topology, who: Person, *, node: int) -> Frames:
    client = await stack.enter_async_context(topology.client(who.token, node=node))
    return Frames(client)


async def test_auto_assignment_round_robin_within_limits_to_online_agents_and_the_latest_away_wins(
    topology: Topology,
) -> None:
    """The issue's case: B has a console tab on each node and chooses "away" in the one on
    node 1; node 0, which still holds B's other (online before) tab, must stop giving B
    chats — the latest explicit choice wins cluster-wide."""
    world = await seed_desk(topology, agents=3)
    # c never connects. Counted online, c (never assigned) would take the third chat.
    a, b, c = world.agents
    await set_limit(world, a, 2, node=0)
    await set_limit(world, b, 2, node=1)
    on_0, on_1 = await world.visitor("Vic"), await world.visitor("Wes")
    visitors = {0: on_0, 1: on_1}

    async def chat_on(node: int, n: int) -> int:
        return await open_chat(topology, visitors[node], node=node, subject=f"chat {n}")

    async with AsyncExitStack() as stack:
        a_tab = await _online(stack, topology, a, node=0)
        b_tab_1 = await _online(stack, topology, b, node=1)
        b_tab_0 = await _online(stack, topology, b, node=0)  # B's other tab, on A's node
        await until_both_nodes_see(world, {a: "online", b: "online", c: "offline"}, what="A and B online, C not")

        # Round robin, alternating the node that takes the chat: A first (never assigned,
        # lower id), then whoever was assigned longest ago. The POST returns after the
        # chat's reactions, the assignment pass included.
        chats = [await chat_on(n % 2, n) for n in range(4)]
        got = [await assignee_of(topology, world.admin, conv, node=(n + 1) % 2) for n, conv in enumerate(chats)]
        assert got == [uid(a), uid(b), uid(a), uid(b)]
        # Both at their limit: the fifth waits in New.
        fifth = await chat_on(0, 4)
        queue, entry = await in_queues(topology, world.admin, fifth, node=1)
        assert (queue, entry["assignee"]) == ("new", None)

        # B steps away in the tab on node 1. Everyone, on both nodes, sees B away.
        a_tab.forget()
        await b_tab_1.client.presence("away")
        await a_tab.wait("presence", user_id=uid(b), status="away")
        await until_both_nodes_see(world, {a: "online", b: "away", c: "offline"}, what="B away everywhere")

        # Room for B, raised on node 0 (where B's other tab is connected): its pass must
        # not hand B the waiting chat — B is away.
        await set_limit(world, b, 5, node=0)
        assert await assignee_of(topology, world.admin, fifth, node=1) is None
        # Room for A, raised on node 1: the waiting chat is A's.
        await set_limit(world, a, 5, node=1)
        assert await assignee_of(topology, world.admin, fifth, node=0) == uid(a)
        # New chats on either node go to A only (were B online, B — assigned longest ago —
        # would be next).
        later = [await chat_on(0, 5), await chat_on(1, 6)]
        assert [await assignee_of(topology, world.admin, conv, node=1) for conv in later] == [uid(a), uid(a)]

        # Back: B chooses "online" in the tab on node 0; the next chat, on node 1, is B's.
        b_tab_1.forget()
        await b_tab_0.client.presence("online")
        await b_tab_1.wait("presence", user_id=uid(b), status="online")  # heard on node 1
        await until_both_nodes_see(world, {a: "online", b: "online", c: "offline"}, what="B back everywhere")
        back = await chat_on(1, 7)
        assert await assignee_of(topology, world.admin, back, node=0) == uid(b)


async def test_a_chat_closed_through_the_ticket_api_frees_its_agents_room_without_another_trigger(
    topology: Topology,
) -> None:
    """docs/http.md, "Automatic assignment": the sweep pass (``desk.assign``) catches what
    no trigger covered — a chat closed through the ticket API — "where presence is known".
    Every web process runs that pass (beside a separate worker too, which knows nobody
    online), so on both topologies the waiting chat is the agent's within a pass."""
    world = await seed_desk(topology, agents=1)
    (agent,) = world.agents
    await set_limit(world, agent, 1, node=0)
    visitor = await world.visitor("Vera")
    async with topology.client(agent.token, node=1):
        await until_both_nodes_see(world, {agent: "online"}, what="the agent online")
        first = await open_chat(topology, visitor, node=0, subject="first")
        second = await open_chat(topology, visitor, node=1, subject="second")
        assert [await assignee_of(topology, world.admin, c, node=0) for c in (first, second)] == [uid(agent), None]
        # Closed through the ticket API: no desk trigger runs.
        await topology.call(agent.token, "POST", f"/api/tickets/{first}/status", {"action": "close"}, node=1, expect=200)

        async def second_assigned() -> None:
            assert await assignee_of(topology, world.admin, second, node=0) == uid(agent)

        await eventually(second_assigned, timeout=SWEEP_SECONDS, what="the waiting chat assigned by the sweep",
                         interval=0.2)

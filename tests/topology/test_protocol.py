"""The delivery contract (docs/protocol.md) with the two sides of a chat on different nodes:
ack after commit, idempotent resend, resume, isolation and internal notes, read-only
staff, bad frames, typing and read positions.

The single-process versions stay in tests/chat/hub/test_delivery.py and test_ephemeral.py;
here every socket is placed on a node on purpose (the visitor on node 0 and the agent on
node 1 unless a test says otherwise), a dropped client comes back on the *other* node, and
what the sockets saw is compared with the stored log.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import pytest
from sqlalchemy import func, select

from chat.client import ChatClient, Frame, ProtocolError
from chat.conversations import start_conversation
from chat.models import Event, Role
from chat.services import Services
from tests.support.chatlog import (
    CheckedClient,
    Person,
    assert_same_log,
    bodies,
    new_staff,
    new_visitor,
    seed_support_chat,
    stored_log,
)
from tests.support.topology import Topology

VISITOR, AGENT = 0, 1  # the node of each side, unless a test says otherwise


@asynccontextmanager
async def checked(topology: Topology, person: Person, *, node: int) -> AsyncIterator[CheckedClient]:
    """A client on ``node`` that also checks the per-socket ordering promise (every event
    follows the last one: no gap, no repeat); a violation fails the test when it closes."""
    client = CheckedClient(topology.nodes[node].ws_url, person.token, timeout=10)
    async with client:
        yield client
    assert client.violations == [], f"{person.name} on node {node}"


async def move_and_reconnect(topology: Topology, client: ChatClient, *, node: int) -> None:
    """Resume ``client`` on ``node`` (a load balancer sending the reconnect elsewhere):
    re-authenticate, re-join from the last seen seqs, resend what is unacknowledged."""
    await client.drop()
    client.url = topology.nodes[node].ws_url
    await client.reconnect()


async def stored_count(svc: Services) -> int:
    async with svc.sessions() as db:
        return int(await db.scalar(select(func.count()).select_from(Event)) or 0)


async def frames_until(client: ChatClient, kind: str, timeout: float = 5.0) -> list[Frame]:
    """Every non-event frame up to and including the next one of type ``kind``: what came
    before it on this socket, for checks that something did *not* come."""
    seen: list[Frame] = []
    while not seen or seen[-1].get("type") != kind:
        seen.append(await client.next_frame(timeout=timeout))
    return seen


async def test_a_message_is_acked_then_delivered_to_both_sides(topology: Topology) -> None:
    chat = await seed_support_chat(topology.services)
    conv = chat.conversation_id
    async with checked(topology, chat.visitor, node=VISITOR) as visitor, \
            checked(topology, chat.agent, node=AGENT) as agent:
        joined = await visitor.join(conv)
        assert joined["last_seq"] == 1  # conversation.created
        await agent.join(conv)
        await visitor.wait_for_seq(conv, 1)
        ack = await visitor.send(conv, "hello, my printer is on fire")
        assert ack["duplicate"] is False and ack["seq"] == 2
        got = await agent.wait_for_seq(conv, 2)
        assert [e["seq"] for e in got] == [1, 2]
        assert got[-1]["body"] == "hello, my printer is on fire"
        assert got[-1]["author"]["name"] == "Vera Visitor"
        reply = await agent.send(conv, "Please step away from the printer.")
        # The agent's first reply also adds them as a participant: a system event first.
        assert reply["seq"] == 4
        log = await visitor.wait_for_seq(conv, 4)
        assert [(e["kind"], e["seq"]) for e in log] == [("system", 1), ("message", 2), ("system", 3), ("message", 4)]
        assert log[2]["data"]["event"] == "participant.joined"
        await agent.wait_for_seq(conv, 4)
        assert_same_log(visitor.events(conv), await stored_log(topology.services, chat.visitor.principal, conv),
                        "visitor")
        assert_same_log(agent.events(conv), await stored_log(topology.services, chat.agent.principal, conv), "agent")


async def test_a_resend_with_the_same_client_msg_id_stores_nothing_new(topology: Topology) -> None:
    chat = await seed_support_chat(topology.services)
    conv = chat.conversation_id
    async with checked(topology, chat.agent, node=AGENT) as agent, \
            topology.client(chat.visitor.token, node=VISITOR) as visitor, \
            topology.client(chat.visitor.token, node=1) as second_tab:
        await agent.join(conv)
        await visitor.join(conv)
        await second_tab.join(conv)
        first = await visitor.send(conv, "once", client_msg_id="fixed-id-1")
        assert first["duplicate"] is False
        again = await visitor.send(conv, "once", client_msg_id="fixed-id-1")
        # The same id from the visitor's socket on the other node: the same stored original.
        elsewhere = await second_tab.send(conv, "once", client_msg_id="fixed-id-1")
        for ack in (again, elsewhere):
            assert ack["duplicate"] is True
            assert (ack["id"], ack["seq"]) == (first["id"], first["seq"])
        # A later message is the next event: nothing was stored (or delivered) in between.
        later = await visitor.send(conv, "twice?")
        assert later["seq"] == first["seq"] + 1
        await agent.wait_for_seq(conv, later["seq"])
        assert bodies(agent.events(conv)) == ["once", "twice?"]
    log = await stored_log(topology.services, chat.agent.principal, conv)
    assert bodies(log) == ["once", "twice?"]
    assert_same_log(agent.events(conv), log, "agent")


async def test_resume_on_the_other_node_after_a_drop_gets_everything_in_order_once(topology: Topology) -> None:
    chat = await seed_support_chat(topology.services)
    conv = chat.conversation_id
    async with checked(topology, chat.visitor, node=VISITOR) as visitor, \
            checked(topology, chat.agent, node=AGENT) as agent:
        await visitor.join(conv)
        await agent.join(conv)
        await visitor.send(conv, "before the drop")
        await visitor.wait_for_seq(conv, 2)
        await visitor.drop()
        for i in range(5):
            await agent.send(conv, f"while away {i}")
        await move_and_reconnect(topology, visitor, node=1)
        stored = await stored_log(topology.services, chat.visitor.principal, conv)
        await visitor.wait_for_seq(conv, stored[-1]["seq"])
        assert_same_log(visitor.events(conv), stored, "visitor")
        assert bodies(visitor.events(conv)) == ["before the drop"] + [f"while away {i}" for i in range(5)]
        # After the resume, live delivery continues on the new node.
        ack = await agent.send(conv, "welcome back")
        await visitor.wait_for_seq(conv, int(ack["seq"]))
        assert_same_log(visitor.events(conv), await stored_log(topology.services, chat.visitor.principal, conv),
                        "visitor")


async def test_unacked_sends_are_resent_exactly_once_after_reconnecting_on_the_other_node(
    topology: Topology,
) -> None:
    chat = await seed_support_chat(topology.services)
    conv = chat.conversation_id
    async with checked(topology, chat.agent, node=AGENT) as agent, \
            topology.client(chat.visitor.token, node=VISITOR) as visitor:
        await agent.join(conv)
        await visitor.join(conv)
        ids = [await visitor.send_nowait(conv, f"queued {i}") for i in range(5)]
        # Some of these may or may not have been stored by node 0 (it may still be storing
        # them) when node 1 gets them again: reconnect() resends each and waits for its answer.
        await move_and_reconnect(topology, visitor, node=1)
        assert not visitor.unacked
        log = await stored_log(topology.services, chat.agent.principal, conv)
        assert bodies(log) == [f"queued {i}" for i in range(5)]
        assert [e["client_msg_id"] for e in log if e["kind"] == "message"] == ids
        # The agent's socket saw each of them once, in order.
        await agent.wait_for_seq(conv, log[-1]["seq"])
        assert_same_log(agent.events(conv), log, "agent")


async def test_customers_never_see_other_customers_events_or_internal_notes(topology: Topology) -> None:
    chat = await seed_support_chat(topology.services)
    conv = chat.conversation_id
    other = await new_visitor(topology.services, chat.site_key, "Oscar Other")
    own = (await start_conversation(topology.services, other.principal, subject="Mine")).conversation.id
    async with (
        checked(topology, chat.visitor, node=0) as visitor,
        checked(topology, other, node=1) as stranger,
        checked(topology, chat.agent, node=1) as agent,
        checked(topology, chat.agent2, node=0) as colleague,
    ):
        await visitor.join(conv)
        await agent.join(conv)
        await colleague.join(conv)
        await stranger.join(own)
        await agent.join(own)
        with pytest.raises(ProtocolError) as refused:
            await stranger.join(conv)
        assert refused.value.code == "not_found"
        await agent.send(conv, "note: customer seems upset", internal=True)
        await agent.send(conv, "public reply")
        # The colleague on the other node gets the note; the customer on that node does not.
        colleague_log = await colleague.wait_for_seq(conv, 4)
        assert [e["kind"] for e in colleague_log] == ["system", "note", "system", "message"]
        assert colleague_log[1]["body"] == "note: customer seems upset" and colleague_log[1]["internal"] is True
        visitor_log = await visitor.wait_for_seq(conv, 4)
        assert [e["kind"] for e in visitor_log] == ["system", "system", "message"]
        assert all("upset" not in (e["body"] or "") for e in visitor_log)
        # prev_seq skips the hidden note, so the customer's client sees no gap.
        assert [(e["seq"], e["prev_seq"]) for e in visitor_log] == [(1, 0), (3, 1), (4, 3)]
        with pytest.raises(ProtocolError) as note:
            await visitor.send(conv, "I want to write a note", internal=True)
        assert note.value.code == "forbidden"
        # The stranger's own conversation, answered after all of the above: by the time it
        # arrives, anything of the other conversation would have too.
        mark = await agent.send(own, "your turn")
        await stranger.wait_for_seq(own, int(mark["seq"]))
        assert set(stranger.log) == {own}
    assert_same_log(visitor.events(conv), await stored_log(topology.services, chat.visitor.principal, conv), "visitor")
    assert_same_log(colleague.events(conv), await stored_log(topology.services, chat.agent2.principal, conv),
                    "colleague")
    assert [e["kind"] for e in await stored_log(topology.services, chat.visitor.principal, conv)] == \
        ["system", "system", "message"]


async def test_read_only_staff_watch_but_cannot_send(topology: Topology) -> None:
    chat = await seed_support_chat(topology.services)
    conv = chat.conversation_id
    readonly = await new_staff(topology.services, "ro@x.example", Role.READ_ONLY)
    async with checked(topology, readonly, node=1) as ro, checked(topology, chat.visitor, node=0) as visitor:
        await ro.join(conv)
        await visitor.join(conv)
        await visitor.send(conv, "hi")
        await ro.wait_for_seq(conv, 2)
        for text, internal in (("I am read-only", False), ("a read-only note", True)):
            with pytest.raises(ProtocolError) as refused:
                await ro.send(conv, text, internal=internal)
            assert refused.value.code == "forbidden"
    log = await stored_log(topology.services, chat.agent.principal, conv)
    assert len(log) == 2
    assert_same_log(ro.events(conv), log, "read-only")


BAD_FRAMES = [
    ("not json", "invalid_json"),
    ('{"type": "teleport"}', "invalid_frame"),
    ('{"type": "send", "conversation_id": 1}', "invalid_frame"),
    ('{"type": "send", "conversation_id": "1", "client_msg_id": "a", "body": "x"}', "invalid_frame"),
    ('{"type": "send", "conversation_id": 1, "client_msg_id": "a", "body": "x", "evil": 1}', "invalid_frame"),
    ('{"type": "send", "conversation_id": CONV, "client_msg_id": "a", "body": "   "}', "invalid_frame"),
    ('{"type": "send", "conversation_id": CONV, "client_msg_id": "b", "body": "' + "x" * 10_001 + '"}',
     "message_too_long"),
    ('{"type": "send", "conversation_id": 999999, "client_msg_id": "c", "body": "x"}', "not_joined"),
    ('{"type": "join", "conversation_id": 999999}', "not_found"),
    ('{"type": "presence", "status": "online"}', "forbidden"),
    ('{"type": "auth", "token": "again"}', "already_authenticated"),
]


async def test_bad_frames_get_error_frames_and_change_nothing(topology: Topology) -> None:
    chat = await seed_support_chat(topology.services)
    conv = chat.conversation_id
    before = await stored_count(topology.services)
    async with checked(topology, chat.agent, node=AGENT) as agent:
        await agent.join(conv)
        for node in (0, 1):  # each node's handling of the same bad input
            async with topology.client(chat.visitor.token, node=node) as visitor:
                await visitor.join(conv)
                for text, code in BAD_FRAMES:
                    await visitor.raw(text.replace("CONV", str(conv)))
                    frame = await visitor.next_frame("error")
                    assert frame["code"] == code, (node, text[:60], frame)
                assert (await visitor.ping())["type"] == "pong"
        assert await stored_count(topology.services) == before
        # A good message afterwards is the next event: nothing was stored or delivered before it.
        async with topology.client(chat.visitor.token, node=VISITOR) as visitor:
            await visitor.join(conv)
            ack = await visitor.send(conv, "a good one")
        assert ack["seq"] == 2
        log = await agent.wait_for_seq(conv, 2)
        assert [(e["seq"], e["body"]) for e in log] == [(1, None), (2, "a good one")]


async def test_typing_reaches_the_others_only_and_is_not_stored(topology: Topology) -> None:
    chat = await seed_support_chat(topology.services)
    conv = chat.conversation_id
    async with topology.client(chat.visitor.token, node=VISITOR) as visitor, \
            topology.client(chat.visitor.token, node=1) as visitor_tab, \
            topology.client(chat.agent.token, node=AGENT) as agent, \
            topology.client(chat.agent2.token, node=0) as colleague:
        for client in (visitor, visitor_tab, agent, colleague):
            await client.join(conv)
        before = await stored_count(topology.services)
        await visitor.typing(conv, "start")
        for client in (agent, colleague):  # on both nodes
            frame = await client.next_frame("typing")
            assert frame["user"] == {"id": chat.visitor.principal.user_id, "name": "Vera Visitor", "role": "visitor"}
            assert (frame["conversation_id"], frame["state"]) == (conv, "start")
        # The agent answers after hearing the visitor: on each of the visitor's sockets the
        # agent's "stop" is the first typing frame — their own "start" never came back,
        # on the node they typed on or the other.
        await agent.typing(conv, "stop")
        for client in (visitor, visitor_tab):
            typing = [f for f in await frames_until(client, "typing") if f.get("type") == "typing"]
            assert [(f["user"]["id"], f["state"]) for f in typing] == [(chat.agent.principal.user_id, "stop")]
        frame = await colleague.next_frame("typing")
        assert (frame["user"]["id"], frame["state"]) == (chat.agent.principal.user_id, "stop")
        assert await stored_count(topology.services) == before


async def test_the_read_position_is_stored_and_announced_across_nodes(topology: Topology) -> None:
    chat = await seed_support_chat(topology.services)
    conv = chat.conversation_id
    visitor_id = chat.visitor.principal.user_id
    async with topology.client(chat.visitor.token, node=VISITOR) as visitor, \
            topology.client(chat.agent.token, node=AGENT) as agent:
        await visitor.join(conv)
        await agent.join(conv)
        await agent.send(conv, "hello")
        await visitor.wait_for_seq(conv, 3)
        await visitor.read(conv, 3)
        frame = await agent.next_frame("read")
        assert frame == {"type": "read", "conversation_id": conv, "user_id": visitor_id, "seq": 3}
        await visitor.read(conv, 1)  # never moves back
        assert (await agent.next_frame("read"))["seq"] == 3
        await visitor.read(conv, 999)  # never past the end
        assert (await agent.next_frame("read"))["seq"] == 3
    # Stored: read back over HTTP and in a new socket's `joined` on either node.
    for node in (0, 1):
        r = await topology.call(chat.visitor.token, "GET", f"/api/conversations/{conv}", node=node, expect=200)
        assert r.json()["conversation"]["read_seq"] == 3
        async with topology.client(chat.visitor.token, node=node) as again:
            assert (await again.join(conv))["read_seq"] == 3

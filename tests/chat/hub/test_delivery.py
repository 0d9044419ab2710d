"""Delivery over real sockets: ack after commit, idempotent resend, resume, isolation."""

from __future__ import annotations

import asyncio

import pytest

from chat.client import ProtocolError
from tests.chat.hub.helpers import World, make_world, stored_log
from tests.support.live import LiveServer


@pytest.fixture
async def world(server: LiveServer) -> World:
    return await make_world(server)


async def test_message_is_acked_then_delivered_to_both_sides(world: World) -> None:
    conv = world.conversation_id
    async with world.client(world.customer_token) as visitor, world.client(world.agent_token) as agent:
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


async def test_resend_with_the_same_id_stores_nothing(world: World) -> None:
    conv = world.conversation_id
    async with world.client(world.customer_token) as visitor:
        await visitor.join(conv)
        first = await visitor.send(conv, "once", client_msg_id="fixed-id-1")
        again = await visitor.send(conv, "once", client_msg_id="fixed-id-1")
        assert again["duplicate"] is True
        assert (again["id"], again["seq"]) == (first["id"], first["seq"])
    log = await stored_log(world.server, conv, world.agent_token)
    assert [e["body"] for e in log if e["kind"] == "message"] == ["once"]


async def test_resume_after_a_drop_gets_everything_in_order_once(world: World) -> None:
    conv = world.conversation_id
    async with world.client(world.customer_token) as visitor, world.client(world.agent_token) as agent:
        await visitor.join(conv)
        await agent.join(conv)
        await visitor.send(conv, "before the drop")
        await visitor.wait_for_seq(conv, 2)
        await visitor.drop()
        for i in range(5):
            await agent.send(conv, f"while away {i}")
        await visitor.reconnect()
        stored = await stored_log(world.server, conv, world.customer_token)
        log = await visitor.wait_for_seq(conv, stored[-1]["seq"])
        assert [e["seq"] for e in log] == [e["seq"] for e in stored]
        assert [e["body"] for e in log if e["kind"] == "message"] == ["before the drop"] + [f"while away {i}" for i in range(5)]


async def test_unacked_sends_are_resent_exactly_once_after_reconnect(world: World) -> None:
    conv = world.conversation_id
    async with world.client(world.customer_token) as visitor:
        await visitor.join(conv)
        ids = [await visitor.send_nowait(conv, f"queued {i}") for i in range(5)]
        await visitor.drop()  # some of these may or may not have been stored
        await visitor.reconnect()
        await asyncio.sleep(0.2)
        for _ in range(50):
            if not visitor.unacked:
                break
            await asyncio.sleep(0.1)
        assert not visitor.unacked
    log = await stored_log(world.server, conv, world.agent_token)
    bodies = [e["body"] for e in log if e["kind"] == "message"]
    assert bodies == [f"queued {i}" for i in range(5)]
    assert [e["client_msg_id"] for e in log if e["kind"] == "message"] == ids


async def test_customers_never_see_other_customers_or_internal_notes(world: World) -> None:
    conv = world.conversation_id
    async with (
        world.client(world.customer_token) as visitor,
        world.client(world.other_customer_token) as stranger,
        world.client(world.agent_token) as agent,
    ):
        await visitor.join(conv)
        await agent.join(conv)
        with pytest.raises(ProtocolError) as refused:
            await stranger.join(conv)
        assert refused.value.code == "not_found"
        await agent.send(conv, "note: customer seems upset", internal=True)
        await agent.send(conv, "public reply")
        agent_log = await agent.wait_for_seq(conv, 4)
        assert [e["kind"] for e in agent_log] == ["system", "note", "system", "message"]
        visitor_log = await visitor.wait_for_seq(conv, 4)
        assert [e["kind"] for e in visitor_log] == ["system", "system", "message"]
        assert all("upset" not in (e["body"] or "") for e in visitor_log)
        # prev_seq skips the hidden note, so the customer's client sees no gap.
        assert [(e["seq"], e["prev_seq"]) for e in visitor_log] == [(1, 0), (3, 1), (4, 3)]
        with pytest.raises(ProtocolError) as note:
            await visitor.send(conv, "I want to write a note", internal=True)
        assert note.value.code == "forbidden"
        await asyncio.sleep(0.2)
        assert stranger.log == {}
    history = await stored_log(world.server, conv, world.customer_token)
    assert [e["kind"] for e in history] == ["system", "system", "message"]


async def test_read_only_staff_watch_but_cannot_send(world: World) -> None:
    conv = world.conversation_id
    async with world.client(world.readonly_token) as ro, world.client(world.customer_token) as visitor:
        await ro.join(conv)
        await visitor.join(conv)
        await visitor.send(conv, "hi")
        await ro.wait_for_seq(conv, 2)
        with pytest.raises(ProtocolError) as refused:
            await ro.send(conv, "I am read-only")
        assert refused.value.code == "forbidden"
    assert len(await stored_log(world.server, conv, world.agent_token)) == 2


async def test_bad_frames_get_error_frames_and_change_nothing(world: World) -> None:
    conv = world.conversation_id
    async with world.client(world.customer_token) as visitor:
        await visitor.join(conv)
        cases = [
            ("not json", "invalid_json"),
            ('{"type": "teleport"}', "invalid_frame"),
            ('{"type": "send", "conversation_id": 1}', "invalid_frame"),
            ('{"type": "send", "conversation_id": "1", "client_msg_id": "a", "body": "x"}', "invalid_frame"),
            ('{"type": "send", "conversation_id": 1, "client_msg_id": "a", "body": "x", "evil": 1}', "invalid_frame"),
            (f'{{"type": "send", "conversation_id": {conv}, "client_msg_id": "a", "body": "   "}}', "invalid_frame"),
            (f'{{"type": "send", "conversation_id": {conv}, "client_msg_id": "b", "body": "{"x" * 10_001}"}}',
             "message_too_long"),
            ('{"type": "send", "conversation_id": 999999, "client_msg_id": "c", "body": "x"}', "not_joined"),
            ('{"type": "join", "conversation_id": 999999}', "not_found"),
            ('{"type": "presence", "status": "online"}', "forbidden"),
            ('{"type": "auth", "token": "again"}', "already_authenticated"),
        ]
        for text, code in cases:
            await visitor.raw(text)
            frame = await visitor.next_frame("error")
            assert frame["code"] == code, (text[:60], frame)
        assert (await visitor.ping())["type"] == "pong"
    assert len(await stored_log(world.server, conv, world.agent_token)) == 1


async def test_a_closed_socket_for_a_disabled_user(world: World) -> None:
    from chat import directory

    conv = world.conversation_id
    async with world.client(world.customer_token) as visitor:
        await visitor.join(conv)
        await directory.set_user_disabled(world.server.services, None, world.customer.user_id, disabled=True)
        assert await visitor.wait_closed(5) == 4409

"""Rules of docs/protocol.md a third-party client relies on, checked as documented: reusing a
``client_msg_id``, staff-only frames from a customer, how ``body`` is measured."""

from __future__ import annotations

import json

import httpx
import pytest

from chat.client import ProtocolError
from tests.chat.hub.helpers import World, make_world, stored_log
from tests.support.live import LiveServer


@pytest.fixture
async def world(server: LiveServer) -> World:
    return await make_world(server)


async def test_a_reused_client_msg_id_stores_nothing_new(world: World, http: httpx.AsyncClient) -> None:
    """Per author: the same id again in the same conversation is the original's ``ack``
    (``duplicate: true``) whatever the body — the new body is not stored; in another
    conversation it is refused (``invalid_frame``). Another author's same id is theirs."""
    conv = world.conversation_id
    r = await http.post("/api/conversations", json={"subject": "Another"},
                        headers={"Authorization": f"Bearer {world.customer_token}"})
    assert r.status_code == 201, r.text
    other_conv = r.json()["conversation"]["id"]
    async with world.client(world.customer_token) as customer, world.client(world.agent_token) as agent:
        await customer.join(conv)
        await customer.join(other_conv)
        first = await customer.send(conv, "the original", client_msg_id="same-id")
        again = await customer.send(conv, "another body", client_msg_id="same-id")
        assert again["duplicate"] and (again["id"], again["seq"]) == (first["id"], first["seq"])
        with pytest.raises(ProtocolError) as refused:
            await customer.send(other_conv, "elsewhere", client_msg_id="same-id")
        assert refused.value.code == "invalid_frame" and refused.value.frame["conversation_id"] == other_conv
        await agent.join(conv)
        theirs = await agent.send(conv, "the agent's", client_msg_id="same-id")
        assert not theirs["duplicate"]
    bodies = [e["body"] for e in await stored_log(world.server, conv, world.agent_token) if e["kind"] == "message"]
    assert bodies.count("the original") == 1 and "another body" not in bodies and "the agent's" in bodies
    assert "elsewhere" not in [e["body"] for e in await stored_log(world.server, other_conv, world.agent_token)]


async def test_staff_only_frames_from_a_customer_are_forbidden(world: World) -> None:
    async with world.client(world.customer_token) as customer:
        await customer.join(world.conversation_id)
        for frame in ({"type": "presence", "status": "away", "ref": "p"},
                      {"type": "viewing", "conversation_id": world.conversation_id, "mode": "viewing", "ref": "v"}):
            await customer.raw(json.dumps(frame))
            refused_frame = await customer.next_frame("error")
            assert (refused_frame["code"], refused_frame["ref"]) == ("forbidden", frame["ref"])
        with pytest.raises(ProtocolError) as refused:
            await customer.send(world.conversation_id, "psst", internal=True)
        assert refused.value.code == "forbidden"


async def test_body_length_counts_code_points(world: World) -> None:
    """``MAX_MESSAGE_CHARS`` (10 000) counts code points: 10 000 emoji (40 000 UTF-8 bytes,
    20 000 UTF-16 units) are one message; one more is ``message_too_long``."""
    limit = world.server.services.settings.max_message_chars
    async with world.client(world.customer_token) as customer:
        await customer.join(world.conversation_id)
        assert not (await customer.send(world.conversation_id, "😀" * limit))["duplicate"]
        with pytest.raises(ProtocolError) as refused:
            await customer.send(world.conversation_id, "😀" * (limit + 1))
        assert refused.value.code == "message_too_long"

"""Typing, read receipts, presence with a grace period, and who is viewing — never stored."""

from __future__ import annotations

import asyncio

import httpx
import pytest
from sqlalchemy import func, select

from chat.models import Event
from tests.chat.hub.helpers import World, make_world
from tests.support.live import LiveServer


@pytest.fixture
async def world(server: LiveServer) -> World:
    return await make_world(server)


async def _events(world: World) -> int:
    async with world.server.services.sessions() as db:
        return int(await db.scalar(select(func.count()).select_from(Event)) or 0)


async def test_typing_reaches_the_others_only_and_is_not_stored(world: World) -> None:
    conv = world.conversation_id
    async with world.client(world.customer_token) as visitor, world.client(world.agent_token) as agent:
        await visitor.join(conv)
        await agent.join(conv)
        before = await _events(world)
        await visitor.typing(conv, "start")
        frame = await agent.next_frame("typing")
        assert frame["user"]["name"] == "Vera Visitor" and frame["state"] == "start"
        await agent.typing(conv, "stop")
        assert (await visitor.next_frame("typing"))["state"] == "stop"
        with pytest.raises(TimeoutError):
            await visitor.next_frame("typing", timeout=0.5)  # not its own echo
        assert await _events(world) == before


async def test_read_position_is_stored_and_announced(world: World) -> None:
    conv = world.conversation_id
    async with world.client(world.customer_token) as visitor, world.client(world.agent_token) as agent:
        await visitor.join(conv)
        await agent.join(conv)
        await agent.send(conv, "hello")
        await visitor.wait_for_seq(conv, 3)
        await visitor.read(conv, 3)
        frame = await agent.next_frame("read")
        assert (frame["user_id"], frame["seq"]) == (world.customer.user_id, 3)
        await visitor.read(conv, 1)  # never moves back
        await visitor.read(conv, 999)  # never past the end
        await agent.next_frame("read")
        await agent.next_frame("read")
    async with httpx.AsyncClient(base_url=world.server.base_url) as http:
        r = await http.get(f"/api/conversations/{conv}", headers={"Authorization": f"Bearer {world.customer_token}"})
    assert r.json()["conversation"]["read_seq"] == 3


async def test_presence_survives_a_quick_reconnect_and_expires_after_the_grace(world: World) -> None:
    world.server.hub.presence.grace_seconds = 1.0
    async with world.client(world.agent2_token) as watcher:
        agent = world.client(world.agent_token)
        ready = await agent.connect()
        agent_id = ready["user"]["id"]

        async def status_of(uid: int, timeout: float = 5.0) -> str:
            while True:
                frame = await watcher.next_frame("presence", timeout=timeout)
                if frame["user_id"] == uid:
                    return str(frame["status"])

        assert await status_of(agent_id) == "online"
        await agent.presence("away")
        assert await status_of(agent_id) == "away"
        await agent.presence("online")
        assert await status_of(agent_id) == "online"
        await agent.drop()
        await agent.connect()  # back within the grace period: nobody sees "offline"
        with pytest.raises(TimeoutError):
            await status_of(agent_id, timeout=1.5)
        await agent.close()
        assert await status_of(agent_id, timeout=5) == "offline"


async def test_customers_cannot_announce_presence_or_viewing(world: World) -> None:
    conv = world.conversation_id
    async with world.client(world.customer_token) as visitor:
        await visitor.join(conv)
        await visitor.presence("online")
        assert (await visitor.next_frame("error"))["code"] == "forbidden"
        await visitor.viewing(conv, "answering")
        assert (await visitor.next_frame("error"))["code"] == "forbidden"


async def test_agents_see_who_is_viewing_and_answering(world: World) -> None:
    conv = world.conversation_id
    async with (
        world.client(world.agent_token) as alice,
        world.client(world.agent2_token) as bob,
        world.client(world.customer_token) as visitor,
    ):
        await visitor.join(conv)
        await alice.join(conv)
        await bob.join(conv)
        await alice.viewing(conv, "viewing")

        async def viewers_of(client: object, want: list[tuple[str, str]]) -> None:
            while True:
                frame = await client.next_frame("viewers")  # type: ignore[attr-defined]
                if [(v["name"], v["mode"]) for v in frame["viewers"]] == want:
                    return

        await viewers_of(bob, [("agent", "viewing")])
        await alice.viewing(conv, "answering")
        await viewers_of(bob, [("agent", "answering")])
        await bob.viewing(conv, "viewing")
        await viewers_of(alice, [("agent", "answering"), ("agent2", "viewing")])
        await alice.leave(conv)
        await viewers_of(bob, [("agent2", "viewing")])
        await asyncio.sleep(0.3)
        assert all(f.get("type") != "viewers" for f in list(visitor.frames._queue))  # type: ignore[attr-defined]

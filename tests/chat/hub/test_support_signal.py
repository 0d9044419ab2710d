"""The ``support`` frame on real sockets: customers' sockets learn right after ``ready``
whether any agent is online, and again whenever that flips — agents connecting, going
away, and leaving for good only after the presence grace period."""

from __future__ import annotations

import pytest

from chat.client import ChatClient, Frame
from chat.events import STAFF_CHANNEL
from chat.models import Role
from tests.chat.hub.helpers import World, make_world
from tests.support.chatlog import new_staff
from tests.support.live import LiveServer

QUIET = 0.6  # long enough for a frame that was coming to have come, on a loaded machine


@pytest.fixture
async def world(server: LiveServer) -> World:
    return await make_world(server)


async def next_support(client: ChatClient, timeout: float = 5.0) -> bool:
    frame = await client.next_frame("support", timeout=timeout)
    assert set(frame) == {"type", "agents_online"}, frame
    return bool(frame["agents_online"])


async def no_support(client: ChatClient) -> None:
    with pytest.raises(TimeoutError):
        await client.next_frame("support", timeout=QUIET)


def first_frame(client: ChatClient) -> Frame:
    """The first frame queued after ``ready`` (events and answers are not queued)."""
    return client.frames.get_nowait()


async def test_customers_hear_right_after_ready_and_on_every_flip(world: World) -> None:
    world.server.hub.presence.grace_seconds = 1.0
    async with world.client(world.customer_token) as visitor:
        await visitor.ping()  # everything sent before the pong is queued by now
        assert first_frame(visitor) == {"type": "support", "agents_online": False}

        agent = world.client(world.agent_token)
        await agent.connect()
        assert await next_support(visitor) is True
        # A second customer arriving now is told at once.
        async with world.client(world.other_customer_token) as other:
            await other.ping()
            assert first_frame(other) == {"type": "support", "agents_online": True}

        await agent.presence("away")
        assert await next_support(visitor) is False
        await agent.presence("online")
        assert await next_support(visitor) is True

        # A reload within the grace period is no flip at all.
        await agent.drop()
        await agent.connect()
        await no_support(visitor)
        # Gone for good: offline once the grace period is over, not before.
        await agent.close()
        await no_support(visitor)
        assert await next_support(visitor, timeout=5) is False


async def test_only_people_who_answer_chats_count_and_staff_get_no_support_frame(world: World) -> None:
    world.server.hub.presence.grace_seconds = 0.2
    async with world.client(world.customer_token) as visitor:
        assert await next_support(visitor) is False
        # Read-only staff are present to colleagues but answer nobody.
        async with world.client(world.readonly_token) as readonly:
            await readonly.ping()
            assert all(f.get("type") != "support" for f in _drain(readonly))
            await no_support(visitor)
        admin = await new_staff(world.server.services, "boss@x.example", Role.SUPPORT_ADMIN)
        async with world.client(admin.token) as boss:
            assert await next_support(visitor) is True
            await boss.ping()
            assert all(f.get("type") != "support" for f in _drain(boss))
        assert await next_support(visitor, timeout=5) is False


async def test_agents_heard_from_another_process_count_too(world: World) -> None:
    """Presence announced over the broker by another process flips it the same way."""
    svc = world.server.services
    async with world.client(world.customer_token) as visitor, world.client(world.agent_token) as agent:
        assert await next_support(visitor) is False
        assert await next_support(visitor) is True
        assert agent.ready is not None
        elsewhere = {"type": "presence", "user_id": agent.ready["user"]["id"], "name": "agent", "status": "online",
                     "process": "another-process"}
        await svc.publish(STAFF_CHANNEL, elsewhere)  # the same agent, also connected there
        await no_support(visitor)
        await agent.presence("away")  # the latest choice, wherever the other socket is
        assert await next_support(visitor) is False
        # A later choice made there ("online", stamped after ours) wins here too.
        later = {**elsewhere, "chosen": [2**52, "another-process"]}
        await svc.publish(STAFF_CHANNEL, later)
        assert await next_support(visitor) is True
        await svc.publish(STAFF_CHANNEL, {**elsewhere, "status": None})  # that process lets go:
        await no_support(visitor)  # the choice it made is held here now


def _drain(client: ChatClient) -> list[Frame]:
    items = []
    while not client.frames.empty():
        items.append(client.frames.get_nowait())
    return items

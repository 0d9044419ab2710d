"""Redis stopped and started under two live server processes, mid-stream.

The broker is only a doorbell (docs: DESIGN.md, "Delivery guarantees"): while it is away
sends keep committing and are acknowledged, every socket is told ``{"type": "status",
"live": false}``; when it returns, every socket is told ``live: true`` and is brought up
to the database's log by the server — no gap, no repeat, nothing asked of the client.
Every wait is bounded: a hang is a failure, not a stuck run.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import msgspec
import pytest
import redis.asyncio as aioredis

from chat.broker import BrokerUnavailable, create_broker
from chat.conversations import start_conversation
from chat.events import conversation_channel
from chat.hub.connection import Connection, Room
from chat.hub.hub import Hub
from chat.hub.presence import Presence
from chat.services import Services
from chat.wiring import build_services
from tests.conftest import TEST_SECRET, make_settings
from tests.support.chatlog import (
    CheckedClient,
    SupportChat,
    assert_ordered_prefix,
    assert_same_log,
    eventually,
    seed_support_chat,
    stored_log,
)
from tests.support.cluster import server_processes
from tests.support.processes import RedisServer, start_redis

# How long the hub may take to notice a lost broker, and to notice it is back. The hub
# retries with backoff 0.5, 1, 2, 4 … s, so a 2 s outage is over by its ~4th attempt.
NOTICE_LOSS_SECONDS = 5.0
NOTICE_RETURN_SECONDS = 15.0
# A send must not wait on a dead broker: the publish fails fast and the ack has gone.
MAX_SEND_SECONDS = 2.0
OUTAGE_SECONDS = 2.0


class Redis:
    """A private redis-server that can be stopped and started again on the same port."""

    def __init__(self) -> None:
        self.server: RedisServer | None = start_redis()
        self.port = self.server.port
        self.url = self.server.url

    async def stop(self) -> None:
        assert self.server is not None
        server, self.server = self.server, None
        await asyncio.to_thread(server.stop)

    async def start(self) -> None:
        assert self.server is None
        self.server = await asyncio.to_thread(start_redis, self.port)

    def close(self) -> None:
        if self.server is not None:
            self.server.stop()


@pytest.fixture
def redis() -> Iterator[Redis]:
    instance = Redis()
    try:
        yield instance
    finally:
        instance.close()



async def next_status(client: CheckedClient, timeout: float) -> dict[str, Any]:
    return await client.next_frame("status", timeout=timeout)


class Talker:
    """A client that keeps sending, acked one by one, and times every ack."""

    def __init__(self, client: CheckedClient, conv: int, who: str, gap: float, internal_every: int = 0) -> None:
        self.client, self.conv, self.who, self.gap, self.internal_every = client, conv, who, gap, internal_every
        self.acks: list[dict[str, Any]] = []
        self.slowest = 0.0
        self._stop = asyncio.Event()
        self.task = asyncio.create_task(self._run())

    async def _run(self) -> None:
        i = 0
        while not self._stop.is_set():
            started = time.monotonic()
            internal = bool(self.internal_every) and i % self.internal_every == 1
            ack = await self.client.send(self.conv, f"{self.who} {i}", internal=internal)
            self.slowest = max(self.slowest, time.monotonic() - started)
            assert ack["duplicate"] is False
            self.acks.append(ack)
            i += 1
            await asyncio.sleep(self.gap)

    async def stop(self) -> None:
        self._stop.set()
        await asyncio.wait_for(self.task, 10)


async def test_redis_stopped_and_started_mid_stream(
    db_url: str, tmp_path: Path, redis: Redis, seeded: tuple[Services, SupportChat]
) -> None:
    svc, chat = seeded
    conv = chat.conversation_id
    env = {"DATABASE_URL": db_url, "REDIS_URL": redis.url, "SECRET_KEY": TEST_SECRET, "AUTO_MIGRATE": "false"}
    async with (
        asyncio.timeout(150),
        server_processes(["A", "B"], env, tmp_path / "servers") as (a, b),
    ):
        visitor = CheckedClient(a.ws_url, chat.visitor.token)  # on A
        agent = CheckedClient(b.ws_url, chat.agent.token)  # on B
        watcher = CheckedClient(a.ws_url, chat.agent2.token)  # more staff, on A
        late = CheckedClient(b.ws_url, chat.agent2.token)  # connects while redis is down
        clients = [visitor, agent, watcher]
        try:
            for client in clients:
                ready = await client.connect()
                assert ready.get("live") is True
                await client.join(conv)
            first = await visitor.send(conv, "before the outage")
            await agent.wait_for_seq(conv, first["seq"], timeout=5)
            # A second conversation, so far followed on A only.
            other = (await start_conversation(svc, chat.visitor.principal, subject="second")).conversation.id
            await visitor.join(other)
            await burst(conv, clients, "before")

            # -- redis goes away while both sides are talking -------------------------
            talkers = [Talker(visitor, conv, "visitor", 0.06), Talker(agent, conv, "agent", 0.05, internal_every=4)]
            await asyncio.sleep(0.3)
            await redis.stop()
            for client in clients:
                assert await next_status(client, NOTICE_LOSS_SECONDS) == {"type": "status", "live": False}
            acked_at_loss = sum(len(t.acks) for t in talkers)
            await asyncio.sleep(OUTAGE_SECONDS)
            # Sends kept committing: acked, promptly, and stored.
            acked_in_outage = sum(len(t.acks) for t in talkers) - acked_at_loss
            assert acked_in_outage >= 10, acked_in_outage
            for talker in talkers:
                assert not talker.task.done(), talker.task
            readyz = await a.readyz()
            assert readyz.status_code == 503 and readyz.json()["checks"]["broker"].startswith("unavailable")
            # A socket opened during the outage is told at once, and can join.
            ready = await late.connect()
            assert ready.get("live") is False
            await late.join(conv)
            await late.join(other)  # B had nobody in it: a channel B must add on its return
            clients.append(late)
            for talker in talkers:
                await talker.stop()
                assert talker.slowest < MAX_SEND_SECONDS, (talker.who, talker.slowest)
            stored = await stored_log(svc, chat.agent.principal, conv)
            for talker in talkers:
                assert {a["seq"] for a in talker.acks} <= {e["seq"] for e in stored}
            # Nobody is ahead of the database, or out of order, even now.
            for client in clients:
                assert_ordered_prefix(client.events(conv), await log_for(svc, chat, client), client_name(chat, client))

            # -- redis returns: no new event, no client action; the hub catches up ----
            await redis.start()
            for client in clients:
                assert await next_status(client, NOTICE_RETURN_SECONDS) == {"type": "status", "live": True}
            for client in clients:
                expected = await log_for(svc, chat, client)
                await client.wait_for_seq(conv, expected[-1]["seq"], timeout=10)
                assert_same_log(client.events(conv), expected, client_name(chat, client))
            # The first probe and the first publishes after the return already work: a
            # pooled connection that died with the old redis is not a lost doorbell.
            for server in (a, b):
                probe = await server.readyz()
                assert probe.status_code == 200, probe.text
            await burst(conv, clients, "right after")

            # -- and live delivery is back, both ways, across processes ---------------
            after = await agent.send(conv, "after the outage")
            for client in clients:
                await client.wait_for_seq(conv, after["seq"], timeout=3)
            after = await late.send(conv, "late joiner says hi")
            await visitor.wait_for_seq(conv, after["seq"], timeout=3)
            after = await visitor.send(other, "in the second conversation")
            for client, person in ((visitor, chat.visitor), (late, chat.agent2)):
                # Each against what its own principal may read: a staff-only event (an
                # automatic assignment's, say) has a seq the visitor never sees.
                await client.wait_for_seq(other, after["seq"], timeout=3)
                assert_same_log(client.events(other), await stored_log(svc, person.principal, other), "second")

            # -- a second, short outage: the hub's retry state is not stuck ----------
            await redis.stop()
            for client in clients:
                assert await next_status(client, NOTICE_LOSS_SECONDS) == {"type": "status", "live": False}
            during = await visitor.send(conv, "during the second outage")
            await redis.start()
            for client in clients:
                assert await next_status(client, NOTICE_RETURN_SECONDS) == {"type": "status", "live": True}
                await client.wait_for_seq(conv, during["seq"], timeout=10)

            # -- redis stays up but cuts the hubs' subscriber connections (as its
            # client-output-buffer-limit does to a slow subscriber): not hidden either -
            admin = aioredis.Redis.from_url(redis.url)
            try:
                assert await admin.client_kill_filter(_type="pubsub") == 2  # one per process
            finally:
                await admin.aclose()
            unheard = [await agent.send(conv, f"while unsubscribed {i}") for i in range(3)]
            for client in clients:
                assert await next_status(client, NOTICE_LOSS_SECONDS) == {"type": "status", "live": False}
                assert await next_status(client, NOTICE_RETURN_SECONDS) == {"type": "status", "live": True}
                await client.wait_for_seq(conv, unheard[-1]["seq"], timeout=10)

            for client in clients:
                expected = await log_for(svc, chat, client)
                assert_same_log(client.events(conv), expected, client_name(chat, client))
                assert client.violations == [], (client_name(chat, client), client.violations)
                assert client.close_code is None  # nobody was disconnected
        finally:
            for client in (visitor, agent, watcher, late):
                await client.close()


async def burst(conv: int, clients: list[CheckedClient], label: str) -> None:
    """Everyone sends at once (several publishes in flight per process), then every
    socket must get every message live: no later event comes to reveal a lost publish."""
    acks = await asyncio.gather(*(c.send(conv, f"{label}: {i}") for i in range(2) for c in clients))
    last = max(int(ack["seq"]) for ack in acks)
    for client in clients:
        await client.wait_for_seq(conv, last, timeout=3)


async def log_for(svc: Services, chat: SupportChat, client: CheckedClient) -> list[dict[str, Any]]:
    person = chat.visitor if client.token == chat.visitor.token else chat.agent
    return await stored_log(svc, person.principal, chat.conversation_id)


def client_name(chat: SupportChat, client: CheckedClient) -> str:
    for person in (chat.visitor, chat.agent, chat.agent2):
        if person.token == client.token:
            return f"{person.name} on {client.url}"
    return client.url


# -- the broker port itself, across a restart -------------------------------------------------


async def test_the_first_publishes_after_a_restart_are_not_lost(redis: Redis) -> None:
    """Pooled connections that died with the old redis are replaced on first use, not
    each turned into one lost publish (or one failed readiness probe)."""
    broker = create_broker(redis.url)
    await broker.connect()
    try:
        # Several publishes in flight at once: several pooled connections.
        await asyncio.gather(*(broker.publish("conv:1", b"warm") for _ in range(4)), broker.ping())
        await redis.stop()
        with pytest.raises(BrokerUnavailable):
            await asyncio.wait_for(broker.publish("conv:1", b"refused"), 5)
        await redis.start()
        await asyncio.wait_for(broker.ping(), 5)
        sub = await broker.subscribe("conv:1")
        try:
            iterator = sub.__aiter__()
            await asyncio.sleep(0.1)  # redis confirms a subscription asynchronously
            await asyncio.wait_for(asyncio.gather(*(broker.publish("conv:1", f"m{i}".encode()) for i in range(4))), 5)
            got = {(await asyncio.wait_for(iterator.__anext__(), 5))[1] for _ in range(4)}
            assert got == {b"m0", b"m1", b"m2", b"m3"}
        finally:
            await sub.close()
    finally:
        await broker.disconnect()


async def test_a_cut_subscriber_connection_is_reported_not_hidden(redis: Redis) -> None:
    """If redis drops the subscriber connection while staying up, iterating the
    subscription raises BrokerUnavailable (the hub then catches up from the database)
    instead of reconnecting silently past the messages published in between."""
    broker = create_broker(redis.url)
    await broker.connect()
    admin = aioredis.Redis.from_url(redis.url)
    try:
        sub = await broker.subscribe("conv:1")
        iterator = sub.__aiter__()
        await asyncio.sleep(0.1)
        await broker.publish("conv:1", b"before")
        assert await asyncio.wait_for(iterator.__anext__(), 5) == ("conv:1", b"before")
        assert await admin.client_kill_filter(_type="pubsub") == 1
        await broker.publish("conv:1", b"unheard")
        with pytest.raises(BrokerUnavailable):
            await asyncio.wait_for(iterator.__anext__(), 5)
        await sub.close()
    finally:
        await admin.aclose()
        await broker.disconnect()


async def test_a_room_joined_while_the_hub_resubscribes_gets_live_events(redis: Redis, sqlite_url: str, tmp_path: Path) -> None:
    """A socket that joins a new conversation while the hub is re-subscribing after an
    outage (its channel list already sent, the subscription not yet in place) must still
    get that conversation's publishes afterwards."""
    presence = Presence()
    svc = build_services(make_settings(sqlite_url, tmp_path / "var", REDIS_URL=redis.url), presence=presence)
    await svc.broker.connect()
    hub = Hub(svc, presence)
    try:
        chat = await seed_support_chat(svc)
        created = await start_conversation(svc, chat.visitor.principal, subject="second")
        conv = created.conversation.id
        frames: list[dict[str, Any]] = []

        async def send_text(text: str) -> None:
            frames.append(msgspec.json.decode(text))

        async def close(code: int, reason: str) -> None:
            frames.append({"type": "closed", "code": code})

        conn = Connection(svc, chat.agent.principal, "agent", send_text, close)
        # As after an outage: no subscription. The hub re-subscribes (as its listener
        # does), and the join lands while that subscribe is on its way to redis.
        resubscribe = asyncio.create_task(hub._subscribe())
        await asyncio.sleep(0)
        assert not resubscribe.done()
        conn.rooms[conv] = Room(last_seq=0)
        await hub.join(conn, conv)
        assert await asyncio.wait_for(resubscribe, 5)
        hub._listener = asyncio.create_task(hub._listen())
        await asyncio.sleep(0.2)  # redis confirms subscriptions asynchronously
        await svc.publish(conversation_channel(conv), created.events[0])

        async def delivered() -> None:
            assert [f["seq"] for f in frames if f["type"] == "event"] == [1]

        await eventually(delivered, timeout=5, what="the event published after the join")
        await conn.shutdown()
    finally:
        await hub.stop()
        await svc.close()

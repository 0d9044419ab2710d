"""Two server processes, one real redis-server, one database: live chat across processes,
and a ``kill -9`` of one process in the middle of a conversation.

Each server is a real ``python -m chat serve`` process (tests/support/cluster.py). The
database is a fresh copy of the migrated template, on PostgreSQL and on one SQLite file
shared by both processes.
"""

from __future__ import annotations

import asyncio
import uuid
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest

from chat.services import Services
from tests.conftest import TEST_SECRET
from tests.support.chatlog import (
    CheckedClient,
    SupportChat,
    assert_ordered_prefix,
    assert_same_log,
    bodies,
    stored_log,
)
from tests.support.cluster import ServerProcess, server_processes
from tests.support.processes import RedisServer, start_redis

# Agent messages sent while process A dies, every AGENT_GAP seconds; internal notes mixed in.
AGENT_MESSAGES = 40
AGENT_GAP = 0.02
KILL_AFTER = 12


@pytest.fixture
def private_redis() -> Iterator[RedisServer]:
    # Not the session redis: conversation ids restart at 1 in every test database, and
    # two tests' "conv:1" on one redis would be one channel.
    server = start_redis()
    try:
        yield server
    finally:
        server.stop()



def cluster_env(db_url: str, redis: RedisServer) -> dict[str, str]:
    return {"DATABASE_URL": db_url, "REDIS_URL": redis.url, "SECRET_KEY": TEST_SECRET, "AUTO_MIGRATE": "false"}


async def test_kill_9_mid_stream_and_resume_on_the_other_process(
    db_url: str, tmp_path: Path, private_redis: RedisServer, seeded: tuple[Services, SupportChat]
) -> None:
    svc, chat = seeded
    conv = chat.conversation_id
    async with (
        asyncio.timeout(150),
        server_processes(["A", "B"], cluster_env(db_url, private_redis), tmp_path / "servers") as (a, b),
    ):
        visitor = CheckedClient(a.ws_url, chat.visitor.token, timeout=10)
        agent = CheckedClient(b.ws_url, chat.agent.token, timeout=10)
        await visitor.connect()
        await agent.connect()
        try:
            await run_scenario(svc, chat, conv, a, b, visitor, agent)
        finally:
            await visitor.close()
            await agent.close()


async def run_scenario(
    svc: Services, chat: SupportChat, conv: int, a: ServerProcess, b: ServerProcess,
    visitor: CheckedClient, agent: CheckedClient,
) -> None:
    await visitor.join(conv)
    await agent.join(conv)

    # Live, across processes: A's commit reaches B's socket through redis, and back.
    hello = await visitor.send(conv, "hello from process A")
    await agent.wait_for_seq(conv, hello["seq"], timeout=5)
    reply = await agent.send(conv, "hello from process B")
    await visitor.wait_for_seq(conv, reply["seq"], timeout=5)

    # Mid-stream: the agent keeps talking on B while A dies under the visitor.
    sent_enough = asyncio.Event()
    agent_acks: list[dict[str, object]] = []

    async def agent_stream() -> None:
        for i in range(AGENT_MESSAGES):
            ack = await agent.send(conv, f"agent {i}", internal=i % 7 == 3)
            agent_acks.append(ack)
            if i == KILL_AFTER:
                sent_enough.set()
            await asyncio.sleep(AGENT_GAP)

    stream = asyncio.create_task(agent_stream())
    try:
        await asyncio.wait_for(sent_enough.wait(), 20)
        # The visitor, still on A, has been receiving the stream live ...
        await visitor.wait_for_seq(conv, int(agent_acks[KILL_AFTER // 2]["seq"]), timeout=5)
        # ... and has messages on the wire that may or may not be committed when A dies.
        in_flight = [await visitor.send_nowait(conv, f"visitor in flight {i}") for i in range(4)]
        await a.kill()
        assert a.process.returncode == -9
        # The visitor's socket is gone without a close frame.
        assert await visitor.wait_closed(5) in {None, 1006}

        # Resume on B: re-authenticate, re-join from the last seq seen, resend what was
        # never acknowledged (with the same client_msg_id).
        visitor.url = b.ws_url
        seen_before = visitor.last_seq[conv]
        await visitor.reconnect()
        assert not visitor.unacked, f"unacked after the resend: {list(visitor.unacked)}"
        after_resume = [await visitor.send(conv, f"visitor on B {i}") for i in range(3)]
        assert all(ack["duplicate"] is False for ack in after_resume)
        assert visitor.last_seq[conv] >= seen_before
        await asyncio.wait_for(stream, 30)
    finally:
        stream.cancel()

    # Everyone converges on exactly what the database holds.
    public = await stored_log(svc, chat.visitor.principal, conv)
    everything = await stored_log(svc, chat.agent.principal, conv)
    await visitor.wait_for_seq(conv, public[-1]["seq"], timeout=10)
    await agent.wait_for_seq(conv, everything[-1]["seq"], timeout=10)
    assert_same_log(visitor.events(conv), public, "visitor")
    assert_same_log(agent.events(conv), everything, "agent")
    assert visitor.violations == [] and agent.violations == []

    # Nothing lost, nothing stored twice: each message once, in the order it was acked.
    stored_ids = Counter(e["client_msg_id"] for e in everything if e["client_msg_id"])
    assert all(n == 1 for n in stored_ids.values()), stored_ids.most_common(3)
    for cid in in_flight:
        assert stored_ids[cid] == 1
    visitor_bodies = bodies(e for e in everything if e["author"] and e["author"]["id"] == chat.visitor.principal.user_id)
    assert sorted(visitor_bodies) == sorted(
        ["hello from process A", *(f"visitor in flight {i}" for i in range(4)), *(f"visitor on B {i}" for i in range(3))]
    )
    agent_said = [e["body"] for e in everything if e["kind"] in {"message", "note"} and e["author"]["id"] == chat.agent.principal.user_id]
    assert agent_said == ["hello from process B", *(f"agent {i}" for i in range(AGENT_MESSAGES))]
    assert [e["seq"] for e in everything] == list(range(1, len(everything) + 1))
    # Internal notes never reached the visitor, and its prev_seq chain skipped them.
    assert all(e["kind"] != "note" for e in visitor.wire)
    assert [e["prev_seq"] for e in visitor.events(conv)] == [0, *(e["seq"] for e in visitor.events(conv)[:-1])]
    # The survivor is still healthy.
    assert (await b.readyz()).status_code == 200


async def test_many_visitors_on_both_processes_see_one_order(
    db_url: str, tmp_path: Path, private_redis: RedisServer, seeded: tuple[Services, SupportChat]
) -> None:
    """Agents on two processes answer at the same time: every socket, on either process,
    sees the conversation in the single order the database assigned."""
    svc, chat = seeded
    conv = chat.conversation_id
    async with (
        asyncio.timeout(120),
        server_processes(["A", "B"], cluster_env(db_url, private_redis), tmp_path / "servers") as (a, b),
    ):
        clients = [
            CheckedClient(a.ws_url, chat.visitor.token), CheckedClient(b.ws_url, chat.visitor.token),
            CheckedClient(a.ws_url, chat.agent.token), CheckedClient(b.ws_url, chat.agent2.token),
        ]
        for client in clients:
            await client.connect()
            await client.join(conv)
        try:
            visitor_a, visitor_b, agent_a, agent_b = clients

            async def talk(client: CheckedClient, who: str, n: int, internal_every: int = 0) -> None:
                for i in range(n):
                    await client.send(conv, f"{who} {i}", internal=bool(internal_every) and i % internal_every == 1,
                                      client_msg_id=f"{who}-{i}-{uuid.uuid4().hex[:8]}")

            await asyncio.gather(
                talk(agent_a, "agent-on-A", 15, internal_every=4),
                talk(agent_b, "agent-on-B", 15, internal_every=5),
                talk(visitor_a, "visitor-on-A", 10),
                talk(visitor_b, "visitor-on-B", 10),
            )
            public = await stored_log(svc, chat.visitor.principal, conv)
            everything = await stored_log(svc, chat.agent.principal, conv)
            for client, stored in ((visitor_a, public), (visitor_b, public), (agent_a, everything), (agent_b, everything)):
                await client.wait_for_seq(conv, stored[-1]["seq"], timeout=10)
            for i, (client, stored) in enumerate(
                ((visitor_a, public), (visitor_b, public), (agent_a, everything), (agent_b, everything))
            ):
                assert_same_log(client.events(conv), stored, f"client {i}")
                assert client.violations == [], client.violations
            assert len(bodies(everything)) == 43 and len(bodies(everything, "note")) == 7
            # Mid-way snapshots were prefixes too (checked live by CheckedClient): no socket
            # ever saw B's message before an earlier-seq message committed on A.
            assert_ordered_prefix(visitor_a.wire, public, "visitor on A, raw")
        finally:
            for client in clients:
                await client.close()

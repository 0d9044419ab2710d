"""The two topologies the product promises behave the same, as one fixture value.

``embedded``: one in-process server on SQLite with the in-memory broker and the sweeper in
process (the README's first command). ``cluster``: the README's scale-out recipe — two
``python -m chat serve`` processes on PostgreSQL and one redis-server, and the sweeper as
its own ``python -m escalation`` process (tests/support/cluster.py starts each as an
operator would).

A test places each socket and request on a node on purpose (``node=0`` / ``node=1``): on
the cluster they are the two processes, on the embedded default the same server twice, so
the same assertions run against both and a test fails where the topologies disagree.
Both run on the real clock (a separate process cannot share a ManualClock).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import httpx
from websockets.exceptions import ConnectionClosed

from chat.client import ChatClient, Frame
from chat.hub.endpoint import CLOSE_TRY_AGAIN
from chat.services import NoPresence, Services
from chat.wiring import build_services
from tests.conftest import TEST_SECRET, make_settings
from tests.support.cluster import server_processes, spawn_worker
from tests.support.live import live_server

TOPOLOGIES = ("embedded", "cluster")
# Short enough that a test can wait out "offline" after a socket closes.
PRESENCE_GRACE_SECONDS = 2


@dataclass(frozen=True)
class Node:
    name: str
    base_url: str
    ws_url: str
    """The websocket endpoint itself (``…/ws``)."""


@dataclass
class Topology:
    name: str
    """``embedded`` or ``cluster``."""
    services: Services
    """On the nodes' database and broker: seed through the use cases with it; what it
    publishes after commit reaches every node's sockets."""
    nodes: tuple[Node, Node]
    """Embedded: the one server twice. Cluster: process A, process B."""

    def client(self, token: str, *, node: int, origin: str | None = None, timeout: float = 10) -> ChatClient:
        return PatientClient(self.nodes[node].ws_url, token, origin=origin, timeout=timeout)

    async def call(self, token: str | None, method: str, path: str, body: Any = None, *, node: int,
                   expect: int | None = None, headers: Mapping[str, str] | None = None) -> httpx.Response:
        """One HTTP request to ``node`` (bearer ``token`` when given); ``expect`` asserts the
        status with the body in the message."""
        sent = dict(headers or {})
        if token is not None:
            sent["Authorization"] = f"Bearer {token}"
        async with httpx.AsyncClient(base_url=self.nodes[node].base_url, timeout=10) as http:
            response = await http.request(method, path, json=body, headers=sent)
        if expect is not None:
            assert response.status_code == expect, f"{method} {path} on {self.nodes[node].name}: " \
                f"{response.status_code} {response.text}"
        return response


class PatientClient(ChatClient):
    """A client that does what docs/protocol.md asks of one refused with 1013 ("try again
    later"): back off and connect again. A server whose event loop runs over a second
    behind refuses new sockets so; the embedded one shares its loop with the test, which
    on a loaded 2-core CI machine now and then is that far behind."""

    async def connect(self) -> Frame:
        for attempt in range(5):
            try:
                return await super().connect()
            except ConnectionClosed:
                if self.close_code != CLOSE_TRY_AGAIN or attempt == 4:
                    raise
            await asyncio.sleep(0.2 * 2**attempt)
        raise AssertionError("unreachable")


@asynccontextmanager
async def embedded(sqlite_url: str, root: Path) -> AsyncIterator[Topology]:
    settings = make_settings(sqlite_url, root / "var", PRESENCE_GRACE_SECONDS=str(PRESENCE_GRACE_SECONDS))
    async with live_server(settings) as live:
        node = Node("embedded", live.base_url, live.ws_url + "/ws")
        # The server's own ports, without its hub's presence: a seeder knows of no one
        # online on either topology (on the cluster it is a process without a hub), so a
        # use case that asks (a new chat with no agent online) decides the same on both.
        seeder = replace(live.services, presence=NoPresence())
        yield Topology("embedded", seeder, (node, node))


@asynccontextmanager
async def cluster(postgres_url: str, redis_url: str, root: Path) -> AsyncIterator[Topology]:
    env = {
        "DATABASE_URL": postgres_url, "REDIS_URL": redis_url, "SECRET_KEY": TEST_SECRET, "AUTO_MIGRATE": "false",
        "SWEEPER_IN_PROCESS": "false", "PRESENCE_GRACE_SECONDS": str(PRESENCE_GRACE_SECONDS),
    }
    worker = spawn_worker("worker", env, root)
    seeder = build_services(make_settings(postgres_url, root / "seed", REDIS_URL=redis_url))
    try:
        await seeder.broker.connect()
        async with server_processes(["A", "B"], env, root) as (a, b):
            if not worker.alive():
                raise RuntimeError(f"the sweeper process exited ({worker.process.returncode}):\n{worker.log_tail()}")
            yield Topology("cluster", seeder, (Node("A", a.base_url, a.ws_url), Node("B", b.base_url, b.ws_url)))
            if not worker.alive():
                raise RuntimeError(f"the sweeper process died during the test:\n{worker.log_tail()}")
    finally:
        await asyncio.gather(worker.stop(), seeder.close(), return_exceptions=True)

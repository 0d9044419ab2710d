"""People, chats and desk reads for the desk and ticket tests on both topologies.

Everyone is seeded through the use cases on the nodes' database (``topology.services``);
everything a test checks goes through a node's HTTP API or a socket on a chosen node. Chats
are started by visitors over HTTP, never seeded: starting one runs the tickets' and the
assignment's reactions in the process that took the request, with that process's view of
who is online, and that is what these tests compare between the topologies. (A chat
seeded through ``topology.services`` would be decided by the seeder, which knows nobody
online on either topology.)
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any

from chat import directory
from chat.client import ChatClient, Frame
from chat.models import OrgKind, Role
from escalation.worker import DEFAULT_INTERVAL_SECONDS
from tests.support.chatlog import SITE_ORIGIN, Person, eventually, new_staff, new_visitor
from tests.support.topology import Topology

# Delivery between processes is a redis round trip: milliseconds. Generous all the same,
# for a loaded CI machine.
CROSS_NODE_SECONDS = 5.0
# The sweeper (in the web process on the embedded default, its own process on the cluster)
# runs a pass every DEFAULT_INTERVAL_SECONDS: two passes and a margin.
SWEEP_SECONDS = 2 * DEFAULT_INTERVAL_SECONDS + 2


@dataclass(frozen=True)
class DeskWorld:
    """A customer company with a widget site, a support admin (who seeds and configures
    over HTTP, and keeps no socket: an admin online would count as an agent online) and
    some agents."""

    topology: Topology
    site_key: str
    admin: Person
    agents: tuple[Person, ...]

    async def visitor(self, name: str) -> Person:
        return await new_visitor(self.topology.services, self.site_key, name)


async def seed_desk(topology: Topology, *, agents: int = 2) -> DeskWorld:
    svc = topology.services
    org = (await directory.create_organization(svc, None, name="Acme", kind=OrgKind.CUSTOMER)).organization
    site = (await directory.create_site(svc, None, name="Shop", allowed_origins=[SITE_ORIGIN],
                                        organization=org.id)).site
    admin = await new_staff(svc, "admin@x.example", Role.SUPPORT_ADMIN)
    # Names in creation order, so ids (round-robin's tie-break) follow the alphabet.
    names = ("ann", "bob", "cy", "dee")[:agents]
    staff = tuple([await new_staff(svc, f"{name}@x.example", Role.AGENT) for name in names])
    return DeskWorld(topology, site.public_key, admin, staff)


def uid(person: Person) -> int:
    return person.principal.user_id


async def get(topology: Topology, who: Person, path: str, *, node: int) -> Any:
    return (await topology.call(who.token, "GET", path, node=node, expect=200)).json()


async def open_chat(topology: Topology, visitor: Person, *, node: int, subject: str, body: str = "help") -> int:
    """A visitor starts a support chat over HTTP on ``node``; its reactions (the ticket row,
    the no-agent-online decision, automatic assignment) have run when this returns."""
    created = await topology.call(visitor.token, "POST", "/api/conversations", {"subject": subject, "body": body},
                                  node=node, expect=201)
    return int(created.json()["conversation"]["id"])


async def set_limit(world: DeskWorld, agent: Person, max_chats: int, *, node: int) -> None:
    """A support admin sets an agent's limit of live chats (which runs an assignment pass
    on ``node``)."""
    await world.topology.call(world.admin.token, "PATCH", f"/api/desk/agents/{uid(agent)}",
                              {"max_chats": max_chats}, node=node, expect=200)


async def item(topology: Topology, who: Person, conversation_id: int, *, node: int) -> dict[str, Any]:
    found: dict[str, Any] = (await get(topology, who, f"/api/desk/items/{conversation_id}", node=node))["item"]
    return found


async def assignee_of(topology: Topology, who: Person, conversation_id: int, *, node: int) -> int | None:
    person = (await item(topology, who, conversation_id, node=node))["assignee"]
    return None if person is None else int(person["id"])


async def in_queues(topology: Topology, who: Person, conversation_id: int, *, node: int) -> tuple[str, dict[str, Any]]:
    """Which queue of ``GET /api/desk/inbox`` on ``node`` lists the conversation, and its
    item there (an assertion error when none does)."""
    board = await get(topology, who, "/api/desk/inbox", node=node)
    for queue in board["queues"]:
        for entry in queue["items"]:
            if entry["conversation_id"] == conversation_id:
                return queue["key"], entry
    raise AssertionError(f"conversation {conversation_id} is in no queue on node {node}")


async def statuses(topology: Topology, who: Person, *, node: int) -> dict[int, str]:
    """Each desk agent's presence as ``node`` knows it (``GET /api/desk/agents``)."""
    agents = (await get(topology, who, "/api/desk/agents", node=node))["agents"]
    return {int(a["id"]): str(a["status"]) for a in agents}


async def until_both_nodes_see(world: DeskWorld, expected: dict[Person, str], *, what: str) -> None:
    """Wait until both nodes report each person's presence as ``expected``."""
    wanted = {uid(p): status for p, status in expected.items()}

    async def agreed() -> None:
        for node in (0, 1):
            seen = await statuses(world.topology, world.admin, node=node)
            got = {person: seen.get(person, "offline") for person in wanted}
            assert got == wanted, f"node {node} sees {got}, expected {wanted}"

    await eventually(agreed, timeout=CROSS_NODE_SECONDS, what=what, interval=0.1)


class Frames:
    """The non-event frames a socket received, all kept. ``ChatClient.next_frame`` drops
    the frames it skips, so a test waiting for an ``inbox`` doorbell would lose a
    ``presence`` frame it wants next; this keeps everything and matches on fields."""

    def __init__(self, client: ChatClient) -> None:
        self.client = client
        self.seen: list[Frame] = []

    def _drain(self) -> None:
        while True:
            try:
                self.seen.append(self.client.frames.get_nowait())
            except asyncio.QueueEmpty:
                return

    def forget(self) -> None:
        """From now on match only frames received after this call."""
        self._drain()
        self.seen.clear()

    def matching(self, kind: str, **fields: Any) -> list[Frame]:
        self._drain()
        return [f for f in self.seen if f.get("type") == kind and all(f.get(k) == v for k, v in fields.items())]

    async def wait(self, kind: str, *, timeout: float = CROSS_NODE_SECONDS, **fields: Any) -> Frame:
        """The first ``kind`` frame with these field values, received already (since the
        last :meth:`forget`) or within ``timeout``."""
        def found() -> None:
            assert self.matching(kind, **fields), f"seen: {[f for f in self.seen if f.get('type') == kind]}"

        await eventually(found, timeout=timeout, what=f"a {kind} frame with {fields}")
        return self.matching(kind, **fields)[0]


def event_name(event: Frame) -> str | None:
    name = (event.get("data") or {}).get("event")
    return None if name is None else str(name)


def system_names(events: list[Frame], *, after: int = 0) -> list[str | None]:
    return [event_name(e) for e in events if e["kind"] == "system" and e["seq"] > after]


async def system_event(client: ChatClient, conversation_id: int, name: str, *, after: int = 0,
                       timeout: float = CROSS_NODE_SECONDS) -> Frame:
    """The first system event ``name`` after seq ``after`` in the socket's log of the
    conversation, delivered already or within ``timeout``."""
    def delivered() -> None:
        names = [event_name(e) for e in client.log.get(conversation_id, []) if e["seq"] > after]
        assert name in names, f"delivered so far: {names}"

    await eventually(delivered, timeout=timeout, what=f"{name} on conversation {conversation_id}")
    return next(e for e in client.log[conversation_id] if event_name(e) == name and e["seq"] > after)


async def stored_events(topology: Topology, who: Person, conversation_id: int, *, node: int,
                        after: int = 0) -> list[Frame]:
    """The conversation's stored events that ``who`` may see, over HTTP on ``node``."""
    page = await get(topology, who, f"/api/conversations/{conversation_id}/events?after_seq={after}&limit=500",
                     node=node)
    assert not page["has_more"]
    events: list[Frame] = page["events"]
    return events

"""A configuration change made through one web process takes effect on the other without a
restart (issue 19, "a second web process picks a change up"), on both topologies: the
cluster's two processes on PostgreSQL and redis, and the embedded server twice.

What each process keeps of the configuration and why it follows: the ticket desk
(policies, calendars, categories, groups, desk settings) is kept per process by
``escalation.config.load_desk`` until the desk's version counter moves, which every write
to those tables moves in its own transaction; sites (origins, widget settings), assignment
rules, the default assignee, agents' limits and canned replies are read from the database
by each request or pass, so nothing is kept to go stale.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select
from websockets.exceptions import ConnectionClosed

from chat.client import ChatClient
from chat.hub.endpoint import CLOSE_ORIGIN
from chat.models import Site
from tests.support.chatlog import SITE_ORIGIN
from tests.support.topology import Topology
from tests.topology.desk_world import (
    DeskWorld,
    assignee_of,
    get,
    open_chat,
    seed_desk,
    set_limit,
    uid,
    until_both_nodes_see,
)

OLD_ORIGIN = "https://old-shop.example"
CATEGORY, SEVERITY = "technical_question", 2


def _policy(resolution_hours: int) -> dict[str, Any]:
    # The most specific rule for the ticket below (category and severity), measured around
    # the clock: a due time is the start plus exactly the target, whatever the hour.
    return {"name": "Pickup test", "calendar": "24x7", "category": CATEGORY, "severity": SEVERITY,
            "first_response": {"hours": 1}, "resolution": {"hours": resolution_hours}}


async def _resolution_due(topology: Topology, world: DeskWorld, conv: int, *, node: int) -> tuple[str, datetime]:
    ticket = (await get(topology, world.admin, f"/api/tickets/{conv}", node=node))["ticket"]
    return ticket["sla_policy"], datetime.fromisoformat(ticket["deadlines"]["resolution"]["due_at"])


async def test_an_sla_policy_changed_on_node_0_measures_the_ticket_at_node_1s_next_unit(topology: Topology) -> None:
    world = await seed_desk(topology, agents=1)
    (agent,) = world.agents
    created = await topology.call(world.admin.token, "POST", "/api/sla/policies", _policy(8), node=0, expect=201)
    policy_id = created.json()["policy"]["id"]
    visitor = await world.visitor("Vera")
    conv = await open_chat(topology, visitor, node=0, subject="Printer on fire")
    # Escalated through node 1: node 1 has built (and keeps) the desk with the 8 h target.
    await topology.call(agent.token, "POST", f"/api/conversations/{conv}/escalate",
                        {"category": CATEGORY, "severity": SEVERITY}, node=1, expect=200)
    name, due = await _resolution_due(topology, world, conv, node=1)
    assert name == "Pickup test"

    await topology.call(world.admin.token, "PUT", f"/api/sla/policies/{policy_id}", _policy(20), node=0, expect=200)
    # The next unit of work on the ticket through node 1 measures it by the new target.
    await topology.call(agent.token, "PATCH", f"/api/tickets/{conv}", {"subject": "Printer still on fire"},
                        node=1, expect=200)
    for node in (1, 0):
        assert await _resolution_due(topology, world, conv, node=node) == ("Pickup test", due + timedelta(hours=12))


async def _set_origins(topology: Topology, site_key: str, origins: list[str]) -> int:
    # No endpoint edits a site's origins yet (the "sites" screen of issue 19 adds one):
    # written through the ORM by the seeder — on the cluster a third process, neither node.
    async with topology.services.sessions.begin() as db:
        site = await db.scalar(select(Site).where(Site.public_key == site_key))
        assert site is not None
        site.allowed_origins = origins
        return site.id


async def _socket_from(topology: Topology, token: str, origin: str, *, node: int) -> ChatClient:
    client = topology.client(token, node=node, origin=origin)
    await client.connect()
    return client


async def test_a_sites_origins_and_widget_settings_changed_elsewhere_hold_on_node_1_at_once(topology: Topology) -> None:
    world = await seed_desk(topology, agents=1)
    site_id = await _set_origins(topology, world.site_key, [OLD_ORIGIN, SITE_ORIGIN])
    visitor = await world.visitor("Vera")
    frame = f"/widget/frame?site={world.site_key}&host={OLD_ORIGIN}"
    # Node 1 serves the old origin: the widget's page and a visitor's socket from it.
    await topology.call(None, "GET", frame, node=1, expect=200)
    first = await _socket_from(topology, visitor.token, OLD_ORIGIN, node=1)
    await first.close()
    config = (await topology.call(None, "GET", f"/api/widget/config?site={world.site_key}", node=1, expect=200)).json()
    assert config["offline_form"] is True

    await _set_origins(topology, world.site_key, [SITE_ORIGIN])
    await topology.call(world.admin.token, "PATCH", f"/api/sites/{site_id}/widget", {"offline_form": False},
                        node=0, expect=200)

    # At once on node 1: the removed origin is refused, the other still served.
    await topology.call(None, "GET", frame, node=1, expect=403)
    refused = topology.client(visitor.token, node=1, origin=OLD_ORIGIN)
    with pytest.raises(ConnectionClosed):
        await refused.connect()
    assert refused.close_code == CLOSE_ORIGIN
    await topology.call(None, "GET", f"/widget/frame?site={world.site_key}&host={SITE_ORIGIN}", node=1, expect=200)
    kept = await _socket_from(topology, visitor.token, SITE_ORIGIN, node=1)
    await kept.close()
    config = (await topology.call(None, "GET", f"/api/widget/config?site={world.site_key}", node=1, expect=200)).json()
    assert config["offline_form"] is False


async def test_the_default_assignee_set_on_node_0_routes_node_1s_next_chat(topology: Topology) -> None:
    world = await seed_desk(topology, agents=2)
    ann, bob = world.agents
    for agent in (ann, bob):
        await set_limit(world, agent, 5, node=0)
    async with topology.client(ann.token, node=1), topology.client(bob.token, node=1):
        await until_both_nodes_see(world, {ann: "online", bob: "online"}, what="both agents online")
        # No default assignee: round-robin on node 1, Ann first (the lower id).
        first = await open_chat(topology, await world.visitor("Vera"), node=1, subject="first")
        assert await assignee_of(topology, world.admin, first, node=0) == uid(ann)

        await topology.call(world.admin.token, "PUT", "/api/desk/default-assignee", {"user_id": uid(ann)},
                            node=0, expect=200)
        # Round-robin would now hand Bob the chat; node 1 follows the new default: Ann.
        second = await open_chat(topology, await world.visitor("Will"), node=1, subject="second")
        assert await assignee_of(topology, world.admin, second, node=0) == uid(ann)

"""Alerts in partner mode over real sockets (chat.attention through the hub): a new chat of a
partner's customer reaches that partner's admin, not the platform's agents nor another
reseller's admin; a platform chat reaches the agents and no partner."""

from __future__ import annotations

import asyncio
from contextlib import AsyncExitStack

from chat.client import ChatClient
from tests.chat.desk.test_partner_desk import online, partner, start_chat
from tests.support.chatlog import eventually
from tests.support.desk import Desk


def attention(client: ChatClient) -> list[tuple[str, int]]:
    """The ``attention`` frames the client got so far (others are put back)."""
    seen: list[tuple[str, int]] = []
    kept = []
    while not client.frames.empty():
        frame = client.frames.get_nowait()
        if frame.get("type") == "attention":
            seen.append((frame["reason"], frame["conversation_id"]))
        else:
            kept.append(frame)
    for frame in kept:
        client.frames.put_nowait(frame)
    return seen


async def test_a_partner_queue_alerts_its_own_admins_only(desk: Desk) -> None:
    p = await partner(desk)
    async with AsyncExitStack() as stack:
        ra, other, agent, agent2 = [await online(stack, desk, who) for who in
                                    (p.admin, p.other_admin, desk.agent, desk.chat.agent2)]
        heard: dict[str, list[tuple[str, int]]] = {"ra": [], "other": [], "agent": [], "agent2": []}
        clients = {"ra": ra, "other": other, "agent": agent, "agent2": agent2}

        def collect() -> None:
            for name, client in clients.items():
                heard[name] += attention(client)

        conv = await start_chat(desk, p.customer, "Partner's printer")

        async def partner_heard() -> None:
            collect()
            assert heard["ra"] == [("new", conv)]

        await eventually(partner_heard, timeout=5, what="the partner's admin alerted")
        # A platform chat afterwards: when the agents have heard it, anything for the partner
        # chat would have come before it on their channels.
        platform = await start_chat(desk, desk.chat.visitor, "Platform printer")

        async def agents_heard() -> None:
            collect()
            # Both agents are online: the automatic assignment gives it to one of them.
            assert sorted(heard["agent"] + heard["agent2"]) == [("assigned", platform), ("new", platform)]

        await eventually(agents_heard, timeout=5, what="the platform's agents alerted")
        await asyncio.sleep(0)
        collect()
        assert (heard["ra"], heard["other"], len(heard["agent"]), len(heard["agent2"])) == ([("new", conv)], [], 1, 1)

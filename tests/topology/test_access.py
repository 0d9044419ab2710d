"""Who may see a conversation, on both topologies: the colleague taken off a ticket's CC
over HTTP on one node has their socket on the other node taken out of the room at once
(chat.access_changes crosses the broker). The single-process version:
tests/escalation/test_access_live.py."""

from __future__ import annotations

import asyncio

import pytest

from chat import directory
from chat.client import ProtocolError
from chat.models import OrgKind, Role
from tests.escalation.people import signed_in
from tests.support.chatlog import new_staff
from tests.support.topology import Topology

# Long enough for a publish to cross redis and a socket many times over.
SETTLE_SECONDS = 0.5


async def test_taken_off_the_cc_on_one_node_the_socket_on_the_other_leaves(topology: Topology) -> None:
    svc = topology.services
    org = (await directory.create_organization(svc, None, name="Acme", kind=OrgKind.CUSTOMER)).organization
    tokens = {}
    for name in ("customer", "colleague"):
        user = await directory.create_user(svc, None, email=f"{name}@x.example", role=Role.CUSTOMER,
                                           organization=org.id, name=name.title())
        tokens[name] = (await signed_in(svc, user), user.id)
    agent = await new_staff(svc, "agent@x.example", Role.AGENT)
    made = await topology.call(tokens["customer"][0], "POST", "/api/tickets", {
        "subject": "Reports are wrong", "description": "Mileage doubled", "cc": [tokens["colleague"][1]],
    }, node=0, expect=201)
    conv = int(made.json()["ticket"]["id"])
    async with (topology.client(tokens["colleague"][0], node=1) as colleague,
                topology.client(agent.token, node=0) as staff):
        await colleague.join(conv)
        await staff.join(conv)
        one = await staff.send(conv, "one")
        await colleague.wait_for_seq(conv, one["seq"])
        await topology.call(agent.token, "PATCH", f"/api/tickets/{conv}", {"cc": []}, node=0, expect=200)
        left = await colleague.next_frame("left")
        assert left == {"type": "left", "conversation_id": conv, "reason": "access_revoked"}
        two = await staff.send(conv, "two")
        await staff.wait_for_seq(conv, two["seq"])
        await asyncio.sleep(SETTLE_SECONDS)
        assert "two" not in [e.get("body") for e in colleague.log[conv]]
        with pytest.raises(ProtocolError) as refused:
            await colleague.join(conv)
        assert refused.value.code == "not_found"

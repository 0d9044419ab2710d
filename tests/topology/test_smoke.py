"""The fixture itself: both nodes answer, and a message crosses from one to the other."""

from __future__ import annotations

from tests.support.chatlog import seed_support_chat
from tests.support.topology import Topology


async def test_a_message_sent_on_one_node_reaches_a_socket_on_the_other(topology: Topology) -> None:
    chat = await seed_support_chat(topology.services)
    conv = chat.conversation_id
    async with topology.client(chat.visitor.token, node=0) as visitor, \
            topology.client(chat.agent.token, node=1) as agent:
        await visitor.join(conv)
        await agent.join(conv)
        ack = await visitor.send(conv, "hello across")
        log = await agent.wait_for_seq(conv, int(ack["seq"]), timeout=5)
        assert any(e.get("body") == "hello across" for e in log)
    for node in (0, 1):
        await topology.call(None, "GET", "/readyz", node=node, expect=200)

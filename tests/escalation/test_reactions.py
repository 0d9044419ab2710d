"""Tickets live over real sockets: a ticket change reaches every socket in the
conversation (customers only the public part, in order, without gaps), staff sockets get
the ``inbox`` doorbell, and who is online decides whether a new chat is a ticket at once."""

from __future__ import annotations

import pytest

from chat.client import ChatClient, ProtocolError
from tests.escalation.people import People


async def inbox(client: ChatClient, conversation_id: int, reason: str) -> dict[str, object]:
    while True:
        frame = await client.next_frame("inbox", timeout=5)
        if frame["conversation_id"] == conversation_id and frame["reason"] == reason:
            return frame


def names(log: list[dict[str, object]]) -> list[object]:
    return [e["data"]["event"] for e in log if e["kind"] == "system"]  # type: ignore[index]


async def test_ticket_changes_reach_joined_sockets_and_staff_inboxes(people: People) -> None:
    async with people.client("agent") as agent, people.client("customer") as customer:
        # An agent is online: the chat starts as a live chat, not yet a ticket.
        conv = (await people.call("customer", "POST", "/api/conversations", {"subject": "Hi", "body": "Help"},
                                  expect=201))["conversation"]["id"]
        await inbox(agent, conv, "created")
        await agent.join(conv)
        await customer.join(conv)
        await customer.wait_for_seq(conv, 2)
        assert not (await people.call("agent", "GET", f"/api/tickets/{conv}"))["ticket"]["tracked"]
        await agent.send(conv, "On it")
        await people.call("agent", "POST", f"/api/conversations/{conv}/escalate", {"group": "second_level"})
        await inbox(agent, conv, "ticket.opened")
        await people.call("agent", "POST", f"/api/tickets/{conv}/status", {"action": "propose_close"})
        await inbox(agent, conv, "ticket.status_changed")
        stored = (await people.call("agent", "GET", f"/api/conversations/{conv}/events"))["events"]
        staff_log = await agent.wait_for_seq(conv, stored[-1]["seq"])
        mine = [n for n in names(staff_log) if str(n).startswith("ticket.") and n != "ticket.assigned"]
        assert mine == ["ticket.opened", "ticket.transferred", "ticket.deadlines", "ticket.status_changed",
                        "ticket.deadlines"]
        public = [e["seq"] for e in staff_log if not e["internal"]]
        seen = await customer.wait_for_seq(conv, public[-1])
        # The customer got every public event, in order (the client checks prev_seq), and
        # none of the internal ones.
        assert [e["seq"] for e in seen] == public
        assert [n for n in names(seen) if str(n).startswith("ticket.")] == ["ticket.opened", "ticket.status_changed"]
        assert seen[-1]["data"]["to"] == "proposed_to_close"
        await people.call("customer", "POST", f"/api/conversations/{conv}/close", {"rating": {"value": "good"}})
        closed = await customer.wait_for_seq(conv, public[-1] + 3)
        assert names(closed)[-3:] == ["ticket.status_changed", "conversation.closed", "ticket.rated"]
        assert closed[-2]["body"] == "The customer ended this conversation."
        with pytest.raises(ProtocolError) as info:
            await customer.send(conv, "one more thing")
        assert info.value.code == "conversation_closed"


async def test_a_chat_started_while_no_agent_is_online_is_a_ticket_from_its_start(people: People) -> None:
    conv = (await people.call("customer", "POST", "/api/conversations", {"subject": "Night", "body": "Anyone?"},
                              expect=201))["conversation"]["id"]
    ticket = (await people.call("agent", "GET", f"/api/tickets/{conv}"))["ticket"]
    assert (ticket["tracked"], ticket["tracked_reason"]) == (True, "no_agent_online")
    assert set(ticket["deadlines"]) == {"first_response", "resolution"}
    # Its conversation.created is its opening: nothing else was added to the stream.
    events = (await people.call("agent", "GET", f"/api/conversations/{conv}/events"))["events"]
    assert [(e["seq"], e["kind"]) for e in events] == [(1, "system"), (2, "message")]
    # A read-only user online is no agent: still a ticket at once.
    async with people.client("readonly"):
        again = (await people.call("customer", "POST", "/api/conversations", {"subject": "Again"},
                                   expect=201))["conversation"]["id"]
        assert (await people.call("agent", "GET", f"/api/tickets/{again}"))["ticket"]["tracked"]

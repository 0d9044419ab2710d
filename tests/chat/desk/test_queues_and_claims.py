"""Queues, "I'll answer", release and Resolve over HTTP against a live server, with the
events they leave in the conversation and the doorbells they ring."""

from __future__ import annotations

from typing import Any

from chat import directory
from chat.auth import principal_of
from chat.client import ChatClient
from chat.conversations import start_conversation
from chat.groups.partners import set_reseller_settings
from chat.models import OrgKind, Role
from tests.support.chatlog import PASSWORD, eventually
from tests.support.desk import Desk


def queue_of(inbox: dict[str, Any], conversation_id: int) -> str | None:
    for queue in inbox["queues"]:
        if any(i["conversation_id"] == conversation_id for i in queue["items"]):
            return str(queue["key"])
    return None


async def test_a_new_chat_waits_in_new_with_its_customer_and_company(desk: Desk) -> None:
    conv = desk.chat.conversation_id
    inbox = await desk.call(desk.readonly, "GET", "/api/desk/inbox", expect=200)
    keys = [q["key"] for q in inbox["queues"]]
    assert keys[:2] == ["new", "first_line"]
    assert keys[2:6] == ["group:second_level", "group:marketing", "group:vendor", "group:incidents"]
    assert keys[-1] == "waiting"
    assert queue_of(inbox, conv) == "new"
    new = inbox["queues"][0]
    assert new["count"] == 1
    item = new["items"][0]
    assert (item["customer"]["name"], item["organization"]["name"], item["assignee"]) == ("Vera Visitor", "Acme", None)
    assert (await desk.call(desk.agent, "GET", "/api/desk/counts", expect=200))["counts"]["new"] == 1
    assert (await desk.call(desk.agent, "GET", f"/api/desk/items/{conv}", expect=200))["item"]["queue"] == "new"
    # Customers see no desk at all.
    await desk.call(desk.chat.visitor, "GET", "/api/desk/inbox", expect=403)


async def test_claim_is_seen_by_everyone_and_a_second_claim_is_refused(desk: Desk) -> None:
    conv = desk.chat.conversation_id
    async with ChatClient(desk.server.ws_url + "/ws", desk.chat.agent2.token) as watcher:
        await watcher.join(conv)
        claimed = await desk.call(desk.agent, "POST", f"/api/desk/conversations/{conv}/claim", {}, expect=200)
        assert claimed["assignee"]["id"] == desk.agent.principal.user_id
        # The other agent's console hears of it: a doorbell and the event in the stream.
        bell = await watcher.next_frame("inbox")
        assert (bell["conversation_id"], bell["reason"]) == (conv, "claimed")
        event = (await watcher.wait_for_seq(conv, 2))[-1]
        assert event["data"]["event"] == "ticket.assigned" and event["data"]["claimed"] is True
        assert event["data"]["assignee"]["name"] == "agent" and event["internal"] is True

    item = (await desk.call(desk.chat.agent2, "GET", f"/api/desk/items/{conv}", expect=200))["item"]
    assert item["assignee"]["id"] == desk.agent.principal.user_id
    again = await desk.call(desk.agent, "POST", f"/api/desk/conversations/{conv}/claim", {}, expect=200)
    assert again["assignee"]["id"] == desk.agent.principal.user_id  # one's own claim: nothing changes

    refused = await desk.call(desk.chat.agent2, "POST", f"/api/desk/conversations/{conv}/claim", {}, expect=409)
    assert refused["error"]["code"] == "already_claimed" and "agent" in refused["error"]["message"]
    await desk.call(desk.readonly, "POST", f"/api/desk/conversations/{conv}/claim", {}, expect=403)
    await desk.call(desk.chat.agent2, "POST", f"/api/desk/conversations/{conv}/release", {}, expect=409)

    taken = await desk.call(desk.chat.agent2, "POST", f"/api/desk/conversations/{conv}/claim", {"take_over": True}, expect=200)
    assert taken["assignee"]["id"] == desk.chat.agent2.principal.user_id
    await desk.call(desk.chat.agent2, "POST", f"/api/desk/conversations/{conv}/release", {}, expect=204)
    assert (await desk.call(desk.agent, "GET", f"/api/desk/items/{conv}", expect=200))["item"]["assignee"] is None

    # The customer's history has none of it: assignments are internal.
    async with ChatClient(desk.server.ws_url + "/ws", desk.chat.visitor.token) as customer:
        joined = await customer.join(conv)
        await customer.wait_for_seq(conv, joined["last_seq"])
        assert not [e for e in customer.log[conv] if (e["data"] or {}).get("event") == "ticket.assigned"]


async def test_resolve_replies_and_proposes_to_close_which_leaves_the_working_queues(desk: Desk) -> None:
    conv = desk.chat.conversation_id
    async with ChatClient(desk.server.ws_url + "/ws", desk.chat.visitor.token) as customer:
        await customer.join(conv)
        await customer.send(conv, "It is still smoking")
        body = {"body": "Unplug it, then plug it back in.", "client_msg_id": "resolve-1"}
        resolved = await desk.call(desk.agent, "POST", f"/api/desk/conversations/{conv}/resolve", body, expect=200)
        assert resolved["ticket"]["status"] == "proposed_to_close"
        assert resolved["ack"]["duplicate"] is False

        async def customer_saw_it() -> None:
            kinds = [(e["kind"], e["body"] if e["kind"] == "message" else e["data"].get("to"))
                     for e in customer.log[conv] if e["kind"] == "message" or e["data"].get("event") == "ticket.status_changed"]
            assert kinds[-2:] == [("message", "Unplug it, then plug it back in."), ("system", "proposed_to_close")]

        await eventually(customer_saw_it, timeout=5, what="the reply, then the proposal to close")

    # A retry of the same request stores nothing new and still answers with the ticket.
    retried = await desk.call(desk.agent, "POST", f"/api/desk/conversations/{conv}/resolve", body, expect=200)
    assert retried["ack"]["duplicate"] is True and retried["ticket"]["status"] == "proposed_to_close"

    inbox = await desk.call(desk.agent, "GET", "/api/desk/inbox", expect=200)
    assert queue_of(inbox, conv) is None
    found = (await desk.call(desk.agent, "GET", f"/api/desk/search?q={conv}", expect=200))["items"]
    assert [(i["conversation_id"], i["status"], i["queue"]) for i in found] == [(conv, "proposed_to_close", None)]
    by_name = (await desk.call(desk.agent, "GET", "/api/desk/search?q=vera&status=proposed_to_close", expect=200))["items"]
    assert [i["conversation_id"] for i in by_name] == [conv]
    await desk.call(desk.agent, "GET", "/api/desk/search?q=x&status=bogus", expect=422)
    await desk.call(desk.readonly, "POST", f"/api/desk/conversations/{conv}/resolve",
                    {"body": "x", "client_msg_id": "ro-1"}, expect=403)


async def test_the_conversation_view_has_the_customer_the_opener_and_the_notes(desk: Desk) -> None:
    conv = desk.chat.conversation_id
    customer_id = desk.chat.visitor.principal.user_id
    await desk.call(desk.agent, "POST", f"/api/desk/customers/{customer_id}/notes", {"body": "Calls twice a day"}, expect=201)
    view = await desk.call(desk.readonly, "GET", f"/api/desk/conversations/{conv}", expect=200)
    assert view["conversation"]["id"] == conv
    assert view["ticket"]["status"] == "new" and view["ticket"]["id"] == conv
    assert view["customer"]["name"] == "Vera Visitor" and view["customer"]["created_by"] is None
    assert view["organization"]["name"] == "Acme"
    assert view["opened_by"]["id"] == customer_id
    assert view["item"]["queue"] == "new"
    assert [n["body"] for n in view["notes"]] == ["Calls twice a day"]
    await desk.call(desk.chat.visitor, "GET", f"/api/desk/conversations/{conv}", expect=403)
    await desk.call(desk.agent, "GET", "/api/desk/conversations/999999", expect=404)


async def test_counts_agree_with_the_queues(desk: Desk) -> None:
    conv = desk.chat.conversation_id
    second = (await desk.call(desk.chat.visitor, "POST", "/api/conversations", {"subject": "Two"}, expect=201))["conversation"]["id"]
    third = (await desk.call(desk.chat.visitor, "POST", "/api/conversations", {"subject": "Three"}, expect=201))["conversation"]["id"]
    await desk.call(desk.agent, "POST", f"/api/tickets/{second}/transfer", {"group": "vendor"}, expect=200)
    await desk.call(desk.agent, "POST", f"/api/tickets/{third}/transfer", {"level": 3}, expect=200)
    inbox = await desk.call(desk.agent, "GET", "/api/desk/inbox", expect=200)
    counts = (await desk.call(desk.agent, "GET", "/api/desk/counts", expect=200))["counts"]
    assert counts == {q["key"]: q["count"] for q in inbox["queues"]}
    # A line without a group of its own gets a queue of its own.
    assert [queue_of(inbox, c) for c in (conv, second, third)] == ["new", "group:vendor", "level:3"]
    assert (counts["new"], counts["group:vendor"], counts["level:3"]) == (1, 1, 1)


async def test_a_ticket_held_by_a_partners_own_first_line_is_in_no_platform_queue(desk: Desk) -> None:
    svc = desk.server.services
    reseller = (await directory.create_organization(svc, None, name="Partner", kind=OrgKind.RESELLER)).organization
    company = (await directory.create_organization(svc, None, name="Partner's client", kind=OrgKind.CUSTOMER,
                                                  parent=reseller.id)).organization
    await set_reseller_settings(svc, desk.admin.principal, reseller.id, own_first_line=True)
    user = await directory.create_user(svc, None, email="c@client.example", role=Role.CUSTOMER,
                                       organization=company.id, password=PASSWORD, name="Client")
    held = (await start_conversation(svc, principal_of(user), subject="Partner's ticket")).conversation.id

    inbox = await desk.call(desk.agent, "GET", "/api/desk/inbox", expect=200)
    assert queue_of(inbox, held) is None and queue_of(inbox, desk.chat.conversation_id) == "new"
    assert (await desk.call(desk.agent, "GET", "/api/desk/counts", expect=200))["counts"]["new"] == 1
    item = (await desk.call(desk.agent, "GET", f"/api/desk/items/{held}", expect=200))["item"]
    assert (item["queue"], item["handled_by_org_id"]) == (f"partner:{reseller.id}", reseller.id)
    assert item["partner"] == {"id": reseller.id, "name": "Partner"}
    found = (await desk.call(desk.agent, "GET", "/api/desk/search?q=partner", expect=200))["items"]
    assert [i["conversation_id"] for i in found] == [held]
    # Platform agents do not work it until the partner hands it over; admins keep oversight.
    await desk.call(desk.agent, "POST", f"/api/desk/conversations/{held}/claim", {}, expect=403)
    await desk.call(desk.admin, "POST", f"/api/desk/conversations/{held}/claim", {}, expect=200)

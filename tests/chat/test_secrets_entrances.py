"""Secrets are masked at every entrance before they are stored or published: the stored
row (read back from the database) and what a socket client receives hold the masked text,
and the event's data names the kinds found (docs/protocol.md, "Masked secrets")."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from chat.desk.models import CustomerNote
from chat.models import Conversation, Event
from escalation.models import Ticket, TicketRating, TicketTask
from tests.escalation.people import People

STRIPE = "sk_live_4eC39HqLyjWDarjtT1zdp7dcA1B2"
AWS = "AKIAIOSFODNN7EXAMPLE"
CARD = "4111 1111 1111 1111"


async def _events(people: People, conversation_id: int) -> list[Event]:
    async with people.server.services.reads() as db:
        return list(await db.scalars(select(Event).where(Event.conversation_id == conversation_id).order_by(Event.seq)))


async def _row(people: People, model: Any, key: Any) -> Any:
    async with people.server.services.reads() as db:
        return await db.get(model, key)


def _no_secret(*texts: Any) -> None:
    for text in texts:
        assert STRIPE not in str(text) and AWS not in str(text) and CARD not in str(text), text


async def test_a_socket_send_is_stored_and_published_masked(people: People) -> None:
    started = await people.call("customer", "POST", "/api/conversations", {"subject": "Billing"}, expect=201)
    conv = started["conversation"]["id"]
    async with people.client("agent") as agent, people.client("customer") as customer:
        await agent.join(conv)
        await customer.join(conv)
        ack = await customer.send(conv, f"my key is {STRIPE}, card {CARD}")
        published = (await agent.wait_for_seq(conv, ack["seq"]))[-1]
        own = (await customer.wait_for_seq(conv, ack["seq"]))[-1]
    assert published["body"] == "my key is sk_live_…A1B2, card 411111…1111"
    assert published["data"]["masked"] == ["stripe_key", "card_number"]
    assert own["body"] == published["body"]  # the customer's own view shows the masked text
    stored = (await _events(people, conv))[-1]
    assert stored.body == published["body"] and stored.data["masked"] == ["stripe_key", "card_number"]
    history = await people.call("agent", "GET", f"/api/conversations/{conv}/events")
    assert history["events"][-1]["data"]["masked"] == ["stripe_key", "card_number"]
    _no_secret(stored.body, history)


async def test_an_internal_note_and_the_http_resolve_are_masked(people: People) -> None:
    conv = (await people.call("customer", "POST", "/api/conversations", {"subject": "Keys"}, expect=201))["conversation"]["id"]
    async with people.client("agent") as agent:
        await agent.join(conv)
        await agent.send(conv, f"customer's key {AWS}", internal=True)
    await people.call("agent", "POST", f"/api/desk/conversations/{conv}/resolve",
                      {"body": f"rotate {STRIPE} please", "client_msg_id": "r-1"})
    events = await _events(people, conv)
    note = next(e for e in events if e.type == "note")
    reply = next(e for e in events if e.type == "message" and e.body and e.body.startswith("rotate"))
    assert (note.body, note.data["masked"]) == ("customer's key AKIA…MPLE", ["aws_key"])
    assert (reply.body, reply.data["masked"]) == ("rotate sk_live_…A1B2 please", ["stripe_key"])


async def test_a_chat_started_over_http_masks_subject_first_message_and_prechat(people: People) -> None:
    started = await people.call("visitor", "POST", "/api/conversations", {
        "subject": f"key {AWS}", "body": f"пароль: Qwerty123!, ключ {STRIPE}", "client_msg_id": "c-1",
        "assets": [f"card {CARD}"], "name": "Vera password=hunter2hunter2",
    }, expect=201)
    conv = started["conversation"]["id"]
    assert started["conversation"]["subject"] == "key AKIA…MPLE"
    created, first = (await _events(people, conv))[:2]
    assert created.data["subject"] == "key AKIA…MPLE" and created.data["masked"] == ["aws_key"]
    assert created.data["prechat"]["assets"] == ["card 411111…1111"]
    assert created.data["prechat"]["name"] == "Vera password=h…2"
    assert created.data["prechat"]["masked"] == ["password_pair", "card_number"]
    assert first.body == "пароль: Q…3!, ключ sk_live_…A1B2"
    assert first.data["masked"] == ["stripe_key", "password_pair"]
    stored = await _row(people, Conversation, conv)
    _no_secret(stored.subject, created.data, first.body)


async def test_a_ticket_masks_subject_description_subject_edit_and_tasks(people: People) -> None:
    created = await people.call("customer", "POST", "/api/tickets", {
        "subject": f"Stripe {STRIPE} leaked", "description": f"key {AWS}\nCard {CARD}"}, expect=201)
    tid = created["ticket"]["id"]
    assert created["ticket"]["subject"] == "Stripe sk_live_…A1B2 leaked"
    events = await _events(people, tid)
    first = next(e for e in events if e.type == "message")
    assert first.body == "key AKIA…MPLE\nCard 411111…1111" and first.data["masked"] == ["aws_key", "card_number"]
    assert events[0].data["masked"] == ["stripe_key"]
    async with people.client("agent") as agent:
        await agent.join(tid)
        await people.call("agent", "PATCH", f"/api/tickets/{tid}", {"subject": f"Rotate {AWS}"})
        updated = await agent.next_event(tid)
    assert updated["data"]["changes"]["subject"] == {
        "from": "Stripe sk_live_…A1B2 leaked", "to": "Rotate AKIA…MPLE", "masked": ["aws_key"]}
    task = (await people.call("agent", "POST", f"/api/tickets/{tid}/tasks",
                              {"text": f"revoke {STRIPE}", "type": "software"}, expect=201))["task"]
    assert task["text"] == "revoke sk_live_…A1B2"
    conv = await _row(people, Conversation, tid)
    stored_task = await _row(people, TicketTask, task["id"])
    assert conv.subject == "Rotate AKIA…MPLE" and stored_task.text == "revoke sk_live_…A1B2"
    _no_secret(conv.subject, stored_task.text, [(e.body, e.data) for e in await _events(people, tid)])
    assert await _row(people, Ticket, tid) is not None


async def test_a_staff_note_on_a_customer_is_masked(people: People) -> None:
    note = (await people.call("agent", "POST", f"/api/desk/customers/{people.ids['customer']}/notes",
                              {"body": f"gave us their key {STRIPE}"}, expect=201))["note"]
    assert note["body"] == "gave us their key sk_live_…A1B2"
    stored = await _row(people, CustomerNote, note["id"])
    assert stored.body == note["body"]


async def test_the_offline_forms_answers_are_masked(people: People) -> None:
    created = await people.call("visitor", "POST", "/api/tickets", {
        "channel": "widget_offline", "subject": "Help", "description": "cannot sign in", "email": "vera@x.example",
        "name": f"Vera {AWS}", "assets": [f"card {CARD}"]}, expect=201)
    ticket = await _row(people, Ticket, created["ticket"]["id"])
    assert (ticket.contact_name, ticket.assets) == ("Vera AKIA…MPLE", ["card 411111…1111"])


async def test_a_rating_comment_is_stored_masked(people: People) -> None:
    # The comment is customer text that the ratings report and the CSV export show.
    conv = (await people.call("customer", "POST", "/api/conversations", {"subject": "Help", "body": "Hi"},
                              expect=201))["conversation"]["id"]
    closed = (await people.call("customer", "POST", f"/api/conversations/{conv}/close",
                                {"rating": {"value": "good", "comment": f"thanks! the new key {AWS} works"}}))["ticket"]
    assert closed["ratings"][-1]["comment"] == "thanks! the new key AKIA…MPLE works"
    async with people.server.services.reads() as db:
        stored = list(await db.scalars(select(TicketRating.comment).where(TicketRating.conversation_id == conv)))
    assert stored == ["thanks! the new key AKIA…MPLE works"]
    _no_secret(stored, closed)

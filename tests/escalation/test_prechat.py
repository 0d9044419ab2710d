"""The widget's pre-chat answers on ``POST /api/conversations`` become fields of the chat's
ticket (escalation.prechat): checked before anything is stored, on the row before the SLA
policy and the assignment rules look at it. Live server, both backends."""

from __future__ import annotations

from contextlib import AsyncExitStack
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select

from chat.client import ChatClient
from chat.models import Conversation, Event, User
from escalation.jobs import Backfill
from escalation.models import Ticket
from tests.support.chatlog import Person
from tests.support.desk import Desk

ANSWERS: dict[str, Any] = {
    "category": "data_accuracy", "severity": 2, "assets": ["device: Printer 7", " TRUCK-9 ", "TRUCK-9"],
    "happened_at": "2026-03-01T10:00:00+03:00", "email": "Vera@Example.org", "name": "Vera Valid",
}


async def online(stack: AsyncExitStack, desk: Desk, who: Person) -> None:
    client = await stack.enter_async_context(ChatClient(desk.server.ws_url + "/ws", who.token))
    await client.ping()


async def start(desk: Desk, who: Person, **answers: Any) -> int:
    body = {"subject": "Mileage doubled", "body": "Since Monday the mileage is doubled", **answers}
    created = await desk.call(who, "POST", "/api/conversations", body, expect=201)
    return int(created["conversation"]["id"])


async def ticket(desk: Desk, who: Person, conversation_id: int) -> dict[str, Any]:
    return (await desk.call(who, "GET", f"/api/tickets/{conversation_id}", expect=200))["ticket"]


async def counts(desk: Desk) -> tuple[int, int, str]:
    async with desk.server.services.sessions() as db:
        conversations = await db.scalar(select(func.count()).select_from(Conversation))
        events = await db.scalar(select(func.count()).select_from(Event))
        name = await db.scalar(select(User.name).where(User.id == desk.chat.visitor.principal.user_id))
    return int(conversations or 0), int(events or 0), str(name)


async def test_the_answers_are_the_tickets_fields_and_its_sla(desk: Desk) -> None:
    visitor = desk.chat.visitor
    plain = await start(desk, visitor)
    conv_id = await start(desk, visitor, **ANSWERS)
    staff = await ticket(desk, desk.agent, conv_id)
    assert (staff["channel"], staff["category"], staff["severity"]) == ("chat", "data_accuracy", 2)
    assert staff["assets"] == ["device: Printer 7", "TRUCK-9"]
    assert datetime.fromisoformat(staff["happened_at"]) == datetime.fromisoformat("2026-03-01T07:00:00+00:00")
    assert staff["contact_email"] == "vera@example.org"
    # A visitor is known by the name given: the requester, as queues and history show it.
    assert staff["requester"]["name"] == "Vera Valid"
    # The SLA policy is the category's (FFC data accuracy: 3 days), not the plan's default.
    assert staff["sla_policy"].endswith("/ data_accuracy")
    assert (await ticket(desk, desk.agent, plain))["sla_policy"] == "basic plan"
    item = (await desk.call(desk.admin, "GET", f"/api/desk/items/{conv_id}", expect=200))["item"]
    assert (item["category"], item["severity"], item["customer"]["name"]) == ("data_accuracy", 2, "Vera Valid")

    # The first message is the description alone; the answers are one ticket.updated.
    log = (await desk.call(desk.agent, "GET", f"/api/conversations/{conv_id}/events", expect=200))["events"]
    assert [e["body"] for e in log if e["kind"] == "message"] == ["Since Monday the mileage is doubled"]
    updates = [e for e in log if e["data"].get("event") == "ticket.updated"]
    assert len(updates) == 1 and not updates[0]["internal"]
    assert updates[0]["data"]["reason"] == "prechat" and updates[0]["data"]["actor"]["id"] == visitor.principal.user_id
    assert updates[0]["data"]["changes"] == {
        "category": {"from": None, "to": "data_accuracy"}, "severity": {"from": None, "to": 2},
        "assets": {"from": [], "to": ["device: Printer 7", "TRUCK-9"]},
        "happened_at": {"from": None, "to": "2026-03-01T07:00:00+00:00"},
    }
    # The customer sees the fields they gave, not the desk's contact column.
    mine = await ticket(desk, visitor, conv_id)
    assert (mine["category"], mine["severity"]) == ("data_accuracy", 2) and "contact_email" not in mine
    # Without answers, nothing is recorded beyond the chat itself.
    plain_log = (await desk.call(desk.agent, "GET", f"/api/conversations/{plain}/events", expect=200))["events"]
    assert [e["data"].get("event") for e in plain_log if e["kind"] == "system"] == ["conversation.created"]


async def test_a_category_brings_its_default_severity_and_a_follow_up_takes_answers_too(desk: Desk) -> None:
    visitor = desk.chat.visitor
    first = await start(desk, visitor, category="training_request")
    assert (await ticket(desk, desk.agent, first))["severity"] is None  # the seed sets no default
    await desk.call(desk.agent, "POST", f"/api/tickets/{first}/status", {"action": "close"}, expect=200)
    follow = await start(desk, visitor, linked_to=first, severity=1, assets=["GW-1"])
    found = await ticket(desk, desk.agent, follow)
    assert (found["linked_from"], found["severity"], found["assets"], found["category"]) == (first, 1, ["GW-1"], None)


async def test_bad_answers_are_refused_and_nothing_is_created(desk: Desk) -> None:
    before = await counts(desk)
    for bad, status, code in (
        ({"category": "device_error"}, 422, "category_not_allowed"),  # staff only
        ({"category": "business_request"}, 422, "category_not_allowed"),  # by e-mail
        ({"category": "no_such"}, 422, "unknown_category"),
        ({"severity": 4}, 422, "validation_failed"),
        ({"severity": 0}, 422, "validation_failed"),
        ({"severity": "high"}, 422, "validation_failed"),
        ({"severity": True}, 422, "validation_failed"),
        ({"assets": [""]}, 422, "validation_failed"),
        ({"assets": ["x" * 101]}, 422, "validation_failed"),
        ({"assets": "TRUCK-1"}, 422, "validation_failed"),
        ({"happened_at": "2026-03-01T10:00:00"}, 422, "validation_failed"),  # no time zone
        ({"happened_at": "yesterday"}, 422, "validation_failed"),
        ({"happened_at": "2026-03-03T09:00:00Z"}, 422, "validation_failed"),  # the clock: 2026-03-02 09:00
        ({"email": "not-an-address"}, 422, "validation_failed"),
        ({"email": ""}, 422, "validation_failed"),
        ({"name": "n" * 201}, 422, "validation_failed"),
        ({"category": "data_accuracy", "body": "   "}, 422, "invalid_frame"),  # good answers, bad message
        ({"category": "data_accuracy", "linked_to": 999999}, 404, "not_found"),
    ):
        body = {"subject": "x", "body": "y", "name": "Changed Name", **bad}
        r = await desk.call(desk.chat.visitor, "POST", "/api/conversations", body, expect=status)
        assert r["error"]["code"] == code, (bad, r)
    # Staff do not start customer chats, answers or not.
    r = await desk.call(desk.agent, "POST", "/api/conversations", {"category": "data_accuracy"}, expect=403)
    assert r["error"]["code"] == "forbidden"
    assert await counts(desk) == before


async def test_assignment_rules_route_by_the_answers(desk: Desk) -> None:
    a, b = desk.agent, desk.chat.agent2
    async with AsyncExitStack() as stack:
        await online(stack, desk, a)
        await online(stack, desk, b)
        await desk.call(desk.admin, "POST", "/api/desk/rules", {
            "name": "Training to b", "assignee_id": b.principal.user_id, "category": "training_request"}, expect=201)
        await desk.call(desk.admin, "POST", "/api/desk/rules", {
            "name": "Critical to a", "assignee_id": a.principal.user_id, "severity": 1}, expect=201)
        # Round-robin alone would alternate between the two; the rules do not.
        chats = [await start(desk, desk.chat.visitor, category="training_request") for _ in range(2)]
        chats += [await start(desk, desk.chat.visitor, severity=1) for _ in range(2)]
        owners = [(await ticket(desk, desk.admin, c))["assignee"]["id"] for c in chats]
        b_id, a_id = b.principal.user_id, a.principal.user_id
        assert owners == [b_id, b_id, a_id, a_id]
        log = (await desk.call(desk.admin, "GET", f"/api/conversations/{chats[0]}/events", expect=200))["events"]
        assigned = [e["data"] for e in log if e["data"].get("event") == "ticket.assigned"]
        assert [d["auto"] for d in assigned] == ["rule"]


async def test_a_chat_started_while_nobody_is_online_is_a_ticket_with_the_categorys_deadlines(desk: Desk) -> None:
    conv_id = await start(desk, desk.chat.visitor, category="training_request", severity=3)
    found = await ticket(desk, desk.agent, conv_id)
    assert (found["tracked"], found["tracked_reason"]) == (True, "no_agent_online")
    assert found["sla_policy"].endswith("/ training_request")
    # The same deadlines as a ticket opened directly with these fields at the same instant
    # (FFC training request: 1 day, not the plan's default 48 h).
    direct = (await desk.call(desk.chat.visitor, "POST", "/api/tickets", {
        "subject": "Same", "description": "Same", "category": "training_request", "severity": 3}, expect=201))["ticket"]
    direct = await ticket(desk, desk.agent, direct["id"])
    assert found["deadlines"] == direct["deadlines"] and set(found["deadlines"]) == {"first_response", "resolution"}
    assert found["deadlines"]["resolution"]["due_at"] != (datetime.fromisoformat(found["created_at"])
                                                          + timedelta(hours=48)).isoformat()


async def test_the_answers_are_committed_with_the_chat_and_outlive_a_lost_reaction(desk: Desk) -> None:
    svc = desk.server.services
    reactions = list(svc.reactions)
    svc.reactions.clear()  # the process dies right after the chat's commit: no ticket row yet
    try:
        conv_id = await start(desk, desk.chat.visitor, **ANSWERS)
    finally:
        svc.reactions.extend(reactions)
    async with svc.reads() as db:
        created = await db.scalar(select(Event.data).where(Event.conversation_id == conv_id, Event.seq == 1))
        assert await db.get(Ticket, conv_id) is None
    # The checked answers travel in the committed conversation.created event, nowhere else.
    assert created is not None and created["event"] == "conversation.created"
    assert created["prechat"] == {
        "category": "data_accuracy", "severity": 2, "assets": ["device: Printer 7", "TRUCK-9"],
        "happened_at": "2026-03-01T07:00:00+00:00", "email": "vera@example.org", "name": "Vera Valid",
    }
    # On the wire, the contact e-mail is the desk's: customers' copies go without it.
    def created_as_seen_by(events: list[dict[str, Any]]) -> dict[str, Any]:
        return next(e["data"] for e in events if e["seq"] == 1)

    mine = (await desk.call(desk.chat.visitor, "GET", f"/api/conversations/{conv_id}/events", expect=200))["events"]
    staffs = (await desk.call(desk.agent, "GET", f"/api/conversations/{conv_id}/events", expect=200))["events"]
    assert "email" not in created_as_seen_by(mine)["prechat"]
    assert created_as_seen_by(mine)["prechat"]["name"] == "Vera Valid"
    assert created_as_seen_by(staffs)["prechat"]["email"] == "vera@example.org"
    # The sweeper's backfill makes the row from what was committed, answers included.
    assert await Backfill().run(svc, svc.clock.now() + timedelta(minutes=1)) == 1
    staff = await ticket(desk, desk.agent, conv_id)
    assert (staff["category"], staff["severity"], staff["assets"]) == ("data_accuracy", 2, ["device: Printer 7", "TRUCK-9"])
    assert staff["contact_email"] == "vera@example.org"
    assert staff["sla_policy"].endswith("/ data_accuracy")

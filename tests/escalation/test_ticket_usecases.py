"""Ticket use cases on real databases (SQLite and PostgreSQL): the row that follows a
support chat, escalation, direct intake, field changes, status, assignment, transfer,
tasks, rating and closing. Exact event lists where the stream is the contract."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import delete

from chat.clock import ManualClock
from chat.conversations import events_after, post_message
from chat.errors import AppError
from chat.services import Services
from escalation import tickets
from escalation.closing import rating_of
from escalation.models import Ticket, TicketChannel
from tests.escalation.world import Desk, chat, last_seq, make_desk, say, system_events

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)  # Monday


@pytest.fixture
async def desk(svc: Services) -> Desk:
    return await make_desk(svc)


def code_of(info: pytest.ExceptionInfo[AppError]) -> tuple[int, str]:
    return info.value.status, info.value.code


async def test_a_chat_has_a_live_ticket_from_its_start_and_replies_do_not_add_events(desk: Desk, clock: ManualClock) -> None:
    conv = await chat(desk)
    ticket = await tickets.get_ticket(desk.svc, desk.agent, conv)
    assert (ticket["status"], ticket["tracked"], ticket["channel"], ticket["next_action"]) == ("new", False, "chat", "support")
    # Live-chat phase: only the first-response clock runs (regular plan: 4 h).
    assert set(ticket["deadlines"]) == {"first_response"}
    assert ticket["deadlines"]["first_response"]["due_at"] == (T0 + timedelta(hours=4)).isoformat()
    assert ticket["requester"]["id"] == desk.customer.user_id
    clock.advance(timedelta(minutes=3))
    await say(desk, desk.agent, conv, "Step away from it.")
    await say(desk, desk.customer, conv, "Done.")
    ticket = await tickets.get_ticket(desk.svc, desk.agent, conv)
    assert ticket["status"] == "in_progress"
    assert ticket["deadlines"]["first_response"]["state"] == "met"
    # The reply itself is the record: nothing but the chat's own events in the stream.
    assert await system_events(desk, conv) == ["conversation.created", "participant.joined"]


async def test_an_internal_note_is_no_reply(desk: Desk) -> None:
    conv = await chat(desk)
    await say(desk, desk.agent, conv, "looks like a fuser problem", internal=True)
    ticket = await tickets.get_ticket(desk.svc, desk.agent, conv)
    assert ticket["status"] == "new" and ticket["deadlines"]["first_response"]["state"] == "running"


async def test_escalating_a_chat_starts_the_ticket_clocks_in_the_same_thread(desk: Desk, clock: ManualClock) -> None:
    conv = await chat(desk)
    await say(desk, desk.agent, conv, "Let me check.")
    before = await last_seq(desk, conv)
    clock.advance(timedelta(minutes=10))
    ticket = await tickets.escalate_conversation(desk.svc, desk.agent, conv, group="second_level",
                                                 category="technical_question", severity=2, note="needs L2")
    assert ticket["tracked"] and ticket["tracked_reason"] == "agent"
    assert (ticket["level"], ticket["group"], ticket["category"], ticket["severity"]) == (2, "second_level",
                                                                                          "technical_question", 2)
    assert set(ticket["deadlines"]) == {"first_response", "resolution"}
    assert await system_events(desk, conv, after=before) == [
        "ticket.opened", "ticket.recategorized", "ticket.updated", "ticket.transferred", "ticket.deadlines",
    ]
    log, _ = await events_after(desk.svc, desk.agent, conv, after_seq=before)
    assert [e["body"] for e in log if e["kind"] == "note"] == []  # the note travels with the transfer
    transferred = next(e for e in log if e["data"].get("event") == "ticket.transferred")
    assert transferred["internal"] and transferred["data"]["note"] == "needs L2"
    assert transferred["data"]["actor"]["id"] == desk.agent.user_id
    # The customer sees the ticket opening and the category, never the internal routing.
    seen = await system_events(desk, conv, after=before, as_=desk.customer)
    assert seen == ["ticket.opened", "ticket.recategorized", "ticket.updated"]
    with pytest.raises(AppError) as info:
        await tickets.escalate_conversation(desk.svc, desk.agent, conv)
    assert code_of(info) == (409, "already_tracked")


async def test_escalation_refuses_bad_input_and_changes_nothing(desk: Desk) -> None:
    conv = await chat(desk)
    before = await last_seq(desk, conv)
    for kwargs, expected in (
        ({"group": "nowhere"}, (422, "invalid_transfer")),
        ({"category": "made_up"}, (422, "unknown_category")),
        ({"level": 4}, (422, "invalid_transfer")),
    ):
        with pytest.raises(AppError) as info:
            await tickets.escalate_conversation(desk.svc, desk.agent, conv, **kwargs)
        assert code_of(info) == expected
    with pytest.raises(AppError) as info:
        await tickets.escalate_conversation(desk.svc, desk.customer, conv)
    assert code_of(info) == (403, "forbidden")
    with pytest.raises(AppError) as info:
        await tickets.escalate_conversation(desk.svc, desk.readonly, conv)
    assert code_of(info) == (403, "forbidden")
    with pytest.raises(AppError) as info:
        await tickets.get_ticket(desk.svc, desk.stranger, conv)
    assert code_of(info) == (404, "not_found")
    assert await last_seq(desk, conv) == before
    assert not (await tickets.get_ticket(desk.svc, desk.agent, conv))["tracked"]


async def test_open_a_ticket_on_the_web_form(desk: Desk) -> None:
    draft = tickets.TicketDraft(subject="Reports are wrong", description="Mileage doubled since Monday",
                                category="data_accuracy", severity=2, assets=["TRUCK-7", " TRUCK-7 ", "VAN-1"],
                                happened_at=T0 - timedelta(days=1), cc=[desk.colleague.user_id])
    ticket = await tickets.open_ticket(desk.svc, desk.customer, draft)
    assert (ticket["status"], ticket["tracked"], ticket["channel"]) == ("new", True, "web")
    assert ticket["assets"] == ["TRUCK-7", "VAN-1"] and [u["id"] for u in ticket["cc"]] == [desk.colleague.user_id]
    assert "tasks" not in ticket and "deadlines" not in ticket  # the customer's view
    conv = ticket["id"]
    assert await system_events(desk, conv) == ["conversation.created", "ticket.opened"]
    log, _ = await events_after(desk.svc, desk.agent, conv, after_seq=0)
    assert [e["body"] for e in log if e["kind"] == "message"] == ["Mileage doubled since Monday"]
    staff = await tickets.get_ticket(desk.svc, desk.agent, conv)
    # Regular plan: first response 4 h; the category's own SLA: 3 business days.
    assert set(staff["deadlines"]) == {"first_response", "resolution"}
    assert staff["sla_policy"] == "regular plan / data_accuracy"
    # The colleague on CC reads it; a stranger does not even learn it exists.
    assert (await tickets.get_ticket(desk.svc, desk.colleague, conv))["id"] == conv
    with pytest.raises(AppError) as info:
        await tickets.get_ticket(desk.svc, desk.stranger, conv)
    assert code_of(info) == (404, "not_found")
    # Taken off the CC, the colleague loses the ticket and its conversation.
    await tickets.update_ticket(desk.svc, desk.agent, conv, {"cc": []})
    with pytest.raises(AppError) as info:
        await tickets.get_ticket(desk.svc, desk.colleague, conv)
    assert code_of(info) == (404, "not_found")
    with pytest.raises(AppError) as info:
        await events_after(desk.svc, desk.colleague, conv, after_seq=0)
    assert code_of(info) == (404, "not_found")


@pytest.mark.parametrize(
    ("who", "draft", "expected"),
    [
        ("customer", {"category": "device_error"}, (422, "category_not_allowed")),  # staff only
        ("customer", {"category": "business_request"}, (422, "category_not_allowed")),  # by e-mail
        ("customer", {"category": "nope"}, (422, "unknown_category")),
        ("customer", {"severity": 4}, (422, "validation_failed")),
        ("customer", {"channel": TicketChannel.PHONE, "requester_email": "x@acme.example"}, (403, "forbidden")),
        ("customer", {"channel": TicketChannel.CHAT}, (422, "validation_failed")),
        ("customer", {"cc": [10**6]}, (422, "validation_failed")),
        ("customer", {"happened_at": T0 + timedelta(days=2)}, (422, "validation_failed")),
        ("customer", {"assets": ["x" * 101]}, (422, "validation_failed")),
        ("visitor", {"channel": TicketChannel.WIDGET_OFFLINE}, (422, "validation_failed")),  # no e-mail
        ("agent", {}, (403, "forbidden")),  # staff open tickets on behalf of someone
        ("agent", {"channel": TicketChannel.PHONE}, (422, "validation_failed")),  # for whom?
        ("readonly", {"channel": TicketChannel.PHONE, "requester_email": "x@acme.example"}, (403, "forbidden")),
    ],
)
async def test_bad_tickets_are_refused_and_nothing_is_stored(
    desk: Desk, who: str, draft: dict[str, object], expected: tuple[int, str]
) -> None:
    with pytest.raises(AppError) as info:
        await tickets.open_ticket(desk.svc, getattr(desk, who), tickets.TicketDraft("Subject", "Text", **draft))  # type: ignore[arg-type]
    assert code_of(info) == expected
    async with desk.svc.reads() as db:
        assert (await db.scalars(Ticket.__table__.select())).all() == []


async def test_an_agent_takes_a_call_and_the_offline_form_reaches_support(desk: Desk) -> None:
    phone = await tickets.open_ticket(desk.svc, desk.agent, tickets.TicketDraft(
        "Cannot log in", "Caller says the password reset mail never arrives", channel=TicketChannel.PHONE,
        requester_email="New.Person@Acme.example", category="device_error"))
    assert phone["channel"] == "phone" and phone["category"] == "device_error"  # staff may pick staff-only ones
    caller = phone["requester"]
    assert caller["role"] == "customer" and phone["organization_id"] == desk.org_id  # found by the e-mail domain
    log, _ = await events_after(desk.svc, desk.agent, phone["id"], after_seq=0)
    message = next(e for e in log if e["kind"] == "message")
    assert message["author"]["id"] == caller["id"] and message["data"]["entered_by"]["id"] == desk.agent.user_id
    offline = await tickets.open_ticket(desk.svc, desk.visitor, tickets.TicketDraft(
        "Call me back", "Nobody was online", channel=TicketChannel.WIDGET_OFFLINE, email="Vera@Example.org"))
    assert offline["channel"] == "widget_offline" and offline["requester"]["id"] == desk.visitor.user_id
    staff_view = await tickets.get_ticket(desk.svc, desk.agent, offline["id"])
    assert staff_view["contact_email"] == "vera@example.org"


async def test_field_changes_are_recorded_and_customers_may_change_none(desk: Desk, clock: ManualClock) -> None:
    conv = (await tickets.open_ticket(desk.svc, desk.customer, tickets.TicketDraft(
        "Training", "Need a session", category="training_request")))["id"]
    await say(desk, desk.agent, conv, "Sure.")
    before = await last_seq(desk, conv)
    ticket = await tickets.update_ticket(desk.svc, desk.agent, conv, {
        "category": "configuration_request", "severity": 3, "subject": "Training for 5 people",
        "assets": ["GW-1"], "label": "Hard to configure",
    })
    assert (ticket["category"], ticket["severity"], ticket["subject"], ticket["label"]) == (
        "configuration_request", 3, "Training for 5 people", "Hard to configure")
    events, _ = await events_after(desk.svc, desk.agent, conv, after_seq=before)
    names = [e["data"]["event"] for e in events]
    assert names == ["ticket.recategorized", "ticket.updated", "ticket.deadlines"]
    assert events[0]["data"]["from"] == "training_request" and events[0]["data"]["to"] == "configuration_request"
    assert set(events[1]["data"]["changes"]) == {"severity", "subject", "assets", "label"}
    for bad, expected in (
        ({"label": "Made up"}, (422, "invalid_label")),
        ({"category": "nope"}, (422, "unknown_category")),
        ({"severity": 3}, (422, "no_change")),
        ({}, (422, "no_change")),
        ({"happened_at": datetime(2026, 3, 1, 9, 0)}, (422, "validation_failed")),  # naive
    ):
        with pytest.raises(AppError) as info:
            await tickets.update_ticket(desk.svc, desk.agent, conv, bad)
        assert code_of(info) == expected
    with pytest.raises(AppError) as info:
        await tickets.update_ticket(desk.svc, desk.customer, conv, {"severity": 1})
    assert code_of(info) == (403, "forbidden")
    assert await last_seq(desk, conv) == before + 3


async def test_status_assign_transfer_and_tasks(desk: Desk) -> None:
    conv = await chat(desk)
    with pytest.raises(AppError) as info:
        await tickets.change_status(desk.svc, desk.agent, conv, "propose_close")
    assert code_of(info) == (409, "illegal_transition")  # nothing was answered yet
    ticket = await tickets.change_status(desk.svc, desk.agent, conv, "start", note="on it")
    assert ticket["status"] == "in_progress"
    ticket = await tickets.assign_ticket(desk.svc, desk.agent, conv, desk.agent2.user_id)
    assert ticket["assignee"]["id"] == desk.agent2.user_id
    with pytest.raises(AppError) as info:
        await tickets.assign_ticket(desk.svc, desk.agent, conv, desk.customer.user_id)
    assert code_of(info) == (422, "validation_failed")
    ticket = await tickets.transfer_ticket(desk.svc, desk.agent, conv, group="vendor", note="firmware bug")
    assert (ticket["level"], ticket["group"]) == (3, "vendor")  # the group's own line
    assert ticket["assignee"] is None  # a transfer releases the claim (issue 18): the group picks it up
    task = await tickets.add_task(desk.svc, desk.agent, conv, {"text": "Flash firmware 2.1", "type": "firmware",
                                                               "hours": 1.5})
    assert (task.status, task.hours) == ("open", 1.5)
    task = await tickets.update_task(desk.svc, desk.agent, conv, task.id, {"status": "done"})
    assert task.status == "done"
    with pytest.raises(AppError) as info:
        await tickets.add_task(desk.svc, desk.agent, conv, {"text": "x", "type": "magic"})
    assert code_of(info) == (422, "validation_failed")
    with pytest.raises(AppError) as info:
        await tickets.add_task(desk.svc, desk.customer, conv, {"text": "x", "type": "internal"})
    assert code_of(info) == (403, "forbidden")
    staff = await tickets.get_ticket(desk.svc, desk.agent, conv)
    assert [t["status"] for t in staff["tasks"]] == ["done"]
    assert await system_events(desk, conv) == [
        "conversation.created", "ticket.status_changed", "ticket.assigned", "ticket.transferred", "ticket.assigned",
        "ticket.task_added", "ticket.task_updated",
    ]
    # Only the status change is the customer's business.
    assert await system_events(desk, conv, as_=desk.customer) == ["conversation.created", "ticket.status_changed"]


async def test_a_customer_reply_reopens_and_rating_is_once_per_resolution(desk: Desk) -> None:
    conv = await chat(desk)
    await say(desk, desk.agent, conv, "Try turning it off and on.")
    with pytest.raises(AppError) as info:
        await tickets.rate_ticket(desk.svc, desk.customer, conv, "good")
    assert code_of(info) == (409, "rating_not_allowed")
    await tickets.change_status(desk.svc, desk.agent, conv, "propose_close")
    ticket = await tickets.rate_ticket(desk.svc, desk.customer, conv, "bad", reason="not fixed", comment="still hot")
    assert [(r["value"], r["reason"], r["round"]) for r in ticket["ratings"]] == [("bad", "not fixed", 1)]
    with pytest.raises(AppError) as info:
        await tickets.rate_ticket(desk.svc, desk.customer, conv, "good")
    assert code_of(info) == (409, "already_rated")
    with pytest.raises(AppError) as info:
        await tickets.rate_ticket(desk.svc, desk.agent, conv, "good")
    assert code_of(info) == (403, "forbidden")
    before = await last_seq(desk, conv)
    await say(desk, desk.customer, conv, "It is still on fire!")
    ticket = await tickets.get_ticket(desk.svc, desk.customer, conv)
    assert (ticket["status"], ticket["next_action"], ticket["auto_close_at"]) == ("in_progress", "support", None)
    assert await system_events(desk, conv, after=before) == ["ticket.status_changed"]
    await tickets.change_status(desk.svc, desk.agent, conv, "propose_close")
    ticket = await tickets.rate_ticket(desk.svc, desk.customer, conv, "none")
    assert [r["round"] for r in ticket["ratings"]] == [1, 2]
    with pytest.raises(AppError) as info:
        rating_of("great")
    assert code_of(info) == (422, "invalid_rating")


async def test_the_customer_ends_the_chat_with_a_rating_and_then_cannot_write(desk: Desk) -> None:
    conv = await chat(desk)
    await say(desk, desk.agent, conv, "Fixed?")
    with pytest.raises(AppError) as info:
        await tickets.close_conversation(desk.svc, desk.stranger, conv)
    assert code_of(info) == (404, "not_found")
    before = await last_seq(desk, conv)
    ticket = await tickets.close_conversation(desk.svc, desk.customer, conv, rating=rating_of("good", None, "thanks"))
    assert (ticket["status"], ticket["close_reason"], ticket["next_action"]) == ("closed", "customer", None)
    assert await system_events(desk, conv, after=before) == ["ticket.status_changed", "conversation.closed", "ticket.rated"]
    with pytest.raises(AppError) as info:
        await post_message(desk.svc, desk.customer, conv, client_msg_id="late-1", body="one more thing")
    assert code_of(info) == (409, "conversation_closed")
    with pytest.raises(AppError) as info:
        await tickets.close_conversation(desk.svc, desk.customer, conv)
    assert code_of(info) == (409, "conversation_closed")
    with pytest.raises(AppError) as info:
        await tickets.change_status(desk.svc, desk.agent, conv, "reopen")
    assert code_of(info) == (409, "illegal_transition")  # closed is final: a follow-up is a new conversation


async def test_a_follow_up_after_close_is_linked_both_ways(desk: Desk) -> None:
    old = await chat(desk)
    with pytest.raises(AppError) as info:
        await tickets.start_follow_up(desk.svc, desk.customer, linked_to=old, body="again")
    assert code_of(info) == (409, "not_closed")
    await tickets.close_conversation(desk.svc, desk.customer, old)
    for who, expected in ((desk.stranger, (404, "not_found")), (desk.colleague, (404, "not_found"))):
        with pytest.raises(AppError) as info:
            await tickets.start_follow_up(desk.svc, who, linked_to=old, body="again")
        assert code_of(info) == expected
    created = await tickets.start_follow_up(desk.svc, desk.customer, linked_to=old, subject="Again", body="It is back")
    new = created.conversation.id
    assert (await tickets.get_ticket(desk.svc, desk.customer, new))["linked_from"] == old
    assert (await tickets.get_ticket(desk.svc, desk.customer, old))["linked_to"] == new
    assert (await system_events(desk, old))[-1] == "ticket.linked"
    assert await system_events(desk, new) == ["conversation.created", "ticket.linked"]


async def test_a_lost_row_is_recreated_by_any_use_case(desk: Desk) -> None:
    conv = await chat(desk)
    await say(desk, desk.agent, conv, "Hello")
    async with desk.svc.sessions.begin() as db:  # as if the reaction never ran
        await db.execute(delete(Ticket).where(Ticket.conversation_id == conv))
    ticket = await tickets.assign_ticket(desk.svc, desk.agent, conv, desk.agent.user_id)
    # Rebuilt from the stored events: the reply was seen, the chat is in progress.
    assert ticket["status"] == "in_progress" and ticket["deadlines"]["first_response"]["state"] == "met"
    assert ticket["assignee"]["id"] == desk.agent.user_id


async def test_a_ticket_caught_up_at_once_equals_one_that_followed_every_message(desk: Desk, clock: ManualClock) -> None:
    """A unit replays whatever messages its ticket has not applied (a crash, or a long run
    of messages that changed nothing); applying only each turn of the conversation must
    leave the ticket exactly as following every message did."""
    from escalation.admin import create_policy

    await create_policy(desk.svc, desk.admin, {"name": "with next response", "tier": "regular", "category": "technical_question",
                                               "first_response": {"minutes": 60}, "next_response": {"minutes": 30},
                                               "resolution": {"minutes": 600}})
    followed, replayed = await chat(desk), await chat(desk)
    for conv in (followed, replayed):
        await tickets.escalate_conversation(desk.svc, desk.agent, conv, category="technical_question", severity=2)
    script = [desk.customer] * 3 + [desk.agent] * 2 + [desk.readonly] + [desk.customer] * 2 + [desk.agent2] + [desk.customer] * 4
    for n, who in enumerate(script):
        clock.advance(timedelta(minutes=7))
        if who is desk.readonly:
            continue  # a read-only user cannot post; the gap is just time passing
        await say(desk, who, followed, f"line {n}")
        await say(desk, who, replayed, f"line {n}", react=False)
    clock.advance(timedelta(minutes=1))
    seen = {conv: await tickets.get_ticket(desk.svc, desk.agent, conv) for conv in (followed, replayed)}

    def comparable(ticket: dict[str, object]) -> dict[str, object]:
        return {k: v for k, v in ticket.items() if k not in {"id", "conversation_id", "number", "url", "updated_at"}}

    replayed_view, followed_view = comparable(seen[replayed]), comparable(seen[followed])
    differing = {k: (replayed_view[k], followed_view[k]) for k in replayed_view if replayed_view[k] != followed_view[k]}
    assert differing == {}
    # The last turn: agent2 answered at 10:03, the customer wrote again at 10:10.
    assert seen[followed]["status"] == "in_progress"
    assert seen[followed]["deadlines"]["next_response"]["due_at"] == (T0 + timedelta(minutes=70 + 30)).isoformat()
    async with desk.svc.reads() as db:
        rows = {conv: await db.get(Ticket, conv) for conv in (followed, replayed)}
        assert rows[replayed].sla_facts == rows[followed].sla_facts
        # The catch-up saw every message; the ticket that followed only those that mattered
        # learns of the later ones at its next unit (the sweeper catches up before acting).
        assert rows[replayed].activity_at == T0 + timedelta(minutes=7 * len(script))
        assert rows[replayed].processed_seq == await last_seq(desk, replayed)

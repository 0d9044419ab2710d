"""What the planner mails to whom, from committed events, on both databases: digests of
support replies, status mails with rating links, staff alerts — and what it never mails
(internal notes, disabled users, suppressed addresses, the person who did it). Mails are
parsed with the stdlib ``email`` package, as a mail client would."""

from __future__ import annotations

import email
from datetime import timedelta
from email.message import EmailMessage
from email.policy import default

import pytest
from sqlalchemy import delete, select, update

from chat import directory
from chat.clock import ManualClock
from chat.conversations import mark_read
from chat.groups import alerts
from chat.groups.models import AlertType
from chat.mail.models import MailCursor, MailStatus, MailSuppression, OutboxMail
from chat.mail.planner import SETTLE, plan_job
from chat.models import User
from chat.services import Services
from escalation import tickets
from escalation.models import CustomerPresence
from tests.escalation.world import Desk, chat, last_seq, make_desk, say


@pytest.fixture
async def desk(svc: Services) -> Desk:
    return await make_desk(svc)


async def outbox(svc: Services) -> list[OutboxMail]:
    async with svc.reads() as db:
        return list(await db.scalars(select(OutboxMail).order_by(OutboxMail.id)))


def parsed(mail: OutboxMail) -> EmailMessage:
    message = email.message_from_bytes(mail.raw, policy=default)
    assert isinstance(message, EmailMessage)
    return message


def text_of(mail: OutboxMail) -> str:
    part = parsed(mail).get_body(("plain",))
    assert part is not None
    return str(part.get_content())


async def address_of(svc: Services, user_id: int) -> str:
    async with svc.reads() as db:
        user = await db.get(User, user_id)
        assert user is not None and user.email is not None
        return user.email


async def ticket_with_cc(desk: Desk) -> int:
    """A customer's chat made a ticket, their colleague copied on it."""
    conv = await chat(desk)
    await tickets.escalate_conversation(desk.svc, desk.agent, conv)
    await tickets.update_ticket(desk.svc, desk.agent, conv, {"cc": [desk.colleague.user_id]})
    return conv


async def plan(desk: Desk) -> int:
    return await plan_job(desk.svc, desk.svc.clock.now())


def kinds(mails: list[OutboxMail]) -> list[tuple[str, str]]:
    return sorted((m.kind, m.to_addr) for m in mails)


async def test_support_replies_within_the_window_are_one_mail_quoting_both(desk: Desk, clock: ManualClock) -> None:
    conv = await ticket_with_cc(desk)
    await plan(desk)
    before = {m.id for m in await outbox(desk.svc)}
    await say(desk, desk.agent, conv, "Unplug it first.")
    await plan(desk)
    clock.advance(timedelta(seconds=60))
    # The second reply joins the held digest of the first (a later pass).
    await say(desk, desk.agent, conv, "Then <b>wait</b> a minute.")
    await plan(desk)
    replies = [m for m in await outbox(desk.svc) if m.id not in before]
    assert kinds(replies) == [("support_reply", "cat@acme.example"), ("support_reply", "colin@acme.example")]
    assert {m.status for m in replies} == {MailStatus.HELD}
    # When the window closes the digest is released to the sender, both replies quoted.
    clock.advance(timedelta(seconds=desk.svc.settings.mail_digest_seconds))
    await plan(desk)
    released = [m for m in await outbox(desk.svc) if m.id not in before]
    assert {m.status for m in released} == {MailStatus.PENDING}
    mail = next(m for m in released if m.to_addr == "cat@acme.example")
    message = parsed(mail)
    assert message["To"].addresses[0].addr_spec == "cat@acme.example"
    assert message["Subject"].startswith(f"[#{conv}]")
    body = text_of(mail)
    assert "Unplug it first." in body and "Then <b>wait</b> a minute." in body
    assert "/portal/" in body and "/console/" not in body
    html = parsed(mail).get_body(("html",))
    assert html is not None and "&lt;b&gt;wait&lt;/b&gt;" in str(html.get_content())


async def test_a_digest_the_customer_read_in_the_chat_is_not_sent(desk: Desk, clock: ManualClock) -> None:
    conv = await ticket_with_cc(desk)
    await plan(desk)
    await say(desk, desk.agent, conv, "Fixed it.")
    await plan(desk)
    await mark_read(desk.svc, desk.customer, conv, await last_seq(desk, conv))
    clock.advance(timedelta(seconds=desk.svc.settings.mail_digest_seconds + 1))
    await plan(desk)
    replies = {m.to_addr: m.status for m in await outbox(desk.svc) if m.kind == "support_reply"}
    # The colleague never opened the chat: their copy goes.
    assert replies == {"cat@acme.example": MailStatus.CANCELLED, "colin@acme.example": MailStatus.PENDING}


async def test_a_customer_in_the_chat_gets_no_mail_and_internal_notes_never_mail(desk: Desk, clock: ManualClock) -> None:
    conv = await ticket_with_cc(desk)
    await plan(desk)
    async with desk.svc.sessions.begin() as db:
        db.add(CustomerPresence(conversation_id=conv, user_id=desk.customer.user_id, process_id="p1", since=clock.now()))
    await say(desk, desk.agent, conv, "Checking the logs, the secret is hunter2", internal=True)
    await say(desk, desk.agent, conv, "On it.")
    await plan(desk)
    replies = [m for m in await outbox(desk.svc) if m.kind == "support_reply"]
    assert kinds(replies) == [("support_reply", "colin@acme.example")]
    assert all(b"hunter2" not in m.raw for m in await outbox(desk.svc))


async def test_planning_the_same_events_again_queues_nothing_new(desk: Desk, clock: ManualClock) -> None:
    conv = await ticket_with_cc(desk)
    await say(desk, desk.agent, conv, "One")
    await tickets.change_status(desk.svc, desk.agent, conv, "propose_close")
    await plan(desk)
    clock.advance(SETTLE + timedelta(seconds=1))
    await plan(desk)
    first = kinds(await outbox(desk.svc))
    # A planner that lost its cursor (or a second worker) reads everything again.
    async with desk.svc.sessions.begin() as db:
        await db.execute(update(MailCursor).values(last_event_id=0))
    await plan(desk)
    assert kinds(await outbox(desk.svc)) == first
    assert ("close_proposed", "cat@acme.example") in first and ("close_proposed", "colin@acme.example") in first


async def test_closing_mails_the_requester_three_rating_links_and_not_the_closer(desk: Desk) -> None:
    conv = await ticket_with_cc(desk)
    await plan(desk)
    await tickets.change_status(desk.svc, desk.agent, conv, "close")
    await plan(desk)
    closed = {m.to_addr: m for m in await outbox(desk.svc) if m.kind == "ticket_closed"}
    assert sorted(closed) == ["cat@acme.example", "colin@acme.example"]
    # Only the requester rates: three single-use links, one per choice.
    assert text_of(closed["cat@acme.example"]).count("/mail/rate?t=") == 3
    assert "/mail/rate?t=" not in text_of(closed["colin@acme.example"])


async def test_a_reopen_by_the_customer_tells_the_colleague_not_the_customer(desk: Desk) -> None:
    conv = await ticket_with_cc(desk)
    await say(desk, desk.agent, conv, "Try again now.")
    await tickets.change_status(desk.svc, desk.agent, conv, "propose_close")
    await plan(desk)
    proposed = [m for m in await outbox(desk.svc) if m.kind == "close_proposed"]
    assert kinds(proposed) == [("close_proposed", "cat@acme.example"), ("close_proposed", "colin@acme.example")]
    await tickets.change_status(desk.svc, desk.customer, conv, "reopen")
    await plan(desk)
    assert kinds([m for m in await outbox(desk.svc) if m.kind == "ticket_reopened"]) == [
        ("ticket_reopened", "colin@acme.example")]


async def test_assignment_transfer_and_sla_mail_the_staff_who_must_act(desk: Desk, clock: ManualClock) -> None:
    conv = await ticket_with_cc(desk)
    await plan(desk)
    await tickets.assign_ticket(desk.svc, desk.admin, conv, desk.agent.user_id)
    await tickets.assign_ticket(desk.svc, desk.agent2, conv, desk.agent2.user_id)  # a self-claim: nobody told
    await plan(desk)
    assigned = [m for m in await outbox(desk.svc) if m.kind == "ticket_assigned"]
    assert kinds(assigned) == [("ticket_assigned", "ann@support.example")]
    assert parsed(assigned[0])["Auto-Submitted"] == "auto-generated"
    # Staff open it in the console, customers in the customer area.
    assert f"/console/#{conv}" in text_of(assigned[0])
    # The first response is due in 4 h on the regular plan: the sweeper breaches it.
    clock.advance(timedelta(hours=5))
    await desk.sweeper.run_once()
    await plan(desk)
    sla = kinds([m for m in await outbox(desk.svc) if m.kind in ("sla_warning", "sla_breach")])
    assert ("sla_breach", "bob@support.example") in sla


async def test_disabled_users_suppressed_addresses_and_switched_off_kinds_get_nothing(
    desk: Desk, clock: ManualClock
) -> None:
    conv = await ticket_with_cc(desk)
    await plan(desk)
    await directory.set_user_disabled(desk.svc, desk.admin, desk.colleague.user_id, disabled=True)
    async with desk.svc.sessions.begin() as db:
        db.add(MailSuppression(address="cat@acme.example", reason="550 no such user", created_at=clock.now()))
    await say(desk, desk.agent, conv, "Hello?")
    await plan(desk)
    assert [m for m in await outbox(desk.svc) if m.kind == "support_reply"] == []
    async with desk.svc.sessions.begin() as db:
        await db.execute(delete(MailSuppression))
        user = await db.get(User, desk.customer.user_id)
        assert user is not None
        user.notification_prefs = {"support_reply": False}
    await say(desk, desk.agent, conv, "Anyone?")
    await tickets.change_status(desk.svc, desk.agent, conv, "propose_close")
    await plan(desk)
    assert kinds([m for m in await outbox(desk.svc) if m.kind in ("support_reply", "close_proposed")]) == [
        ("close_proposed", "cat@acme.example")]


async def test_a_system_alert_is_mailed_to_the_company_in_its_own_transaction(desk: Desk) -> None:
    alert = await alerts.open_alert(desk.svc, desk.admin, organization=desk.org_id, type=AlertType.INFORMATION,
                                    title="Maintenance tonight", body="The <service> restarts at 22:00.")
    mails = [m for m in await outbox(desk.svc) if m.kind == "system_alert"]
    assert kinds(mails) == [("system_alert", "cat@acme.example"), ("system_alert", "colin@acme.example")]
    assert "Maintenance tonight" in parsed(mails[0])["Subject"] or "Maintenance tonight" in text_of(mails[0])
    assert alert.title == "Maintenance tonight"


async def test_an_unassigned_new_ticket_tells_the_admins_only_if_still_unassigned(desk: Desk, clock: ManualClock) -> None:
    first = await chat(desk)
    await tickets.escalate_conversation(desk.svc, desk.agent, first)
    second = await chat(desk, subject="Scanner jams")
    await tickets.escalate_conversation(desk.svc, desk.agent, second)
    await plan(desk)
    held = [m for m in await outbox(desk.svc) if m.kind == "unassigned_ticket"]
    assert {(m.conversation_id, m.status) for m in held} == {(first, MailStatus.HELD), (second, MailStatus.HELD)}
    await tickets.assign_ticket(desk.svc, desk.admin, second, desk.agent.user_id)
    clock.advance(timedelta(minutes=3))
    await plan(desk)
    after = {m.conversation_id: m.status for m in await outbox(desk.svc) if m.kind == "unassigned_ticket"}
    assert after == {first: MailStatus.PENDING, second: MailStatus.CANCELLED}


async def test_a_burst_of_customer_messages_is_one_notice_to_the_assignee_cancelled_by_an_answer(
    desk: Desk, clock: ManualClock
) -> None:
    conv = await ticket_with_cc(desk)
    await tickets.assign_ticket(desk.svc, desk.admin, conv, desk.agent.user_id)
    await plan(desk)
    for n in range(30):
        await say(desk, desk.customer, conv, f"still broken {n}")
    await plan(desk)
    clock.advance(SETTLE + timedelta(seconds=1))
    await say(desk, desk.customer, conv, "hello?")
    await plan(desk)
    notices = [m for m in await outbox(desk.svc) if m.kind == "customer_replied"]
    assert [(m.to_addr, m.status) for m in notices] == [("ann@support.example", MailStatus.HELD)]
    # The most recent ten are quoted; every unanswered message is counted as covered (the
    # opening "It is on fire" too: nobody has answered it either).
    assert [q["body"] for q in notices[0].context["messages"]] == [f"still broken {n}" for n in range(21, 30)] + ["hello?"]
    assert notices[0].context["count"] == 32
    clock.advance(timedelta(seconds=desk.svc.settings.mail_digest_seconds))
    await plan(desk)
    released = [m for m in await outbox(desk.svc) if m.kind == "customer_replied"]
    assert released[0].status is MailStatus.PENDING
    assert "hello?" in text_of(released[0]) and "still broken 21" in text_of(released[0])
    # Next time the agent answers within the window: no notice goes.
    await say(desk, desk.customer, conv, "and now the scanner")
    await plan(desk)
    await say(desk, desk.agent, conv, "Looking at the scanner.")
    clock.advance(timedelta(seconds=desk.svc.settings.mail_digest_seconds + 1))
    await plan(desk)
    later = [m.status for m in await outbox(desk.svc) if m.kind == "customer_replied"]
    assert later == [MailStatus.PENDING, MailStatus.CANCELLED]

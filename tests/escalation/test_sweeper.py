"""The sweeper's ticket jobs with a manual clock on real databases: auto-close, SLA
warnings, breaches and the escalation ladder, chat-to-ticket conversion, crash recovery,
and two workers (and a restart) acting exactly once."""

from __future__ import annotations

import asyncio
from collections import Counter
from datetime import timedelta

import pytest

from chat.clock import ManualClock
from chat.services import Services
from chat.wiring import build_services, build_sweeper
from escalation import jobs, tickets
from escalation.jobs import Backfill
from escalation.models import Ticket
from escalation.policy_table import PlanTier
from tests.escalation.world import Desk, chat, last_seq, make_desk, say, system_events
from tests.support.chatlog import stored_log

MIN = timedelta(minutes=1)
H = timedelta(hours=1)


@pytest.fixture
async def desk(svc: Services) -> Desk:
    return await make_desk(svc, tier=PlanTier.PREMIUM)  # first response within 30 min


async def sweep(desk: Desk) -> dict[str, int]:
    done = await desk.sweeper.run_once()
    assert all(n >= 0 for n in done.values()), done  # no job failed
    return done


async def premium_ticket(desk: Desk) -> int:
    ticket = await tickets.open_ticket(desk.svc, desk.customer, tickets.TicketDraft("VPN down", "All sites offline"))
    return int(ticket["id"])


async def test_waiting_on_the_customer_for_48_hours_closes_with_a_system_message(desk: Desk, clock: ManualClock) -> None:
    conv = await chat(desk)
    await say(desk, desk.agent, conv, "Which model is it?")
    await tickets.change_status(desk.svc, desk.agent, conv, "wait_on_customer")
    before = await last_seq(desk, conv)
    clock.advance(47 * H)
    await say(desk, desk.agent, conv, "Any news?")  # activity: the 48 h start again
    clock.advance(2 * H)
    assert (await sweep(desk))["tickets.auto_close"] == 0
    clock.advance(47 * H)
    assert (await sweep(desk))["tickets.auto_close"] == 1
    mine = {job: n for job, n in (await sweep(desk)).items() if job.startswith("tickets.")}
    assert mine == {"tickets.backfill": 0, "tickets.follow_desk": 0, "tickets.convert": 0, "tickets.sla": 0, "tickets.auto_close": 0}
    # Idle while unresolved, the chat had become a ticket on the way; then it closed.
    assert await system_events(desk, conv, after=before + 1) == [
        "ticket.opened", "ticket.deadlines", "ticket.status_changed", "conversation.closed",
    ]
    ticket = await tickets.get_ticket(desk.svc, desk.customer, conv)
    assert (ticket["status"], ticket["close_reason"]) == ("closed", "auto")
    log = await system_events(desk, conv, as_=desk.customer)
    assert log[-1] == "conversation.closed"


async def test_a_proposed_close_closes_after_its_delay_unless_the_customer_disagrees(desk: Desk, clock: ManualClock) -> None:
    disputed, accepted = await chat(desk), await chat(desk, subject="Other")
    for conv in (disputed, accepted):
        await say(desk, desk.agent, conv, "Fixed in 2.1")
        await tickets.change_status(desk.svc, desk.agent, conv, "propose_close")
    clock.advance(6 * 24 * H)
    await say(desk, desk.customer, disputed, "No, it is not")
    clock.advance(24 * H + MIN)
    assert (await sweep(desk))["tickets.auto_close"] == 1
    assert (await tickets.get_ticket(desk.svc, desk.agent, accepted))["status"] == "closed"
    reopened = await tickets.get_ticket(desk.svc, desk.agent, disputed)
    assert (reopened["status"], reopened["auto_close_at"]) == ("in_progress", None)


async def test_sla_warning_breach_and_the_ladder_happen_once_each(desk: Desk, clock: ManualClock) -> None:
    conv = await premium_ticket(desk)
    before = await last_seq(desk, conv)
    clock.advance(23 * MIN)
    assert (await sweep(desk))["tickets.sla"] == 0
    clock.advance(2 * MIN)  # 25 min: past 80 % of 30
    assert (await sweep(desk))["tickets.sla"] == 1
    clock.advance(6 * MIN)  # 31 min: breached; the first step raises it to the 2nd line
    assert (await sweep(desk))["tickets.sla"] == 2
    assert (await sweep(desk))["tickets.sla"] == 0
    ticket = await tickets.get_ticket(desk.svc, desk.agent, conv)
    assert (ticket["level"], ticket["group"], ticket["escalation_step"]) == (2, "second_level", 1)
    assert ticket["deadlines"]["first_response"]["state"] == "breached"
    clock.advance(60 * MIN)  # the group has no lead: the admins are told
    assert (await sweep(desk))["tickets.sla"] == 1
    clock.advance(180 * MIN)
    assert (await sweep(desk))["tickets.sla"] == 1
    clock.advance(24 * H)
    assert (await sweep(desk))["tickets.sla"] == 0
    assert await system_events(desk, conv, after=before) == [
        "ticket.sla_warning", "ticket.sla_breached", "ticket.transferred", "ticket.escalated",
        "ticket.escalated", "ticket.escalated",
    ]
    escalated = [e["data"] for e in await stored_log(desk.svc, desk.agent, conv)
                 if e["data"].get("event") == "ticket.escalated"]
    assert [(d["step"], d["action"], d["notify"]) for d in escalated] == [
        (1, "raise_level", []), (2, "notify_group_lead", [desk.admin.user_id]),
        (3, "notify_admins", [desk.admin.user_id]),
    ]
    # None of it is the customer's to see.
    assert await system_events(desk, conv, after=before, as_=desk.customer) == []


async def test_a_reply_stored_just_before_the_breach_is_never_escalated(desk: Desk, clock: ManualClock) -> None:
    conv = await premium_ticket(desk)
    clock.advance(29 * MIN)
    # The web process died right after committing the reply: no reaction ran.
    await say(desk, desk.agent, conv, "Looking into it now", react=False)
    clock.advance(2 * MIN)
    await sweep(desk)
    ticket = await tickets.get_ticket(desk.svc, desk.agent, conv)
    assert ticket["deadlines"]["first_response"]["state"] == "met" and ticket["escalation_step"] == 0
    assert "ticket.sla_breached" not in await system_events(desk, conv)


async def test_unanswered_and_idle_chats_become_tickets(desk: Desk, clock: ManualClock) -> None:
    unanswered, idle = await chat(desk), await chat(desk, subject="Idle")
    await say(desk, desk.agent, idle, "What is the serial number?")
    clock.advance(9 * MIN)
    assert (await sweep(desk))["tickets.convert"] == 0
    clock.advance(2 * MIN)  # 11 min without an answer (CHAT_UNANSWERED_TICKET_MINUTES=10)
    assert (await sweep(desk))["tickets.convert"] == 1
    first = await tickets.get_ticket(desk.svc, desk.agent, unanswered)
    assert (first["tracked"], first["tracked_reason"]) == (True, "no_answer")
    clock.advance(15 * MIN)
    await say(desk, desk.customer, idle, "SN-1234")  # activity: the idle timer starts again
    clock.advance(25 * MIN)
    assert (await sweep(desk))["tickets.convert"] == 0
    clock.advance(6 * MIN)  # 31 min idle (CHAT_IDLE_TICKET_MINUTES=30)
    assert (await sweep(desk))["tickets.convert"] == 1
    second = await tickets.get_ticket(desk.svc, desk.agent, idle)
    assert (second["tracked"], second["tracked_reason"]) == (True, "visitor_idle")
    assert (await system_events(desk, idle))[-2:] == ["ticket.opened", "ticket.deadlines"]


async def test_the_backfill_recovers_rows_and_replies_a_crash_left_behind(desk: Desk, clock: ManualClock) -> None:
    desk.svc.reactions.clear()  # a process that dies after every commit
    backfill = Backfill()
    conv = await chat(desk)
    await say(desk, desk.agent, conv, "Hi")
    async with desk.svc.reads() as db:
        assert await db.get(Ticket, conv) is None
    assert await backfill.run(desk.svc, clock.now()) == 0  # too fresh: its own reaction may still come
    clock.advance(MIN)
    assert await backfill.run(desk.svc, clock.now()) == 1
    assert await backfill.run(desk.svc, clock.now()) == 0
    ticket = await tickets.get_ticket(desk.svc, desk.agent, conv)
    assert ticket["status"] == "in_progress" and ticket["deadlines"]["first_response"]["state"] == "met"


async def test_the_backfill_looks_at_windows_of_ids_and_reaches_every_one(
    desk: Desk, clock: ManualClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(jobs, "BACKFILL_SLICE", 2)
    desk.svc.reactions.clear()  # every chat's reaction lost
    lost = [await chat(desk) for _ in range(7)]
    clock.advance(MIN)
    backfill = Backfill()
    recovered = [await backfill.run(desk.svc, clock.now()) for _ in range(5)]
    # Two windows of two ids a run: the newest at once, the moving one catches up with the rest.
    assert all(n <= 4 for n in recovered) and recovered[0] < len(lost)
    assert sum(recovered) == len(lost)
    async with desk.svc.reads() as db:
        assert all([await db.get(Ticket, conv) is not None for conv in lost])


async def test_two_workers_and_a_restart_act_exactly_once(desk: Desk, clock: ManualClock) -> None:
    breached = [await premium_ticket(desk) for _ in range(3)]
    waiting = []
    for _ in range(3):
        conv = await chat(desk)
        await say(desk, desk.agent, conv, "Send logs please")
        await tickets.change_status(desk.svc, desk.agent, conv, "wait_on_customer")
        waiting.append(conv)
    reactions = list(desk.svc.reactions)
    desk.svc.reactions.clear()  # and a chat whose process died before its reaction
    lost = await chat(desk)
    desk.svc.reactions.extend(reactions)
    clock.advance(49 * H)
    second = build_services(desk.svc.settings, clock=clock)
    await second.broker.connect()
    try:
        other = build_sweeper(second)
        await asyncio.gather(desk.sweeper.run_once(), other.run_once(), desk.sweeper.run_once(), other.run_once())
        restarted = build_services(desk.svc.settings, clock=clock)
        await restarted.broker.connect()
        try:
            await build_sweeper(restarted).run_once()
        finally:
            await restarted.close()
    finally:
        await second.close()
    await desk.sweeper.run_once()
    for conv in breached:
        counts = Counter(await system_events(desk, conv))
        # First response (30 min) and resolution (48 h) both breached: a warning and a
        # breach each; ladder steps at +0 and +60 min for both, +240 min for the first.
        assert (counts["ticket.sla_warning"], counts["ticket.sla_breached"], counts["ticket.escalated"]) == (2, 2, 5)
    for conv in waiting:
        counts = Counter(await system_events(desk, conv))
        assert (counts["ticket.opened"], counts["ticket.status_changed"], counts["conversation.closed"]) == (1, 2, 1)
    # The lost chat's row came back through the backfill, and it became a ticket once.
    assert Counter(await system_events(desk, lost))["ticket.opened"] == 1
    rebuilt = await tickets.get_ticket(desk.svc, desk.agent, lost)
    assert (rebuilt["status"], rebuilt["tracked_reason"]) == ("new", "no_answer")

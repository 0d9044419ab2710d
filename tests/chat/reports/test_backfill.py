"""The reports backfill on SQLite and PostgreSQL: tickets from before the reports (their
facts wiped with raw SQL, as the migration leaves them) get, pass by pass, exactly the
facts, reopen log and message counts that the same tickets kept live have."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select, text

from chat.clock import ManualClock
from chat.reports import backfill, rollup
from chat.services import Services
from chat.wiring import build_sweeper
from escalation import tickets
from escalation.closing import rating_of
from escalation.models import ReportHour, ReportReopen, Ticket
from escalation.report_facts import REPORT_FACTS_VERSION
from tests.escalation.world import Desk, chat, make_desk, say

MIN = timedelta(minutes=1)
H = timedelta(hours=1)
FACTS = ("resolved_at", "first_response_wall_s", "first_response_business_s", "resolution_wall_s",
         "resolution_business_s", "sla_first_response", "sla_next_response", "sla_resolution", "calendar_key",
         "reopened_count", "rating", "messages_count", "first_agent_join_s", "report_facts")


@pytest.fixture
async def desk(svc: Services) -> Desk:
    return await make_desk(svc)


async def histories(desk: Desk, clock: ManualClock) -> None:
    """Tickets of every kind of history: answered and rated, breached, reopened by the
    customer and by the agent, auto-closed, still open."""
    quick = await chat(desk)
    clock.advance(2 * MIN)
    await say(desk, desk.agent, quick, "Fixed it.")
    await tickets.change_status(desk.svc, desk.agent, quick, "propose_close")
    await tickets.close_conversation(desk.svc, desk.customer, quick, rating=rating_of("good"))

    slow = await chat(desk, subject="Slow one")
    clock.advance(5 * H)
    await desk.sweeper.run_once()  # first response breached (a mark)
    await say(desk, desk.agent2, slow, "Sorry! Try this.")
    await tickets.change_status(desk.svc, desk.agent2, slow, "propose_close")
    await tickets.rate_ticket(desk.svc, desk.customer, slow, "bad", reason="slow")
    clock.advance(20 * MIN)
    await say(desk, desk.customer, slow, "Did not help.")  # reopened by the customer
    await say(desk, desk.agent2, slow, "Then this.")
    await tickets.change_status(desk.svc, desk.agent2, slow, "propose_close")
    clock.advance(10 * MIN)
    await tickets.change_status(desk.svc, desk.agent2, slow, "reopen")  # and by the agent
    await tickets.change_status(desk.svc, desk.agent2, slow, "propose_close")

    web = int((await tickets.open_ticket(desk.svc, desk.customer, tickets.TicketDraft("Invoice", "Wrong VAT")))["id"])
    clock.advance(30 * MIN)
    await say(desk, desk.agent, web, "Looking into it.")
    await say(desk, desk.customer, web, "Thanks")
    await chat(desk, subject="Nobody came")
    clock.advance(8 * 24 * H)
    await desk.sweeper.run_once()  # the proposed solution auto-closes, the silent chat converts


async def snapshot(svc: Services) -> dict[str, Any]:
    async with svc.reads() as db:
        rows = {t.conversation_id: {name: getattr(t, name) for name in FACTS} for t in await db.scalars(select(Ticket))}
        reopens = sorted((r.conversation_id, r.at) for r in await db.scalars(select(ReportReopen)))
        hours = sorted((h.conversation_id, h.hour, h.messages, h.customer_messages, h.staff_messages)
                       for h in await db.scalars(select(ReportHour)))
    return {"tickets": rows, "reopens": reopens, "hours": hours}


async def make_them_old(svc: Services) -> None:
    """What migration 0010 leaves on tickets that existed before it."""
    nulls = ", ".join(f"{name} = NULL" for name in FACTS if name not in ("reopened_count", "messages_count", "report_facts"))
    async with svc.sessions.begin() as db:
        await db.execute(text(f"UPDATE tickets SET {nulls}, reopened_count = 0, messages_count = 0, report_facts = 0"))
        for table in ("report_reopens", "report_hours", "report_cursor"):
            await db.execute(text(f"DELETE FROM {table}"))


async def test_old_tickets_get_the_facts_live_ones_have(
    desk: Desk, clock: ManualClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    await histories(desk, clock)
    clock.advance(rollup.SETTLE)
    await desk.sweeper.run_once()  # the rollup counts what settled
    live = await snapshot(desk.svc)
    assert len(live["tickets"]) == 4 and live["reopens"] and live["hours"]
    assert {row["rating"] for row in live["tickets"].values()} == {"good", "bad", None}
    assert sorted(row["reopened_count"] for row in live["tickets"].values()) == [0, 0, 0, 2]

    await make_them_old(desk.svc)
    assert all(row["report_facts"] == 0 for row in (await snapshot(desk.svc))["tickets"].values())
    monkeypatch.setattr(backfill, "BATCH", 3)  # several passes, the last one short
    sweeper = build_sweeper(desk.svc)  # the process restarted with the upgrade
    passes = [await sweeper.run_once() for _ in range(4)]
    assert [p["reports.backfill"] for p in passes] == [3, 1, 0, 0]
    assert passes[0]["reports.roll"] > 0 and passes[1]["reports.roll"] == 0
    assert await snapshot(desk.svc) == live


async def test_a_ticket_touched_live_before_its_backfill_still_gets_its_history(desk: Desk, clock: ManualClock) -> None:
    conv = await chat(desk)
    await say(desk, desk.agent, conv, "Fixed?")
    await tickets.change_status(desk.svc, desk.agent, conv, "propose_close")
    await tickets.rate_ticket(desk.svc, desk.customer, conv, "good")
    await say(desk, desk.customer, conv, "No.")
    await tickets.change_status(desk.svc, desk.agent, conv, "propose_close")
    await make_them_old(desk.svc)
    await tickets.change_status(desk.svc, desk.agent, conv, "close")  # a live unit first
    async with desk.svc.reads() as db:
        t = await db.get(Ticket, conv)
        assert t is not None and (t.report_facts, t.reopened_count, t.rating) == (0, 1, None)
    assert await backfill.ReportsBackfill().job(desk.svc, clock.now()) == 1
    async with desk.svc.reads() as db:
        t = await db.get(Ticket, conv)
        assert t is not None and (t.report_facts, t.reopened_count, t.rating) == (REPORT_FACTS_VERSION, 1, "good")
        assert len(list(await db.scalars(select(ReportReopen)))) == 1


async def test_once_done_it_rests(desk: Desk, clock: ManualClock) -> None:
    await chat(desk)
    job = backfill.ReportsBackfill()
    assert await job.job(desk.svc, clock.now()) == 0  # born with the facts: nothing to do
    assert job.next_run == clock.now() + backfill.IDLE
    await make_them_old(desk.svc)
    assert await job.job(desk.svc, clock.now()) == 0  # resting
    clock.advance(backfill.IDLE)
    assert await job.job(desk.svc, clock.now()) == 1

"""The report facts as every unit of work stores them on the ticket row (recompute), on
SQLite and PostgreSQL: both clocks on the policy's calendar, reopens and their log,
ratings, sticky breaches — and not one statement more per unit."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import event, select

from chat.clock import ManualClock
from chat.services import Services
from escalation import tickets, unit_of_work
from escalation.batch import run_batch
from escalation.models import ReportReopen, SlaPolicyRow, Ticket
from escalation.report_facts import REPORT_FACTS_VERSION
from escalation.unit_of_work import Work, run_unit
from tests.escalation.world import Desk, chat, make_desk, say

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)  # Monday, 12:00 in Moscow
H = timedelta(hours=1)
MIN = timedelta(minutes=1)


@pytest.fixture
async def desk(svc: Services) -> Desk:
    return await make_desk(svc)  # regular plan: first response 4 h, resolution 48 h


async def row(svc: Services, conversation_id: int) -> Ticket:
    async with svc.reads() as db:
        found = await db.get(Ticket, conversation_id)
        assert found is not None
        return found


async def reopens(svc: Services, conversation_id: int) -> list[datetime]:
    async with svc.reads() as db:
        return list(await db.scalars(
            select(ReportReopen.at).where(ReportReopen.conversation_id == conversation_id).order_by(ReportReopen.at)))


async def on_moscow_hours(svc: Services) -> None:
    """Every policy measured on Mon-Fri 09:30-18:00 Moscow (06:30-15:00 UTC)."""
    async with svc.sessions.begin() as db:
        for policy in await db.scalars(select(SlaPolicyRow)):
            policy.calendar_key = "moscow"


async def test_a_chat_from_first_answer_to_close(desk: Desk, clock: ManualClock) -> None:
    await on_moscow_hours(desk.svc)
    conv = await chat(desk)
    t = await row(desk.svc, conv)
    assert (t.report_facts, t.calendar_key, t.first_response_wall_s, t.resolved_at) == (
        REPORT_FACTS_VERSION, "moscow", None, None)
    clock.advance(8 * H)  # 17:00 UTC: Moscow closed at 15:00 UTC
    await say(desk, desk.agent, conv, "Unplug it.")
    t = await row(desk.svc, conv)
    assert (t.first_response_wall_s, t.first_response_business_s) == (8 * 3600, 6 * 3600)
    assert (t.sla_first_response, t.sla_resolution) == ("breached", None)  # 4 business hours were up at 13:00
    clock.advance(16 * H)  # Tuesday 09:00 UTC
    await tickets.change_status(desk.svc, desk.agent, conv, "propose_close")
    t = await row(desk.svc, conv)
    assert t.resolved_at == T0 + 24 * H
    assert (t.resolution_wall_s, t.resolution_business_s) == (24 * 3600, (6 + 2.5) * 3600)
    assert t.sla_resolution is None  # a live chat: no resolution clock until it is a ticket
    clock.advance(H)
    await tickets.change_status(desk.svc, desk.agent, conv, "close")
    t = await row(desk.svc, conv)
    # Closing a proposed solution keeps the proposal's time.
    assert (t.status.value, t.resolved_at, t.resolution_wall_s) == ("closed", T0 + 24 * H, 24 * 3600)
    assert t.reopened_count == 0 and await reopens(desk.svc, conv) == []


async def test_reopens_are_counted_and_logged_and_the_rating_kept(desk: Desk, clock: ManualClock) -> None:
    conv = await chat(desk)
    await say(desk, desk.agent, conv, "Try turning it off and on.")
    await tickets.change_status(desk.svc, desk.agent, conv, "propose_close")
    await tickets.rate_ticket(desk.svc, desk.customer, conv, "bad", reason="not fixed")
    assert (await row(desk.svc, conv)).rating == "bad"
    clock.advance(10 * MIN)
    await say(desk, desk.customer, conv, "It is still on fire!")  # the customer disagrees: reopened
    t = await row(desk.svc, conv)
    assert (t.status.value, t.reopened_count, t.resolved_at, t.resolution_wall_s) == ("in_progress", 1, None, None)
    assert t.rating == "bad"  # the latest rating, until another is given
    assert await reopens(desk.svc, conv) == [T0 + 10 * MIN]
    clock.advance(10 * MIN)
    await tickets.change_status(desk.svc, desk.agent, conv, "propose_close")
    clock.advance(10 * MIN)
    await tickets.change_status(desk.svc, desk.agent, conv, "reopen")  # the agent withdraws it
    clock.advance(10 * MIN)
    await tickets.change_status(desk.svc, desk.agent, conv, "propose_close")
    await tickets.rate_ticket(desk.svc, desk.customer, conv, "good")
    t = await row(desk.svc, conv)
    assert (t.reopened_count, t.resolved_at, t.resolution_wall_s, t.rating) == (2, T0 + 40 * MIN, 40 * 60, "good")
    assert await reopens(desk.svc, conv) == [T0 + 10 * MIN, T0 + 30 * MIN]


async def test_a_breach_seen_by_the_sweeper_stays(desk: Desk, clock: ManualClock) -> None:
    conv = await chat(desk)
    clock.advance(5 * H)
    await desk.sweeper.run_once()  # the first response breach is acted on (a mark)
    assert (await row(desk.svc, conv)).sla_first_response == "breached"
    await say(desk, desk.agent, conv, "Sorry for the wait.")
    t = await row(desk.svc, conv)
    assert (t.sla_first_response, t.first_response_wall_s) == ("breached", 5 * 3600)


# -- what it costs ------------------------------------------------------------------------------


@contextmanager
def statements(svc: Services) -> Iterator[list[str]]:
    seen: list[str] = []

    def listen(conn: object, cursor: object, statement: str, *args: object) -> None:
        seen.append(" ".join(statement.split()[:3]))

    event.listen(svc.engine.sync_engine, "before_cursor_execute", listen)
    try:
        yield seen
    finally:
        event.remove(svc.engine.sync_engine, "before_cursor_execute", listen)


async def nothing(work: Work) -> None:
    return None


@contextmanager
def without_report_facts(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    async def skip(*args: Any) -> None:
        return None

    with monkeypatch.context() as patched:
        patched.setattr(unit_of_work, "_store_report_facts", skip)
        yield


async def test_no_statement_more_per_unit_or_batch(desk: Desk, clock: ManualClock, monkeypatch: pytest.MonkeyPatch) -> None:
    """The same work on twin tickets, once with the report facts and once without: the
    same statements (the facts ride on the ticket's own UPDATE)."""
    # A unit: catch up a reply (the first response: facts change), change nothing else.
    twins = [await chat(desk), await chat(desk)]
    clock.advance(30 * MIN)
    for conv in twins:
        await say(desk, desk.agent, conv, "On it.", react=False)

    counted: list[list[str]] = []
    for index, conv in enumerate(twins):
        with statements(desk.svc) as seen:
            if index:
                with without_report_facts(monkeypatch):
                    await run_unit(desk.svc, conv, nothing)
            else:
                await run_unit(desk.svc, conv, nothing)
        counted.append(seen)
    assert counted[0] == counted[1] and any(s.startswith("UPDATE tickets") for s in counted[0])
    assert (await row(desk.svc, twins[0])).first_response_wall_s == 30 * 60
    assert (await row(desk.svc, twins[1])).first_response_wall_s is None

    batches = [[await chat(desk) for _ in range(3)] for _ in range(2)]
    clock.advance(30 * MIN)
    for batch in batches:
        for conv in batch:
            await say(desk, desk.agent, conv, "Looking.", react=False)
    counted = []
    for index, batch in enumerate(batches):  # the sweeper's batch: several units in one transaction
        with statements(desk.svc) as seen:
            if index:
                with without_report_facts(monkeypatch):
                    await run_batch(desk.svc, batch, nothing)
            else:
                await run_batch(desk.svc, batch, nothing)
        counted.append(seen)
    assert counted[0] == counted[1]
    assert [(await row(desk.svc, conv)).first_response_wall_s for conv in batches[0]] == [30 * 60] * 3

"""The reports rollup (chat.reports.rollup) on SQLite and PostgreSQL: public messages of
tickets by UTC hour and side, each ticket's count and first agent join; settled events
only; a second pass adds nothing; a crash loses nothing and counts nothing twice."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select

from chat.clock import ManualClock
from chat.models import Event
from chat.reports import rollup
from chat.services import Services
from chat.wiring import build_services
from escalation import tickets
from escalation.models import ReportCursor, ReportHour, Ticket
from tests.escalation.world import Desk, chat, make_desk, say

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
MIN = timedelta(minutes=1)
H = timedelta(hours=1)


@pytest.fixture
async def desk(svc: Services) -> Desk:
    return await make_desk(svc)


async def hours(svc: Services) -> dict[tuple[int, datetime], tuple[int, int, int]]:
    async with svc.reads() as db:
        rows = await db.scalars(select(ReportHour))
        return {(r.conversation_id, r.hour): (r.messages, r.customer_messages, r.staff_messages) for r in rows}


async def counts(svc: Services, *ids: int) -> list[tuple[int, int | None]]:
    async with svc.reads() as db:
        found = {t.conversation_id: t for t in await db.scalars(select(Ticket).where(Ticket.conversation_id.in_(ids)))}
    return [(found[i].messages_count, found[i].first_agent_join_s) for i in ids]


async def roll(svc: Services, clock: ManualClock) -> int:
    return await rollup.roll_job(svc, clock.now())


async def history(desk: Desk, clock: ManualClock) -> tuple[int, int]:
    """A support chat and a web-form ticket with messages over two hours."""
    conv = await chat(desk)  # the customer's first message, 09:00
    clock.advance(3 * MIN)
    await say(desk, desk.agent, conv, "Hello, looking.")  # the agent joins after 180 s
    await say(desk, desk.agent, conv, "fuser again?", internal=True)  # internal: not counted
    clock.advance(H)
    await say(desk, desk.customer, conv, "Any news?")  # 10:03
    await say(desk, desk.agent2, conv, "Yes: fixed.")
    web = int((await tickets.open_ticket(desk.svc, desk.customer, tickets.TicketDraft("Invoice", "Wrong VAT")))["id"])
    clock.advance(2 * MIN)
    await say(desk, desk.agent, web, "Corrected.")
    return conv, web


async def test_messages_by_hour_and_side(desk: Desk, clock: ManualClock) -> None:
    conv, web = await history(desk, clock)
    assert await roll(desk.svc, clock) == 5  # the last reply, 2 minutes old, has not settled
    clock.advance(rollup.SETTLE)
    assert await roll(desk.svc, clock) == 1
    assert await hours(desk.svc) == {
        (conv, T0): (2, 1, 1),
        (conv, T0 + H): (2, 1, 1),
        (web, T0 + H): (2, 1, 1),
    }
    # A join time only for a live chat; a web-form ticket has none.
    assert await counts(desk.svc, conv, web) == [(4, 180), (2, None)]
    # A second pass adds nothing.
    assert await roll(desk.svc, clock) == 0
    assert await counts(desk.svc, conv, web) == [(4, 180), (2, None)]
    # Later messages add to the same hour's row; the join time stays the first one.
    await say(desk, desk.agent, conv, "Anything else?")
    clock.advance(rollup.SETTLE)
    assert await roll(desk.svc, clock) == 1
    assert (await hours(desk.svc))[(conv, T0 + H)] == (3, 1, 2)
    assert await counts(desk.svc, conv) == [(5, 180)]


async def test_young_events_stop_the_cursor_until_they_settle(desk: Desk, clock: ManualClock) -> None:
    conv = await chat(desk)
    clock.advance(rollup.SETTLE)
    await say(desk, desk.agent, conv, "Hi")  # young
    await say(desk, desk.customer, conv, "Hi!")
    assert await roll(desk.svc, clock) == 1  # the chat's first message only
    async with desk.svc.reads() as db:
        cursor = await db.get(ReportCursor, rollup.CURSOR)
        assert cursor is not None
        stopped_at = cursor.last_event_id
    clock.advance(rollup.SETTLE)
    assert await roll(desk.svc, clock) == 2
    async with desk.svc.reads() as db:
        cursor = await db.get(ReportCursor, rollup.CURSOR)
        assert cursor is not None and cursor.last_event_id > stopped_at
    assert await counts(desk.svc, conv) == [(3, int(rollup.SETTLE.total_seconds()))]


async def test_a_young_event_stops_the_cursor_even_before_older_ones(desk: Desk, clock: ManualClock) -> None:
    # On PostgreSQL ids are not commit order: an event may carry a later time than the
    # one after it. The scan stops at the first young event, whatever follows it.
    conv = await chat(desk)
    await say(desk, desk.agent, conv, "Hi")
    await say(desk, desk.customer, conv, "Hi!")
    clock.advance(rollup.SETTLE)
    async with desk.svc.sessions.begin() as db:
        hi = await db.scalar(select(Event).where(Event.conversation_id == conv, Event.body == "Hi"))
        assert hi is not None
        hi.created_at = clock.now()  # young, between two settled messages
    assert await roll(desk.svc, clock) == 1  # the first message only
    clock.advance(rollup.SETTLE)
    assert await roll(desk.svc, clock) == 2
    assert (await counts(desk.svc, conv))[0][0] == 3


async def test_small_batches_count_the_same(desk: Desk, clock: ManualClock, monkeypatch: pytest.MonkeyPatch) -> None:
    conv, web = await history(desk, clock)
    clock.advance(rollup.SETTLE)
    monkeypatch.setattr(rollup, "BATCH", 2)
    monkeypatch.setattr(rollup, "BATCHES_PER_PASS", 3)
    passes = []
    while (done := await roll(desk.svc, clock)) or not passes:
        passes.append(done)
    assert len(passes) > 1 and sum(passes) == 6
    assert await counts(desk.svc, conv, web) == [(4, 180), (2, None)]
    assert len(await hours(desk.svc)) == 3


async def test_a_crash_loses_nothing_and_counts_nothing_twice(
    desk: Desk, clock: ManualClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    conv, web = await history(desk, clock)
    clock.advance(rollup.SETTLE)

    async def crash(*args: Any) -> None:
        raise RuntimeError("the worker died here")

    with monkeypatch.context() as patched:
        patched.setattr(rollup, "_add_to_tickets", crash)  # after the hours were upserted
        with pytest.raises(RuntimeError):
            await roll(desk.svc, clock)
    assert await hours(desk.svc) == {} and await counts(desk.svc, conv, web) == [(0, None), (0, None)]
    # Another process (a restarted worker) goes on from the stored cursor.
    other = build_services(desk.svc.settings, clock=clock)
    try:
        assert await rollup.roll_job(other, clock.now()) == 6
        await say(desk, desk.customer, conv, "Thanks!")
        clock.advance(rollup.SETTLE)
        assert await rollup.roll_job(other, clock.now()) == 1
    finally:
        await other.close()
    assert await roll(desk.svc, clock) == 0
    assert await counts(desk.svc, conv, web) == [(5, 180), (2, None)]
    assert sum(m for m, _, _ in (await hours(desk.svc)).values()) == 7


async def test_the_sweeper_runs_it(desk: Desk, clock: ManualClock) -> None:
    conv, _ = await history(desk, clock)
    clock.advance(rollup.SETTLE)
    done = await desk.sweeper.run_once()
    assert done["reports.roll"] == 6
    assert (await counts(desk.svc, conv))[0][0] == 4


async def test_its_lag_is_the_oldest_uncounted_event_once_settled(desk: Desk, clock: ManualClock) -> None:
    await chat(desk)
    assert await rollup.roll_backlog(desk.svc, clock.now()) == T0 + rollup.SETTLE
    clock.advance(rollup.SETTLE)
    await roll(desk.svc, clock)
    assert await rollup.roll_backlog(desk.svc, clock.now()) is None

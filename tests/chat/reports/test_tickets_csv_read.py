"""How tickets.csv is read: on PostgreSQL by ``COPY … TO STDOUT (FORMAT binary)`` on the
read transaction's connection, its parameters quoted into the text by asyncpg; on SQLite
through the cursor. Whatever the filters and the cell (integers, keys, enum members, dates
and hours, lists of them) and the viewer, the file must be what the Python writer makes of
the rows the drill-down's statement selects; and a download dropped half-way leaves the
read session's connection fit for the next request."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import select, text

from chat.authz import Principal
from chat.clock import ManualClock
from chat.reports import csvfile, drill
from chat.reports.filters import parse_query
from chat.reports.selection import CHANNELS, COORDINATES, parse_cell
from chat.services import Services
from escalation.models import Ticket
from tests.chat.reports.world import World, build

BASE = [("from", "2026-03-02"), ("to", "2026-03-04"), ("tz", "Europe/Berlin")]


@pytest.fixture
async def world(svc: Services, clock: ManualClock) -> World:
    return await build(svc, clock)


async def written_and_expected(world: World, actor: Principal, pairs: list[tuple[str, str]]) -> tuple[str, str, int]:
    query, extras = parse_query(pairs, now=world.clock.now(), channels=CHANNELS, extra=COORDINATES)
    cell = parse_cell(extras)
    written = "".join([c async for c in await drill.tickets_csv(world.svc, actor, query, cell)])
    async with world.svc.reads() as db:
        found = (await db.execute(drill._statement(actor, query, cell))).all()
    header = [label for _, label in drill.CSV_HEADER]
    return written, csvfile.lines([header, *(drill._csv_row(tuple(r)) for r in found)]), len(found)


async def test_every_kind_of_parameter(world: World) -> None:
    agent, group_lead = world.desk.agent.user_id, world.desk.agent2.user_id
    cases: list[list[tuple[str, str]]] = [
        [],
        [("channel", "web"), ("channel", "chat"), ("channel", "phone")],  # enum members, expanded IN
        [("company", str(world.beta_id)), ("company", "none")],
        [("plan", "premium")],
        [("agent", str(agent)), ("agent", str(group_lead)), ("agent", "none")],
        [("category", "technical_question"), ("severity", "2"), ("severity", "none")],
        [("group", "second_level")],
        [("metric", "closed"), ("status", "closed")],
        [("metric", "created"), ("day", "2026-03-03")],
        [("metric", "resolved"), ("rating", "good")],
        [("metric", "sla"), ("target", "first_response")],
        [("metric", "met"), ("policy", "none")],
        [("metric", "created"), ("bucket", "2")],
        [("metric", "messages"), ("weekday", "mon"), ("hour", "10")],  # a list of UTC hours
        [("metric", "timed"), ("measure", "first_response_wall")],
        [("metric", "backlog")],
        [("metric", "open_chats")],
        [("metric", "reopened")],
    ]
    listed = 0
    for pairs in cases:
        written, expected, n = await written_and_expected(world, world.desk.admin, [*BASE, *pairs])
        assert written == expected, pairs
        listed += n
    assert listed > 20  # the cases select tickets, not only empty files
    for viewer in (world.desk.agent2, world.reseller, world.other_reseller):  # the scopes' parameters
        written, expected, _ = await written_and_expected(world, viewer, BASE)
        assert written == expected


async def test_an_empty_file_is_its_header(world: World) -> None:
    written, expected, n = await written_and_expected(world, world.desk.admin,
                                                      [("from", "2026-01-05"), ("to", "2026-01-06")])
    assert n == 0 and written == expected == csvfile.lines([[label for _, label in drill.CSV_HEADER]])


async def test_a_dropped_download_leaves_the_connection_usable(world: World, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(drill, "CSV_BATCH", 1)
    query, extras = parse_query(BASE, now=world.clock.now(), channels=CHANNELS, extra=COORDINATES)
    for _ in range(3):  # more times than a pool hands out fresh connections in a row
        chunks: Any = await drill.tickets_csv(world.svc, world.desk.admin, query, parse_cell(extras))
        assert (await anext(chunks)).startswith("Ticket,")
        assert (await anext(chunks)).count("\r\n") == 1
        await chunks.aclose()
    async with world.svc.long_read() as db:
        assert await db.scalar(text("SELECT 1")) == 1
        assert await db.scalar(select(Ticket.conversation_id).where(Ticket.conversation_id == world.ids["A"]))
    whole = "".join([c async for c in await drill.tickets_csv(world.svc, world.desk.admin, query, parse_cell(extras))])
    assert whole.count("\r\n") == 1 + 6

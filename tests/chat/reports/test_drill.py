"""The drill-down on SQLite and PostgreSQL: for every report, every drillable cell that
counts tickets opens exactly as many tickets as it says (the list and the number share
their conditions); keyset pages; the ticket list's facts are the stored ones; the CSV."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime
from typing import Any

import msgspec
import pytest
from sqlalchemy import update

from chat.clock import ManualClock
from chat.errors import AppError
from chat.models import Conversation
from chat.reports import breakdown, csvfile, drill, heatmap, messages, now, ratings, sla, times, volume
from chat.reports.filters import parse_query
from chat.reports.selection import CHANNELS, COORDINATES, parse_cell
from chat.services import Services
from escalation.intake import TicketDraft, open_ticket
from escalation.models import Ticket
from tests.chat.reports.world import EVIL, World, build, query_of, rows

REPORTS = (volume.volume_report, breakdown.breakdown_report, times.times_report, sla.sla_report,
           ratings.ratings_report, messages.messages_report, heatmap.heatmap_report, now.now_report)
# Cells that count something else than tickets: messages, and reopenings (a ticket
# reopened twice in a day is one ticket in the list, two in the cell).
NOT_TICKETS = {"messages", "reopened"}


@pytest.fixture
async def world(svc: Services, clock: ManualClock) -> World:
    return await build(svc, clock)


async def every(world: World, pairs: list[tuple[str, str]]) -> list[int]:
    query, extras = parse_query(pairs, now=world.clock.now(), channels=CHANNELS, extra=(*COORDINATES, "cursor"))
    cell = parse_cell(extras)
    found: list[int] = []
    cursor = None
    while True:
        page = await drill.drill_tickets(world.svc, world.desk.admin, query, cell, cursor)
        found += [t.id for t in page["tickets"]]
        cursor = page["next"]
        if cursor is None:
            return found


async def test_every_cell_opens_the_tickets_it_counts(world: World) -> None:
    base = [("from", "2026-03-02"), ("to", "2026-03-04"), ("tz", "Europe/Berlin")]
    checked = 0
    for report in REPORTS:
        document = await report(world.svc, world.desk.admin, query_of(world.svc, base))
        for t in document["tables"]:
            for key, spec in t["drill"].items():
                for row in t["rows"]:
                    value = row[key]
                    params: list[tuple[str, str]] = [(k, str(v)) for k, v in spec.items() if k != "by"]
                    if "by" in spec:
                        params.append((spec["by"], str(row[spec["by"]])))
                    listed = await every(world, [*base, *params])
                    if spec["metric"] in NOT_TICKETS:
                        assert (len(listed) == 0) == (value == 0), (document["report"], t["id"], key, row)
                    else:
                        assert len(listed) == value, (document["report"], t["id"], key, row, listed)
                    assert len(set(listed)) == len(listed)
                    checked += 1
    assert checked > 100


async def test_pages_of_100_newest_first(world: World) -> None:
    for n in range(101):
        await open_ticket(world.svc, world.desk.customer, TicketDraft(subject=f"Bulk {n}", description="x"))
    found = await every(world, [("from", "2026-03-04"), ("to", "2026-03-04")])
    assert len(found) == 101 and found == sorted(found, reverse=True)
    query = query_of(world.svc, [("from", "2026-03-04"), ("to", "2026-03-04")])
    first = await drill.drill_tickets(world.svc, world.desk.admin, query, parse_cell({}))
    assert len(first["tickets"]) == 100 and first["next"] == str(first["tickets"][-1].id)
    for bad in ("abc", "0", "-1", str(2**64), "1e3"):
        with pytest.raises(AppError) as info:
            await drill.drill_tickets(world.svc, world.desk.admin, query, parse_cell({}), bad)
        assert info.value.code == "bad_filter"


async def test_ticket_rows_carry_the_stored_facts(world: World) -> None:
    query = query_of(world.svc, [("from", "2026-03-02"), ("to", "2026-03-04")])
    page = await drill.drill_tickets(world.svc, world.desk.admin, query, parse_cell({"metric": "resolved"}))
    stored = {r.t.conversation_id: r.t for r in await rows(world.svc)}
    assert {t.id for t in page["tickets"]} == {world.ids["A"], world.ids["B"]}
    for view in page["tickets"]:
        t = stored[view.id]
        assert (view.first_response_wall_s, view.first_response_business_s, view.resolution_wall_s,
                view.resolution_business_s, view.sla_policy, view.sla_first_response, view.rating,
                view.reopened_count, view.calendar) == (
            t.first_response_wall_s, t.first_response_business_s, t.resolution_wall_s, t.resolution_business_s,
            t.sla_policy, t.sla_first_response, t.rating, t.reopened_count, t.calendar_key)
    a = next(v for v in page["tickets"] if v.id == world.ids["A"])
    assert (a.company, a.assignee, a.status, a.reopened_count, a.rating) == ("Acme", "Ann", "closed", 1, "good")


async def test_a_day_outside_the_range_is_refused(world: World) -> None:
    query = query_of(world.svc, [("from", "2026-03-02"), ("to", "2026-03-04")])
    with pytest.raises(AppError) as info:
        await drill.drill_tickets(world.svc, world.desk.admin, query, parse_cell({"day": "2026-03-05"}))
    assert (info.value.status, info.value.code) == (400, "bad_filter")


async def test_the_ticket_csv_neutralises_formulas(world: World) -> None:
    query = query_of(world.svc, [("from", "2026-03-02"), ("to", "2026-03-04")])
    chunks = await drill.tickets_csv(world.svc, world.desk.admin, query, parse_cell({}))
    text = "".join([c async for c in chunks])
    table: list[list[Any]] = list(csv.reader(io.StringIO(text, newline="")))
    header, body = table[0], table[1:]
    assert header[:3] == ["Ticket", "Subject", "Company id"] and len(body) == 6
    by_id = {int(r[0]): dict(zip(header, r, strict=True)) for r in body}
    assert by_id[world.ids["C"]]["Subject"] == "'" + EVIL
    assert not any(cell.startswith("=") for r in body for cell in r)
    a = by_id[world.ids["A"]]
    stored = {r.t.conversation_id: r.t for r in await rows(world.svc)}[world.ids["A"]]
    assert (a["First response, wall clock (s)"], a["Resolution, business time (s)"], a["SLA policy"], a["Rating"]) == (
        str(stored.first_response_wall_s), str(stored.resolution_business_s), stored.sla_policy, "good")


async def test_the_ticket_csv_streams_in_batches(world: World, monkeypatch: pytest.MonkeyPatch) -> None:
    query = query_of(world.svc, [("from", "2026-03-02"), ("to", "2026-03-04")])
    whole = "".join([c async for c in await drill.tickets_csv(world.svc, world.desk.admin, query, parse_cell({}))])
    monkeypatch.setattr(drill, "CSV_BATCH", 2)
    chunks = [c async for c in await drill.tickets_csv(world.svc, world.desk.admin, query, parse_cell({}))]
    assert len(chunks) == 1 + 3 and "".join(chunks) == whole  # the header, then 2 + 2 + 2 rows


async def test_the_csv_rows_are_the_views(world: World) -> None:
    """tickets.csv writes rows without building views; the columns must stay the views'."""
    assert [k for k, _ in drill.CSV_HEADER] == list(drill.ReportTicketView.__struct_fields__)
    query = query_of(world.svc, [("from", "2026-03-02"), ("to", "2026-03-04")])
    async with world.svc.reads() as db:
        found = (await db.execute(drill._statement(world.desk.admin, query, parse_cell({})))).all()
    assert len(found) == 6
    for row in found:
        assert drill._csv_row(tuple(row)) == list(msgspec.structs.astuple(drill.ReportTicketView.of(row)))


TRICKY = ["", "plain", 'a "quoted", comma', "line\nbreak", "cr\rhere", "-3 degrees", "+1", "@me", "\ttab",
          "\rstart", "'already", "ünïcødé ✓ , \"x\"", "=1+2", " lead space", "semi;colon"]


async def test_the_ticket_csv_lines_are_the_python_writers(world: World) -> None:
    """tickets.csv's lines are written by the database; byte for byte they must be what
    csvfile.lines writes of _csv_row (quoting, neutralising, NULLs, ISO times with and
    without microseconds)."""
    ids = sorted(world.ids.values())
    async with world.svc.sessions() as db, db.begin():
        for i, conversation_id in enumerate(ids):
            await db.execute(update(Conversation).where(Conversation.id == conversation_id)
                             .values(subject=TRICKY[i % len(TRICKY)]))
        await db.execute(update(Ticket).where(Ticket.conversation_id == ids[0])
                         .values(resolved_at=datetime(2026, 3, 2, 10, 11, 12, 345, tzinfo=UTC)))
    seen = ""
    for offset in range(0, len(TRICKY), len(ids)):
        if offset:
            async with world.svc.sessions() as db, db.begin():
                for i, conversation_id in enumerate(ids):
                    await db.execute(update(Conversation).where(Conversation.id == conversation_id)
                                     .values(subject=TRICKY[(offset + i) % len(TRICKY)]))
        query = query_of(world.svc, [("from", "2026-03-02"), ("to", "2026-03-04")])
        written = "".join([c async for c in await drill.tickets_csv(world.svc, world.desk.admin, query,
                                                                     parse_cell({}))])
        async with world.svc.reads() as db:
            found = (await db.execute(drill._statement(world.desk.admin, query, parse_cell({})))).all()
        assert len(found) == 6
        expected = csvfile.lines([[label for _, label in drill.CSV_HEADER], *(drill._csv_row(tuple(r)) for r in found)])
        assert written == expected
        seen += written
    assert "10:11:12.000345+00:00" in seen and '"line\nbreak"' in seen and ",'-3 degrees," in seen
    assert '"\'=HYPERLINK(""http' in seen or "'=1+2" in seen

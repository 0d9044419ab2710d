"""The times report's groups where the keys and durations are awkward: on SQLite the set is
read as comma-joined lists (``chat.reports.times._listed``), so a category key with a comma,
non-ASCII or empty text, a NULL in one clock only, NULL keys, zero and large durations and
an empty set must come out as the brute force says — on PostgreSQL too (``_ranked``)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from chat.clock import ManualClock
from chat.reports import selection as sel
from chat.reports.times import MEASURES, times_report
from chat.services import Services
from escalation.models import Availability, Ticket, TicketCategory
from tests.chat.reports.world import World, build, matches, nearest_rank, query_of, rows, table, within

ODD_KEYS = ("odd,käse", "", "x41", "Ünïcode ✓")


@pytest.fixture
async def world(svc: Services, clock: ManualClock) -> World:
    return await build(svc, clock)


def expected(values: list[int | None]) -> dict[str, Any]:
    present = [v for v in values if v is not None]
    return {"count": len(present), "mean": round(sum(present) / len(present)) if present else None,
            "median": nearest_rank(present, 0.5), "p90": nearest_rank(present, 0.9)}


async def test_awkward_keys_and_durations(world: World) -> None:
    async with world.svc.sessions.begin() as db:
        for key in ODD_KEYS:
            db.add(TicketCategory(key=key, name=f"Odd {key!r}", availability=Availability.STAFF))
    durations = [(0, 0), (7, None), (None, 5), (2**31 - 1, 2**31 - 2), (60, 60), (59, 61)]
    async with world.svc.sessions.begin() as db:
        for n, ticket_id in enumerate(world.ids.values()):
            t = await db.get(Ticket, ticket_id)
            assert t is not None
            t.category = (*ODD_KEYS, None)[n % (len(ODD_KEYS) + 1)]
            t.severity = (None, 1, 3)[n % 3]
            t.assignee_id = None if n % 2 else t.assignee_id
            t.first_replied_at = t.created_at + timedelta(minutes=n + 1)
            t.first_response_wall_s, t.first_response_business_s = durations[n % len(durations)]
    query = query_of(world.svc, [("from", "2026-03-01"), ("to", "2026-03-05")])
    document = await times_report(world.svc, world.desk.admin, query)
    selected = [r for r in await rows(world.svc) if matches(r, query)]
    answered = [r for r in selected if within(r.t.first_replied_at, query.start, query.end)
                and (r.t.first_response_wall_s is not None or r.t.first_response_business_s is not None)]
    overall = {row["measure"]: row for row in table(document, "overall")["rows"]}
    for measure in ("first_response_wall", "first_response_business"):
        column = sel.TIMED[measure][1]
        want = expected([getattr(r.t, column) for r in answered])
        got = overall[measure]
        assert {"count": got["tickets"], "mean": got["mean"], "median": got["median"], "p90": got["p90"]} == want
    by_category = {row["category"]: row for row in table(document, "by_category")["rows"]}
    assert set(by_category) == {sel.key_text(r.t.category) for r in answered}
    for dimension in ("agent", "category", "severity"):
        column_name = sel.dimension_column(dimension).key
        for row in table(document, f"by_{dimension}")["rows"]:
            group = [r for r in answered if sel.key_text(getattr(r.t, column_name)) == row[dimension]]
            # "Responded" counts the wall clock's durations (the business one may be missing).
            assert row["responded"] == sum(r.t.first_response_wall_s is not None for r in group)
            for measure in ("first_response_wall", "first_response_business"):
                want = expected([getattr(r.t, sel.TIMED[measure][1]) for r in group])
                got = {"mean": row[f"{measure}_mean"], "median": row[f"{measure}_median"],
                       "p90": row[f"{measure}_p90"]}
                assert got == {k: want[k] for k in got}, (dimension, row[dimension], measure)


async def test_a_range_without_tickets(world: World) -> None:
    query = query_of(world.svc, [("from", "2026-01-05"), ("to", "2026-01-06")])
    document = await times_report(world.svc, world.desk.admin, query)
    assert [(r["measure"], r["tickets"], r["mean"], r["median"], r["p90"]) for r in table(document, "overall")["rows"]] \
        == [(m, 0, None, None, None) for m, _ in MEASURES]
    assert all(table(document, f"by_{d}")["rows"] == [] for d in ("agent", "category", "severity"))

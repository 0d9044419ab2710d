"""The weekday × hour heatmap on SQLite and PostgreSQL: UTC hours land in the local cells of
the report's zone, whole-hour and half-hour zones alike."""

from __future__ import annotations

from collections import Counter
from typing import Any

import pytest

from chat.clock import ManualClock
from chat.reports.heatmap import HOURS, heatmap_report
from chat.services import Services
from tests.chat.reports.world import World, build, hours, query_of, table


@pytest.fixture
async def world(svc: Services, clock: ManualClock) -> World:
    return await build(svc, clock)


def cells(document: dict[str, Any]) -> dict[tuple[str, str], int]:
    return {(r["weekday"], h): r[h] for r in table(document, "weekday_hour")["rows"] for h in HOURS if r[h]}


async def test_cells_by_hand_in_utc(world: World) -> None:
    document = await heatmap_report(world.svc, world.desk.admin,
                                    query_of(world.svc, [("from", "2026-03-02"), ("to", "2026-03-04")]))
    assert cells(document) == {("mon", "h09"): 2, ("mon", "h11"): 1, ("mon", "h13"): 2,
                               ("tue", "h09"): 1, ("tue", "h10"): 1, ("tue", "h11"): 1, ("tue", "h12"): 1}
    assert table(document, "weekday_hour")["totals"]["total"] == 9
    assert table(document, "weekday_hour")["drill"]["h13"] == {"metric": "messages", "hour": 13, "by": "weekday"}
    (chart,) = document["charts"]
    assert chart["kind"] == "heatmap" and 'data-y="mon"' in chart["svg"]


@pytest.mark.parametrize("tz", ["Asia/Kolkata", "America/St_Johns", "Pacific/Kiritimati"])
async def test_cells_in_other_zones(world: World, tz: str) -> None:
    query = query_of(world.svc, [("from", "2026-03-01"), ("to", "2026-03-05"), ("tz", tz)])
    document = await heatmap_report(world.svc, world.desk.admin, query)
    expected: Counter[tuple[str, str]] = Counter()
    for _, hour, n in await hours(world.svc):
        if query.start <= hour < query.end:
            local = hour.astimezone(query.tz)
            expected[(("mon", "tue", "wed", "thu", "fri", "sat", "sun")[local.weekday()], f"h{local.hour:02d}")] += n
    assert cells(document) == dict(expected)

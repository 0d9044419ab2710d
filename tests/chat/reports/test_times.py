"""The times report on SQLite and PostgreSQL: mean, median and 90th percentile (nearest
rank) in both clocks, overall and by agent, category and severity, against the stored facts
sorted in Python (nearest rank: the value at rank ceil(p·n))."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from chat.clock import ManualClock
from chat.reports import selection as sel
from chat.reports.times import MEASURES, times_report
from chat.services import Services
from escalation.models import Ticket
from tests.chat.reports.world import Row, World, build, matches, nearest_rank, query_of, rows, table, within


@pytest.fixture
async def world(svc: Services, clock: ManualClock) -> World:
    return await build(svc, clock)


def in_set(measure: str, r: Row, start: Any, end: Any) -> bool:
    metric, _ = sel.TIMED[measure]
    at = {"responded": r.t.first_replied_at, "resolved": r.t.resolved_at, "joined": r.t.created_at}[metric]
    return within(at, start, end) and (metric != "joined" or r.t.channel.value == "chat")


def expected_stats(selected: list[Row], measure: str, start: Any, end: Any) -> dict[str, Any]:
    column = sel.TIMED[measure][1]
    values = [getattr(r.t, column) for r in selected if in_set(measure, r, start, end)]
    values = [v for v in values if v is not None]
    return {"tickets": len(values), "mean": round(sum(values) / len(values)) if values else None,
            "median": nearest_rank(values, 0.5), "p90": nearest_rank(values, 0.9)}


async def test_by_hand(world: World) -> None:
    document = await times_report(world.svc, world.desk.admin,
                                  query_of(world.svc, [("from", "2026-03-02"), ("to", "2026-03-04")]))
    overall = {r["measure"]: r for r in table(document, "overall")["rows"]}
    assert [r["measure"] for r in table(document, "overall")["rows"]] == [m for m, _ in MEASURES]
    # A answered after 30 min, the live chat B after 2 min; nothing else was answered.
    assert {k: overall["first_response_wall"][k] for k in ("tickets", "mean", "median", "p90")} == {
        "tickets": 2, "mean": 960, "median": 120, "p90": 1800}
    assert overall["first_agent_join"]["tickets"] == 1 and overall["first_agent_join"]["median"] == 120
    assert table(document, "overall")["drill"]["tickets"] == {"metric": "timed", "by": "measure"}
    by_agent = {r["name"]: r for r in table(document, "by_agent")["rows"]}
    assert by_agent["Ann"]["responded"] == 1 and by_agent["Ann"]["first_response_wall_median"] == 1800
    assert {c["type"] for c in table(document, "by_agent")["columns"][3:]} == {"int", "duration"}


async def test_against_the_stored_facts(world: World, clock: ManualClock) -> None:
    # Spread the figures so that mean, median and p90 all differ: more answered tickets.
    async with world.svc.sessions.begin() as db:
        for n, ticket_id in enumerate(world.ids.values()):
            t = await db.get(Ticket, ticket_id)
            assert t is not None
            t.first_replied_at = t.created_at + timedelta(minutes=5 * n + 1)
            t.first_response_wall_s, t.first_response_business_s = (5 * n + 1) * 60, 3 * n * 60 + 7
    for pairs in ([], [("agent", str(world.desk.agent2.user_id))], [("channel", "web")], [("severity", "none")]):
        query = query_of(world.svc, [("from", "2026-03-01"), ("to", "2026-03-05"), *pairs])
        document = await times_report(world.svc, world.desk.admin, query)
        selected = [r for r in await rows(world.svc) if matches(r, query)]
        for row in table(document, "overall")["rows"]:
            got = {k: row[k] for k in ("tickets", "mean", "median", "p90")}
            assert got == expected_stats(selected, row["measure"], query.start, query.end), (pairs, row["measure"])
        for dimension in ("agent", "category", "severity"):
            column = sel.dimension_column(dimension).key
            for row in table(document, f"by_{dimension}")["rows"]:
                group = [r for r in selected if sel.key_text(getattr(r.t, column)) == row[dimension]]
                for measure in list(sel.TIMED)[:4]:
                    stats = expected_stats(group, measure, query.start, query.end)
                    got = {"mean": row[f"{measure}_mean"], "median": row[f"{measure}_median"],
                           "p90": row[f"{measure}_p90"]}
                    assert got == {k: stats[k] for k in got}, (pairs, dimension, row[dimension], measure)


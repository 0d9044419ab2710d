"""The ratings report on SQLite and PostgreSQL: Good / No rating / Bad by agent over the
tickets resolved in the range, and the reasons and comments, a formula staying text."""

from __future__ import annotations

import pytest

from chat.clock import ManualClock
from chat.reports.ratings import ratings_report
from chat.services import Services
from tests.chat.reports.world import EVIL, World, build, query_of, table


@pytest.fixture
async def world(svc: Services, clock: ManualClock) -> World:
    return await build(svc, clock)


async def test_shares_by_agent_and_the_comments(world: World) -> None:
    document = await ratings_report(world.svc, world.desk.admin,
                                    query_of(world.svc, [("from", "2026-03-02"), ("to", "2026-03-04")]))
    by_agent = {r["name"]: r for r in table(document, "by_agent")["rows"]}
    # A (Ann's) was rated Good; the live chat B (nobody's) Bad; nothing else was resolved.
    assert {n: (r["resolved"], r["good"], r["none"], r["bad"]) for n, r in by_agent.items()} == {
        "Ann": (1, 1, 0, 0), "Unassigned": (1, 0, 0, 1)}
    assert by_agent["Ann"]["good_share"] == 1.0 and by_agent["Unassigned"]["bad_share"] == 1.0
    totals = table(document, "by_agent")["totals"]
    assert (totals["resolved"], totals["good_share"], totals["none_share"], totals["bad_share"]) == (2, 0.5, 0.0, 0.5)
    assert table(document, "by_agent")["drill"]["bad"] == {"metric": "resolved", "rating": "bad", "by": "agent"}
    comments = {r["id"]: r for r in table(document, "comments")["rows"]}
    assert comments[world.ids["A"]]["reason"] == "fast" and comments[world.ids["A"]]["rating"] == "good"
    assert comments[world.ids["B"]]["comment"] == EVIL and comments[world.ids["B"]]["agent"] is None
    assert document["charts"][0]["kind"] == "stacked"
    assert "<script" not in document["charts"][0]["svg"]


async def test_a_day_without_resolutions_has_no_rows(world: World) -> None:
    document = await ratings_report(world.svc, world.desk.admin,
                                    query_of(world.svc, [("from", "2026-03-03"), ("to", "2026-03-03")]))
    assert table(document, "by_agent")["rows"] == [] and table(document, "comments")["rows"] == []
    assert table(document, "by_agent")["totals"]["good_share"] is None

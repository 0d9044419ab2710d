"""The breakdown report (the BX list) on SQLite and PostgreSQL: each dimension's created /
open / closed against a brute-force count, names on the rows, keys the drill takes back."""

from __future__ import annotations

from collections import Counter
from typing import Any

import pytest

from chat.clock import ManualClock
from chat.reports import selection as sel
from chat.reports.breakdown import breakdown_report
from chat.services import Services
from escalation.ratings import RatingValue
from tests.chat.reports.world import Row, World, build, matches, query_of, rows, table, within


@pytest.fixture
async def world(svc: Services, clock: ManualClock) -> World:
    return await build(svc, clock)


def key_of(dimension: str, r: Row) -> str:
    value: Any = {
        "agent": r.t.assignee_id, "status": r.t.status, "category": r.t.category, "severity": r.t.severity,
        "channel": r.t.channel, "site": r.conv.site_id, "company": r.conv.organization_id, "group": r.t.group_key,
        "rating": r.t.rating if r.t.rating in ("good", "bad") else RatingValue.NO_RATING.value,
    }[dimension]
    return sel.key_text(value)


async def test_by_hand(world: World) -> None:
    document = await breakdown_report(world.svc, world.desk.admin,
                                      query_of(world.svc, [("from", "2026-03-02"), ("to", "2026-03-04")]))
    assert [t["id"] for t in document["tables"]] == list(sel.DIMENSIONS)
    by_channel = {r["channel"]: (r["name"], r["created"], r["open"], r["closed"])
                  for r in table(document, "channel")["rows"]}
    assert by_channel == {"web": ("Web", 3, 2, 1), "chat": ("Chat", 2, 1, 1), "phone": ("Phone", 1, 1, 0)}
    by_agent = {r["name"]: (r["agent"], r["created"]) for r in table(document, "agent")["rows"]}
    assert by_agent == {"Ann": (str(world.desk.agent.user_id), 1), "Bob": (str(world.desk.agent2.user_id), 1),
                        "Unassigned": ("none", 4)}
    assert {r["name"]: r["created"] for r in table(document, "company")["rows"]} == {"Acme": 3, "Other": 1, "Beta": 2}
    assert {r["rating"]: r["closed"] for r in table(document, "rating")["rows"]} == {"good": 1, "bad": 1, "none": 0}
    assert table(document, "agent")["drill"]["created"] == {"metric": "created", "by": "agent"}
    assert table(document, "agent")["totals"] == {"agent": None, "name": "Total", "created": 6, "open": 4, "closed": 2}


async def test_every_dimension_against_brute_force(world: World) -> None:
    for pairs in ([("from", "2026-03-02"), ("to", "2026-03-02")], [("from", "2026-03-03"), ("to", "2026-03-10")],
                  [("from", "2026-03-01"), ("to", "2026-03-04"), ("company", str(world.beta_id))],
                  [("from", "2026-03-01"), ("to", "2026-03-04"), ("plan", "regular")]):
        query = query_of(world.svc, pairs)
        document = await breakdown_report(world.svc, world.desk.admin, query)
        selected = [r for r in await rows(world.svc) if matches(r, query)]
        if ("plan", "regular") in pairs:  # Acme is the only company on the regular plan
            selected = [r for r in selected if r.conv.organization_id == world.desk.org_id]
        for dimension in sel.DIMENSIONS:
            expected: dict[str, Counter[str]] = {"created": Counter(), "open": Counter(), "closed": Counter()}
            for r in selected:
                key = key_of(dimension, r)
                expected["created"][key] += within(r.t.created_at, query.start, query.end)
                expected["closed"][key] += within(r.t.closed_at, query.start, query.end)
                expected["open"][key] += r.t.created_at < query.end and (r.t.closed_at is None
                                                                         or r.t.closed_at >= query.end)
            got = {r[dimension]: {f: r[f] for f in expected} for r in table(document, dimension)["rows"]}
            keys = {k for counts in expected.values() for k, n in counts.items() if n}
            assert got == {k: {f: expected[f][k] for f in expected} for k in keys}, (pairs, dimension)

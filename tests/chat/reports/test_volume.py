"""The volume report on SQLite and PostgreSQL: the three days of tests/chat/reports/world.py
by hand, then every figure against a brute-force count of the stored rows in zones where
the days fall differently, with filters."""

from __future__ import annotations

from collections import Counter
from typing import Any

import pytest
from sqlalchemy import select

from chat.clock import ManualClock
from chat.reports.volume import volume_report
from chat.services import Services
from escalation.models import ReportReopen, TicketChannel
from tests.chat.reports.world import World, build, day_of, hours, matches, query_of, rows, table

RANGE = [("from", "2026-03-02"), ("to", "2026-03-04")]


@pytest.fixture
async def world(svc: Services, clock: ManualClock) -> World:
    return await build(svc, clock)


def column(document: dict[str, Any], key: str) -> list[Any]:
    return [r[key] for r in table(document, "per_day")["rows"]]


async def test_three_days_by_hand(world: World) -> None:
    document = await volume_report(world.svc, world.desk.admin, query_of(world.svc, [*RANGE, ("tz", "UTC")]))
    assert (document["report"], document["from"], document["to"], document["tz"]) == (
        "volume", "2026-03-02", "2026-03-04", "UTC")
    per_day = table(document, "per_day")
    assert [r["day"] for r in per_day["rows"]] == ["2026-03-02", "2026-03-03", "2026-03-04"]
    # Monday: A and B opened and closed, A reopened once; the chat answered live.
    # Tuesday: C, D, E and F opened; the unanswered chat F converted by the sweeper.
    assert column(document, "created") == [2, 4, 0]
    assert column(document, "closed") == [2, 0, 0]
    assert column(document, "reopened") == [1, 0, 0]
    assert column(document, "backlog") == [0, 4, 4]
    assert column(document, "chats") == [1, 1, 0]
    assert column(document, "answered_live") == [1, 0, 0]
    assert column(document, "converted") == [0, 1, 0]
    assert column(document, "messages") == [5, 4, 0]  # A: 3, B: 2; one each for C, D, E, F
    assert per_day["totals"] == {"day": None, "created": 6, "closed": 2, "reopened": 1, "backlog": 4, "chats": 2,
                                 "answered_live": 1, "converted": 1, "messages": 9}
    assert per_day["drill"]["created"] == {"metric": "created", "by": "day"}
    assert {c["key"]: c["type"] for c in per_day["columns"]}["day"] == "date"
    assert [c["kind"] for c in document["charts"]] == ["bars", "lines", "bars", "bars"]
    assert all(c["svg"].startswith("<svg") for c in document["charts"])


async def test_days_are_local_days(world: World) -> None:
    # Kiritimati is UTC+14: B (13:00 UTC Monday) is Tuesday there, D (10:00 UTC Tuesday) Wednesday.
    document = await volume_report(world.svc, world.desk.admin,
                                   query_of(world.svc, [*RANGE, ("tz", "Pacific/Kiritimati")]))
    assert column(document, "created") == [1, 2, 3]
    assert column(document, "closed") == [0, 2, 0]


# Zones where the days fall differently (-8, +5:30, +14), and filters of each kind.
VARIANTS = [
    [("tz", "UTC")], [("tz", "America/Los_Angeles")], [("tz", "Asia/Kolkata")], [("tz", "Pacific/Kiritimati")],
    [("channel", "chat")], [("channel", "web"), ("channel", "phone")], [("agent", "none")], [("severity", "1")],
    [("group", "second_level")], [("category", "technical_question")],
]


async def test_every_figure_against_brute_force(world: World) -> None:
    for pairs in VARIANTS:
        await check(world, pairs)


async def check(world: World, pairs: list[tuple[str, str]]) -> None:
    query = query_of(world.svc, [("from", "2026-03-01"), ("to", "2026-03-05"), *pairs])
    document = await volume_report(world.svc, world.desk.admin, query)
    selected = [r for r in await rows(world.svc) if matches(r, query)]
    ids = {r.t.conversation_id for r in selected}
    async with world.svc.reads() as db:
        reopens = [(c, at) for c, at in (await db.execute(select(ReportReopen.conversation_id, ReportReopen.at))).all()
                   if c in ids]
    days = [d.day for d in query.days()]
    expected: dict[str, Counter[object]] = {key: Counter() for key in (
        "created", "closed", "reopened", "chats", "answered_live", "converted", "messages")}
    for r in selected:
        t = r.t
        expected["created"][day_of(t.created_at, query)] += 1
        expected["closed"][day_of(t.closed_at, query)] += 1
        if t.channel is TicketChannel.CHAT:
            day = day_of(t.created_at, query)
            expected["chats"][day] += 1
            live = t.first_replied_at is not None and (t.tracked_at is None or t.first_replied_at <= t.tracked_at)
            expected["answered_live"][day] += int(live)
            expected["converted"][day] += int(t.tracked)
    for _, at in reopens:
        expected["reopened"][day_of(at, query)] += 1
    for conversation_id, hour, n in await hours(world.svc):
        if conversation_id in ids:
            expected["messages"][day_of(hour, query)] += n
    for key, counts in expected.items():
        assert column(document, key) == [counts[d] for d in days], (pairs, key)
    backlog = [sum(1 for r in selected if r.t.created_at < d.end and (r.t.closed_at is None or r.t.closed_at >= d.end))
               for d in query.days()]
    assert column(document, "backlog") == backlog, pairs

"""The SLA report on SQLite and PostgreSQL: met and breached per policy and target against
the stored outcomes, the breached tickets listed, and the live list of open tickets by time
left against the deadlines each ticket stores."""

from __future__ import annotations

from collections import Counter
from datetime import datetime
from typing import Any

import pytest

from chat.clock import ManualClock
from chat.reports.sla import TARGET_LABELS, most_urgent, sla_report
from chat.services import Services
from tests.chat.reports.world import EVIL, World, build, matches, query_of, rows, table, within


@pytest.fixture
async def world(svc: Services, clock: ManualClock) -> World:
    return await build(svc, clock)


async def test_against_the_stored_outcomes(world: World) -> None:
    for pairs in ([], [("channel", "web")], [("company", str(world.beta_id))]):
        query = query_of(world.svc, [("from", "2026-03-02"), ("to", "2026-03-04"), *pairs])
        document = await sla_report(world.svc, world.desk.admin, query)
        selected = [r for r in await rows(world.svc) if matches(r, query)
                    and within(r.t.created_at, query.start, query.end) and r.t.sla_policy is not None]
        expected: dict[str, Counter[str]] = {}
        for r in selected:
            counts = expected.setdefault(r.t.sla_policy or "", Counter())
            counts["tickets"] += 1
            for target in TARGET_LABELS:
                outcome = getattr(r.t, f"sla_{target}")
                if outcome is not None:
                    counts[f"{target}_{outcome}"] += 1
        got = {row["policy"]: row for row in table(document, "per_policy")["rows"]}
        assert set(got) == set(expected), pairs
        for policy, counts in expected.items():
            row = got[policy]
            assert row["tickets"] == counts["tickets"]
            for target in TARGET_LABELS:
                met, missed = counts[f"{target}_met"], counts[f"{target}_breached"]
                assert (row[f"{target}_met"], row[f"{target}_breached"]) == (met, missed), (policy, target)
                assert row[f"{target}_share"] == (met / (met + missed) if met + missed else None)
        listed = {(b["id"], b["target"]) for b in table(document, "breaches")["rows"]}
        assert listed == {(r.t.conversation_id, target) for r in selected for target in TARGET_LABELS
                          if getattr(r.t, f"sla_{target}") == "breached"}
        assert document["breached_tickets"] == len({i for i, _ in listed})


async def test_breaches_are_linked_and_the_subject_stays_text(world: World) -> None:
    document = await sla_report(world.svc, world.desk.admin,
                                query_of(world.svc, [("from", "2026-03-02"), ("to", "2026-03-04")]))
    breaches = table(document, "breaches")
    assert {c["key"]: c["type"] for c in breaches["columns"]}["id"] == "id"
    (c_row,) = [b for b in breaches["rows"] if b["id"] == world.ids["C"]]
    assert c_row["subject"] == EVIL and c_row["target"] == "first_response"
    per_policy = table(document, "per_policy")
    assert per_policy["drill"]["first_response_breached"] == {"metric": "breached", "target": "first_response",
                                                              "by": "policy"}


async def test_open_tickets_ordered_by_time_left(world: World) -> None:
    document = await sla_report(world.svc, world.desk.admin, query_of(world.svc, []))
    listed = table(document, "open_by_time_left")["rows"]
    now = world.clock.now()
    expected = []
    for r in await rows(world.svc):
        found = most_urgent(r.t.deadlines, now) if r.t.status.value != "closed" and r.t.sla_policy else None
        if found is not None:
            expected.append((found[1], r.t.conversation_id, found[0]))
    expected.sort()
    assert [(row["id"], row["target"]) for row in listed] == [(i, target) for _, i, target in expected]
    assert listed, "the open tickets of Tuesday still run their clocks"
    times = [row["time_left"] for row in listed]
    assert times == sorted(times)
    for row in listed:
        assert row["time_left"] == round((datetime.fromisoformat(row["due_at"]) - now).total_seconds())


def test_most_urgent_skips_met_paused_and_stopped() -> None:
    now = datetime.fromisoformat("2026-03-04T12:00:00+00:00")
    deadlines: dict[str, Any] = {
        "first_response": {"due_at": "2026-03-04T10:00:00+00:00", "state": "breached", "met_at": None},
        "resolution": {"due_at": "2026-03-05T10:00:00+00:00", "state": "running", "met_at": None},
        "next_response": {"due_at": None, "state": "paused"},
        "stage_one": {"due_at": "2026-03-01T10:00:00+00:00", "state": "met", "met_at": "2026-03-01T09:00:00+00:00"},
    }
    assert most_urgent(deadlines, now) == ("first_response", datetime.fromisoformat("2026-03-04T10:00:00+00:00"))
    deadlines["first_response"]["met_at"] = "2026-03-04T11:00:00+00:00"  # breached, answered late: not urgent
    assert most_urgent(deadlines, now) == ("resolution", datetime.fromisoformat("2026-03-05T10:00:00+00:00"))
    assert most_urgent({}, now) is None
    assert most_urgent({"x": {"due_at": "not a time", "state": "running"}}, now) is None

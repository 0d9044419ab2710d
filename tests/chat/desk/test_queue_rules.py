"""Which queue a ticket is in, and which deadline its row counts down (pure)."""

from __future__ import annotations

import pytest

from chat.desk.queues import current_sla, queue_of
from escalation.lifecycle import TicketStatus as S


@pytest.mark.parametrize(("status", "level", "group", "queue"), [
    (S.NEW, 1, None, "new"),
    (S.IN_PROGRESS, 1, None, "first_line"),
    (S.WAITING_ON_CUSTOMER, 1, None, "waiting"),
    (S.PROPOSED_TO_CLOSE, 1, None, None),  # resolved: out of the working queues
    (S.CLOSED, 1, None, None),
    # A transferred ticket is its group's, whatever its status (until resolved).
    (S.NEW, 2, "second_level", "group:second_level"),
    (S.IN_PROGRESS, 3, "vendor", "group:vendor"),
    (S.WAITING_ON_CUSTOMER, 2, "marketing", "group:marketing"),
    (S.PROPOSED_TO_CLOSE, 2, "incidents", None),
    (S.CLOSED, 2, "incidents", None),
    # A line without a group has a queue of its own.
    (S.IN_PROGRESS, 2, None, "level:2"),
    (S.NEW, 3, None, "level:3"),
])
def test_queue_of(status: S, level: int, group: str | None, queue: str | None) -> None:
    assert queue_of(status, level, group) == queue


def test_the_row_counts_down_the_earliest_deadline_still_running_or_missed() -> None:
    deadlines = {
        "first_response": {"due_at": "2026-03-02T10:00:00+00:00", "warn_at": "2026-03-02T09:45:00+00:00",
                           "state": "met", "met_at": "2026-03-02T09:10:00+00:00"},
        "resolution": {"due_at": "2026-03-05T18:00:00+00:00", "warn_at": "2026-03-05T12:00:00+00:00", "state": "running"},
        "stage_one": {"due_at": "2026-03-03T18:00:00+00:00", "warn_at": "2026-03-03T15:00:00+00:00", "state": "running"},
        "next_response": {"due_at": None, "warn_at": None, "state": "paused"},
    }
    assert current_sla(deadlines) == {"target": "stage_one", "due_at": "2026-03-03T18:00:00+00:00",
                                      "warn_at": "2026-03-03T15:00:00+00:00", "state": "running"}
    deadlines["first_response"] = {"due_at": "2026-03-02T10:00:00+00:00", "warn_at": None, "state": "breached"}
    assert current_sla(deadlines)["target"] == "first_response"  # type: ignore[index]
    assert current_sla({}) is None
    assert current_sla({"resolution": {"due_at": "2026-03-05T18:00:00+00:00", "state": "stopped"}}) is None

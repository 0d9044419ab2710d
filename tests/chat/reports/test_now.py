"""The desk now on SQLite and PostgreSQL: live chats, the ones waiting and the longest wait,
open tickets, and the agents online (presence) with their load, scoped by role."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

import pytest

from chat.clock import ManualClock
from chat.reports.now import now_report
from chat.services import Services
from escalation import tickets
from tests.chat.reports.world import World, build, query_of, table
from tests.escalation.world import chat


class Online:
    def __init__(self, statuses: dict[int, str]) -> None:
        self.statuses = statuses

    def agent_statuses(self) -> dict[int, str]:
        return dict(self.statuses)


@pytest.fixture
async def world(svc: Services, clock: ManualClock) -> World:
    return await build(svc, clock)


async def test_now(world: World, clock: ManualClock) -> None:
    desk = world.desk
    await chat(desk, subject="Still there?", body="Hello")
    h = await chat(desk, desk.colleague, subject="Another", body="Hi")
    await tickets.assign_ticket(world.svc, desk.admin, h, desk.agent.user_id)
    clock.advance(timedelta(minutes=4))
    svc = replace(world.svc, presence=Online({desk.agent.user_id: "online", desk.agent2.user_id: "away"}))
    document = await now_report(svc, desk.admin, query_of(svc, []))
    (summary,) = table(document, "summary")["rows"]
    # G and H are live and unanswered (4 minutes); C, D, E and the converted F are open tickets.
    assert summary == {"open_chats": 2, "waiting": 2, "longest_wait": 240, "open_tickets": 4, "agents_online": 1}
    agents = {r["name"]: r for r in table(document, "agents")["rows"]}
    assert agents["Ann"] == {"agent": str(desk.agent.user_id), "name": "Ann", "status": "online",
                             "open_chats": 1, "open_tickets": 0}
    assert agents["Bob"]["status"] == "away" and agents["Bob"]["open_tickets"] == 1  # E
    assert table(document, "summary")["drill"]["waiting"] == {"metric": "waiting"}
    # An agent sees its own row, and counts only its own and its groups' tickets.
    mine = await now_report(svc, desk.agent, query_of(svc, []))
    assert [r["name"] for r in table(mine, "agents")["rows"]] == ["Ann"]
    assert table(mine, "summary")["rows"][0]["open_chats"] == 1  # H
    # The reseller admin: Beta's tickets (E, F), and the agents at work on them.
    partner = await now_report(svc, world.reseller, query_of(svc, []))
    assert table(partner, "summary")["rows"][0]["open_tickets"] == 2
    assert [r["name"] for r in table(partner, "agents")["rows"]] == ["Bob"]

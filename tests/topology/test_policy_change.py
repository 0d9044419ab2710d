"""An SLA policy changed on one node reaches an open ticket's deadlines with no unit of the
ticket's own (issue 19, "deadlines follow a change live"): the sweeper — on the cluster
the separate ``python -m escalation`` process — sees the desk's version counter move,
recomputes the ticket, and the ``ticket.deadlines`` event reaches a staff socket on the
other node; both nodes then read the new deadline. The single-process version:
tests/escalation/test_policy_admin.py."""

from __future__ import annotations

from datetime import datetime, timedelta

from escalation.calendars import moscow_business_calendar
from escalation.sla_targets import DayRule, TargetSpec
from tests.support.topology import Topology
from tests.topology.desk_world import SWEEP_SECONDS, get, open_chat, seed_desk, stored_events, system_event

RULE = {"name": "Technical, Moscow", "category": "technical_question", "calendar": "moscow",
        "first_response": {"hours": 4}, "resolution": {"business_days": 1}}


async def test_a_policy_change_on_one_node_moves_a_ticket_watched_on_the_other(topology: Topology) -> None:
    world = await seed_desk(topology)
    agent = world.agents[0]
    visitor = await world.visitor("Vera")
    async with topology.client(agent.token, node=1) as console:
        conv = await open_chat(topology, visitor, node=0, subject="VPN down")
        await console.join(conv)
        await topology.call(agent.token, "POST", f"/api/conversations/{conv}/escalate",
                            {"category": "technical_question", "note": "a ticket"}, node=1, expect=200)
        before = (await get(topology, agent, f"/api/tickets/{conv}", node=0))["ticket"]["deadlines"]["resolution"]
        after_seq = int((await stored_events(topology, agent, conv, node=1))[-1]["seq"])

        await topology.call(world.admin.token, "POST", "/api/sla/policies",
                            {**RULE, "day_rule": DayRule.WORKING_HOURS.value}, node=0, expect=201)
        moved = await system_event(console, conv, "ticket.deadlines", after=after_seq, timeout=SWEEP_SECONDS + 5)
        # Before: "technical_question"'s own 1 business day on the around-the-clock
        # calendar, 24 h from the escalation.
        started = datetime.fromisoformat(before["due_at"]) - timedelta(hours=24)
        expected = TargetSpec.business_days(1).due_from(moscow_business_calendar(), started, DayRule.WORKING_HOURS)
        assert datetime.fromisoformat(moved["data"]["deadlines"]["resolution"]["due_at"]) == expected
        for node in (0, 1):
            ticket = (await get(topology, agent, f"/api/tickets/{conv}", node=node))["ticket"]
            assert datetime.fromisoformat(ticket["deadlines"]["resolution"]["due_at"]) == expected
            assert ticket["sla_policy"] == "Technical, Moscow"

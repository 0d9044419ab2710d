"""The pure assignment rules: rules, default assignee, round-robin, capacity, oldest first."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from chat.desk.assignment import AgentLoad, Assignment, Reason, Rule, WaitingChat, plan_assignments

NOW = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


def chat(cid: int, minutes_ago: int = 0, **facts: object) -> WaitingChat:
    return WaitingChat(cid, NOW - timedelta(minutes=minutes_ago), **facts)  # type: ignore[arg-type]


def agent(uid: int, status: str = "online", active: int = 0, limit: int = 5, last: int | None = None) -> AgentLoad:
    return AgentLoad(uid, status, active, limit, None if last is None else NOW - timedelta(minutes=last))


def who(plan: list[Assignment]) -> dict[int, int]:
    return {a.conversation_id: a.assignee_id for a in plan}


def test_a_matching_rule_wins_over_round_robin() -> None:
    rules = [Rule(1, assignee_id=20, category="billing")]
    plan = plan_assignments([chat(1, category="billing")], rules, None, [agent(10, last=60), agent(20, last=1)], NOW)
    assert plan == [Assignment(1, 20, Reason.RULE, 1)]


def test_rules_match_on_every_condition_they_name() -> None:
    rules = [
        Rule(1, assignee_id=20, category="device_error", severity=1),
        Rule(2, assignee_id=30, source="email"),
        Rule(3, assignee_id=40, severity=3),
    ]
    agents = [agent(20), agent(30), agent(40), agent(50, last=None)]
    waiting = [
        chat(1, 4, category="device_error", severity=1),  # rule 1
        chat(2, 3, category="device_error", severity=2),  # rule 1 needs severity 1: nobody named
        chat(3, 2, source="email", severity=3),  # rule 2 comes before rule 3
        chat(4, 1, severity=3, source="widget"),  # rule 3
    ]
    plan = plan_assignments(waiting, rules, None, agents, NOW)
    assert [(a.conversation_id, a.assignee_id, a.rule_id) for a in plan if a.reason is Reason.RULE] == [
        (1, 20, 1), (3, 30, 2), (4, 40, 3),
    ]
    assert {a.conversation_id: a.reason for a in plan}[2] is Reason.ROUND_ROBIN


def test_disabled_rules_are_ignored() -> None:
    rules = [Rule(1, assignee_id=20, category="billing", enabled=False)]
    plan = plan_assignments([chat(1, category="billing")], rules, None, [agent(10, last=60), agent(20, last=1)], NOW)
    assert plan == [Assignment(1, 10, Reason.ROUND_ROBIN)]


def test_a_rule_whose_agent_is_away_or_full_falls_through_to_the_next_choice() -> None:
    rules = [Rule(1, assignee_id=20, category="billing"), Rule(2, assignee_id=30, category="billing")]
    away = plan_assignments([chat(1, category="billing")], rules, None, [agent(20, "away"), agent(30)], NOW)
    assert away == [Assignment(1, 30, Reason.RULE, 2)]
    full = plan_assignments([chat(1, category="billing")], rules[:1], None, [agent(20, active=5), agent(30)], NOW)
    assert full == [Assignment(1, 30, Reason.ROUND_ROBIN)]


def test_the_default_assignee_comes_after_rules_and_before_round_robin() -> None:
    rules = [Rule(1, assignee_id=20, category="billing")]
    agents = [agent(10, last=None), agent(20), agent(30)]
    plan = plan_assignments([chat(1, 2, category="billing"), chat(2, 1, category="other")], rules, 30, agents, NOW)
    assert who(plan) == {1: 20, 2: 30}
    assert [a.reason for a in plan] == [Reason.RULE, Reason.DEFAULT]


def test_a_default_assignee_who_is_offline_or_full_is_skipped() -> None:
    offline = plan_assignments([chat(1)], [], 30, [agent(10), agent(30, "offline")], NOW)
    assert offline == [Assignment(1, 10, Reason.ROUND_ROBIN)]
    full = plan_assignments([chat(1)], [], 30, [agent(10), agent(30, active=2, limit=2)], NOW)
    assert full == [Assignment(1, 10, Reason.ROUND_ROBIN)]


def test_round_robin_starts_with_whoever_was_assigned_longest_ago_and_takes_turns() -> None:
    agents = [agent(10, last=5), agent(20, last=50), agent(30, last=None)]
    plan = plan_assignments([chat(i, 10 - i) for i in range(1, 7)], [], None, agents, NOW)
    # Never assigned first, then the longest ago, then in turn.
    assert [a.assignee_id for a in plan] == [30, 20, 10, 30, 20, 10]
    assert all(a.reason is Reason.ROUND_ROBIN for a in plan)


def test_only_online_agents_below_their_limit_get_chats() -> None:
    agents = [agent(10, "away"), agent(20, "offline"), agent(30, active=1, limit=2), agent(40, active=3, limit=3)]
    plan = plan_assignments([chat(1, 3), chat(2, 2), chat(3, 1)], [], None, agents, NOW)
    # Agent 30 had room for exactly one more; the two newer chats keep waiting.
    assert plan == [Assignment(1, 30, Reason.ROUND_ROBIN)]


def test_the_oldest_waiting_chat_is_served_first_whatever_the_input_order() -> None:
    waiting = [chat(1, 1), chat(2, 30), chat(3, 10)]
    plan = plan_assignments(waiting, [], None, [agent(10, limit=2)], NOW)
    assert [a.conversation_id for a in plan] == [2, 3]


def test_a_limit_of_zero_takes_no_chats_and_nobody_free_means_nobody_assigned() -> None:
    assert plan_assignments([chat(1)], [], None, [agent(10, limit=0)], NOW) == []
    assert plan_assignments([chat(1)], [], None, [], NOW) == []
    assert plan_assignments([], [], 10, [agent(10)], NOW) == []


def test_a_rule_naming_someone_who_is_not_staff_on_the_desk_is_skipped() -> None:
    plan = plan_assignments([chat(1)], [Rule(1, assignee_id=99)], 98, [agent(10)], NOW)
    assert plan == [Assignment(1, 10, Reason.ROUND_ROBIN)]


def test_rules_share_capacity_with_round_robin_within_one_plan() -> None:
    rules = [Rule(1, assignee_id=20, category="billing")]
    agents = [agent(20, limit=1, last=None), agent(30, last=1)]
    plan = plan_assignments([chat(1, 3), chat(2, 2, category="billing")], rules, None, agents, NOW)
    # The older chat went round-robin to 20 (assigned longest ago), which filled 20, so the
    # billing chat falls through to 30.
    assert who(plan) == {1: 20, 2: 30}

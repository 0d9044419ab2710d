"""Automatic assignment of waiting chats: pure rules, no I/O, time passed in.

The order of preference (BX: by category, severity or source; a default assignee;
otherwise among whoever is free):

1. the first enabled rule that matches the chat and whose agent can take it now;
2. the default assignee, if that agent can take it now;
3. round-robin among the agents who can take it: the one assigned longest ago goes next.

"Can take it now" means online (not away, not offline) and below the agent's limit of
concurrent chats. A chat is live: handing it to someone who is away or full would leave
the customer waiting behind a name, so a rule whose agent cannot take it falls through
to the next choice instead. Waiting chats are served oldest first, so when capacity
frees up the customer who has waited longest gets it.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime

ONLINE = "online"

_NEVER = datetime.min.replace(tzinfo=UTC)


@dataclass(frozen=True)
class WaitingChat:
    """An open chat nobody is assigned to yet."""

    conversation_id: int
    waiting_since: datetime
    category: str | None = None
    severity: int | None = None
    source: str | None = None


@dataclass(frozen=True)
class Rule:
    """``None`` in a condition matches anything; a rule with no conditions matches all."""

    id: int
    assignee_id: int
    category: str | None = None
    severity: int | None = None
    source: str | None = None
    enabled: bool = True

    def matches(self, chat: WaitingChat) -> bool:
        return (
            self.enabled
            and (self.category is None or self.category == chat.category)
            and (self.severity is None or self.severity == chat.severity)
            and (self.source is None or self.source == chat.source)
        )


@dataclass(frozen=True)
class AgentLoad:
    user_id: int
    status: str  # "online", "away" or "offline" (the hub's presence)
    active_chats: int
    max_chats: int
    last_assigned_at: datetime | None = None

    @property
    def can_take(self) -> bool:
        return self.status == ONLINE and self.active_chats < self.max_chats


class Reason(enum.StrEnum):
    RULE = "rule"
    DEFAULT = "default"
    ROUND_ROBIN = "round_robin"


@dataclass(frozen=True)
class Assignment:
    conversation_id: int
    assignee_id: int
    reason: Reason
    rule_id: int | None = None


@dataclass
class _Pool:
    """The agents' loads as the plan hands out chats; ``tick`` orders assignments made
    within one plan (they share the same ``now``)."""

    agents: dict[int, AgentLoad]
    order: dict[int, tuple[datetime, int]] = field(default_factory=dict)
    tick: int = 0

    def __post_init__(self) -> None:
        for agent in self.agents.values():
            self.order[agent.user_id] = (agent.last_assigned_at or _NEVER, 0)

    def can_take(self, user_id: int | None) -> bool:
        agent = self.agents.get(user_id) if user_id is not None else None
        return agent is not None and agent.can_take

    def next_in_turn(self) -> int | None:
        free = [a.user_id for a in self.agents.values() if a.can_take]
        if not free:
            return None
        return min(free, key=lambda uid: (*self.order[uid], uid))

    def give(self, user_id: int, now: datetime) -> None:
        agent = self.agents[user_id]
        self.agents[user_id] = replace(agent, active_chats=agent.active_chats + 1, last_assigned_at=now)
        self.tick += 1
        self.order[user_id] = (now, self.tick)


def plan_assignments(
    waiting: Iterable[WaitingChat],
    rules: Sequence[Rule],
    default_assignee_id: int | None,
    agents: Iterable[AgentLoad],
    now: datetime,
) -> list[Assignment]:
    """Who takes which waiting chat, oldest chat first. ``rules`` are in priority order.
    Chats nobody can take now are left out (they stay in the New queue)."""
    pool = _Pool({a.user_id: a for a in agents})
    planned: list[Assignment] = []
    for chat in sorted(waiting, key=lambda c: (c.waiting_since, c.conversation_id)):
        choice = _choose(chat, rules, default_assignee_id, pool)
        if choice is None:
            continue
        pool.give(choice.assignee_id, now)
        planned.append(choice)
    return planned


def _choose(chat: WaitingChat, rules: Sequence[Rule], default_assignee_id: int | None, pool: _Pool) -> Assignment | None:
    for rule in rules:
        if rule.matches(chat) and pool.can_take(rule.assignee_id):
            return Assignment(chat.conversation_id, rule.assignee_id, Reason.RULE, rule.id)
    if default_assignee_id is not None and pool.can_take(default_assignee_id):
        return Assignment(chat.conversation_id, default_assignee_id, Reason.DEFAULT)
    turn = pool.next_in_turn()
    if turn is None:
        return None
    return Assignment(chat.conversation_id, turn, Reason.ROUND_ROBIN)

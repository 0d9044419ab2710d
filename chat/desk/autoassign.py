"""Automatic assignment, wired: load the waiting chats, the rules and the agents' loads,
plan with :mod:`chat.desk.assignment`, store each decision.

It runs whenever the answer may have changed: a chat starts (the after-commit reaction),
an agent comes back from away, a limit is raised, a chat is released or resolved. Every
decision is re-checked when stored (:func:`chat.desk.claims.apply_assignments`), so two
processes planning at once never assign a chat twice.

Who is online is presence, known to web processes only; in a process without a hub
(the worker) nobody is online and nothing is assigned.
"""

from __future__ import annotations

import logging
from collections.abc import Collection
from datetime import datetime
from typing import Any

from sqlalchemy import select

from chat.desk import agents as desk_agents
from chat.desk import claims, rules
from chat.desk.assignment import AgentLoad, Assignment, WaitingChat, plan_assignments
from chat.events import ring_inbox
from chat.models import Conversation, ConversationStatus
from chat.services import NoPresence, Services
from escalation.lifecycle import TicketStatus
from escalation.models import Ticket, TicketChannel
from escalation.partner import PLATFORM_QUEUE

log = logging.getLogger(__name__)

# One pass assigns at most this many chats; the next trigger continues. Bounds the time a
# burst of new chats holds one request.
MAX_PER_PASS = 200


async def plan(svc: Services, now_online: Collection[int] = (), exclude: Collection[int] = ()) -> list[Assignment]:
    """Who would take which waiting chat right now. ``now_online``: agents known to be
    online even if presence has not caught up yet (the one who just came back);
    ``exclude``: agents to leave out of this pass (the one who just let a chat go)."""
    statuses = dict(svc.presence.agent_statuses())
    for uid in now_online:
        statuses[uid] = "online"
    for uid in exclude:
        statuses.pop(uid, None)
    async with svc.reads() as db:
        # Who could take a chat first: every sweep pass and every trigger asks, and most
        # of the time nobody online has room, so the waiting list is not read at all.
        staff = await desk_agents.desk_staff(db)
        loads = await desk_agents.live_chat_counts(db)
        pool = [
            AgentLoad(user.id, statuses.get(user.id, "offline"), loads.get(user.id, 0),
                      desk_agents.limit_of(user, profile), profile.last_assigned_at if profile is not None else None)
            for user, profile in staff
        ]
        if not any(agent.can_take for agent in pool):
            return []
        rows = await db.execute(
            select(Ticket.conversation_id, Ticket.created_at, Ticket.category, Ticket.severity, Ticket.channel)
            .join(Conversation, Conversation.id == Ticket.conversation_id)
            .where(
                Ticket.assignee_id.is_(None),
                Ticket.spam_at.is_(None),  # marked as spam: nobody's work
                Ticket.status == TicketStatus.NEW,
                Ticket.channel == TicketChannel.CHAT,
                # A chat that began while nobody was online is a ticket already: triaged
                # from the New queue, not routed like a live chat.
                Ticket.tracked.is_(False),
                PLATFORM_QUEUE,  # a partner's first line routes its own
                Ticket.group_key.is_(None),
                Ticket.level == 1,
                Conversation.status == ConversationStatus.OPEN,
            )
            .order_by(Ticket.created_at, Ticket.conversation_id)
            .limit(MAX_PER_PASS)
        )
        waiting = [WaitingChat(cid, created, category, severity, channel.value)
                   for cid, created, category, severity, channel in rows]
        if not waiting:
            return []
        rule_rows = await rules.load_rules(db)
        default = await rules.default_assignee(db)
    return plan_assignments(waiting, [rules.as_rule(r) for r in rule_rows], default, pool, svc.clock.now())


async def assign_waiting(
    svc: Services, now_online: Collection[int] = (), exclude: Collection[int] = ()
) -> list[Assignment]:
    """Plan and store; return what was actually assigned. Failures are logged, not raised:
    assignment is a convenience on top of the queues, never a reason to fail a request."""
    try:
        return await claims.apply_assignments(svc, await plan(svc, now_online, exclude))
    except Exception:
        log.exception("automatic assignment failed; the chats wait in the New queue")
        return []


_TRIGGERS = {"conversation.created", "conversation.closed", "ticket.status_changed", "ticket.opened"}


async def on_events(svc: Services, actor: Any, events: list[dict[str, Any]]) -> None:
    """The after-commit reaction (``Services.reactions``): a new chat, or one that freed an
    agent, may change who takes what."""
    names = [(e["conversation_id"], (e.get("data") or {}).get("event")) for e in events if e.get("kind") == "system"]
    if not any(name in _TRIGGERS for _, name in names):
        return
    await assign_waiting(svc)
    for conversation_id, name in names:
        if name == "conversation.created":
            # The "created" doorbell rang before the ticket row existed (the tickets'
            # reaction made it since); a console that read the item too early reads again.
            await ring_inbox(svc, conversation_id, "ticket.created")


async def assign_job(svc: Services, now: datetime) -> int:
    """A sweep step (``escalation.worker`` job signature): catch what no trigger covered —
    a chat freed by a close through the ticket API, an agent whose limit was reached a
    moment ago. Only where presence is known (a web process, or the embedded default
    whose in-process sweeper shares the hub); a separate worker knows nobody is online."""
    if isinstance(svc.presence, NoPresence):
        return 0
    return len(await assign_waiting(svc))

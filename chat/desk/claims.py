"""Who answers a conversation: "I'll answer" (claim), release, and automatic assignment.

A claim is the ticket's assignee — one source of truth, shown in every console and in
the ticket — plus a ``ticket.assigned`` system event in the conversation's stream, so the
history says who took it and when, and every console hears of it live. Each change is one
transaction that re-checks the assignee under the conversation's row lock (the write
lock on SQLite), so two agents clicking at the same instant cannot both win. Every change goes
through the ticket's unit of work (:func:`escalation.unit_of_work.run_unit`) like any other
writer of a ticket.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from chat.authz import Action, Principal, require
from chat.desk.agents import default_limit
from chat.desk.assignment import Assignment
from chat.desk.models import AgentProfile
from chat.errors import Conflict
from chat.events import author_json
from chat.models import User
from chat.people import display_name
from chat.services import Services
from escalation.access import require_on_ticket
from escalation.batch import run_in_batches
from escalation.lifecycle import TicketStatus
from escalation.unit_of_work import Work, run_unit

log = logging.getLogger(__name__)


class AlreadyClaimed(Conflict):
    code = "already_claimed"


class TicketClosed(Conflict):
    code = "ticket_closed"


class NotClaimed(Conflict):
    code = "not_claimed"


async def _note_assignment(db: AsyncSession, user_id: int, now: datetime) -> None:
    """Round-robin fairness: whoever just took a chat, by any route, goes to the back."""
    profile = await db.get(AgentProfile, user_id)
    if profile is None:
        user = await db.get(User, user_id)
        assert user is not None
        db.add(AgentProfile(user_id=user_id, max_chats=default_limit(user.role), away=False,
                            last_assigned_at=now, updated_at=now))
    else:
        profile.last_assigned_at = now


async def _assign(work: Work, assignee: User | None, actor: User | None, reason: str, **details: Any) -> None:
    """Set the assignee and record it in the conversation's stream (run inside a unit)."""
    ticket = work.ticket
    previous = await work.db.get(User, ticket.assignee_id) if ticket.assignee_id is not None else None
    ticket.assignee_id = assignee.id if assignee is not None else None
    if assignee is not None:
        await _note_assignment(work.db, assignee.id, work.now)
    # Internal like every assignment (escalation.tickets): routing is the desk's business.
    await work.append("ticket.assigned", actor, internal=True, assignee=author_json(assignee),
                      previous=author_json(previous), **details)
    work.ring(reason)


async def claim(svc: Services, actor: Principal, conversation_id: int, *, take_over: bool = False) -> dict[str, Any]:
    """"I'll answer": the actor becomes the assignee. Someone else's claim is refused with
    ``already_claimed`` (naming them) unless ``take_over`` — a deliberate choice."""
    require(actor, Action.WORK_DESK)

    async def change(work: Work) -> dict[str, Any] | None:
        # The ticket's own rule too: a partner's first line holds some tickets.
        await require_on_ticket(work.db, actor, work.conv, work.ticket, Action.WORK_TICKET)
        ticket = work.ticket
        if ticket.status is TicketStatus.CLOSED:
            raise TicketClosed("this ticket is closed")
        me = await work.db.get(User, actor.user_id)
        if ticket.assignee_id != actor.user_id:
            if ticket.assignee_id is not None and not take_over:
                holder = await work.db.get(User, ticket.assignee_id)
                raise AlreadyClaimed(f"{display_name(ticket.assignee_id, holder.name if holder else None)} is already answering")
            await _assign(work, me, me, "claimed", claimed=True)
        return author_json(me)

    done = await run_unit(svc, conversation_id, change)
    assert done is not None
    return {"conversation_id": conversation_id, "assignee": done[0]}


async def release(svc: Services, actor: Principal, conversation_id: int) -> None:
    """The actor stops answering (their own claim only); the chat waits for someone else."""
    require(actor, Action.WORK_DESK)

    async def change(work: Work) -> None:
        await require_on_ticket(work.db, actor, work.conv, work.ticket, Action.WORK_TICKET)
        if work.ticket.assignee_id != actor.user_id:
            raise NotClaimed("you are not answering this conversation")
        me = await work.db.get(User, actor.user_id)
        await _assign(work, None, me, "released", released=True)

    await run_unit(svc, conversation_id, change)


async def _apply(work: Work, decision: Assignment) -> bool:
    """An automatic assignment, if the chat still waits (new, unassigned) and the agent
    may still take it; whether it was stored."""
    ticket = work.ticket
    if ticket.assignee_id is not None or ticket.status is not TicketStatus.NEW:
        return False
    assignee = await work.db.get(User, decision.assignee_id)
    if assignee is None or assignee.disabled:
        return False
    details: dict[str, Any] = {"auto": decision.reason.value}
    if decision.rule_id is not None:
        details["rule_id"] = decision.rule_id
    await _assign(work, assignee, None, "assigned", **details)
    return True


async def apply_assignments(svc: Services, decisions: Sequence[Assignment]) -> list[Assignment]:
    """Store a pass's automatic assignments where each chat still waits (new, unassigned),
    several to a transaction (:func:`escalation.batch.run_in_batches`: the desk's
    dictionaries, the locks and the commit paid once, not once per chat — a unit of its
    own costs ~11 ms of CPU on SQLite). Another process may have assigned a chat
    meanwhile: then nothing happens to it. Those stored, in the order given."""
    wanted = {d.conversation_id: d for d in decisions}

    async def change(work: Work) -> bool:
        return await _apply(work, wanted[work.conv.id])

    stored = await run_in_batches(svc, list(wanted), change, log=log, what="automatic assignment",
                                  then="the chat waits in the New queue")
    return [d for conversation_id, d in wanted.items() if stored.get(conversation_id)]

"""JSON shapes of tickets, tasks and ratings (docs/http.md, "Tickets").

Customers get the ticket without the desk's internals: no tasks, no escalation step, no
deadlines, no routing (level, group, partner) and no assignee. The admins of a reseller
whose own first line holds a ticket see it as staff do.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from chat.authz import Principal
from chat.events import author_json
from chat.models import STAFF_ROLES, Conversation, Role, User
from chat.wire import View, as_data, iso
from escalation.lifecycle import NextAction, TicketStatus
from escalation.models import Ticket, TicketRating, TicketTask

CUSTOMER_HIDDEN = frozenset({"tasks", "escalation_step", "deadlines", "level", "group", "assignee", "contact_email",
                             "handled_by", "customer_left_at", "spam_at"})


def desk_view(actor: Principal | None, ticket: Ticket) -> bool:
    """Whether ``actor`` gets the desk's view of ``ticket`` (staff, the system, and the
    admins of the partner whose queue holds it) rather than the customer's."""
    if actor is None or actor.role in STAFF_ROLES:
        return True
    return (
        actor.role is Role.RESELLER_ADMIN
        and ticket.handled_by_org_id is not None
        and ticket.handled_by_org_id == actor.organization_id
    )


def next_action(status: TicketStatus) -> str | None:
    if status in (TicketStatus.WAITING_ON_CUSTOMER, TicketStatus.PROPOSED_TO_CLOSE):
        return NextAction.CUSTOMER.value
    if status is TicketStatus.CLOSED:
        return None
    return NextAction.SUPPORT.value


class TaskView(View, frozen=True, kw_only=True):
    """An action task (FFC); ``ticket_id`` is the ticket's number (its conversation's id)."""

    id: int
    ticket_id: int
    text: str
    hours: float | None
    type: str
    due_at: str | None
    status: str
    created_by_id: int | None
    created_at: str
    updated_at: str
    assignee_id: int | None = None

    @classmethod
    def of(cls, task: TicketTask) -> TaskView:
        return cls(
            id=task.id, ticket_id=task.conversation_id, text=task.text, hours=task.hours, type=task.type.value,
            due_at=iso(task.due_at), status=task.status.value, created_by_id=task.created_by_id,
            created_at=iso(task.created_at), updated_at=iso(task.updated_at), assignee_id=task.assignee_id,
        )


class RatingView(View, frozen=True, kw_only=True):
    """The customer's rating of one resolution round."""

    value: str
    reason: str | None
    comment: str | None
    round: int
    rated_by_id: int | None
    created_at: str

    @classmethod
    def of(cls, rating: TicketRating) -> RatingView:
        return cls(value=rating.value, reason=rating.reason, comment=rating.comment, round=rating.round,
                   rated_by_id=rating.rated_by_id, created_at=iso(rating.created_at))


def ticket_summary(ticket: Ticket, *, staff: bool) -> dict[str, Any]:
    """The ticket's place in the queues, for conversation lists (docs/http.md)."""
    summary: dict[str, Any] = {
        "status": ticket.status.value,
        "label": ticket.label,
        "next_action": next_action(ticket.status),
        "tracked": ticket.tracked,
        "category": ticket.category,
        "severity": ticket.severity,
    }
    if staff:
        summary.update(
            level=ticket.level,
            group=ticket.group_key,
            assignee_id=ticket.assignee_id,
            escalation_step=ticket.escalation_step,
            sla_next_check_at=iso(ticket.sla_next_check_at),
            handled_by=ticket.handled_by_org_id,
        )
    return summary


def ticket_fields(ticket: Ticket, conv: Conversation, users: dict[int, User]) -> dict[str, Any]:
    """What a ticket's list entry and its full view both show (``users``: at least the
    requester and the assignee)."""
    return {
        "id": ticket.conversation_id,
        "subject": conv.subject,
        "status": ticket.status.value,
        "label": ticket.label,
        "next_action": next_action(ticket.status),
        "tracked": ticket.tracked,
        "channel": ticket.channel.value,
        "category": ticket.category,
        "severity": ticket.severity,
        "level": ticket.level,
        "group": ticket.group_key,
        "requester": author_json(users.get(ticket.requester_id)) if ticket.requester_id else None,
        "assignee": author_json(users.get(ticket.assignee_id)) if ticket.assignee_id else None,
        "organization_id": conv.organization_id,
        "site_id": conv.site_id,
        "deadlines": {
            target: {"due_at": d["due_at"], "warn_at": d["warn_at"], "state": d["state"]}
            for target, d in (ticket.deadlines or {}).items()
        },
        "escalation_step": ticket.escalation_step,
        "auto_close_at": iso(ticket.auto_close_at),
        "handled_by": ticket.handled_by_org_id,
        "created_at": iso(ticket.created_at),
        "updated_at": iso(ticket.updated_at),
        "closed_at": iso(ticket.closed_at),
        # Marked as spam (issue 16): in no queue until "not spam"; staff only.
        "spam_at": iso(ticket.spam_at),
    }


async def ticket_json(db: AsyncSession, ticket: Ticket, conv: Conversation, *, staff: bool) -> dict[str, Any]:
    """The full ticket (TICKET in docs/http.md) as ``staff`` or as a customer sees it."""
    user_ids = {i for i in (ticket.requester_id, ticket.assignee_id, *ticket.cc) if i is not None}
    users = {u.id: u for u in await db.scalars(select(User).where(User.id.in_(user_ids)))} if user_ids else {}
    tasks = list(await db.scalars(
        select(TicketTask).where(TicketTask.conversation_id == ticket.conversation_id).order_by(TicketTask.id)
    ))
    ratings = list(await db.scalars(
        select(TicketRating).where(TicketRating.conversation_id == ticket.conversation_id).order_by(TicketRating.round)
    ))
    body: dict[str, Any] = {
        **ticket_fields(ticket, conv, users),
        "conversation_id": ticket.conversation_id,
        "tracked_reason": ticket.tracked_reason,
        "cc": [author_json(users[i]) for i in ticket.cc if i in users],
        "assets": list(ticket.assets),
        "happened_at": iso(ticket.happened_at),
        "contact_email": ticket.contact_email,
        "sla_policy": ticket.sla_policy,
        "tasks": [as_data(TaskView.of(t)) for t in tasks],
        "ratings": [as_data(RatingView.of(r)) for r in ratings],
        "linked_from": ticket.linked_from_id,
        "linked_to": ticket.linked_to_id,
        "customer_left_at": iso(ticket.customer_left_at),
        "close_reason": ticket.close_reason,
    }
    if not staff:
        for key in CUSTOMER_HIDDEN | {"sla_policy"}:
            body.pop(key, None)
    return body

"""Where group chats meet tickets: a group message escalated into a ticket, and the
"service request" ticket that brings a direct customer's join request to platform staff.

Both go through the tickets module's own use case, ``escalation.tickets.open_ticket``.
"""

from __future__ import annotations

from typing import Any

from chat.authz import Action, Principal, require
from chat.errors import NotFound
from chat.groups.models import ChatGroup, ChatGroupJoinRequest
from chat.groups.service import visible_group
from chat.models import Event, User
from chat.services import Services
from escalation.models import TicketChannel
from escalation.tickets import TicketDraft, open_ticket

SERVICE_REQUEST_CATEGORY = "service_request"
SUBJECT_FROM_BODY = 80  # characters of the message that make a default subject


def service_request_draft(group: ChatGroup, user: User, req: ChatGroupJoinRequest) -> TicketDraft:
    """The ticket a direct customer's join request opens for platform staff (FFC: a
    "service request" naming the group and the user)."""
    who = f"{user.name} <{user.email}>" if user.email else user.name or f"user {user.id}"
    lines = [
        f'{who} asks to join the support chat group "{group.name}" (group {group.id}).',
        f"Join request #{req.id}: approve or reject it in the join requests list.",
    ]
    if req.note:
        lines.append(f"Their note: {req.note}")
    return TicketDraft(
        subject=f"Join request: {group.name} — {who}"[:300],
        description="\n".join(lines),
        channel=TicketChannel.WEB,
        category=SERVICE_REQUEST_CATEGORY,
    )


async def open_service_request(svc: Services, actor: Principal, group: ChatGroup, user: User,
                               req: ChatGroupJoinRequest) -> int:
    """Open the service request ticket as the requester; return its id."""
    ticket = await open_ticket(svc, actor, service_request_draft(group, user, req))
    return int(ticket["id"])


async def escalate_group_message(
    svc: Services,
    actor: Principal,
    group_id: int,
    *,
    seq: int,
    subject: str | None = None,
    category: str | None = None,
    severity: int | None = None,
) -> dict[str, Any]:
    """Open a ticket from one message of a group chat (staff): the message's author is the
    requester, its text the ticket's first entry, and the group's conversation gets a
    ``ticket.linked`` event pointing at the new ticket and naming the message's seq
    (``linked_seq``; written by ``open_ticket``)."""
    # Raising a ticket for someone else is staff work (the tickets module's rule).
    require(actor, Action.OPEN_TICKET_FOR_OTHERS)
    async with svc.reads() as db:
        group, _ = await visible_group(db, actor, group_id)
        event = (await db.execute(
            Event.__table__.select().where(Event.conversation_id == group.conversation_id, Event.seq == seq)
        )).first()
        if event is None or event.type != "message" or event.internal:
            raise NotFound(f"the group has no message with seq {seq}", code="message_not_found")
        author = await db.get(User, event.author_id) if event.author_id else None
    body = event.body or ""
    draft = TicketDraft(
        subject=subject or body[:SUBJECT_FROM_BODY] or f"From the group {group.name}",
        description=body,
        channel=TicketChannel.GROUP_CHAT,
        category=category,
        severity=severity,
        requester_id=author.id if author else None,
        linked_from=group.conversation_id,
        linked_seq=seq,
    )
    ticket = await open_ticket(svc, actor, draft)
    return {"ticket": ticket}

"""Who may see and do what with a ticket: builds the facts ``chat.authz`` decides on."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from chat.authz import Action, ConversationRef, Principal, TicketRef, can, require
from chat.errors import NotFound
from chat.models import Conversation, ConversationStatus, Organization, Participant
from escalation.models import Ticket


async def ticket_ref(db: AsyncSession, principal: Principal, conv: Conversation, ticket: Ticket) -> TicketRef:
    parent_id = None
    if conv.organization_id is not None:
        parent_id = await db.scalar(select(Organization.parent_id).where(Organization.id == conv.organization_id))
    participant = await db.scalar(
        select(Participant.id).where(
            Participant.conversation_id == conv.id,
            Participant.user_id == principal.user_id,
            Participant.left_at.is_(None),
        )
    )
    ref = ConversationRef(
        id=conv.id,
        organization_id=conv.organization_id,
        org_parent_id=parent_id,
        is_participant=participant is not None,
        is_open=conv.status is ConversationStatus.OPEN,
    )
    return TicketRef(ref, is_requester=ticket.requester_id == principal.user_id, is_cc=principal.user_id in ticket.cc,
                     handled_by_org_id=ticket.handled_by_org_id)


async def require_on_ticket(
    db: AsyncSession, principal: Principal, conv: Conversation, ticket: Ticket, action: Action
) -> TicketRef:
    """Raise ``not_found`` if the principal may not even see the ticket (probing ids tells
    nothing), ``forbidden`` if they see it but may not do ``action``."""
    ref = await ticket_ref(db, principal, conv, ticket)
    if not can(principal, Action.VIEW_TICKET, ref):
        raise NotFound("no such ticket", code="not_found")
    require(principal, action, ref)
    return ref

"""Who may see and do what with a ticket: builds the facts ``chat.authz`` decides on."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from chat.authz import Action, Principal, TicketRef, can, require
from chat.errors import NotFound
from chat.events import conversation_ref
from chat.models import Conversation
from escalation.models import Ticket


async def ticket_ref(db: AsyncSession, principal: Principal, conv: Conversation, ticket: Ticket) -> TicketRef:
    _, ref = await conversation_ref(db, principal, conv.id)
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

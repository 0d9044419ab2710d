"""The conversation/ticket view of the console: the customer and their company, who opened
the ticket and when, the last interaction, the support notes — next to the ticket itself
(``escalation.tickets.ticket_json``) and what the reader may do with it. The history comes
over the websocket.

A reseller admin reads here only the tickets its own first line holds, without the
platform's support notes (those are staff's shift handover)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from chat.authz import Action, ConversationRef, Principal, can
from chat.conversations import conversation_json
from chat.desk import queues
from chat.desk.models import CustomerNote, VisitorContext
from chat.desk.notes import CustomerNoteView
from chat.desk.scope import search_scope
from chat.desk.visitor_context import context_json, history
from chat.errors import NotFound
from chat.events import load_visible, read_position
from chat.groups.models import ChatGroup, ChatGroupMember, MemberState
from chat.models import Conversation, ConversationKind, Event, Organization, Site, User
from chat.people import person_json
from chat.services import Services
from escalation.access import ticket_ref
from escalation.chat_reads import plan_tier
from escalation.models import Ticket
from escalation.policy_table import PlanTier
from escalation.views import desk_view, ticket_json

# ticket.opened is among a conversation's first events; looking further is pointless.
_OPENING_EVENTS = 10


def _person(user: User | None) -> dict[str, Any] | None:
    return None if user is None else person_json(user.id, user.name, user.role.value)


async def _opened_by(db: Any, conversation_id: int, fallback: User | None) -> dict[str, Any] | None:
    """Who opened the ticket: the actor of its ``ticket.opened`` event (an agent taking a
    phone call), else whoever started the conversation."""
    rows = await db.scalars(
        select(Event).where(Event.conversation_id == conversation_id, Event.type == "system")
        .order_by(Event.seq).limit(_OPENING_EVENTS)
    )
    for event in rows:
        data = event.data or {}
        if data.get("event") == "ticket.opened" and isinstance(data.get("actor"), dict):
            return dict(data["actor"])
    return _person(fallback)


async def _name_task_assignees(db: AsyncSession, tasks: list[dict[str, Any]]) -> None:
    """Each task's ``assignee`` as a person, for the side panel to name (the tasks of
    TICKET carry only the id)."""
    ids = {task["assignee_id"] for task in tasks if task.get("assignee_id")}
    users = {u.id: u for u in await db.scalars(select(User).where(User.id.in_(ids)))} if ids else {}
    for task in tasks:
        task["assignee"] = _person(users.get(task.get("assignee_id") or 0))


async def _abilities(
    db: AsyncSession, actor: Principal, conv: Conversation, conv_ref: ConversationRef, ticket: Ticket | None
) -> dict[str, bool]:
    """What the console may offer on this conversation, as the server will decide it
    (``chat.authz``): buttons the reader cannot use are shown disabled."""
    if ticket is None:
        return {"reply": can(actor, Action.POST_MESSAGE, conv_ref), "work": False, "claim": False,
                "to_platform": False, "internal": can(actor, Action.POST_INTERNAL_NOTE, conv_ref)}
    ref = await ticket_ref(db, actor, conv, ticket)
    work = can(actor, Action.WORK_TICKET, ref)
    return {
        # A platform agent may technically write in a partner's chat; the console keeps
        # them to reading it until the partner hands it over.
        "reply": work and can(actor, Action.POST_MESSAGE, ref.conversation),
        "internal": work and can(actor, Action.POST_INTERNAL_NOTE, ref.conversation),
        "work": work,
        "claim": work and can(actor, Action.WORK_DESK),  # "I'll answer"; a partner "takes" by assignment
        "to_platform": ticket.handled_by_org_id is not None and can(actor, Action.TRANSFER_TO_PLATFORM, ref),
    }


async def _group_of(db: AsyncSession, actor: Principal, conv: Conversation) -> dict[str, Any] | None:
    """A group chat's group (its name, company, active members) and whether the reader
    may open a ticket from one of its messages; None for any other conversation."""
    if conv.kind is not ConversationKind.GROUP:
        return None
    row = (await db.execute(
        select(ChatGroup, Organization).join(Organization, Organization.id == ChatGroup.organization_id)
        .where(ChatGroup.conversation_id == conv.id)
    )).first()
    if row is None:
        return None
    group, org = row
    members = await db.scalar(select(func.count()).select_from(ChatGroupMember).where(
        ChatGroupMember.group_id == group.id, ChatGroupMember.state == MemberState.ACTIVE))
    return {
        "id": group.id, "name": group.name, "organization": {"id": org.id, "name": org.name},
        "members": int(members or 0),
        # chat.groups.ticketing.escalate_group_message's own rule.
        "can_escalate": can(actor, Action.OPEN_TICKET_FOR_OTHERS),
    }


async def conversation_detail(svc: Services, actor: Principal, conversation_id: int) -> dict[str, Any]:
    scope = search_scope(actor)
    async with svc.reads() as db:
        conv, conv_ref = await load_visible(db, actor, conversation_id)
        ticket_row = await db.get(Ticket, conv.id)
        if scope.is_partner_console and (ticket_row is None or not scope.covers(ticket_row.handled_by_org_id)):
            raise NotFound("no such conversation in your partner queue")
        read_seq = await read_position(db, actor.user_id, conv.id)
        group = await _group_of(db, actor, conv)
        # A group chat has members, not one customer (its creator is whoever set it up).
        customer_id = None if group is not None else (
            (ticket_row.requester_id if ticket_row is not None else None) or conv.created_by_id)
        customer = await db.get(User, customer_id) if customer_id is not None else None
        creator = await db.get(User, conv.created_by_id) if conv.created_by_id is not None else None
        account_creator = await db.get(User, customer.created_by_id) if customer and customer.created_by_id else None
        org_id = conv.organization_id or (customer.organization_id if customer else None)
        if org_id is None and conv.site_id is not None:
            # An anonymous visitor's company is the one whose site they came through.
            org_id = await db.scalar(select(Site.organization_id).where(Site.id == conv.site_id))
        org = await db.get(Organization, org_id) if org_id is not None else None
        org_creator = await db.get(User, org.created_by_id) if org is not None and org.created_by_id else None
        last = (await queues.last_public_messages(db, [conv.id])).get(conv.id)
        item = await queues.item(db, conv.id)
        opened_by = await _opened_by(db, conv.id, creator)
        ticket = None
        if ticket_row is not None:
            ticket = await ticket_json(db, ticket_row, conv, staff=desk_view(actor, ticket_row))
        if ticket is not None and item is not None:
            ticket["group_name"] = item["group_name"]
            ticket["partner"] = item["partner"]
        if ticket is not None:
            await _name_task_assignees(db, ticket.get("tasks", []))
        abilities = await _abilities(db, actor, conv, conv_ref, ticket_row)
        context = context_json(await db.get(VisitorContext, customer.id)) if customer is not None else None
        earlier = await history(db, customer, conv.id, scope) if customer is not None else []
        # The plan the SLA was computed with: the conversation's own company's; an anonymous
        # visitor's is basic, whatever the company whose site they came through
        # (escalation.config.policy_for), so the panel must not show that company's plan.
        sla_plan = (await plan_tier(db, conv.organization_id) or PlanTier.BASIC).value
        notes: list[CustomerNoteView] = []
        if customer is not None and can(actor, Action.VIEW_DESK):
            rows = await db.execute(
                select(CustomerNote, User).outerjoin(User, User.id == CustomerNote.author_id)
                .where(CustomerNote.customer_id == customer.id).order_by(CustomerNote.id.desc()).limit(50)
            )
            notes = [CustomerNoteView.of(n, u) for n, u in rows]
    return {
        "conversation": conversation_json(conv, read_seq, staff=actor.is_staff),
        "ticket": ticket,
        "item": item,
        "customer": None if customer is None else {
            **person_json(customer.id, customer.name, customer.role.value), "email": customer.email,
            "created_at": customer.created_at.isoformat(), "created_by": _person(account_creator),
        },
        "organization": None if org is None else {
            "id": org.id, "name": org.name, "plan_tier": org.plan_tier.value, "created_by": _person(org_creator),
            # Known only through the site the visitor came from: not their account's company.
            "via_site": conv.organization_id is None and (customer is None or customer.organization_id is None),
        },
        "sla": None if ticket_row is None else {"plan_tier": sla_plan, "policy": ticket_row.sla_policy},
        "context": context,
        "history": earlier,
        "opened_by": opened_by,
        "opened_at": (ticket_row.created_at if ticket_row is not None else conv.created_at).isoformat(),
        "last_interaction_at": (last.at if last is not None else conv.updated_at).isoformat(),
        "notes": notes,
        "can": abilities,
        "group": group,
    }

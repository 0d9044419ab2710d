"""Reading tickets for staff (and for a partner, its own queue): the filtered list, newest
activity first, paged by a cursor."""

from __future__ import annotations

import base64
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, and_, func, or_, select

from chat.authz import Action, Principal, require
from chat.errors import Forbidden, ValidationFailed
from chat.models import Conversation, Role, User
from chat.services import Services
from chat.validation import ascii_int
from chat.wire import iso
from escalation.lifecycle import TicketStatus
from escalation.models import Ticket
from escalation.views import ticket_fields

MAX_PAGE = 200


@dataclass(frozen=True)
class TicketFilter:
    statuses: tuple[TicketStatus, ...] = ()  # empty: any
    open_only: bool = False
    level: int | None = None
    group: str | None = None  # a key, or "none" for the first-line queue
    assignee: int | str | None = None  # a user id, "me" or "none"
    tracked: bool | None = None
    category: str | None = None
    q: str | None = None
    # Partner first line: "platform" (what no partner holds), "partner" (every partner's
    # queue), "any", or a reseller's organization id (its own queue). None: "platform" for
    # staff, its own queue for a reseller admin.
    handled_by: str | int | None = None


def parse_statuses(raw: str) -> tuple[tuple[TicketStatus, ...], bool]:
    """``"open"`` (anything not closed) or a comma list of statuses."""
    if raw == "open":
        return (), True
    try:
        return tuple(TicketStatus(part.strip()) for part in raw.split(",") if part.strip()), False
    except ValueError:
        known = ", ".join(s.value for s in TicketStatus)
        raise ValidationFailed(f"status must be 'open' or a comma list of {known}") from None


def _encode(at: datetime, ticket_id: int) -> str:
    return base64.urlsafe_b64encode(f"{at.isoformat()}|{ticket_id}".encode()).decode().rstrip("=")


def _decode(cursor: str) -> tuple[datetime, int]:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        at, _, ticket_id = raw.partition("|")
        number = ascii_int(ticket_id)
        if number is None:
            raise ValueError(ticket_id)
        return datetime.fromisoformat(at), number
    except (ValueError, UnicodeDecodeError):
        raise ValidationFailed("cursor is not one this server gave out") from None


def parse_handled_by(raw: str | None) -> str | int | None:
    if raw is None:
        return None
    if raw in ("platform", "partner", "any"):
        return raw
    number = ascii_int(raw)
    if number is not None and number >= 1:
        return number
    raise ValidationFailed("handled_by must be 'platform', 'partner', 'any' or a reseller's organization id")


def _handled_by(actor: Principal, handled_by: str | int | None) -> ColumnElement[bool] | None:
    """The queue filter; a reseller admin sees its own partner queue and nothing else."""
    if actor.role is Role.RESELLER_ADMIN:
        if handled_by not in (None, actor.organization_id):
            raise Forbidden("a reseller admin lists its own partner queue only")
        return Ticket.handled_by_org_id == actor.organization_id
    if handled_by is None or handled_by == "platform":
        return Ticket.handled_by_org_id.is_(None)
    if handled_by == "partner":
        return Ticket.handled_by_org_id.is_not(None)
    if handled_by == "any":
        return None
    return Ticket.handled_by_org_id == handled_by


def _item(ticket: Ticket, conv: Conversation, users: dict[int, User]) -> dict[str, Any]:
    return {**ticket_fields(ticket, conv, users), "last_activity_at": iso(conv.updated_at)}


async def list_tickets(
    svc: Services, actor: Principal, filters: TicketFilter, *, cursor: str | None = None, limit: int = 50
) -> tuple[list[dict[str, Any]], str | None]:
    """Tickets matching ``filters``, the conversation with the latest activity first; and
    the cursor of the next page (``None`` on the last)."""
    require(actor, Action.LIST_TICKETS)
    limit = max(1, min(limit, MAX_PAGE))
    query = select(Ticket, Conversation).join(Conversation, Conversation.id == Ticket.conversation_id)
    queue = _handled_by(actor, filters.handled_by)
    if queue is not None:
        query = query.where(queue)
    if filters.statuses:
        query = query.where(Ticket.status.in_(filters.statuses))
    if filters.open_only:
        query = query.where(Ticket.status != TicketStatus.CLOSED)
    if filters.level is not None:
        query = query.where(Ticket.level == filters.level)
    if filters.group is not None:
        query = query.where(Ticket.group_key.is_(None) if filters.group == "none" else Ticket.group_key == filters.group)
    if filters.assignee is not None:
        if filters.assignee == "none":
            query = query.where(Ticket.assignee_id.is_(None))
        else:
            who = actor.user_id if filters.assignee == "me" else ascii_int(str(filters.assignee))
            query = query.where(Ticket.assignee_id == who)
    if filters.tracked is not None:
        query = query.where(Ticket.tracked.is_(filters.tracked))
    if filters.category is not None:
        query = query.where(Ticket.category == filters.category)
    if filters.q:
        text = filters.q.strip().lower()
        pattern = "%" + text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        match = func.lower(Conversation.subject).like(pattern, escape="\\")
        number = ascii_int(text)
        query = query.where(or_(match, Ticket.conversation_id == number) if number is not None else match)
    if cursor is not None:
        at, last_id = _decode(cursor)
        query = query.where(or_(Conversation.updated_at < at,
                                and_(Conversation.updated_at == at, Conversation.id < last_id)))
    query = query.order_by(Conversation.updated_at.desc(), Conversation.id.desc()).limit(limit + 1)
    async with svc.reads() as db:
        rows = (await db.execute(query)).all()
        page = rows[:limit]
        ids = {i for t, _ in page for i in (t.requester_id, t.assignee_id) if i is not None}
        users = {u.id: u for u in await db.scalars(select(User).where(User.id.in_(ids)))} if ids else {}
    items = [_item(t, c, users) for t, c in page]
    next_cursor = _encode(page[-1][1].updated_at, page[-1][1].id) if len(rows) > limit else None
    return items, next_cursor

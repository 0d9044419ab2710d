"""The console's queues: a view over tickets, computed on read (nothing stored).

PSD's service desk: **New** (no support reply yet), **First level — reply needed** (the
conversation is under way and the customer is waiting for support), then the transfer
groups (Second level, Marketing, Vendor, Incidents — the ``support_groups`` table, so an
admin may change them). Resolved (proposed to close) and closed tickets are not in any
working queue; they are found by search. Tickets waiting on the customer are in **Waiting
on the customer**, shown after the working queues. Tickets a partner's own first line
holds (``handled_by_org_id``) are the partner's until handed over: in no platform queue
but in that partner's (``partner:<id>``), which its admins work in their console and
support admins oversee (:mod:`chat.desk.scope`).
Tickets marked as spam (``spam_at``, issue 16) are in no queue at all, whatever their
status: they are listed by :func:`spam_tickets` for the Spam view until "not spam".

``queue_of`` is the whole rule, pure; the rest loads the facts it needs.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, and_, func, or_, select, true
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from chat.authz import Principal
from chat.desk.scope import PARTNER_PREFIX, DeskScope, desk_scope, partner_queue_key, search_scope
from chat.errors import NotFound, ValidationFailed
from chat.models import STAFF_ROLES, Conversation, Event, Organization, Role, Site, User
from chat.people import person_json
from chat.services import Services
from chat.ui_prefs import VIEWS
from chat.validation import ascii_int
from escalation.lifecycle import TicketStatus
from escalation.models import SupportGroup, Ticket

NEW = "new"
FIRST_LINE = "first_line"
WAITING = "waiting"
GROUP_PREFIX = "group:"
LEVEL_PREFIX = "level:"

# Items sent per queue; counts are always complete. A console shows the oldest waiting
# first, and nobody works through more than this without the list moving under them.
ITEMS_PER_QUEUE = 100
SEARCH_MAX = 50

_OUT_OF_QUEUES = (TicketStatus.PROPOSED_TO_CLOSE, TicketStatus.CLOSED)
_CUSTOMER_TURN = (TicketStatus.WAITING_ON_CUSTOMER,)


def queue_of(status: TicketStatus, level: int, group_key: str | None) -> str | None:
    """The queue a ticket belongs in, or None when it is resolved or closed.

    Only the ticket's own fields decide, so a queue changes exactly when the ticket does —
    and every ticket change rings the staff inbox. Whether the customer spoke last is shown
    on the item (``customer_waiting``), not used to move it: that would need a doorbell
    on every message.
    """
    if status in _OUT_OF_QUEUES:
        return None
    if group_key is not None:
        return GROUP_PREFIX + group_key
    if level > 1:
        return LEVEL_PREFIX + str(level)
    if status is TicketStatus.NEW:
        return NEW
    if status in _CUSTOMER_TURN:
        return WAITING
    return FIRST_LINE


@dataclass(frozen=True)
class Queue:
    key: str
    name: str
    kind: str  # "working" or "waiting"
    # A partner's queue: the partner's name, which consoles put into their own words.
    partner: str | None = None


def queues(groups: Sequence[SupportGroup], extra_keys: Iterable[str] = ()) -> list[Queue]:
    """Every queue in display order. ``extra_keys``: level queues that hold tickets without
    a group (a transfer to a level that has no group of its own)."""
    found = [Queue(NEW, "New", "working"), Queue(FIRST_LINE, "First level — reply needed", "working")]
    found += [Queue(GROUP_PREFIX + g.key, g.name, "working") for g in groups]
    for key in sorted(set(extra_keys)):
        if key.startswith(LEVEL_PREFIX):
            found.append(Queue(key, f"Level {key[len(LEVEL_PREFIX):]} (no group)", "working"))
    found.append(Queue(WAITING, "Waiting on the customer", "waiting"))
    return found


def _person(user: User | None) -> dict[str, Any] | None:
    if user is None:
        return None
    return person_json(user.id, user.name, user.role.value)


def current_sla(deadlines: dict[str, Any] | None) -> dict[str, Any] | None:
    """The deadline to show in a queue row: the earliest one still ticking or already
    missed; met, paused and stopped ones don't count down."""
    best: dict[str, Any] | None = None
    for target, deadline in (deadlines or {}).items():
        if not isinstance(deadline, dict) or not deadline.get("due_at"):
            continue
        if deadline.get("state") not in ("running", "breached") or deadline.get("met_at"):
            continue
        if best is None or deadline["due_at"] < best["due_at"]:
            best = {"target": target, "due_at": deadline["due_at"], "warn_at": deadline.get("warn_at"),
                    "state": deadline.get("state")}
    return best


@dataclass(frozen=True)
class LastMessage:
    author_is_staff: bool
    at: datetime
    author_role: Role | None = None
    author_org_id: int | None = None

    def by_support(self, handled_by_org_id: int | None) -> bool:
        """Support wrote it: staff, or an admin of the partner whose own queue holds the
        ticket (their answer is support's answer)."""
        return self.author_is_staff or (
            handled_by_org_id is not None and self.author_role is Role.RESELLER_ADMIN
            and self.author_org_id == handled_by_org_id
        )


async def last_public_messages(db: AsyncSession, conversation_ids: Sequence[int]) -> dict[int, LastMessage]:
    """The last public message of each conversation: who wrote it (staff or not), when."""
    if not conversation_ids:
        return {}
    latest = (
        select(Event.conversation_id, func.max(Event.seq).label("seq"))
        .where(Event.conversation_id.in_(list(conversation_ids)), Event.type == "message", Event.internal.is_(False))
        .group_by(Event.conversation_id)
        .subquery()
    )
    rows = await db.execute(
        select(Event.conversation_id, User.role, User.organization_id, Event.created_at)
        .join(latest, and_(latest.c.conversation_id == Event.conversation_id, latest.c.seq == Event.seq))
        .outerjoin(User, User.id == Event.author_id)
    )
    return {cid: LastMessage(role in STAFF_ROLES, at, role, org_id) for cid, role, org_id, at in rows}


Requester = aliased(User)
Assignee = aliased(User)
Creator = aliased(User)
SiteOrg = aliased(Organization)
PartnerOrg = aliased(Organization)


def _ticket_query() -> Any:
    # An anonymous visitor belongs to no organization: their company is the one whose
    # site they came through.
    return (
        select(Ticket, Conversation, Requester, Creator, Organization, Assignee, SiteOrg, PartnerOrg)
        .join(Conversation, Conversation.id == Ticket.conversation_id)
        .outerjoin(Requester, Requester.id == Ticket.requester_id)
        .outerjoin(Creator, Creator.id == Conversation.created_by_id)
        .outerjoin(Organization, Organization.id == Conversation.organization_id)
        .outerjoin(Assignee, Assignee.id == Ticket.assignee_id)
        .outerjoin(Site, Site.id == Conversation.site_id)
        .outerjoin(SiteOrg, SiteOrg.id == Site.organization_id)
        .outerjoin(PartnerOrg, PartnerOrg.id == Ticket.handled_by_org_id)
    )


def _item(row: Any, last: LastMessage | None, group_names: dict[str, str]) -> dict[str, Any]:
    ticket, conv, requester, creator, own_org, assignee, site_org, partner = row
    org = own_org or site_org
    queue = None if ticket.spam_at is not None else queue_of(ticket.status, ticket.level, ticket.group_key)
    if queue is not None and ticket.handled_by_org_id is not None:
        # A partner's own first line holds it: its queue, not the platform's, until handed over.
        queue = partner_queue_key(ticket.handled_by_org_id)
    customer = requester or creator
    # How long the customer has waited for support: since their last message when it is
    # their turn to be answered, else since the ticket began.
    customer_waiting = last is not None and not last.by_support(ticket.handled_by_org_id)
    waiting_since = last.at if last is not None and customer_waiting else ticket.created_at
    return {
        "conversation_id": ticket.conversation_id,
        "subject": conv.subject,
        "status": ticket.status.value,
        "label": ticket.label,
        "conversation_status": conv.status.value,
        "queue": queue,
        "level": ticket.level,
        "group": ticket.group_key,
        "group_name": group_names.get(ticket.group_key or ""),
        "category": ticket.category,
        "severity": ticket.severity,
        "channel": ticket.channel.value,
        "tracked": ticket.tracked,
        "handled_by_org_id": ticket.handled_by_org_id,
        "partner": None if partner is None else {"id": partner.id, "name": partner.name},
        "customer": _person(customer) if customer else (
            {"id": None, "name": ticket.contact_name or ticket.contact_email or "", "role": Role.VISITOR.value}
            if ticket.contact_email or ticket.contact_name else None),
        "organization": None if org is None else {"id": org.id, "name": org.name, "plan_tier": org.plan_tier.value},
        "assignee": _person(assignee),
        "created_at": ticket.created_at.isoformat(),
        "waiting_since": waiting_since.isoformat(),
        "customer_waiting": customer_waiting,
        # The customer's last socket left the live chat (null while one is connected).
        "customer_left_at": None if ticket.customer_left_at is None else ticket.customer_left_at.isoformat(),
        "last_activity_at": conv.updated_at.isoformat(),
        "sla": current_sla(ticket.deadlines),
        "spam_at": None if ticket.spam_at is None else ticket.spam_at.isoformat(),
    }


async def _group_names(db: AsyncSession) -> tuple[list[SupportGroup], dict[str, str]]:
    groups = list(await db.scalars(select(SupportGroup).order_by(SupportGroup.position, SupportGroup.key)))
    return groups, {g.key: g.name for g in groups}


async def _items(db: AsyncSession, query: Any, group_names: dict[str, str]) -> list[dict[str, Any]]:
    rows = (await db.execute(query)).all()
    last = await last_public_messages(db, [r[0].conversation_id for r in rows])
    return [_item(r, last.get(r[0].conversation_id), group_names) for r in rows]


def _by_waiting(item: dict[str, Any]) -> tuple[str, int]:
    return item["waiting_since"], item["conversation_id"]


async def _partner_queues(db: AsyncSession, scope: DeskScope, ids: Iterable[int]) -> list[Queue]:
    """A queue per partner holding open tickets in scope (a partner's own console: its
    own, even when empty), by partner name."""
    wanted = set(ids) | ({scope.partner_id} if scope.partner_id is not None else set())
    if not scope.partners or not wanted:
        return []
    rows = await db.execute(select(Organization.id, Organization.name).where(Organization.id.in_(wanted)))
    return [Queue(partner_queue_key(oid), f"Partner queue — {name}", "working", name)
            for oid, name in sorted(rows, key=lambda r: (r[1], r[0]))]


def _partner_ids(keys: Iterable[str]) -> list[int]:
    return [int(k[len(PARTNER_PREFIX):]) for k in keys if k.startswith(PARTNER_PREFIX)]


async def _listed(db: AsyncSession, scope: DeskScope, groups: Sequence[SupportGroup], keys: Iterable[str]) -> list[Queue]:
    keys = list(keys)
    platform = queues(groups, keys) if scope.platform else []
    return platform + await _partner_queues(db, scope, _partner_ids(keys))


PLATFORM_SCOPE = DeskScope(platform=True, partners=False)


def view_filter(view: str | None, user_id: int) -> ColumnElement[bool]:
    """The inbox view (docs/console.md, "Views"): ``mine`` the tickets ``user_id`` answers
    (claimed or assigned: both are the assignee), ``unassigned`` nobody's, ``all`` (the
    default) everything in scope. Applied to the items and the counts alike, so a count
    is always the number of items the view would list."""
    if view in (None, "", "all"):
        return true()
    if view == "mine":
        return Ticket.assignee_id == user_id
    if view == "unassigned":
        return Ticket.assignee_id.is_(None)
    raise ValidationFailed(f"view must be one of {', '.join(VIEWS)}")


async def board(db: AsyncSession, scope: DeskScope = PLATFORM_SCOPE,
                view: ColumnElement[bool] | None = None) -> list[dict[str, Any]]:
    """Every queue in scope with its count and its items, oldest waiting first; ``view``
    (:func:`view_filter`) narrows the items and counts, never the list of queues."""
    groups, names = await _group_names(db)
    items = await _items(db, _ticket_query().where(Ticket.status.not_in(_OUT_OF_QUEUES), Ticket.spam_at.is_(None),
                                                   scope.where(), true() if view is None else view), names)
    listed = await _listed(db, scope, groups, (i["queue"] for i in items if i["queue"]))
    by_queue: dict[str, list[dict[str, Any]]] = {q.key: [] for q in listed}
    for item in items:
        if item["queue"] in by_queue:
            by_queue[item["queue"]].append(item)
    return [
        {"key": q.key, "name": q.name, "kind": q.kind, "partner": q.partner, "count": len(by_queue[q.key]),
         "items": sorted(by_queue[q.key], key=_by_waiting)[:ITEMS_PER_QUEUE]}
        for q in listed
    ]


async def counts(db: AsyncSession, scope: DeskScope = PLATFORM_SCOPE,
                 view: ColumnElement[bool] | None = None) -> dict[str, int]:
    """Every queue's count from one grouped query (what a console re-reads per doorbell)."""
    groups, _ = await _group_names(db)
    rows = await db.execute(
        select(Ticket.status, Ticket.level, Ticket.group_key, Ticket.handled_by_org_id, func.count())
        .where(Ticket.status.not_in(_OUT_OF_QUEUES), Ticket.spam_at.is_(None), scope.where(),
               true() if view is None else view)
        .group_by(Ticket.status, Ticket.level, Ticket.group_key, Ticket.handled_by_org_id)
    )
    found: dict[str, int] = {}
    for status, level, group_key, partner, n in rows:
        key = queue_of(status, level, group_key)
        if key is not None and partner is not None:
            key = partner_queue_key(partner)
        if key is not None:
            found[key] = found.get(key, 0) + int(n)
    return {q.key: found.get(q.key, 0) for q in await _listed(db, scope, groups, found)}


async def spam_tickets(db: AsyncSession, scope: DeskScope, limit: int = ITEMS_PER_QUEUE) -> list[dict[str, Any]]:
    """Tickets marked as spam in ``scope``, most recently marked first (the Spam view)."""
    _, names = await _group_names(db)
    query = (_ticket_query().where(Ticket.spam_at.is_not(None), scope.where())
             .order_by(Ticket.spam_at.desc(), Ticket.conversation_id.desc()).limit(limit))
    return await _items(db, query, names)


async def item(db: AsyncSession, conversation_id: int) -> dict[str, Any] | None:
    _, names = await _group_names(db)
    found = await _items(db, _ticket_query().where(Ticket.conversation_id == conversation_id), names)
    return found[0] if found else None


async def search(db: AsyncSession, q: str, *, status: TicketStatus | None = None,
                 scope: DeskScope | None = None) -> list[dict[str, Any]]:
    """Tickets in any status (resolved and closed too) by number, subject or customer,
    most recently active first."""
    _, names = await _group_names(db)
    query = _ticket_query().order_by(Conversation.updated_at.desc(), Ticket.conversation_id.desc()).limit(SEARCH_MAX)
    if scope is not None:
        query = query.where(scope.where())
    text = q.strip().lstrip("#")
    if text:
        needle = f"%{text.lower()}%"
        matches: list[ColumnElement[bool]] = [
            func.lower(Conversation.subject).like(needle),
            func.lower(func.coalesce(Requester.name, "")).like(needle),
            func.lower(func.coalesce(Requester.email, "")).like(needle),
            func.lower(func.coalesce(Creator.name, "")).like(needle),
            func.lower(func.coalesce(Ticket.contact_email, "")).like(needle),
            func.lower(func.coalesce(Organization.name, SiteOrg.name, "")).like(needle),
        ]
        number = ascii_int(text)
        if number is not None:
            matches.append(Ticket.conversation_id == number)
        query = query.where(or_(*matches))
    if status is not None:
        query = query.where(Ticket.status == status)
    return await _items(db, query, names)


# -- use cases -----------------------------------------------------------------------------


async def inbox(svc: Services, actor: Principal, handled_by: str | None = None,
                view: str | None = None) -> dict[str, Any]:
    scope = desk_scope(actor, handled_by)
    narrow = view_filter(view, actor.user_id)
    async with svc.reads() as db:
        return {"queues": await board(db, scope, narrow), "server_time": svc.clock.now().isoformat()}


async def queue_counts(svc: Services, actor: Principal, handled_by: str | None = None,
                       view: str | None = None) -> dict[str, Any]:
    scope = desk_scope(actor, handled_by)
    narrow = view_filter(view, actor.user_id)
    async with svc.reads() as db:
        return {"counts": await counts(db, scope, narrow), "server_time": svc.clock.now().isoformat()}


async def queue_item(svc: Services, actor: Principal, conversation_id: int) -> dict[str, Any]:
    """One item as the queues show it (``queue`` null once resolved or closed). A
    partner's console reads only its own queue's items: the rest are 404."""
    scope = search_scope(actor)
    async with svc.reads() as db:
        found = await item(db, conversation_id)
    if found is None or not scope.covers(found["handled_by_org_id"]):
        raise NotFound("no such ticket")
    return found


async def search_tickets(svc: Services, actor: Principal, q: str, status: str | None = None) -> list[dict[str, Any]]:
    scope = search_scope(actor)
    try:
        wanted = TicketStatus(status) if status else None
    except ValueError:
        raise ValidationFailed(f"status must be one of {', '.join(s.value for s in TicketStatus)}") from None
    async with svc.reads() as db:
        return await search(db, q, status=wanted, scope=scope)

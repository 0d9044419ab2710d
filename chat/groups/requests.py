"""Join requests: a customer asks to join a group of their own company; the admins of the
company's reseller — or, for a direct customer, platform staff — approve or reject it.

Each use case is one transaction; the requester and the deciders are told after the
commit (``join_request`` and ``membership`` frames on their user channels, or the staff
channel for platform decisions).
"""

from __future__ import annotations

import logging
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from chat import validation
from chat.authz import Action, Principal, can, require
from chat.directory import user_channel
from chat.errors import Conflict, NotFound, ValidationFailed
from chat.events import STAFF_CHANNEL, author_json, publish_events
from chat.groups.models import ChatGroup, ChatGroupJoinRequest, RequestRoute, RequestStatus
from chat.groups.service import admit, find_group_for, group_ref, membership_frame
from chat.groups.ticketing import open_service_request
from chat.mail.kinds import MailKind
from chat.mail.queue import queue_mail
from chat.models import Organization, Role, User
from chat.services import Services
from chat.wire import View, iso

log = logging.getLogger(__name__)

MAX_NOTE = 1000
MAX_REASON = 1000
LIST_MAX = 200


class RequestNotFound(NotFound):
    code = "request_not_found"


class RequestGroupView(View, frozen=True, kw_only=True):
    id: int
    name: str
    organization_id: int


class RequestUserView(View, frozen=True, kw_only=True):
    id: int
    name: str
    email: str | None


class JoinRequestView(View, frozen=True, kw_only=True):
    """A join request; ``ticket_id``: the service request opened for platform staff."""

    id: int
    group: RequestGroupView
    user: RequestUserView
    status: str
    route: str
    reseller_id: int | None
    note: str
    reason: str | None
    decided_by: dict[str, Any] | None  # chat.events.author_json
    decided_at: str | None
    ticket_id: int | None
    created_at: str

    @classmethod
    def of(cls, req: ChatGroupJoinRequest, group: ChatGroup, user: User, decider: User | None) -> JoinRequestView:
        return cls(
            id=req.id,
            group=RequestGroupView(id=group.id, name=group.name, organization_id=group.organization_id),
            user=RequestUserView(id=user.id, name=user.name, email=user.email),
            status=req.status.value, route=req.route.value, reseller_id=req.reseller_id, note=req.note,
            reason=req.reason, decided_by=author_json(decider), decided_at=iso(req.decided_at),
            ticket_id=req.ticket_conversation_id, created_at=iso(req.created_at),
        )


async def _deciders_channels(db: AsyncSession, req: ChatGroupJoinRequest) -> list[str]:
    """Where the people who decide this request listen."""
    if req.route is RequestRoute.PLATFORM or req.reseller_id is None:
        return [STAFF_CHANNEL]
    admins = await db.scalars(
        select(User.id).where(
            User.role == Role.RESELLER_ADMIN, User.organization_id == req.reseller_id, User.disabled.is_(False)
        )
    )
    return [user_channel(uid) for uid in admins]


async def _notify(svc: Services, channels: list[str], body: JoinRequestView) -> None:
    frame = {"type": "join_request", "request": body}
    for channel in channels:
        await svc.publish(channel, frame)


async def request_join(svc: Services, actor: Principal, *, group: int | str, note: str = "") -> JoinRequestView:
    """Ask to join ``group`` (an id, or a name within the actor's company)."""
    clean_note = validation.text(note, "note", max_length=MAX_NOTE, required=False)
    now = svc.clock.now()
    async with svc.sessions.begin() as db:
        found, ref = await find_group_for(db, actor, group)
        if ref.is_member:
            raise Conflict("you are already a member of this group", code="already_member")
        require(actor, Action.REQUEST_GROUP_JOIN, ref)
        pending = await db.scalar(
            select(ChatGroupJoinRequest.id).where(
                ChatGroupJoinRequest.group_id == found.id,
                ChatGroupJoinRequest.user_id == actor.user_id,
                ChatGroupJoinRequest.status == RequestStatus.PENDING,
            )
        )
        if pending is not None:
            raise Conflict(f"your request #{pending} to join this group is still pending", code="request_pending")
        req = ChatGroupJoinRequest(
            group_id=found.id,
            user_id=actor.user_id,
            status=RequestStatus.PENDING,
            route=RequestRoute.RESELLER if ref.org_parent_id is not None else RequestRoute.PLATFORM,
            reseller_id=ref.org_parent_id,
            note=clean_note,
            pending_key=f"{found.id}:{actor.user_id}",
            created_at=now,
        )
        db.add(req)
        try:
            await db.flush()
        except IntegrityError:
            # The same request raced in on another connection and won.
            raise Conflict("your request to join this group is already pending", code="request_pending") from None
        user = await db.get(User, actor.user_id)
        assert user is not None
        channels = await _deciders_channels(db, req)
    if req.route is RequestRoute.PLATFORM:
        ticket_id = await _open_service_request(svc, actor, found, user, req)
        if ticket_id is not None:
            async with svc.sessions.begin() as db:
                await db.execute(
                    update(ChatGroupJoinRequest)
                    .where(ChatGroupJoinRequest.id == req.id)
                    .values(ticket_conversation_id=ticket_id)
                )
            req.ticket_conversation_id = ticket_id
    body = JoinRequestView.of(req, found, user, None)
    await _notify(svc, [user_channel(actor.user_id), *channels], body)
    return body


async def _open_service_request(
    svc: Services, actor: Principal, group: ChatGroup, user: User, req: ChatGroupJoinRequest
) -> int | None:
    """A direct customer's request reaches platform staff as a "service request" ticket
    naming the group and the user (FFC).

    Its own transaction, after the request's: if it fails, that is logged and the request
    still waits in the staff's list of join requests (and rang the staff channel)."""
    try:
        return await open_service_request(svc, actor, group, user, req)
    except Exception:
        log.exception("could not open the service request ticket for join request %s", req.id)
        return None


async def decide(
    svc: Services, actor: Principal, request_id: int, *, approve: bool, reason: str | None = None
) -> JoinRequestView:
    """Approve or reject a pending request. Approval makes the user a member at once: the
    group's conversation gets ``member.joined`` and the user's sockets a ``membership``
    frame, after which they may join the room."""
    clean_reason = validation.text(reason or "", "reason", max_length=MAX_REASON, required=False) or None
    if not approve and clean_reason is None:
        raise ValidationFailed("reason: say why the request is rejected; the user is told")
    now = svc.clock.now()
    async with svc.sessions.begin() as db:
        req = await db.get(ChatGroupJoinRequest, request_id)
        if req is None:
            raise RequestNotFound("no such join request")
        group = await db.get(ChatGroup, req.group_id)
        assert group is not None
        ref = await group_ref(db, actor, group)
        # Another reseller's request looks exactly like a missing one.
        if not can(actor, Action.VIEW_GROUP_REQUESTS, ref) and req.user_id != actor.user_id:
            raise RequestNotFound("no such join request")
        require(actor, Action.DECIDE_GROUP_JOIN, ref)
        # Conditional: of two deciders racing, exactly one changes the row.
        decided = await db.execute(
            update(ChatGroupJoinRequest)
            .where(ChatGroupJoinRequest.id == req.id, ChatGroupJoinRequest.status == RequestStatus.PENDING)
            .values(
                status=RequestStatus.APPROVED if approve else RequestStatus.REJECTED,
                decided_by_id=actor.user_id,
                decided_at=now,
                reason=clean_reason,
                pending_key=None,
            )
            .execution_options(synchronize_session=False)
        )
        if decided.rowcount != 1:  # type: ignore[attr-defined]
            await db.refresh(req)
            raise Conflict(f"this request was already {req.status.value}", code="already_decided")
        await db.refresh(req)
        user = await db.get(User, req.user_id)
        decider = await db.get(User, actor.user_id)
        assert user is not None
        events = []
        if approve:
            _, joined = await admit(db, group, user, by=decider, now=now)
            if joined is not None:
                events.append(joined)
        body = JoinRequestView.of(req, group, user, decider)
        channels = await _deciders_channels(db, req)
        await queue_mail(db, svc, key=f"join:{req.id}:u{user.id}", kind=MailKind.JOIN_DECIDED, user=user,
                         context={"group": group.name, "approved": approve, "reason": clean_reason}, now=now)
    await publish_events(svc, events)
    await _notify(svc, [user_channel(user.id), *channels], body)
    if approve:
        await svc.publish(user_channel(user.id), membership_frame(group, user.id, "member"))
    return body


async def list_requests(
    svc: Services,
    actor: Principal,
    *,
    status: RequestStatus | None = None,
    group_id: int | None = None,
    mine: bool = False,
    limit: int = 100,
    before_id: int | None = None,
) -> list[JoinRequestView]:
    """Newest first: the actor's own requests, and — for deciders and staff — the ones
    they may see (a reseller admin: its customers'; staff: all)."""
    limit = max(1, min(limit, LIST_MAX))
    async with svc.reads() as db:
        query = (
            select(ChatGroupJoinRequest, ChatGroup, User, Organization.parent_id)
            .join(ChatGroup, ChatGroup.id == ChatGroupJoinRequest.group_id)
            .join(User, User.id == ChatGroupJoinRequest.user_id)
            .join(Organization, Organization.id == ChatGroup.organization_id)
            .order_by(ChatGroupJoinRequest.id.desc())
            .limit(limit)
        )
        own = ChatGroupJoinRequest.user_id == actor.user_id
        if mine:
            query = query.where(own)
        elif actor.role is Role.RESELLER_ADMIN and actor.organization_id is not None:
            query = query.where(own | (Organization.parent_id == actor.organization_id))
        elif not actor.is_staff:
            query = query.where(own)
        if status is not None:
            query = query.where(ChatGroupJoinRequest.status == status)
        if group_id is not None:
            query = query.where(ChatGroupJoinRequest.group_id == group_id)
        if before_id is not None:
            query = query.where(ChatGroupJoinRequest.id < before_id)
        rows = (await db.execute(query)).all()
        decider_ids = {r.decided_by_id for r, *_ in rows if r.decided_by_id is not None}
        deciders = {u.id: u for u in await db.scalars(select(User).where(User.id.in_(decider_ids)))} if decider_ids else {}
        return [
            JoinRequestView.of(r, g, u, deciders.get(r.decided_by_id) if r.decided_by_id else None)
            for r, g, u, _ in rows
        ]

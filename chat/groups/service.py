"""Use cases for support chat groups: create and change a group, list groups, remove a
member, and the history floor that hides what came before a member joined.

A group is a conversation of kind ``group``. The conversation's ``participants`` row is
what lets a member read and post (the same rules as any chat, in :mod:`chat.authz`); the
``chat_group_members`` row keeps the group's side of it. Both change in one transaction,
and only after the commit are the conversation and the member's sockets told.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from chat import validation
from chat.authz import Action, GroupRef, Principal, can, require
from chat.directory import user_channel, visible_organization
from chat.errors import Conflict, NotFound, ValidationFailed
from chat.events import EventKind, append_event, author_json, event_json, publish_events
from chat.groups.models import (
    ChatGroup,
    ChatGroupJoinRequest,
    ChatGroupMember,
    HistoryVisibility,
    MemberState,
    RequestStatus,
)
from chat.models import Conversation, ConversationKind, ConversationStatus, Organization, OrgKind, Participant, User
from chat.services import Services
from chat.wire import View, iso

MAX_GROUP_NAME = 100
MAX_REASON = 500


class GroupNotFound(NotFound):
    code = "group_not_found"


# -- loading and refs ------------------------------------------------------------------


async def org_parent(db: AsyncSession, organization_id: int) -> int | None:
    parent: int | None = await db.scalar(select(Organization.parent_id).where(Organization.id == organization_id))
    return parent


async def active_member(db: AsyncSession, group_id: int, user_id: int) -> ChatGroupMember | None:
    member: ChatGroupMember | None = await db.scalar(
        select(ChatGroupMember).where(
            ChatGroupMember.group_id == group_id,
            ChatGroupMember.user_id == user_id,
            ChatGroupMember.state == MemberState.ACTIVE,
        )
    )
    return member


async def group_ref(db: AsyncSession, principal: Principal, group: ChatGroup) -> GroupRef:
    return GroupRef(
        id=group.id,
        organization_id=group.organization_id,
        org_parent_id=await org_parent(db, group.organization_id),
        is_member=await active_member(db, group.id, principal.user_id) is not None,
    )


async def visible_group(db: AsyncSession, principal: Principal, group_id: int) -> tuple[ChatGroup, GroupRef]:
    """The group if the principal may know of it; ``group_not_found`` otherwise (another
    company's group looks exactly like a missing one)."""
    group = await db.get(ChatGroup, group_id)
    if group is None:
        raise GroupNotFound("no such group")
    ref = await group_ref(db, principal, group)
    if not can(principal, Action.VIEW_GROUP, ref):
        raise GroupNotFound("no such group")
    return group, ref


async def find_group_for(db: AsyncSession, principal: Principal, group: int | str) -> tuple[ChatGroup, GroupRef]:
    """A group by id, or by name within the principal's own company."""
    if isinstance(group, int):
        return await visible_group(db, principal, group)
    name = group.strip()
    found = None
    if principal.organization_id is not None and name:
        found = await db.scalar(
            select(ChatGroup).where(ChatGroup.organization_id == principal.organization_id, ChatGroup.name == name)
        )
    if found is None:
        raise GroupNotFound(f"your company has no group named {name!r}")
    return await visible_group(db, principal, found.id)


# -- the history floor -----------------------------------------------------------------


# -- JSON ------------------------------------------------------------------------------


class ChatGroupView(View, frozen=True, kw_only=True):
    """A group; ``membership``: the reader's own standing in it (:func:`memberships_of`)."""

    id: int
    organization_id: int
    name: str
    history: str
    conversation_id: int
    created_at: str
    membership: str | None

    @classmethod
    def of(cls, group: ChatGroup, membership: str | None = None) -> ChatGroupView:
        return cls(
            id=group.id, organization_id=group.organization_id, name=group.name, history=group.history.value,
            conversation_id=group.conversation_id, created_at=iso(group.created_at), membership=membership,
        )


class MemberUserView(View, frozen=True, kw_only=True):
    id: int
    name: str
    email: str | None
    role: str

    @classmethod
    def of(cls, user: User) -> MemberUserView:
        return cls(id=user.id, name=user.name, email=user.email, role=user.role.value)


class MemberView(View, frozen=True, kw_only=True):
    user: MemberUserView
    state: str
    joined_at: str
    visible_from_seq: int
    removed_at: str | None
    removal_reason: str | None

    @classmethod
    def of(cls, member: ChatGroupMember, user: User) -> MemberView:
        return cls(
            user=MemberUserView.of(user), state=member.state.value, joined_at=iso(member.joined_at),
            visible_from_seq=member.visible_from_seq, removed_at=iso(member.removed_at),
            removal_reason=member.removal_reason,
        )


def membership_frame(group: ChatGroup, user_id: int, state: str, reason: str | None = None) -> dict[str, Any]:
    """The ``membership`` frame (docs/protocol.md) for a member's own sockets."""
    return {
        "type": "membership",
        "user_id": user_id,
        "group_id": group.id,
        "group_name": group.name,
        "conversation_id": group.conversation_id,
        "state": state,
        "reason": reason,
    }


async def memberships_of(db: AsyncSession, user_id: int, group_ids: list[int]) -> dict[int, str]:
    """The user's standing in each group: ``member``, ``pending``, ``removed`` or
    ``rejected`` (the most telling one), absent when none."""
    found: dict[int, str] = {}
    if not group_ids:
        return found
    members = await db.execute(
        select(ChatGroupMember.group_id, ChatGroupMember.state).where(
            ChatGroupMember.user_id == user_id, ChatGroupMember.group_id.in_(group_ids)
        )
    )
    states = dict(members.all())
    requests = await db.execute(
        select(ChatGroupJoinRequest.group_id, ChatGroupJoinRequest.status)
        .where(ChatGroupJoinRequest.user_id == user_id, ChatGroupJoinRequest.group_id.in_(group_ids))
        .order_by(ChatGroupJoinRequest.id)
    )
    latest = dict(requests.all())  # the last one wins
    for gid in group_ids:
        if states.get(gid) is MemberState.ACTIVE:
            found[gid] = "member"
        elif latest.get(gid) is RequestStatus.PENDING:
            found[gid] = "pending"
        elif states.get(gid) is MemberState.REMOVED:
            found[gid] = "removed"
        elif latest.get(gid) is RequestStatus.REJECTED:
            found[gid] = "rejected"
    return found


# -- use cases -------------------------------------------------------------------------


def _clean_name(name: str) -> str:
    return validation.text(name, "name", max_length=MAX_GROUP_NAME)


async def create_group(
    svc: Services,
    actor: Principal,
    *,
    organization: int | str,
    name: str,
    history: HistoryVisibility = HistoryVisibility.FULL,
) -> ChatGroup:
    """A new support chat group of a customer company, with its conversation."""
    clean = _clean_name(name)
    now = svc.clock.now()
    async with svc.sessions.begin() as db:
        org = await visible_organization(db, actor, organization)
        require(actor, Action.MANAGE_GROUP, GroupRef(None, org.id, org.parent_id, False))
        if org.kind is not OrgKind.CUSTOMER:
            raise ValidationFailed("organization: support chat groups belong to customer companies, not resellers")
        if await _name_taken(db, org.id, clean):
            raise Conflict(f"{org.name} already has a group named {clean!r}", code="group_name_taken")
        creator = await db.get(User, actor.user_id)
        conv = Conversation(
            kind=ConversationKind.GROUP, status=ConversationStatus.OPEN, subject=clean, site_id=None,
            organization_id=org.id, created_by_id=actor.user_id, last_seq=0, created_at=now, updated_at=now,
        )
        db.add(conv)
        await db.flush()
        group = ChatGroup(
            organization_id=org.id, conversation_id=conv.id, name=clean, history=history,
            created_by_id=actor.user_id, created_at=now,
        )
        db.add(group)
        try:
            await db.flush()
        except IntegrityError:
            raise Conflict(f"{org.name} already has a group named {clean!r}", code="group_name_taken") from None
        # Not "conversation.created": that one starts a support chat's ticket.
        created = await append_event(
            db, conv.id, kind=EventKind.SYSTEM, now=now,
            data={"event": "group.created", "group": {"id": group.id, "name": clean}, "user": author_json(creator)},
        )
        events = [event_json(created, None)]
    await publish_events(svc, events)
    return group


async def _name_taken(db: AsyncSession, org_id: int, name: str, *, besides: int | None = None) -> bool:
    query = select(ChatGroup.id).where(ChatGroup.organization_id == org_id, ChatGroup.name == name)
    if besides is not None:
        query = query.where(ChatGroup.id != besides)
    return await db.scalar(query) is not None


async def update_group(
    svc: Services, actor: Principal, group_id: int, *, name: str | None = None, history: HistoryVisibility | None = None
) -> ChatGroup:
    """Rename a group or change who sees what (applies to every member from now on)."""
    clean = _clean_name(name) if name is not None else None
    async with svc.sessions.begin() as db:
        group, ref = await visible_group(db, actor, group_id)
        require(actor, Action.MANAGE_GROUP, ref)
        if clean is not None and clean != group.name:
            if await _name_taken(db, group.organization_id, clean, besides=group.id):
                raise Conflict(f"the company already has a group named {clean!r}", code="group_name_taken")
            group.name = clean
            conv = await db.get(Conversation, group.conversation_id)
            assert conv is not None
            conv.subject = clean
        if history is not None:
            group.history = history
    return group


async def list_groups(svc: Services, actor: Principal, *, organization: int | str | None = None) -> list[ChatGroupView]:
    """The groups the actor may know of (staff: all; reseller admins: their customers';
    customers: their company's), each with the actor's own standing in it."""
    async with svc.reads() as db:
        query = select(ChatGroup, Organization.parent_id).join(Organization, Organization.id == ChatGroup.organization_id)
        if organization is not None:
            org = await visible_organization(db, actor, organization)
            query = query.where(ChatGroup.organization_id == org.id)
        if not actor.is_staff:
            own = ChatGroup.organization_id == actor.organization_id
            customers = Organization.parent_id == actor.organization_id
            query = query.where(own | customers if actor.organization_id is not None else own)
        rows = (await db.execute(query.order_by(ChatGroup.organization_id, ChatGroup.name))).all()
        mine = await memberships_of(db, actor.user_id, [g.id for g, _ in rows])
        visible = [
            ChatGroupView.of(g, mine.get(g.id))
            for g, parent in rows
            if can(actor, Action.VIEW_GROUP, GroupRef(g.id, g.organization_id, parent, mine.get(g.id) == "member"))
        ]
    return visible


@dataclass(frozen=True)
class GroupDetail:
    group: ChatGroup
    membership: str | None
    members: list[MemberView] | None  # None: the caller may not see the member list


async def group_detail(svc: Services, actor: Principal, group_id: int) -> GroupDetail:
    async with svc.reads() as db:
        group, ref = await visible_group(db, actor, group_id)
        membership = (await memberships_of(db, actor.user_id, [group.id])).get(group.id)
        members = None
        # Members see who else is in; managers and staff see everyone, removed included.
        if ref.is_member or actor.is_staff or can(actor, Action.MANAGE_GROUP, ref):
            query = (
                select(ChatGroupMember, User)
                .join(User, User.id == ChatGroupMember.user_id)
                .where(ChatGroupMember.group_id == group.id)
                .order_by(ChatGroupMember.joined_at, ChatGroupMember.id)
            )
            if ref.is_member and not (actor.is_staff or can(actor, Action.MANAGE_GROUP, ref)):
                query = query.where(ChatGroupMember.state == MemberState.ACTIVE)
            members = [MemberView.of(m, u) for m, u in (await db.execute(query)).all()]
    return GroupDetail(group, membership, members)


async def admit(
    db: AsyncSession, group: ChatGroup, user: User, *, by: User | None, now: datetime
) -> tuple[ChatGroupMember, dict[str, Any] | None]:
    """Make ``user`` an active member inside the caller's transaction; return the member
    row and the stored ``member.joined`` event (None when already a member)."""
    member = await db.scalar(
        select(ChatGroupMember).where(ChatGroupMember.group_id == group.id, ChatGroupMember.user_id == user.id)
    )
    if member is not None and member.state is MemberState.ACTIVE:
        return member, None
    participant = await db.scalar(
        select(Participant).where(Participant.conversation_id == group.conversation_id, Participant.user_id == user.id)
    )
    if participant is None:
        db.add(Participant(conversation_id=group.conversation_id, user_id=user.id, joined_at=now, last_read_seq=0))
    else:
        participant.left_at = None
        participant.joined_at = now
    joined = await append_event(
        db, group.conversation_id, kind=EventKind.SYSTEM, now=now,
        data={"event": "member.joined", "user": author_json(user), "approved_by": author_json(by)},
    )
    if member is None:
        member = ChatGroupMember(group_id=group.id, user_id=user.id)
        db.add(member)
    member.state = MemberState.ACTIVE
    member.visible_from_seq = joined.seq
    member.joined_at = now
    member.approved_by_id = by.id if by else None
    member.removed_at = None
    member.removed_by_id = None
    member.removal_reason = None
    await db.flush()
    return member, event_json(joined, None)


async def remove_member(
    svc: Services, actor: Principal, group_id: int, user_id: int, *, reason: str | None = None
) -> MemberView:
    """Take a member out of a group. Their open sockets stop receiving it at once: the
    hub drops them from the room on the ``member.removed`` event and on the
    ``membership`` frame, whichever reaches it first."""
    clean_reason = validation.text(reason, "reason", max_length=MAX_REASON, required=False) if reason else None
    now = svc.clock.now()
    async with svc.sessions.begin() as db:
        group, ref = await visible_group(db, actor, group_id)
        require(actor, Action.MANAGE_GROUP, ref)
        member = await active_member(db, group.id, user_id)
        if member is None:
            raise NotFound("that user is not a member of this group", code="member_not_found")
        user = await db.get(User, user_id)
        remover = await db.get(User, actor.user_id)
        assert user is not None
        member.state = MemberState.REMOVED
        member.removed_at = now
        member.removed_by_id = actor.user_id
        member.removal_reason = clean_reason
        participant = await db.scalar(
            select(Participant).where(Participant.conversation_id == group.conversation_id, Participant.user_id == user_id)
        )
        if participant is not None:
            participant.left_at = now
        # The reason goes to the member alone (their frame and their requests), not to
        # everyone in the group.
        removed = await append_event(
            db, group.conversation_id, kind=EventKind.SYSTEM, now=now,
            data={"event": "member.removed", "user": author_json(user), "removed_by": author_json(remover)},
        )
        events = [event_json(removed, None)]
        body = MemberView.of(member, user)
    await publish_events(svc, events)
    await svc.publish(user_channel(user_id), membership_frame(group, user_id, "removed", clean_reason))
    return body

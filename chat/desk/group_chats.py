"""Group chats in the console (issue 18): the **Groups** queue, with what each staff
member has not read yet, their read marker, and the doorbell a member's message rings.

A group chat has no ticket, so it is in none of :mod:`chat.desk.queues`' queues; the
console lists it beside them. Unread, for one staff member: the public messages of the
group after their read marker (``chat_group_reads``), not counting their own. Internal
notes are not counted: they are staff's own words, never a member's waiting question.
Reading and writing in the chat itself are the conversation's (``chat.authz``:
staff see every group chat; agents and support admins post and add notes; read-only
staff only look).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import and_, func, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from chat.authz import Action, Principal, require
from chat.errors import NotFound, ValidationFailed
from chat.events import ring_inbox
from chat.groups.models import ChatGroup, ChatGroupMember, GroupChatRead, MemberState
from chat.hot_reads import hot_reads_of
from chat.models import Conversation, Event, Organization
from chat.services import Services
from chat.wire import View, iso

# The doorbell's reason: the console re-reads the group chat's row, not a ticket's item.
GROUP_MESSAGE = "group.message"

_IS_GROUP = "SELECT id FROM chat_groups WHERE conversation_id = :id"


def _unread_query(user_id: int, conversation_ids: list[int] | None) -> Any:
    marker = func.coalesce(GroupChatRead.last_read_seq, 0)
    query = (
        select(ChatGroup.conversation_id, func.count(Event.id))
        .join(Event, Event.conversation_id == ChatGroup.conversation_id)
        .outerjoin(GroupChatRead, and_(GroupChatRead.group_id == ChatGroup.id, GroupChatRead.user_id == user_id))
        .where(
            Event.type == "message",
            Event.internal.is_(False),
            Event.seq > marker,
            or_(Event.author_id.is_(None), Event.author_id != user_id),
        )
        .group_by(ChatGroup.conversation_id)
    )
    if conversation_ids is not None:
        query = query.where(ChatGroup.conversation_id.in_(conversation_ids))
    return query


class OrgRefView(View, frozen=True, kw_only=True):
    id: int
    name: str


class GroupChatView(View, frozen=True, kw_only=True):
    """A row of the Groups queue, for one staff member (GROUP_CHAT in docs/http.md)."""

    conversation_id: int
    group_id: int
    name: str
    organization: OrgRefView
    conversation_status: str
    members: int  # active ones
    last_seq: int
    read_seq: int  # this staff member's marker
    unread: int  # public messages after it, not their own
    last_activity_at: str


async def _rows(db: AsyncSession, user_id: int, conversation_ids: list[int] | None = None) -> list[GroupChatView]:
    query = (
        select(ChatGroup, Conversation, Organization, GroupChatRead.last_read_seq)
        .join(Conversation, Conversation.id == ChatGroup.conversation_id)
        .join(Organization, Organization.id == ChatGroup.organization_id)
        .outerjoin(GroupChatRead, and_(GroupChatRead.group_id == ChatGroup.id, GroupChatRead.user_id == user_id))
    )
    if conversation_ids is not None:
        query = query.where(ChatGroup.conversation_id.in_(conversation_ids))
    rows = (await db.execute(query)).all()
    unread = dict((await db.execute(_unread_query(user_id, conversation_ids))).all())
    members = dict((await db.execute(
        select(ChatGroupMember.group_id, func.count())
        .where(ChatGroupMember.state == MemberState.ACTIVE, ChatGroupMember.group_id.in_([g.id for g, *_ in rows]))
        .group_by(ChatGroupMember.group_id)
    )).all()) if rows else {}
    found = [
        GroupChatView(
            conversation_id=group.conversation_id, group_id=group.id, name=group.name,
            organization=OrgRefView(id=org.id, name=org.name), conversation_status=conv.status.value,
            members=int(members.get(group.id, 0)), last_seq=conv.last_seq, read_seq=int(read_seq or 0),
            unread=int(unread.get(group.conversation_id, 0)), last_activity_at=iso(conv.updated_at),
        )
        for group, conv, org, read_seq in rows
    ]
    # What waits for me first, then the most recently active.
    found.sort(key=lambda i: (i.last_activity_at, i.conversation_id), reverse=True)
    found.sort(key=lambda i: i.unread == 0)  # stable: the unread ones first, each part as above
    return found


async def group_chats(svc: Services, actor: Principal) -> dict[str, Any]:
    """``GET /api/desk/group-chats``: every group chat with the actor's unread count, and
    the total."""
    require(actor, Action.VIEW_DESK)
    async with svc.reads() as db:
        items = await _rows(db, actor.user_id)
    return {"group_chats": items, "unread": sum(i.unread for i in items), "server_time": svc.clock.now().isoformat()}


async def group_chat(svc: Services, actor: Principal, conversation_id: int) -> GroupChatView:
    """One row of the Groups queue (what a console re-reads on a ``group.message`` doorbell)."""
    require(actor, Action.VIEW_DESK)
    async with svc.reads() as db:
        found = await _rows(db, actor.user_id, [conversation_id])
    if not found:
        raise NotFound("no such group chat", code="group_not_found")
    return found[0]


async def mark_read(svc: Services, actor: Principal, conversation_id: int, seq: int) -> GroupChatView:
    """Move the actor's read marker of a group chat forward (never back, never past its
    last event); return the row. Read-only staff keep one too: it is their own place in
    the list, not a change to the chat."""
    require(actor, Action.VIEW_DESK)
    if seq < 0:
        raise ValidationFailed("seq must be 0 or more")
    for attempt in (1, 2):
        try:
            await _store_read(svc, actor.user_id, conversation_id, seq)
            break
        except IntegrityError:
            # Two tabs marked the same chat at once: the other one inserted the row first.
            if attempt == 2:
                raise
    return await group_chat(svc, actor, conversation_id)


async def _store_read(svc: Services, user_id: int, conversation_id: int, seq: int) -> None:
    now = svc.clock.now()
    async with svc.sessions.begin() as db:
        row = (await db.execute(
            select(ChatGroup.id, Conversation.last_seq)
            .join(Conversation, Conversation.id == ChatGroup.conversation_id)
            .where(ChatGroup.conversation_id == conversation_id)
        )).first()
        if row is None:
            raise NotFound("no such group chat", code="group_not_found")
        group_id, last_seq = row
        target = min(seq, int(last_seq))
        marker = await db.get(GroupChatRead, (group_id, user_id))
        if marker is None:
            db.add(GroupChatRead(group_id=group_id, user_id=user_id, last_read_seq=target, updated_at=now))
        elif marker.last_read_seq < target:
            marker.last_read_seq = target
            marker.updated_at = now


async def on_events(svc: Services, actor: Any, events: list[dict[str, Any]]) -> None:
    """The after-commit reaction (``Services.reactions``): a public message in a group
    chat rings every staff console (``inbox`` with reason ``group.message``), whose
    Groups queue re-reads that chat's unread count. One indexed lookup per conversation
    with a new message; internal notes and system events ring nothing. Nothing to catch up
    after a crash: a doorbell carries no state, and a console re-reads its queues on every
    reconnect."""
    conversations = {int(e["conversation_id"]) for e in events if e.get("kind") == "message" and not e.get("internal")}
    if not conversations:
        return
    reads = hot_reads_of(svc)
    for conversation_id in sorted(conversations):
        if await reads.rows(_IS_GROUP, {"id": conversation_id}):
            await ring_inbox(svc, conversation_id, GROUP_MESSAGE)

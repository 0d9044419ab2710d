"""The event log: a conversation's ordered stream of stored events.

The delivery guarantees start here: an event is committed with the next ``seq`` of its
conversation (taken by one ``UPDATE … RETURNING`` in the same transaction, so numbering
is gap-free with any number of processes), and only after the commit is it published.
Everything that writes or reads a conversation's events (the use cases of chat, tickets,
group chats, the hub's catch-up) builds on this module; it knows nothing of them.
"""

from __future__ import annotations

import enum
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Select, and_, bindparam, select, update
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from chat.authz import Action, ConversationRef, Principal, can
from chat.errors import AppError, NotFound
from chat.groups.models import ChatGroup, ChatGroupMember, HistoryVisibility
from chat.models import (
    Attachment,
    Conversation,
    ConversationKind,
    ConversationStatus,
    Event,
    Organization,
    Participant,
    User,
)
from chat.numbering import number_run
from chat.people import person_json
from chat.services import Services
from escalation.models import Ticket

HISTORY_PAGE_MAX = 500
class EventKind(enum.StrEnum):
    MESSAGE = "message"
    NOTE = "note"  # internal: staff only
    SYSTEM = "system"


class ConversationClosed(AppError):
    status = 409
    code = "conversation_closed"


def conversation_channel(conversation_id: int) -> str:
    return f"conv:{conversation_id}"


def attribution(principal: Principal) -> dict[str, int]:
    """What an event written by ``principal`` adds to its ``data`` to name both people when
    the session is an impersonation (chat.impersonation): the user it acts as
    (``on_behalf_of``, also its author) and the staff member acting (``impersonator``).
    Empty for everybody's own sessions. The one definition of the field; the writers of
    events take it from the principal (docs/protocol.md, "Impersonation")."""
    if principal.impersonator_id is None:
        return {}
    return {"on_behalf_of": principal.user_id, "impersonator": principal.impersonator_id}


def author_json(user: User | None) -> dict[str, Any] | None:
    if user is None:
        return None
    return person_json(user.id, user.name, user.role.value)


def stored_event_json(
    *,
    conversation_id: int,
    seq: int,
    id: int,
    kind: str,
    author: dict[str, Any] | None,
    body: str | None,
    data: dict[str, Any],
    client_msg_id: str | None,
    created_at: datetime,
    internal: bool,
    prev_public_seq: int,
) -> dict[str, Any]:
    """The wire shape of a stored event (docs/protocol.md, ``event``), before it is
    rendered for a class of recipient (:func:`render_event`)."""
    return {
        "type": "event",
        "conversation_id": conversation_id,
        "seq": seq,
        "id": id,
        "kind": kind,
        "author": author,
        "body": body,
        "data": data,
        "client_msg_id": client_msg_id,
        "created_at": created_at.isoformat(),
        "internal": internal,
        "prev_public_seq": prev_public_seq,
    }


def event_json(event: Event, author: User | None) -> dict[str, Any]:
    return stored_event_json(
        conversation_id=event.conversation_id, seq=event.seq, id=event.id, kind=event.type,
        author=author_json(author), body=event.body, data=event.data, client_msg_id=event.client_msg_id,
        created_at=event.created_at, internal=event.internal, prev_public_seq=event.prev_public_seq,
    )

def attachment_json(
    attachment_id: int, conversation_id: int, filename: str, content_type: str, size: int
) -> dict[str, Any]:
    """An attachment as a message's ``data.attachments`` carries it (docs/protocol.md)."""
    return {"id": attachment_id, "conversation_id": conversation_id, "filename": filename,
            "content_type": content_type, "size": size, "url": f"/api/attachments/{attachment_id}"}


async def place_attachments(
    db: AsyncSession, rows: Sequence[Attachment], conversation_id: int, uploader_id: int, now: datetime
) -> list[dict[str, Any]]:
    """New attachment rows (files that came with a ticket or a mail, not uploads) into a
    conversation, ids assigned: their ``data.attachments`` for the message that carries
    them. The caller sets each row's ``event_id`` once that message is appended."""
    for row in rows:
        row.conversation_id, row.uploader_id, row.event_id, row.created_at = conversation_id, uploader_id, None, now
        db.add(row)
    if not rows:
        return []
    await db.flush()
    return [attachment_json(a.id, conversation_id, a.filename, a.content_type, a.size) for a in rows]


def render_event(event: dict[str, Any], *, staff: bool) -> dict[str, Any]:
    """The wire frame of a stored event for one class of recipient.

    ``prev_seq`` is the seq of the previous event *this recipient* can see: staff see
    every event, customers never see internal notes. The contact e-mail of a chat's
    pre-chat answers is the desk's (like a ticket's ``contact_email``): not for customers.
    """
    frame = {k: v for k, v in event.items() if k not in {"prev_public_seq", "internal"}}
    if staff:
        frame["prev_seq"] = event["seq"] - 1
        frame["internal"] = event["internal"]
        return frame
    frame["prev_seq"] = event["prev_public_seq"]
    prechat = event["data"].get("prechat") if event["kind"] == "system" else None
    if prechat is not None and "email" in prechat:
        shown = {k: v for k, v in prechat.items() if k != "email"}
        frame["data"] = {**event["data"], "prechat": shown}
    return frame



async def conversation_ref(db: AsyncSession, principal: Principal, conversation_id: int) -> tuple[Conversation, ConversationRef]:
    # One statement: the conversation, its organization's reseller, whether the principal
    # takes part, and the partner whose own first line holds its ticket (who may post
    # there depends on it) — chat/message_batch.py loads the same facts for sends.
    row = (
        await db.execute(
            select(Conversation, Organization.parent_id, Participant.id, Ticket.handled_by_org_id)
            .outerjoin(Organization, Organization.id == Conversation.organization_id)
            .outerjoin(Ticket, Ticket.conversation_id == Conversation.id)
            .outerjoin(
                Participant,
                and_(
                    Participant.conversation_id == Conversation.id,
                    Participant.user_id == principal.user_id,
                    Participant.left_at.is_(None),
                ),
            )
            .where(Conversation.id == conversation_id)
        )
    ).first()
    if row is None:
        raise NotFound("no such conversation", code="not_found")
    conv, parent_id, participant, handled_by = row
    ref = ConversationRef(
        id=conv.id,
        organization_id=conv.organization_id,
        org_parent_id=parent_id,
        is_participant=participant is not None,
        is_open=conv.status is ConversationStatus.OPEN,
        handled_by_org_id=handled_by,
    )
    return conv, ref


async def load_visible(db: AsyncSession, principal: Principal, conversation_id: int) -> tuple[Conversation, ConversationRef]:
    """The conversation if the principal may see it; ``not_found`` otherwise, so that
    probing ids tells nothing about conversations of others."""
    conv, ref = await conversation_ref(db, principal, conversation_id)
    if not can(principal, Action.VIEW_CONVERSATION, ref):
        raise NotFound("no such conversation", code="not_found")
    return conv, ref


async def append_event(
    db: AsyncSession,
    conversation_id: int,
    *,
    kind: EventKind,
    now: datetime,
    author_id: int | None = None,
    body: str | None = None,
    data: dict[str, Any] | None = None,
    internal: bool = False,
    client_msg_id: str | None = None,
) -> Event:
    """Store the next event of a conversation inside the caller's transaction."""
    # The UPDATE takes the row lock (PostgreSQL) or the write lock (SQLite) first, so the
    # last_public_seq it returns cannot move before this transaction ends.
    row = (
        await db.execute(
            update(Conversation)
            .where(Conversation.id == conversation_id)
            .values(last_seq=Conversation.last_seq + 1, updated_at=now)
            .returning(Conversation.last_seq, Conversation.last_public_seq)
        )
    ).first()
    if row is None:
        raise NotFound("no such conversation", code="not_found")
    seq, prev_public = row
    if not internal:
        await db.execute(update(Conversation).where(Conversation.id == conversation_id).values(last_public_seq=seq))
    event = Event(
        conversation_id=conversation_id,
        seq=seq,
        prev_public_seq=prev_public,
        type=kind.value,
        author_id=author_id,
        client_msg_id=client_msg_id,
        body=body,
        data=data or {},
        internal=internal,
        created_at=now,
    )
    db.add(event)
    await db.flush()
    return event


def stage_event(
    db: AsyncSession,
    conv: Conversation,
    *,
    kind: EventKind,
    now: datetime,
    author_id: int | None = None,
    body: str | None = None,
    data: dict[str, Any] | None = None,
    internal: bool = False,
) -> Event:
    """:func:`append_event` on a conversation row this transaction holds — created in it,
    or read with its lock and ``populate_existing`` — so its counters are current and
    nobody else can number an event until the commit. Numbered on the row; the event and
    the counters are written by the next flush (several events, one statement each for
    the rows and the counters, instead of three per event). The unique (conversation,
    seq) remains the backstop. The event's ``id`` is known after that flush."""
    [(seq, prev_public)], conv.last_public_seq = number_run(conv.last_seq, conv.last_public_seq, [internal])
    event = Event(
        conversation_id=conv.id, seq=seq, prev_public_seq=prev_public, type=kind.value, author_id=author_id,
        client_msg_id=None, body=body, data=data or {}, internal=internal, created_at=now,
    )
    conv.last_seq, conv.updated_at = seq, now
    db.add(event)
    return event


async def publish_events(svc: Services, events: list[dict[str, Any]]) -> None:
    for event in events:
        await svc.publish(conversation_channel(event["conversation_id"]), event)


STAFF_CHANNEL = "staff"


def user_channel(user_id: int) -> str:
    """Broker channel for events about one user (disabled, membership changes, alerts)."""
    return f"user:{user_id}"


async def ring_inbox(svc: Services, conversation_id: int, reason: str) -> None:
    """Tell every staff socket that a conversation's place in the queues may have changed.

    A doorbell, like the event channel: the frame carries no state, consoles re-read the
    item over HTTP, and a console that reconnects re-reads its queues."""
    await svc.publish(STAFF_CHANNEL, {"type": "inbox", "conversation_id": conversation_id, "reason": reason})


@dataclass(frozen=True)
class Ack:
    conversation_id: int
    client_msg_id: str
    id: int
    seq: int
    created_at: datetime
    duplicate: bool

    def frame(self) -> dict[str, Any]:
        return {
            "type": "ack",
            "conversation_id": self.conversation_id,
            "client_msg_id": self.client_msg_id,
            "id": self.id,
            "seq": self.seq,
            "created_at": self.created_at.isoformat(),
            "duplicate": self.duplicate,
        }


def _events_page(*, public: bool, floor: bool) -> Select[Any]:
    query = (
        select(Event.id, Event.seq, Event.prev_public_seq, Event.type, Event.author_id, Event.client_msg_id,
               Event.body, Event.data, Event.internal, Event.created_at, User.name, User.role)
        .outerjoin(User, User.id == Event.author_id)
        .where(Event.conversation_id == bindparam("conversation_id"), Event.seq > bindparam("after_seq"))
        .order_by(Event.seq)
        .limit(bindparam("limit"))
    )
    if public:
        query = query.where(Event.internal.is_(False))
    if floor:
        query = query.where(Event.seq >= bindparam("floor"))
    return query


# Built once: building a statement and its cache key costs more than running it here.
_PAGES = {(public, floor): _events_page(public=public, floor=floor) for public in (False, True) for floor in (False, True)}


async def read_events(
    db: AsyncSession | AsyncConnection, conversation_id: int, *, after_seq: int, staff: bool, floor: int, limit: int
) -> list[dict[str, Any]]:
    """A page of stored events after ``after_seq``, as :func:`events_after` returns them,
    for a reader already allowed to see the conversation (``staff``: with internal notes;
    ``floor``: the lowest seq this reader may see)."""
    use_floor = not staff and floor > after_seq
    params = {"conversation_id": conversation_id, "after_seq": after_seq, "limit": limit, "floor": floor}
    rows = (await db.execute(_PAGES[(not staff, use_floor)], params)).all()
    # Plain rows, not ORM objects: a catch-up page is hundreds of events.
    events = [
        stored_event_json(
            conversation_id=conversation_id, seq=seq, id=id_, kind=kind,
            author=None if author_id is None or name is None else {"id": author_id, "name": name, "role": role.value},
            body=body, data=data, client_msg_id=client_msg_id, created_at=created_at, internal=internal,
            prev_public_seq=prev_public,
        )
        for id_, seq, prev_public, kind, author_id, client_msg_id, body, data, internal, created_at, name, role in rows
    ]
    if use_floor and events and events[0]["prev_public_seq"] < floor:
        # Nothing before the floor exists for this reader, so the first event follows
        # whatever the reader had: its gap check passes instead of asking forever.
        events[0]["prev_public_seq"] = after_seq
    return events


@dataclass(frozen=True)
class RoomView:
    """What a socket needs to join a conversation, read in one statement."""

    last_seq: int  # the last seq this reader can see (public only for customers)
    read_seq: int
    floor: int  # the lowest seq this reader may see


_ROOM_VIEW = (
    select(Conversation.kind, Conversation.organization_id, Organization.parent_id, Conversation.status,
           Conversation.last_seq, Conversation.last_public_seq, Participant.left_at, Participant.last_read_seq,
           Participant.id)
    .outerjoin(Organization, Organization.id == Conversation.organization_id)
    .outerjoin(Participant, and_(Participant.conversation_id == Conversation.id,
                                 Participant.user_id == bindparam("user_id")))
    .where(Conversation.id == bindparam("conversation_id"))
)


async def room_view(db: AsyncSession | AsyncConnection, principal: Principal, conversation_id: int) -> RoomView:
    """The conversation as a joining socket sees it; ``not_found`` unless visible (the
    rules of :func:`load_visible`)."""
    row = (await db.execute(_ROOM_VIEW, {"user_id": principal.user_id, "conversation_id": conversation_id})).first()
    if row is None:
        raise NotFound("no such conversation", code="not_found")
    kind, org_id, parent_id, status, last_seq, last_public_seq, left_at, read_seq, participant_id = row
    ref = ConversationRef(id=conversation_id, organization_id=org_id, org_parent_id=parent_id,
                          is_participant=participant_id is not None and left_at is None,
                          is_open=status is ConversationStatus.OPEN)
    if not can(principal, Action.VIEW_CONVERSATION, ref):
        raise NotFound("no such conversation", code="not_found")
    staff = can(principal, Action.VIEW_INTERNAL_NOTES)
    floor = 0
    if not staff and kind is ConversationKind.GROUP:
        floor = await history_floor(db, principal.user_id, conversation_id)
    return RoomView(last_seq=int(last_seq if staff else last_public_seq), read_seq=int(read_seq or 0), floor=floor)


async def read_position(db: AsyncSession, user_id: int, conversation_id: int) -> int:
    stored = await db.scalar(
        select(Participant.last_read_seq).where(
            Participant.conversation_id == conversation_id, Participant.user_id == user_id
        )
    )
    return int(stored or 0)


async def history_floor(db: AsyncSession | AsyncConnection, user_id: int, conversation_id: int) -> int:
    """The lowest seq of a group conversation that ``user_id`` may read: their joining's
    seq when the group shows history since joining, else 0. Staff have no floor (the
    caller does not ask for them)."""
    floor = await db.scalar(
        select(ChatGroupMember.visible_from_seq)
        .join(ChatGroup, ChatGroup.id == ChatGroupMember.group_id)
        .where(
            ChatGroup.conversation_id == conversation_id,
            ChatGroup.history == HistoryVisibility.SINCE_JOIN,
            ChatGroupMember.user_id == user_id,
        )
    )
    return int(floor or 0)

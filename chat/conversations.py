"""Use cases for conversations and their ordered event stream.

The delivery guarantees start here: an event is committed with the next ``seq`` of its
conversation (taken by one ``UPDATE … RETURNING`` in the same transaction, so numbering
is gap-free with any number of processes), and only after the commit is it published.
"""

from __future__ import annotations

import asyncio
import enum
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import Select, and_, bindparam, select, update
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from chat import validation
from chat.authz import Action, ConversationRef, Principal, can
from chat.errors import AppError, Forbidden, NotFound, ValidationFailed
from chat.models import (
    Conversation,
    ConversationKind,
    ConversationStatus,
    Event,
    Organization,
    Participant,
    Role,
    User,
)
from chat.services import Services

if TYPE_CHECKING:
    from chat.message_batch import SendResult

HISTORY_PAGE_MAX = 500
MAX_CLIENT_MSG_ID = 64


class EventKind(enum.StrEnum):
    MESSAGE = "message"
    NOTE = "note"  # internal: staff only
    SYSTEM = "system"


class ConversationClosed(AppError):
    status = 409
    code = "conversation_closed"


def conversation_channel(conversation_id: int) -> str:
    return f"conv:{conversation_id}"


def author_json(user: User | None) -> dict[str, Any] | None:
    if user is None:
        return None
    return {"id": user.id, "name": user.name, "role": user.role.value}


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
    rendered for a class of recipient (chat.hub.connection.render_event)."""
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


async def conversation_ref(db: AsyncSession, principal: Principal, conversation_id: int) -> tuple[Conversation, ConversationRef]:
    # One statement: the conversation, its organization's reseller, and whether the
    # principal takes part (chat/message_batch.py loads the same facts for sends).
    row = (
        await db.execute(
            select(Conversation, Organization.parent_id, Participant.id)
            .outerjoin(Organization, Organization.id == Conversation.organization_id)
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
    conv, parent_id, participant = row
    ref = ConversationRef(
        id=conv.id,
        organization_id=conv.organization_id,
        org_parent_id=parent_id,
        is_participant=participant is not None,
        is_open=conv.status is ConversationStatus.OPEN,
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


async def publish_events(svc: Services, events: list[dict[str, Any]]) -> None:
    for event in events:
        await svc.publish(conversation_channel(event["conversation_id"]), event)


STAFF_CHANNEL = "staff"


async def ring_inbox(svc: Services, conversation_id: int, reason: str) -> None:
    """Tell every staff socket that a conversation's place in the queues may have changed.

    A doorbell, like the event channel: the frame carries no state, consoles re-read the
    item over HTTP, and a console that reconnects re-reads its queues."""
    await svc.publish(STAFF_CHANNEL, {"type": "inbox", "conversation_id": conversation_id, "reason": reason})


@dataclass(frozen=True)
class NewConversation:
    conversation: Conversation
    events: list[dict[str, Any]]


async def start_conversation(
    svc: Services,
    actor: Principal,
    *,
    subject: str = "",
    body: str | None = None,
    client_msg_id: str | None = None,
) -> NewConversation:
    """A customer or visitor opens a support chat (optionally with a first message)."""
    clean_subject = validation.text(subject, "subject", max_length=300, required=False)
    if body is not None:
        _check_body(svc, body)
    if actor.role not in {Role.VISITOR, Role.CUSTOMER, Role.RESELLER_ADMIN}:
        raise Forbidden("staff open conversations on behalf of a customer through tickets")
    now = svc.clock.now()
    async with svc.sessions.begin() as db:
        user = await db.get(User, actor.user_id)
        assert user is not None
        conv = Conversation(
            kind=ConversationKind.CHAT,
            status=ConversationStatus.OPEN,
            subject=clean_subject,
            site_id=user.site_id,
            organization_id=user.organization_id,
            created_by_id=user.id,
            last_seq=0,
            created_at=now,
            updated_at=now,
        )
        db.add(conv)
        await db.flush()
        db.add(Participant(conversation_id=conv.id, user_id=user.id, joined_at=now, last_read_seq=0))
        created = await append_event(
            db, conv.id, kind=EventKind.SYSTEM, now=now,
            data={"event": "conversation.created", "user": author_json(user), "subject": clean_subject},
        )
        events = [event_json(created, None)]
        if body is not None:
            first = await append_event(
                db, conv.id, kind=EventKind.MESSAGE, now=now, author_id=user.id, body=body,
                client_msg_id=_client_id(client_msg_id),
            )
            events.append(event_json(first, user))
    await publish_events(svc, events)
    await ring_inbox(svc, conv.id, "created")
    await svc.react(actor, events)
    return NewConversation(conv, events)


def _check_body(svc: Services, body: str) -> None:
    if not body.strip():
        raise ValidationFailed("body must not be empty", code="invalid_frame")
    if len(body) > svc.settings.max_message_chars:
        raise ValidationFailed(
            f"the message is longer than {svc.settings.max_message_chars} characters", code="message_too_long"
        )


def _client_id(client_msg_id: str | None) -> str | None:
    if client_msg_id is not None and not 1 <= len(client_msg_id) <= MAX_CLIENT_MSG_ID:
        raise ValidationFailed(f"client_msg_id must be 1-{MAX_CLIENT_MSG_ID} characters", code="invalid_frame")
    return client_msg_id


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


async def post_message(
    svc: Services,
    actor: Principal,
    conversation_id: int,
    *,
    client_msg_id: str,
    body: str,
    internal: bool = False,
    attachments: Sequence[int] = (),
) -> tuple[Ack, list[dict[str, Any]]]:
    """Store a message (or an internal note) and return its ack and the events to publish.

    Idempotent on ``(author, client_msg_id)``: a resend returns the original ack with
    ``duplicate=True`` and stores nothing. The caller publishes the events after this
    returns (the transaction is committed by then). The process's message writer
    (chat/writer.py) stores it in one transaction with whatever other sends are waiting.
    """
    ack, events = await submit_message(
        svc, actor, conversation_id, client_msg_id=client_msg_id, body=body, internal=internal,
        attachments=attachments,
    )
    return ack, events


def submit_message(
    svc: Services,
    actor: Principal,
    conversation_id: int,
    *,
    client_msg_id: str,
    body: str,
    internal: bool = False,
    attachments: Sequence[int] = (),
    publish: bool = False,
) -> asyncio.Future[SendResult]:
    """Queue a send for the writer without waiting: :func:`post_message` for callers that
    keep several sends in flight (a socket reading its next frame meanwhile).

    Bad input raises here, at once, and nothing is queued. The future resolves after the
    commit, with the ack and events or with the error of this send alone (``not_found``,
    ``forbidden``, ``conversation_closed``, ``invalid_attachment``, or a database error).
    Sends resolve in the order they were queued, which is also their ``seq`` order within
    a conversation. With ``publish``, the writer itself publishes the events right after
    the commit, in commit order across every sender, then runs ``svc.react`` on them.
    """
    # Imported here: both build on this module.
    from chat.attachments import MAX_PER_MESSAGE
    from chat.message_batch import SendItem
    from chat.writer import writer_of

    _client_id(client_msg_id)
    _check_body(svc, body)
    if len(attachments) > MAX_PER_MESSAGE:
        raise ValidationFailed(f"at most {MAX_PER_MESSAGE} attachments per message", code="invalid_frame")
    item = SendItem(actor, conversation_id, client_msg_id, body, internal, tuple(attachments))
    return writer_of(svc).submit(item, publish=publish)


async def events_after(
    svc: Services, actor: Principal, conversation_id: int, *, after_seq: int, limit: int = 100
) -> tuple[list[dict[str, Any]], int]:
    """Stored events with ``seq > after_seq`` in order (internal ones only for staff),
    and the conversation's current last seq."""
    if after_seq < 0:
        raise ValidationFailed("after_seq must be 0 or more")
    limit = max(1, min(limit, HISTORY_PAGE_MAX))
    async with svc.reads() as db:
        conv, _ = await load_visible(db, actor, conversation_id)
        staff = can(actor, Action.VIEW_INTERNAL_NOTES)
        floor = 0 if staff else await _history_floor(db, actor, conv)
        events = await read_events(db, conversation_id, after_seq=after_seq, staff=staff, floor=floor, limit=limit)
        return events, conv.last_seq


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
        from chat.groups.service import history_floor  # chat.groups builds on this module

        floor = await history_floor(db, principal.user_id, conversation_id)  # type: ignore[arg-type]  # one query
    return RoomView(last_seq=int(last_seq if staff else last_public_seq), read_seq=int(read_seq or 0), floor=floor)


async def _history_floor(db: AsyncSession, actor: Principal, conv: Conversation) -> int:
    """The lowest seq a customer may read: a group chat may hide what came before they joined."""
    if conv.kind is not ConversationKind.GROUP:
        return 0
    from chat.groups.service import history_floor  # chat.groups builds on this module

    return await history_floor(db, actor.user_id, conv.id)


async def mark_read(svc: Services, actor: Principal, conversation_id: int, seq: int) -> int:
    """Move the participant's read position forward (never back); return the stored one."""
    if seq < 0:
        raise ValidationFailed("seq must be 0 or more", code="invalid_frame")
    async with svc.sessions.begin() as db:
        conv, ref = await load_visible(db, actor, conversation_id)
        target = min(seq, conv.last_seq)
        await db.execute(
            update(Participant)
            .where(
                and_(
                    Participant.conversation_id == conversation_id,
                    Participant.user_id == actor.user_id,
                    Participant.last_read_seq < target,
                )
            )
            .values(last_read_seq=target)
        )
        stored = await db.scalar(
            select(Participant.last_read_seq).where(
                Participant.conversation_id == conversation_id, Participant.user_id == actor.user_id
            )
        )
    return int(stored or 0)


async def read_position(db: AsyncSession, user_id: int, conversation_id: int) -> int:
    stored = await db.scalar(
        select(Participant.last_read_seq).where(
            Participant.conversation_id == conversation_id, Participant.user_id == user_id
        )
    )
    return int(stored or 0)


def conversation_json(
    conv: Conversation, read_seq: int | None = None, *, ticket: dict[str, Any] | None | bool = False
) -> dict[str, Any]:
    """The conversation; with ``ticket`` (a summary from ``escalation.views.ticket_summary``,
    or ``None`` for a conversation without one) also its ticket's place in the queues."""
    body: dict[str, Any] = {
        "id": conv.id,
        "kind": conv.kind.value,
        "status": conv.status.value,
        "subject": conv.subject,
        "site_id": conv.site_id,
        "organization_id": conv.organization_id,
        "created_by_id": conv.created_by_id,
        "last_seq": conv.last_seq,
        "read_seq": read_seq,
        "created_at": conv.created_at.isoformat(),
        "updated_at": conv.updated_at.isoformat(),
    }
    if ticket is not False:
        body["ticket"] = ticket
    return body


async def list_conversations(
    svc: Services, actor: Principal, *, status: ConversationStatus | None = None, limit: int = 50, before_id: int | None = None
) -> list[dict[str, Any]]:
    """Conversations the actor takes part in; staff see every conversation (newest first),
    each with its ticket's summary (``ticket``: null for a conversation without one)."""
    # Imported here: the escalation package builds on this module.
    from escalation.models import Ticket
    from escalation.views import ticket_summary

    limit = max(1, min(limit, 200))
    async with svc.reads() as db:
        query = (
            select(Conversation, Participant.last_read_seq, Ticket)
            .outerjoin(
                Participant,
                and_(Participant.conversation_id == Conversation.id, Participant.user_id == actor.user_id),
            )
            .outerjoin(Ticket, Ticket.conversation_id == Conversation.id)
            .order_by(Conversation.id.desc())
            .limit(limit)
        )
        if not actor.is_staff:
            if actor.role is Role.RESELLER_ADMIN and actor.organization_id is not None:
                customers = select(Organization.id).where(Organization.parent_id == actor.organization_id)
                query = query.where(
                    (Participant.id.is_not(None) & Participant.left_at.is_(None))
                    | Conversation.organization_id.in_(customers)
                )
            else:
                query = query.where(Participant.id.is_not(None), Participant.left_at.is_(None))
        if status is not None:
            query = query.where(Conversation.status == status)
        if before_id is not None:
            query = query.where(Conversation.id < before_id)
        rows = (await db.execute(query)).all()
        return [
            conversation_json(c, r, ticket=ticket_summary(t, staff=actor.is_staff) if t is not None else None)
            for c, r, t in rows
        ]

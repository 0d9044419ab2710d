"""Use cases for support chats: open one, send, read its history, mark it read, list.

They store through the event log (:mod:`chat.events`) and the process's message writer
(:mod:`chat.writer`); only after the commit is anything published.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import and_, func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from chat import validation, visitor_limits
from chat.attachments import MAX_PER_MESSAGE
from chat.authz import Action, Principal, can
from chat.errors import Conflict, Forbidden, ValidationFailed
from chat.events import (
    HISTORY_PAGE_MAX,
    Ack,
    EventKind,
    append_event,
    attribution,
    author_json,
    event_json,
    history_floor,
    load_visible,
    publish_events,
    read_events,
    read_position,
    ring_inbox,
)
from chat.message_batch import SendItem, SendResult
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
from chat.secrets_mask import Masked, mask_secrets
from chat.services import Services
from chat.writer import writer_of
from escalation.models import Ticket
from escalation.prechat import Prechat
from escalation.views import ticket_summary

MAX_CLIENT_MSG_ID = 64
def created_data(
    user: dict[str, Any] | None, subject: str, prechat: Prechat | None, masked: tuple[str, ...] = ()
) -> dict[str, Any]:
    data: dict[str, Any] = {"event": "conversation.created", "user": user, "subject": subject}
    if masked:
        data["masked"] = list(masked)
    if prechat is not None and not prechat.empty:
        data["prechat"] = prechat.as_data()
    return data


@dataclass(frozen=True)
class NewConversation:
    conversation: Conversation
    events: list[dict[str, Any]]
    # True when the first message's client_msg_id was already stored: the chat it opened
    # is answered and nothing new is stored (the socket's ``duplicate`` ack).
    duplicate: bool = False


async def start_conversation(
    svc: Services,
    actor: Principal,
    *,
    subject: str = "",
    body: str | None = None,
    client_msg_id: str | None = None,
    prechat: Prechat | None = None,
) -> NewConversation:
    """A customer or visitor opens a support chat (optionally with a first message).

    ``prechat``: the widget's checked pre-chat answers, committed with the chat in its
    ``conversation.created`` event; the unit that creates the chat's ticket row applies
    them (:mod:`escalation.prechat`)."""
    clean_subject = validation.text(subject, "subject", max_length=300, required=False)
    if body is not None:
        _check_body(svc, body)
    # Secrets in the subject or the first message are masked before they are stored.
    subject_masked = mask_secrets(clean_subject)
    first_masked = mask_secrets(body) if body is not None else None
    if actor.role not in {Role.VISITOR, Role.CUSTOMER, Role.RESELLER_ADMIN}:
        raise Forbidden("staff open conversations on behalf of a customer through tickets")
    retry_key = _client_id(client_msg_id) if body is not None else None
    if retry_key is not None and (again := await _started_with(svc, actor, retry_key)) is not None:
        return again
    try:
        return await _start(svc, actor, subject_masked, first_masked, retry_key, prechat)
    except IntegrityError:
        # Two retries raced past the lookup: the unique (author, client_msg_id) refused the
        # second; it answers the first one's chat.
        if retry_key is None or (again := await _started_with(svc, actor, retry_key)) is None:
            raise
        return again


async def _started_with(svc: Services, actor: Principal, client_msg_id: str) -> NewConversation | None:
    """The chat whose first message the author sent with ``client_msg_id``, or None; 409
    when that id was used for a message in a chat it did not open (as a ``send`` would)."""
    async with svc.reads() as db:
        found = (await db.execute(
            select(Event.conversation_id, Event.seq)
            .where(Event.author_id == actor.user_id, Event.client_msg_id == client_msg_id)
        )).first()
        if found is None:
            return None
        conv = await db.get(Conversation, found.conversation_id)
        first = await db.scalar(
            select(func.min(Event.seq)).where(Event.conversation_id == found.conversation_id, Event.type == EventKind.MESSAGE)
        )
    if conv is None or conv.created_by_id != actor.user_id or first != found.seq:
        raise Conflict("client_msg_id was already used for a message in another conversation", code="duplicate_client_msg_id")
    return NewConversation(conv, [], duplicate=True)


async def _start(
    svc: Services, actor: Principal, subject_masked: Masked, first_masked: Masked | None, client_msg_id: str | None,
    prechat: Prechat | None,
) -> NewConversation:
    clean_subject = subject_masked.text
    now = svc.clock.now()
    async with svc.sessions.begin() as db:
        await visitor_limits.check_new_conversation(db, svc, actor, now)  # 429 past a visitor's limits
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
            data={**created_data(author_json(user), clean_subject, prechat, subject_masked.kinds), **attribution(actor)},
        )
        events = [event_json(created, None)]
        if first_masked is not None:
            first = await append_event(
                db, conv.id, kind=EventKind.MESSAGE, now=now, author_id=user.id, body=first_masked.text,
                client_msg_id=client_msg_id,
                data={**({"masked": list(first_masked.kinds)} if first_masked.found else {}), **attribution(actor)} or None,
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
    _client_id(client_msg_id)
    _check_body(svc, body)
    if len(attachments) > MAX_PER_MESSAGE:
        raise ValidationFailed(f"at most {MAX_PER_MESSAGE} attachments per message", code="invalid_frame")
    # Secrets are masked here, the one entrance of every send (socket and HTTP), before
    # the writer stores, publishes or mails anything; the kinds travel in the event's data.
    masked = mask_secrets(body)
    item = SendItem(actor, conversation_id, client_msg_id, masked.text, internal, tuple(attachments), masked.kinds)
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


async def _history_floor(db: AsyncSession, actor: Principal, conv: Conversation) -> int:
    """The lowest seq a customer may read: a group chat may hide what came before they joined."""
    if conv.kind is not ConversationKind.GROUP:
        return 0
    return await history_floor(db, actor.user_id, conv.id)


async def mark_read(svc: Services, actor: Principal, conversation_id: int, seq: int) -> int:
    """Move the participant's read position forward (never back); return the stored one."""
    if seq < 0:
        raise ValidationFailed("seq must be 0 or more", code="invalid_frame")
    async with svc.sessions.begin() as db:
        conv, _ = await load_visible(db, actor, conversation_id)
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


def conversation_json(
    conv: Conversation, read_seq: int | None = None, *, staff: bool, ticket: dict[str, Any] | bool | None = False
) -> dict[str, Any]:
    """The conversation as staff (``staff``) or anyone else sees it: ``last_seq`` is the
    latest seq the reader can see — for everyone but staff the last *public* one (internal
    notes and staff-only events are not theirs to count). With ``ticket`` (a summary from
    ``escalation.views.ticket_summary``, or ``None`` for a conversation without one) also
    its ticket's place in the queues."""
    body: dict[str, Any] = {
        "id": conv.id,
        "kind": conv.kind.value,
        "status": conv.status.value,
        "subject": conv.subject,
        "site_id": conv.site_id,
        "organization_id": conv.organization_id,
        "created_by_id": conv.created_by_id,
        "last_seq": conv.last_seq if staff else conv.last_public_seq,
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
            conversation_json(c, r, staff=actor.is_staff,
                              ticket=ticket_summary(t, staff=actor.is_staff) if t is not None else None)
            for c, r, t in rows
        ]


async def conversation_detail(svc: Services, actor: Principal, conversation_id: int) -> dict[str, Any]:
    """One conversation as :func:`list_conversations` shows it (its ticket's summary, null
    without one), with the reader's read position; customers see the last public seq."""
    async with svc.reads() as db:
        conv, _ = await load_visible(db, actor, conversation_id)
        read_seq = await read_position(db, actor.user_id, conv.id)
        ticket = await db.get(Ticket, conv.id)
    summary = ticket_summary(ticket, staff=actor.is_staff) if ticket is not None else None
    return conversation_json(conv, read_seq, staff=actor.is_staff, ticket=summary)

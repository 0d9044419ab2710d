"""The end of a ticket, seen from the customer: ending the chat, rating the answer, and
starting a new conversation linked to a closed one (FFC: after a close, a further
problem needs a new ticket)."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from chat.authz import Action, Principal
from chat.conversations import NewConversation, start_conversation
from chat.errors import Conflict, Forbidden, NotFound
from chat.events import EventKind, append_event, author_json, event_json
from chat.models import Conversation, ConversationKind, ConversationStatus, User
from chat.secrets_mask import mask_secrets
from chat.services import Services
from escalation.access import require_on_ticket, ticket_ref
from escalation.chat_reads import lock_conversation
from escalation.errors import AlreadyRated, EscalationError
from escalation.lifecycle import TicketState, TicketStatus, rate
from escalation.models import Ticket, TicketRating
from escalation.prechat import Prechat
from escalation.ratings import Rating, RatingValue
from escalation.steps import actor_user, apply_status, run_and_render
from escalation.unit_of_work import Work, actor_of, app_error, run_unit


def rating_of(value: str, reason: str | None = None, comment: str | None = None) -> Rating:
    """A rating from the wire (``good`` | ``none`` | ``bad``), or 422 ``invalid_rating``.
    Secrets in the comment are masked: it is customer text that reports and exports show."""
    if comment is not None:
        comment = mask_secrets(comment).text
    try:
        return Rating(RatingValue(value) if value in set(RatingValue) else value, reason, comment)  # type: ignore[arg-type]
    except EscalationError as exc:
        raise app_error(exc) from None


async def rate_in_unit(work: Work, user: User | None, rating: Rating) -> None:
    """Record ``rating`` inside a ticket's unit of work — the widget's vote and a mail
    link's alike (:mod:`chat.mail.votes` spends its link in the same unit): the
    lifecycle's guard, once per resolution round."""
    t = work.ticket
    existing = await work.db.scalar(
        select(TicketRating).where(TicketRating.conversation_id == t.conversation_id, TicketRating.round == t.resolution_round)
    )
    state = work.state()
    if existing is not None:
        state = _with_rating(state, existing)
    rate(state, work.now, actor_of(user), rating)  # the lifecycle's guard: status, once per round
    try:
        async with work.db.begin_nested():
            work.db.add(TicketRating(
                conversation_id=t.conversation_id, round=t.resolution_round, value=rating.value.value,
                reason=rating.reason, comment=rating.comment, rated_by_id=user.id if user else None,
                created_at=work.now,
            ))
    except IntegrityError:
        # Another request rated this round a moment earlier.
        raise app_error(AlreadyRated("this ticket is already rated", command="rate",
                                     from_status=state.status.value, to_status=state.status.value)) from None
    t.rating = rating.value.value  # the report fact: the latest rating
    await work.append("ticket.rated", user, internal=False, value=rating.value.value, reason=rating.reason,
                      comment=rating.comment)


def _with_rating(state: TicketState, row: TicketRating) -> TicketState:
    return replace(state, rating=Rating(RatingValue(row.value), row.reason, row.comment))


async def rate_ticket(
    svc: Services, actor: Principal, ticket_id: int, value: str, *, reason: str | None = None,
    comment: str | None = None,
) -> dict[str, Any]:
    """The requester rates the resolution: only while it is proposed to close or closed,
    once per resolution (a second: 409 ``already_rated``; an open ticket: 409
    ``rating_not_allowed``)."""
    rating = rating_of(value, reason, comment)

    async def change(work: Work) -> None:
        await require_on_ticket(work.db, actor, work.conv, work.ticket, Action.RATE_TICKET)
        await rate_in_unit(work, await actor_user(work, actor), rating)

    return await run_and_render(svc, ticket_id, change, actor)


async def close_conversation(
    svc: Services, actor: Principal, conversation_id: int, *, rating: Rating | None = None
) -> dict[str, Any]:
    """The customer ends the chat (and may rate it in the same step). Closed is final:
    later messages are refused with ``conversation_closed``."""

    async def change(work: Work) -> None:
        await require_on_ticket(work.db, actor, work.conv, work.ticket, Action.END_CONVERSATION)
        user = await actor_user(work, actor)
        if work.ticket.status is TicketStatus.CLOSED:
            raise Conflict("this conversation is already closed", code="conversation_closed")
        await apply_status(work, user, "close")
        if rating is not None:
            await rate_in_unit(work, user, rating)

    return await run_and_render(svc, conversation_id, change, actor)


async def start_follow_up(
    svc: Services,
    actor: Principal,
    *,
    linked_to: int,
    subject: str = "",
    body: str | None = None,
    client_msg_id: str | None = None,
    prechat: Prechat | None = None,
) -> NewConversation:
    """A new support chat after a closed one of the same requester, linked both ways
    (``ticket.linked`` in each). The old one must be closed (409 ``not_closed``) and the
    actor its requester (others: 403; one who cannot see it: 404)."""
    async with svc.reads() as db:
        old = await db.get(Ticket, linked_to)
        conv = await db.get(Conversation, linked_to) if old is not None else None
        if old is None or conv is None or conv.kind is not ConversationKind.CHAT:
            raise NotFound("no such conversation", code="not_found")
        ref = await ticket_ref(db, actor, conv, old)
        if not (ref.is_requester or ref.conversation.is_participant):
            raise NotFound("no such conversation", code="not_found")
        if not ref.is_requester:
            raise Forbidden("only the requester continues their own conversation")
        if conv.status is not ConversationStatus.CLOSED:
            raise Conflict("that conversation is still open: write there", code="not_closed")
    created = await start_conversation(
        svc, actor, subject=subject, body=body, client_msg_id=client_msg_id, prechat=prechat
    )
    if created.duplicate:  # a retry: the chat and its links are already there
        return created
    new_id = created.conversation.id

    async def link(work: Work) -> None:
        user = await actor_user(work, actor)
        work.ticket.linked_from_id = linked_to
        await work.append("ticket.linked", user, internal=False, data={"from": linked_to, "to": new_id})
        previous = await lock_conversation(work.db, linked_to)
        old_ticket = await work.db.get(Ticket, linked_to)
        assert previous is not None and old_ticket is not None
        old_ticket.linked_to_id = new_id
        stored = await append_event(
            work.db, linked_to, kind=EventKind.SYSTEM, now=work.now,
            data={"event": "ticket.linked", "actor": author_json(user), "from": linked_to, "to": new_id},
        )
        work.events.append(event_json(stored, None))

    await run_unit(svc, new_id, link)
    return created

"""Opening a ticket directly: web form, API, the widget's offline form, an agent on behalf
of a caller (phone) or an e-mail, or a message raised from a company's group chat.

The ticket is a conversation of kind ``chat`` with its description as the first message,
tracked from the start (every SLA clock runs), in one transaction with its row.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from chat import validation
from chat.authz import Action, Principal, require
from chat.conversations import conversation_json
from chat.errors import Forbidden, ValidationFailed
from chat.events import (
    EventKind,
    append_event,
    attribution,
    author_json,
    event_json,
    load_visible,
    place_attachments,
    stage_event,
)
from chat.models import (
    STAFF_ROLES,
    Attachment,
    Conversation,
    ConversationKind,
    ConversationStatus,
    OrganizationDomain,
    Participant,
    Role,
    User,
)
from chat.secrets_mask import mask_secrets
from chat.services import Services
from escalation import fields
from escalation.config import load_desk
from escalation.history_facts import sla_facts
from escalation.lifecycle import Actor
from escalation.lifecycle import open_ticket as open_state
from escalation.models import TicketChannel
from escalation.unit_of_work import (
    Work,
    begin_work,
    finish_work,
    first_line_partner,
    new_chat_ticket,
    publish_work,
    record_facts,
)
from escalation.views import desk_view, ticket_json

# The channels staff type in for a caller (phone, e-mail); customers raise the others themselves.
ON_BEHALF = frozenset({TicketChannel.PHONE, TicketChannel.EMAIL})


@dataclass(frozen=True)
class TicketDraft:
    subject: str
    description: str
    channel: TicketChannel = TicketChannel.WEB
    category: str | None = None
    severity: int | None = None
    requester_id: int | None = None  # phone / e-mail / group_chat by staff: the customer
    requester_email: str | None = None  # phone / e-mail: found or created as a customer
    email: str | None = None  # widget_offline: how to reach the visitor
    name: str | None = None  # widget_offline: the visitor's name
    assets: Sequence[str] = ()
    happened_at: datetime | None = None
    cc: Sequence[int] = ()
    linked_from: int | None = None  # the conversation it was raised from (a group chat)
    linked_seq: int | None = None  # the message of ``linked_from`` it was raised from


async def _contact(db: AsyncSession, email: str, now: datetime) -> User:
    """The customer with this e-mail, created (without a password) on first contact; the
    organization is the one owning the e-mail's domain, if any (e-mail intake, FEATURES §6)."""
    found = await db.scalar(select(User).where(User.email == email))
    if found is not None:
        return found
    org_id = await db.scalar(
        select(OrganizationDomain.organization_id).where(OrganizationDomain.domain == email.rpartition("@")[2])
    )
    user = User(
        email=email, name="", role=Role.CUSTOMER, organization_id=org_id, password_hash=None, language="en",
        notification_prefs={}, disabled=False, created_at=now,
    )
    db.add(user)
    await db.flush()
    return user


async def _requester(db: AsyncSession, actor: Principal, draft: TicketDraft, now: datetime) -> User:
    staff = actor.role in STAFF_ROLES
    if draft.channel in ON_BEHALF or (draft.channel is TicketChannel.GROUP_CHAT and staff):
        require(actor, Action.OPEN_TICKET_FOR_OTHERS)
        if (draft.requester_id is None) == (draft.requester_email is None):
            raise ValidationFailed(f"a {draft.channel.value} ticket names the customer: requester_id or requester_email")
        if draft.requester_id is not None:
            user = await db.get(User, draft.requester_id)
            if user is None or user.disabled:
                raise ValidationFailed(f"requester_id: no such user {draft.requester_id}")
        else:
            user = await _contact(db, validation.email(draft.requester_email or "", "requester_email"), now)
        if user.role in STAFF_ROLES:
            raise ValidationFailed("the requester is a customer, not a member of staff")
        return user
    require(actor, Action.OPEN_TICKET)
    if staff:
        raise Forbidden("staff open tickets on behalf of a customer: channel phone or email with requester_id")
    if draft.requester_id is not None or draft.requester_email is not None:
        raise ValidationFailed("requester_id and requester_email are for staff taking a call or an e-mail")
    if draft.channel is TicketChannel.CHAT:
        raise ValidationFailed("channel chat is a live conversation: POST /api/conversations")
    if draft.channel is TicketChannel.WIDGET_OFFLINE and actor.role not in (Role.VISITOR, Role.CUSTOMER):
        raise Forbidden("the offline form is the widget's: a visitor or customer token")
    user = await db.get(User, actor.user_id)
    assert user is not None
    return user


async def open_ticket(svc: Services, actor: Principal, draft: TicketDraft) -> dict[str, Any]:
    """Open a tracked ticket; returns its JSON (as the actor sees it). One transaction with
    the conversation, its first message and the ``ticket.opened`` event; published after."""
    subject = validation.text(draft.subject, "subject", max_length=300)
    description = validation.text(draft.description, "description", max_length=svc.settings.max_message_chars)
    contact_email = None
    if draft.channel is TicketChannel.WIDGET_OFFLINE:
        if draft.email is None:
            raise ValidationFailed("email: the offline form needs an address to answer to")
        contact_email = validation.email(draft.email)
    contact_name = validation.text(draft.name or "", "name", max_length=200, required=False) or None
    assets = fields.assets(draft.assets)
    severity = fields.severity(draft.severity)
    now = svc.clock.now()
    happened_at = fields.happened_at(draft.happened_at, now)
    async with svc.sessions.begin() as db:
        desk = await load_desk(db, svc.settings)
        category = fields.category(desk, draft.category, staff=actor.role in STAFF_ROLES)
        severity = fields.default_severity(desk, category, severity)
        requester = await _requester(db, actor, draft, now)
        cc = await fields.cc_users(db, draft.cc, requester=requester)
        if contact_name and not requester.name:
            requester.name = contact_name
        source = None
        if draft.linked_from is not None:
            source, _ = await load_visible(db, actor, draft.linked_from)
        author = await db.get(User, actor.user_id)
        work = await _create(
            svc, db, requester, author, subject=subject, description=description, channel=draft.channel, now=now,
            cc=cc, source=source, linked_seq=draft.linked_seq, category=category, severity=severity, assets=assets,
            happened_at=happened_at, contact_email=contact_email, contact_name=contact_name,
            acting=attribution(actor),
        )
        conv, ticket = work.conv, work.ticket
        body = await ticket_json(db, ticket, conv, staff=desk_view(actor, ticket))
    await publish_work(svc, work)
    return body


async def open_ticket_in(
    svc: Services,
    db: AsyncSession,
    requester: User,
    *,
    subject: str,
    description: str,
    channel: TicketChannel,
    cc: Sequence[int] = (),
    linked_from: Conversation | None = None,
    files: Sequence[Attachment] = (),
    message_data: Mapping[str, Any] | None = None,
) -> Work:
    """Open a tracked ticket for ``requester`` (who also writes its first message) inside
    the caller's transaction, for intakes that store more with it (e-mail: the received
    mail's row, its files). The caller checked ``subject`` / ``description`` / ``cc``
    (:func:`escalation.fields.cc_users`), commits, then calls :func:`publish_work` on the
    returned unit. ``linked_from``: the closed ticket this one follows up (FFC).
    ``files``: unsaved attachment rows whose bytes are already in the upload store;
    they are added to the conversation and carried by the first message.
    ``message_data``: extra data of the first message (e.g. the received mail's id)."""
    now = svc.clock.now()
    return await _create(
        svc, db, requester, requester, subject=subject, description=description, channel=channel, now=now,
        cc=list(cc), source=linked_from, linked_seq=None, files=files, message_data=message_data,
    )


async def _create(
    svc: Services, db: AsyncSession, requester: User, author: User | None, *, subject: str, description: str,
    channel: TicketChannel, now: datetime, cc: list[int], source: Conversation | None, linked_seq: int | None,
    category: str | None = None, severity: int | None = None, assets: list[str] | None = None,
    happened_at: datetime | None = None, contact_email: str | None = None, contact_name: str | None = None,
    files: Sequence[Attachment] = (), message_data: Mapping[str, Any] | None = None,
    acting: Mapping[str, int] | None = None,
) -> Work:
    """The conversation, its first message, the ticket row and ``ticket.opened``, in the
    caller's transaction; the unit is finished (deadlines computed), not yet published.
    ``acting``: the caller's :func:`chat.events.attribution` (an impersonation names both
    people on what the requester writes here).

    The conversation is new, so this transaction holds it: its events are numbered on the
    row and written with the participants, the ticket and the counters by one flush
    (:func:`chat.events.stage_event`), after the reads (an autoflush in between would
    split it)."""
    # Every way a ticket opens comes here (web form, API, offline form, phone, e-mail):
    # secrets in its subject and description are masked before anything is stored.
    subject_masked, description_masked = mask_secrets(subject), mask_secrets(description)
    subject, description = subject_masked.text, description_masked.text
    # The offline form's answers too, as a chat's pre-chat answers are (escalation.prechat).
    assets = [mask_secrets(a).text for a in assets] if assets else assets
    contact_name = mask_secrets(contact_name).text if contact_name else contact_name
    conv = Conversation(
        kind=ConversationKind.CHAT, status=ConversationStatus.OPEN, subject=subject,
        site_id=requester.site_id, organization_id=requester.organization_id, created_by_id=requester.id,
        last_seq=0, last_public_seq=0, created_at=now, updated_at=now,
    )
    db.add(conv)
    await db.flush()
    ticket = new_chat_ticket(conv, now, channel=channel)
    ticket.handled_by_org_id = await first_line_partner(db, conv.organization_id)
    work = await begin_work(svc, db, conv, ticket, created=True, deferred=True)
    work.acting = dict(acting or {})
    # Only what the requester writes names both (staff entering a ticket are not impersonating).
    by_requester = work.acting if work.acting.get("on_behalf_of") == requester.id else {}
    for user_id in (requester.id, *cc):
        db.add(Participant(conversation_id=conv.id, user_id=user_id, joined_at=now, last_read_seq=0))
    work.staged(stage_event(
        db, conv, kind=EventKind.SYSTEM, now=now,
        data={"event": "conversation.created", "user": author_json(requester), "subject": subject,
              **({"masked": list(subject_masked.kinds)} if subject_masked.found else {}), **by_requester},
    ), None)
    data: dict[str, Any] = {"entered_by": author_json(author)} if author is None or requester.id != author.id else {}
    data.update(message_data or {})
    data.update(by_requester)
    if description_masked.found:
        data["masked"] = list(description_masked.kinds)
    if files:
        data["attachments"] = await place_attachments(db, files, conv.id, requester.id, now)
    first = stage_event(db, conv, kind=EventKind.MESSAGE, now=now, author_id=requester.id, body=description, data=data)
    work.staged(first, requester)
    opened = open_state(now, Actor.customer(str(requester.id)))
    ticket.sla_facts = []
    record_facts(ticket, sla_facts(opened.events))
    ticket.tracked, ticket.tracked_at, ticket.tracked_reason = True, now, "opened"
    ticket.category, ticket.severity, ticket.cc, ticket.assets = category, severity, cc, assets or []
    ticket.happened_at, ticket.contact_email, ticket.contact_name = happened_at, contact_email, contact_name
    ticket.linked_from_id = source.id if source is not None else None
    db.add(ticket)
    work.inbox = ["created"]
    await work.append("ticket.opened", author, internal=False, channel=channel.value,
                      category=category, severity=severity, level=1, group=None)
    if source is not None:
        await _link_source(work, source, author, linked_seq)
    await finish_work(work)
    if files:
        for row in files:  # the message's id is known after the flush
            row.event_id = first.id
        await db.flush()
    return work


async def _link_source(work: Work, source: Conversation, user: User | None, seq: int | None) -> None:
    """``ticket.linked`` in the source conversation; ``linked_seq``: the message it came from."""
    stored = await append_event(
        work.db, source.id, kind=EventKind.SYSTEM, now=work.now,
        data={"event": "ticket.linked", "actor": author_json(user), "from": source.id, "to": work.conv.id,
              "linked_seq": seq},
    )
    work.events.append(event_json(stored, None))


@dataclass(frozen=True)
class OpenedTicket:
    """A ticket just opened, as ``POST /api/tickets`` answers: its JSON and its conversation's."""

    ticket: dict[str, Any]
    conversation: dict[str, Any]


async def open_ticket_with_conversation(svc: Services, actor: Principal, draft: TicketDraft) -> OpenedTicket:
    """:func:`open_ticket`, then its conversation as the actor sees it, read after the commit
    (a customer's ``last_seq`` counts only the public events)."""
    ticket = await open_ticket(svc, actor, draft)
    async with svc.reads() as db:
        conv = await db.get(Conversation, ticket["id"])
    assert conv is not None
    return OpenedTicket(ticket, conversation_json(conv, 0, staff=actor.is_staff))

"""Who may see a conversation changed: the after-commit message that makes every hub
re-check the live sockets of the people it names.

A use case that takes people off a conversation (a ticket's CC, a partner's admin the
ticket no longer sits with) records them with :func:`access_lost` inside its transaction
and publishes the message after the commit (:func:`publish_access`). Every process with a
socket in that conversation's room hears it on the conversation's channel — only those
processes subscribe to it — and drops the named users' sockets that may no longer read
the conversation (:meth:`chat.hub.hub.Hub`), deciding with :mod:`chat.authz` on the facts
the message carries, which were read in the committing transaction. Someone who still may
read it another way (staff, a reseller admin over the customer's company) keeps it,
exactly as a fresh ``join`` would let them in.

Why the facts travel in the message: the hub decides synchronously, in the broker
listener, before it hands the socket anything heard after this message on the channel.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from chat.authz import ConversationRef
from chat.events import conversation_channel
from chat.models import Conversation, ConversationStatus, Organization, Participant
from chat.services import Services

ACCESS_MESSAGE = "access"


async def access_lost(db: AsyncSession, conv: Conversation, user_ids: Iterable[int]) -> dict[str, Any] | None:
    """The broker message telling the hubs that ``user_ids`` are no longer participants of
    ``conv`` (as this transaction will commit it); ``None`` for nobody."""
    users = sorted(set(user_ids))
    if not users:
        return None
    parent_id = None
    if conv.organization_id is not None:
        parent_id = await db.scalar(select(Organization.parent_id).where(Organization.id == conv.organization_id))
    return {
        "type": ACCESS_MESSAGE, "conversation_id": conv.id, "user_ids": users,
        "organization_id": conv.organization_id, "org_parent_id": parent_id,
        "is_open": conv.status is ConversationStatus.OPEN,
    }


async def lost_since(db: AsyncSession, rooms: Mapping[int, set[int]]) -> list[dict[str, Any]]:
    """The access messages a process may have missed (a broker outage): for each
    conversation of ``rooms`` (id → the users with a non-staff socket in its room), the
    users who are no longer participants, as :func:`access_lost` would have named them.
    Two statements, whatever the number of rooms."""
    rooms = {c: users for c, users in rooms.items() if users}
    if not rooms:
        return []
    everyone = set().union(*rooms.values())
    current = {(int(c), int(u)) for c, u in await db.execute(
        select(Participant.conversation_id, Participant.user_id).where(
            Participant.conversation_id.in_(rooms), Participant.user_id.in_(everyone), Participant.left_at.is_(None))
    )}
    facts = await db.execute(
        select(Conversation.id, Conversation.organization_id, Organization.parent_id, Conversation.status)
        .outerjoin(Organization, Organization.id == Conversation.organization_id)
        .where(Conversation.id.in_(rooms))
    )
    messages = []
    for conv_id, org_id, parent_id, status in facts:
        gone = sorted(u for u in rooms[conv_id] if (conv_id, u) not in current)
        if gone:
            messages.append({
                "type": ACCESS_MESSAGE, "conversation_id": conv_id, "user_ids": gone, "organization_id": org_id,
                "org_parent_id": parent_id, "is_open": status is ConversationStatus.OPEN,
            })
    return messages


def lost_ref(message: dict[str, Any]) -> ConversationRef:
    """The conversation as the named users now stand to it: not participants."""
    return ConversationRef(
        id=int(message["conversation_id"]), organization_id=message.get("organization_id"),
        org_parent_id=message.get("org_parent_id"), is_participant=False, is_open=bool(message.get("is_open")),
    )


async def publish_access(svc: Services, messages: Iterable[dict[str, Any]]) -> None:
    """After the commit: on each conversation's channel. Like every publish, best effort:
    one lost while the broker is away is made up for by the hubs when it is back
    (:func:`lost_since`, before they catch their sockets up)."""
    for message in messages:
        await svc.publish(conversation_channel(int(message["conversation_id"])), message)


__all__ = ["ACCESS_MESSAGE", "access_lost", "lost_ref", "lost_since", "publish_access"]

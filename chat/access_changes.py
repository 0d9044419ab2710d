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

from collections.abc import Iterable
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from chat.authz import ConversationRef
from chat.events import conversation_channel
from chat.models import Conversation, ConversationStatus, Organization
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


def lost_ref(message: dict[str, Any]) -> ConversationRef:
    """The conversation as the named users now stand to it: not participants."""
    return ConversationRef(
        id=int(message["conversation_id"]), organization_id=message.get("organization_id"),
        org_parent_id=message.get("org_parent_id"), is_participant=False, is_open=bool(message.get("is_open")),
    )


async def publish_access(svc: Services, messages: Iterable[dict[str, Any]]) -> None:
    """After the commit: on each conversation's channel. Like every publish, best effort:
    one lost while the broker is away is not replayed, and a socket that was in the room
    then keeps it until it joins again (which is refused) — a join checks, the catch-up
    after an outage does not."""
    for message in messages:
        await svc.publish(conversation_channel(int(message["conversation_id"])), message)


__all__ = ["ACCESS_MESSAGE", "access_lost", "lost_ref", "publish_access"]

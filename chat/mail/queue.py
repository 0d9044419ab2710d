"""Putting a mail in the outbox, inside the caller's transaction.

The one gate every mail passes: no address, a disabled user, a switched-off kind, a
suppressed address or a blocked one (spam, issue 16) queue nothing (and raise nothing:
"a user with no e-mail" is normal).
The mail is composed here, once, with its Message-ID fixed, so what the sender delivers —
and delivers again after a crash — is byte for byte what was decided.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from functools import lru_cache
from typing import Any

from sqlalchemy import select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from chat.mail import links
from chat.mail.compose import Composed, MailIdentity, Recipient, compose
from chat.mail.inbound.senders import block_patterns
from chat.mail.kinds import MailKind, wants
from chat.mail.models import MailBlock, MailStatus, OutboxMail
from chat.mail.outbox import is_suppressed
from chat.models import User
from chat.services import Services
from chat.settings import Settings


@lru_cache(maxsize=8)
def identity_of(settings: Settings) -> MailIdentity:
    """The sending identity for a process's settings (derived once: it hashes the key)."""
    return MailIdentity.of(settings)


def recipient_of(user: User | None, address: str, fallback_name: str = "") -> Recipient:
    if user is None:
        return Recipient(address=address, name=fallback_name, language="en", time_zone="UTC")
    return Recipient(address=address, name=user.name or fallback_name, language=user.language or "en",
                     time_zone=user.time_zone or "UTC")


def render(
    svc: Services, kind: MailKind, user: User | None, address: str, context: Mapping[str, Any], *, now: datetime,
    ticket: int | None = None, sender_name: str | None = None, references: Sequence[str] = (),
) -> Composed:
    """Compose one mail for one recipient (also used to re-render a growing digest)."""
    to = recipient_of(user, address, str(context.get("recipient_name") or ""))
    return compose(
        identity_of(svc.settings), kind, to, {**context, "recipient_name": to.name}, now=now, ticket=ticket,
        sender_name=sender_name, unsubscribe_url=links.unsubscribe_link(
            svc.tokens, svc.settings.public_url, user_id=user.id if user is not None else None, address=address,
            kind=kind),
        references=references,
    )


async def is_blocked(db: AsyncSession, address: str) -> bool:
    """Whether ``address`` or its whole domain is on the spam block list (``mail_blocklist``):
    its mail opens nothing, and nothing is mailed to it."""
    found = await db.scalar(select(MailBlock.pattern).where(MailBlock.pattern.in_(block_patterns(address))).limit(1))
    return found is not None


async def queue_mail(
    db: AsyncSession,
    svc: Services,
    *,
    key: str,
    kind: MailKind,
    user: User | None,
    address: str | None = None,
    context: Mapping[str, Any],
    now: datetime,
    ticket: int | None = None,
    conversation_id: int | None = None,
    sender_name: str | None = None,
    due_at: datetime | None = None,
    held: bool = False,
) -> OutboxMail | None:
    """Queue ``kind`` for ``user`` (at ``address`` when given, else the user's e-mail) in
    the caller's transaction. Returns the new row, or None when nothing is to be sent or
    ``key`` was queued before (planning the same event twice sends one mail). ``held``:
    the planner looks at it again at ``due_at`` before it may go (:mod:`chat.mail.planner`)."""
    target = (address or (user.email if user is not None else None) or "").strip()
    if not target or "@" not in target:
        return None
    if user is not None and (user.disabled or not wants(user.notification_prefs or {}, kind)):
        return None
    if await is_suppressed(db, target) or await is_blocked(db, target):
        return None
    if await db.scalar(select(OutboxMail.id).where(OutboxMail.key == key)) is not None:
        return None
    composed = render(svc, kind, user, target, context, now=now, ticket=ticket, sender_name=sender_name)
    values = {
        "key": key, "kind": kind.value, "to_addr": target, "to_user_id": user.id if user is not None else None,
        "conversation_id": conversation_id, "message_id": composed.message_id, "subject": composed.subject,
        "raw": composed.raw, "context": {**context, "ticket_number": ticket, "sender_name": sender_name},
        "status": MailStatus.HELD if held else MailStatus.PENDING, "attempts": 0, "due_at": due_at or now,
        "created_at": now, "updated_at": now,
    }
    # Two planners racing on one event: the unique key lets exactly one row in, and the
    # loser inserts nothing instead of failing its whole transaction.
    dialect = postgresql if db.get_bind().dialect.name == "postgresql" else sqlite
    inserted = await db.scalar(
        dialect.insert(OutboxMail).values(**values).on_conflict_do_nothing(index_elements=["key"])
        .returning(OutboxMail.id)
    )
    return None if inserted is None else await db.get(OutboxMail, inserted)

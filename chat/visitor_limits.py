"""Limits on anonymous use (issue 20): what one client address or one widget visitor may
create before it is refused with 429 and ``Retry-After``.

An outside probe created 300 visitor sessions in 1.4 s, opened 200 chats as one visitor in
6 s (the New queue went from 47 to 247) and kept 20 uploads of 1 MiB that were never sent.
Each bound is a setting (chat/settings.py, docs/operations.md). The counts come from the
database, so every web process sees the same ones: new visitors per address in the
throttle table's windowed counter (chat/throttle.py), a visitor's conversations and unsent
uploads by a count over their own rows. Only anonymous visitors (``Role.VISITOR``) are
bound here: customers and staff have accounts someone made for them, and a site's
identified users are vouched for by its HMAC.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from chat import throttle
from chat.authz import Principal
from chat.errors import TooManyRequests
from chat.models import Attachment, Conversation, ConversationStatus, Participant, Role, Site, User
from chat.services import Services
from chat.tokens import InvalidToken, Purpose

# An open-at-a-time refusal ends when the visitor closes a chat, not at a known time: the
# client is told to look again in a minute.
OPEN_RETRY_SECONDS = 60


def _known_visitor(svc: Services, visitor_token: str | None, site_id: int) -> bool:
    """Whether ``visitor_token`` is a genuine, unexpired visitor token of this site (the
    session goes on with its visitor; nothing is created). Signature only: no query."""
    if not visitor_token or not visitor_token.startswith("v:"):
        return False
    try:
        payload = svc.tokens.verify(Purpose.VISITOR, visitor_token[2:], max_age=svc.settings.visitor_token_ttl_seconds)
    except InvalidToken:
        return False
    return isinstance(payload.get("uid"), int) and payload.get("site") == site_id


async def admit_visitor_session(
    svc: Services, *, site_key: str, visitor_token: str | None, identified: bool, address: str | None
) -> None:
    """Before ``POST /api/widget/session``: a call that will create a new anonymous visitor
    (no genuine token of this site, no identity) counts against its client address;
    past ``VISITOR_SESSIONS_PER_ADDRESS`` within ``VISITOR_SESSION_WINDOW_SECONDS``: 429
    ``too_many_visitors``. A returning visitor and an identified user never count; an
    unknown site is left to the use case (404)."""
    if identified:
        return
    settings = svc.settings
    async with svc.sessions.begin() as db:
        site_id = await db.scalar(select(Site.id).where(Site.public_key == site_key))
        if site_id is None or _known_visitor(svc, visitor_token, site_id):
            return
        await throttle.take(
            db, "visitor:" + throttle.address_key(address), limit=settings.visitor_sessions_per_address,
            window_seconds=settings.visitor_session_window_seconds, now=svc.clock.now(),
            message="too many new visitors from this address; try again later", code="too_many_visitors",
        )


async def check_new_conversation(db: AsyncSession, svc: Services, actor: Principal, now: datetime) -> None:
    """In the transaction that opens a conversation for ``actor``: a visitor with
    ``VISITOR_OPEN_CONVERSATIONS`` open (429 ``too_many_open_conversations``) or who
    opened ``VISITOR_CONVERSATIONS_PER_HOUR`` in the last hour (429
    ``too_many_conversations``) is refused, and nothing is stored."""
    if actor.role is not Role.VISITOR:
        return
    settings = svc.settings
    # The visitor's row, locked: two starts of one visitor at once take turns (PostgreSQL;
    # SQLite's writers take turns anyway), so neither slips past the count.
    await db.execute(select(User.id).where(User.id == actor.user_id).with_for_update())
    since = now - timedelta(hours=1)
    # Through participants (indexed by user): a visitor is in the chats it opened.
    mine = (
        select(Conversation.status, Conversation.created_at)
        .join(Participant, Participant.conversation_id == Conversation.id)
        .where(Participant.user_id == actor.user_id, Conversation.created_by_id == actor.user_id)
        .subquery()
    )
    open_now, oldest_recent, recent = (await db.execute(
        select(
            func.count().filter(mine.c.status == ConversationStatus.OPEN),
            func.min(mine.c.created_at).filter(mine.c.created_at > since),
            func.count().filter(mine.c.created_at > since),
        )
    )).one()
    if open_now >= settings.visitor_open_conversations:
        raise TooManyRequests(
            f"you have {open_now} conversations open; close one before starting another",
            retry_after=OPEN_RETRY_SECONDS, code="too_many_open_conversations",
        )
    if recent >= settings.visitor_conversations_per_hour:
        wait = (oldest_recent + timedelta(hours=1) - now).total_seconds() if oldest_recent is not None else 3600
        raise TooManyRequests("too many conversations started in the last hour; try again later",
                              retry_after=int(wait) + 1, code="too_many_conversations")


async def check_unsent_uploads(svc: Services, actor: Principal, declared_size: int | None) -> None:
    """Before a visitor's upload is read: at most ``VISITOR_UNSENT_UPLOADS`` files and
    ``VISITOR_UNSENT_UPLOAD_BYTES`` bytes (this one's declared size included) uploaded and
    not yet sent in a message; else 429 ``too_many_unsent_uploads``, ``Retry-After`` until
    the oldest is cleaned up (``UNSENT_UPLOAD_HOURS``). Sending frees the budget."""
    if actor.role is not Role.VISITOR:
        return
    settings = svc.settings
    async with svc.reads() as db:
        count, size, oldest = (await db.execute(
            select(func.count(), func.coalesce(func.sum(Attachment.size), 0), func.min(Attachment.created_at))
            .where(Attachment.uploader_id == actor.user_id, Attachment.event_id.is_(None))
        )).one()
    if count >= settings.visitor_unsent_uploads or size + (declared_size or 1) > settings.visitor_unsent_upload_bytes:
        now = svc.clock.now()
        cleaned_at = (oldest or now) + timedelta(hours=settings.unsent_upload_hours)
        raise TooManyRequests(
            f"you have {count} files ({size} bytes) uploaded but not sent; send them or remove some first",
            retry_after=int((cleaned_at - now).total_seconds()) + 1, code="too_many_unsent_uploads",
        )

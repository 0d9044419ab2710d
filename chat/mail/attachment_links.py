"""Attachments in mails: a mail never carries a file inline, only a signed, expiring link
(issue 15, item 7) — ``/mail/attachment?t=…`` with a ``MAIL_ATTACHMENT`` token of
``{"a": attachment_id}`` (:mod:`chat.mail.links`).

The link is the capability: whoever holds the mail may fetch the file until the link
expires, without signing in (the recipient reads the mail on a phone with no session).
"""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import select

from chat.attachments import stored_file
from chat.mail.links import read
from chat.mail.votes import LinkRefused, expired_link, invalid_link
from chat.models import Attachment, Event
from chat.services import Services
from chat.tokens import ExpiredToken, InvalidToken, Purpose

# Postgres' BIGINT: an id outside it must not reach SQL.
_MAX_ID = 2**63 - 1


def _gone() -> LinkRefused:
    # Deliberately the same answer for a file that was deleted, never sent, or sent in an
    # internal note: the link tells its holder nothing about what else exists.
    return LinkRefused("this file is no longer available", code="not_found", status=404)


async def open_attachment(svc: Services, token: str) -> tuple[Attachment, Path]:
    """The attachment named by a genuine, unexpired link and where its bytes are.

    Refusals (:class:`chat.mail.votes.LinkRefused`): ``invalid_token`` 400, ``token_expired``
    410, ``not_found`` 404 — also for a file on an internal note or not yet sent: the
    planner never mints such links, and if one were minted (a bug, or a message turned
    internal later) the file is still not served."""
    try:
        payload = read(svc.tokens, Purpose.MAIL_ATTACHMENT, token)
    except ExpiredToken:
        raise expired_link() from None
    except InvalidToken:
        raise invalid_link() from None
    attachment_id = payload.get("a")
    if not isinstance(attachment_id, int) or isinstance(attachment_id, bool) or not 0 < attachment_id <= _MAX_ID:
        raise invalid_link()
    async with svc.reads() as db:
        row = await db.get(Attachment, attachment_id)
        if row is None or row.event_id is None:
            raise _gone()
        internal = await db.scalar(select(Event.internal).where(Event.id == row.event_id))
        if internal is None or internal:
            raise _gone()
    path = await stored_file(svc, row.storage_key)
    if path is None:
        raise _gone()
    return row, path

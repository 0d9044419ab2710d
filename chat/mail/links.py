"""Signed links that go out in mails: rating votes, unsubscribe, attachment downloads,
password reset and invitations.

Every link is an itsdangerous token of its own purpose (:class:`chat.tokens.Purpose`),
stamped on the product's clock, so expiry is testable. A single-use link carries a
random ``jti``; the use case that honours it records the jti in ``spent_tokens`` in the
same transaction as the vote or the new password, so the same link never counts twice.
"""

from __future__ import annotations

import secrets
from typing import Any
from urllib.parse import quote

from chat.mail.kinds import KINDS, MailKind
from chat.tokens import Purpose, Tokens

DAY = 86_400
# SKAI/BX rate by e-mail "within two weeks": after that the vote belongs in the portal.
RATING_LINK_SECONDS = 14 * DAY
# An unsubscribe link must keep working as long as old mails sit in mailboxes (RFC 8058
# asks for the link to work "for a reasonable time"); a year covers it.
UNSUBSCRIBE_LINK_SECONDS = 365 * DAY
# Long enough to read a mail about a ticket days later; short enough that a forwarded
# mail stops exposing the file.
ATTACHMENT_LINK_SECONDS = 30 * DAY
# OWASP: reset links short-lived. One hour covers a slow inbox.
PASSWORD_RESET_SECONDS = 3600
# An invitation waits for someone who may be on holiday.
INVITATION_SECONDS = 7 * DAY
# Minted when a support admin opens a mail in the console, used by its frame at once.
MAIL_VIEW_SECONDS = 300

MAX_AGE: dict[Purpose, int] = {
    Purpose.MAIL_RATING: RATING_LINK_SECONDS,
    Purpose.MAIL_UNSUBSCRIBE: UNSUBSCRIBE_LINK_SECONDS,
    Purpose.MAIL_ATTACHMENT: ATTACHMENT_LINK_SECONDS,
    Purpose.PASSWORD_RESET: PASSWORD_RESET_SECONDS,
    Purpose.INVITATION: INVITATION_SECONDS,
    Purpose.MAIL_VIEW: MAIL_VIEW_SECONDS,
}

# The paths the links open (routes in chat.http; pages documented in docs/http.md).
PATHS: dict[Purpose, str] = {
    Purpose.MAIL_RATING: "/mail/rate",
    Purpose.MAIL_UNSUBSCRIBE: "/mail/unsubscribe",
    Purpose.MAIL_ATTACHMENT: "/mail/attachment",
    Purpose.PASSWORD_RESET: "/account/reset",
    Purpose.INVITATION: "/account/invitation",
    Purpose.MAIL_VIEW: "/mail/view",
}


def new_jti() -> str:
    return secrets.token_urlsafe(12)


def mint(tokens: Tokens, purpose: Purpose, payload: dict[str, Any], *, single_use: bool = False) -> str:
    """A token for ``payload``; single-use tokens get a fresh ``jti``."""
    body = {**payload, "jti": new_jti()} if single_use else dict(payload)
    return tokens.issue(purpose, body)


def url(public_url: str, purpose: Purpose, token: str) -> str:
    """The absolute link for a token: ``{PUBLIC_URL}{path}?t={token}``."""
    return f"{public_url.rstrip('/')}{path(purpose, token)}"


def path(purpose: Purpose, token: str) -> str:
    """The link relative to our origin (for our own pages, e.g. the console's frames)."""
    return f"{PATHS[purpose]}?t={quote(token, safe='')}"


def link(tokens: Tokens, public_url: str, purpose: Purpose, payload: dict[str, Any], *, single_use: bool = False) -> str:
    return url(public_url, purpose, mint(tokens, purpose, payload, single_use=single_use))


def read(tokens: Tokens, purpose: Purpose, token: str) -> dict[str, Any]:
    """The payload of a genuine, unexpired link token; raises
    :class:`chat.tokens.InvalidToken` or :class:`chat.tokens.ExpiredToken`."""
    return tokens.verify(purpose, token, max_age=MAX_AGE[purpose])


def unsubscribe_link(tokens: Tokens, public_url: str, *, user_id: int | None, address: str, kind: MailKind) -> str | None:
    """The one-click unsubscribe link of a mail (RFC 8058; ``List-Unsubscribe`` and the
    footer): it switches ``kind`` off for the user, or — a recipient with no account —
    suppresses the bare address. ``None`` for essential kinds, which carry none."""
    if KINDS[kind].essential:
        return None
    payload: dict[str, Any] = {"u": user_id, "k": kind.value} if user_id is not None else {"a": address, "k": kind.value}
    return link(tokens, public_url, Purpose.MAIL_UNSUBSCRIBE, payload)

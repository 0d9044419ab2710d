"""A received mail as the rest of e-mail intake sees it: parsed, decoded, cut to what the
person wrote. Pure values; :mod:`chat.mail.inbound.parse` makes them from raw bytes."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime


class MalformedMail(ValueError):
    """A mail that cannot be used at all (no usable sender, not a message); ``reason`` is
    one line an admin reads in the received-mail log."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class InboundFile:
    """An attachment or an inline image of a received mail."""

    filename: str
    content_type: str
    data: bytes
    inline: bool


@dataclass(frozen=True)
class Bounce:
    """A delivery status notification (RFC 3464) about a mail we sent."""

    original_message_id: str | None
    """The bounced mail's Message-ID, from the report's returned headers."""
    recipients: tuple[str, ...]
    permanent: bool
    """Action ``failed`` with a 5.x.x status: the address will not take mail."""
    status: str
    """The first recipient's status and diagnostic, one line."""


@dataclass(frozen=True)
class ParsedMail:
    message_id: str | None
    """``<id@host>`` as given (one line), or None when absent or not an id."""
    sender: str | None
    """From's address (the local part as given, the domain lower-cased); None: unusable."""
    sender_name: str
    reply_to: str | None
    to: tuple[str, ...]
    cc: tuple[str, ...]
    subject: str
    """Decoded (RFC 2047), on one line."""
    date: datetime | None
    in_reply_to: tuple[str, ...]
    references: tuple[str, ...]
    text: str
    """What the person wrote: the text part (or sanitized HTML as text) with our reply
    marker, the quoted earlier mail and the signature cut off."""
    full_text: str
    """The whole body as text, quotes included (threading looks for our marker in it)."""
    files: tuple[InboundFile, ...]
    auto: str | None
    """Why the mail is automatic and must open nothing (``"Auto-Submitted: auto-replied"``,
    ``"Precedence: bulk"``, ``"List-Id"``, ``"X-Autoreply"``, ``"empty Return-Path"``,
    ``"mailer-daemon sender"``, ``"delivery report"``), or None: a person wrote it."""
    bounce: Bounce | None
    spam: bool
    """The upstream filter flagged it (``X-Spam-Flag: YES``)."""
    size: int

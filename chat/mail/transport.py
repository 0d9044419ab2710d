"""The mail port: hand one finished message to whatever delivers it.

Two adapters: SMTP (:mod:`chat.mail.smtp`, ``SMTP_URL``) and the development mailbox
(:mod:`chat.mail.devbox`, the embedded default), picked by :func:`open_transport`. The
sender (:mod:`chat.mail.sender`) knows only this interface. A transport never raises for
a delivery problem: it says what happened, and the sender decides (retry, fail, suppress).
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True)
class Envelope:
    mail_id: int
    sender: str
    """The envelope sender (MAIL FROM): a bare address of our domain."""
    recipient: str
    raw: bytes
    """The whole message, headers and body, as it goes after DATA."""


class Result(enum.StrEnum):
    DELIVERED = "delivered"
    TEMPORARY = "temporary"  # 4xx, refused or dropped connection, timeout: try again later
    PERMANENT = "permanent"  # 5xx: this address will not take it


@dataclass(frozen=True)
class Outcome:
    result: Result
    detail: str = ""
    """The server's reply or the error, for the outbox row and the console (one line)."""


DELIVERED = Outcome(Result.DELIVERED)


class MailTransport(Protocol):
    name: str
    """Stored on each sent row: ``"smtp"`` or ``"devbox"``."""

    async def send(self, envelope: Envelope) -> Outcome:
        """Deliver one message, reusing an open connection when there is one."""
        ...

    async def close(self) -> None:
        """Close any open connection (the next send opens a new one)."""
        ...

"""Mail tables: the outbox, the suppression list, the planner's cursor over the event log,
and spent single-use links. Created by migration 0007."""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, ForeignKey, Index, Integer, LargeBinary, String
from sqlalchemy.orm import Mapped, mapped_column

from chat.db import UTCDateTime
from chat.models import Base, BigId, _enum


class MailStatus(enum.StrEnum):
    # Waiting for a second look at ``due_at`` (the planner's): a digest of replies the
    # customer may still read in the chat, a new ticket a rule may still assign. Released
    # to pending or cancelled; a sender never takes a held row.
    HELD = "held"
    PENDING = "pending"  # waiting for its due time, or for a retry
    SENT = "sent"  # accepted by the SMTP server (or kept by the development mailbox)
    FAILED = "failed"  # refused for good (5xx) or out of retries: the address is suppressed
    CANCELLED = "cancelled"  # no longer wanted when due (the customer read the replies in the chat)


class OutboxMail(Base):
    """One mail to one address. The row is committed with (or derived from) the event that
    causes it, then a sender claims it, sends it and marks it; ``message_id`` is fixed when
    the row is written, so a resend after a crash is the same mail to the receiver."""

    __tablename__ = "mail_outbox"
    __table_args__ = (
        # The sender's claim: due pending rows, oldest first.
        Index("ix_mail_outbox_status_due", "status", "due_at"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    # Idempotency: what caused the mail and for whom ("ev:123:ticket_closed:u45"); planning
    # the same event twice inserts nothing.
    key: Mapped[str] = mapped_column(String(200), unique=True)
    kind: Mapped[str] = mapped_column(String(40))
    to_addr: Mapped[str] = mapped_column(String(320), index=True)
    to_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"), index=True)
    conversation_id: Mapped[int | None] = mapped_column(ForeignKey("conversations.id", ondelete="SET NULL"), index=True)
    message_id: Mapped[str] = mapped_column(String(255), unique=True)
    subject: Mapped[str] = mapped_column(String(400))
    # The whole RFC 5322 message as it goes on the wire (and as the console shows it).
    raw: Mapped[bytes] = mapped_column(LargeBinary)
    # What the mail was made from, for a digest that grows while it waits (event ids,
    # the last quoted seq): the planner re-renders from it.
    context: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    status: Mapped[MailStatus] = mapped_column(_enum(MailStatus, "mail_status"), default=MailStatus.PENDING)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    due_at: Mapped[datetime] = mapped_column(UTCDateTime)
    # A sender's lease: while it is in the future no other sender takes the row; a sender
    # killed mid-send leaves it to expire, and the mail goes again with the same Message-ID.
    claimed_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_error: Mapped[str | None] = mapped_column(String(500))
    transport: Mapped[str | None] = mapped_column(String(16))  # "smtp" or "devbox", once sent
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class MailSuppression(Base):
    """An address the SMTP server refused for good: nothing more is sent to it until a
    support admin clears it (docs/operations.md)."""

    __tablename__ = "mail_suppressions"

    address: Mapped[str] = mapped_column(String(320), primary_key=True)
    reason: Mapped[str] = mapped_column(String(500))
    mail_id: Mapped[int | None] = mapped_column(ForeignKey("mail_outbox.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


class MailCursor(Base):
    """How far the mail planner has read the event log (events.id)."""

    __tablename__ = "mail_cursors"

    name: Mapped[str] = mapped_column(String(40), primary_key=True)
    last_event_id: Mapped[int] = mapped_column(BigInteger, default=0)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)


class SpentToken(Base):
    """A single-use link that has been used (a rating vote, a password reset, an accepted
    invitation): the link's own id, so the same link never counts twice."""

    __tablename__ = "spent_tokens"

    jti: Mapped[str] = mapped_column(String(64), primary_key=True)
    purpose: Mapped[str] = mapped_column(String(32))
    spent_at: Mapped[datetime] = mapped_column(UTCDateTime)

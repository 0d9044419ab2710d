"""Mail tables: the outbox, the suppression list, the planner's cursor over the event log,
and spent single-use links. Created by migration 0007."""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, ForeignKey, Index, Integer, LargeBinary, String, UniqueConstraint
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


class InboundStatus(enum.StrEnum):
    """What became of a mail that came in (issue 16); every mail gets exactly one."""

    TICKET = "ticket"  # opened a new ticket
    REPLY = "reply"  # continued a ticket
    HELD = "held"  # kept for staff to decide (unknown company user, over the per-sender rate)
    SPAM = "spam"  # flagged by the upstream filter, or from a blocked sender: the Spam view
    LOOP = "loop"  # an auto-reply, bulk or list mail, a mailer-daemon: recorded, opens nothing
    BOUNCE = "bounce"  # a delivery report: matched to the mail it bounces
    OURS = "ours"  # one of our own mails come back
    REFUSED = "refused"  # could not be used (malformed, unknown sender refused by setting)


class InboundMail(Base):
    """One mail received (SMTP/LMTP or IMAP), kept for staff to open. The unique key is
    what makes a restart or a redelivery store nothing twice."""

    __tablename__ = "mail_inbound"
    __table_args__ = (UniqueConstraint("mailbox", "message_key"), Index("ix_mail_inbound_status_id", "status", "id"))

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    mailbox: Mapped[str] = mapped_column(String(200))  # "smtp" or "imap:<user>@<host>/<folder>"
    # SHA-256 of the Message-ID (or of the raw bytes when there is none): fixed width,
    # and a forged, endless Message-ID cannot break the index.
    message_key: Mapped[str] = mapped_column(String(64))
    message_id: Mapped[str | None] = mapped_column(String(998))
    sender: Mapped[str] = mapped_column(String(320), index=True)
    subject: Mapped[str] = mapped_column(String(400))
    status: Mapped[InboundStatus] = mapped_column(_enum(InboundStatus, "inbound_status"))
    reason: Mapped[str] = mapped_column(String(500), default="")
    conversation_id: Mapped[int | None] = mapped_column(ForeignKey("conversations.id", ondelete="SET NULL"), index=True)
    size: Mapped[int] = mapped_column(BigInteger)
    # The original, cut to MAIL_IN_KEEP_BYTES: enough for staff to see what came, bounded
    # so a 50 MB mail does not live twice in the database.
    raw: Mapped[bytes] = mapped_column(LargeBinary)
    received_at: Mapped[datetime] = mapped_column(UTCDateTime)
    decided_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class MailBlock(Base):
    """A sender address ("ann@x.com") or a whole domain ("@x.com") whose mail is spam:
    it opens nothing and is mailed nothing. Support admins edit the list."""

    __tablename__ = "mail_blocklist"

    pattern: Mapped[str] = mapped_column(String(320), primary_key=True)
    reason: Mapped[str] = mapped_column(String(500), default="")
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


class ImapState(Base):
    """How far the IMAP poller has read one folder: UIDs only mean something within one
    UIDVALIDITY, so both are kept."""

    __tablename__ = "mail_imap_state"

    mailbox: Mapped[str] = mapped_column(String(200), primary_key=True)
    uidvalidity: Mapped[int] = mapped_column(BigInteger)
    last_uid: Mapped[int] = mapped_column(BigInteger, default=0)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)

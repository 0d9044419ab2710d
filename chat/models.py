"""Tables of the real-time side. Every table is created by an Alembic migration, never by
``create_all``; a change here needs a migration in ``chat/migrations/versions``."""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    CheckConstraint,
    Enum,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from chat.db import UTCDateTime
from escalation.policy_table import PlanTier

# Named constraints: Alembic needs names to alter them later, and SQLite's batch mode
# rebuilds tables by name.
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

# SQLite has no BIGINT autoincrement; this keeps 64-bit ids on PostgreSQL.
BigId = BigInteger().with_variant(Integer(), "sqlite")


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


class Role(enum.StrEnum):
    VISITOR = "visitor"  # anonymous widget visitor: a customer we know only by token
    CUSTOMER = "customer"
    AGENT = "agent"
    SUPPORT_ADMIN = "support_admin"
    RESELLER_ADMIN = "reseller_admin"
    READ_ONLY = "read_only"


# Platform staff: they belong to no organization and see every conversation.
STAFF_ROLES = frozenset({Role.AGENT, Role.SUPPORT_ADMIN, Role.READ_ONLY})


class OrgKind(enum.StrEnum):
    CUSTOMER = "customer"
    RESELLER = "reseller"


class ConversationKind(enum.StrEnum):
    CHAT = "chat"  # one customer (or visitor) and support
    GROUP = "group"  # a customer company's support chat group


class ConversationStatus(enum.StrEnum):
    OPEN = "open"
    CLOSED = "closed"


def _enum(cls: type[enum.StrEnum], name: str) -> Enum:
    # Stored as plain strings with a CHECK constraint: portable, and adding a value is a
    # small migration rather than an ALTER TYPE.
    return Enum(cls, name=name, native_enum=False, create_constraint=True, length=32,
                values_callable=lambda e: [m.value for m in e])


class Organization(Base):
    __tablename__ = "organizations"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    slug: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    kind: Mapped[OrgKind] = mapped_column(_enum(OrgKind, "org_kind"))
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("organizations.id", ondelete="RESTRICT"), index=True)
    plan_tier: Mapped[PlanTier] = mapped_column(_enum(PlanTier, "plan_tier"), default=PlanTier.BASIC)
    # The company's own auto-close delays ("48h", "7d", "2bd"); null: its policy's, else the desk's.
    auto_close_waiting: Mapped[str | None] = mapped_column(String(32))
    auto_close_proposed: Mapped[str | None] = mapped_column(String(32))
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL", use_alter=True))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


class OrganizationDomain(Base):
    """A corporate e-mail domain; e-mail intake identifies the customer by it."""

    __tablename__ = "organization_domains"

    domain: Mapped[str] = mapped_column(String(253), primary_key=True)
    organization_id: Mapped[int] = mapped_column(ForeignKey("organizations.id", ondelete="CASCADE"), index=True)


class User(Base):
    __tablename__ = "users"
    __table_args__ = (UniqueConstraint("site_id", "external_id"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    # Lower-cased on the way in; NULL for anonymous visitors (many NULLs may coexist).
    email: Mapped[str | None] = mapped_column(String(320), unique=True)
    name: Mapped[str] = mapped_column(String(200), default="")
    role: Mapped[Role] = mapped_column(_enum(Role, "user_role"))
    organization_id: Mapped[int | None] = mapped_column(ForeignKey("organizations.id", ondelete="RESTRICT"), index=True)
    password_hash: Mapped[str | None] = mapped_column(String(255))
    language: Mapped[str] = mapped_column(String(16), default="en")
    # False until the person picks a language: the console and portal follow the browser's.
    language_chosen: Mapped[bool] = mapped_column(Boolean, default=False)
    # The console's and portal's switches (chat.ui_prefs), kept per person, not per browser.
    ui_prefs: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    # IANA zone for times in this user's mails; NULL: the site's or UTC.
    time_zone: Mapped[str | None] = mapped_column(String(64))
    notification_prefs: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    disabled: Mapped[bool] = mapped_column(Boolean, default=False)
    disabled_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Widget users: the site they came through and, once the site vouched for them, the
    # site's own id for them (identity verification).
    site_id: Mapped[int | None] = mapped_column(ForeignKey("sites.id", ondelete="SET NULL"), index=True)
    external_id: Mapped[str | None] = mapped_column(String(255))
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


class Site(Base):
    """A widget installation on a website."""

    __tablename__ = "sites"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    # Public and unguessable: it appears in the embed snippet of every page.
    public_key: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    organization_id: Mapped[int | None] = mapped_column(ForeignKey("organizations.id", ondelete="SET NULL"), index=True)
    allowed_origins: Mapped[list[str]] = mapped_column(JSON, default=list)
    # Shared with the site's backend, which signs its user ids with it (HMAC-SHA256).
    identity_secret: Mapped[str] = mapped_column(String(128))
    # After a rotation the old secret stays valid until ``previous_secret_until``, so the
    # site's backend can switch to the new one without a gap.
    previous_identity_secret: Mapped[str | None] = mapped_column(String(128))
    previous_secret_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    default_language: Mapped[str] = mapped_column(String(16), default="en")
    settings: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


class AuthSession(Base):
    """A login. The bearer token only names it; revoking the row logs the token out."""

    __tablename__ = "auth_sessions"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    ip: Mapped[str | None] = mapped_column(String(64))
    user_agent: Mapped[str | None] = mapped_column(String(400))
    # Impersonation (chat.impersonation): the staff member acting as ``user_id`` in this
    # session, and why. NULL for a person's own sign-in.
    impersonator_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    impersonation_reason: Mapped[str | None] = mapped_column(String(500))


class LoginFailure(Base):
    """Failed-login counters, per account and per client address, shared by all processes."""

    __tablename__ = "login_failures"

    key: Mapped[str] = mapped_column(String(400), primary_key=True)
    failures: Mapped[int] = mapped_column(Integer)
    window_started_at: Mapped[datetime] = mapped_column(UTCDateTime)
    locked_until: Mapped[datetime | None] = mapped_column(UTCDateTime)


class Conversation(Base):
    __tablename__ = "conversations"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    kind: Mapped[ConversationKind] = mapped_column(_enum(ConversationKind, "conversation_kind"))
    status: Mapped[ConversationStatus] = mapped_column(
        _enum(ConversationStatus, "conversation_status"), default=ConversationStatus.OPEN
    )
    subject: Mapped[str] = mapped_column(String(300), default="")
    site_id: Mapped[int | None] = mapped_column(ForeignKey("sites.id", ondelete="SET NULL"), index=True)
    organization_id: Mapped[int | None] = mapped_column(ForeignKey("organizations.id", ondelete="RESTRICT"), index=True)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    # The last seq handed out; the next event takes last_seq + 1 in the same UPDATE, so
    # numbering stays gap-free and ordered with any number of web processes.
    last_seq: Mapped[int] = mapped_column(BigInteger, default=0)
    # The same for events a customer may see (not internal notes).
    last_public_seq: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class Participant(Base):
    __tablename__ = "participants"
    __table_args__ = (UniqueConstraint("conversation_id", "user_id"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    conversation_id: Mapped[int] = mapped_column(ForeignKey("conversations.id", ondelete="CASCADE"))
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    joined_at: Mapped[datetime] = mapped_column(UTCDateTime)
    left_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Read receipts: the highest seq this participant has read.
    last_read_seq: Mapped[int] = mapped_column(BigInteger, default=0)


class Event(Base):
    """One entry of a conversation's ordered stream: a message, a note or a system event."""

    __tablename__ = "events"
    __table_args__ = (
        UniqueConstraint("conversation_id", "seq"),
        # Idempotent sends: the client's own message id, unique per author.
        UniqueConstraint("author_id", "client_msg_id"),
        CheckConstraint("seq > 0", name="seq_positive"),
        Index("ix_events_conversation_created", "conversation_id", "created_at"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    conversation_id: Mapped[int] = mapped_column(ForeignKey("conversations.id", ondelete="CASCADE"))
    seq: Mapped[int] = mapped_column(BigInteger)
    # The seq of the previous non-internal event: what a customer's client, which never
    # sees internal notes, compares with its last seen seq to detect a gap.
    prev_public_seq: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")
    type: Mapped[str] = mapped_column(String(40))
    author_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    client_msg_id: Mapped[str | None] = mapped_column(String(64))
    body: Mapped[str | None] = mapped_column(Text)
    data: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    # Internal notes: staff only; never sent to a customer's socket, e-mail or export.
    internal: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


class Attachment(Base):
    """A file uploaded over HTTP into a conversation, then referenced by a message."""

    __tablename__ = "attachments"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    conversation_id: Mapped[int] = mapped_column(ForeignKey("conversations.id", ondelete="CASCADE"), index=True)
    uploader_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    # The message that carries it; NULL until sent. Its visibility follows that message
    # (an attachment of an internal note is staff-only too).
    event_id: Mapped[int | None] = mapped_column(ForeignKey("events.id", ondelete="SET NULL"), index=True)
    filename: Mapped[str] = mapped_column(String(255))
    content_type: Mapped[str] = mapped_column(String(100))
    size: Mapped[int] = mapped_column(BigInteger)
    # Where the bytes are, relative to the upload store; never derived from the filename.
    storage_key: Mapped[str] = mapped_column(String(200), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


class AuditLog(Base):
    """Who changed what, when, and for whom: one row per audited action (chat.audit).

    General on purpose: impersonation writes its start and end here, configuration
    changes (issue 19) their before and after. Rows are written inside the transaction of
    the change they record, so an undone change leaves no row, and are never updated."""

    __tablename__ = "audit_log"
    __table_args__ = (
        Index("ix_audit_log_at", "at"),
        Index("ix_audit_log_actor_at", "actor_id", "at"),
        Index("ix_audit_log_target", "target_kind", "target_id", "at"),
        Index("ix_audit_log_action_at", "action", "at"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime)
    # SET NULL, not CASCADE: the record outlives the account (the name stays in ``after``
    # only if the action put it there). NULL: the system itself (a sweeper).
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    # The user the actor acted as (impersonation), if any.
    on_behalf_of_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"), index=True)
    action: Mapped[str] = mapped_column(String(64))
    target_kind: Mapped[str | None] = mapped_column(String(40))
    target_id: Mapped[str | None] = mapped_column(String(64))
    reason: Mapped[str | None] = mapped_column(String(500))
    before: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    after: Mapped[dict[str, Any] | None] = mapped_column(JSON)

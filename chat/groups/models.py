"""Group chat tables: groups, memberships, join requests, reseller settings, system alerts.

Every table is created by ``chat/migrations/versions/0005_groups.py``.
"""

from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import BigInteger, Boolean, ForeignKey, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from chat.db import UTCDateTime
from chat.models import Base, BigId, _enum


class HistoryVisibility(enum.StrEnum):
    FULL = "full"  # new members read the group's whole history
    SINCE_JOIN = "since_join"  # new members read from their own join on


class MemberState(enum.StrEnum):
    ACTIVE = "active"
    REMOVED = "removed"


class RequestStatus(enum.StrEnum):
    PENDING = "pending"
    APPROVED = "approved"
    REJECTED = "rejected"


class RequestRoute(enum.StrEnum):
    RESELLER = "reseller"  # decided by the admins of the customer's reseller
    PLATFORM = "platform"  # a direct customer: decided by platform staff


class AlertType(enum.StrEnum):
    INFORMATION = "information"
    COMPLAINT = "complaint"
    SUSPICIOUS_ACTIVITY = "suspicious_activity"


class ChatGroup(Base):
    """A customer company's support chat group, backed by a conversation of kind group."""

    __tablename__ = "chat_groups"
    __table_args__ = (UniqueConstraint("organization_id", "name"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    organization_id: Mapped[int] = mapped_column(ForeignKey("organizations.id", ondelete="RESTRICT"), index=True)
    conversation_id: Mapped[int] = mapped_column(ForeignKey("conversations.id", ondelete="RESTRICT"), unique=True)
    name: Mapped[str] = mapped_column(String(100))
    history: Mapped[HistoryVisibility] = mapped_column(_enum(HistoryVisibility, "group_history"))
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


class ChatGroupMember(Base):
    """A customer's membership of a group. The conversation's ``participants`` row is what
    authorizes reading and posting; this row keeps the group's side: from which seq the
    member may read, who let them in and who took them out."""

    __tablename__ = "chat_group_members"
    __table_args__ = (UniqueConstraint("group_id", "user_id"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    group_id: Mapped[int] = mapped_column(ForeignKey("chat_groups.id", ondelete="CASCADE"))
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    state: Mapped[MemberState] = mapped_column(_enum(MemberState, "group_member_state"))
    # The seq of this (latest) joining's system event: with history "since_join" nothing
    # before it is served to the member.
    visible_from_seq: Mapped[int] = mapped_column(BigInteger)
    joined_at: Mapped[datetime] = mapped_column(UTCDateTime)
    approved_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    removed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    removed_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    removal_reason: Mapped[str | None] = mapped_column(String(500))


class ChatGroupJoinRequest(Base):
    __tablename__ = "chat_group_join_requests"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    group_id: Mapped[int] = mapped_column(ForeignKey("chat_groups.id", ondelete="CASCADE"), index=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    status: Mapped[RequestStatus] = mapped_column(_enum(RequestStatus, "join_request_status"), index=True)
    route: Mapped[RequestRoute] = mapped_column(_enum(RequestRoute, "join_request_route"))
    # The reseller whose admins decide (route "reseller"); NULL for platform staff.
    reseller_id: Mapped[int | None] = mapped_column(ForeignKey("organizations.id", ondelete="SET NULL"), index=True)
    note: Mapped[str] = mapped_column(String(1000), default="")
    # "group:user" while pending, NULL after the decision: a unique column that makes a
    # second pending request impossible on every backend, even under a race (NULLs may
    # repeat; a partial unique index would say the same but is not portable through
    # Alembic's schema comparison).
    pending_key: Mapped[str | None] = mapped_column(String(64), unique=True)
    # The "service request" ticket opened for platform staff (a ticket's number is its
    # conversation's id), when tickets are available.
    ticket_conversation_id: Mapped[int | None] = mapped_column(ForeignKey("conversations.id", ondelete="SET NULL"))
    decided_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    reason: Mapped[str | None] = mapped_column(String(1000))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


class ResellerSettings(Base):
    """Per-reseller arrangements with the platform."""

    __tablename__ = "reseller_settings"

    organization_id: Mapped[int] = mapped_column(ForeignKey("organizations.id", ondelete="CASCADE"), primary_key=True)
    # The partner answers its customers' tickets itself (PSD): they reach platform agents
    # only when the partner transfers them.
    own_first_line: Mapped[bool] = mapped_column(Boolean, default=False)
    updated_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)


class SystemAlert(Base):
    """A notice from support to a customer organization (PSD "system alerts")."""

    __tablename__ = "system_alerts"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    organization_id: Mapped[int] = mapped_column(ForeignKey("organizations.id", ondelete="CASCADE"), index=True)
    type: Mapped[AlertType] = mapped_column(_enum(AlertType, "alert_type"))
    title: Mapped[str] = mapped_column(String(200))
    body: Mapped[str] = mapped_column(Text)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


class AlertFile(Base):
    """A file of an alert. Stored in the same upload store as chat attachments (under its
    own random key); uploaded first, then named when the alert is opened."""

    __tablename__ = "alert_files"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    alert_id: Mapped[int | None] = mapped_column(ForeignKey("system_alerts.id", ondelete="CASCADE"), index=True)
    uploader_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    filename: Mapped[str] = mapped_column(String(255))
    content_type: Mapped[str] = mapped_column(String(100))
    size: Mapped[int] = mapped_column(BigInteger)
    storage_key: Mapped[str] = mapped_column(String(200), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


class GroupChatRead(Base):
    """How far a staff member has read a group chat in the console (issue 18): the
    Groups queue counts the messages after it. Staff are not the group's participants
    (a ``participants`` row would make them members), so their read marker lives here."""

    __tablename__ = "chat_group_reads"

    group_id: Mapped[int] = mapped_column(ForeignKey("chat_groups.id", ondelete="CASCADE"), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), primary_key=True, index=True)
    last_read_seq: Mapped[int] = mapped_column(BigInteger, default=0)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)

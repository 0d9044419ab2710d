"""Agent desk tables: canned replies, assignment rules, agent capacity, customer notes.

Queues and claims have no tables of their own: a queue is a view over tickets, and a
claim is the ticket's assignee (one source of truth for "who answers this").
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Boolean, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from chat.db import UTCDateTime
from chat.models import Base, BigId

# Agents who never set a limit take this many live chats at once: enough to keep an agent
# busy, few enough that each customer still gets quick answers.
DEFAULT_MAX_CHATS = 5


class CannedReply(Base):
    """A typical reply picked from a list; ``body`` may hold placeholders such as
    ``{customer.name}``, filled in when the agent inserts it."""

    __tablename__ = "desk_canned_replies"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    title: Mapped[str] = mapped_column(String(200))
    body: Mapped[str] = mapped_column(Text)
    # Typed in the composer as "/shortcut" to insert the reply without searching.
    shortcut: Mapped[str | None] = mapped_column(String(40), unique=True)
    # A knowledge-base article the reply points to (SKAI: answers may link KB articles).
    kb_url: Mapped[str | None] = mapped_column(String(500))
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)


class AssignmentRule(Base):
    """Route new chats to an agent by category, severity and source; ``None`` matches any.
    Rules are tried in ``position`` order; the first one whose agent can take the chat wins."""

    __tablename__ = "desk_assignment_rules"
    __table_args__ = (Index("ix_desk_assignment_rules_position", "position", "id"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    position: Mapped[int] = mapped_column(Integer)
    name: Mapped[str] = mapped_column(String(200))
    category: Mapped[str | None] = mapped_column(String(64))
    severity: Mapped[int | None] = mapped_column(Integer)
    source: Mapped[str | None] = mapped_column(String(32))
    assignee_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)


class AgentProfile(Base):
    """An agent's desk settings. Online/away itself is presence (the hub); ``away`` here is
    the agent's stored choice, re-applied by every console the agent opens."""

    __tablename__ = "desk_agents"

    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), primary_key=True)
    max_chats: Mapped[int] = mapped_column(Integer, default=DEFAULT_MAX_CHATS)
    away: Mapped[bool] = mapped_column(Boolean, default=False)
    # Round-robin without a shared cursor: the agent assigned longest ago goes next.
    last_assigned_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)


class DeskSetting(Base):
    """Desk-wide settings an admin edits in the console (the default assignee; since issue
    19 the escalation ladder, the default auto-close delays, the statuses' labels, the
    chat-to-ticket timers, whose stored row wins over the environment's first default).
    Every write moves ``desk_version`` (escalation.models.DESK_TABLES)."""

    __tablename__ = "desk_settings"

    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[Any] = mapped_column(JSON)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)


class CustomerNote(Base):
    """A support note about a customer, for shift handover; never shown to the customer."""

    __tablename__ = "desk_customer_notes"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    author_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    body: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


class VisitorContext(Base):
    """Where a customer is, as their widget last said (issue 18): the host page's address
    and title, where they came from, their language, time zone and browser. The latest
    only, one row per person: the side panel shows the present, not a history. Every
    field is cut to its column on the way in (chat.desk.visitor_context)."""

    __tablename__ = "desk_visitor_context"

    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), primary_key=True)
    page_url: Mapped[str | None] = mapped_column(String(2000))
    page_title: Mapped[str | None] = mapped_column(String(300))
    referrer: Mapped[str | None] = mapped_column(String(2000))
    language: Mapped[str | None] = mapped_column(String(35))
    time_zone: Mapped[str | None] = mapped_column(String(64))
    user_agent: Mapped[str | None] = mapped_column(String(500))
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)

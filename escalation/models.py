"""Ticket tables: a ticket is the tracked side of a conversation (same thread, same seq stream).

The ticket's number IS its conversation's id (``tickets.conversation_id`` is the primary
key). Deadlines are stored, never held in timers: the sweeper finds due work through the
indexed ``*_at`` columns (``sla_next_check_at``, ``auto_close_at``, ``convert_at``).
The dictionaries an admin edits (calendars, categories, SLA policies, support groups) are
tables too, seeded by migration 0004.
"""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    CheckConstraint,
    Float,
    ForeignKey,
    Index,
    Integer,
    SmallInteger,
    String,
    Text,
    UniqueConstraint,
    inspect,
    text,
    update,
)
from sqlalchemy import event as orm_event
from sqlalchemy.orm import Mapped, Session, UOWTransaction, mapped_column

from chat.db import UTCDateTime
from chat.desk.models import DeskSetting
from chat.models import Base, BigId, Organization, _enum
from escalation.lifecycle import TicketStatus
from escalation.policies import Availability
from escalation.policy_table import PlanTier
from escalation.report_facts import REPORT_FACTS_VERSION


class TicketChannel(enum.StrEnum):
    CHAT = "chat"  # a widget/customer support chat (the row exists from the chat's start)
    WEB = "web"  # the web form
    API = "api"
    PHONE = "phone"  # an agent on behalf of a caller
    WIDGET_OFFLINE = "widget_offline"  # "leave a message" while no agent is online
    EMAIL = "email"
    GROUP_CHAT = "group_chat"  # raised from a message in a company's group chat


class TaskType(enum.StrEnum):  # FFC's action task types
    SUPPORT_OPERATION = "support_operation"
    SOFTWARE = "software"
    COMMERCIAL = "commercial"
    CUSTOMER_REQUEST = "customer_request"
    FIRMWARE = "firmware"
    INTERNAL = "internal"


class TaskStatus(enum.StrEnum):
    OPEN = "open"
    IN_PROGRESS = "in_progress"
    DONE = "done"
    CANCELLED = "cancelled"


class BusinessCalendarRow(Base):
    __tablename__ = "business_calendars"

    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    # escalation.policies.calendar_from_json's form; validated on every write.
    definition: Mapped[dict[str, Any]] = mapped_column(JSON)


class TicketCategory(Base):
    __tablename__ = "ticket_categories"

    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    availability: Mapped[Availability] = mapped_column(_enum(Availability, "availability"))
    # Target specs ({"minutes": n} | {"business_days": n}) or null: the category's own SLA.
    resolution: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    stage_one: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    default_severity: Mapped[int | None] = mapped_column(SmallInteger)
    position: Mapped[int] = mapped_column(Integer, default=0)
    # Categories are retired, not deleted: old tickets keep pointing at them.
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    # The title per language ({"ru": "…"}); ``name`` is the fallback for the others.
    titles: Mapped[dict[str, str]] = mapped_column(JSON, default=dict, server_default="{}")


class SlaPolicyRow(Base):
    """One rule of the policy table: targets for (tier, category, severity), any of which
    may be null ("any"). The most specific matching rule wins (escalation.policy_table.PolicyTable)."""

    __tablename__ = "sla_policies"
    __table_args__ = (CheckConstraint("warning_share > 0 AND warning_share < 1", name="warning_share_range"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    tier: Mapped[PlanTier | None] = mapped_column(_enum(PlanTier, "policy_tier"))
    category: Mapped[str | None] = mapped_column(ForeignKey("ticket_categories.key", ondelete="RESTRICT"))
    severity: Mapped[int | None] = mapped_column(SmallInteger)
    calendar_key: Mapped[str] = mapped_column(ForeignKey("business_calendars.key", ondelete="RESTRICT"))
    first_response: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    next_response: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    stage_one: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    resolution: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    warning_share: Mapped[float] = mapped_column(Float)
    # What a day target means: "whole_days" (the close of the Nth working day) or
    # "working_hours" (N x the calendar's day length).
    day_rule: Mapped[str] = mapped_column(String(16), default="whole_days", server_default="whole_days")
    # Auto-close delays for tickets under this policy ("48h", "7d", "2bd"); null: the desk's.
    auto_close_waiting: Mapped[str | None] = mapped_column(String(32))
    auto_close_proposed: Mapped[str | None] = mapped_column(String(32))


class SupportGroup(Base):
    """A transfer queue (PSD: Second level, Marketing, Vendor, Incidents) on a support line."""

    __tablename__ = "support_groups"
    __table_args__ = (CheckConstraint("level BETWEEN 1 AND 3", name="level_range"),)

    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    level: Mapped[int] = mapped_column(SmallInteger)
    # Who the escalation ladder's notify_group_lead step notifies.
    lead_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    position: Mapped[int] = mapped_column(Integer, default=0)


class DeskVersion(Base):
    """One counter (row ``id`` 1) that moves with every write to the desk configuration
    (calendars, categories, SLA policies, support groups, desk settings, and a company's plan
    or auto-close delays), in the writing transaction:
    :func:`escalation.config.load_desk` keeps the configuration it built until it moves."""

    __tablename__ = "desk_version"

    id: Mapped[int] = mapped_column(SmallInteger, primary_key=True)
    version: Mapped[int] = mapped_column(BigInteger)


DESK_TABLES = (BusinessCalendarRow, TicketCategory, SlaPolicyRow, SupportGroup, DeskSetting)
DESK_WRITTEN = "desk_written"
"""``Session.info`` key: this transaction wrote the desk configuration (not yet committed,
so what it reads must not be kept for others)."""


@orm_event.listens_for(Session, "before_flush")
def _move_desk_version(session: Session, flush_context: UOWTransaction, instances: object) -> None:
    # Registered on the model's own module, so that every process that can write these
    # rows through the ORM moves the counter: no admin path can forget to. (Nothing
    # writes them with bulk UPDATE/DELETE statements; a migration that seeds them runs
    # before any process keeps a configuration.)
    if session.info.get(DESK_WRITTEN):
        return  # moved once in this transaction already: the readers see a new value
    for obj in (*session.new, *session.dirty, *session.deleted):
        if isinstance(obj, DESK_TABLES) or (obj in session.dirty and _company_terms_changed(obj)):
            session.info[DESK_WRITTEN] = True
            session.execute(update(DeskVersion).where(DeskVersion.id == 1).values(version=DeskVersion.version + 1))
            return


# A company's plan picks its tickets' SLA policy and its own auto-close delays override the
# policy's: a change to them moves open tickets' deadlines as a policy change does, so it
# moves the counter too (escalation.jobs.DeskFollower brings it to the open tickets).
_COMPANY_TERMS = ("plan_tier", "auto_close_waiting", "auto_close_proposed")


def _company_terms_changed(obj: object) -> bool:
    if not isinstance(obj, Organization):
        return False
    attrs = inspect(obj).attrs
    return any(attrs[name].history.has_changes() for name in _COMPANY_TERMS)


@orm_event.listens_for(Session, "after_commit")
@orm_event.listens_for(Session, "after_rollback")
def _desk_transaction_over(session: Session) -> None:
    session.info.pop(DESK_WRITTEN, None)


class Ticket(Base):
    __tablename__ = "tickets"
    __table_args__ = (
        CheckConstraint("severity IS NULL OR severity BETWEEN 1 AND 3", name="severity_range"),
        CheckConstraint("level BETWEEN 1 AND 3", name="level_range"),
        # The few spam tickets, which every report leaves out (migration 0011).
        Index("ix_tickets_spam_at", "spam_at", sqlite_where=text("spam_at IS NOT NULL"),
              postgresql_where=text("spam_at IS NOT NULL")),
    )

    conversation_id: Mapped[int] = mapped_column(ForeignKey("conversations.id", ondelete="CASCADE"), primary_key=True)
    tracked: Mapped[bool] = mapped_column(Boolean, default=False)
    tracked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Why it became a ticket: opened, agent, no_agent_online, visitor_idle, no_answer.
    tracked_reason: Mapped[str | None] = mapped_column(String(40))
    status: Mapped[TicketStatus] = mapped_column(_enum(TicketStatus, "ticket_status"), index=True)
    status_changed_at: Mapped[datetime] = mapped_column(UTCDateTime)
    # The latest message known to the ticket (kept lazily: the sweeper looks at the stored
    # events before it auto-closes or converts, so the message path never waits for this).
    activity_at: Mapped[datetime] = mapped_column(UTCDateTime)
    label: Mapped[str | None] = mapped_column(String(100))
    channel: Mapped[TicketChannel] = mapped_column(_enum(TicketChannel, "ticket_channel"))
    category: Mapped[str | None] = mapped_column(ForeignKey("ticket_categories.key", ondelete="RESTRICT"))
    severity: Mapped[int | None] = mapped_column(SmallInteger)
    level: Mapped[int] = mapped_column(SmallInteger, default=1)
    group_key: Mapped[str | None] = mapped_column(ForeignKey("support_groups.key", ondelete="SET NULL"))
    requester_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"), index=True)
    assignee_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"), index=True)
    cc: Mapped[list[int]] = mapped_column(JSON, default=list)
    assets: Mapped[list[str]] = mapped_column(JSON, default=list)
    happened_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Given on the offline form: how to reach an anonymous visitor.
    contact_email: Mapped[str | None] = mapped_column(String(320))
    contact_name: Mapped[str | None] = mapped_column(String(200))
    # Indexed for the reports' first responses in a range (migration 0011).
    first_replied_at: Mapped[datetime | None] = mapped_column(UTCDateTime, index=True)
    stage_one_done_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Counts resolutions (proposed to close / closed); one rating per round.
    resolution_round: Mapped[int] = mapped_column(Integer, default=0)
    # The SLA clock's facts ([kind, iso instant], time order) and what they imply.
    sla_facts: Mapped[list[list[str]]] = mapped_column(JSON, default=list)
    sla_policy: Mapped[str | None] = mapped_column(String(300))
    deadlines: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    escalation_step: Mapped[int] = mapped_column(Integer, default=0)
    # Due work for the sweeper; NULL when nothing is scheduled.
    sla_next_check_at: Mapped[datetime | None] = mapped_column(UTCDateTime, index=True)
    auto_close_at: Mapped[datetime | None] = mapped_column(UTCDateTime, index=True)
    convert_at: Mapped[datetime | None] = mapped_column(UTCDateTime, index=True)
    # The conversation events up to this seq have been applied (replies, reopen...).
    processed_seq: Mapped[int] = mapped_column(BigInteger, default=0)
    # Whether the next message of that side changes anything: lets the after-commit
    # reaction skip the write for the ordinary chat message.
    watch_agent_reply: Mapped[bool] = mapped_column(Boolean, default=True)
    watch_customer_reply: Mapped[bool] = mapped_column(Boolean, default=False)
    linked_from_id: Mapped[int | None] = mapped_column(ForeignKey("conversations.id", ondelete="SET NULL"))
    linked_to_id: Mapped[int | None] = mapped_column(ForeignKey("conversations.id", ondelete="SET NULL"))
    # When the customer's last socket left the live chat (None while one is connected, and
    # once they come back): the sweeper converts an unresolved chat a grace period later.
    customer_left_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Partner first line (PSD): the reseller whose own queue holds the ticket; None once
    # (or as long as) platform staff handle it. Set when the row is created.
    handled_by_org_id: Mapped[int | None] = mapped_column(
        ForeignKey("organizations.id", ondelete="SET NULL"), index=True
    )
    # Indexed for the reports, which select tickets created / closed / resolved in a range.
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime, index=True)
    close_reason: Mapped[str | None] = mapped_column(String(16))
    # Marked as spam by an agent (or opened by a blocked sender): out of the queues, in
    # the Spam view; "not spam" clears it (issue 16).
    spam_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    # Report facts (issue 17): written with the ticket by every unit of work
    # (escalation.report_facts, from recompute), so a report reads columns instead of
    # replaying histories. See docs/architecture.md "Report facts".
    # When the ticket last entered PROPOSED_TO_CLOSE or CLOSED; null while open again.
    resolved_at: Mapped[datetime | None] = mapped_column(UTCDateTime, index=True)
    first_response_wall_s: Mapped[int | None] = mapped_column(Integer)
    first_response_business_s: Mapped[int | None] = mapped_column(Integer)
    resolution_wall_s: Mapped[int | None] = mapped_column(Integer)
    resolution_business_s: Mapped[int | None] = mapped_column(Integer)
    # "met" / "breached" (sticky) / null: per SLA target.
    sla_first_response: Mapped[str | None] = mapped_column(String(16))
    sla_next_response: Mapped[str | None] = mapped_column(String(16))
    sla_resolution: Mapped[str | None] = mapped_column(String(16))
    # The calendar the business figures were measured on.
    calendar_key: Mapped[str | None] = mapped_column(String(64))
    reopened_count: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    # The latest rating's value (escalation.ratings.RatingValue).
    rating: Mapped[str | None] = mapped_column(String(16))
    # Kept by the reports rollup (chat.reports.rollup) from the event log.
    messages_count: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    first_agent_join_s: Mapped[int | None] = mapped_column(Integer)
    # The version of the facts on the row (escalation.report_facts.REPORT_FACTS_VERSION).
    # A row the ORM creates has them all from its first unit on; rows from before the
    # migration (the server default, 0) lack what only their history tells (earlier
    # ratings): the reports.backfill job completes them and sets the version.
    report_facts: Mapped[int] = mapped_column(SmallInteger, default=REPORT_FACTS_VERSION, server_default="0")


class CustomerPresence(Base):
    """A customer with at least one socket in a support chat, per web process: what lets
    any process tell that a customer's *last* socket, wherever it was, went away
    (escalation.departure). A row of a process killed outright stays behind; that chat
    then converts only on idleness."""

    __tablename__ = "customer_presence"

    conversation_id: Mapped[int] = mapped_column(ForeignKey("conversations.id", ondelete="CASCADE"), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), primary_key=True)
    process_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    since: Mapped[datetime] = mapped_column(UTCDateTime)


class TicketTask(Base):
    """An action task on a ticket (FFC): text, hours, type, due date, status."""

    __tablename__ = "ticket_tasks"
    __table_args__ = (CheckConstraint("hours IS NULL OR (hours >= 0 AND hours <= 10000)", name="hours_range"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    conversation_id: Mapped[int] = mapped_column(ForeignKey("tickets.conversation_id", ondelete="CASCADE"), index=True)
    text: Mapped[str] = mapped_column(String(2000))
    hours: Mapped[float | None] = mapped_column(Float)
    type: Mapped[TaskType] = mapped_column(_enum(TaskType, "task_type"))
    due_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    status: Mapped[TaskStatus] = mapped_column(_enum(TaskStatus, "task_status"))
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)
    # Who does it (issue 18: tasks are reassigned): an agent or support admin; none yet.
    assignee_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))


class TicketRating(Base):
    __tablename__ = "ticket_ratings"
    # One rating per resolution round: the database refuses a second even under a race.
    __table_args__ = (UniqueConstraint("conversation_id", "round"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    conversation_id: Mapped[int] = mapped_column(ForeignKey("tickets.conversation_id", ondelete="CASCADE"))
    round: Mapped[int] = mapped_column(Integer)
    value: Mapped[str] = mapped_column(String(16))
    reason: Mapped[str | None] = mapped_column(String(200))
    comment: Mapped[str | None] = mapped_column(Text)
    rated_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


class TicketSlaMark(Base):
    """A warning, breach or ladder step already acted on (its stable key). The primary key
    makes "exactly once" hold even if two sweepers raced past the row lock."""

    __tablename__ = "ticket_sla_marks"

    conversation_id: Mapped[int] = mapped_column(ForeignKey("tickets.conversation_id", ondelete="CASCADE"), primary_key=True)
    key: Mapped[str] = mapped_column(String(200), primary_key=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


class ReportHour(Base):
    """Public messages of one ticket's conversation in one UTC hour (the reports rollup,
    chat.reports.rollup): what the per-day and heatmap reports sum."""

    __tablename__ = "report_hours"
    # The hours of a range with what a report sums: read from the index alone (0011).
    __table_args__ = (Index("ix_report_hours_counted", "hour", "conversation_id", "messages"),)

    conversation_id: Mapped[int] = mapped_column(ForeignKey("tickets.conversation_id", ondelete="CASCADE"), primary_key=True)
    hour: Mapped[datetime] = mapped_column(UTCDateTime, primary_key=True)
    messages: Mapped[int] = mapped_column(Integer, default=0)
    customer_messages: Mapped[int] = mapped_column(Integer, default=0)
    staff_messages: Mapped[int] = mapped_column(Integer, default=0)


class ReportReopen(Base):
    """A ticket going from PROPOSED_TO_CLOSE back to an open status, when it did."""

    __tablename__ = "report_reopens"

    conversation_id: Mapped[int] = mapped_column(ForeignKey("tickets.conversation_id", ondelete="CASCADE"), primary_key=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime, primary_key=True, index=True)


class ReportCursor(Base):
    """How far a reports job has read the event log (the id of the last event it counted),
    written in the same transaction as what it counted."""

    __tablename__ = "report_cursor"

    name: Mapped[str] = mapped_column(String(32), primary_key=True)
    last_event_id: Mapped[int] = mapped_column(BigInteger)

"""Reports (issue 17): the facts a report reads, stored on the ticket row when they happen
(response and resolution times in both clocks, SLA outcomes, reopens, rating, message
counts), the hourly message counts of tickets, the reopen log and the rollup's cursor.

Existing tickets get ``report_facts = 0``: the ``reports.backfill`` sweeper job fills
them in batches after the upgrade (not here: a big desk's upgrade would hold the write
lock for minutes, and the domain code that computes the facts must not be frozen into a
migration). See docs/operations.md.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-06
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Frozen here rather than imported from the models: a migration must keep meaning what it
# meant when it was written.
BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
When = sa.DateTime(timezone=True)

FACT_COLUMNS = (
    ("resolved_at", When),
    ("first_response_wall_s", sa.Integer()),
    ("first_response_business_s", sa.Integer()),
    ("resolution_wall_s", sa.Integer()),
    ("resolution_business_s", sa.Integer()),
    ("sla_first_response", sa.String(length=16)),
    ("sla_next_response", sa.String(length=16)),
    ("sla_resolution", sa.String(length=16)),
    ("calendar_key", sa.String(length=64)),
    ("rating", sa.String(length=16)),
    ("first_agent_join_s", sa.Integer()),
)
COUNTERS = (
    ("reopened_count", sa.Integer()),
    ("messages_count", sa.Integer()),
    ("report_facts", sa.SmallInteger()),
)
TICKET_INDEXES = ("created_at", "closed_at", "resolved_at")


def upgrade() -> None:
    with op.batch_alter_table("tickets", schema=None) as batch_op:
        for name, type_ in FACT_COLUMNS:
            batch_op.add_column(sa.Column(name, type_, nullable=True))
        for name, type_ in COUNTERS:
            batch_op.add_column(sa.Column(name, type_, nullable=False, server_default="0"))
        for name in TICKET_INDEXES:
            batch_op.create_index(f"ix_tickets_{name}", [name], unique=False)
    op.create_table(
        "report_hours",
        sa.Column("conversation_id", BigId, nullable=False),
        sa.Column("hour", When, nullable=False),
        sa.Column("messages", sa.Integer(), nullable=False),
        sa.Column("customer_messages", sa.Integer(), nullable=False),
        sa.Column("staff_messages", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["conversation_id"], ["tickets.conversation_id"],
                                name=op.f("fk_report_hours_conversation_id_tickets"), ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("conversation_id", "hour", name=op.f("pk_report_hours")),
    )
    op.create_index(op.f("ix_report_hours_hour"), "report_hours", ["hour"], unique=False)
    op.create_table(
        "report_reopens",
        sa.Column("conversation_id", BigId, nullable=False),
        sa.Column("at", When, nullable=False),
        sa.ForeignKeyConstraint(["conversation_id"], ["tickets.conversation_id"],
                                name=op.f("fk_report_reopens_conversation_id_tickets"), ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("conversation_id", "at", name=op.f("pk_report_reopens")),
    )
    op.create_index(op.f("ix_report_reopens_at"), "report_reopens", ["at"], unique=False)
    op.create_table(
        "report_cursor",
        sa.Column("name", sa.String(length=32), nullable=False),
        sa.Column("last_event_id", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_report_cursor")),
    )


def downgrade() -> None:
    op.drop_table("report_cursor")
    op.drop_index(op.f("ix_report_reopens_at"), table_name="report_reopens")
    op.drop_table("report_reopens")
    op.drop_index(op.f("ix_report_hours_hour"), table_name="report_hours")
    op.drop_table("report_hours")
    with op.batch_alter_table("tickets", schema=None) as batch_op:
        for name in reversed(TICKET_INDEXES):
            batch_op.drop_index(f"ix_tickets_{name}")
        for name, _ in reversed(COUNTERS):
            batch_op.drop_column(name)
        for name, _ in reversed(FACT_COLUMNS):
            batch_op.drop_column(name)

"""Agent desk: canned replies, assignment rules, agent capacity, customer notes.

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-22
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Frozen here rather than imported from the models: a migration must keep meaning what it
# meant when it was written.
BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "desk_canned_replies",
        sa.Column("id", BigId, nullable=False),
        sa.Column("title", sa.String(length=200), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("shortcut", sa.String(length=40), nullable=True),
        sa.Column("kb_url", sa.String(length=500), nullable=True),
        sa.Column("created_by_id", BigId, nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["created_by_id"], ["users.id"],
                                name=op.f("fk_desk_canned_replies_created_by_id_users"), ondelete="SET NULL"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_desk_canned_replies")),
        sa.UniqueConstraint("shortcut", name=op.f("uq_desk_canned_replies_shortcut")),
    )
    op.create_table(
        "desk_assignment_rules",
        sa.Column("id", BigId, nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("category", sa.String(length=64), nullable=True),
        sa.Column("severity", sa.Integer(), nullable=True),
        sa.Column("source", sa.String(length=32), nullable=True),
        sa.Column("assignee_id", BigId, nullable=False),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["assignee_id"], ["users.id"],
                                name=op.f("fk_desk_assignment_rules_assignee_id_users"), ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_desk_assignment_rules")),
    )
    with op.batch_alter_table("desk_assignment_rules", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_desk_assignment_rules_assignee_id"), ["assignee_id"], unique=False)
        batch_op.create_index("ix_desk_assignment_rules_position", ["position", "id"], unique=False)
    op.create_table(
        "desk_agents",
        sa.Column("user_id", BigId, nullable=False),
        sa.Column("max_chats", sa.Integer(), nullable=False),
        sa.Column("away", sa.Boolean(), nullable=False),
        sa.Column("last_assigned_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], name=op.f("fk_desk_agents_user_id_users"), ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("user_id", name=op.f("pk_desk_agents")),
    )
    op.create_table(
        "desk_settings",
        sa.Column("key", sa.String(length=64), nullable=False),
        sa.Column("value", sa.JSON(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("key", name=op.f("pk_desk_settings")),
    )
    op.create_table(
        "desk_customer_notes",
        sa.Column("id", BigId, nullable=False),
        sa.Column("customer_id", BigId, nullable=False),
        sa.Column("author_id", BigId, nullable=True),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["author_id"], ["users.id"],
                                name=op.f("fk_desk_customer_notes_author_id_users"), ondelete="SET NULL"),
        sa.ForeignKeyConstraint(["customer_id"], ["users.id"],
                                name=op.f("fk_desk_customer_notes_customer_id_users"), ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_desk_customer_notes")),
    )
    with op.batch_alter_table("desk_customer_notes", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_desk_customer_notes_customer_id"), ["customer_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("desk_customer_notes", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_desk_customer_notes_customer_id"))
    op.drop_table("desk_customer_notes")
    op.drop_table("desk_settings")
    op.drop_table("desk_agents")
    with op.batch_alter_table("desk_assignment_rules", schema=None) as batch_op:
        batch_op.drop_index("ix_desk_assignment_rules_position")
        batch_op.drop_index(batch_op.f("ix_desk_assignment_rules_assignee_id"))
    op.drop_table("desk_assignment_rules")
    op.drop_table("desk_canned_replies")

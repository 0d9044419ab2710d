"""The agent's desk (issue 18): the visitor's context beside each chat.

- ``desk_visitor_context``: one row per customer, the latest their widget reported — the
  host page (address, title), the referrer, language, time zone and User-Agent.
- ``ticket_tasks.assignee_id``: who does an action task (tasks are reassigned).

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-06
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0015"
down_revision: str | None = "0014"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Frozen here rather than imported from the models: a migration must keep meaning what it
# meant when it was written.
BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
When = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "desk_visitor_context",
        sa.Column("user_id", BigId, nullable=False),
        sa.Column("page_url", sa.String(length=2000), nullable=True),
        sa.Column("page_title", sa.String(length=300), nullable=True),
        sa.Column("referrer", sa.String(length=2000), nullable=True),
        sa.Column("language", sa.String(length=35), nullable=True),
        sa.Column("time_zone", sa.String(length=64), nullable=True),
        sa.Column("user_agent", sa.String(length=500), nullable=True),
        sa.Column("updated_at", When, nullable=False),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], name=op.f("fk_desk_visitor_context_user_id_users"),
                                ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("user_id", name=op.f("pk_desk_visitor_context")),
    )
    with op.batch_alter_table("ticket_tasks", schema=None) as batch_op:
        batch_op.add_column(sa.Column("assignee_id", BigId, nullable=True))
        batch_op.create_foreign_key(batch_op.f("fk_ticket_tasks_assignee_id_users"), "users", ["assignee_id"], ["id"],
                                    ondelete="SET NULL")


def downgrade() -> None:
    with op.batch_alter_table("ticket_tasks", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("fk_ticket_tasks_assignee_id_users"), type_="foreignkey")
        batch_op.drop_column("assignee_id")
    op.drop_table("desk_visitor_context")

"""Audit log and impersonation (issue 20, item 2).

- ``audit_log``: who did what, when, for whom, to what, why, with the state before and
  after (JSON). General: impersonation records its start and end, and configuration
  changes (issue 19) will record theirs. Indexed for the console's filters: by time, by
  actor, by target, by action.
- ``auth_sessions.impersonator_id`` / ``impersonation_reason``: a session in which a
  support admin acts as a customer; NULL for everybody's own sign-ins, so existing rows
  need nothing.

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-06
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Frozen here rather than imported from the models: a migration must keep meaning what it
# meant when it was written.
BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
When = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "audit_log",
        sa.Column("id", BigId, nullable=False),
        sa.Column("at", When, nullable=False),
        sa.Column("actor_id", BigId, nullable=True),
        sa.Column("on_behalf_of_id", BigId, nullable=True),
        sa.Column("action", sa.String(length=64), nullable=False),
        sa.Column("target_kind", sa.String(length=40), nullable=True),
        sa.Column("target_id", sa.String(length=64), nullable=True),
        sa.Column("reason", sa.String(length=500), nullable=True),
        sa.Column("before", sa.JSON(), nullable=True),
        sa.Column("after", sa.JSON(), nullable=True),
        sa.ForeignKeyConstraint(["actor_id"], ["users.id"], name=op.f("fk_audit_log_actor_id_users"),
                                ondelete="SET NULL"),
        sa.ForeignKeyConstraint(["on_behalf_of_id"], ["users.id"], name=op.f("fk_audit_log_on_behalf_of_id_users"),
                                ondelete="SET NULL"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_log")),
    )
    op.create_index("ix_audit_log_at", "audit_log", ["at"], unique=False)
    op.create_index("ix_audit_log_actor_at", "audit_log", ["actor_id", "at"], unique=False)
    op.create_index("ix_audit_log_target", "audit_log", ["target_kind", "target_id", "at"], unique=False)
    op.create_index("ix_audit_log_action_at", "audit_log", ["action", "at"], unique=False)
    op.create_index(op.f("ix_audit_log_on_behalf_of_id"), "audit_log", ["on_behalf_of_id"], unique=False)
    with op.batch_alter_table("auth_sessions", schema=None) as batch_op:
        batch_op.add_column(sa.Column("impersonator_id", BigId, nullable=True))
        batch_op.add_column(sa.Column("impersonation_reason", sa.String(length=500), nullable=True))
        batch_op.create_index(batch_op.f("ix_auth_sessions_impersonator_id"), ["impersonator_id"], unique=False)
        batch_op.create_foreign_key(batch_op.f("fk_auth_sessions_impersonator_id_users"), "users",
                                    ["impersonator_id"], ["id"], ondelete="CASCADE")


def downgrade() -> None:
    with op.batch_alter_table("auth_sessions", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("fk_auth_sessions_impersonator_id_users"), type_="foreignkey")
        batch_op.drop_index(batch_op.f("ix_auth_sessions_impersonator_id"))
        batch_op.drop_column("impersonation_reason")
        batch_op.drop_column("impersonator_id")
    op.drop_index(op.f("ix_audit_log_on_behalf_of_id"), table_name="audit_log")
    op.drop_index("ix_audit_log_action_at", table_name="audit_log")
    op.drop_index("ix_audit_log_target", table_name="audit_log")
    op.drop_index("ix_audit_log_actor_at", table_name="audit_log")
    op.drop_index("ix_audit_log_at", table_name="audit_log")
    op.drop_table("audit_log")

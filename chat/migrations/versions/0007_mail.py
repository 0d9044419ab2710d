"""E-mail out: the outbox, suppressions, the planner's cursor, spent single-use links,
and each user's time zone.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-05
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Frozen here rather than imported from the models: a migration must keep meaning what it
# meant when it was written.
BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
When = sa.DateTime(timezone=True)


def upgrade() -> None:
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.add_column(sa.Column("time_zone", sa.String(length=64), nullable=True))
    op.create_table(
        "mail_outbox",
        sa.Column("id", BigId, nullable=False),
        sa.Column("key", sa.String(length=200), nullable=False),
        sa.Column("kind", sa.String(length=40), nullable=False),
        sa.Column("to_addr", sa.String(length=320), nullable=False),
        sa.Column("to_user_id", BigId, nullable=True),
        sa.Column("conversation_id", BigId, nullable=True),
        sa.Column("message_id", sa.String(length=255), nullable=False),
        sa.Column("subject", sa.String(length=400), nullable=False),
        sa.Column("raw", sa.LargeBinary(), nullable=False),
        sa.Column("context", sa.JSON(), nullable=False),
        sa.Column("status", sa.Enum("held", "pending", "sent", "failed", "cancelled", name="mail_status",
                                    native_enum=False, create_constraint=True, length=32), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("due_at", When, nullable=False),
        sa.Column("claimed_until", When, nullable=True),
        sa.Column("last_error", sa.String(length=500), nullable=True),
        sa.Column("transport", sa.String(length=16), nullable=True),
        sa.Column("created_at", When, nullable=False),
        sa.Column("updated_at", When, nullable=False),
        sa.Column("sent_at", When, nullable=True),
        sa.ForeignKeyConstraint(["to_user_id"], ["users.id"], name=op.f("fk_mail_outbox_to_user_id_users"),
                                ondelete="SET NULL"),
        sa.ForeignKeyConstraint(["conversation_id"], ["conversations.id"],
                                name=op.f("fk_mail_outbox_conversation_id_conversations"), ondelete="SET NULL"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_mail_outbox")),
        sa.UniqueConstraint("key", name=op.f("uq_mail_outbox_key")),
        sa.UniqueConstraint("message_id", name=op.f("uq_mail_outbox_message_id")),
    )
    with op.batch_alter_table("mail_outbox", schema=None) as batch_op:
        batch_op.create_index("ix_mail_outbox_status_due", ["status", "due_at"], unique=False)
        batch_op.create_index(batch_op.f("ix_mail_outbox_to_addr"), ["to_addr"], unique=False)
        batch_op.create_index(batch_op.f("ix_mail_outbox_to_user_id"), ["to_user_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_mail_outbox_conversation_id"), ["conversation_id"], unique=False)
    op.create_table(
        "mail_suppressions",
        sa.Column("address", sa.String(length=320), nullable=False),
        sa.Column("reason", sa.String(length=500), nullable=False),
        sa.Column("mail_id", BigId, nullable=True),
        sa.Column("created_at", When, nullable=False),
        sa.ForeignKeyConstraint(["mail_id"], ["mail_outbox.id"], name=op.f("fk_mail_suppressions_mail_id_mail_outbox"),
                                ondelete="SET NULL"),
        sa.PrimaryKeyConstraint("address", name=op.f("pk_mail_suppressions")),
    )
    op.create_table(
        "mail_cursors",
        sa.Column("name", sa.String(length=40), nullable=False),
        sa.Column("last_event_id", sa.BigInteger(), nullable=False),
        sa.Column("updated_at", When, nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_mail_cursors")),
    )
    # The planner starts at the end of the log as it is at the upgrade: a database that
    # already holds years of tickets does not mail their history.
    op.execute(
        "INSERT INTO mail_cursors (name, last_event_id, updated_at) "
        "SELECT 'events', COALESCE(MAX(id), 0), CURRENT_TIMESTAMP FROM events"
    )
    op.create_table(
        "spent_tokens",
        sa.Column("jti", sa.String(length=64), nullable=False),
        sa.Column("purpose", sa.String(length=32), nullable=False),
        sa.Column("spent_at", When, nullable=False),
        sa.PrimaryKeyConstraint("jti", name=op.f("pk_spent_tokens")),
    )


def downgrade() -> None:
    op.drop_table("spent_tokens")
    op.drop_table("mail_cursors")
    op.drop_table("mail_suppressions")
    with op.batch_alter_table("mail_outbox", schema=None) as batch_op:
        batch_op.drop_index("ix_mail_outbox_conversation_id")
        batch_op.drop_index("ix_mail_outbox_to_user_id")
        batch_op.drop_index("ix_mail_outbox_to_addr")
        batch_op.drop_index("ix_mail_outbox_status_due")
    op.drop_table("mail_outbox")
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.drop_column("time_zone")

"""E-mail in: received mails, the sender block list, the IMAP poller's UIDs, and spam
marks on tickets.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-05
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Frozen here rather than imported from the models: a migration must keep meaning what it
# meant when it was written.
BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
When = sa.DateTime(timezone=True)
STATUSES = ("ticket", "reply", "held", "spam", "loop", "bounce", "ours", "refused")


def upgrade() -> None:
    op.create_table(
        "mail_inbound",
        sa.Column("id", BigId, nullable=False),
        sa.Column("mailbox", sa.String(length=200), nullable=False),
        sa.Column("message_key", sa.String(length=64), nullable=False),
        sa.Column("message_id", sa.String(length=998), nullable=True),
        sa.Column("sender", sa.String(length=320), nullable=False),
        sa.Column("subject", sa.String(length=400), nullable=False),
        sa.Column("status", sa.Enum(*STATUSES, name="inbound_status", native_enum=False, create_constraint=True,
                                    length=32), nullable=False),
        sa.Column("reason", sa.String(length=500), nullable=False),
        sa.Column("conversation_id", BigId, nullable=True),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("raw", sa.LargeBinary(), nullable=False),
        sa.Column("received_at", When, nullable=False),
        sa.Column("decided_by_id", BigId, nullable=True),
        sa.Column("decided_at", When, nullable=True),
        sa.ForeignKeyConstraint(["conversation_id"], ["conversations.id"],
                                name=op.f("fk_mail_inbound_conversation_id_conversations"), ondelete="SET NULL"),
        sa.ForeignKeyConstraint(["decided_by_id"], ["users.id"], name=op.f("fk_mail_inbound_decided_by_id_users"),
                                ondelete="SET NULL"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_mail_inbound")),
        sa.UniqueConstraint("mailbox", "message_key", name=op.f("uq_mail_inbound_mailbox_message_key")),
    )
    with op.batch_alter_table("mail_inbound", schema=None) as batch_op:
        batch_op.create_index("ix_mail_inbound_status_id", ["status", "id"], unique=False)
        batch_op.create_index(batch_op.f("ix_mail_inbound_sender"), ["sender"], unique=False)
        batch_op.create_index(batch_op.f("ix_mail_inbound_conversation_id"), ["conversation_id"], unique=False)
    op.create_table(
        "mail_blocklist",
        sa.Column("pattern", sa.String(length=320), nullable=False),
        sa.Column("reason", sa.String(length=500), nullable=False),
        sa.Column("created_by_id", BigId, nullable=True),
        sa.Column("created_at", When, nullable=False),
        sa.ForeignKeyConstraint(["created_by_id"], ["users.id"], name=op.f("fk_mail_blocklist_created_by_id_users"),
                                ondelete="SET NULL"),
        sa.PrimaryKeyConstraint("pattern", name=op.f("pk_mail_blocklist")),
    )
    op.create_table(
        "mail_imap_state",
        sa.Column("mailbox", sa.String(length=200), nullable=False),
        sa.Column("uidvalidity", sa.BigInteger(), nullable=False),
        sa.Column("last_uid", sa.BigInteger(), nullable=False),
        sa.Column("updated_at", When, nullable=False),
        sa.PrimaryKeyConstraint("mailbox", name=op.f("pk_mail_imap_state")),
    )
    with op.batch_alter_table("tickets", schema=None) as batch_op:
        batch_op.add_column(sa.Column("spam_at", When, nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("tickets", schema=None) as batch_op:
        batch_op.drop_column("spam_at")
    op.drop_table("mail_imap_state")
    op.drop_table("mail_blocklist")
    with op.batch_alter_table("mail_inbound", schema=None) as batch_op:
        batch_op.drop_index("ix_mail_inbound_conversation_id")
        batch_op.drop_index("ix_mail_inbound_sender")
        batch_op.drop_index("ix_mail_inbound_status_id")
    op.drop_table("mail_inbound")

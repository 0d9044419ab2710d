"""The agent's desk (issue 18): a staff member's read marker per group chat.

- ``chat_group_reads``: the highest seq of a group chat a staff member has read in the
  console; the Groups queue's unread counts are the messages after it. Staff are not
  participants of group chats, so ``participants.last_read_seq`` cannot hold it.

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-06
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0014"
down_revision: str | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table('chat_group_reads',
    sa.Column('group_id', BigId, nullable=False),
    sa.Column('user_id', BigId, nullable=False),
    sa.Column('last_read_seq', sa.BigInteger(), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['group_id'], ['chat_groups.id'], name=op.f('fk_chat_group_reads_group_id_chat_groups'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_chat_group_reads_user_id_users'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('group_id', 'user_id', name=op.f('pk_chat_group_reads'))
    )
    with op.batch_alter_table('chat_group_reads', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_chat_group_reads_user_id'), ['user_id'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('chat_group_reads', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_chat_group_reads_user_id'))
    op.drop_table('chat_group_reads')

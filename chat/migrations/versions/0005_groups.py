"""Group support chats, join requests, reseller settings, system alerts.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-22
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")

# Created in this order (each only refers to earlier ones), dropped in reverse.
TABLES = ("reseller_settings", "system_alerts", "alert_files", "chat_groups", "chat_group_join_requests",
          "chat_group_members")


def upgrade() -> None:
    op.create_table('reseller_settings',
    sa.Column('organization_id', BigId, nullable=False),
    sa.Column('own_first_line', sa.Boolean(), nullable=False),
    sa.Column('updated_by_id', BigId, nullable=True),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['organization_id'], ['organizations.id'], name=op.f('fk_reseller_settings_organization_id_organizations'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['updated_by_id'], ['users.id'], name=op.f('fk_reseller_settings_updated_by_id_users'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('organization_id', name=op.f('pk_reseller_settings'))
    )

    op.create_table('system_alerts',
    sa.Column('id', BigId, nullable=False),
    sa.Column('organization_id', BigId, nullable=False),
    sa.Column('type', sa.Enum('information', 'complaint', 'suspicious_activity', name='alert_type', native_enum=False, create_constraint=True, length=32), nullable=False),
    sa.Column('title', sa.String(length=200), nullable=False),
    sa.Column('body', sa.Text(), nullable=False),
    sa.Column('created_by_id', BigId, nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['created_by_id'], ['users.id'], name=op.f('fk_system_alerts_created_by_id_users'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['organization_id'], ['organizations.id'], name=op.f('fk_system_alerts_organization_id_organizations'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_system_alerts'))
    )
    with op.batch_alter_table('system_alerts', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_system_alerts_organization_id'), ['organization_id'], unique=False)

    op.create_table('alert_files',
    sa.Column('id', BigId, nullable=False),
    sa.Column('alert_id', BigId, nullable=True),
    sa.Column('uploader_id', BigId, nullable=True),
    sa.Column('filename', sa.String(length=255), nullable=False),
    sa.Column('content_type', sa.String(length=100), nullable=False),
    sa.Column('size', sa.BigInteger(), nullable=False),
    sa.Column('storage_key', sa.String(length=200), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['alert_id'], ['system_alerts.id'], name=op.f('fk_alert_files_alert_id_system_alerts'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['uploader_id'], ['users.id'], name=op.f('fk_alert_files_uploader_id_users'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_alert_files')),
    sa.UniqueConstraint('storage_key', name=op.f('uq_alert_files_storage_key'))
    )
    with op.batch_alter_table('alert_files', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_alert_files_alert_id'), ['alert_id'], unique=False)

    op.create_table('chat_groups',
    sa.Column('id', BigId, nullable=False),
    sa.Column('organization_id', BigId, nullable=False),
    sa.Column('conversation_id', BigId, nullable=False),
    sa.Column('name', sa.String(length=100), nullable=False),
    sa.Column('history', sa.Enum('full', 'since_join', name='group_history', native_enum=False, create_constraint=True, length=32), nullable=False),
    sa.Column('created_by_id', BigId, nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['conversation_id'], ['conversations.id'], name=op.f('fk_chat_groups_conversation_id_conversations'), ondelete='RESTRICT'),
    sa.ForeignKeyConstraint(['created_by_id'], ['users.id'], name=op.f('fk_chat_groups_created_by_id_users'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['organization_id'], ['organizations.id'], name=op.f('fk_chat_groups_organization_id_organizations'), ondelete='RESTRICT'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_chat_groups')),
    sa.UniqueConstraint('conversation_id', name=op.f('uq_chat_groups_conversation_id')),
    sa.UniqueConstraint('organization_id', 'name', name=op.f('uq_chat_groups_organization_id_name'))
    )
    with op.batch_alter_table('chat_groups', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_chat_groups_organization_id'), ['organization_id'], unique=False)

    op.create_table('chat_group_join_requests',
    sa.Column('id', BigId, nullable=False),
    sa.Column('group_id', BigId, nullable=False),
    sa.Column('user_id', BigId, nullable=False),
    sa.Column('status', sa.Enum('pending', 'approved', 'rejected', name='join_request_status', native_enum=False, create_constraint=True, length=32), nullable=False),
    sa.Column('route', sa.Enum('reseller', 'platform', name='join_request_route', native_enum=False, create_constraint=True, length=32), nullable=False),
    sa.Column('reseller_id', BigId, nullable=True),
    sa.Column('note', sa.String(length=1000), nullable=False),
    sa.Column('pending_key', sa.String(length=64), nullable=True),
    sa.Column('ticket_conversation_id', BigId, nullable=True),
    sa.Column('decided_by_id', BigId, nullable=True),
    sa.Column('decided_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('reason', sa.String(length=1000), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['decided_by_id'], ['users.id'], name=op.f('fk_chat_group_join_requests_decided_by_id_users'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['group_id'], ['chat_groups.id'], name=op.f('fk_chat_group_join_requests_group_id_chat_groups'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['reseller_id'], ['organizations.id'], name=op.f('fk_chat_group_join_requests_reseller_id_organizations'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['ticket_conversation_id'], ['conversations.id'], name=op.f('fk_chat_group_join_requests_ticket_conversation_id_conversations'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_chat_group_join_requests_user_id_users'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_chat_group_join_requests')),
    sa.UniqueConstraint('pending_key', name=op.f('uq_chat_group_join_requests_pending_key'))
    )
    with op.batch_alter_table('chat_group_join_requests', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_chat_group_join_requests_group_id'), ['group_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_chat_group_join_requests_reseller_id'), ['reseller_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_chat_group_join_requests_status'), ['status'], unique=False)
        batch_op.create_index(batch_op.f('ix_chat_group_join_requests_user_id'), ['user_id'], unique=False)

    op.create_table('chat_group_members',
    sa.Column('id', BigId, nullable=False),
    sa.Column('group_id', BigId, nullable=False),
    sa.Column('user_id', BigId, nullable=False),
    sa.Column('state', sa.Enum('active', 'removed', name='group_member_state', native_enum=False, create_constraint=True, length=32), nullable=False),
    sa.Column('visible_from_seq', sa.BigInteger(), nullable=False),
    sa.Column('joined_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('approved_by_id', BigId, nullable=True),
    sa.Column('removed_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('removed_by_id', BigId, nullable=True),
    sa.Column('removal_reason', sa.String(length=500), nullable=True),
    sa.ForeignKeyConstraint(['approved_by_id'], ['users.id'], name=op.f('fk_chat_group_members_approved_by_id_users'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['group_id'], ['chat_groups.id'], name=op.f('fk_chat_group_members_group_id_chat_groups'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['removed_by_id'], ['users.id'], name=op.f('fk_chat_group_members_removed_by_id_users'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_chat_group_members_user_id_users'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_chat_group_members')),
    sa.UniqueConstraint('group_id', 'user_id', name=op.f('uq_chat_group_members_group_id_user_id'))
    )
    with op.batch_alter_table('chat_group_members', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_chat_group_members_user_id'), ['user_id'], unique=False)


def downgrade() -> None:
    # Dropping a table drops its indexes too, on both backends.
    for table in reversed(TABLES):
        op.drop_table(table)

"""Configure the desk in the UI (issue 19): what the admin screens store.

- (no schema change) ``desk_settings`` (migration 0006) also holds the escalation ladder,
  the default auto-close delays, the statuses' labels and the chat-to-ticket timers; the
  environment gives the first default, a stored row wins, and its writes move
  ``desk_version`` like the other desk tables.
- ``sla_policies.day_rule``: what a day target of the policy means — ``whole_days`` (due at
  the close of the Nth working day, the rule so far) or ``working_hours`` (N × the
  calendar's day length, as SKAI's regulation reads).
- ``sla_policies.auto_close_waiting`` / ``auto_close_proposed`` and the same pair on
  ``organizations``: auto-close delays per policy and per company (``"48h"``, ``"7d"``,
  ``"2bd"``); null means the next level down (company > policy > desk default).
- ``ticket_categories.titles``: the category's title per language (``{"ru": "…"}``).
- ``sites.previous_identity_secret`` / ``previous_secret_until``: a rotated identity secret
  stays valid until then, so a site's backend can switch without a gap.

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-06
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0016"
down_revision: str | None = "0015"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

When = sa.DateTime(timezone=True)


def upgrade() -> None:
    with op.batch_alter_table("sla_policies", schema=None) as batch_op:
        batch_op.add_column(sa.Column("day_rule", sa.String(length=16), nullable=False, server_default="whole_days"))
        batch_op.add_column(sa.Column("auto_close_waiting", sa.String(length=32), nullable=True))
        batch_op.add_column(sa.Column("auto_close_proposed", sa.String(length=32), nullable=True))
    with op.batch_alter_table("organizations", schema=None) as batch_op:
        batch_op.add_column(sa.Column("auto_close_waiting", sa.String(length=32), nullable=True))
        batch_op.add_column(sa.Column("auto_close_proposed", sa.String(length=32), nullable=True))
    with op.batch_alter_table("ticket_categories", schema=None) as batch_op:
        batch_op.add_column(sa.Column("titles", sa.JSON(), nullable=False, server_default="{}"))
    with op.batch_alter_table("sites", schema=None) as batch_op:
        batch_op.add_column(sa.Column("previous_identity_secret", sa.String(length=128), nullable=True))
        batch_op.add_column(sa.Column("previous_secret_until", When, nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("sites", schema=None) as batch_op:
        batch_op.drop_column("previous_secret_until")
        batch_op.drop_column("previous_identity_secret")
    with op.batch_alter_table("ticket_categories", schema=None) as batch_op:
        batch_op.drop_column("titles")
    with op.batch_alter_table("organizations", schema=None) as batch_op:
        batch_op.drop_column("auto_close_proposed")
        batch_op.drop_column("auto_close_waiting")
    with op.batch_alter_table("sla_policies", schema=None) as batch_op:
        batch_op.drop_column("auto_close_proposed")
        batch_op.drop_column("auto_close_waiting")
        batch_op.drop_column("day_rule")

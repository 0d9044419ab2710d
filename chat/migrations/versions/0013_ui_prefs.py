"""The agent's desk (issue 18): a user's language choice and UI preferences.

- ``users.language_chosen``: false until the person picks a language (profile, or an
  admin on their behalf); until then the console and portal follow the browser's
  language. Existing rows keep what they had and count as not chosen.
- ``users.ui_prefs``: the console's and portal's own switches (the inbox view, alert sound,
  desktop notifications), per person, so they follow them to another browser.

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-06
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0013"
down_revision: str | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.add_column(sa.Column("language_chosen", sa.Boolean(), nullable=False, server_default=sa.false()))
        batch_op.add_column(sa.Column("ui_prefs", sa.JSON(), nullable=False, server_default="{}"))


def downgrade() -> None:
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.drop_column("ui_prefs")
        batch_op.drop_column("language_chosen")

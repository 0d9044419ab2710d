"""Reports (issue 17): three indexes measured by bench/reports_bench.py on a year of a busy
desk (100 000 tickets, 2 000 000 messages; docs/benchmarks.md "Reports"):

- ``report_hours (hour, conversation_id, messages)`` instead of ``(hour)``: the per-day
  messages and the heatmap read the index alone, never the table (with the next one, the
  heatmap's statement on SQLite: a month 74 → 14 ms, a year 512 → 348 ms; PostgreSQL: an
  index-only scan, a month 50 → 20 ms);
- ``tickets (spam_at) WHERE spam_at IS NOT NULL``: "not a spam ticket", which every count
  of hours asks, reads the few spam rows instead of every ticket (SQLite 33 → 0 ms;
  PostgreSQL: a year's heatmap 350 → 190 ms, a month's 133 → 50 ms — the sequential scan
  of tickets ran in each parallel worker);
- ``tickets (first_replied_at)``: the first responses of a range (the times report) are
  found by their index instead of a scan (SQLite, 30 days: the report's statements
  135 → 50 ms). One index entry per ticket, written once, at its first answer.

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-05
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

SPAM = sa.text("spam_at IS NOT NULL")


def upgrade() -> None:
    op.drop_index("ix_report_hours_hour", table_name="report_hours")
    op.create_index("ix_report_hours_counted", "report_hours", ["hour", "conversation_id", "messages"], unique=False)
    op.create_index("ix_tickets_spam_at", "tickets", ["spam_at"], unique=False,
                    sqlite_where=SPAM, postgresql_where=SPAM)
    op.create_index("ix_tickets_first_replied_at", "tickets", ["first_replied_at"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_tickets_first_replied_at", table_name="tickets")
    op.drop_index("ix_tickets_spam_at", table_name="tickets")
    op.drop_index("ix_report_hours_counted", table_name="report_hours")
    op.create_index("ix_report_hours_hour", "report_hours", ["hour"], unique=False)

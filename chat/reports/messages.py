"""The messages-per-resolution report (BX): how many public messages the tickets resolved
in the range took, as a distribution over buckets (1, 2, 3, 4, 5, 6–10, 11–20, 21+).

Messages are the rollup's count (``tickets.messages_count``: customer and staff public
messages of the conversation, internal notes and system events not included).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select

from chat.authz import Principal
from chat.reports import selection as sel
from chat.reports.filters import ReportQuery
from chat.reports.scope import report_scope
from chat.reports.tables import Chart, Column, Table, document, drill, share
from chat.services import Services
from escalation.models import Ticket

COLUMNS = (
    Column("bucket", "Messages", "text"),
    Column("tickets", "Tickets", "int", drill("resolved", "bucket")),
    Column("share", "Share", "percent"),
)
SUMMARY_COLUMNS = (
    Column("tickets", "Tickets resolved", "int", drill("resolved")),
    Column("messages", "Messages", "int"),
    Column("mean", "Messages per resolution", "number"),
)


async def messages_report(svc: Services, actor: Principal, query: ReportQuery) -> dict[str, Any]:
    """The messages-per-resolution report of ``query`` as ``actor`` may see it."""
    where = [*sel.base(query, report_scope(actor)), sel.MEASURES["resolved"](query.start, query.end)]
    inner = sel.tickets_from(sel.bucket_key().label("b"), Ticket.messages_count.label("m"), where=where).subquery()
    statement = select(inner.c.b, func.count(), func.sum(inner.c.m)).group_by(inner.c.b)
    async with sel.reading(svc) as db:
        found = {b: (int(n), int(m or 0)) for b, n, m in (await db.execute(statement)).all()}
    tickets = sum(n for n, _ in found.values())
    messages = sum(m for _, m in found.values())
    rows = [{"bucket": key, "tickets": found.get(key, (0, 0))[0], "share": share(found.get(key, (0, 0))[0], tickets)}
            for key, _, _ in sel.BUCKETS]
    summary = {"tickets": tickets, "messages": messages, "mean": round(messages / tickets, 2) if tickets else None}
    return document("messages", query, [
        Table("distribution", "Messages per resolution", COLUMNS, rows,
              totals={"bucket": None, "tickets": tickets, "share": 1.0 if tickets else None},
              note="Tickets resolved in the range, by the public messages of their conversation."),
        Table("summary", "Summary", SUMMARY_COLUMNS, [summary]),
    ], [
        Chart("distribution", "histogram", "bucket", ("tickets",), "Messages per resolution"),
    ])

"""The busiest hours: public messages by local weekday and hour of day (7 × 24) over the
range.

The rollup counts messages per UTC hour (``report_hours``); the database sums them per
hour (at most 8 784 rows for a year) and each hour goes to the cell of its local start
in the report's zone. For zones whose offset is whole hours that is exact; in a :30 or
:45 zone an hour is counted in the local hour it starts in.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select

from chat.authz import Principal
from chat.reports import selection as sel
from chat.reports.filters import ReportQuery
from chat.reports.scope import report_scope
from chat.reports.tables import Chart, Column, Row, Table, document, drill
from chat.reports.texts import tr
from chat.services import Services
from escalation.models import ReportHour

DAY_NAMES = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
HOURS = tuple(f"h{h:02d}" for h in range(24))

COLUMNS = (
    Column("weekday", "Weekday key", "text"),
    Column("name", "Weekday", "text"),
    *(Column(key, f"{h:02d}:00", "int", drill("messages", "weekday", hour=h)) for h, key in enumerate(HOURS)),
    Column("total", "Total", "int"),
)


async def heatmap_report(svc: Services, actor: Principal, query: ReportQuery) -> dict[str, Any]:
    """The weekday × hour heatmap of ``query`` as ``actor`` may see it."""
    statement = (
        select(ReportHour.hour, func.sum(ReportHour.messages))
        .where(sel.in_window(ReportHour.hour, query.start, query.end),
               sel.counted(ReportHour.conversation_id, query, report_scope(actor)))
        .group_by(ReportHour.hour)
    )
    grid = [[0] * 24 for _ in range(7)]
    async with sel.reading(svc) as db:
        for hour, messages in (await db.execute(statement)).all():
            local = hour.astimezone(query.tz)
            grid[local.weekday()][local.hour] += int(messages or 0)
    rows: list[Row] = [
        {"weekday": key, "name": tr(query.lang, DAY_NAMES[i]), **dict(zip(HOURS, grid[i], strict=True)), "total": sum(grid[i])}
        for i, key in enumerate(sel.WEEKDAYS)
    ]
    totals: Row = {"weekday": None, "name": tr(query.lang, "Total"), **{key: sum(r[key] for r in rows) for key in HOURS},
                   "total": sum(r["total"] for r in rows)}
    return document("heatmap", query, [
        Table("weekday_hour", "Messages by weekday and hour", COLUMNS, rows, totals=totals,
              note="Local weekdays and hours in the report's time zone."),
    ], [
        Chart("weekday_hour", "heatmap", "weekday", HOURS, "Messages by weekday and hour", label="name",
              extra={"key": "messages"}),
    ])

"""The breakdown report (the BX list): tickets created, open and closed, by agent (the
assignee), status, category, severity, channel, rating, site, company and support group.

"Created" and "closed": in the range; "open": still open at the range's end (the
volume report's last backlog). Status and rating are the ticket's current ones. One
aggregate statement per dimension, all in one read transaction.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, or_, select

from chat.authz import Principal
from chat.reports import selection as sel
from chat.reports.filters import ReportQuery
from chat.reports.scope import report_scope
from chat.reports.tables import Chart, Column, Row, Table, document, drill
from chat.services import Services

TITLES = {
    "agent": "By agent", "status": "By status", "category": "By category", "severity": "By severity",
    "channel": "By channel", "rating": "By rating", "site": "By site", "company": "By company",
    "group": "By support group",
}
KEY_LABELS = {
    "agent": "Agent id", "status": "Status", "category": "Category key", "severity": "Severity",
    "channel": "Channel", "rating": "Rating", "site": "Site id", "company": "Company id", "group": "Group key",
}
CHARTED = ("agent", "status", "category", "channel", "rating")


def columns(dimension: str) -> tuple[Column, ...]:
    return (
        Column(dimension, KEY_LABELS[dimension], "text"),
        Column("name", "Name", "text"),
        Column("created", "Created", "int", drill("created", dimension)),
        Column("open", "Open at the end", "int", drill("backlog", dimension)),
        Column("closed", "Closed", "int", drill("closed", dimension)),
    )


async def breakdown_report(svc: Services, actor: Principal, query: ReportQuery) -> dict[str, Any]:
    """The breakdown report of ``query`` as ``actor`` may see it."""
    where = sel.base(query, report_scope(actor))
    created = sel.MEASURES["created"](query.start, query.end)
    open_at_end = sel.MEASURES["backlog"](query.start, query.end)
    closed = sel.MEASURES["closed"](query.start, query.end)
    tables = []
    async with sel.reading(svc) as db:
        for dimension in sel.DIMENSIONS:
            key = sel.dimension_column(dimension)
            # Grouped outside: PostgreSQL would not match a key with parameters (rating's
            # CASE) in GROUP BY to the same expression in the select list.
            inner = (
                sel.tickets_from(key.label("k"), created.label("c"), open_at_end.label("o"), closed.label("x"),
                                 where=[*where, or_(created, open_at_end, closed)])
                .subquery()
            )
            statement = select(inner.c.k, func.count().filter(inner.c.c), func.count().filter(inner.c.o),
                               func.count().filter(inner.c.x)).group_by(inner.c.k)
            counted = (await db.execute(statement)).all()
            known = await sel.names(db, dimension, [k for k, *_ in counted])
            rows: list[Row] = sorted(
                ({dimension: sel.key_text(k), "name": sel.label_of(dimension, k, known),
                  "created": int(c), "open": int(o), "closed": int(x)} for k, c, o, x in counted),
                key=lambda r: (-r["created"], -r["open"], r["name"]),
            )
            totals = {dimension: None, "name": "Total", **{f: sum(r[f] for r in rows)
                                                          for f in ("created", "open", "closed")}}
            tables.append(Table(dimension, TITLES[dimension], columns(dimension), rows, totals=totals))
    # Lying down: names (categories, companies) are long and may be many.
    charts_ = [Chart(d, "bars", d, ("created", "open", "closed"), f"Tickets {TITLES[d].lower()}", label="name",
                     roles={"closed": "good"}, horizontal=True)
               for d in CHARTED]
    return document("breakdown", query, tables, charts_)

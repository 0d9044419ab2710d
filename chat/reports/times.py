"""The times report: first response and resolution — mean, median and 90th percentile —
in wall-clock time and in business time on each ticket's own SLA calendar, overall and by
agent, category and severity; and the time to the first agent's answer in live chats.

The figures are the stored facts (``tickets.first_response_*_s``, ``resolution_*_s``,
``first_agent_join_s``), so the screen, the CSV and the ticket list agree. The sets:
first response over the tickets first answered in the range, resolution over the tickets
resolved in it, the first join over the live chats started in it. Percentiles are
nearest-rank (the value at rank ceil(p·n)), computed by the database with window
functions: no duration list travels to Python.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import union_all

from chat.authz import Principal
from chat.reports import selection as sel
from chat.reports.filters import ReportQuery
from chat.reports.scope import report_scope
from chat.reports.tables import Chart, Column, Row, Table, document, drill
from chat.services import Services
from escalation.models import Ticket

MEASURES = (
    ("first_response_wall", "First response, wall clock"),
    ("first_response_business", "First response, business time"),
    ("resolution_wall", "Resolution, wall clock"),
    ("resolution_business", "Resolution, business time"),
    ("first_agent_join", "First agent answer in live chats"),
)
STATS = (("mean", "mean"), ("median", "median"), ("p90", "90th percentile"))
DIMENSIONS = (("agent", "By agent", "Agent id"), ("category", "By category", "Category key"),
              ("severity", "By severity", "Severity"))

OVERALL_COLUMNS = (
    Column("measure", "Measure key", "text"),
    Column("name", "Measure", "text"),
    Column("tickets", "Tickets", "int", drill("timed", "measure")),
    Column("mean", "Mean", "duration"),
    Column("median", "Median", "duration"),
    Column("p90", "90th percentile", "duration"),
)


def dimension_columns(dimension: str, key_label: str) -> tuple[Column, ...]:
    out = [Column(dimension, key_label, "text"), Column("name", "Name", "text")]
    for counted, metric, prefixes in (("responded", "responded", ("first_response_wall", "first_response_business")),
                                      ("resolved", "resolved", ("resolution_wall", "resolution_business"))):
        out.append(Column(counted, counted.capitalize(), "int", drill(metric, dimension)))
        for prefix in prefixes:
            title = dict(MEASURES)[prefix]
            out += [Column(f"{prefix}_{stat}", f"{title}: {label}", "duration") for stat, label in STATS]
    return tuple(out)


def _conditions(query: ReportQuery, measure: str) -> tuple[Any, list[Any]]:
    metric, column = sel.TIMED[measure]
    return getattr(Ticket, column), [sel.MEASURES[metric](query.start, query.end)]


def _mean(value: float | None) -> int | None:
    return None if value is None else round(value)


async def times_report(svc: Services, actor: Principal, query: ReportQuery) -> dict[str, Any]:
    """The times report of ``query`` as ``actor`` may see it."""
    where = sel.base(query, report_scope(actor))

    def stats_of(measures: tuple[str, ...], group: Any | None) -> Any:
        parts = []
        for measure in measures:
            value, conditions = _conditions(query, measure)
            parts.append(sel.duration_stats(value, group, [*where, *conditions], label=measure))
        return union_all(*parts)

    tables: list[Table] = []
    timed = tuple(m for m, _ in MEASURES[:4])
    async with svc.reads() as db:
        overall = sel.read_stats((await db.execute(stats_of(tuple(m for m, _ in MEASURES), None))).all())
        rows: list[Row] = []
        for measure, title in MEASURES:
            stats = overall.get((measure, None), sel.Stats(0, None, None, None))
            rows.append({"measure": measure, "name": title, "tickets": stats.count, "mean": _mean(stats.mean),
                         "median": stats.median, "p90": stats.p90})
        tables.append(Table("overall", "Overall", OVERALL_COLUMNS, rows))
        for dimension, title, key_label in DIMENSIONS:
            column = sel.dimension_column(dimension)
            found = sel.read_stats((await db.execute(stats_of(timed, column))).all())
            keys = sorted({k for _, k in found}, key=lambda k: (k is None, str(k)))
            known = await sel.names(db, dimension, keys)
            rows = []
            for key in keys:
                row: Row = {dimension: sel.key_text(key), "name": sel.label_of(dimension, key, known)}
                for counted, measures in (("responded", timed[:2]), ("resolved", timed[2:])):
                    row[counted] = found.get((measures[0], key), sel.Stats(0, None, None, None)).count
                    for measure in measures:
                        stats = found.get((measure, key), sel.Stats(0, None, None, None))
                        row.update({f"{measure}_mean": _mean(stats.mean), f"{measure}_median": stats.median,
                                    f"{measure}_p90": stats.p90})
                rows.append(row)
            rows.sort(key=lambda r: (-(r["responded"] + r["resolved"]), r["name"]))
            tables.append(Table(f"by_{dimension}", title, dimension_columns(dimension, key_label), rows))
    return document("times", query, tables, [
        Chart("overall", "bars", "measure", ("median", "p90"), "Median and 90th percentile", label="name",
              unit="duration"),
        Chart("by_agent", "bars", "agent", ("first_response_business_median", "resolution_business_median"),
              "Median business time by agent", label="name", unit="duration"),
    ])

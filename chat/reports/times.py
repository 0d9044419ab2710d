"""The times report: first response and resolution — mean, median and 90th percentile —
in wall-clock time and in business time on each ticket's own SLA calendar, overall and by
agent, category and severity; and the time to the first agent's answer in live chats.

The figures are the stored facts (``tickets.first_response_*_s``, ``resolution_*_s``,
``first_agent_join_s``), so the screen, the CSV and the ticket list agree. The sets:
first response over the tickets first answered in the range, resolution over the tickets
resolved in it, the first join over the live chats started in it. Percentiles are
nearest-rank (the value at rank ceil(p·n)), taken from each set's durations (integers)
read once on SQLite, as comma-joined lists in one row; PostgreSQL ranks in the database (``percentile_disc``, which is
nearest-rank too, over ``GROUPING SETS``: a few dozen rows instead of a year's durations).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from typing import Any

from sqlalchemy import BigInteger, ColumnElement, Select, String, case, cast, func, literal, or_, select, text
from sqlalchemy.dialects.postgresql import ARRAY, array
from sqlalchemy.ext.asyncio import AsyncSession

from chat.authz import Principal
from chat.reports import selection as sel
from chat.reports.filters import ReportQuery
from chat.reports.scope import report_scope
from chat.reports.tables import Chart, Column, Row, Table, document, drill
from chat.reports.texts import tr
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


@dataclass(frozen=True)
class Stats:
    count: int
    mean: int | None
    median: int | None
    p90: int | None


def nearest_rank(ordered: list[int], p: float) -> int | None:
    """The value at rank ceil(p·n) of ``ordered`` (ascending); p in hundredths is exact."""
    if not ordered:
        return None
    return ordered[-(-len(ordered) * round(p * 100) // 100) - 1]


def stats(ordered: list[int]) -> Stats:
    if not ordered:
        return Stats(0, None, None, None)
    return Stats(len(ordered), round(sum(ordered) / len(ordered)), nearest_rank(ordered, 0.5),
                 nearest_rank(ordered, 0.9))


NONE_FOUND = Stats(0, None, None, None)


def _key_text(column: Any) -> ColumnElement[str]:
    """A key as text with no comma in it, never NULL (``group_concat`` skips a NULL: the
    keys after it would be read against the wrong durations): ``''`` for NULL, an
    integer's digits, a text's hex after an ``x``."""
    if column.type.python_type is int:
        return func.coalesce(cast(column, String), "")
    return case((column.is_(None), ""), else_=literal("x", String).op("||")(func.hex(column)))


def _key_of(written: str, python_type: type) -> Any:
    """The key that :func:`_key_text` wrote, as the column's Python value."""
    if not written:
        return None
    if python_type is int:
        return int(written)
    return bytes.fromhex(written[1:]).decode()


async def _listed(db: AsyncSession, facts: list[Any], of_set: list[str], where: list[ColumnElement[bool]],
                  dimensions: dict[str, Any]) -> dict[str, dict[tuple[str, Any], Stats]]:
    """The durations ``facts`` (of the measures ``of_set``) of the tickets ``where``
    selects, on SQLite, grouped and sorted here (100 000 integers: ~20 ms a sort):
    ``{measure: {(dimension or "overall", key): stats}}``, a group only where the
    measure has a value.

    The set is read as one row: per column (each clock's durations, each key) the
    tickets' values joined by commas (``group_concat``; every aggregate of a statement
    is fed the same rows in the same order, and none skips one: NULL is written ``''``).
    Not as a row per ticket: a year's 100 000 rows as tuples cost ~0.2 s in the driver
    and SQLAlchemy, and about as much again in the garbage collector, which their
    allocations set off (texts and integers it does not track). A year's times on
    SQLite: 1.3–1.9 s → 0.7 s (100 000 tickets, the function alone, load ~3)."""
    statement = sel.tickets_from(
        *(func.group_concat(func.coalesce(cast(f, String), ""), ",", type_=String) for f in facts),
        *(func.group_concat(_key_text(c), ",", type_=String) for c in dimensions.values()),
        where=where)
    found = (await db.execute(statement)).one()
    out: dict[str, dict[tuple[str, Any], Stats]] = {m: {} for m in of_set}
    if found[0] is None:  # no ticket: every aggregate is NULL
        return out
    keys = [(d, c.type.python_type, written.split(","))
            for (d, c), written in zip(dimensions.items(), found[len(facts):], strict=True)]
    for measure, written in zip(of_set, found[:len(facts)], strict=True):
        texts = written.split(",")
        values: list[int | None] = [int(t) if t else None for t in texts] if "" in texts else list(map(int, texts))
        groups: dict[tuple[str, Any], list[int]] = {("overall", None): [v for v in values if v is not None]}
        for dimension, python_type, column in keys:
            by_key: defaultdict[str, list[int]] = defaultdict(list)
            for v, key in zip(values, column, strict=True):
                if v is not None:
                    by_key[key].append(v)
            groups.update(((dimension, _key_of(key, python_type)), ordered) for key, ordered in by_key.items())
        for group, ordered in groups.items():
            if ordered:
                ordered.sort()
                out[measure][group] = stats(ordered)
    return out


async def _ranked(db: AsyncSession, statement: Select[Any], of_set: list[str],
                  dimensions: list[str]) -> dict[str, dict[tuple[str, Any], Stats]]:
    """The same as :func:`_listed`, ranked by PostgreSQL: per group and measure the count,
    the sum (the mean is rounded here, as there) and ``percentile_disc`` of 0.5 and 0.9 —
    the value at the first position whose cumulative share reaches p, i.e. at rank
    ceil(p·n), nearest-rank — grouped by ``GROUPING SETS`` (``grouping()`` tells the
    overall group from a NULL key's)."""
    sub = statement.subquery()
    key_columns = [sub.c[f"k_{d}"] for d in dimensions]
    aggregates: list[Any] = []
    for i in range(len(of_set)):
        v = sub.c[f"v{i}"]
        aggregates += [func.count(v), func.sum(v),
                       func.percentile_disc(array([0.5, 0.9]), type_=ARRAY(BigInteger)).within_group(v)]
    sets_sql = ", ".join(["()", *(f"({c.name})" for c in key_columns)])
    grouped = (select(func.grouping(*key_columns), *key_columns, *aggregates)
               .group_by(text(f"GROUPING SETS ({sets_sql})")))
    # grouping() has a bit per argument, set when that key is not grouped by: 0b111 is
    # the overall group, 0b011 the first dimension's, 0b101 the second's...
    full = (1 << len(dimensions)) - 1
    which = {full: "overall", **{full & ~(1 << (len(dimensions) - 1 - j)): d for j, d in enumerate(dimensions)}}
    out: dict[str, dict[tuple[str, Any], Stats]] = {m: {} for m in of_set}
    for row in (await db.execute(grouped)).all():
        group = which[row[0]]
        key = None if group == "overall" else row[1 + dimensions.index(group)]
        for i, measure in enumerate(of_set):
            count, total, ranks = row[1 + len(dimensions) + 3 * i: 4 + len(dimensions) + 3 * i]
            if count:
                out[measure][(group, key)] = Stats(int(count), round(int(total) / int(count)),
                                                   int(ranks[0]), int(ranks[1]))
    return out


async def times_report(svc: Services, actor: Principal, query: ReportQuery) -> dict[str, Any]:
    """The times report of ``query`` as ``actor`` may see it.

    One statement per set (first answered, resolved, live chats joined): on SQLite its
    tickets' durations and the three keys they are broken down by, as lists in one row,
    the groups formed and sorted here (:func:`_listed`); on PostgreSQL the groups' figures (:func:`_ranked`: a
    year's times 2.6 s → ~0.1 s in the statements, 100 000 tickets). Window functions ranked them in the
    database, but a window per key and measure is a sort each: sixteen sorts of a year,
    2.6 s on PostgreSQL for 100 000 tickets; reading each set once takes a third of that."""
    where = sel.base(query, report_scope(actor))
    keys = {d: sel.dimension_column(d) for d, _, _ in DIMENSIONS}
    sets: dict[str, list[str]] = {}
    for measure, _ in MEASURES:
        sets.setdefault(sel.TIMED[measure][0], []).append(measure)
    found: dict[str, dict[tuple[str, Any], Stats]] = {}
    async with sel.reading(svc) as db:
        ranked = svc.read_engine.dialect.name == "postgresql"
        for metric, of_set in sets.items():
            facts = [getattr(Ticket, sel.TIMED[m][1]) for m in of_set]
            in_set = [*where, sel.MEASURES[metric](query.start, query.end), or_(*(f.is_not(None) for f in facts))]
            if ranked:
                statement = sel.tickets_from(*(f.label(f"v{i}") for i, f in enumerate(facts)),
                                             *(k.label(f"k_{d}") for d, k in keys.items()), where=in_set)
                found.update(await _ranked(db, statement, of_set, list(keys)))
            else:
                found.update(await _listed(db, facts, of_set, in_set, keys))
        known = {d: await sel.names(db, d, {k for g in found.values() for (dd, k) in g if dd == d}) for d in keys}

    tables: list[Table] = []
    rows: list[Row] = []
    for measure, title in MEASURES:
        overall = found[measure].get(("overall", None), NONE_FOUND)
        rows.append({"measure": measure, "name": tr(query.lang, title), "tickets": overall.count, "mean": overall.mean,
                     "median": overall.median, "p90": overall.p90})
    tables.append(Table("overall", "Overall", OVERALL_COLUMNS, rows))
    timed = tuple(m for m, _ in MEASURES[:4])
    for dimension, title, key_label in DIMENSIONS:
        present = {k for m in timed for (d, k) in found[m] if d == dimension}
        rows = []
        for key in sorted(present, key=lambda k: (k is None, str(k))):
            row: Row = {dimension: sel.key_text(key), "name": sel.label_of(dimension, key, known[dimension], query.lang)}
            for counted, measures in (("responded", timed[:2]), ("resolved", timed[2:])):
                row[counted] = found[measures[0]].get((dimension, key), NONE_FOUND).count
                for measure in measures:
                    s = found[measure].get((dimension, key), NONE_FOUND)
                    row.update({f"{measure}_mean": s.mean, f"{measure}_median": s.median, f"{measure}_p90": s.p90})
            rows.append(row)
        rows.sort(key=lambda r: (-(r["responded"] + r["resolved"]), r["name"]))
        tables.append(Table(f"by_{dimension}", title, dimension_columns(dimension, key_label), rows))
    # Minutes and days on one axis would hide the minutes: first answers and resolutions
    # are charted apart, each on its own scale; lying down, each bar has its value written
    # (a 16-minute median next to a 21-hour 90th percentile is a sliver otherwise).
    first = ("first_response_wall", "first_response_business", "first_agent_join")
    return document("times", query, tables, [
        Chart("overall", "bars", "measure", ("median", "p90"), "First response: median and 90th percentile",
              label="name", unit="duration", only=first, horizontal=True),
        Chart("overall", "bars", "measure", ("median", "p90"), "Resolution: median and 90th percentile",
              label="name", unit="duration", only=("resolution_wall", "resolution_business"), horizontal=True),
        Chart("by_agent", "bars", "agent", ("first_response_business_median",),
              "Median first response by agent (business time)", label="name", unit="duration", horizontal=True),
        Chart("by_agent", "bars", "agent", ("resolution_business_median",),
              "Median resolution by agent (business time)", label="name", unit="duration", horizontal=True),
    ])

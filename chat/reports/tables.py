"""The shape of a report's answer (docs/http.md, "Reports"): tables of typed columns with
their drill-downs, and charts drawn from them. Pure: rows in, the JSON document out.

A column's ``type`` tells the page how to format it: ``date``, ``hour``, ``text``, ``int``,
``number``, ``percent`` (0..1), ``duration`` (seconds) or ``id`` (a ticket, linked).
A column with a ``drill`` opens the tickets behind a cell: the page asks
``GET /api/reports/tickets`` with the report's filters, every key of the drill object
except ``by`` as a parameter, and the parameter named ``by`` *set* (not added) to the
row's value of that column (a filter of the same name is replaced: the row is inside it).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, Literal

from chat.reports import charts
from chat.reports.filters import ReportQuery
from chat.reports.texts import label as text_in
from chat.reports.texts import tr

ColumnType = Literal["date", "hour", "text", "int", "number", "percent", "duration", "id"]
ChartKind = Literal["bars", "lines", "stacked", "heatmap", "histogram"]

Row = dict[str, Any]


@dataclass(frozen=True)
class Column:
    key: str
    label: str
    type: ColumnType
    drill: Mapping[str, str | int] | None = None  # {"metric": ..., "by": ..., fixed params}

    def json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"key": self.key, "label": self.label, "type": self.type}
        if self.drill is not None:
            out["drill"] = self.drill.get("metric", "")
        return out


@dataclass(frozen=True)
class Table:
    id: str
    title: str
    columns: Sequence[Column]
    rows: Sequence[Row]
    totals: Row | None = None  # the totals row, shown under the rows (not one of them)
    note: str | None = None

    def json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "id": self.id, "title": self.title,
            "columns": [c.json() for c in self.columns],
            "rows": [dict(r) for r in self.rows],
            "drill": {c.key: dict(c.drill) for c in self.columns if c.drill is not None},
        }
        if self.totals is not None:
            out["totals"] = dict(self.totals)
        if self.note:
            out["note"] = self.note
        return out

    def column(self, key: str) -> Column:
        return next(c for c in self.columns if c.key == key)


@dataclass(frozen=True)
class Chart:
    """A chart of a table's columns: ``x`` the column along the axis (its values are the
    marks' ``data-x``), ``series`` the columns drawn; ``label`` the column that names the
    x values on screen when it is not ``x`` itself (e.g. an agent's name for its id).
    ``roles``: a series column's meaning (``good``, ``bad``, ``neutral``: its colour on
    every chart); ``horizontal``: bars lying down, for long names; ``only``: the rows
    drawn, by their ``x`` value (figures of different scales go to different charts)."""

    table: str
    kind: ChartKind
    x: str
    series: Sequence[str]
    title: str
    label: str | None = None
    unit: charts.Unit = "number"
    extra: Mapping[str, Any] = field(default_factory=dict)
    roles: Mapping[str, charts.Role] = field(default_factory=dict)
    horizontal: bool = False
    only: Sequence[str] | None = None


def drill(metric: str, by: str | None = None, **fixed: str | int) -> dict[str, str | int]:
    out: dict[str, str | int] = {"metric": metric, **fixed}
    if by is not None:
        out["by"] = by
    return out


def share(part: int, whole: int) -> float | None:
    """``part / whole`` (0..1), or ``None`` where there is nothing to share."""
    return part / whole if whole else None


def _number(value: Any) -> float | None:
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


def _svg(chart: Chart, table: Table, lang: str = "en") -> str:
    svg = _drawn(chart, table)
    # The two words a chart draws of its own, in the reader's language. Safe to replace in
    # the markup: every label is escaped, so ">No data</text>" can only be the chart's own.
    for own in (charts.NO_DATA, "n/a"):
        svg = svg.replace(f">{own}</text>", f">{charts.text(tr(lang, own))}</text>")
    return svg


def _drawn(chart: Chart, table: Table) -> str:
    rows = [r for r in table.rows if chart.only is None or str(r.get(chart.x, "")) in chart.only]
    keys = [str(r.get(chart.x, "")) for r in rows]
    labels = [str(r.get(chart.label or chart.x, "")) for r in rows]
    series = [charts.Series(key, table.column(key).label, [_number(r.get(key)) for r in rows], chart.roles.get(key))
              for key in chart.series]
    if chart.kind == "bars":
        return charts.bars(chart.title, labels, series, keys=keys, unit=chart.unit, horizontal=chart.horizontal)
    if chart.kind == "stacked":
        return charts.stacked_bars(chart.title, labels, series, keys=keys, unit=chart.unit)
    if chart.kind == "lines":
        return charts.lines(chart.title, labels, series, keys=keys, unit=chart.unit)
    if chart.kind == "histogram":
        only = series[0]
        return charts.histogram(chart.title, labels, only.values, key=only.key, label=only.label, keys=keys)
    # A heatmap: rows are the y axis, the series columns the x axis.
    values = [[_number(r.get(key)) for key in chart.series] for r in rows]
    x_labels = [table.column(key).label for key in chart.series]
    return charts.heatmap(chart.title, x_labels, labels, values, key=str(chart.extra.get("key", "count")),
                          x_keys=list(chart.series), y_keys=keys, unit=chart.unit)


def chart_json(chart: Chart, tables: Mapping[str, Table], lang: str = "en") -> dict[str, Any]:
    return {"table": chart.table, "kind": chart.kind, "x": chart.x, "series": list(chart.series),
            "svg": _svg(chart, tables[chart.table], lang)}


def translated(table: Table, lang: str) -> Table:
    """``table`` with its title, note and column labels in ``lang`` (the keys, ids and rows
    as they are: clients rely on those). A note a report wrote in ``lang`` already (one
    with figures in it, through :func:`chat.reports.texts.tr`) is not in the catalog and
    stays as it is."""
    return replace(table, title=text_in(lang, table.title), note=text_in(lang, table.note) if table.note else table.note,
                   columns=[replace(c, label=text_in(lang, c.label)) for c in table.columns])


def document(name: str, query: ReportQuery, tables: Sequence[Table], charts_: Sequence[Chart] = (),
             **extra: Any) -> dict[str, Any]:
    """A report's answer: its name, range, zone and filters as understood, the tables and
    the charts (SVG drawn here, from the same rows the table shows). Every human text in
    the query's language (``lang``); the series' legends are the columns' labels."""
    tables = [translated(t, query.lang) for t in tables]
    charts_ = [replace(c, title=text_in(query.lang, c.title)) for c in charts_]
    by_id = {t.id: t for t in tables}
    return {
        "report": name,
        "from": query.first.isoformat(),
        "to": query.last.isoformat(),
        "tz": query.tz_name,
        "lang": query.lang,
        "filters": query.filters_json(),
        **extra,
        "tables": [t.json() for t in tables],
        "charts": [chart_json(c, by_id, query.lang) for c in charts_],
    }

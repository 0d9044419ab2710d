"""Reports as CSV: a report's tables (``GET /api/reports/{name}.csv``) and the ticket list
(``GET /api/reports/tickets.csv``). Pure: rows in, text out.

CSV injection: a spreadsheet runs a cell that starts with ``=``, ``+``, ``-``, ``@``, a
tab or a carriage return as a formula (``=HYPERLINK(...)`` in a ticket subject would
become a link that sends data out). Every text cell that starts so gets a leading ``'``,
which spreadsheets show as text; numbers we computed are written as numbers (a negative
time left is a number, not a formula).
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from chat.reports.texts import DEFAULT as DEFAULT_LANG
from chat.reports.texts import tr

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
_FORMULA_FIRST = frozenset(FORMULA_STARTS)


def cell(value: Any) -> str | int | float:
    """One cell's value: numbers as they are, ``None`` as empty, text neutralised. (The
    common types first, by exact type: a year's ticket list is 2.5 million cells.)"""
    kind = type(value)
    if kind is str:
        return "'" + value if value[:1] in _FORMULA_FIRST else value  # type: ignore[no-any-return]
    if value is None:
        return ""
    if kind is bool:
        return "true" if value else "false"
    if kind is int or kind is float:
        return value  # type: ignore[no-any-return]
    text = str(value)
    return "'" + text if text[:1] in _FORMULA_FIRST else text


def lines(rows: Iterable[Sequence[Any]]) -> str:
    """Rows as CSV text (RFC 4180: CRLF, quotes where needed), every cell through :func:`cell`."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    for row in rows:
        writer.writerow([cell(v) for v in row])
    return out.getvalue()


def report_csv(document: Mapping[str, Any], lang: str = DEFAULT_LANG) -> str:
    """Every table of a report's answer, one after another: a header row (``table`` in
    ``lang`` and the columns' labels, already in the document's language), then the rows
    with the table's id first, then its totals row (``table`` = "<id> total") if it has one."""
    rows: list[list[Any]] = []
    for table in document["tables"]:
        keys = [c["key"] for c in table["columns"]]
        rows.append([tr(lang, "table"), *(c["label"] for c in table["columns"])])
        rows.extend([table["id"], *(r.get(k) for k in keys)] for r in table["rows"])
        if table.get("totals") is not None:
            rows.append([f"{table['id']} total", *(table["totals"].get(k) for k in keys)])
    return lines(rows)


def filename(name: str, document: Mapping[str, Any]) -> str:
    """``report-volume-2026-11-01-2026-11-30.csv``: the name and the range, nothing a
    header could be broken with (the name is one of ours, the dates are parsed)."""
    return f"report-{name}-{document['from']}-{document['to']}.csv"

"""Reports as CSV (chat/reports/csvfile.py): formulas neutralised, numbers kept, every
table of a report with its id first."""

from __future__ import annotations

import csv
import io

import pytest

from chat.reports import csvfile


@pytest.mark.parametrize("text", ['=HYPERLINK("http://evil.example","x")', "+1+1", "-2+3", "@SUM(A1)", "\tx", "\rx"])
def test_a_cell_that_a_spreadsheet_would_run_is_text(text: str) -> None:
    assert csvfile.cell(text) == "'" + text
    (row,) = list(csv.reader(io.StringIO(csvfile.lines([[text, 1]]), newline="")))
    assert row == ["'" + text, "1"]


def test_plain_text_and_numbers_pass_unchanged() -> None:
    assert [csvfile.cell(v) for v in ("Printer", "a=b", 5, -3600, 0.25, None, True)] == [
        "Printer", "a=b", 5, -3600, 0.25, "", "true"]


def test_a_report_lists_every_table_with_its_id_first() -> None:
    document = {"report": "x", "from": "2026-11-01", "to": "2026-11-02", "tables": [
        {"id": "per_day", "columns": [{"key": "day", "label": "Day"}, {"key": "n", "label": "Created"}],
         "rows": [{"day": "2026-11-01", "n": 2}], "totals": {"day": None, "n": 2}},
        {"id": "names", "columns": [{"key": "name", "label": "Name"}], "rows": [{"name": "=cmd|' /C calc'!A0"}]},
    ]}
    rows = list(csv.reader(io.StringIO(csvfile.report_csv(document), newline="")))
    assert rows == [["table", "Day", "Created"], ["per_day", "2026-11-01", "2"], ["per_day total", "", "2"],
                    ["table", "Name"], ["names", "'=cmd|' /C calc'!A0"]]
    assert csvfile.filename("volume", document) == "report-volume-2026-11-01-2026-11-02.csv"

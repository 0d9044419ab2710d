"""The reports' server-side texts (chat/reports/texts.py): every text in every language
with the same placeholders, the languages the product has, and the lookup's rules."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from chat import validation
from chat.errors import ValidationFailed
from chat.reports import texts
from chat.reports.charts import NO_DATA
from chat.reports.drill import CSV_HEADER
from chat.reports.filters import ReportQuery, parse_query
from chat.reports.selection import CHANNELS
from chat.reports.tables import Chart, Column, Table, document


def test_the_languages_are_the_products() -> None:
    assert texts.LANGUAGES == validation.LANGUAGES
    assert set(texts.CATALOG) == set(validation.LANGUAGES)


def test_every_text_has_every_language_with_the_same_placeholders() -> None:
    english = texts.CATALOG["en"]
    for lang, table in texts.CATALOG.items():
        assert set(table) == set(english), lang
        for key, text in table.items():
            assert text.strip(), (lang, key)
            assert texts.placeholders(text) == texts.placeholders(key), (lang, key, text)


def test_other_languages_are_translations_not_copies() -> None:
    # A few words are the same in a language (Ticket, Status, Total): most are not.
    for lang in texts.LANGUAGES[1:]:
        same = [k for k, v in texts.CATALOG[lang].items() if v == k]
        assert len(same) < len(texts.CATALOG[lang]) // 10, (lang, same)


def test_tr_fills_placeholders_and_keeps_unknown_texts() -> None:
    assert texts.tr("de", "Severity {n}", n=2) == "Schweregrad 2"
    assert texts.tr("en", "Severity {n}", n=2) == "Severity 2"
    assert texts.tr("ru", "Acme Support Ltd") == "Acme Support Ltd"  # a name a person gave
    assert texts.tr("xx", "Total") == "Total"


def test_composed_labels_are_translated_part_by_part() -> None:
    assert texts.label("de", "First response: met share") == "Erste Antwort: Anteil eingehalten"
    assert texts.label("es", "Resolution, wall clock: 90th percentile") == "Resolución, tiempo real: percentil 90"
    assert texts.label("ru", "Acme: met") == "Acme: met"  # half known is not translated


def test_the_tickets_csv_header_and_the_charts_words_are_in_the_catalog() -> None:
    for _, label in CSV_HEADER:
        assert label in texts.CATALOG["en"], label
    assert NO_DATA in texts.CATALOG["en"] and "n/a" in texts.CATALOG["en"]


def _query(lang: str) -> ReportQuery:
    return parse_query([("from", "2026-03-02"), ("to", "2026-03-03"), ("lang", lang)],
                       now=datetime(2026, 3, 4, tzinfo=UTC), channels=CHANNELS)[0]


def test_lang_is_parsed_and_checked() -> None:
    assert _query("pt-br").lang == "pt-BR"
    assert parse_query([], now=datetime(2026, 3, 4, tzinfo=UTC), channels=CHANNELS, lang="de")[0].lang == "de"
    assert parse_query([], now=datetime(2026, 3, 4, tzinfo=UTC), channels=CHANNELS)[0].lang == "en"
    for bad in ("fr", "", "pt-PT", "<b>"):
        with pytest.raises(ValidationFailed):
            _query(bad)


def test_a_document_in_russian_keeps_its_keys_and_translates_its_texts() -> None:
    table = Table("per_day", "Per day", (Column("day", "Day", "date"), Column("created", "Created", "int")),
                  [], note="Days are local days in the report's time zone; the totals' backlog is the last day's.")
    chart = Chart("per_day", "bars", "day", ("created",), "Tickets per day")
    en, ru = (document("volume", _query(lang), [table], [chart]) for lang in ("en", "ru"))
    assert [c["key"] for c in ru["tables"][0]["columns"]] == [c["key"] for c in en["tables"][0]["columns"]]
    assert ru["tables"][0]["id"] == en["tables"][0]["id"] == "per_day"
    assert (ru["tables"][0]["title"], [c["label"] for c in ru["tables"][0]["columns"]]) == (
        "По дням", ["День", "Создано"])
    assert ru["tables"][0]["note"].startswith("Дни — местные дни")
    svg = ru["charts"][0]["svg"]
    assert "Тикеты по дням" in svg and "Нет данных" in svg and "No data" not in svg
    assert "Tickets per day" in en["charts"][0]["svg"] and "No data" in en["charts"][0]["svg"]

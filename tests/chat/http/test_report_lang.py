"""Reports in the reader's language over HTTP (issue 18), on SQLite and PostgreSQL: ``lang``
chooses the language of every title, label, note and chart text; without it the viewer's
chosen language, else English; the ids and keys stay the same; an unknown ``lang`` is a
422 and the CSVs' headers follow ``lang`` with formulas still neutralised."""

from __future__ import annotations

import csv
import io
import re
from typing import Any

from sqlalchemy import update

from chat.models import User
from tests.chat.http import test_report_routes as routes
from tests.chat.http.test_report_routes import RANGE, REPORTS, Client
from tests.chat.reports.world import EVIL

# The same server and seeded world as the reports' HTTP tests.
live = routes.live
client = routes.client

CYRILLIC = re.compile("[А-Яа-яЁё]")
HOUR = re.compile(r"^\d\d:00$")  # the heatmap's hour columns read the same in every language


def shape(body: dict[str, Any]) -> Any:
    return ([(t["id"], [c["key"] for c in t["columns"]], [sorted(r) for r in t["rows"]]) for t in body["tables"]],
            [(c["table"], c["kind"], c["x"], c["series"]) for c in body["charts"]])


def texts_of(body: dict[str, Any]) -> list[str]:
    out = []
    for table in body["tables"]:
        out += [table["title"], *(c["label"] for c in table["columns"] if not HOUR.match(c["label"]))]
        if table.get("note"):
            out.append(table["note"])
    return out


def chart_titles(svg: str) -> str:
    found = re.search(r'class="chart-title"[^>]*>([^<]*)<', svg)
    assert found, svg[:300]
    return found.group(1)


async def test_every_report_in_russian_has_russian_texts_and_the_english_keys(client: Client) -> None:
    admin = client.world.desk.admin
    for name in REPORTS:
        en = (await client.get(admin, f"/api/reports/{name}?{RANGE}")).json()
        ru = (await client.get(admin, f"/api/reports/{name}?{RANGE}&lang=ru")).json()
        assert shape(ru) == shape(en), name
        english = set(texts_of(en))
        for text in texts_of(ru):
            assert CYRILLIC.search(text) and text not in english, (name, text)
        for chart in ru["charts"]:
            assert CYRILLIC.search(chart_titles(chart["svg"])), (name, chart_titles(chart["svg"]))
    heatmap = (await client.get(admin, f"/api/reports/heatmap?{RANGE}&lang=ru")).json()
    assert [r["name"] for r in heatmap["tables"][0]["rows"]][:2] == ["Понедельник", "Вторник"]
    assert heatmap["tables"][0]["totals"]["name"] == "Итого"


async def test_the_chosen_language_is_the_default_and_lang_overrides_it(client: Client) -> None:
    admin = client.world.desk.admin
    volume = f"/api/reports/volume?{RANGE}"
    async with client.world.svc.sessions.begin() as db:
        await db.execute(update(User).where(User.id == admin.user_id).values(language="de", language_chosen=False))
    assert (await client.get(admin, volume)).json()["tables"][0]["title"] == "Per day"  # a guess is no choice
    async with client.world.svc.sessions.begin() as db:
        await db.execute(update(User).where(User.id == admin.user_id).values(language_chosen=True))
    assert (await client.get(admin, volume)).json()["tables"][0]["title"] == "Pro Tag"
    spanish = (await client.get(admin, f"{volume}&lang=es")).json()
    assert (spanish["lang"], spanish["tables"][0]["title"]) == ("es", "Por día")
    assert (await client.get(admin, f"{volume}&lang=en")).json()["tables"][0]["title"] == "Per day"


async def test_an_unknown_lang_is_refused(client: Client) -> None:
    admin = client.world.desk.admin
    for path in (f"/api/reports/volume?{RANGE}&lang=fr", f"/api/reports/sla.csv?{RANGE}&lang=xx",
                 f"/api/reports/tickets?{RANGE}&metric=created&lang=", f"/api/reports/tickets.csv?{RANGE}&metric=created&lang=pt"):
        await client.error(admin, path, 422, "validation_failed")
    await client.error(admin, f"/api/reports/volume?{RANGE}&lang=de&lang=ru", 400, "bad_filter")


async def test_csv_headers_in_the_language_with_formulas_neutralised(client: Client) -> None:
    admin = client.world.desk.admin
    volume = (await client.get(admin, f"/api/reports/volume.csv?{RANGE}&lang=de")).text
    rows = list(csv.reader(io.StringIO(volume.removeprefix("\ufeff"), newline="")))
    assert rows[0][:3] == ["Tabelle", "Tag", "Erstellt"] and rows[1][0] == "per_day"
    tickets = (await client.get(admin, f"/api/reports/tickets.csv?{RANGE}&metric=created&lang=pt-BR")).text
    table = list(csv.reader(io.StringIO(tickets.removeprefix("\ufeff"), newline="")))
    assert table[0][:3] == ["Ticket", "Assunto", "ID da empresa"]
    assert "'" + EVIL in {r[1] for r in table[1:]}
    assert not any(cell.startswith(("=", "+", "@")) for r in table for cell in r)
    sla = (await client.get(admin, f"/api/reports/sla.csv?{RANGE}&lang=ru")).text
    assert "Политика" in sla and "\n=HYPERLINK" not in sla and ",=HYPERLINK" not in sla

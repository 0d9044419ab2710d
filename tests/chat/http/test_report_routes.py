"""Reports over HTTP (chat/http/report_routes.py), on SQLite and PostgreSQL: every report
answers its JSON; the CSVs download as attachments with formulas neutralised; every bad
input is a 4xx with its code (never a 500); roles are refused or scoped."""

from __future__ import annotations

import csv
import io
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from chat.authz import Principal
from chat.clock import ManualClock
from chat.models import User
from chat.reports.selection import TIMED
from tests.chat.reports.world import EVIL, World, build
from tests.conftest import make_settings
from tests.escalation.people import signed_in
from tests.support.live import LiveServer, live_server

RANGE = "from=2026-03-02&to=2026-03-04"
REPORTS = ("volume", "breakdown", "times", "sla", "ratings", "messages", "heatmap", "now")


class Client:
    def __init__(self, http: httpx.AsyncClient, world: World) -> None:
        self.http, self.world, self.tokens = http, world, {}  # type: ignore[var-annotated]

    async def as_(self, who: Principal) -> dict[str, str]:
        if who.user_id not in self.tokens:
            async with self.world.svc.reads() as db:
                user = await db.get(User, who.user_id)
            assert user is not None
            self.tokens[who.user_id] = await signed_in(self.world.svc, user)
        return {"Authorization": f"Bearer {self.tokens[who.user_id]}"}

    async def get(self, who: Principal | None, path: str, status: int = 200) -> httpx.Response:
        headers = await self.as_(who) if who is not None else {}
        response = await self.http.get(path, headers=headers)
        assert response.status_code == status, f"{path}: {response.status_code} {response.text[:500]}"
        return response

    async def error(self, who: Principal | None, path: str, status: int, code: str) -> None:
        body = (await self.get(who, path, status)).json()
        assert body["error"]["code"] == code, body


@pytest.fixture
async def live(db_url: str, tmp_path: Path, clock: ManualClock) -> AsyncIterator[LiveServer]:
    settings = make_settings(db_url, tmp_path / "var", SWEEPER_IN_PROCESS="false")
    async with live_server(settings, clock) as server:
        yield server


@pytest.fixture
async def client(live: LiveServer, clock: ManualClock) -> AsyncIterator[Client]:
    world = await build(live.services, clock)
    async with httpx.AsyncClient(base_url=live.base_url, timeout=30) as http:
        yield Client(http, world)


async def test_every_report_answers_json(client: Client) -> None:
    admin = client.world.desk.admin
    for name in REPORTS:
        body = (await client.get(admin, f"/api/reports/{name}?{RANGE}&tz=Europe/Berlin")).json()
        assert (body["report"], body["from"], body["to"], body["tz"], body["filters"]) == (
            name, "2026-03-02", "2026-03-04", "Europe/Berlin", {})
        assert body["tables"] and all({"id", "title", "columns", "rows", "drill"} <= set(t) for t in body["tables"])
        for chart in body["charts"]:
            assert chart["svg"].startswith("<svg") and "<script" not in chart["svg"]
    volume = (await client.get(admin, f"/api/reports/volume?{RANGE}&agent=none&agent={admin.user_id}")).json()
    assert volume["filters"] == {"agent": ["none", admin.user_id]}


async def test_the_viewers_zone_is_the_default(client: Client) -> None:
    admin = client.world.desk.admin
    assert client.world.clock.now().isoformat() == "2026-03-04T21:00:00+00:00"
    assert (await client.get(admin, "/api/reports/volume")).json()["to"] == "2026-03-04"
    async with client.world.svc.sessions.begin() as db:
        user = await db.get(User, admin.user_id)
        assert user is not None
        user.time_zone = "Asia/Tokyo"
    body = (await client.get(admin, "/api/reports/volume")).json()
    assert body["tz"] == "Asia/Tokyo" and body["to"] == "2026-03-05"  # 06:00 on Thursday in Tokyo
    assert body["from"] == "2026-02-04"


async def test_drill_down_and_its_pages(client: Client) -> None:
    admin = client.world.desk.admin
    body = (await client.get(admin, f"/api/reports/tickets?{RANGE}&metric=created&day=2026-03-03")).json()
    assert sorted(t["id"] for t in body["tickets"]) == sorted(client.world.ids[x] for x in "CDEF")
    assert body["next"] is None
    ticket = next(t for t in body["tickets"] if t["id"] == client.world.ids["C"])
    assert ticket["subject"] == EVIL and ticket["created_at"] == "2026-03-03T09:00:00+00:00"
    assert {"first_response_wall_s", "first_response_business_s", "resolution_wall_s", "resolution_business_s",
            "sla_policy", "sla_first_response", "sla_next_response", "sla_resolution", "rating", "assignee",
            "company", "status", "resolved_at"} <= set(ticket)
    breached = (await client.get(admin, f"/api/reports/tickets?{RANGE}&metric=breached&target=first_response"
                                        "&policy=regular+plan")).json()
    assert client.world.ids["C"] in {t["id"] for t in breached["tickets"]}
    for measure in TIMED:
        await client.get(admin, f"/api/reports/tickets?{RANGE}&metric=timed&measure={measure}")
    rated = (await client.get(admin, f"/api/reports/tickets?{RANGE}&metric=resolved&rating=bad&agent=none")).json()
    assert [t["id"] for t in rated["tickets"]] == [client.world.ids["B"]]


async def test_csv_exports(client: Client) -> None:
    admin = client.world.desk.admin
    response = await client.get(admin, f"/api/reports/volume.csv?{RANGE}")
    assert response.headers["content-type"] == "text/csv; charset=utf-8"
    assert response.headers["content-disposition"] == 'attachment; filename="report-volume-2026-03-02-2026-03-04.csv"'
    rows = list(csv.reader(io.StringIO(response.text.removeprefix("\ufeff"), newline="")))
    assert rows[0][:3] == ["table", "Day", "Created"]
    assert [r[2] for r in rows[1:4]] == ["2", "4", "0"] and rows[4][:3] == ["per_day total", "", "6"]
    sla_csv = (await client.get(admin, f"/api/reports/sla.csv?{RANGE}")).text
    assert "'" + EVIL.replace('"', '""') in sla_csv and "\n=HYPERLINK" not in sla_csv and ",=HYPERLINK" not in sla_csv
    for name in REPORTS:
        await client.get(admin, f"/api/reports/{name}.csv?{RANGE}")
    tickets = await client.get(admin, f"/api/reports/tickets.csv?{RANGE}&metric=created")
    assert tickets.headers["content-disposition"] == 'attachment; filename="tickets-created-2026-03-02-2026-03-04.csv"'
    table = list(csv.reader(io.StringIO(tickets.text.removeprefix("\ufeff"), newline="")))
    assert len(table) == 1 + 6
    subjects = {r[0]: r[1] for r in table[1:]}
    assert subjects[str(client.world.ids["C"])] == "'" + EVIL
    assert not any(cell.startswith(("=", "+", "@")) for r in table for cell in r)


BAD = [
    ("/api/reports/volume?from=2026-03-04&to=2026-03-02", 400, "bad_range"),
    ("/api/reports/volume?from=2026-02-30", 400, "bad_range"),
    ("/api/reports/volume?from=yesterday", 400, "bad_range"),
    ("/api/reports/volume?from=2020-01-01&to=2026-03-04", 400, "range_too_large"),
    ("/api/reports/sla.csv?from=2020-01-01&to=2026-03-04", 400, "range_too_large"),
    ("/api/reports/volume?customer=3", 400, "bad_filter"),
    ("/api/reports/volume?agent=abc", 400, "bad_filter"),
    ("/api/reports/volume?agent=99999999999999999999999", 400, "bad_filter"),
    ("/api/reports/volume?severity=9", 400, "bad_filter"),
    ("/api/reports/volume?channel=pigeon", 400, "bad_filter"),
    ("/api/reports/volume?plan=platinum", 400, "bad_filter"),
    ("/api/reports/volume?tz=Europe/Atlantis", 400, "bad_filter"),
    ("/api/reports/volume?tz=%2E%2E%2F%2E%2E%2Fetc%2Fpasswd", 400, "bad_filter"),
    ("/api/reports/volume?metric=created", 400, "bad_filter"),
    ("/api/reports/tickets?metric=everything", 400, "bad_filter"),
    ("/api/reports/tickets?from=2026-03-02&to=2026-03-04&day=2026-03-09", 400, "bad_filter"),
    ("/api/reports/tickets?cursor=%27%3B--", 400, "bad_filter"),
    ("/api/reports/tickets?metric=timed", 400, "bad_filter"),
    ("/api/reports/tickets.csv?metric=messages&weekday=mon", 400, "bad_filter"),
    ("/api/reports/tickets?policy=" + "x" * 400, 400, "bad_filter"),
    ("/api/reports/everything", 404, "not_found"),
    ("/api/reports/everything.csv", 404, "not_found"),
]


async def test_bad_input_is_a_4xx_never_a_500(client: Client) -> None:
    for query, status, code in BAD:
        await client.error(client.world.desk.admin, query, status, code)


async def test_who_may_ask(client: Client) -> None:
    world, desk = client.world, client.world.desk
    await client.error(None, "/api/reports/volume", 401, "unauthenticated")
    for who in (desk.customer, desk.visitor, desk.stranger, world.beta_customer):
        # Refused before the query is read: a customer learns nothing from a 400 either.
        await client.error(who, "/api/reports/volume?from=nonsense", 403, "forbidden")
        await client.error(who, "/api/reports/tickets.csv", 403, "forbidden")
    for who in (desk.readonly, desk.agent, world.reseller):
        await client.get(who, f"/api/reports/now?{RANGE}")

    async def listed(who: Principal, extra: str = "") -> set[int]:
        body: dict[str, Any] = (await client.get(who, f"/api/reports/tickets?{RANGE}{extra}")).json()
        return {t["id"] for t in body["tickets"]}

    ids = world.ids
    assert await listed(world.reseller) == {ids["E"], ids["F"]}
    # Another reseller's company: nothing, not an error and not its tickets.
    assert await listed(world.other_reseller, f"&company={world.beta_id}") == set()
    assert await listed(world.reseller, f"&company={desk.org_id}") == set()
    assert await listed(desk.agent) == {ids["A"]}

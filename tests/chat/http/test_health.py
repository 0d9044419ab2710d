"""Liveness and readiness, with the in-memory broker and with a real Redis that goes away."""

from __future__ import annotations

from pathlib import Path

import httpx

from chat import directory
from chat.models import Role
from tests.conftest import make_settings
from tests.support.live import live_server
from tests.support.processes import start_redis


async def test_healthz_and_readyz(http: httpx.AsyncClient) -> None:
    health = await http.get("/healthz")
    assert health.status_code == 200 and health.json() == {"status": "ok"}
    ready = await http.get("/readyz")
    assert ready.status_code == 200
    assert ready.json() == {"status": "ready", "checks": {"database": "ok", "broker": "ok"}}


async def test_demo_page_is_served_on_the_embedded_default_only(sqlite_url: str, tmp_path: Path) -> None:
    async with live_server(make_settings(sqlite_url, tmp_path / "var")) as live:
        async with httpx.AsyncClient(base_url=live.base_url) as http:
            page = await http.get("/")
    assert page.status_code == 200 and "text/html" in page.headers["content-type"]
    assert "Support chat" in page.text
    async with live_server(make_settings(sqlite_url, tmp_path / "var", DEMO_PAGE="false")) as live:
        async with httpx.AsyncClient(base_url=live.base_url) as http:
            assert (await http.get("/")).status_code == 404


async def test_readyz_follows_redis_and_healthz_does_not(sqlite_url: str, tmp_path: Path) -> None:
    redis = start_redis()
    settings = make_settings(sqlite_url, tmp_path / "var", REDIS_URL=redis.url)
    try:
        async with live_server(settings) as live, httpx.AsyncClient(base_url=live.base_url, timeout=10) as http:
            assert (await http.get("/readyz")).status_code == 200
            redis.stop()
            down = await http.get("/readyz")
            assert down.status_code == 503
            body = down.json()
            assert body["error"]["code"] == "not_ready"
            assert body["checks"]["database"] == "ok" and body["checks"]["broker"].startswith("unavailable")
            assert (await http.get("/healthz")).status_code == 200
            # A change that must be announced still commits while the broker is away.
            user = await directory.create_user(live.services, None, email="a@b.example", role=Role.AGENT)
            disabled = await directory.set_user_disabled(live.services, None, user.id, disabled=True)
            assert disabled.disabled
            redis = start_redis(redis.port)
            assert (await http.get("/readyz")).status_code == 200
    finally:
        redis.stop()


async def test_readyz_reports_a_dead_database(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path}/gone.db"
    # No sweepers: a pass that tries the dead file while the test breaks it leaves
    # aiosqlite's half-opened connection to the garbage collector (a ResourceWarning in
    # whichever test runs next); the readiness probe is what is under test here.
    settings = make_settings(url, tmp_path / "var", SWEEPER_IN_PROCESS="false")
    async with live_server(settings) as live, httpx.AsyncClient(base_url=live.base_url, timeout=10) as http:
        await live.services.engine.dispose()
        for suffix in ("", "-wal", "-shm"):
            Path(f"{tmp_path}/gone.db{suffix}").unlink(missing_ok=True)
        (tmp_path / "gone.db").mkdir()  # a folder where the file was: SQLite cannot open it
        r = await http.get("/readyz")
        assert r.status_code == 503 and r.json()["checks"]["database"].startswith("unavailable")

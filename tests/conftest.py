"""Session-wide real components and per-test fresh databases.

Storage and access tests take ``db_url``, which runs each of them twice: on SQLite and on
a real PostgreSQL server started for the session. Both start from a database migrated
once by Alembic and copied per test (file copy / ``CREATE DATABASE … TEMPLATE``), so every
test sees an empty, fully migrated schema.
"""

from __future__ import annotations

import gc
import shutil
import uuid
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest

from chat import migrate
from chat.clock import ManualClock
from chat.services import Services
from chat.settings import Settings, load_settings
from chat.wiring import build_services
from tests.support.live import LiveServer, live_server
from tests.support.processes import PostgresServer, RedisServer, start_postgres, start_redis


def pytest_collection_finish(session: pytest.Session) -> None:
    # What lives after collection (modules, test items, fixtures' definitions) lives all
    # session: frozen, a browser test server's garbage collection (tests.support.live)
    # need not walk it again each time.
    gc.freeze()


# Fixtures that tests in more than one folder use, registered here once so that no test
# imports a fixture by name (an import that pytest needs and the linters see as unused).
pytest_plugins = ["tests.escalation.people", "tests.support.desk", "tests.support.smtp_server", "tests.support.dovecot"]

TEMPLATE_DB = "supportchat_template"
TEST_SECRET = "test-secret-key-" + "x" * 32


@pytest.fixture(scope="session")
def postgres() -> Iterator[PostgresServer]:
    server = start_postgres()
    try:
        server.psql(f"CREATE DATABASE {TEMPLATE_DB}")
        migrate.upgrade(server.url(TEMPLATE_DB))
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
def redis_server() -> Iterator[RedisServer]:
    server = start_redis()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("template") / "template.db"
    migrate.upgrade(f"sqlite+aiosqlite:///{path}")
    return path


def fresh_postgres_db(server: PostgresServer) -> str:
    name = "t_" + uuid.uuid4().hex[:12]
    server.psql(f"CREATE DATABASE {name} TEMPLATE {TEMPLATE_DB}")
    return server.url(name)


@pytest.fixture(params=["sqlite", "postgres"])
def db_url(request: pytest.FixtureRequest, tmp_path: Path, sqlite_template: Path) -> str:
    """A fresh migrated database, on each backend in turn."""
    if request.param == "sqlite":
        target = tmp_path / "test.db"
        shutil.copy(sqlite_template, target)
        return f"sqlite+aiosqlite:///{target}"
    server: PostgresServer = request.getfixturevalue("postgres")
    return fresh_postgres_db(server)


@pytest.fixture
def sqlite_url(tmp_path: Path, sqlite_template: Path) -> str:
    target = tmp_path / "test.db"
    shutil.copy(sqlite_template, target)
    return f"sqlite+aiosqlite:///{target}"


def make_settings(database_url: str, var_dir: Path, **env: str) -> Settings:
    return load_settings({
        "DATABASE_URL": database_url,
        "VAR_DIR": str(var_dir),
        "SECRET_KEY": TEST_SECRET,
        **env,
    })


@pytest.fixture
def clock() -> ManualClock:
    # A Monday morning: most tests don't care, the SLA ones set their own.
    return ManualClock(datetime(2026, 3, 2, 9, 0, tzinfo=UTC))


@pytest.fixture
def settings(db_url: str, tmp_path: Path) -> Settings:
    return make_settings(db_url, tmp_path / "var")


@pytest.fixture
async def svc(settings: Settings, clock: ManualClock) -> AsyncIterator[Services]:
    services = build_services(settings, clock=clock)
    await services.broker.connect()
    try:
        yield services
    finally:
        await services.close()


@pytest.fixture
async def server(settings: Settings, clock: ManualClock) -> AsyncIterator[LiveServer]:
    async with live_server(settings, clock) as live:
        yield live


@pytest.fixture
async def http(server: LiveServer) -> AsyncIterator[httpx.AsyncClient]:
    # Sends what the browser's shared client sends (static/shared/protocol.js), so the
    # session cookie a test signs in with works as it does in the console (chat/http/csrf.py).
    async with httpx.AsyncClient(base_url=server.base_url, timeout=10,
                                 headers={"X-Requested-With": "supportchat"}) as client:
        yield client

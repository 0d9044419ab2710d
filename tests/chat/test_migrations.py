"""Migrations from an empty database, on SQLite and on a real PostgreSQL server."""

from __future__ import annotations

import asyncio
import uuid
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect
from sqlalchemy.engine import Connection

from chat import migrate
from chat.db import create_engine
from chat.schema import metadata
from tests.support.processes import PostgresServer

EXPECTED_TABLES = {
    "organizations", "organization_domains", "users", "sites", "auth_sessions", "login_failures",
    "conversations", "participants", "events",
}


@pytest.fixture(params=["sqlite", "postgres"])
def empty_db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite+aiosqlite:///{tmp_path}/empty/new.db"
    server: PostgresServer = request.getfixturevalue("postgres")
    name = "empty_" + uuid.uuid4().hex[:10]
    server.psql(f"CREATE DATABASE {name}")
    return server.url(name)


async def _inspect(url: str) -> tuple[set[str], list[object]]:
    engine = create_engine(url)

    def read(conn: Connection) -> tuple[set[str], list[object]]:
        tables = set(inspect(conn).get_table_names())
        diff = compare_metadata(MigrationContext.configure(conn, opts={"compare_type": True}), metadata)
        return tables, diff

    try:
        async with engine.connect() as conn:
            return await conn.run_sync(read)
    finally:
        await engine.dispose()


async def test_upgrade_from_empty_matches_the_models(empty_db_url: str) -> None:
    assert await migrate.current_revision(empty_db_url) is None
    await asyncio.to_thread(migrate.upgrade, empty_db_url)
    assert await migrate.current_revision(empty_db_url) == migrate.head_revision()
    tables, diff = await _inspect(empty_db_url)
    assert tables >= EXPECTED_TABLES
    # The models and the migrations describe the same schema: nothing left to autogenerate.
    assert diff == []


async def test_downgrade_to_empty_and_back(empty_db_url: str) -> None:
    await asyncio.to_thread(migrate.upgrade, empty_db_url)
    await asyncio.to_thread(migrate.downgrade, empty_db_url, "base")
    tables, _ = await _inspect(empty_db_url)
    assert tables <= {"alembic_version"}
    await asyncio.to_thread(migrate.upgrade, empty_db_url)
    assert await migrate.current_revision(empty_db_url) == migrate.head_revision()


async def test_sqlite_connections_use_wal_foreign_keys_and_busy_timeout(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path}/pragma.db"
    engine = create_engine(url)
    try:
        async with engine.connect() as conn:
            mode = (await conn.exec_driver_sql("PRAGMA journal_mode")).scalar()
            fks = (await conn.exec_driver_sql("PRAGMA foreign_keys")).scalar()
            busy = (await conn.exec_driver_sql("PRAGMA busy_timeout")).scalar()
    finally:
        await engine.dispose()
    assert (mode, fks, busy) == ("wal", 1, 5000)

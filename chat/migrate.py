"""Schema migrations (Alembic), driven by the product's own settings.

These functions are synchronous and start their own event loop: call them before the
server starts, or from a worker thread (``asyncio.to_thread``) inside async code.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy.engine import Connection

from chat.db import create_engine

MIGRATIONS_DIR = Path(__file__).parent / "migrations"


def alembic_config(database_url: str) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    # ConfigParser interpolation would choke on a '%' in a password.
    config.set_main_option("sqlalchemy.url", database_url.replace("%", "%%"))
    return config


def upgrade(database_url: str, revision: str = "head") -> None:
    """Apply pending migrations up to ``revision``."""
    if database_url.startswith("sqlite"):
        # The file's folder must exist before SQLite can create the file.
        path = database_url.split(":///", 1)[1]
        Path(path).parent.mkdir(parents=True, exist_ok=True)
    command.upgrade(alembic_config(database_url), revision)


def downgrade(database_url: str, revision: str) -> None:
    command.downgrade(alembic_config(database_url), revision)


def head_revision() -> str:
    head = ScriptDirectory.from_config(alembic_config("sqlite:///unused")).get_current_head()
    assert head is not None
    return head


async def current_revision(database_url: str) -> str | None:
    """The revision the database is at, or None for an empty (or not yet created) one."""
    if database_url.startswith("sqlite"):
        path = Path(database_url.split(":///", 1)[1])
        if not await asyncio.to_thread(path.exists):  # a stat may wait on the disk: not on the loop
            return None
    engine = create_engine(database_url)

    def read(connection: Connection) -> str | None:
        return MigrationContext.configure(connection).get_current_revision()

    try:
        async with engine.connect() as conn:
            return await conn.run_sync(read)
    finally:
        await engine.dispose()


def pending(database_url: str) -> bool:
    """True when the database is not at the code's head revision."""
    return asyncio.run(current_revision(database_url)) != head_revision()

"""Fixtures shared by the hub tests that run servers in other processes."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from chat.services import Services
from chat.wiring import build_services
from tests.conftest import make_settings
from tests.support.chatlog import SupportChat, seed_support_chat


@pytest.fixture
async def seeded(db_url: str, tmp_path: Path) -> AsyncIterator[tuple[Services, SupportChat]]:
    """A support chat seeded through the use cases on the test's database; the servers
    under test use the same database (this process's own broker is in-memory: nothing it
    publishes reaches them)."""
    svc = build_services(make_settings(db_url, tmp_path / "seed"))
    await svc.broker.connect()
    try:
        yield svc, await seed_support_chat(svc)
    finally:
        await svc.close()

"""The widget's browser tests: one Chromium per module (starting it is most of a test's
setup); a fresh server, database and browser context for every test."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest_asyncio
from playwright.async_api import Browser

from tests.browser.chromium import chromium
from tests.browser.widget_harness import WidgetWorld, widget_world


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def browser() -> AsyncIterator[Browser]:
    async with chromium() as instance:
        yield instance


@pytest_asyncio.fixture(loop_scope="module")
async def world(sqlite_url: str, tmp_path: Path) -> AsyncIterator[WidgetWorld]:
    async with widget_world(sqlite_url, tmp_path / "var") as w:
        yield w

"""Real Chromium (Debian's, driven by Playwright) against a real server on loopback.

The browser is Debian's ``/usr/bin/chromium``; ``playwright install`` is never run (it
downloads a browser). A missing Chromium fails the test loudly rather than skipping it.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from playwright.async_api import Browser, expect

from chat.clock import SystemClock
from chat.settings import Settings
from tests.browser.chromium import chromium
from tests.browser.widget_harness import WidgetWorld, widget_world
from tests.conftest import make_settings
from tests.support.live import LiveServer, live_server
from tests.support.processes import free_port

# Assertions wait for the page, not a fixed sleep; the generous ceiling only matters on a
# loaded machine (CI shares two cores), a passing assertion returns as soon as it holds.
expect.set_options(timeout=15_000)



@pytest.fixture
async def world(sqlite_url: str, tmp_path: Path) -> AsyncIterator[WidgetWorld]:
    """The product on SQLite with a customer's widget site on another origin
    (tests/browser/widget_harness.py); a test file that needs another world declares its own."""
    async with widget_world(sqlite_url, tmp_path / "var") as w:
        yield w


@pytest.fixture
async def browser() -> AsyncIterator[Browser]:
    async with chromium() as instance:
        yield instance


@pytest.fixture
def web_port() -> int:
    return free_port()


@pytest.fixture
def browser_settings(sqlite_url: str, tmp_path: Path, web_port: int) -> Settings:
    # PUBLIC_URL is the page's own origin: the hub accepts a browser's websocket only from
    # there (or from a widget site's allowed origins).
    return make_settings(sqlite_url, tmp_path / "var", PUBLIC_URL=f"http://127.0.0.1:{web_port}")


@pytest.fixture
async def web(browser_settings: Settings, web_port: int) -> AsyncIterator[LiveServer]:
    """The whole product on SQLite and the in-memory broker, on the real clock.

    Browsers run on wall-clock time, so these tests use the system clock; time-driven rules
    (SLA, auto-close) are tested below the browser with a manual clock.
    """
    async with live_server(browser_settings, SystemClock(), port=web_port, collect_garbage=True) as live:
        yield live

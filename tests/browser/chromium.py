"""How every browser test starts Chromium: Debian's, never a downloaded one.

``playwright install`` is never run (it downloads a browser); a missing Chromium fails the
test loudly rather than skipping it.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from playwright.async_api import Browser, async_playwright

CHROMIUM = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
    "--disable-component-update", "--disable-sync",
]

# Playwright switches ThirdPartyStoragePartitioning off (its issue #32230), and this
# Chromium refuses unpartitioned storage to third-party frames, so an embedded iframe would
# get no storage at all — unlike the browsers people use, where a third-party frame's
# storage is partitioned by the top-level site. Chromium takes the last --disable-features:
# this is Playwright's list without that one feature.
PLAYWRIGHT_DISABLED_FEATURES = (
    "AvoidUnnecessaryBeforeUnloadCheckSync", "DestroyProfileOnBrowserClose", "HttpsUpgrades",
    "HttpsFirstBalancedModeAutoEnable", "LensOverlay", "MediaRouter", "PaintHolding",
    "AvoidCorsURLLoaderRestartOnRedirect", "TcpPortRandomizationWin", "OptimizationHints",
    "NetworkTimeServiceQuerying", "AimEnabled", "PreconnectToSearch", "CDPScreenshotNewSurface",
    "SkipListAccountsWithoutGaiaCookies",
)


@asynccontextmanager
async def chromium() -> AsyncIterator[Browser]:
    """Debian's Chromium, headless, with partitioned third-party storage as in everyday
    browsers (an embedded widget keeps its visitor token over a reload)."""
    if not Path(CHROMIUM).exists():
        raise AssertionError(f"Chromium not found at {CHROMIUM}: install Debian's chromium (scripts/test does)")
    args = [*CHROMIUM_ARGS, "--disable-features=" + ",".join(PLAYWRIGHT_DISABLED_FEATURES)]
    async with async_playwright() as pw:
        instance = await pw.chromium.launch(executable_path=CHROMIUM, args=args, headless=True)
        try:
            yield instance
        finally:
            await instance.close()

"""The browser harness itself: Chromium starts and talks to the live server."""

from __future__ import annotations

from playwright.async_api import Browser

from tests.support.live import LiveServer


async def test_chromium_reaches_the_live_server(browser: Browser, web: LiveServer) -> None:
    page = await browser.new_page()
    response = await page.goto(web.base_url + "/healthz")
    assert response is not None and response.status == 200
    assert "ok" in (await page.content()).lower()

"""Shared steps of the portal's browser tests: a person signed in to the customer area in a
browser context of a given language and screen size, and the phone-width check."""

from __future__ import annotations

import struct
import zlib

from playwright.async_api import Browser, BrowserContext, Page, expect

from tests.browser.widget_harness import PASSWORD, WidgetWorld, new_page

PHONE = {"width": 390, "height": 844}
NARROW = {"width": 360, "height": 740}


async def portal_as(browser: Browser, world: WidgetWorld, email: str, *, locale: str = "en-US",
                    viewport: dict[str, int] | None = None, section: str = "",
                    time_zone: str = "UTC") -> tuple[BrowserContext, Page]:
    """A fresh context whose browser speaks ``locale``, signed in through the portal's form
    (found by id: its labels are in the browser's language)."""
    context = await browser.new_context(locale=locale, timezone_id=time_zone,
                                        viewport=viewport or {"width": 1280, "height": 800})  # type: ignore[arg-type]
    page = await new_page(context)
    await page.goto(world.base_url + "/portal/" + (f"#{section}" if section else ""))
    await page.locator("#login-email").fill(email)
    await page.locator("#login-password").fill(PASSWORD)
    await page.locator("#login-form button[type=submit]").click()
    await expect(page.locator("#live.on")).to_be_visible()
    return context, page


async def assert_no_horizontal_scroll(page: Page) -> None:
    """Nothing is wider than the screen (a phone would scroll sideways)."""
    widths = await page.evaluate("[document.documentElement.scrollWidth, innerWidth]")
    assert widths[0] <= widths[1], f"the page is {widths[0]} px wide on a {widths[1]} px screen"


def png(width: int = 4, height: int = 3) -> bytes:
    """A real (decodable) PNG, so the preview has a size once shown."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)
    rows = b"".join(b"\x00" + b"\xff\x00\x00" * width for _ in range(height))
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b""))

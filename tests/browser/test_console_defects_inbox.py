"""Two defects of the console found in use (issue 18), each driven in real Chromium: a
queue update threw ``items is not defined``, and an image a visitor sent showed as a link
with a broken glyph instead of a preview."""

from __future__ import annotations

import re
import struct
import zlib
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from playwright.async_api import Browser, expect

from chat.models import Role
from tests.browser.console_helpers import (
    history,
    item,
    no_auto_assignment,
    open_console,
    queue,
    staff,
    visitor_starts_chat,
    widget_messages,
)
from tests.browser.test_console import open_item, ticket_number
from tests.browser.widget_harness import WidgetWorld


@pytest.fixture(autouse=True)
async def pages_closed_first(browser: Browser, world: WidgetWorld) -> AsyncIterator[None]:
    """Every page closed before the server stops (this fixture's teardown runs before
    both): a console's request still in flight at shutdown leaves a database connection
    behind, which a later test then sees collected unclosed."""
    yield
    for context in browser.contexts:
        await context.close()


def png(width: int, height: int) -> bytes:
    """A real PNG (an opaque red rectangle) that a browser decodes."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)
    rows = b"".join(b"\x00" + b"\xff\x00\x00" * width for _ in range(height))
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b"")


async def test_a_queue_update_throws_nothing_in_the_console(browser: Browser, world: WidgetWorld) -> None:
    alice = await staff(world, "Alice")
    admin = await staff(world, "Ada", Role.SUPPORT_ADMIN)
    await no_auto_assignment(world, admin, alice)
    _, console = await open_console(browser, world, alice)
    errors: list[str] = []
    console.on("pageerror", lambda err: errors.append(str(err)))
    await expect(queue(console, "new").get_by_test_id("count")).to_have_text("0")

    # A new chat rings the inbox: the console re-reads the item and the counts.
    _, widget = await visitor_starts_chat(browser, world, "Vera Visitor", "The printer again")
    conv = await ticket_number(widget)
    await expect(item(console, "new", conv)).to_contain_text("The printer again")
    await expect(queue(console, "new").get_by_test_id("count")).to_have_text("1")
    # A second update of the same item (it is claimed), while it is open.
    await open_item(console, "new", conv)
    await console.get_by_role("button", name="I'll answer").click()
    await expect(item(console, "new", conv)).to_contain_text("answering: Alice")
    await console.evaluate("1")  # every page event raised so far has reached the test
    assert errors == []


async def test_an_image_from_the_visitor_shows_as_a_preview_that_opens_full_size(
    browser: Browser, world: WidgetWorld, tmp_path: Path
) -> None:
    alice = await staff(world, "Alice")
    admin = await staff(world, "Ada", Role.SUPPORT_ADMIN)
    await no_auto_assignment(world, admin, alice)
    context, console = await open_console(browser, world, alice)
    shot = tmp_path / "screen.png"
    shot.write_bytes(png(40, 30))

    _, widget = await visitor_starts_chat(browser, world, "Vera Visitor", "See my screenshot")
    conv = await ticket_number(widget)
    await widget.locator(".composer input[type=file]").set_input_files(str(shot))
    await expect(widget.locator(".tray li.done")).to_have_count(1)
    await widget.locator(".composer textarea").fill("here it is")
    await widget.locator(".composer textarea").press("Enter")
    await expect(widget_messages(widget).filter(has_text="here it is")).to_have_count(1)

    await open_item(console, "new", conv)
    message = history(console).locator(".msg", has_text="here it is")
    thumb = message.locator("img.thumb")
    await expect(thumb).to_have_attribute("src", re.compile(r"^blob:"))
    # Loaded and decoded: a broken image has no natural size.
    await console.wait_for_function(
        "() => { const i = document.querySelector('[data-testid=history] img.thumb'); return i && i.complete; }")
    assert await thumb.evaluate("img => img.naturalWidth") == 40
    await expect(message.get_by_role("button", name="Open screen.png full size")).to_be_visible()

    # A click opens it full size in a tab of its own.
    async with context.expect_page() as opened:
        await message.get_by_role("button", name="Open screen.png full size").click()
    full = await opened.value
    await full.wait_for_load_state()
    assert full.url.startswith("blob:")
    assert await full.evaluate("document.images.length && document.images[0].naturalWidth") == 40

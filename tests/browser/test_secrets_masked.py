"""Masked secrets in real Chromium: the widget warns under its composer before a key or a
password is sent (the visitor may send anyway), the visitor then sees the masked text, and
the agent's console shows the masked text with the marker naming the kind."""

from __future__ import annotations

import re

from playwright.async_api import Browser, expect

from chat.models import Role
from tests.browser.console_helpers import (
    history,
    item,
    no_auto_assignment,
    open_console,
    staff,
    visitor_starts_chat,
    widget_messages,
)
from tests.browser.widget_harness import WidgetWorld

AWS = "AKIAIOSFODNN7EXAMPLE"


async def test_the_widget_warns_before_a_secret_and_the_console_marks_it_masked(
    browser: Browser, world: WidgetWorld
) -> None:
    alice = await staff(world, "Alice")
    admin = await staff(world, "Ada", Role.SUPPORT_ADMIN)
    await no_auto_assignment(world, admin, alice)
    _, console = await open_console(browser, world, alice)
    _, widget = await visitor_starts_chat(browser, world, "Vera Visitor", "I cannot sign in")
    text = await widget.locator(".ticket").inner_text()
    found = re.search(r"#(\d+)", text)
    assert found, text
    conv = int(found.group(1))

    box = widget.locator(".composer textarea")
    warning = widget.get_by_test_id("secret-warning")
    await box.press_sequentially("my password is long")
    await expect(warning).to_be_hidden()
    await box.fill("логин vera, пароль: Qwerty123!")
    await expect(warning).to_be_visible()
    await expect(warning).to_have_text("This looks like a password or key — it will be masked")
    await box.fill("order 1234567890123456, see https://shop.example/orders/1")
    await expect(warning).to_be_hidden()
    await box.fill("card 4111 1111 1111 1111")
    await expect(warning).to_be_visible()
    await box.fill("")
    await expect(warning).to_be_hidden()
    # The visitor sends anyway: the key is masked before it is stored, in their view too.
    await box.press_sequentially(f"our AWS key is {AWS} ok")
    await expect(warning).to_be_visible()
    await box.press("Enter")
    await expect(warning).to_be_hidden()
    await expect(widget_messages(widget).last).to_contain_text("our AWS key is AKIA…MPLE ok")
    await expect(widget.locator("body")).not_to_contain_text(AWS)

    await item(console, "new", conv).click()
    message = history(console).locator(".msg").last
    await expect(message).to_contain_text("our AWS key is AKIA…MPLE ok")
    await expect(message.get_by_test_id("masked")).to_have_text("🔒 a secret was masked: AWS key")
    await expect(history(console)).not_to_contain_text(AWS)
    # The first message had nothing to mask: no marker.
    await expect(history(console).get_by_test_id("masked")).to_have_count(1)

"""A conversation the customer closed, in the console: shown closed, its composer disabled
(the server refuses replies and notes: docs/protocol.md, ``conversation_closed``)."""

from __future__ import annotations

from playwright.async_api import Browser, expect

from chat.auth import principal_of, visitor_session
from chat.conversations import start_conversation
from chat.models import Role
from escalation.closing import close_conversation
from tests.browser.console_helpers import item, no_auto_assignment, open_console, staff
from tests.browser.widget_harness import WidgetWorld


async def test_a_chat_closed_by_its_customer_leaves_the_composer_disabled(browser: Browser, world: WidgetWorld) -> None:
    svc = world.services
    alice = await staff(world, "Alice")
    await no_auto_assignment(world, await staff(world, "Ada", Role.SUPPORT_ADMIN), alice)
    visitor = await visitor_session(svc, site_key=world.site_key, name="Vera")
    customer = principal_of(visitor.user)
    conv = (await start_conversation(svc, customer, subject="Help", body="hello?")).conversation.id
    context, page = await open_console(browser, world, alice)
    try:
        await item(page, "new", conv).click()
        box = page.get_by_label("Message")
        await expect(box).to_be_enabled()
        await close_conversation(svc, customer, conv)
        await expect(box).to_be_disabled()
        await expect(box).to_have_attribute("placeholder", "Closed: nothing more can be sent here "
                                            "(the customer starts a new conversation to continue)")
        await expect(page.get_by_label("Internal note (staff only)")).to_be_disabled()
        await expect(page.locator(".conv-head")).to_contain_text("Conversation closed")
    finally:
        await context.close()

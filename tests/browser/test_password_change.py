"""Changing one's own password from the console and the portal, in real Chromium: the
policy's refusal is shown, a good password is taken, and the person's other session — a
second browser — is signed out at once (its socket closes 4409) while this one goes on."""

from __future__ import annotations

from playwright.async_api import Browser, expect

from chat import directory
from chat.auth import login
from chat.models import OrgKind, Role
from tests.browser.console_helpers import console_live, open_console, open_portal, staff
from tests.browser.widget_harness import PASSWORD, WidgetWorld

NEW_PASSWORD = "Violet-Harbour-Tram-1877"


async def test_an_agent_changes_their_password_and_their_other_console_is_signed_out(
        browser: Browser, world: WidgetWorld) -> None:
    agent = await staff(world, "Otto", Role.AGENT)
    other_context, other = await open_console(browser, world, agent)
    context, page = await open_console(browser, world, agent)
    try:
        await page.get_by_role("button", name="My profile").click()
        form = page.get_by_test_id("password-form")
        await form.get_by_label("Current password").fill(PASSWORD)
        await form.get_by_label("New password", exact=True).fill("password12")
        await form.get_by_label("New password again").fill("password12")
        await form.get_by_role("button", name="Change password").click()
        await expect(page.get_by_role("alert")).to_contain_text("password")
        await console_live(other)

        await form.get_by_label("New password", exact=True).fill(NEW_PASSWORD)
        await form.get_by_label("New password again").fill(NEW_PASSWORD)
        await form.get_by_role("button", name="Change password").click()
        await expect(page.get_by_role("status").last).to_have_text(
            "Password changed. Your other sessions were signed out.")
        # The other browser is signed out; this one stays live.
        await expect(other.get_by_text("Your session ended; sign in again.")).to_be_visible()
        await console_live(page)
        assert (await login(world.services, agent.email, NEW_PASSWORD, address="127.0.0.1", user_agent="t")).token
    finally:
        await context.close()
        await other_context.close()


async def test_a_customer_changes_their_password_in_the_portal(browser: Browser, world: WidgetWorld) -> None:
    org = (await directory.create_organization(world.services, None, name="Shop Co", kind=OrgKind.CUSTOMER)).organization
    customer = await staff(world, "Cora", Role.CUSTOMER, organization=org.id)
    context, page = await open_portal(browser, world, customer.email, "profile")
    try:
        form = page.locator("#password-form")
        await form.get_by_label("Current password").fill("not-my-password-at-all")
        await form.get_by_label("New password", exact=True).fill(NEW_PASSWORD)
        await form.get_by_label("New password again").fill(NEW_PASSWORD)
        await form.get_by_role("button", name="Change password").click()
        await expect(page.locator("#password-error")).to_have_text("the current password is wrong")
        await form.get_by_label("Current password").fill(PASSWORD)
        await form.get_by_role("button", name="Change password").click()
        await expect(page.locator("#password-notice")).to_have_text(
            "Password changed. Your other sessions were signed out.")
        assert (await login(world.services, customer.email, NEW_PASSWORD, address="127.0.0.1", user_agent="t")).token
    finally:
        await context.close()

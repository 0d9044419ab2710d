"""The console's "People" screen (issue 19) in real Chromium: a support admin filters the
people, changes a role (a refused one marks the company), disables a person (whose open
console ends at once) and mails a password reset (the mail is in the outbox, no password
anywhere); each change is in the audit log. Read-only staff search with the controls
disabled."""

from __future__ import annotations

from playwright.async_api import Browser, Page, expect
from sqlalchemy import select

from chat import directory
from chat.mail.models import OutboxMail
from chat.models import AuditLog, Role, User
from tests.browser.console_helpers import open_console, open_settings, staff
from tests.browser.widget_harness import WidgetWorld


async def open_people(page: Page) -> None:
    await open_settings(page, "users")
    await expect(page.get_by_test_id("settings-users")).to_be_visible()


async def audit(world: WidgetWorld) -> list[tuple[str, str | None, int | None]]:
    async with world.services.sessions() as db:
        rows = await db.scalars(select(AuditLog).where(AuditLog.action.startswith("config.user."))
                                .where(AuditLog.actor_id.is_not(None)).order_by(AuditLog.id))
        return [(row.action, row.target_id, row.actor_id) for row in rows]


async def test_an_admin_filters_edits_disables_and_resets(browser: Browser, world: WidgetWorld) -> None:
    admin = await staff(world, "Ada", Role.SUPPORT_ADMIN)
    otto = await staff(world, "Otto", Role.AGENT)
    await staff(world, "Rita", Role.READ_ONLY)
    await directory.create_user(world.services, None, email="carl@acme.example", role=Role.CUSTOMER, name="Carl")
    context, page = await open_console(browser, world, admin)
    otto_context, otto_page = await open_console(browser, world, otto)
    try:
        await open_people(page)
        screen = page.get_by_test_id("settings-users")
        rows = screen.get_by_test_id("user-row")
        await expect(rows).to_have_count(4)
        await screen.get_by_label("Role filter").select_option("agent")
        await expect(rows).to_have_count(1)
        await expect(rows.first).to_contain_text("otto@desk.example")
        await expect(rows.first).to_contain_text("Agent")
        await screen.get_by_label("Role filter").select_option("")
        await screen.get_by_label("Search by name or e-mail").fill("ACME")
        await screen.get_by_role("button", name="Search", exact=True).click()
        await expect(rows).to_have_count(1)
        await expect(rows.first).to_contain_text("carl@acme.example")
        await screen.get_by_label("Search by name or e-mail").fill("")
        await screen.get_by_role("button", name="Search", exact=True).click()
        await expect(rows).to_have_count(4)
        await expect(rows.filter(has_text="ada@desk.example")).not_to_contain_text("never")

        # A partner admin needs a partner company; there is none: the company is marked.
        await screen.get_by_role("button", name="Edit otto@desk.example").click()
        edit = screen.get_by_test_id("user-edit")
        await edit.get_by_label("Role").select_option("reseller_admin")
        await edit.get_by_role("button", name="Save").click()
        await expect(edit.get_by_label("Company")).to_have_attribute("aria-invalid", "true")
        await expect(edit.get_by_test_id("field-error")).to_contain_text("reseller")
        # Otto becomes read-only.
        await edit.get_by_label("Role").select_option("read_only")
        await edit.get_by_role("button", name="Save").click()
        await expect(page.locator(".toast").filter(has_text="Saved.")).to_be_visible()
        await expect(rows.filter(has_text="otto@desk.example")).to_contain_text("Read-only")
        async with world.services.sessions() as db:
            assert (await db.get(User, otto.id)).role is Role.READ_ONLY  # type: ignore[union-attr]

        # A password reset is mailed; no password is shown or stored anywhere.
        await screen.get_by_role("button", name="Send a password reset to otto@desk.example").click()
        await expect(page.locator(".toast").filter(
            has_text="A password reset link was mailed to otto@desk.example.")).to_be_visible()
        async with world.services.sessions() as db:
            mails = [(m.kind, m.to_addr) for m in await db.scalars(select(OutboxMail))]
        assert mails == [("password_reset", "otto@desk.example")]

        # Disabled: Otto's open console ends at once.
        await screen.get_by_role("button", name="Disable otto@desk.example").click()
        await expect(rows.filter(has_text="otto@desk.example")).to_contain_text("Disabled")
        await expect(otto_page.get_by_text("Your session ended; sign in again.")).to_be_visible()
        await expect(otto_page.get_by_role("button", name="Sign in")).to_be_visible()
        # A disabled person gets no reset; enabled again, the row says so.
        await expect(screen.get_by_role("button", name="Send a password reset to otto@desk.example")).to_be_disabled()
        await screen.get_by_role("button", name="Enable otto@desk.example").click()
        await expect(rows.filter(has_text="otto@desk.example")).to_contain_text("Active")
        await screen.get_by_label("State filter").select_option("true")
        await expect(screen.get_by_text("Nobody matches.")).to_be_visible()
    finally:
        await context.close()
        await otto_context.close()

    assert await audit(world) == [
        ("config.user.update", str(otto.id), admin.id),
        ("config.user.reset_password", str(otto.id), admin.id),
        ("config.user.disable", str(otto.id), admin.id),
        ("config.user.enable", str(otto.id), admin.id),
    ]


async def test_read_only_staff_search_people_with_the_controls_disabled(browser: Browser, world: WidgetWorld) -> None:
    await staff(world, "Otto", Role.AGENT)
    auditor = await staff(world, "Rita", Role.READ_ONLY)
    context, page = await open_console(browser, world, auditor)
    try:
        await open_people(page)
        screen = page.get_by_test_id("settings-users")
        await screen.get_by_label("Role filter").select_option("agent")
        await expect(screen.get_by_test_id("user-row")).to_have_count(1)
        await expect(screen.get_by_role("button", name="Edit otto@desk.example")).to_be_disabled()
        await expect(screen.get_by_role("button", name="Disable otto@desk.example")).to_be_disabled()
        await expect(screen.get_by_role("button", name="Send a password reset to otto@desk.example")).to_be_disabled()
    finally:
        await context.close()

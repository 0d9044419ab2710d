"""The console's "Companies" screen (issue 19) in real Chromium: a support admin sets a
company's own auto-close delay to 2 business days (a zero refused with its amount marked,
nothing stored), changes its plan and domains; the API and the audit log show it.
Read-only staff see it disabled."""

from __future__ import annotations

from playwright.async_api import Browser, Page, expect
from sqlalchemy import select

from chat.models import AuditLog, Organization, Role
from tests.browser.console_helpers import api, open_console, open_settings, staff
from tests.browser.widget_harness import WidgetWorld


async def open_companies(page: Page) -> None:
    await open_settings(page, "companies")
    await expect(page.get_by_test_id("settings-companies")).to_be_visible()


async def test_an_admin_gives_a_company_its_own_auto_close(browser: Browser, world: WidgetWorld) -> None:
    admin = await staff(world, "Ada", Role.SUPPORT_ADMIN)
    async with world.services.sessions() as db:
        acme = await db.scalar(select(Organization).where(Organization.name == "Acme"))
    assert acme is not None
    context, page = await open_console(browser, world, admin)
    try:
        await open_companies(page)
        screen = page.get_by_test_id("settings-companies")
        row = screen.get_by_test_id("company-row").filter(has_text="Acme")
        await expect(row.get_by_test_id("company-waiting")).to_have_text("The policy's default")
        await screen.get_by_role("button", name="Edit Acme").click()
        edit = screen.get_by_test_id("company-edit")
        waiting = "Auto-close when waiting on the customer"
        await edit.get_by_label(waiting, exact=True).select_option("own")
        await edit.get_by_label(f"Amount: {waiting}").fill("0")
        await edit.get_by_label(f"Unit: {waiting}").select_option("bd")
        await edit.get_by_role("button", name="Save").click()
        await expect(edit.get_by_label(f"Amount: {waiting}")).to_have_attribute("aria-invalid", "true")
        await expect(edit.get_by_test_id("field-error")).to_contain_text("auto_close_waiting")
        async with world.services.sessions() as db:
            assert (await db.get(Organization, acme.id)).auto_close_waiting is None  # type: ignore[union-attr]

        await edit.get_by_label(f"Amount: {waiting}").fill("2")
        await edit.get_by_label("Plan").select_option("premium")
        await edit.get_by_label("E-mail domains (one per line)").fill("acme.example\nacme.test")
        await edit.get_by_role("button", name="Save").click()
        await expect(page.locator(".toast").filter(has_text="Acme saved.")).to_be_visible()
        await expect(row.get_by_test_id("company-waiting")).to_have_text("2 business days")
        await expect(row.get_by_test_id("company-proposed")).to_have_text("The policy's default")
        await expect(row).to_contain_text("Premium")
    finally:
        await context.close()

    listed = (await api(world, admin, "GET", "/api/organizations")).json()["organizations"]
    shown = next(o for o in listed if o["id"] == acme.id)
    assert (shown["auto_close_waiting"], shown["auto_close_proposed"]) == ("2bd", None)
    assert (shown["plan_tier"], shown["domains"]) == ("premium", ["acme.example", "acme.test"])
    async with world.services.sessions() as db:
        rows = list(await db.scalars(select(AuditLog).where(AuditLog.action == "config.organization.update")))
    assert len(rows) == 1
    assert (rows[0].actor_id, rows[0].target_kind, rows[0].target_id) == (admin.id, "organization", str(acme.id))
    assert rows[0].before is not None and rows[0].after is not None
    assert (rows[0].before["auto_close_waiting"], rows[0].after["auto_close_waiting"]) == (None, "2bd")


async def test_read_only_staff_see_the_companies_disabled(browser: Browser, world: WidgetWorld) -> None:
    auditor = await staff(world, "Rita", Role.READ_ONLY)
    context, page = await open_console(browser, world, auditor)
    try:
        await open_companies(page)
        screen = page.get_by_test_id("settings-companies")
        await screen.get_by_role("button", name="Edit Acme").click()
        edit = screen.get_by_test_id("company-edit")
        await expect(edit.get_by_label("Plan")).to_be_disabled()
        await expect(edit.get_by_label("Auto-close when waiting on the customer", exact=True)).to_be_disabled()
        await expect(edit.get_by_role("button", name="Save")).to_be_disabled()
    finally:
        await context.close()

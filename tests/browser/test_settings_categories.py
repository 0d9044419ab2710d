"""The console's "Categories" screen (issue 19) in real Chromium: a support admin creates a
category with titles per language; a Russian-speaking visitor is offered it in Russian in
the widget's pre-chat form and a German agent reads it in German; a bad target is refused
with its control marked and nothing stored; deleting a category a ticket uses is refused as
the server says it, and the category is retired instead; every change is audited; read-only
staff see both settings screens with their controls disabled."""

from __future__ import annotations

from typing import Any

from playwright.async_api import Browser, Locator, Page, expect

from chat import directory
from chat.models import OrgKind, Role
from tests.browser.console_helpers import Staff, api, audit_entries, open_console, open_settings, staff
from tests.browser.widget_harness import WidgetWorld, new_page, open_widget


async def categories_screen(page: Page) -> Locator:
    await open_settings(page, "categories")
    screen = page.get_by_test_id("settings-categories")
    await expect(screen.get_by_role("heading", name="Ticket categories")).to_be_visible()
    return screen


async def category(world: WidgetWorld, who: Staff, key: str) -> dict[str, Any] | None:
    r = await api(world, who, "GET", "/api/categories")
    assert r.status_code == 200, r.text
    return next((c for c in r.json()["categories"] if c["key"] == key), None)


async def test_a_category_with_titles_per_language_is_shown_in_each_readers_language(
    browser: Browser, world: WidgetWorld
) -> None:
    admin = await staff(world, "Ada", Role.SUPPORT_ADMIN)
    context, page = await open_console(browser, world, admin)
    try:
        screen = await categories_screen(page)
        await screen.get_by_test_id("category-new").click()
        form = screen.get_by_test_id("category-form")
        await form.get_by_label("Key").fill("firmware")
        await form.get_by_label("Name (fallback)").fill("Firmware")
        await form.get_by_label("Title in Русский").fill("Прошивка")
        await form.get_by_label("Title in Deutsch").fill("Firmware-Aktualisierung")
        await form.get_by_label("Who may choose it").select_option("customer")
        await form.locator('[name="resolution"]').fill("-1")
        await form.get_by_test_id("category-save").click()
        # A negative target: the resolution's control is marked, nothing is stored.
        await expect(form.locator('[name="resolution"]')).to_have_attribute("aria-invalid", "true")
        await expect(form.get_by_test_id("field-error")).to_contain_text("positive")
        assert await category(world, admin, "firmware") is None

        await form.locator('[name="resolution"]').fill("8")
        await form.get_by_test_id("category-save").click()
        row = screen.get_by_test_id("category-list").locator('tr[data-key="firmware"]')
        await expect(row).to_contain_text("Firmware")
        await expect(row).to_contain_text("8 business h")
        created = await category(world, admin, "firmware")
        assert created is not None
        assert created["titles"] == {"ru": "Прошивка", "de": "Firmware-Aktualisierung"}
        assert (created["sla"]["resolution"], created["availability"], created["active"]) == ({"minutes": 480},
                                                                                              "customer", True)
        assert [e["after"] for e in await audit_entries(world, admin, "config.category.create", "firmware")] == [created]
    finally:
        await context.close()

    # A Russian-speaking visitor is offered it in Russian in the pre-chat form.
    visitor = await browser.new_context()
    try:
        page = await new_page(visitor)
        await page.goto(world.page_url(language="ru"))
        frame = await open_widget(page)
        await expect(frame.locator('#f-category option[value="firmware"]')).to_have_text("Прошивка")
    finally:
        await visitor.close()

    # A German agent reads it in German.
    agent = await staff(world, "Otto", Role.AGENT)
    r = await api(world, agent, "PATCH", "/api/me", {"language": "de"})
    assert r.status_code == 200, r.text
    context, page = await open_console(browser, world, agent)
    try:
        await page.get_by_role("button", name="Verwaltung", exact=True).click()
        await page.get_by_test_id("settings-nav-categories").click()
        row = page.get_by_test_id("category-list").locator('tr[data-key="firmware"]')
        await expect(row.locator(".category-title")).to_have_text("Firmware-Aktualisierung")
        # Agents may look, not change.
        await expect(page.get_by_test_id("category-delete-firmware")).to_be_disabled()
    finally:
        await context.close()


async def test_a_category_in_use_is_not_deleted_but_retired(browser: Browser, world: WidgetWorld) -> None:
    svc = world.services
    admin = await staff(world, "Ada", Role.SUPPORT_ADMIN)
    company = (await directory.create_organization(svc, None, name="Globex", kind=OrgKind.CUSTOMER)).organization
    customer = await staff(world, "Cora", Role.CUSTOMER, organization=company.id)
    for key, name in (("firmware", "Firmware"), ("spare", "Spare")):
        r = await api(world, admin, "PUT", f"/api/categories/{key}", {"name": name})
        assert r.status_code == 200, r.text
    r = await api(world, customer, "POST", "/api/tickets", {"subject": "Flash failed", "description": "v2",
                                                            "category": "firmware"})
    assert r.status_code == 201, r.text
    ticket_id = r.json()["ticket"]["id"]

    context, page = await open_console(browser, world, admin)
    try:
        screen = await categories_screen(page)
        await screen.get_by_test_id("category-delete-firmware").click()
        refusal = screen.get_by_test_id("category-refusal")
        await expect(refusal).to_contain_text("retire it instead")
        assert await category(world, admin, "firmware") is not None
        assert await audit_entries(world, admin, "config.category.delete", "firmware") == []

        await screen.get_by_test_id("category-toggle-firmware").click()
        row = screen.get_by_test_id("category-list").locator('tr[data-key="firmware"]')
        await expect(row).to_contain_text("retired")
        retired = await category(world, admin, "firmware")
        assert retired is not None and retired["active"] is False
        assert await category(world, customer, "firmware") is None  # no longer offered
        r = await api(world, admin, "GET", f"/api/tickets/{ticket_id}")
        assert r.json()["ticket"]["category"] == "firmware"  # old tickets keep it
        [update] = await audit_entries(world, admin, "config.category.update", "firmware")
        assert update["before"]["active"] is True and update["after"] == retired

        await screen.get_by_test_id("category-delete-spare").click()
        await expect(screen.get_by_test_id("category-list").locator('tr[data-key="spare"]')).to_have_count(0)
        assert await category(world, admin, "spare") is None
        [deleted] = await audit_entries(world, admin, "config.category.delete", "spare")
        assert deleted["before"]["name"] == "Spare" and deleted["after"] is None
    finally:
        await context.close()


async def test_read_only_staff_see_both_screens_disabled(browser: Browser, world: WidgetWorld) -> None:
    admin = await staff(world, "Ada", Role.SUPPORT_ADMIN)
    r = await api(world, admin, "PUT", "/api/sla/calendars/office", {
        "name": "Office", "definition": {"timezone": "UTC", "weekly": {"0": [["09:00", "17:00"]]}}})
    assert r.status_code == 200, r.text
    reader = await staff(world, "Rita", Role.READ_ONLY)
    context, page = await open_console(browser, world, reader)
    try:
        screen = await categories_screen(page)
        await expect(screen.get_by_test_id("category-list").locator("tr")).not_to_have_count(1)
        await expect(screen.get_by_test_id("category-new")).to_be_disabled()
        await expect(screen.get_by_test_id("category-save")).to_be_disabled()
        await expect(screen.get_by_label("Title in Русский")).to_be_disabled()
        await expect(screen.get_by_test_id("category-delete-technical_question")).to_be_disabled()

        await page.get_by_test_id("settings-nav-calendars").click()
        calendars = page.get_by_test_id("settings-calendars")
        await calendars.get_by_test_id("calendar-open-office").click()
        form = calendars.get_by_test_id("calendar-form")
        await expect(form.get_by_label("Time zone")).to_be_disabled()
        await expect(form.get_by_test_id("calendar-day-0").locator(".period-from")).to_be_disabled()
        await expect(form.get_by_test_id("calendar-day-0-add")).to_be_disabled()
        await expect(form.get_by_test_id("calendar-save")).to_be_disabled()
        await expect(calendars.get_by_test_id("calendar-delete")).to_be_disabled()
        # What they may do: look at the preview.
        await expect(calendars.get_by_test_id("calendar-preview").locator("tr").first).to_be_visible()
    finally:
        await context.close()

"""The console's "Calendars" screen (issue 19) in real Chromium: a support admin builds a
business calendar (two periods on Monday, German public holidays), sees it listed and
previewed; overlapping periods and an unknown time zone are refused with that control
marked and nothing stored; a ticket measured on the calendar gets a deadline that moves
when the calendar's hours change; every change is in the audit log."""

from __future__ import annotations

from typing import Any

from playwright.async_api import Browser, Locator, Page, expect

from chat import directory
from chat.models import OrgKind, Role
from tests.browser.console_helpers import Staff, api, audit_entries, open_console, open_settings, staff
from tests.browser.widget_harness import WidgetWorld


async def calendars_screen(page: Page) -> Locator:
    await open_settings(page, "calendars")
    screen = page.get_by_test_id("settings-calendars")
    await expect(screen.get_by_role("heading", name="Business calendars")).to_be_visible()
    return screen


async def stored(world: WidgetWorld, admin: Staff, key: str) -> dict[str, Any] | None:
    r = await api(world, admin, "GET", "/api/sla/calendars")
    assert r.status_code == 200, r.text
    return next((c for c in r.json()["calendars"] if c["key"] == key), None)


async def set_period(day: Locator, n: int, start: str, end: str) -> None:
    await day.locator(".period-from").nth(n).fill(start)
    await day.locator(".period-to").nth(n).fill(end)


async def test_an_admin_builds_a_calendar_previews_it_and_bad_hours_are_refused_on_their_field(
    browser: Browser, world: WidgetWorld
) -> None:
    admin = await staff(world, "Ada", Role.SUPPORT_ADMIN)
    context, page = await open_console(browser, world, admin)
    try:
        screen = await calendars_screen(page)
        await screen.get_by_test_id("calendar-new").click()
        form = screen.get_by_test_id("calendar-form")
        await form.get_by_label("Key").fill("berlin")
        await form.get_by_label("Name").fill("Berlin office")
        await form.get_by_label("Time zone").fill("Europe/Berlin")
        monday = form.get_by_test_id("calendar-day-0")
        await expect(monday).to_contain_text("closed")
        await monday.get_by_test_id("calendar-day-0-add").click()
        await monday.get_by_test_id("calendar-day-0-add").click()
        await set_period(monday, 0, "09:00", "13:00")
        await set_period(monday, 1, "14:00", "18:00")
        await form.get_by_test_id("calendar-day-4-add").click()  # Friday 09:00-18:00, as offered
        await form.get_by_label("Public holidays of").select_option("DE")
        await form.get_by_label("Region").select_option("BY")
        await form.get_by_test_id("calendar-save").click()
        await expect(screen.get_by_test_id("calendar-list").locator('tr[data-key="berlin"]')).to_contain_text(
            "Berlin office")

        saved = await stored(world, admin, "berlin")
        assert saved is not None
        assert saved["definition"]["weekly"] == {"0": [["09:00", "13:00"], ["14:00", "18:00"]],
                                                 "4": [["09:00", "18:00"]]}
        assert (saved["definition"]["timezone"], saved["definition"]["holidays"],
                saved["definition"]["subdivision"]) == ("Europe/Berlin", "DE", "BY")

        # The preview from the week before Christmas: Monday's two periods, the holidays
        # named as the server names them.
        preview = screen.get_by_test_id("calendar-preview")
        await preview.get_by_test_id("calendar-preview-from").fill("2026-12-21")
        r = await api(world, admin, "GET", "/api/sla/calendars/berlin/preview?from=2026-12-21&days=7")
        christmas = next(d for d in r.json()["days"] if d["date"] == "2026-12-25")
        assert christmas["reason"] == "holiday" and christmas["holiday"]
        await expect(preview.locator('tr[data-date="2026-12-21"]')).to_contain_text("09:00–13:00, 14:00–18:00")
        await expect(preview.locator('tr[data-date="2026-12-25"]')).to_contain_text(christmas["holiday"])
        await expect(preview.locator('tr[data-date="2026-12-25"]')).to_have_class("closed")
        # And the days this year closes besides the weekly hours: Christmas among them.
        closed_year = preview.get_by_test_id("calendar-closed-year")
        await expect(closed_year.locator('li[data-date$="-12-25"]')).to_contain_text(christmas["holiday"])
        await expect(closed_year.locator('li[data-date$="-12-24"]')).to_have_count(0)  # a Christmas Eve is not one

        # Overlapping periods: Monday's row is marked, nothing is stored.
        form = screen.get_by_test_id("calendar-form")
        monday = form.get_by_test_id("calendar-day-0")
        await set_period(monday, 1, "12:00", "18:00")
        await form.get_by_test_id("calendar-save").click()
        await expect(monday).to_have_attribute("aria-invalid", "true")
        await expect(form.get_by_test_id("field-error")).to_contain_text("overlap")
        assert await stored(world, admin, "berlin") == saved

        # An unknown time zone: the time zone is marked (and Monday no longer), nothing stored.
        await set_period(monday, 1, "14:00", "18:00")
        await form.get_by_label("Time zone").fill("Mars/Olympus")
        await form.get_by_test_id("calendar-save").click()
        await expect(form.get_by_label("Time zone")).to_have_attribute("aria-invalid", "true")
        await expect(monday).not_to_have_attribute("aria-invalid", "true")
        await expect(form.get_by_test_id("field-error")).to_contain_text("Mars/Olympus")
        assert await stored(world, admin, "berlin") == saved

        assert [e["after"] for e in await audit_entries(world, admin, "config.calendar.create", "berlin")] == [saved]
        assert await audit_entries(world, admin, "config.calendar.update", "berlin") == []
    finally:
        await context.close()


async def test_a_tickets_deadline_follows_the_calendars_hours(browser: Browser, world: WidgetWorld) -> None:
    """A policy on the calendar measures a ticket; the admin shortens every day's hours in
    the screen and the ticket's resolution deadline moves to the new close of day. The
    ticket is read after its next unit of work (an agent's edit): recomputing open tickets
    the moment the configuration changes is another part of issue 19."""
    svc = world.services
    admin = await staff(world, "Ada", Role.SUPPORT_ADMIN)
    agent = await staff(world, "Otto", Role.AGENT)
    company = (await directory.create_organization(svc, None, name="Globex", kind=OrgKind.CUSTOMER)).organization
    customer = await staff(world, "Cora", Role.CUSTOMER, organization=company.id)
    # Not 00:00-24:00: a calendar open around the clock may count days as 24 h each.
    all_day = {str(d): [["00:00", "23:00"]] for d in range(7)}
    r = await api(world, admin, "PUT", "/api/sla/calendars/office", {
        "name": "Office", "definition": {"timezone": "UTC", "weekly": all_day}})
    assert r.status_code == 200, r.text
    r = await api(world, admin, "POST", "/api/sla/policies", {
        "name": "Critical by office days", "severity": 1, "calendar": "office", "resolution": {"business_days": 1}})
    assert r.status_code == 201, r.text
    r = await api(world, customer, "POST", "/api/tickets", {"subject": "Down", "description": "All of it", "severity": 1})
    assert r.status_code == 201, r.text
    ticket_id = r.json()["ticket"]["id"]

    async def resolution_due(assets: list[str]) -> str:
        r = await api(world, agent, "PATCH", f"/api/tickets/{ticket_id}", {"assets": assets})
        assert r.status_code == 200, r.text
        r = await api(world, agent, "GET", f"/api/tickets/{ticket_id}")
        ticket = r.json()["ticket"]
        assert ticket["sla_policy"] == "Critical by office days", ticket
        return str(ticket["deadlines"]["resolution"]["due_at"])

    before = await resolution_due(["GW-1"])
    assert "T23:00:00" in before, before  # the close of a whole business day

    context, page = await open_console(browser, world, admin)
    try:
        screen = await calendars_screen(page)
        await screen.get_by_test_id("calendar-open-office").click()
        form = screen.get_by_test_id("calendar-form")
        for day in range(7):
            await form.get_by_test_id(f"calendar-day-{day}").locator(".period-to").fill("20:00")
        await form.get_by_test_id("calendar-save").click()
        await expect(screen.get_by_test_id("calendar-preview").locator("tr.open").first).to_contain_text("00:00–20:00")
    finally:
        await context.close()
    saved = await stored(world, admin, "office")
    assert saved is not None and saved["definition"]["weekly"]["3"] == [["00:00", "20:00"]]

    after = await resolution_due(["GW-2"])
    assert after != before and "T20:00:00" in after, (before, after)
    [update] = await audit_entries(world, admin, "config.calendar.update", "office")
    assert update["before"]["definition"]["weekly"]["3"] == [["00:00", "23:00"]]
    assert update["after"] == saved

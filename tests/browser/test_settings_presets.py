"""The console's "Presets" screen (issue 19) in real Chromium: a support admin applies SKAI
after a confirm that says what will change, and a ticket in a SKAI topic is then measured
on the Moscow calendar; applying FFC gives an FFC category ticket its 1-day target. Both
are audited; read-only staff cannot apply."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from playwright.async_api import Browser, Page, expect
from sqlalchemy import select

from chat.models import AuditLog, Organization, Role
from escalation.calendars import moscow_business_calendar
from tests.browser.console_helpers import Staff, api, open_console, open_settings, staff
from tests.browser.widget_harness import WidgetWorld


async def open_presets(page: Page) -> None:
    await open_settings(page, "presets")
    await expect(page.get_by_test_id("preset-SKAI")).to_be_visible()


async def apply(page: Page, name: str) -> None:
    await page.get_by_test_id(f"preset-apply-{name}").click()
    dialog = page.get_by_test_id("preset-confirm")
    await expect(dialog).to_contain_text("replace the calendars, categories and SLA rules with the same keys")
    await dialog.get_by_test_id("preset-confirm-apply").click()
    await expect(page.get_by_test_id(f"preset-result-{name}")).to_contain_text(f"{name} applied")


async def ticket(world: WidgetWorld, customer: Staff, agent: Staff, category: str) -> dict[str, Any]:
    r = await api(world, customer, "POST", "/api/tickets", {"subject": "Help", "description": "Please",
                                                              "category": category})
    assert r.status_code == 201, r.text
    r = await api(world, agent, "GET", f"/api/tickets/{r.json()['ticket']['id']}")
    assert r.status_code == 200, r.text
    found: dict[str, Any] = r.json()["ticket"]
    return found


async def test_apply_skai_then_ffc_from_the_console_and_tickets_follow(browser: Browser, world: WidgetWorld) -> None:
    admin = await staff(world, "Ada", Role.SUPPORT_ADMIN)
    agent = await staff(world, "Otto", Role.AGENT)
    async with world.services.sessions() as db:
        acme = await db.scalar(select(Organization.id).where(Organization.name == "Acme"))
    customer = await staff(world, "Cora", Role.CUSTOMER, organization=acme)
    r = await api(world, customer, "POST", "/api/tickets", {"subject": "x", "description": "y",
                                                              "category": "server_failure"})
    assert r.status_code == 422, "a fresh install knows no SKAI topic"
    context, page = await open_presets_page(browser, world, admin)
    try:
        skai = page.get_by_test_id("preset-SKAI")
        await expect(skai).to_contain_text("Moscow")
        await expect(skai).to_contain_text("9 SLA rules")
        await apply(page, "SKAI")
        await expect(page.get_by_test_id("preset-result-SKAI")).to_contain_text("categories: 9 created")

        # A SKAI topic's stage one is measured on the Moscow calendar: due while the Moscow
        # office is open (around the clock it would be due at a UTC midnight, 03:00 in
        # Moscow), one working day on: 8.5 h of office time under SKAI's working-hours rule,
        # up to the next day's close (17 h) under the whole-days rule (the clock is real; a
        # shortened pre-holiday day has 7.5 h).
        t = await ticket(world, customer, agent, "server_failure")
        assert t["sla_policy"] == "SKAI server_failure"
        created = datetime.fromisoformat(t["created_at"])
        due = datetime.fromisoformat(t["deadlines"]["stage_one"]["due_at"])
        moscow = moscow_business_calendar("moscow")
        assert moscow.is_open(due - timedelta(minutes=1)), due
        assert timedelta(hours=7) <= moscow.business_time_between(created, due) <= timedelta(hours=17)

        await apply(page, "FFC")
        t = await ticket(world, customer, agent, "technical_question")
        assert t["sla_policy"].endswith("/ technical_question")
        created = datetime.fromisoformat(t["created_at"])
        due = datetime.fromisoformat(t["deadlines"]["resolution"]["due_at"])
        # FFC's "1 day", around the clock: one day on (the close of the next day at most).
        assert timedelta(hours=24) <= due - created <= timedelta(hours=48)

        async with world.services.sessions() as db:
            rows = list(await db.scalars(select(AuditLog).where(AuditLog.action == "config.preset.apply")
                                         .order_by(AuditLog.id)))
        assert [(r.target_id, r.actor_id) for r in rows] == [("SKAI", admin.id), ("FFC", admin.id)]
    finally:
        await context.close()


async def open_presets_page(browser: Browser, world: WidgetWorld, who: Staff) -> tuple[Any, Page]:
    context, page = await open_console(browser, world, who)
    await open_presets(page)
    return context, page


async def test_read_only_staff_see_the_presets_and_cannot_apply(browser: Browser, world: WidgetWorld) -> None:
    reader = await staff(world, "Rita", Role.READ_ONLY)
    context, page = await open_presets_page(browser, world, reader)
    try:
        for name in ("360", "FFC", "SKAI"):
            await expect(page.get_by_test_id(f"preset-apply-{name}")).to_be_disabled()
        await expect(page.get_by_test_id("preset-360")).to_contain_text("48 h")
    finally:
        await context.close()

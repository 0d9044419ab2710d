"""The console's "Ticket rules" screen (issue 19) in real Chromium: a support admin edits the
escalation ladder and the auto-close delays, the change is stored and audited; a step out
of time order is refused with that step's control marked and nothing stored; read-only
staff see the screen with every control disabled."""

from __future__ import annotations

from typing import Any

from playwright.async_api import Browser, Page, expect
from sqlalchemy import select

from chat.desk.models import DeskSetting
from chat.models import AuditLog, Role
from escalation.models import SupportGroup
from tests.browser.console_helpers import open_console, open_settings, staff
from tests.browser.widget_harness import WidgetWorld


async def stored(world: WidgetWorld) -> dict[str, Any]:
    async with world.services.sessions() as db:
        return {row.key: row.value for row in await db.scalars(select(DeskSetting))
                if row.key != "default_assignee_id"}


async def audit(world: WidgetWorld) -> list[AuditLog]:
    async with world.services.sessions() as db:
        return list(await db.scalars(select(AuditLog).where(AuditLog.action == "config.desk.update")
                                     .order_by(AuditLog.id)))


async def open_rules(page: Page) -> None:
    await open_settings(page, "ticket-rules")
    await expect(page.get_by_test_id("rules-ladder")).to_be_visible()


async def test_an_admin_edits_the_ladder_and_auto_close_and_a_bad_step_is_refused(
    browser: Browser, world: WidgetWorld
) -> None:
    admin = await staff(world, "Ada", Role.SUPPORT_ADMIN)
    context, page = await open_console(browser, world, admin)
    try:
        await open_rules(page)
        ladder = page.get_by_test_id("rules-ladder")
        await expect(page.get_by_test_id("rules-source-ladder")).to_have_attribute("data-stored", "false")
        await expect(ladder.get_by_test_id("ladder-step")).to_have_count(3)  # the environment's default

        # Step 2 later, a fourth step added: notify the assignee after 300 minutes.
        await ladder.get_by_label("Minutes after the breach, step 2").fill("90")
        await ladder.get_by_test_id("ladder-add").click()
        await ladder.get_by_label("Action of step 4").select_option("notify_assignee")
        await ladder.get_by_label("Minutes after the breach, step 4").fill("300")
        await ladder.get_by_role("button", name="Save").click()
        await expect(page.get_by_test_id("rules-source-ladder")).to_have_attribute("data-stored", "true")
        want = [{"action": "raise_level:2", "after_minutes": 0}, {"action": "notify_group_lead", "after_minutes": 90},
                {"action": "notify_admins", "after_minutes": 240}, {"action": "notify_assignee", "after_minutes": 300}]
        assert (await stored(world))["ladder"] == want
        rows = await audit(world)
        assert len(rows) == 1 and rows[0].actor_id == admin.id
        assert rows[0].before is not None and rows[0].after is not None
        assert rows[0].before["settings"]["ladder"][1]["after_minutes"] == 60
        assert rows[0].after["settings"]["ladder"] == want

        # Step 1 after step 2: refused, step 2's minutes marked, nothing stored.
        ladder = page.get_by_test_id("rules-ladder")
        await ladder.get_by_label("Minutes after the breach, step 1").fill("500")
        await ladder.get_by_role("button", name="Save").click()
        marked = ladder.locator('[data-field="ladder.1.after_minutes"]')
        await expect(marked).to_have_attribute("aria-invalid", "true")
        await expect(ladder.get_by_test_id("field-error")).to_contain_text("time order")
        await expect(ladder.locator("[aria-invalid=true]")).to_have_count(1)
        assert (await stored(world))["ladder"] == want
        assert len(await audit(world)) == 1

        # The auto-close delays: amount and unit.
        auto = page.get_by_test_id("rules-autoclose")
        await expect(auto.get_by_label("Waiting on the customer closes after", exact=True)).to_have_value("48")
        await auto.get_by_label("Waiting on the customer closes after", exact=True).fill("3")
        await auto.get_by_label("Unit: Waiting on the customer closes after").select_option("bd")
        await auto.get_by_role("button", name="Save").click()
        await expect(page.get_by_test_id("rules-source-autoclose")).to_have_attribute("data-stored", "true")
        assert (await stored(world))["auto_close_waiting"] == "3bd"
        assert (await stored(world))["auto_close_proposed"] == "7d"
        # A delay of zero is refused on its own control.
        auto = page.get_by_test_id("rules-autoclose")
        await auto.get_by_label("Proposed to close closes after", exact=True).fill("0")
        await auto.get_by_role("button", name="Save").click()
        await expect(auto.locator('[data-field="auto_close_proposed"]')).to_have_attribute("aria-invalid", "true")
        assert (await stored(world))["auto_close_proposed"] == "7d"
        assert len(await audit(world)) == 2
    finally:
        await context.close()


async def test_read_only_staff_see_the_rules_disabled(browser: Browser, world: WidgetWorld) -> None:
    reader = await staff(world, "Rita", Role.READ_ONLY)
    context, page = await open_console(browser, world, reader)
    try:
        await open_rules(page)
        screen = page.get_by_test_id("ticket-rules")
        await expect(screen.get_by_label("Minutes after the breach, step 1")).to_have_value("0")
        await expect(screen.get_by_label("Minutes after the breach, step 1")).to_be_disabled()
        await expect(screen.get_by_label("Waiting on the customer closes after", exact=True)).to_be_disabled()
        for button in await screen.get_by_role("button", name="Save").all():
            await expect(button).to_be_disabled()
        await expect(screen.locator("input:enabled, select:enabled, button:enabled")).to_have_count(0)
    finally:
        await context.close()


async def test_an_admin_gives_a_support_group_its_lead(browser: Browser, world: WidgetWorld) -> None:
    admin = await staff(world, "Ada", Role.SUPPORT_ADMIN)
    otto = await staff(world, "Otto", Role.AGENT)
    context, page = await open_console(browser, world, admin)
    try:
        await page.get_by_role("button", name="Admin", exact=True).click()
        lead = page.get_by_test_id("group-lead-vendor")
        await expect(lead).to_have_value("")
        async with page.expect_response(lambda r: r.url.endswith("/api/desk/groups/vendor")
                                        and r.request.method == "PATCH") as answer:
            await lead.select_option(label="Otto")
        assert (await answer.value).status == 200
        await expect(page.get_by_test_id("group-lead-vendor")).to_have_value(str(otto.id))
        async with world.services.sessions() as db:
            vendor = await db.get(SupportGroup, "vendor")
            rows = list(await db.scalars(select(AuditLog).where(AuditLog.action == "config.group.update")))
        assert vendor is not None and vendor.lead_id == otto.id
        assert len(rows) == 1 and rows[0].after is not None and rows[0].after["lead_id"] == otto.id
    finally:
        await context.close()

"""The Team page's changes in the audit log, in real Chromium (issue 19): a support admin
changes an agent's limit and a canned reply — a refused value first, marked on its field
and stored nowhere — and a read-only user opens the Audit log, picks "Configuration
changes" and reads the two changes as diffs: the changed key, the old value struck, the
new one beside it, the action in words and the target by name."""

from __future__ import annotations

from playwright.async_api import Browser, expect
from sqlalchemy import select

from chat.desk.models import AgentProfile, CannedReply
from chat.models import AuditLog, Role
from tests.browser.console_helpers import api, open_console, staff
from tests.browser.widget_harness import WidgetWorld


async def config_actions(world: WidgetWorld) -> list[str]:
    async with world.services.sessions() as db:
        rows = await db.scalars(select(AuditLog.action).where(AuditLog.action.startswith("config.")).order_by(AuditLog.id))
        return list(rows)


async def test_a_read_only_user_reads_the_team_pages_changes_as_diffs(browser: Browser, world: WidgetWorld) -> None:
    admin = await staff(world, "Ada", Role.SUPPORT_ADMIN)
    alice = await staff(world, "Alice")
    rita = await staff(world, "Rita", Role.READ_ONLY)
    created = await api(world, admin, "POST", "/api/desk/canned-replies", {"title": "Greeting", "body": "Hello"})
    assert created.status_code == 201, created.text
    reply_id = created.json()["canned_reply"]["id"]
    assert await config_actions(world) == ["config.canned.create"]

    context, page = await open_console(browser, world, admin)
    try:
        await page.get_by_role("button", name="Admin", exact=True).click()
        agents = page.get_by_test_id("admin-agents")
        limit = agents.get_by_label("Limit of Alice")
        await expect(limit).to_have_value("5")
        # Over the ceiling: refused, the input marked with the server's reason, nothing stored.
        await limit.fill("1000")
        await limit.press("Tab")
        await expect(limit).to_have_attribute("aria-invalid", "true")
        await expect(agents.get_by_test_id("field-error")).to_contain_text("max_chats must be 0-100")
        async with world.services.sessions() as db:
            assert await db.get(AgentProfile, alice.id) is None
        await limit.fill("3")
        await limit.press("Tab")
        await expect(page.get_by_test_id("admin-agents").get_by_label("Limit of Alice")).to_have_value("3")
        await expect(page.get_by_test_id("admin-agents").get_by_test_id("field-error")).to_have_count(0)

        canned = page.get_by_test_id("admin-canned")
        await canned.locator("tr", has_text="Greeting").get_by_role("button", name="Edit").click()
        text = canned.get_by_label("Text")
        await expect(text).to_have_value("Hello")
        await text.fill("Hello {customer.nmae}")
        await canned.get_by_role("button", name="Save").click()
        await expect(text).to_have_attribute("aria-invalid", "true")
        await expect(canned.get_by_test_id("field-error")).to_contain_text("customer.nmae")
        async with world.services.sessions() as db:
            stored = await db.get(CannedReply, reply_id)
            assert stored is not None and stored.body == "Hello"
        await text.fill("Hello {customer.first_name|there}")
        await canned.get_by_role("button", name="Save").click()
        await expect(page.get_by_test_id("admin-canned").locator("td.pre")).to_have_text(["Hello {customer.first_name|there}"])
    finally:
        await context.close()
    assert await config_actions(world) == ["config.canned.create", "config.agent.update", "config.canned.update"]

    context, page = await open_console(browser, world, rita)
    try:
        # Read-only staff see the Team page with every control disabled.
        await page.get_by_role("button", name="Admin", exact=True).click()
        await expect(page.get_by_test_id("admin-agents").get_by_label("Limit of Alice")).to_be_disabled()

        await page.get_by_test_id("tab-audit").click()
        filters = page.get_by_test_id("audit-filters")
        await filters.get_by_label("Action").select_option(label="Configuration changes")
        await filters.get_by_role("button", name="Filter").click()
        entries = page.get_by_test_id("audit-entry")
        await expect(entries).to_have_count(3)
        update, limit_change, create = entries.nth(0), entries.nth(1), entries.nth(2)

        await expect(limit_change).to_contain_text("Agent's settings changed")
        await expect(limit_change.get_by_test_id("audit-target")).to_have_text(f"agent Alice (#{alice.id})")
        line = limit_change.get_by_test_id("audit-diff-line")
        await expect(line).to_have_count(1)  # only the key that changed
        await expect(line).to_have_attribute("data-key", "max_chats")
        await expect(line.locator("del")).to_have_text("5")
        await expect(line.locator("ins")).to_have_text("3")

        await expect(update).to_contain_text("Canned reply changed")
        await expect(update.get_by_test_id("audit-target")).to_have_text(f"canned reply Greeting (#{reply_id})")
        line = update.get_by_test_id("audit-diff-line")
        await expect(line).to_have_count(1)
        await expect(line.locator("del")).to_have_text("Hello")
        await expect(line.locator("ins")).to_have_text("Hello {customer.first_name|there}")

        await expect(create).to_contain_text("Canned reply created")
        await expect(create.get_by_test_id("audit-diff")).to_contain_text("created")
        await expect(create.locator("del")).to_have_count(0)
    finally:
        await context.close()


async def test_the_rule_form_marks_a_refused_field_and_stores_nothing(browser: Browser, world: WidgetWorld) -> None:
    admin = await staff(world, "Ada", Role.SUPPORT_ADMIN)
    await staff(world, "Alice")
    context, page = await open_console(browser, world, admin)
    try:
        await page.get_by_role("button", name="Admin", exact=True).click()
        rules = page.get_by_test_id("admin-rules")
        await rules.get_by_label("Rule name").fill("Billing")
        category = rules.get_by_label("Category key")
        await category.fill("billing questions")  # a key has no spaces
        await rules.get_by_role("button", name="Add rule").click()
        await expect(category).to_have_attribute("aria-invalid", "true")
        await expect(category).to_be_focused()
        await expect(rules.get_by_test_id("field-error")).to_contain_text("category must be a key")
        assert await config_actions(world) == []

        await category.fill("billing")
        await rules.get_by_role("button", name="Add rule").click()
        await expect(page.get_by_test_id("admin-rules").locator("tr").filter(has_text="Billing")).to_have_count(1)
        assert await config_actions(world) == ["config.rule.create"]
    finally:
        await context.close()

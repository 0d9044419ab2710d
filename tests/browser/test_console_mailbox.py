"""The console's "Sent mail" and "My profile" pages and the portal's notifications in real
Chromium: a support admin opens a kept mail as its recipient sees it and clears a
suppressed address; an agent and a customer each switch a kind of mail off."""

from __future__ import annotations

from playwright.async_api import Browser, expect
from sqlalchemy import select

from chat import directory
from chat.mail.models import MailStatus, MailSuppression
from chat.models import OrgKind, Role, User
from tests.browser.console_helpers import open_console, open_portal, staff
from tests.browser.widget_harness import WidgetWorld
from tests.chat.mail.test_mailbox import add_mail


async def test_an_admin_opens_a_kept_mail_and_clears_a_suppressed_address(browser: Browser, world: WidgetWorld) -> None:
    svc = world.services
    admin = await staff(world, "Ada", Role.SUPPORT_ADMIN)
    await add_mail(svc, 1, to="vera@shop.example")
    failed = await add_mail(svc, 2, to="gone@shop.example", status=MailStatus.FAILED)
    async with svc.sessions.begin() as db:
        db.add(MailSuppression(address="gone@shop.example", reason="550 5.1.1 no such user", mail_id=failed,
                               created_at=svc.clock.now()))

    context, page = await open_console(browser, world, admin)
    try:
        await page.get_by_role("button", name="Sent mail").click()
        await expect(page.get_by_test_id("devbox-banner")).to_contain_text("no SMTP_URL is set")
        rows = page.get_by_test_id("mail-list").locator("tbody tr")
        await expect(rows).to_have_count(2)
        await expect(rows.first).to_contain_text("gone@shop.example")

        await page.get_by_test_id("mail-status-filter").select_option("sent")
        await expect(rows).to_have_count(1)
        await page.get_by_role("link", name="[#1] Hello").click()
        frame = page.frame_locator("[data-testid=mail-html]")
        await expect(frame.locator("b")).to_have_text("1")
        await expect(page.get_by_test_id("mail-html")).to_have_attribute("sandbox", "")
        await page.get_by_role("tab", name="Text").click()
        await expect(page.get_by_test_id("mail-text")).to_have_text("Text 1\n")
        await page.get_by_role("tab", name="Headers").click()
        await expect(page.get_by_test_id("mail-headers")).to_contain_text("vera@shop.example")

        suppressed = page.get_by_test_id("suppressions")
        await expect(suppressed).to_contain_text("550 5.1.1 no such user")
        await suppressed.get_by_role("button", name="Clear").click()
        await expect(suppressed).to_contain_text("No address is suppressed.")
        async with svc.sessions() as db:
            assert list(await db.scalars(select(MailSuppression))) == []
    finally:
        await context.close()


async def test_an_agent_switches_a_mail_off_in_their_profile_and_sees_no_sent_mail(
        browser: Browser, world: WidgetWorld) -> None:
    agent = await staff(world, "Otto", Role.AGENT)
    context, page = await open_console(browser, world, agent)
    try:
        await expect(page.get_by_role("button", name="Sent mail")).to_have_count(0)
        await page.get_by_role("button", name="My profile").click()
        profile = page.get_by_test_id("profile")
        box = profile.get_by_label("SLA warnings")
        await expect(box).to_be_checked()
        await box.uncheck()
        await profile.get_by_label("My time zone").select_option("Europe/Berlin")
        await profile.get_by_role("button", name="Save").click()
        await expect(page.get_by_role("status")).to_have_text("Saved.")
        async with world.services.sessions() as db:
            user = await db.scalar(select(User).where(User.id == agent.id))
            assert user is not None
            assert (user.notification_prefs, user.time_zone) == ({**dict.fromkeys(("ticket_assigned", "group_transfer", "unassigned_ticket", "customer_replied", "sla_breach", "escalation"), True),
                "sla_warning": False}, "Europe/Berlin")
    finally:
        await context.close()


async def test_a_customer_switches_a_mail_off_in_the_portal(browser: Browser, world: WidgetWorld) -> None:
    org = (await directory.create_organization(world.services, None, name="Shop Co", kind=OrgKind.CUSTOMER)).organization
    customer = await staff(world, "Cora", Role.CUSTOMER, organization=org.id)
    context, page = await open_portal(browser, world, customer.email, "profile")
    try:
        profile = page.locator("#profile")
        box = profile.get_by_label("Support replied while I am not in the chat")
        await expect(box).to_be_checked()
        await box.uncheck()
        await profile.get_by_role("button", name="Save").click()
        await expect(page.locator("#profile-notice")).to_have_text("Saved.")
        async with world.services.sessions() as db:
            user = await db.get(User, customer.id)
            assert user is not None
            assert user.notification_prefs == {**dict.fromkeys(
                ("ticket_opened", "close_proposed", "ticket_closed", "ticket_reopened", "system_alert", "join_decided",
                 "offline_received"), True), "support_reply": False}
    finally:
        await context.close()

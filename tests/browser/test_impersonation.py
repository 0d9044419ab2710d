"""Impersonation in real Chromium (issue 20, item 2): a support admin opens a customer's
chat in the console, signs in as that customer with a reason, the portal shows the banner
(who, by whom, why, until when), "End now" brings the admin back to their own console,
and the audit log page lists the start and the end."""

from __future__ import annotations

from playwright.async_api import Browser, expect
from sqlalchemy import select

from chat import directory
from chat.auth import principal_of
from chat.conversations import start_conversation
from chat.models import AuditLog, OrgKind, Role
from tests.browser.console_helpers import console_live
from tests.chat.http.test_account import PASSWORD
from tests.support.live import LiveServer

REASON = "Ticket 42: invoices page fails"


async def test_admin_signs_in_as_a_customer_from_the_console_and_back(browser: Browser, web: LiveServer) -> None:
    svc = web.services
    acme = (await directory.create_organization(svc, None, name="Acme", kind=OrgKind.CUSTOMER)).organization
    await directory.create_user(svc, None, email="sam@desk.example", role=Role.SUPPORT_ADMIN, password=PASSWORD,
                                name="Sam Admin")
    anna = await directory.create_user(svc, None, email="anna@acme.example", role=Role.CUSTOMER, password=PASSWORD,
                                       name="Anna Customer", organization=acme.id)
    await start_conversation(svc, principal_of(anna), subject="Invoices", body="The invoice page fails")

    context = await browser.new_context()
    try:
        page = await context.new_page()
        await page.goto(web.base_url + "/console/")
        await page.get_by_placeholder("E-mail").fill("sam@desk.example")
        await page.get_by_placeholder("Password").fill(PASSWORD)
        await page.get_by_role("button", name="Sign in").click()
        await console_live(page)
        await page.get_by_text("Invoices").first.click()
        await page.get_by_test_id("impersonate").click()
        dialog = page.get_by_test_id("impersonate-dialog")
        await dialog.get_by_label("Reason").fill(REASON)
        await dialog.get_by_role("button", name="Sign in as this user").click()

        await page.wait_for_url("**/portal/")
        banner = page.get_by_test_id("impersonation-banner")
        await expect(banner).to_contain_text("You are signed in as Anna Customer")
        await expect(banner).to_contain_text(f"by Sam Admin ({REASON})")
        await expect(banner).to_contain_text("ends at")
        await expect(page.locator("#who-name")).to_have_text("Anna Customer")

        # A reload keeps the session and its banner: it is on every page of it.
        await page.reload()
        await expect(page.get_by_test_id("impersonation-banner")).to_contain_text("Anna Customer")

        # The customer's own page lists the session, still going.
        await expect(page.get_by_test_id("access-log-entry")).to_contain_text(f"Sam Admin — {REASON}")
        await expect(page.get_by_test_id("access-log-entry")).to_contain_text("now (ends by")

        await page.get_by_test_id("impersonation-end").click()
        await page.wait_for_url("**/console/")
        await expect(page.get_by_test_id("me")).to_contain_text("Sam Admin")
        await expect(page.get_by_test_id("impersonation-banner")).to_have_count(0)

        async with svc.sessions() as db:
            actions = list(await db.scalars(select(AuditLog.action).order_by(AuditLog.id)))
        assert actions == ["impersonation.start", "impersonation.end"]

        await page.get_by_test_id("tab-audit").click()
        entries = page.get_by_test_id("audit-entry")
        await expect(entries).to_have_count(2)
        await expect(entries.first).to_contain_text("Impersonation ended")
        await expect(entries.nth(1)).to_contain_text(REASON)
    finally:
        await context.close()

"""The console's "Invite a person" (issue 15, item 6) in real Chromium: a support admin
invites a customer user of a company, sees the confirmation and resends the invitation;
the API's refusal is shown as it says it; an agent is not offered the form."""

from __future__ import annotations

from playwright.async_api import Browser, expect
from sqlalchemy import select

from chat import directory
from chat.mail.models import OutboxMail
from chat.models import OrgKind, Role, User
from tests.browser.console_helpers import open_console, staff
from tests.browser.widget_harness import WidgetWorld


async def outbox(world: WidgetWorld) -> list[tuple[str, str, int | None]]:
    async with world.services.sessions() as db:
        rows = await db.scalars(select(OutboxMail).order_by(OutboxMail.id))
        return [(row.kind, row.to_addr, row.to_user_id) for row in rows]


async def test_an_admin_invites_a_customer_user_and_resends(browser: Browser, world: WidgetWorld) -> None:
    svc = world.services
    company = (await directory.create_organization(svc, None, name="Shop Ltd", kind=OrgKind.CUSTOMER, slug="shop")).organization
    await directory.create_organization(svc, None, name="Partner Inc", kind=OrgKind.RESELLER, slug="partner")
    admin = await staff(world, "Ada", Role.SUPPORT_ADMIN)
    context, page = await open_console(browser, world, admin)
    try:
        await page.get_by_role("button", name="Admin", exact=True).click()
        section = page.get_by_test_id("admin-invite")
        await expect(section.get_by_role("heading", name="Invite a person")).to_be_visible()
        organization = section.get_by_label("Organization")
        await expect(organization).to_be_disabled()
        await section.get_by_label("Role").select_option("customer")
        # A customer user belongs to a customer company (the world's Acme, ours): the
        # reseller is not offered.
        await expect(organization.locator("option")).to_have_text(["(no organization)", "Acme", "Shop Ltd"])
        await organization.select_option(label="Shop Ltd")
        await section.get_by_label("E-mail").fill("Vera@Shop.Example")
        await section.get_by_label("Name").fill("Vera")
        await section.get_by_label("Language").select_option("de")
        await section.get_by_role("button", name="Send invitation", exact=True).click()
        result = section.get_by_test_id("invite-result")
        await expect(result).to_have_text("Invitation sent to vera@shop.example.")
        invited = section.get_by_test_id("invited-people")
        await expect(invited.locator("tr")).to_have_count(2)
        await expect(invited.locator("tr").nth(1)).to_contain_text("vera@shop.example")

        async with svc.sessions() as db:
            vera = await db.scalar(select(User).where(User.email == "vera@shop.example"))
        assert vera is not None
        assert (vera.role, vera.organization_id, vera.language, vera.name, vera.password_hash) == (
            Role.CUSTOMER, company.id, "de", "Vera", None)
        assert await outbox(world) == [("invitation", "vera@shop.example", vera.id)]

        await invited.get_by_role("button", name="Resend invitation to vera@shop.example").click()
        await expect(page.locator(".toast").filter(has_text="Invitation sent again to vera@shop.example.")).to_be_visible()
        assert await outbox(world) == [("invitation", "vera@shop.example", vera.id)] * 2

        # The browser lets "x@shop" through (no dot is needed in HTML); the server does not.
        await section.get_by_label("Role").select_option("agent")
        await section.get_by_label("E-mail").fill("x@shop")
        await section.get_by_role("button", name="Send invitation", exact=True).click()
        await expect(result).to_have_text("email: 'x@shop' is not an e-mail address")
        await section.get_by_label("E-mail").fill("vera@shop.example")
        await section.get_by_role("button", name="Send invitation", exact=True).click()
        await expect(result).to_have_text("a user with e-mail vera@shop.example already exists")
        assert len(await outbox(world)) == 2
    finally:
        await context.close()


async def test_an_agent_is_not_offered_the_invite_form(browser: Browser, world: WidgetWorld) -> None:
    agent = await staff(world, "Otto", Role.AGENT)
    context, page = await open_console(browser, world, agent)
    try:
        await page.get_by_role("button", name="Admin", exact=True).click()
        await expect(page.get_by_test_id("admin-agents")).to_be_visible()
        await expect(page.get_by_test_id("admin-invite")).to_have_count(0)
    finally:
        await context.close()

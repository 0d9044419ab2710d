"""The console's spam handling in real Chromium: an agent marks a ticket as spam from the
conversation view (blocking the sender), finds it on the Spam page instead of the queues,
and takes it back with "Not spam"; the received-mail log opens a mail's original."""

from __future__ import annotations

from playwright.async_api import Browser, expect
from sqlalchemy import select

from chat import directory
from chat.auth import principal_of
from chat.mail.models import InboundStatus, MailBlock
from chat.models import OrgKind, Role
from escalation.intake import TicketDraft, open_ticket
from escalation.models import Ticket
from tests.browser.console_helpers import open_console, staff
from tests.browser.widget_harness import WidgetWorld
from tests.chat.mail.inbound.test_desk import add_inbound, original


async def test_an_agent_marks_a_ticket_spam_finds_it_on_the_spam_page_and_takes_it_back(
        browser: Browser, world: WidgetWorld) -> None:
    svc = world.services
    org = (await directory.create_organization(svc, None, name="Acme", kind=OrgKind.CUSTOMER)).organization
    customer = principal_of(await directory.create_user(svc, None, email="bot@acme.example", role=Role.CUSTOMER,
                                                        organization=org.id, name="Bot"))
    ticket_id = int((await open_ticket(svc, customer, TicketDraft(subject="Cheap watches", description="Buy")))["id"])
    mail_id = await add_inbound(svc, 1, status=InboundStatus.SPAM, sender="x@spam.example",
                                raw=original("Win a prize", "Click the link\n"))
    agent = await staff(world, "Otto", Role.AGENT)

    context, page = await open_console(browser, world, agent)
    try:
        item = page.get_by_test_id("item").filter(has_text="Cheap watches")
        await item.click()
        await page.locator("[data-action=spam]").click()
        dialog = page.locator("dialog")
        await dialog.get_by_label("Also block").select_option("sender")
        await dialog.get_by_role("button", name="Mark as spam").click()
        await expect(page.get_by_test_id("spam-badge")).to_have_text("Spam")
        await expect(page.get_by_test_id("item").filter(has_text="Cheap watches")).to_have_count(0)
        async with svc.reads() as db:
            assert [b.pattern for b in await db.scalars(select(MailBlock))] == ["bot@acme.example"]

        await page.get_by_role("button", name="Spam", exact=True).click()
        spam = page.get_by_test_id("spam-list")
        await expect(spam.locator(f"tr[data-ticket-id='{ticket_id}']")).to_contain_text("Cheap watches")
        await expect(spam.locator(f"tr[data-mail-id='{mail_id}']")).to_contain_text("x@spam.example")
        await expect(page.get_by_test_id("blocklist")).to_contain_text("bot@acme.example")
        # An agent reads the block list; support admins edit it.
        await expect(page.get_by_test_id("blocklist").get_by_role("button", name="Block")).to_be_disabled()

        log = page.get_by_test_id("received-list")
        await log.get_by_role("link", name="Mail 1").click()
        await expect(page.get_by_test_id("received-text")).to_have_text("Click the link\n")
        await page.get_by_test_id("received-opened").get_by_role("tab", name="Headers").click()
        await expect(page.get_by_test_id("received-headers")).to_contain_text("SubjectWin a prize")

        await spam.locator(f"tr[data-ticket-id='{ticket_id}']").get_by_role("button", name="Not spam").click()
        await expect(page.get_by_role("status").filter(has_text="back in its queue")).to_have_text(
            f"#{ticket_id} is back in its queue.")
        await expect(spam.locator(f"tr[data-ticket-id='{ticket_id}']")).to_have_count(0)
        await expect(page.get_by_test_id("blocklist")).to_contain_text("Nobody is blocked.")
        async with svc.reads() as db:
            row = await db.get(Ticket, ticket_id)
            assert row is not None and row.spam_at is None

        await page.get_by_role("button", name="Inbox").click()
        await expect(page.get_by_test_id("item").filter(has_text="Cheap watches")).to_have_count(1)
    finally:
        await context.close()

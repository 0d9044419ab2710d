"""The widget's ends of a conversation in real Chromium: "leave a message" when no agent
is online, the rating when support proposes to close, a conversation closed elsewhere
(never silently reopened), and a new conversation that follows up a closed one."""

from __future__ import annotations

import pytest
from playwright.async_api import Browser, expect

from chat.models import Role
from tests.browser.widget_harness import MESSAGES, WidgetWorld, new_page, open_widget, start_chat

pytestmark = pytest.mark.asyncio(loop_scope="module")


async def test_with_no_agent_online_the_visitor_leaves_a_message_that_becomes_a_ticket(
    browser: Browser, world: WidgetWorld
) -> None:
    admin = await world.staff("ada@x.example", "Ada Admin", Role.SUPPORT_ADMIN)  # signed in, not connected
    await world.prechat_fields(severity="optional")
    context = await browser.new_context()
    page = await new_page(context)
    await page.goto(world.page_url())
    frame = await open_widget(page)
    await expect(frame.locator(".presence")).to_have_text("No agents online right now")
    await expect(frame.locator(".intro")).to_have_text(
        "No agents are online right now. Leave a message and we will reply by e-mail.")
    await frame.locator("#f-description").fill("The gate controller is offline")
    await frame.get_by_role("button", name="Send").click()
    await expect(frame.locator(".intake .error")).to_have_text("Please fill in: E-mail")
    await frame.locator("#f-email").fill("not an address")
    await frame.get_by_role("button", name="Send").click()
    await expect(frame.locator(".intake .error")).to_have_text("Please enter a valid e-mail address.")

    await frame.locator("#f-email").fill("vera@example.com")
    await frame.locator("#f-name").fill("Vera Visitor")
    categories = await frame.locator("#f-category option").all_inner_texts()
    assert len(categories) > 1  # "Choose…" and what customers may pick
    await frame.locator("#f-category").select_option(index=1)
    await frame.locator("#f-severity").select_option("1")
    await frame.get_by_role("button", name="Send").click()

    note = frame.locator(".note")
    await expect(note).to_contain_text("Thank you! Your request is ticket #")
    ticket_id = int((await note.inner_text()).split("#")[1].split(".")[0])
    await expect(frame.locator(".ticket")).to_have_text(f"Ticket #{ticket_id}")
    ticket = (await world.api(admin, "GET", f"/api/tickets/{ticket_id}"))["ticket"]
    assert ticket["channel"] == "widget_offline"
    assert ticket["subject"] == "The gate controller is offline"
    assert ticket["severity"] == 1 and ticket["category"] is not None
    # The visitor can go on writing into the ticket's conversation.
    box = frame.locator(".composer textarea")
    await box.fill("One more detail: it blinks red")
    await box.press("Enter")
    await expect(frame.locator(MESSAGES).last).to_have_text("One more detail: it blinks red")
    await context.close()


async def test_rating_when_support_proposes_to_close_then_a_linked_new_conversation(
    browser: Browser, world: WidgetWorld
) -> None:
    agent_token = await world.staff("alex@x.example", "Alex Agent")
    async with world.client(agent_token) as agent:
        context = await browser.new_context()
        page = await new_page(context)
        await page.goto(world.page_url())
        frame = await open_widget(page)
        await start_chat(frame, "The report is empty")
        first = int((await world.newest_conversation(agent_token))["id"])
        await agent.join(first)
        await agent.send(first, "Fixed: the filter was wrong")
        await expect(frame.locator(".msg.theirs .bubble p")).to_have_text(["Fixed: the filter was wrong"])

        await world.api(agent_token, "POST", f"/api/tickets/{first}/status", {"action": "propose_close"})
        prompt = frame.locator(".prompt")
        await expect(prompt).to_contain_text("We think your question is answered.")
        await prompt.get_by_role("button", name="Rate and close").click()
        sheet = frame.locator(".sheet")
        await sheet.get_by_role("button", name="Bad").click()
        await expect(sheet.locator("#rate-reason option")).to_have_text(
            ["Choose…", "The problem is not solved", "It took too long", "The answer was unclear", "Something else"])
        await sheet.locator("#rate-reason").select_option("slow")
        await sheet.locator("#rate-comment").fill("Two days for a filter")
        await sheet.get_by_role("button", name="Send and close").click()

        closed = frame.locator(".closed")
        await expect(closed).to_contain_text("This conversation is closed.")
        await expect(closed.locator(".thanks")).to_have_text("Thank you for your feedback!")
        await expect(frame.locator(".composer")).to_be_hidden()
        await expect(frame.locator(".prompt")).to_be_hidden()
        ticket = (await world.api(agent_token, "GET", f"/api/tickets/{first}"))["ticket"]
        assert ticket["status"] == "closed"
        assert [(r["value"], r["reason"], r["comment"]) for r in ticket["ratings"]] == [
            ("bad", "slow", "Two days for a filter")]

        # A reload still shows the ended conversation until the visitor moves on.
        await page.reload()
        frame = await open_widget(page)
        await expect(frame.locator(".closed")).to_contain_text("This conversation is closed.")
        await frame.get_by_role("button", name="Start a new conversation").click()
        await start_chat(frame, "Another report is empty too")
        second = int((await world.newest_conversation(agent_token))["id"])
        assert second != first
        await expect(frame.locator(".ticket")).to_have_text(f"Ticket #{second}")
        followed = (await world.api(agent_token, "GET", f"/api/tickets/{second}"))["ticket"]
        assert followed["linked_from"] == first
        await context.close()


async def test_a_conversation_closed_elsewhere_is_not_silently_reopened(
    browser: Browser, world: WidgetWorld
) -> None:
    agent_token = await world.staff("alex@x.example", "Alex Agent")
    async with world.client(agent_token):
        context = await browser.new_context()
        page = await new_page(context)
        await page.goto(world.page_url())
        frame = await open_widget(page)
        await start_chat(frame, "Please call me back")
        conv_id = int((await world.newest_conversation(agent_token))["id"])

        # The visitor writes while offline; meanwhile support closes the ticket.
        await context.set_offline(True)
        await world.api(agent_token, "POST", f"/api/tickets/{conv_id}/status", {"action": "close"})
        box = frame.locator(".composer textarea")
        await box.fill("Are you there?")
        await box.press("Enter")
        await expect(frame.locator(".pending .msg .status")).to_have_text(["Sending…"])
        await context.set_offline(False)

        # Back online: the close arrives, the queued message is refused, nothing reopens.
        await expect(frame.locator(".closed")).to_contain_text("This conversation is closed.")
        await expect(frame.locator(".composer")).to_be_hidden()
        await expect(frame.locator(".pending .msg.failed .status")).to_have_text(["Not sent"])
        conversation = (await world.api(agent_token, "GET", f"/api/conversations/{conv_id}"))["conversation"]
        assert conversation["status"] == "closed"
        events = (await world.api(agent_token, "GET", f"/api/conversations/{conv_id}/events"))["events"]
        assert "Are you there?" not in [e["body"] for e in events]

        # Rating a conversation closed by support.
        await frame.get_by_role("button", name="Rate this conversation").click()
        sheet = frame.locator(".sheet")
        await expect(sheet.get_by_role("button", name="Send rating")).to_be_disabled()
        await sheet.get_by_role("button", name="Good").click()
        await sheet.locator("#rate-reason").select_option("fast")
        await sheet.get_by_role("button", name="Send rating").click()
        await expect(frame.locator(".closed .thanks")).to_have_text("Thank you for your feedback!")
        ticket = (await world.api(agent_token, "GET", f"/api/tickets/{conv_id}"))["ticket"]
        assert [(r["value"], r["reason"]) for r in ticket["ratings"]] == [("good", "fast")]
        await context.close()

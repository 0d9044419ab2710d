"""A rating link from a close mail, followed in real Chromium: the page shows the link's
choice preselected, the person writes a comment and submits, the vote is stored (read
back through the tickets API), and the same link opened again says it was used.

:func:`rate_by_link` takes the link as it appears in a mail, so an end-to-end test can
hand it a link read from a message a real SMTP server received."""

from __future__ import annotations

from dataclasses import dataclass

import httpx
from playwright.async_api import Browser, Page, expect

from chat.mail import links
from chat.models import User
from chat.tokens import Purpose
from escalation import tickets
from tests.escalation.people import signed_in
from tests.escalation.world import chat, make_desk, say
from tests.support.live import LiveServer

TIMEOUT_MS = 10_000
LABELS = {"good": "Good", "none": "No rating", "bad": "Bad"}


@dataclass(frozen=True)
class Rated:
    preselected: str
    """The choice that was checked when the page opened."""
    confirmation: str
    """The "thank you" page's message."""


async def rate_by_link(page: Page, link: str, *, choice: str | None = None, reason: str = "", comment: str = "") -> Rated:
    """Open a rating ``link`` (absolute, as in the mail), optionally pick another
    ``choice``, fill the reason and comment, submit, and wait for the "thank you" page."""
    await page.goto(link)
    checked = page.locator('input[name="c"]:checked')
    await expect(checked).to_have_count(1)
    preselected = await checked.get_attribute("value")
    assert preselected is not None
    if choice is not None:
        # The radio itself is drawn by its label's coloured box: click what a person clicks.
        await page.locator(f"label.choice.{choice}").click()
        await expect(page.locator(f'input[name="c"][value="{choice}"]')).to_be_checked()
    if reason:
        await page.get_by_label("Reason (optional)").fill(reason)
    if comment:
        await page.get_by_label("Comment (optional)").fill(comment)
    await page.get_by_role("button", name="Send my rating").click()
    done = page.locator("#done")
    await expect(done).to_be_visible()
    return Rated(preselected=preselected, confirmation=(await done.inner_text()).strip())


async def test_a_rating_link_opens_the_form_and_counts_once(browser: Browser, web: LiveServer) -> None:
    svc = web.services
    desk = await make_desk(svc)
    conv = await chat(desk, subject="Printer on fire")
    await say(desk, desk.agent, conv, "Try turning it off and on.")
    await tickets.change_status(svc, desk.agent, conv, "propose_close")
    link = links.link(svc.tokens, svc.settings.public_url, Purpose.MAIL_RATING,
                      {"t": conv, "r": 1, "u": desk.customer.user_id, "c": "bad"}, single_use=True)

    context = await browser.new_context()
    context.set_default_timeout(TIMEOUT_MS)
    try:
        page = await context.new_page()
        console: list[str] = []
        page.on("console", lambda message: console.append(message.text))
        rated = await rate_by_link(page, link, reason="slow", comment="It works now, but it took a week.")
        assert rated.preselected == "bad"
        assert rated.confirmation == f"Your rating of ticket #{conv} was recorded: Bad."

        # Stored through the widget's rule: the ticket shows it to its requester.
        async with svc.reads() as db:
            customer = await db.get(User, desk.customer.user_id)
        assert customer is not None
        headers = {"Authorization": f"Bearer {await signed_in(svc, customer)}"}
        async with httpx.AsyncClient(base_url=web.base_url, timeout=10) as http:
            got = await http.get(f"/api/tickets/{conv}", headers=headers)
        assert got.status_code == 200, got.text
        assert [(r["value"], r["reason"], r["comment"], r["round"]) for r in got.json()["ticket"]["ratings"]] == [
            ("bad", "slow", "It works now, but it took a week.", 1)]

        # The same link again (a second click in the mail): used, nothing more stored.
        await page.goto(link)
        refused = page.locator("#refused")
        await expect(refused).to_have_attribute("data-code", "token_used")
        await expect(refused).to_have_text("This link has already been used: your rating was recorded.")

        # The page's one stylesheet applies under a CSP that allows it by hash alone.
        assert await page.evaluate("getComputedStyle(document.body).backgroundColor") == "rgb(244, 246, 248)"
        assert [text for text in console if "Content Security Policy" in text] == []
    finally:
        await context.close()

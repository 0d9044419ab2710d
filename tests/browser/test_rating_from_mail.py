"""A rating link read from a close mail that a real SMTP server received, followed in
real Chromium (issue 15, "Real components in tests").

The product sends through its SMTP adapter (STARTTLS and AUTH) to aiosmtpd; the test
parses the received mail with the stdlib ``email`` package, takes the "Good" link from
its text part, opens it, submits the form, reads the vote back through the tickets API,
and opens the same link again to find it used.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from playwright.async_api import Browser, expect

from chat.clock import SystemClock
from chat.mail.smtp import SmtpTransport
from chat.models import User
from escalation import tickets
from tests.browser.test_rating_mail import TIMEOUT_MS, rate_by_link
from tests.conftest import make_settings
from tests.escalation.people import signed_in
from tests.escalation.world import chat, make_desk, say
from tests.support.live import LiveServer, live_server
from tests.support.mailbox import link_after, smtp_env, text_of, to_us
from tests.support.smtp_server import SmtpServer


@pytest.fixture
async def mailing_web(sqlite_url: str, tmp_path: Path, web_port: int, smtp: SmtpServer) -> AsyncIterator[LiveServer]:
    """The product on the wall clock (the browser's), mailing through ``smtp``; its links
    point at its own origin. The test runs the sweeper's passes itself."""
    settings = make_settings(sqlite_url, tmp_path / "var", TICKET_WHEN_NO_AGENT_ONLINE="false",
                             **smtp_env(smtp, tmp_path, public_url=f"http://127.0.0.1:{web_port}"))
    async with live_server(settings, SystemClock(), port=web_port, collect_garbage=True) as live:
        assert isinstance(live.services.mail, SmtpTransport)
        yield live


async def test_the_good_link_of_a_received_close_mail_rates_once(browser: Browser, mailing_web: LiveServer,
                                                                  smtp: SmtpServer) -> None:
    svc = mailing_web.services
    desk = await make_desk(svc)
    conv = await chat(desk, subject="Printer on fire")
    await tickets.escalate_conversation(svc, desk.agent, conv)
    await say(desk, desk.agent, conv, "Try turning it off and on.")
    await tickets.change_status(svc, desk.agent, conv, "close")
    done = await desk.sweeper.run_once()
    assert done["mail.send"] >= 1, done

    closed = [m for m in to_us(smtp.received, "cat@acme.example") if "Good: " in text_of(m)]
    assert len(closed) == 1
    assert str(closed[0]["Subject"]) == f"[#{conv}] Printer on fire"
    text = text_of(closed[0])
    good = link_after(text, "Good")
    assert good.startswith(f"{svc.settings.public_url}/mail/rate?t=")
    assert len({good, link_after(text, "No rating"), link_after(text, "Bad")}) == 3

    context = await browser.new_context()
    context.set_default_timeout(TIMEOUT_MS)
    try:
        page = await context.new_page()
        rated = await rate_by_link(page, good, comment="Back on paper, not on fire.")
        assert rated.preselected == "good"
        assert rated.confirmation == f"Your rating of ticket #{conv} was recorded: Good."

        async with svc.reads() as db:
            customer = await db.get(User, desk.customer.user_id)
        assert customer is not None
        headers = {"Authorization": f"Bearer {await signed_in(svc, customer)}"}
        async with httpx.AsyncClient(base_url=mailing_web.base_url, timeout=10) as http:
            got = await http.get(f"/api/tickets/{conv}", headers=headers)
        assert got.status_code == 200, got.text
        assert [(r["value"], r["comment"], r["round"]) for r in got.json()["ticket"]["ratings"]] == [
            ("good", "Back on paper, not on fire.", 1)]

        # The same link again, as a second click in the mail would: used, nothing more stored.
        await page.goto(good)
        refused = page.locator("#refused")
        await expect(refused).to_have_attribute("data-code", "token_used")
        async with httpx.AsyncClient(base_url=mailing_web.base_url, timeout=10) as http:
            again = await http.get(f"/api/tickets/{conv}", headers=headers)
        assert len(again.json()["ticket"]["ratings"]) == 1
    finally:
        await context.close()

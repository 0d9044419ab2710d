"""The widget's security in real Chromium: what people type renders as text and never runs,
and a page on an origin the site does not allow cannot frame the chat."""

from __future__ import annotations

import asyncio
from urllib.parse import urlencode

import pytest
from playwright.async_api import Browser, ConsoleMessage, Dialog, Frame, Page, expect

from chat.client import ChatClient
from chat.models import Site
from tests.browser.widget_harness import MESSAGES, WidgetWorld, new_page, open_widget
from tests.support.chatlog import eventually

# Each would run script if it ever reached the DOM as HTML.
VISITOR_NAME = '<svg onload="top.xss=1">'
AGENT_NAME = '<img src=x onerror="top.xss=2">'
SITE_NAME = "</title><script>top.xss=3</script>"
PAYLOADS = [
    "<script>top.xss=4</script>",
    '<img src=x onerror="top.xss=5">',
    '"><iframe srcdoc="<script>parent.xss=6</script>"></iframe>',
    "javascript:top.xss=7",
    'https://ok.example/"><img src=x onerror="top.xss=8">',
]

pytestmark = pytest.mark.asyncio(loop_scope="module")


def _assert_received(agent: ChatClient, conv_id: int, text: str) -> None:
    assert text in [e.get("body") for e in agent.log[conv_id]]


def widget_frame(page: Page) -> Frame:
    return next(f for f in page.frames if "/widget/frame" in f.url)


async def test_xss_payloads_in_messages_and_names_render_inert(browser: Browser, world: WidgetWorld) -> None:
    async with world.services.sessions.begin() as db:
        site = await db.get(Site, world.site_id)
        assert site is not None
        site.name = SITE_NAME
    agent_token = await world.staff("alex@x.example", AGENT_NAME)
    dialogs: list[str] = []
    async with world.client(agent_token) as agent:
        context = await browser.new_context()
        page = await new_page(context)

        async def dismiss(dialog: Dialog) -> None:
            dialogs.append(dialog.message)
            await dialog.dismiss()

        page.on("dialog", dismiss)
        await page.goto(world.page_url())
        frame = await open_widget(page)
        await frame.locator("#f-name").fill(VISITOR_NAME)
        await frame.locator("#f-description").fill(PAYLOADS[0])
        await frame.get_by_role("button", name="Start the chat").click()
        await expect(frame.locator(MESSAGES).first).to_have_text(PAYLOADS[0])
        conv_id = int((await world.newest_conversation(agent_token))["id"])
        await agent.join(conv_id)
        for text in PAYLOADS[1:]:
            box = frame.locator(".composer textarea")
            await box.fill(text)
            await box.press("Enter")
            # The agent answers once the visitor's line is stored: two sends racing would
            # make the expected order a coin toss.
            await eventually(lambda text=text: _assert_received(agent, conv_id, text), timeout=15,
                             what=f"the visitor's {text!r} reached the agent")
            await agent.send(conv_id, text)
        await expect(frame.locator(MESSAGES)).to_have_text([PAYLOADS[0], *[p for p in PAYLOADS[1:] for _ in (0, 1)]])
        await expect(frame.locator(".msg .who").first).to_have_text(AGENT_NAME)
        await expect(frame.locator(".head .name")).to_have_text(AGENT_NAME)
        await expect(frame.locator(".sys").nth(1)).to_have_text(f"{AGENT_NAME} joined the conversation")
        log = await agent.wait_for_seq(conv_id, 2)
        assert log[1]["author"]["name"] == VISITOR_NAME  # stored as typed, shown as text

        inside = widget_frame(page)
        assert await inside.evaluate("document.title") == f"Support · {SITE_NAME}"
        found = await inside.evaluate("""() => ({
            handlers: document.querySelectorAll("[onload], [onerror], [srcdoc], iframe").length,
            scripts: [...document.scripts].map((s) => s.type),
            links: [...document.querySelectorAll("a")].map((a) => a.href),
        })""")
        assert found["handlers"] == 0 and found["scripts"] == ["module"]
        # Only the http(s) address became a link, cut at the quote; javascript: stayed text.
        assert found["links"] == ["https://ok.example/", "https://ok.example/"]
        await asyncio.sleep(0.3)  # give anything that could run a moment to do so
        assert await page.evaluate("window.xss") is None
        assert await inside.evaluate("window.xss") is None
        assert dialogs == []
        await context.close()


async def test_a_page_on_an_origin_the_site_does_not_allow_cannot_frame_the_widget(
    browser: Browser, world: WidgetWorld
) -> None:
    context = await browser.new_context()
    refusals: list[str] = []
    statuses: list[int] = []

    def console(message: ConsoleMessage) -> None:
        if "frame-ancestors" in message.text:
            refusals.append(message.text)

    def refused() -> None:
        assert refusals, "no frame-ancestors refusal on the console yet"

    # The honest case: the loader on a foreign page names that page's origin; the server
    # refuses the frame outright (403 with frame-ancestors 'none').
    page = await new_page(context)
    page.on("console", console)
    page.on("response", lambda r: statuses.append(r.status) if "/widget/frame" in r.url else None)
    await page.goto(world.page_url(world.foreign))
    await page.locator("#supportchat button").click()
    await eventually(refused, timeout=5, what="Chromium refuses the frame")
    assert statuses == [403]
    assert await page.frame_locator("#supportchat iframe").locator(".head").count() == 0

    # A lying page: it frames the widget claiming to be the allowed shop. The server
    # serves the app, and the browser refuses to show it there (frame-ancestors).
    refusals.clear()
    statuses.clear()
    liar = await new_page(context)
    liar.on("console", console)
    liar.on("response", lambda r: statuses.append(r.status) if "/widget/frame" in r.url else None)
    src = world.base_url + "/widget/frame?" + urlencode({"site": world.site_key, "host": world.shop})
    await liar.goto(world.foreign + "/iframe?" + urlencode({"src": src}))
    await eventually(refused, timeout=5, what="Chromium refuses the frame")
    assert statuses == [200]
    assert world.shop in refusals[0]
    assert await liar.frame_locator("#raw").locator(".head").count() == 0

    # The same page on the allowed origin: the chat comes up.
    shop = await new_page(context)
    await shop.goto(world.page_url())
    frame = await open_widget(shop)
    await expect(frame.locator(".intro")).to_be_visible()
    await context.close()

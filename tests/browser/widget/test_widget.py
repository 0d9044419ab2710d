"""The chat widget in real Chromium, embedded in a customer's page on another origin,
against the real server; agents answer through the protocol client."""

from __future__ import annotations

import asyncio
import re
from collections import Counter
from datetime import datetime
from pathlib import Path

import pytest
from playwright.async_api import Browser, FrameLocator, Page, expect
from sqlalchemy import select

from chat.auth import identity_hash
from chat.client import ChatClient, Frame
from chat.clock import SystemClock
from chat.demo import seed_demo
from chat.models import Role, Site, User
from tests.browser.widget_harness import MESSAGES, TIMEOUT_MS, WidgetWorld, new_page, open_widget, start_chat
from tests.conftest import make_settings
from tests.support.live import live_server
from tests.support.processes import free_port

pytestmark = pytest.mark.asyncio(loop_scope="module")


async def say(frame: FrameLocator, text: str) -> None:
    box = frame.locator(".composer textarea")
    await box.fill(text)
    await box.press("Enter")


async def stored_bodies(world: WidgetWorld, token: str, conversation_id: int) -> list[str]:
    events = (await world.api(token, "GET", f"/api/conversations/{conversation_id}/events?limit=500"))["events"]
    return [e["body"] for e in events if e["kind"] == "message"]


async def agent_sees(agent: ChatClient, conversation_id: int, body: str) -> Frame:
    """The message with this body in the agent's log, once it has arrived."""
    async def find() -> Frame:
        while True:
            for event in agent.log[conversation_id]:
                if event["kind"] == "message" and event["body"] == body:
                    return event
            await agent.wait_for_seq(conversation_id, agent.last_seq.get(conversation_id, 0) + 1, timeout=30)

    return await asyncio.wait_for(find(), TIMEOUT_MS / 1000)


def drop_sockets(world: WidgetWorld, user_id: int) -> int:
    """The server drops every socket of the user (as a restart or a proxy would)."""
    conns = list(world.hub.by_user.get(user_id, ()))
    for conn in conns:
        conn.close_soon(1011, "dropped by the test")
    return len(conns)


async def test_visitor_chats_with_an_agent_and_a_reload_keeps_the_conversation(
    browser: Browser, world: WidgetWorld
) -> None:
    agent_token = await world.staff("alex@x.example", "Alex Agent")
    async with world.client(agent_token) as agent:
        context = await browser.new_context()
        page = await new_page(context)
        await page.goto(world.page_url())
        await expect(page.locator("#supportchat button")).to_be_visible()
        assert await page.locator("#supportchat iframe").count() == 0  # nothing loaded before the click

        # Every pre-chat field a desk may ask for (the default form is shorter).
        await world.prechat_fields(severity="optional", affected_object="optional", happened_at="optional")
        frame = await open_widget(page)
        await expect(frame.locator(".presence")).to_have_text("Agents are online")
        await frame.locator("#f-name").fill("Vera Visitor")
        await frame.locator("#f-email").fill("vera@example.com")
        await frame.locator("#f-category").select_option("technical_question")
        await frame.locator("#f-severity").select_option("2")
        await frame.locator(".pair select").select_option("device")
        await frame.locator("#f-affected_object").fill("Printer 7")
        await frame.locator("#f-happened_at").fill("2026-03-01T10:30")
        await start_chat(frame, "My printer is on fire")

        conv = await world.newest_conversation(agent_token)
        conv_id = int(conv["id"])
        assert conv["subject"] == "My printer is on fire"
        await expect(frame.locator(".ticket")).to_have_text(f"Ticket #{conv_id}")
        await agent.join(conv_id)
        first = next(e for e in await agent.wait_for_seq(conv_id, 2) if e["kind"] == "message")
        assert first["author"]["name"] == "Vera Visitor"
        # The description is the first message; the other answers are the ticket's fields.
        assert first["body"] == "My printer is on fire"
        ticket = (await world.api(agent_token, "GET", f"/api/tickets/{conv_id}"))["ticket"]
        assert (ticket["channel"], ticket["category"], ticket["severity"]) == ("chat", "technical_question", 2)
        assert (ticket["assets"], ticket["contact_email"]) == (["device: Printer 7"], "vera@example.com")
        assert ticket["requester"]["name"] == "Vera Visitor"
        # The browser's local 10:30, as an instant (the page's time zone is the browser's).
        local = await frame.locator("body").evaluate("() => new Date('2026-03-01T10:30').toISOString()")
        assert datetime.fromisoformat(ticket["happened_at"]) == datetime.fromisoformat(local.replace("Z", "+00:00"))

        await agent.typing(conv_id, "start")
        await expect(frame.locator(".typing")).to_have_text("Alex Agent is typing…")
        reply = await agent.send(conv_id, "Hello Vera, I am on it")
        await expect(frame.locator(".msg.theirs .bubble p")).to_have_text(["Hello Vera, I am on it"])
        await expect(frame.locator(".typing")).to_have_text("")
        await expect(frame.locator(".head .name")).to_have_text("Alex Agent")
        # The visitor is looking: the reply is marked read.
        read = await agent.next_frame("read")
        while read["seq"] < reply["seq"]:  # earlier events were read on their way
            read = await agent.next_frame("read")
        assert read["seq"] == reply["seq"]

        await frame.locator(".composer textarea").fill("Thank")
        typing = await agent.next_frame("typing")
        assert typing["state"] == "start" and typing["user"]["name"] == "Vera Visitor"
        await say(frame, "Thanks!")
        thanks = await agent_sees(agent, conv_id, "Thanks!")
        await expect(frame.locator(".msg.mine .status").last).to_have_text("Sent")
        await agent.read(conv_id, thanks["seq"])
        await expect(frame.locator(".msg.mine .status").last).to_have_text("Read")

        # Minimized: a reply shows on the launcher's badge and reaches onUnread().
        await page.evaluate("() => { window.seen = []; SupportChat.onUnread((n) => window.seen.push(n)); }")
        await frame.get_by_role("button", name="Minimize the chat").click()
        await expect(page.locator("#supportchat iframe")).to_be_hidden()
        # The shop's tab is in the background: its title tells of the reply.
        await page.evaluate("() => Object.defineProperty(document, 'hidden', {value: true, configurable: true})")
        await agent.send(conv_id, "Are you still there?")
        badge = page.locator("#supportchat button span")
        await expect(badge).to_have_text("1")
        assert await page.evaluate("window.seen") == [0, 1]
        await expect(page).to_have_title("(1) New message")
        await page.evaluate("""() => {
            Object.defineProperty(document, 'hidden', {value: false, configurable: true});
            document.dispatchEvent(new Event('visibilitychange'));
        }""")
        await expect(page).to_have_title("Shop")

        # A reload: the chat loads at once (the visitor has an open conversation), the
        # unread count survives, and opening it shows the whole conversation.
        await page.reload()
        await expect(page.locator("#supportchat iframe")).to_have_count(1)
        await expect(badge).to_have_text("1")
        frame = await open_widget(page)
        await expect(frame.locator(MESSAGES)).to_have_text([
            "My printer is on fire", "Hello Vera, I am on it", "Thanks!", "Are you still there?",
        ], use_inner_text=True, timeout=TIMEOUT_MS)
        await expect(badge).to_be_hidden()
        assert await frame.locator("form.intake").count() == 0
        # The visitor's token is the iframe's: the shop's page holds no cookie and, in its
        # storage, only the loader's "has an open conversation" hint.
        assert await page.evaluate("document.cookie") == ""
        assert await page.evaluate("JSON.stringify(localStorage)") == f'{{"supportchat:{world.site_key}":"1"}}'
        await context.close()


async def test_every_message_appears_once_and_in_order_when_the_server_drops_the_socket(
    browser: Browser, world: WidgetWorld
) -> None:
    agent_token = await world.staff("alex@x.example", "Alex Agent")
    async with world.client(agent_token) as agent:
        context = await browser.new_context()
        page = await new_page(context)
        await page.goto(world.page_url())
        frame = await open_widget(page)
        await start_chat(frame, "hello")
        conv = await world.newest_conversation(agent_token)
        conv_id, visitor_id = int(conv["id"]), int(conv["created_by_id"])
        await agent.join(conv_id)

        # 1. The socket is dropped and the network stays down while both sides write:
        #    the visitor's messages wait in the outbox, the agent's in the database.
        await context.set_offline(True)
        assert drop_sockets(world, visitor_id) == 1
        await expect(frame.locator(".banner")).to_have_text("Connection lost. Reconnecting…")
        for i in range(3):
            await say(frame, f"visitor offline {i}")
            await agent.send(conv_id, f"agent offline {i}")
        await expect(frame.locator(".pending .msg .status")).to_have_text(["Sending…"] * 3)
        await context.set_offline(False)
        await expect(frame.locator(".pending .msg")).to_have_count(0)
        await expect(frame.locator(".banner")).to_be_hidden()

        # 2. Dropped twice more while messages fly both ways.
        async def visitor() -> None:
            for i in range(6):
                await say(frame, f"visitor live {i}")

        async def staff() -> None:
            for i in range(6):
                await agent.send(conv_id, f"agent live {i}")
                await asyncio.sleep(0.02)

        async def dropper() -> None:
            for _ in range(2):
                await asyncio.sleep(0.15)
                drop_sockets(world, visitor_id)

        await asyncio.gather(visitor(), staff(), dropper())
        await expect(frame.locator(".pending .msg")).to_have_count(0, timeout=TIMEOUT_MS)

        stored = await stored_bodies(world, agent_token, conv_id)
        wanted = ["hello"] + [f"visitor offline {i}" for i in range(3)] + [f"agent offline {i}" for i in range(3)] \
            + [f"visitor live {i}" for i in range(6)] + [f"agent live {i}" for i in range(6)]
        assert Counter(stored) == Counter(wanted)  # each stored exactly once
        for side in ("visitor offline", "agent offline", "visitor live", "agent live"):
            mine = [b for b in stored if b.startswith(side)]
            assert mine == sorted(mine), f"{side} stored out of order: {mine}"
        # The widget shows exactly the stored conversation, in the stored order.
        await expect(frame.locator(MESSAGES)).to_have_text(stored, timeout=TIMEOUT_MS)
        await context.close()


async def test_russian_browser_gets_russian_strings(browser: Browser, world: WidgetWorld) -> None:
    context = await browser.new_context(locale="ru-RU")
    page = await new_page(context)
    await page.goto(world.page_url())
    await expect(page.locator("#supportchat button")).to_have_attribute("aria-label", "Открыть чат поддержки")
    frame = await open_widget(page)
    # No agent is online: the leave-a-message form, in Russian.
    await expect(frame.locator(".intro")).to_have_text(
        "Сейчас нет операторов в сети. Оставьте сообщение — мы ответим по электронной почте.")
    await expect(frame.locator(".presence")).to_have_text("Сейчас нет операторов в сети")
    await expect(frame.get_by_role("button", name="Отправить")).to_be_visible()
    await expect(frame.locator("label[for=f-email]")).to_have_text("Эл. почта")
    widget_frame = next(f for f in page.frames if "/widget/frame" in f.url)
    assert await widget_frame.evaluate("document.documentElement.lang") == "ru"
    # Every catalog has every string of the English one, and nothing else.
    missing = await widget_frame.evaluate("""async () => {
        const src = document.querySelector("script[type=module]").src;
        const { CATALOGS } = await import(new URL("i18n.js", src));
        const keys = Object.keys(CATALOGS.en).sort().join();
        return Object.entries(CATALOGS).filter(([, c]) => Object.keys(c).sort().join() !== keys).map(([l]) => l);
    }""")
    assert missing == []

    # The embedding page's data-language wins over the browser's.
    german = await new_page(context)
    await german.goto(world.page_url(language="de"))
    frame = await open_widget(german)
    await expect(frame.locator(".presence")).to_have_text("Gerade ist niemand online")
    await context.close()


async def test_identified_user_chats_as_the_sites_customer_and_reset_forgets_them(
    browser: Browser, world: WidgetWorld
) -> None:
    agent_token = await world.staff("alex@x.example", "Alex Agent")
    async with world.services.sessions() as db:
        site = await db.get(Site, world.site_id)
        assert site is not None
        secret = site.identity_secret
    async with world.client(agent_token):
        context = await browser.new_context()
        page = await new_page(context)
        # The site's backend signed its user id; the page passes it on in the snippet.
        await page.goto(world.page_url(**{"user-id": "u-42", "user-hash": identity_hash(secret, "u-42"),
                                          "user-name": "Ida Identified"}))
        frame = await open_widget(page)
        await expect(frame.locator("#f-name")).to_have_value("Ida Identified")
        await start_chat(frame, "I am a known customer")
        conv = await world.newest_conversation(agent_token)
        async with world.services.sessions() as db:
            user = await db.get(User, conv["created_by_id"])
            assert user is not None
        assert (user.role, user.external_id, user.site_id) == (Role.CUSTOMER, "u-42", world.site_id)

        # The site's user signs out: the next person at this browser starts afresh.
        await page.evaluate("SupportChat.reset()")
        await expect(frame.locator("form.intake")).to_be_visible()
        await expect(frame.locator("#f-name")).to_have_value("")
        async with world.services.sessions() as db:
            visitors = list(await db.scalars(select(User).where(User.role == Role.VISITOR)))
        assert len(visitors) == 1 and visitors[0].site_id == world.site_id

        # Signed in again, through the API this time: their open conversation is back.
        await page.evaluate("(hash) => SupportChat.identify({userId: 'u-42', userHash: hash})",
                            identity_hash(secret, "u-42"))
        await expect(frame.locator(MESSAGES)).to_have_text(["I am a known customer"])
        await context.close()


async def test_attachment_upload_shows_progress_preview_and_reaches_the_agent(
    browser: Browser, world: WidgetWorld, tmp_path: Path
) -> None:
    agent_token = await world.staff("alex@x.example", "Alex Agent")
    png = tmp_path / "screen.png"
    png.write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(2000))
    huge = tmp_path / "huge.log"
    huge.write_bytes(bytes(world.services.settings.max_upload_bytes + 1))
    async with world.client(agent_token) as agent:
        context = await browser.new_context()
        page: Page = await new_page(context)
        await page.goto(world.page_url())
        frame = await open_widget(page)
        await start_chat(frame, "see the screenshot")
        conv_id = int((await world.newest_conversation(agent_token))["id"])
        await agent.join(conv_id)
        await expect(frame.locator(".hint")).to_have_text("Files up to 10 MB: images, video, text, PDF, archives.")

        picker = frame.locator(".composer input[type=file]")
        await picker.set_input_files(str(huge))
        await expect(frame.locator(".composer .error")).to_have_text("huge.log is larger than 10 MB.")
        await expect(frame.locator(".tray li")).to_have_count(0)  # refused before any upload

        await picker.set_input_files(str(png))
        await expect(frame.locator(".tray li.done")).to_have_count(1)
        assert (await frame.locator(".tray img.preview").get_attribute("src") or "").startswith("blob:")
        await say(frame, "here it is")
        event = await agent_sees(agent, conv_id, "here it is")
        files = event["data"]["attachments"]
        assert [(f["filename"], f["content_type"], f["size"]) for f in files] == [("screen.png", "image/png", 2008)]
        # Shown in the conversation from a blob: URL (the file needs the visitor's token).
        thumb = frame.locator("li.msg.mine img.thumb")
        await expect(thumb).to_have_attribute("src", re.compile(r"^blob:"))
        await context.close()


async def test_the_demo_page_embeds_the_widget_like_a_customer_site(
    browser: Browser, sqlite_url: str, tmp_path: Path
) -> None:
    port = free_port()
    settings = make_settings(sqlite_url, tmp_path / "var", PUBLIC_URL=f"http://127.0.0.1:{port}", DEMO_PAGE="true")
    async with live_server(settings, SystemClock(), port=port, collect_garbage=True) as live:
        await seed_demo(live.services)
        context = await browser.new_context()
        # Whichever loopback name the browser was pointed at.
        for origin in (live.base_url, f"http://localhost:{port}"):
            page = await new_page(context)
            await page.goto(origin + "/")
            frame = await open_widget(page)
            await expect(frame.locator("#f-description")).to_be_visible()
        await context.close()

"""Issue 18, the widget's part: its language (the page's data-language, the signed-in
user's choice, the browser; a switch in the header), and the defects found in use —
scrolled to the top after a reload, the focus lost after "Start the chat", seven pre-chat
fields on a public site, form controls small enough to make iOS zoom — plus the main path
by keyboard alone and the widget on a phone. Real Chromium, the widget on the customer's
origin, agents through the protocol client."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from playwright.async_api import Browser, FrameLocator, Page, expect
from sqlalchemy import select

from chat import directory
from chat.auth import identity_hash
from chat.clock import SystemClock
from chat.models import Role, Site, User
from tests.browser.console_helpers import open_console, staff
from tests.browser.widget_harness import MESSAGES, PASSWORD, WidgetWorld, new_page, open_widget, start_chat
from tests.conftest import make_settings
from tests.support.live import live_server
from tests.support.processes import free_port

pytestmark = pytest.mark.asyncio(loop_scope="module")

SCROLLER = ".chat > .scroll"


async def frame_eval(page: Page, script: str) -> object:
    """Run ``script`` (a function's source) in the widget's iframe."""
    widget = next(f for f in page.frames if "/widget/frame" in f.url)
    return await widget.evaluate(script)


async def at_bottom(page: Page) -> bool:
    return bool(await frame_eval(page, f"""() => {{
        const s = document.querySelector("{SCROLLER}");
        return s.clientHeight > 0 && s.scrollHeight - s.scrollTop - s.clientHeight < 40;
    }}"""))


async def site_secret(world: WidgetWorld) -> str:
    async with world.services.sessions() as db:
        site = await db.get(Site, world.site_id)
        assert site is not None
        return site.identity_secret


# -- defects -------------------------------------------------------------------------


async def test_after_a_reload_the_chat_opens_at_the_newest_message_and_replies_stay_in_view(
    browser: Browser, world: WidgetWorld
) -> None:
    agent_token = await world.staff("alex@x.example", "Alex Agent")
    async with world.client(agent_token) as agent:
        context = await browser.new_context(viewport={"width": 1000, "height": 700})
        page = await new_page(context)
        await page.goto(world.page_url())
        frame = await open_widget(page)
        await start_chat(frame, "A long story")
        conv_id = int((await world.newest_conversation(agent_token))["id"])
        await agent.join(conv_id)
        for i in range(25):  # far more than the panel shows
            await agent.send(conv_id, f"line {i}\nand its second line")
        await expect(frame.locator(MESSAGES).last).to_contain_text("line 24")

        # The reload: the chat loads at once (hidden), then the visitor opens it.
        await page.reload()
        await expect(page.locator("#supportchat iframe")).to_have_count(1)
        frame = await open_widget(page)
        newest = frame.locator(MESSAGES).last
        await expect(newest).to_contain_text("line 24")
        await expect(newest).to_be_in_viewport()
        assert await at_bottom(page)

        # A reply while the visitor is at the bottom scrolls into view.
        await agent.send(conv_id, "Here is the answer")
        reply = frame.locator(MESSAGES).last
        await expect(reply).to_have_text("Here is the answer")
        await expect(reply).to_be_in_viewport()
        await expect(frame.locator(".pill")).to_be_hidden()

        # Scrolled up to read: the next reply does not pull them down; a pill says it came.
        await frame.locator(SCROLLER).evaluate("(s) => { s.scrollTop = 0; }")
        await expect(frame.locator(MESSAGES).first).to_be_in_viewport()
        await agent.send(conv_id, "One more thing")
        later = frame.locator(MESSAGES).last
        await expect(later).to_have_text("One more thing")
        pill = frame.get_by_role("button", name="New messages ↓")
        await expect(pill).to_be_visible()
        await expect(later).not_to_be_in_viewport()
        await expect(frame.locator(MESSAGES).first).to_be_in_viewport()
        await pill.click()
        await expect(later).to_be_in_viewport()
        await expect(pill).to_be_hidden()
        await context.close()


async def test_after_start_the_visitor_types_straight_into_the_composer(browser: Browser, world: WidgetWorld) -> None:
    agent_token = await world.staff("alex@x.example", "Alex Agent")
    async with world.client(agent_token):
        context = await browser.new_context()
        page = await new_page(context)
        await page.goto(world.page_url())
        frame = await open_widget(page)
        await frame.locator("#f-description").fill("My question")
        await frame.get_by_role("button", name="Start the chat").click()
        await expect(frame.locator(MESSAGES).first).to_have_text("My question")
        composer = frame.locator(".composer textarea")
        await expect(composer).to_be_focused()
        await page.keyboard.type("typed right away")
        await expect(composer).to_have_value("typed right away")
        # Sent with the button: the focus comes back to the composer for the next line.
        await frame.get_by_role("button", name="Send").click()
        await expect(frame.locator(MESSAGES).last).to_have_text("typed right away")
        await expect(composer).to_be_focused()
        await page.keyboard.type("and more")
        await page.keyboard.press("Enter")
        await expect(frame.locator(MESSAGES).last).to_have_text("and more")
        await expect(composer).to_be_focused()
        await context.close()


async def test_the_prechat_form_asks_what_the_site_set(browser: Browser, world: WidgetWorld) -> None:
    await world.staff("alex@x.example", "Alex Agent")
    agent_token = await world.staff("ann@x.example", "Ann Agent")
    async with world.client(agent_token):
        context = await browser.new_context()
        page = await new_page(context)
        await page.goto(world.page_url())
        frame = await open_widget(page)
        fields = frame.locator("form.intake .field :is(input, select, textarea)[id]")
        # The default: who, how to reach them, the category, the question.
        await expect(fields).to_have_count(4)
        assert [await f.get_attribute("id") for f in await fields.all()] == [
            "f-name", "f-email", "f-category", "f-description"]
        await expect(frame.locator("label[for=f-name] .opt")).to_have_text(" (optional)")
        await context.close()

        # The site asks for the vehicle (SKAI) and its severity, and not for a category.
        await world.prechat_fields(email="required", severity="required", affected_object="optional",
                                   category="hidden")
        context = await browser.new_context()
        page = await new_page(context)
        await page.goto(world.page_url())
        frame = await open_widget(page)
        fields = frame.locator("form.intake .field :is(input, select, textarea)[id]")
        await expect(fields).to_have_count(5)
        assert [await f.get_attribute("id") for f in await fields.all()] == [
            "f-name", "f-email", "f-severity", "f-affected_object", "f-description"]
        await frame.locator("#f-email").fill("vera@example.com")
        await frame.locator("#f-description").fill("The tracker is silent")
        await frame.get_by_role("button", name="Start the chat").click()
        await expect(frame.locator(".intake .error")).to_have_text("Please fill in: Severity")
        await expect(frame.locator("#f-severity")).to_be_focused()
        await frame.locator("#f-severity").select_option("2")
        await frame.get_by_role("button", name="Start the chat").click()
        await expect(frame.locator(MESSAGES).first).to_have_text("The tracker is silent")
        ticket = (await world.api(agent_token, "GET", f"/api/tickets/{(await world.newest_conversation(agent_token))['id']}"))
        assert ticket["ticket"]["severity"] == 2 and ticket["ticket"]["contact_email"] == "vera@example.com"
        await context.close()


async def test_no_form_control_is_under_16px_in_the_widget_or_the_console(browser: Browser, world: WidgetWorld) -> None:
    await world.prechat_fields(severity="optional", affected_object="optional", happened_at="optional")
    small = """(root) => [...root.querySelectorAll("input:not([type=hidden]):not([type=file]), select, textarea")]
        .map((el) => [el.id || el.name || el.className || el.tagName, parseFloat(getComputedStyle(el).fontSize)])
        .filter(([, size]) => size < 16)"""
    agent = await staff(world, "Alex")
    async with world.client(agent.token):
        context = await browser.new_context()
        page = await new_page(context)
        await page.goto(world.page_url())
        frame = await open_widget(page)
        await expect(frame.locator("#f-happened_at")).to_be_visible()
        assert await frame.locator("body").evaluate(small) == []  # the pre-chat form and the header
        await start_chat(frame, "Sizes")
        await frame.get_by_role("button", name="End the chat").click()
        await expect(frame.locator("#rate-comment")).to_be_visible()
        assert await frame.locator("body").evaluate(small) == []  # the composer and the rating sheet
        await context.close()

    context = await browser.new_context()
    page = await new_page(context)
    await page.goto(world.base_url + "/console/")
    await expect(page.get_by_placeholder("E-mail")).to_be_visible()
    assert await page.locator("body").evaluate(small) == []  # the sign-in form
    await context.close()
    context, page = await open_console(browser, world, agent)
    await expect(page.locator("textarea, input, select").first).to_be_attached()
    assert await page.locator("body").evaluate(small) == []  # the inbox and the conversation
    await context.close()


# -- languages -----------------------------------------------------------------------


async def test_the_language_switch_changes_everything_at_once_and_keeps_the_conversation(
    browser: Browser, world: WidgetWorld
) -> None:
    agent_token = await world.staff("alex@x.example", "Alex Agent")
    async with world.client(agent_token) as agent:
        context = await browser.new_context(locale="en-US")
        page = await new_page(context)
        await page.goto(world.page_url(language="de"))
        frame = await open_widget(page)
        await expect(frame.locator(".presence")).to_have_text("Mitarbeiter sind online")
        await frame.locator("#f-description").fill("Mein Tracker sendet nicht")
        await frame.get_by_role("button", name="Chat starten").click()
        await expect(frame.locator(MESSAGES).first).to_have_text("Mein Tracker sendet nicht")
        conv_id = int((await world.newest_conversation(agent_token))["id"])
        await agent.join(conv_id)
        await agent.send(conv_id, "Hallo, ich schaue nach")
        await expect(frame.locator(MESSAGES)).to_have_count(2)
        await expect(frame.locator("li.sys").first).to_have_text("Unterhaltung begonnen")
        switch = frame.get_by_role("combobox", name="Sprache")
        assert await switch.locator("option").all_inner_texts() == [
            "English", "Português (Brasil)", "Deutsch", "Español", "Русский"]
        await frame.locator(".composer textarea").fill("halb geschrieben")

        await switch.select_option(label="Русский")
        await expect(frame.locator(".presence")).to_have_text("Операторы в сети")
        await expect(frame.locator("li.sys").first).to_have_text("Чат начат")
        await expect(frame.locator(".head .ticket")).to_have_text(f"Заявка № {conv_id}")
        await expect(frame.locator(MESSAGES)).to_have_text(["Mein Tracker sendet nicht", "Hallo, ich schaue nach"])
        await expect(frame.locator(".composer textarea")).to_have_value("halb geschrieben")
        await expect(frame.locator(".composer textarea")).to_have_attribute("placeholder", "Напишите сообщение…")
        await expect(frame.get_by_role("combobox", name="Язык")).to_be_focused()
        # The launcher on the page speaks it too.
        await expect(page.locator("#supportchat button").first).to_have_attribute("aria-label", "Открыть чат поддержки")
        assert await frame_eval(page, "() => document.documentElement.lang") == "ru"
        # System events are sentences of the language, never raw keys ("ticket.assigned").
        for line in await frame.locator("li.sys").all_inner_texts():
            assert not re.search(r"[a-z]+[._][a-z_]+", line), line
        # The conversation goes on in the new language.
        await agent.send(conv_id, "Noch da?")
        await expect(frame.locator(MESSAGES).last).to_have_text("Noch da?")

        # The visitor's choice is kept: it wins over the page's data-language after a reload.
        await page.reload()
        frame = await open_widget(page)
        await expect(frame.locator(".presence")).to_have_text("Операторы в сети")
        await expect(frame.get_by_role("combobox", name="Язык")).to_have_value("ru")
        await context.close()


async def test_data_language_wins_then_the_signed_in_users_choice_then_the_browser(
    browser: Browser, world: WidgetWorld
) -> None:
    secret = await site_secret(world)
    who = {"user-id": "u-7", "user-hash": identity_hash(secret, "u-7"), "user-name": "Ida"}
    context = await browser.new_context(locale="es-ES")
    page = await new_page(context)
    # No choice anywhere yet: the browser's language.
    await page.goto(world.page_url(**who))
    frame = await open_widget(page)
    await expect(frame.locator(".intro")).to_have_text(
        "Ahora no hay agentes en línea. Deje un mensaje y le responderemos por correo electrónico.")
    # The customer picks Portuguese in the widget: their profile keeps it (PATCH /api/me).
    await frame.get_by_role("combobox", name="Idioma").select_option("pt-BR")
    await expect(frame.locator(".presence")).to_have_text("Nenhum atendente online agora")

    async def user_language() -> tuple[str, bool]:
        async with world.services.sessions() as db:
            user = await db.scalar(select(User).where(User.external_id == "u-7"))
            assert user is not None
            return user.language, bool(user.language_chosen)

    for _ in range(50):
        if await user_language() == ("pt-BR", True):
            break
        await page.wait_for_timeout(100)
    assert await user_language() == ("pt-BR", True)
    await context.close()

    # Another browser (Spanish, nothing stored): the signed-in user's choice beats the browser…
    context = await browser.new_context(locale="es-ES")
    page = await new_page(context)
    await page.goto(world.page_url(**who))
    frame = await open_widget(page)
    await expect(frame.locator(".presence")).to_have_text("Nenhum atendente online agora")
    # …the page's data-language beats both…
    german = await new_page(context)
    await german.goto(world.page_url(language="de", **who))
    frame = await open_widget(german)
    await expect(frame.locator(".presence")).to_have_text("Gerade ist niemand online")
    await context.close()
    # …and an anonymous visitor gets the browser's.
    context = await browser.new_context(locale="es-ES")
    page = await new_page(context)
    await page.goto(world.page_url())
    frame = await open_widget(page)
    await expect(frame.locator(".presence")).to_have_text("Ahora no hay agentes en línea")
    await context.close()


# -- keyboard alone, and a phone ------------------------------------------------------


async def focused(page: Page) -> str:
    """What has the keyboard focus, inside the widget's iframe when it is there."""
    widget = next((f for f in page.frames if "/widget/frame" in f.url), None)
    if widget is not None and await widget.evaluate("() => document.hasFocus()"):
        return str(await widget.evaluate("""() => {
            const el = document.activeElement;
            return el.tagName + "|" + (el.getAttribute("aria-label") || el.id || el.textContent.trim());
        }"""))
    return str(await page.evaluate("""() => {
        const el = document.activeElement.shadowRoot ? document.activeElement.shadowRoot.activeElement : document.activeElement;
        return el ? el.tagName + "|" + (el.getAttribute("aria-label") || el.id || "") : "";
    }"""))


async def tab_to(page: Page, wanted: str, key: str = "Tab") -> None:
    """Press Tab (or Shift+Tab) until ``wanted`` has the focus."""
    for _ in range(25):
        if await focused(page) == wanted:
            return
        await page.keyboard.press(key)
    raise AssertionError(f"{wanted} never got the focus; last: {await focused(page)}")


async def ring(frame: FrameLocator, selector: str) -> str:
    return str(await frame.locator(selector).evaluate("(el) => getComputedStyle(el).outlineStyle"))


async def test_the_main_path_by_keyboard_alone(browser: Browser, world: WidgetWorld) -> None:
    agent_token = await world.staff("alex@x.example", "Alex Agent")
    async with world.client(agent_token) as agent:
        context = await browser.new_context()
        page = await new_page(context)
        await page.goto(world.page_url())
        await tab_to(page, "BUTTON|Open support chat")
        ring_on_launcher = await page.evaluate(
            "() => getComputedStyle(document.querySelector('#supportchat').shadowRoot.activeElement).outlineStyle")
        assert ring_on_launcher != "none"
        await page.keyboard.press("Enter")
        frame = page.frame_locator("#supportchat iframe")
        # The form's first field has the focus: the visitor types at once.
        await expect(frame.locator("#f-name")).to_be_focused()
        await page.keyboard.type("Kim Keys")
        await page.keyboard.press("Tab")
        await expect(frame.locator("#f-email")).to_be_focused()
        await page.keyboard.type("kim@example.com")
        await tab_to(page, "TEXTAREA|f-description")
        await page.keyboard.type("Only my keyboard works")
        await page.keyboard.press("Tab")
        await expect(frame.get_by_role("button", name="Start the chat")).to_be_focused()
        assert await ring(frame, "button.primary") != "none"
        await page.keyboard.press("Enter")
        await expect(frame.locator(MESSAGES).first).to_have_text("Only my keyboard works")
        await expect(frame.locator(".composer textarea")).to_be_focused()
        await page.keyboard.type("Hello?")
        await page.keyboard.press("Enter")
        await expect(frame.locator(MESSAGES).last).to_have_text("Hello?")

        conv_id = int((await world.newest_conversation(agent_token))["id"])
        await agent.join(conv_id)
        await agent.send(conv_id, "Hello Kim, how can I help?")
        await expect(frame.locator(MESSAGES).last).to_have_text("Hello Kim, how can I help?")
        await expect(frame.locator(MESSAGES).last).to_be_in_viewport()

        # End the chat and rate it.
        await tab_to(page, "BUTTON|End the chat", "Shift+Tab")
        assert await ring(frame, ".head .icon-btn[aria-label='End the chat']") != "none"
        await page.keyboard.press("Enter")
        await expect(frame.get_by_role("button", name="Good")).to_be_focused()
        await page.keyboard.press("Space")
        await expect(frame.get_by_role("button", name="Good")).to_have_attribute("aria-pressed", "true")
        await tab_to(page, "BUTTON|Send and close")
        await page.keyboard.press("Enter")
        await expect(frame.locator(".closed")).to_contain_text("This conversation is closed.")
        ticket = (await world.api(agent_token, "GET", f"/api/tickets/{conv_id}"))["ticket"]
        assert ticket["status"] == "closed"
        await expect(frame.locator(".closed .thanks")).to_have_text("Thank you for your feedback!")

        # Escape closes the panel and gives the focus back to the launcher.
        await tab_to(page, "BUTTON|Start a new conversation")
        await page.keyboard.press("Escape")
        await expect(page.locator("#supportchat iframe")).to_be_hidden()
        assert await focused(page) == "BUTTON|Open support chat"
        await page.keyboard.press("Enter")
        await expect(page.locator("#supportchat iframe")).to_be_visible()
        await context.close()


async def test_on_a_phone_the_open_widget_fills_the_screen(browser: Browser, world: WidgetWorld) -> None:
    agent_token = await world.staff("alex@x.example", "Alex Agent")
    async with world.client(agent_token):
        await phone_chat(browser, world)


async def phone_chat(browser: Browser, world: WidgetWorld) -> None:
    context = await browser.new_context(viewport={"width": 390, "height": 844}, is_mobile=True, has_touch=True)
    page = await new_page(context)
    await page.goto(world.page_url())
    frame = await open_widget(page)
    panel = await page.locator("#supportchat iframe").bounding_box()
    assert panel == {"x": 0, "y": 0, "width": 390, "height": 844}
    wide = "() => document.documentElement.scrollWidth - document.documentElement.clientWidth"
    assert await page.evaluate(wide) == 0
    assert await frame_eval(page, wide) == 0  # the pre-chat form
    await start_chat(frame, "From my phone")
    assert await frame_eval(page, wide) == 0  # the conversation
    composer = await frame.locator(".composer textarea").bounding_box()
    assert composer is not None and composer["y"] + composer["height"] <= 844
    await expect(frame.get_by_role("button", name="Send")).to_be_in_viewport()
    # The panel follows the visible height (100dvh), which the on-screen keyboard shrinks.
    assert await page.locator("#supportchat").evaluate(
        "(host) => host.shadowRoot.querySelector('iframe').parentElement.style.height") == "100dvh"
    # Minimize: the launcher is back.
    await frame.get_by_role("button", name="Minimize the chat").click()
    await expect(page.locator("#supportchat button").first).to_be_visible()
    await context.close()


# -- the demo page -------------------------------------------------------------------


async def test_the_demo_pages_sign_in_shows_who_is_signed_in_not_json(
    browser: Browser, sqlite_url: str, tmp_path: Path
) -> None:
    port = free_port()
    settings = make_settings(sqlite_url, tmp_path / "var", PUBLIC_URL=f"http://127.0.0.1:{port}", DEMO_PAGE="true")
    async with live_server(settings, SystemClock(), port=port, collect_garbage=True) as live:
        await directory.create_user(live.services, None, email="alex@demo.example", role=Role.AGENT,
                                    password=PASSWORD, name="Alex Agent")
        context = await browser.new_context()
        page = await new_page(context)
        await page.goto(live.base_url + "/")
        await page.locator("input[name=email]").fill("alex@demo.example")
        await page.locator("input[name=password]").fill("not the password")
        await page.get_by_role("button", name="Sign in").click()
        await expect(page.get_by_role("alert")).to_have_text("Wrong e-mail or password.")

        await page.locator("input[name=password]").fill(PASSWORD)
        await page.get_by_role("button", name="Sign in").click()
        account = page.locator("#account")
        await expect(account.locator("#signed-in")).to_contain_text("Signed in as Alex Agent (alex@demo.example), an agent.")
        await expect(account.get_by_role("link", name="Open the agent console")).to_have_attribute("href", "/console/")
        assert "{" not in await account.inner_text()  # no JSON anywhere
        await expect(account.get_by_label("E-mail")).to_be_hidden()
        await expect(account.get_by_label("Password")).to_be_hidden()

        # Still signed in after a reload (the session cookie); then out again.
        await page.reload()
        await expect(account.locator("#me-name")).to_have_text("Alex Agent")
        await account.get_by_role("button", name="Sign out").click()
        await expect(account.get_by_label("E-mail")).to_be_visible()
        await expect(account.get_by_label("E-mail")).to_be_focused()
        await page.reload()
        await expect(account.get_by_label("E-mail")).to_be_visible()
        await expect(account.locator("#signed-in")).to_be_hidden()
        await context.close()

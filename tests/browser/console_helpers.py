"""Shared steps of the console's browser tests: the staff, a signed-in console in its own
browser context, a visitor chatting through the real widget on the customer's page.

The world is the widget's (tests/browser/widget_harness.py): the product on its
PUBLIC_URL, and a customer site on another origin that embeds the widget."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import httpx
from playwright.async_api import Browser, BrowserContext, FrameLocator, Locator, Page, expect

from chat import directory
from chat.auth import login
from chat.models import Role
from tests.browser.widget_harness import PASSWORD, TIMEOUT_MS, WidgetWorld, new_page, open_widget


@dataclass(frozen=True)
class Staff:
    id: int
    name: str
    email: str
    token: str


async def staff(world: WidgetWorld, name: str, role: Role = Role.AGENT, organization: int | None = None) -> Staff:
    """A signed-in user (staff, or with ``organization`` e.g. a reseller's admin)."""
    email = f"{name.lower()}@desk.example"
    user = await directory.create_user(world.services, None, email=email, role=role, password=PASSWORD, name=name,
                                       organization=organization)
    token = (await login(world.services, email, PASSWORD, address="127.0.0.1", user_agent="test")).token
    return Staff(user.id, name, email, token)


async def api(world: WidgetWorld, who: Staff, method: str, path: str, body: Any = None) -> httpx.Response:
    return await api_as(world, who.token, method, path, body)


async def audit_entries(world: WidgetWorld, who: Staff, action: str, target_id: str) -> list[dict[str, Any]]:
    """The audit log's entries of ``action`` on ``target_id``, as ``who`` reads them."""
    r = await api(world, who, "GET", f"/api/audit?action={action}&target_id={target_id}")
    assert r.status_code == 200, r.text
    return list(r.json()["entries"])


async def api_as(world: WidgetWorld, token: str, method: str, path: str, body: Any = None) -> httpx.Response:
    async with httpx.AsyncClient(base_url=world.base_url, timeout=10) as http:
        return await http.request(method, path, json=body, headers={"Authorization": f"Bearer {token}"})


async def no_auto_assignment(world: WidgetWorld, admin: Staff, *agents: Staff) -> None:
    """Limits of 0: new chats wait in New for a person to claim them (assignment itself is
    tested below the browser, in tests/chat/desk)."""
    for agent in agents:
        r = await api(world, admin, "PATCH", f"/api/desk/agents/{agent.id}", {"max_chats": 0})
        assert r.status_code == 200, r.text


async def open_console(browser: Browser, world: WidgetWorld, who: Staff) -> tuple[BrowserContext, Page]:
    """A fresh browser context (its own storage), signed in through the login form."""
    context = await browser.new_context()
    page = await new_page(context)
    await page.goto(world.base_url + "/console/")
    await page.get_by_placeholder("E-mail").fill(who.email)
    await page.get_by_placeholder("Password").fill(PASSWORD)
    await page.get_by_role("button", name="Sign in").click()
    await console_live(page)
    return context, page


async def console_live(page: Page) -> None:
    """The console's socket is live — in any language: the badge loses its ``down`` class
    (its text is translated: "live", "online", "verbunden", …)."""
    connection = page.get_by_test_id("connection")
    await expect(connection).to_be_visible()
    await expect(connection).not_to_have_class(re.compile(r"\bdown\b"))


async def open_settings(page: Page, key: str) -> None:
    """Admin, then the settings tab ``key`` (``data-testid="settings-nav-<key>"``,
    js/settings/pages.js), chosen once it says so."""
    await page.get_by_role("button", name="Admin", exact=True).click()
    tab = page.get_by_test_id(f"settings-nav-{key}")
    await tab.click()
    await expect(tab).to_have_attribute("aria-pressed", "true")


async def open_portal(browser: Browser, world: WidgetWorld, email: str, section: str = "") -> tuple[BrowserContext, Page]:
    """A fresh browser context signed in to the customer area (``/portal/#section``)."""
    context = await browser.new_context()
    page = await new_page(context)
    await page.goto(world.base_url + "/portal/" + (f"#{section}" if section else ""))
    await page.locator("#login-email").fill(email)
    await page.locator("#login-password").fill(PASSWORD)
    await page.locator("#login-form button[type=submit]").click()
    return context, page


async def visitor_starts_chat(browser: Browser, world: WidgetWorld, name: str, description: str) -> tuple[Page, FrameLocator]:
    """A visitor on the customer's site opens the widget and starts a chat."""
    context = await browser.new_context()
    page = await new_page(context)
    await page.goto(world.page_url())
    frame = await open_widget(page)
    await frame.locator("#f-name").fill(name)
    await frame.locator("#f-description").fill(description)
    await frame.get_by_role("button", name="Start the chat").click()
    await expect(frame.locator(".ticket")).to_contain_text("#", timeout=TIMEOUT_MS)
    return page, frame


def widget_messages(frame: FrameLocator) -> Locator:
    return frame.locator("ol.log li.msg")


def queue(page: Page, key: str) -> Locator:
    return page.locator(f"section.queue[data-queue='{key}']")


def item(page: Page, key: str, conversation_id: int) -> Locator:
    return queue(page, key).locator(f"[data-conversation-id='{conversation_id}']")


def history(page: Page) -> Locator:
    return page.get_by_test_id("history")


async def composer_send(page: Page, text: str, *, internal: bool = False) -> None:
    box = page.get_by_label("Message")
    if internal:
        await page.get_by_label("Internal note (staff only)").check()
    await box.fill(text)
    await box.press("Enter")
    if internal:
        await page.get_by_label("Internal note (staff only)").uncheck()

"""Alerts that reach the agent (issue 18, docs/console.md "Alerts"), in real Chromium against
the real server: two agents in two browser contexts, a visitor in the real widget on the
customer's site. The server's path is real (committed events → ``attention`` frames); the
browser's own UI for notifications and sound is recorded: ``window.Notification`` is a
recording fake whose permission starts as "default" (the real one's prompt cannot be clicked
headless), and every WebAudio oscillator started is counted."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from playwright.async_api import Browser, BrowserContext, FrameLocator, Page, expect
from sqlalchemy import select

from chat import directory
from chat.auth import principal_of, visitor_session
from chat.conversations import start_conversation
from chat.models import OrgKind, Role, User
from tests.browser.console_helpers import (
    Staff,
    api,
    composer_send,
    console_live,
    item,
    no_auto_assignment,
    staff,
    visitor_starts_chat,
)
from tests.browser.widget_harness import PASSWORD, WidgetWorld, new_page, widget_world
from tests.support.chatlog import eventually

RECORDERS = """
window.__alerts = { notes: [], tones: 0, frames: [] };
// The attention frames as they arrive (a barrier: the console handles each in the same task).
const NativeWebSocket = window.WebSocket;
window.WebSocket = class extends NativeWebSocket {
  constructor(...args) {
    super(...args);
    this.addEventListener("message", (ev) => {
      const frame = JSON.parse(ev.data);
      if (frame.type === "attention") window.__alerts.frames.push(frame.reason + ":" + frame.conversation_id);
    });
  }
};
class RecordingNotification {
  constructor(title, options = {}) {
    this.title = title; this.body = options.body; this.tag = options.tag; this.onclick = null;
    window.__alerts.notes.push(this);
  }
  close() {}
  static requestPermission() { RecordingNotification.permission = "granted"; return Promise.resolve("granted"); }
}
RecordingNotification.permission = "default";
window.Notification = RecordingNotification;
const start = OscillatorNode.prototype.start;
OscillatorNode.prototype.start = function (...args) { window.__alerts.tones += 1; return start.apply(this, args); };
"""

TITLE = "Support console"


@pytest.fixture
async def world(browser: Browser, sqlite_url: str, tmp_path: Path) -> AsyncIterator[WidgetWorld]:
    async with widget_world(sqlite_url, tmp_path / "var") as w:
        try:
            yield w
        finally:
            # Every page of the test goes before its server does (no console left reconnecting).
            for context in browser.contexts:
                await context.close()


async def open_console(browser: Browser, world: WidgetWorld, who: Staff) -> tuple[BrowserContext, Page]:
    """tests/browser/console_helpers.open_console with the recorders installed first."""
    context = await browser.new_context(locale="en-US")
    await context.add_init_script(RECORDERS)
    page = await new_page(context)
    await page.goto(world.base_url + "/console/")
    await page.get_by_placeholder("E-mail").fill(who.email)
    await page.get_by_placeholder("Password").fill(PASSWORD)
    await page.get_by_role("button", name="Sign in").click()
    await console_live(page)
    return context, page


async def recorded(page: Page) -> dict[str, Any]:
    return dict(await page.evaluate(
        "({ tones: window.__alerts.tones, notes: window.__alerts.notes.map((n) => ({ title: n.title, body: n.body })) })"))


async def tones(page: Page) -> int:
    return int(await page.evaluate("window.__alerts.tones"))


async def frames(page: Page) -> list[str]:
    return list(await page.evaluate("window.__alerts.frames"))


async def frames_become(page: Page, expected: list[str]) -> None:
    async def check() -> None:
        assert await frames(page) == expected

    await eventually(check, timeout=10, what=f"attention frames {expected}")


async def to_background(page: Page) -> None:
    """What the console sees of a tab in the background (headless pages are all in front)."""
    await page.evaluate("""() => {
      document.hasFocus = () => false;
      Object.defineProperty(document, "visibilityState", { configurable: true, get: () => "hidden" });
    }""")


async def to_front(page: Page) -> None:
    await page.evaluate("""() => {
      delete document.hasFocus;
      delete document.visibilityState;
      window.dispatchEvent(new Event("focus"));
    }""")


async def ui_prefs(world: WidgetWorld, who: Staff) -> dict[str, Any]:
    async with world.services.sessions() as db:
        user = await db.scalar(select(User).where(User.id == who.id))
        assert user is not None
        return dict(user.ui_prefs or {})


async def prefs_become(world: WidgetWorld, who: Staff, expected: dict[str, Any]) -> None:
    async def check() -> None:
        assert await ui_prefs(world, who) == expected

    await eventually(check, timeout=10, what=f"{who.name}'s ui_prefs {expected}")


async def notes_become(page: Page, expected: list[dict[str, str]]) -> None:
    async def check() -> None:
        assert (await recorded(page))["notes"] == expected

    await eventually(check, timeout=10, what=f"notifications {expected}")


async def ticket_number(frame: FrameLocator) -> int:
    match = re.search(r"#(\d+)", await frame.locator(".ticket").inner_text())
    assert match
    return int(match.group(1))


async def widget_says(frame: FrameLocator, text: str) -> None:
    box = frame.locator(".composer textarea")
    await box.fill(text)
    await box.press("Enter")


async def test_alerts_reach_the_agent_it_concerns_and_stay_quiet_for_what_they_see_or_did(
        browser: Browser, world: WidgetWorld) -> None:
    alice, bob = await staff(world, "Alice"), await staff(world, "Bob")
    admin = await staff(world, "Ada", Role.SUPPORT_ADMIN)
    await no_auto_assignment(world, admin, alice, bob)
    _, a = await open_console(browser, world, alice)
    _, b = await open_console(browser, world, bob)

    # The one-time bar: Bob turns desktop notifications on, Alice says not now; both answers
    # are kept for the person, and the bar does not come back.
    await b.get_by_test_id("alert-prompt").get_by_role("button", name="Turn on desktop notifications").click()
    await expect(b.get_by_test_id("alert-prompt")).to_have_count(0)
    await a.get_by_test_id("alert-prompt").get_by_role("button", name="Not now").click()
    await expect(a.get_by_test_id("alert-prompt")).to_have_count(0)
    await prefs_become(world, bob, {"desktop": True})
    await prefs_become(world, alice, {"desktop": False})

    # A new chat: both consoles count it in the tab's title and chime; Bob's shows a notification.
    _, widget = await visitor_starts_chat(browser, world, "Vera Visitor", "My printer is on fire")
    conv = await ticket_number(widget)
    for page in (a, b):
        await expect(page).to_have_title(f"(1) {TITLE}")
        assert await tones(page) > 0
    await notes_become(b, [{"title": f"New conversation #{conv}", "body": "My printer is on fire"}])
    assert (await recorded(a))["notes"] == []

    # Alice opens it (the count clears) and answers it: her claim alerts nobody.
    await item(a, "new", conv).click()
    await expect(a).to_have_title(TITLE)
    await a.get_by_role("button", name="I'll answer").click()
    await expect(a.get_by_test_id("claimed-by")).to_have_text("Answering: Alice")
    a_tones = await tones(a)

    # The customer replies while Alice looks at it in a focused tab: heard, but nothing to alert.
    await widget_says(widget, "It smells of smoke")
    await frames_become(a, [f"new:{conv}", f"customer_reply:{conv}"])
    assert await tones(a) == a_tones
    await expect(a).to_have_title(TITLE)
    # Alice's tab goes to the background: the next reply is counted and chimes.
    await to_background(a)
    await widget_says(widget, "Now there are flames")
    await expect(a).to_have_title(f"(1) {TITLE}")
    assert await tones(a) == a_tones + 2  # one chime: two notes
    assert (await recorded(a))["notes"] == []  # she said "not now"
    # Back in front, the open conversation is seen.
    await to_front(a)
    await expect(a).to_have_title(TITLE)

    # Alice's own reply alerts nobody; the replies were hers, so Bob heard of none of it.
    await composer_send(a, "Please step away from it.")
    await expect(widget.locator("body")).to_contain_text("Please step away from it.")
    await expect(b).to_have_title(f"(1) {TITLE}")
    assert len((await recorded(b))["notes"]) == 1
    assert await frames(b) == [f"new:{conv}"]
    assert await frames(a) == [f"new:{conv}", f"customer_reply:{conv}", f"customer_reply:{conv}"]

    # Bob follows Second level in his profile, then goes away: a transfer there is counted
    # but makes no sound and no notification.
    await b.get_by_role("button", name="My profile").click()
    alerts_form = b.get_by_test_id("alerts-form")
    await alerts_form.get_by_label("Second level").check()
    await prefs_become(world, bob, {"desktop": True, "groups": ["second_level"]})
    await b.get_by_label("My status").select_option("away")
    b_tones = await tones(b)
    r = await api(world, alice, "POST", f"/api/tickets/{conv}/transfer", {"level": 2, "group": "second_level"})
    assert r.status_code == 200, r.text
    await expect(b).to_have_title(f"(1) {TITLE}")  # the same conversation: still one
    other = await start_conversation(world.services, principal_of((await visitor_session(
        world.services, site_key=world.site_key, name="Walter")).user), subject="Invoice missing")
    await expect(b).to_have_title(f"(2) {TITLE}")
    assert await tones(b) == b_tones and len((await recorded(b))["notes"]) == 1

    # Back online: the next alert rings again, and clicking its notification opens the
    # conversation in the console.
    await b.get_by_label("My status").select_option("online")
    r = await api(world, admin, "POST", f"/api/tickets/{other.conversation.id}/assign", {"assignee_id": bob.id})
    assert r.status_code == 200, r.text
    await notes_become(b, [
        {"title": f"New conversation #{conv}", "body": "My printer is on fire"},
        {"title": f"#{other.conversation.id} was assigned to you", "body": "Invoice missing"}])
    assert await tones(b) > b_tones
    await b.evaluate("window.__alerts.notes[1].onclick()")
    await expect(b.locator(".conv-head h1")).to_contain_text(f"#{other.conversation.id}")
    await expect(b).to_have_title(f"(1) {TITLE}")


async def test_a_german_console_alerts_in_german_and_its_switches_and_language_are_saved(
        browser: Browser, world: WidgetWorld) -> None:
    gerda = await staff(world, "Gerda")
    admin = await staff(world, "Ada", Role.SUPPORT_ADMIN)
    await no_auto_assignment(world, admin, gerda)
    r = await api(world, gerda, "PATCH", "/api/me", {"language": "de"})
    assert r.status_code == 200, r.text
    _, page = await open_console(browser, world, gerda)
    prompt = page.get_by_test_id("alert-prompt")
    await expect(prompt).to_contain_text("Desktop-Benachrichtigung")
    await prompt.get_by_role("button", name="Desktop-Benachrichtigungen einschalten").click()
    await expect(page.get_by_role("status").last).to_have_text("Desktop-Benachrichtigungen sind eingeschaltet.")

    visitor = await visitor_session(world.services, site_key=world.site_key, name="Karl")
    first = await start_conversation(world.services, principal_of(visitor.user), subject="Drucker brennt")
    await expect(page).to_have_title("(1) Support-Konsole")
    await notes_become(page, [{"title": f"Neues Gespräch #{first.conversation.id}", "body": "Drucker brennt"}])
    assert await tones(page) > 0

    # The queues' headings are the console's own words, not the server's English names.
    await expect(page.locator('section[data-queue="new"] h2')).to_contain_text("Neu")
    await expect(page.locator('section[data-queue="waiting"] h2')).to_contain_text("Wartet auf den Kunden")
    # The profile, in German: the sound off (saved for her), the desktop switch on.
    await page.get_by_role("button", name="Mein Profil").click()
    form = page.get_by_test_id("alerts-form")
    await expect(form).to_contain_text("Hinweise")
    await expect(form.get_by_label("Desktop-Benachrichtigungen anzeigen")).to_be_checked()
    await form.get_by_label("Einen Ton abspielen").uncheck()
    await prefs_become(world, gerda, {"desktop": True, "sound": False})
    before = await tones(page)
    second = await start_conversation(world.services, principal_of(visitor.user), subject="Noch ein Drucker")
    await expect(page).to_have_title("(2) Support-Konsole")
    await notes_become(page, [{"title": f"Neues Gespräch #{first.conversation.id}", "body": "Drucker brennt"},
                              {"title": f"Neues Gespräch #{second.conversation.id}", "body": "Noch ein Drucker"}])
    notes = (await recorded(page))["notes"]
    assert notes[-1]["title"] == f"Neues Gespräch #{second.conversation.id}" and await tones(page) == before

    # The language picker: back to the browser's language (en-US here); the page reloads in it.
    picker = page.get_by_test_id("language-picker")
    await expect(picker).to_have_value("de")
    await picker.select_option("")
    await page.get_by_role("button", name="Sprache übernehmen").click()
    await console_live(page)
    await expect(page.get_by_test_id("alert-prompt")).to_have_count(0)  # answered once: never again
    async with world.services.sessions() as db:
        user = await db.scalar(select(User).where(User.id == gerda.id))
        assert user is not None and (user.language, user.language_chosen) == ("de", False)
    await page.get_by_role("button", name="My profile").click()
    await expect(page.get_by_test_id("alerts-form")).to_contain_text("Play a sound")
    await expect(page.get_by_test_id("language-picker")).to_have_value("")


async def test_a_partners_console_is_alerted_of_a_new_chat_in_its_queue_at_once(
        browser: Browser, world: WidgetWorld) -> None:
    svc = world.services
    reseller = (await directory.create_organization(svc, None, name="Partner Co", kind=OrgKind.RESELLER)).organization
    company = (await directory.create_organization(svc, None, name="Client Co", kind=OrgKind.CUSTOMER,
                                                  parent=reseller.id)).organization
    admin, alice = await staff(world, "Ada", Role.SUPPORT_ADMIN), await staff(world, "Alice")
    assert (await api(world, admin, "PUT", f"/api/organizations/{reseller.id}/reseller-settings",
                      {"own_first_line": True})).status_code == 200
    rex = await staff(world, "Rex", Role.RESELLER_ADMIN, organization=reseller.id)
    carl = await staff(world, "Carl", Role.CUSTOMER, organization=company.id)
    _, a = await open_console(browser, world, alice)
    _, r = await open_console(browser, world, rex)
    await expect(r.locator(".brand")).to_have_text("Partner console — Partner Co")
    await r.get_by_test_id("alert-prompt").get_by_role("button", name="Turn on desktop notifications").click()
    await prefs_become(world, rex, {"desktop": True})

    created = await api(world, carl, "POST", "/api/conversations", {"subject": "VPN drops", "body": "Every hour"})
    conv = int(created.json()["conversation"]["id"])
    # At once, not at the next 30 s poll: the alert re-reads the partner's queue too.
    await expect(item(r, f"partner:{reseller.id}", conv)).to_contain_text("VPN drops", timeout=10000)
    await expect(r).to_have_title(f"(1) {TITLE}")
    await notes_become(r, [{"title": f"New conversation #{conv}", "body": "VPN drops"}])
    assert await tones(r) > 0
    # Not the platform's: Alice heard nothing.
    assert await frames(a) == []
    await expect(a).to_have_title(TITLE)

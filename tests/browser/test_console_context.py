"""Issue 18, item 3, in Chromium: what the agent sees beside a chat — where the visitor is
(page, referrer, language, local time, browser; the page changing live as they move), one
name for a nameless visitor, the plan the SLA really uses, the SLA's states as the API
gives them, the auto-close time — and the ticket actions of the side panel: a transfer to
another line that releases the claim (in a Spanish console), action tasks completed,
reassigned and re-dated. The visitor is on the customer's site, another origin, through
the real widget."""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from playwright.async_api import Browser, FrameLocator, Locator, Page, expect
from sqlalchemy import update

from chat.auth import principal_of, visitor_session
from chat.authz import Principal
from chat.conversations import start_conversation
from chat.models import Organization, Role
from escalation.policy_table import PlanTier
from tests.browser.console_helpers import (
    api,
    composer_send,
    history,
    item,
    no_auto_assignment,
    open_console,
    staff,
)
from tests.browser.widget_harness import TIMEOUT_MS, WidgetWorld, new_page, open_widget


async def ticket_number(frame: FrameLocator) -> int:
    text = await frame.locator(".ticket").inner_text()
    match = re.search(r"(\d+)", text)  # "#12", "nº 12"
    assert match, text
    return int(match.group(1))


async def open_item(page: Page, key: str, conversation_id: int) -> None:
    await item(page, key, conversation_id).click()
    await expect(page.locator(".conv-head h1")).to_contain_text(f"#{conversation_id}")


def fact(page: Page, testid: str) -> Locator:
    return page.locator("aside").get_by_test_id(testid)


async def anonymous_chat(world: WidgetWorld, subject: str) -> tuple[int, Principal]:
    """A visitor who gave no name starts a chat through the site: (conversation, visitor)."""
    session = await visitor_session(world.services, site_key=world.site_key, name="")
    visitor = principal_of(session.user)
    conv = await start_conversation(world.services, visitor, subject=subject)
    return conv.conversation.id, visitor


async def test_the_agent_sees_where_the_visitor_is_and_the_page_changes_live(browser: Browser, world: WidgetWorld) -> None:
    alice = await staff(world, "Alice")
    admin = await staff(world, "Ada", Role.SUPPORT_ADMIN)
    await no_auto_assignment(world, admin, alice)
    _, a = await open_console(browser, world, alice)

    # A visitor in São Paulo, browsing in Portuguese, comes from a search engine to the shop.
    visitor = await browser.new_context(locale="pt-BR", timezone_id="America/Sao_Paulo")
    shop = await new_page(visitor)
    await shop.goto(world.page_url(), referer="https://search.example/?q=printer")
    frame = await open_widget(shop)
    await frame.locator("#f-name").fill("Vera Visitor")
    await frame.locator("#f-description").fill("Where is my order?")
    await frame.locator("button[type=submit]").click()
    await expect(frame.locator(".ticket")).to_have_text(re.compile(r"\d"), timeout=TIMEOUT_MS)
    conv = await ticket_number(frame)

    await open_item(a, "new", conv)
    page_fact = fact(a, "context-page")
    await expect(page_fact.get_by_role("link", name="Shop")).to_have_attribute("href", re.compile(r"^http://localhost:\d+/\?site="))
    await expect(fact(a, "context-referrer")).to_have_text("https://search.example/?q=printer")
    await expect(fact(a, "context-language")).to_contain_text("pt-BR")
    await expect(fact(a, "context-language")).to_contain_text("Brazilian Portuguese")
    clock = a.locator("aside").get_by_test_id("local-time")
    await expect(clock).to_contain_text("America/Sao_Paulo")
    # Their time, not the agent's: São Paulo's hour and minute (this one or the next).
    there = datetime.now(ZoneInfo("America/Sao_Paulo"))
    minutes = "|".join((there + timedelta(minutes=n)).strftime(f) for n in (0, 1) for f in ("%H:%M", "%I:%M"))
    await expect(clock).to_have_text(re.compile(f"({minutes})"))
    await expect(fact(a, "context-browser")).to_have_text(re.compile(r"^Chrome \d+ on Linux$"))

    # The visitor moves on inside the shop (a single-page app: the hash and the title
    # change): the panel follows without the agent doing anything.
    await shop.evaluate("document.title = 'Checkout — Shop'; location.hash = 'checkout'")
    await expect(page_fact.get_by_role("link", name="Checkout — Shop")).to_have_attribute(
        "href", re.compile(r"#checkout$"))
    # A new page of the site (a full load) reports too.
    await shop.goto(world.page_url(color="#123456"))
    await expect(page_fact).to_contain_text("color=%23123456")


async def test_a_nameless_visitor_has_one_name_and_the_panel_shows_the_plan_the_sla_uses(
    browser: Browser, world: WidgetWorld
) -> None:
    # The site's company is on the regular plan; its anonymous visitors' tickets run on basic.
    async with world.services.sessions.begin() as db:
        await db.execute(update(Organization).where(Organization.name == "Acme").values(plan_tier=PlanTier.REGULAR))
    alice = await staff(world, "Alice")
    admin = await staff(world, "Ada", Role.SUPPORT_ADMIN)
    await no_auto_assignment(world, admin, alice)
    _, a = await open_console(browser, world, alice)
    conv, principal = await anonymous_chat(world, "Lost parcel")
    name = f"Visitor #{principal.user_id}"

    await expect(item(a, "new", conv)).to_contain_text(name)
    await open_item(a, "new", conv)
    aside = a.locator("aside")
    # What the panel said before: "(anonymous visitor)" on plan "regular".
    await expect(aside).to_contain_text(name)
    await expect(aside).not_to_contain_text("regular")
    await expect(aside).not_to_contain_text("Regular")
    await expect(aside).to_contain_text("Basic plan")
    await expect(fact(a, "customer-name")).to_have_text(name)
    await expect(history(a).locator(".sys").first).to_contain_text(f"{name} started the conversation")
    # The company is shown as known through its site, without its plan; the SLA's is basic.
    await expect(fact(a, "organization")).to_contain_text("Acme (through its website only)")
    await expect(fact(a, "sla-plan")).to_contain_text("Basic plan")
    for wrong in ("someone", "(anonymous visitor)", "(no name)", "anonymous visitor"):
        await expect(a.locator("body")).not_to_contain_text(wrong)

    # The same visitor comes back with another question: the panel lists the first
    # ticket among their earlier ones, and a click opens it.
    again = await start_conversation(world.services, principal, subject="Parcel found")
    later = again.conversation.id
    await open_item(a, "new", later)
    earlier = a.locator("aside").get_by_test_id("earlier-tickets")
    await expect(earlier).to_contain_text(f"#{conv} Lost parcel")
    await earlier.get_by_role("button", name=f"#{conv} Lost parcel").click()
    await expect(a.locator(".conv-head h1")).to_contain_text(f"#{conv}")


async def test_sla_states_and_the_auto_close_time_are_the_servers(browser: Browser, world: WidgetWorld) -> None:
    alice = await staff(world, "Alice")
    admin = await staff(world, "Ada", Role.SUPPORT_ADMIN)
    await no_auto_assignment(world, admin, alice)
    _, a = await open_console(browser, world, alice)
    conv, _ = await anonymous_chat(world, "Broken screen")
    # Escalated to a tracked ticket: every clock of its policy runs.
    r = await api(world, alice, "POST", f"/api/conversations/{conv}/escalate", {})
    assert r.status_code == 200, r.text
    await open_item(a, "new", conv)
    await expect(a.locator("aside")).to_contain_text("left")

    # Answered: the first response is met. Waiting on the customer: the rest pauses, and
    # the ticket will close by itself at the server's time unless they answer.
    await composer_send(a, "Please send a photo.")
    aside = a.locator("aside")
    await expect(aside).to_contain_text("met")
    r = await api(world, alice, "POST", f"/api/tickets/{conv}/status", {"action": "wait_on_customer"})
    assert r.status_code == 200, r.text
    ticket = r.json()["ticket"]
    assert ticket["deadlines"]["first_response"]["state"] == "met"
    assert ticket["deadlines"]["resolution"]["state"] == "paused"
    # Before: "SLA running" while paused, and "—" for both targets (due_at is null then).
    await expect(aside).to_contain_text("paused (waiting on the customer)")
    await expect(aside).not_to_contain_text("SLA running")
    await expect(aside).not_to_contain_text("first response—")
    await expect(fact(a, "sla-first_response")).to_have_text("met")
    await expect(fact(a, "sla-resolution")).to_have_text("paused (waiting on the customer)")
    await expect(fact(a, "sla-summary")).to_have_text("paused (waiting on the customer)")
    closes = await a.evaluate(
        "(iso) => new Intl.DateTimeFormat('en', { dateStyle: 'medium', timeStyle: 'short' }).format(new Date(iso))",
        ticket["auto_close_at"])
    await expect(fact(a, "auto-close")).to_have_text(f"on {closes}, unless the customer answers")


async def test_in_spanish_a_transfer_to_another_line_releases_the_claim_and_tasks_are_worked(
    browser: Browser, world: WidgetWorld
) -> None:
    alice, bob = await staff(world, "Alice"), await staff(world, "Bob")
    admin = await staff(world, "Ada", Role.SUPPORT_ADMIN)
    await no_auto_assignment(world, admin, alice, bob)
    assert (await api(world, alice, "PATCH", "/api/me", {"language": "es"})).status_code == 200
    conv, _ = await anonymous_chat(world, "Router reboots")
    _, a = await open_console(browser, world, alice)
    _, b = await open_console(browser, world, bob)

    # Alice takes it (her view: Mine), then hands it to the second line.
    await a.get_by_test_id("view-mine").click()
    await expect(a.get_by_test_id("view-mine")).to_have_text("Míos")
    r = await api(world, alice, "POST", f"/api/desk/conversations/{conv}/claim", {})
    assert r.status_code == 200, r.text
    await expect(item(a, "new", conv)).to_be_visible()
    await open_item(a, "new", conv)
    await a.locator("[data-action=transfer]").click()
    dialog = a.locator("dialog")
    await expect(dialog.get_by_role("heading")).to_have_text("Transferir")
    await expect(dialog).to_contain_text("Deja de atenderlo")
    target = dialog.get_by_label("Transferir a")
    # The lines are offered, not only groups; where it is now cannot be picked.
    await expect(target.locator("optgroup[label='Niveles de soporte'] option")).to_have_count(3)
    await expect(target.locator("option[value='level:1']")).to_be_disabled()
    await target.select_option("level:2")
    await dialog.get_by_role("button", name="Transferir").click()
    # Released: out of Alice's Mine, waiting for the new line with nobody on it.
    await expect(item(a, "level:2", conv)).to_have_count(0)
    await expect(a.get_by_test_id("queues").locator(".item")).to_have_count(0)
    fresh = (await api(world, bob, "GET", f"/api/desk/items/{conv}")).json()["item"]
    assert fresh["assignee"] is None and fresh["queue"] == "level:2"
    await expect(item(b, "level:2", conv)).to_contain_text("unassigned")

    # Action tasks: Alice (All view) completes, reassigns to Bob and re-dates one.
    r = await api(world, alice, "POST", f"/api/tickets/{conv}/tasks", {"text": "Llamar al proveedor", "type": "software"})
    assert r.status_code == 201, r.text
    task_id = r.json()["task"]["id"]
    await a.get_by_test_id("view-all").click()
    await open_item(a, "level:2", conv)
    task = a.locator("aside").get_by_test_id("task")
    await expect(task).to_contain_text("Llamar al proveedor")
    await expect(task.get_by_test_id("task-facts")).to_have_text("abierta")
    await task.get_by_role("button", name="Reasignar").click()
    await a.locator("dialog").get_by_label("Quién la hace").select_option(label="Bob")
    await a.locator("dialog").get_by_role("button", name="Reasignar").click()
    await expect(task.get_by_test_id("task-facts")).to_contain_text("para Bob")
    await task.get_by_role("button", name="Cambiar fecha").click()
    await a.locator("dialog").get_by_label("Vence").fill("2031-05-20")
    await a.locator("dialog").get_by_role("button", name="Guardar fecha").click()
    await expect(task.get_by_test_id("task-facts")).to_contain_text("2031")
    await task.get_by_role("button", name="Completar").click()
    await expect(task.get_by_test_id("task-facts")).to_contain_text("hecha")
    stored = (await api(world, alice, "GET", f"/api/tickets/{conv}")).json()["ticket"]["tasks"]
    assert [(t["id"], t["status"], t["assignee_id"], t["due_at"][:10]) for t in stored] == [
        (task_id, "done", bob.id, "2031-05-20")]
    # Bob's console shows the same task, for him.
    await open_item(b, "level:2", conv)
    await expect(b.locator("aside").get_by_test_id("task-facts")).to_contain_text("for Bob")

"""Group chats in the console (issue 18, item 2) in real Chromium: a group member writes
in the portal, the agents' consoles show it live in the Groups queue with an unread
count, an agent opens it, answers (the member reads it in the portal), adds an internal
note (which never reaches the member: not the portal, not their socket, not their
history over HTTP) and opens a ticket from the member's message. One test in English,
one in Russian with read-only staff (in English) watching."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from playwright.async_api import Browser, Locator, Page, expect

from chat import directory
from chat.client import ChatClient
from chat.groups import requests, service
from chat.models import OrgKind, Role
from tests.browser.console_helpers import api, api_as, history, open_console, open_portal, queue, staff
from tests.browser.test_console_defects_inbox import png
from tests.browser.widget_harness import WidgetWorld
from tests.chat.groups.helpers import Person, person


@pytest.fixture(autouse=True)
async def pages_closed_first(browser: Browser, world: WidgetWorld) -> AsyncIterator[None]:
    """Every page closed before the server stops (this fixture's teardown runs before
    both): a console's request still in flight at shutdown leaves a database connection
    behind, which a later test then sees collected unclosed."""
    yield
    for context in browser.contexts:
        await context.close()


@dataclass(frozen=True)
class Company:
    organization_id: int
    member: Person
    partner_admin: Person
    founder: Person
    conversation_id: int


async def acme_with_a_group(world: WidgetWorld) -> Company:
    """Acme (a customer of a reseller) with a group "Ops" and Mia, a member of it."""
    svc = world.services
    reseller = (await directory.create_organization(svc, None, name="Partner One", kind=OrgKind.RESELLER)).organization
    acme = (await directory.create_organization(svc, None, name="Acme", kind=OrgKind.CUSTOMER,
                                                parent=reseller.id)).organization
    mia = await person(svc, "mia@acme.example", Role.CUSTOMER, acme.id, password=True)
    partner = await person(svc, "admin@partner.example", Role.RESELLER_ADMIN, reseller.id)
    founder = await person(svc, "founder@support.example", Role.SUPPORT_ADMIN)
    group = await service.create_group(svc, founder.principal, organization=acme.id, name="Ops")
    made = await requests.request_join(svc, mia.principal, group="Ops")
    await requests.decide(svc, partner.principal, made.id, approve=True)
    return Company(acme.id, mia, partner, founder, group.conversation_id)


async def member_opens_the_group(browser: Browser, world: WidgetWorld, member: Person) -> Page:
    _, portal = await open_portal(browser, world, member.email)
    await portal.locator('#groups li[data-group="Ops"]').get_by_role("button", name="Open chat").click()
    await expect(portal.locator("#chat-log")).to_contain_text("joined the group")
    return portal


async def member_writes(portal: Page, text: str) -> None:
    await portal.locator("#chat-input").fill(text)
    await portal.locator("#chat-input").press("Enter")
    await expect(portal.locator("#chat-log")).to_contain_text(text)


def page_errors(*pages: Page) -> list[str]:
    """What the consoles throw (a queue row without an SLA badge once broke every update)."""
    errors: list[str] = []
    for page in pages:
        page.on("pageerror", lambda err: errors.append(str(err)))
    return errors


def group_row(page: Page, conversation_id: int) -> Locator:
    return queue(page, "groups").locator(f"[data-conversation-id='{conversation_id}']")


async def test_an_agent_answers_a_group_chat_from_the_console_keeps_a_note_internal_and_opens_a_ticket(
    browser: Browser, world: WidgetWorld, tmp_path: Path
) -> None:
    anna, boris = await staff(world, "Anna"), await staff(world, "Boris")
    acme = await acme_with_a_group(world)
    conv = acme.conversation_id
    _, a = await open_console(browser, world, anna)
    _, b = await open_console(browser, world, boris)
    errors = page_errors(a, b)
    for page in (a, b):
        await expect(queue(page, "groups").get_by_test_id("count")).to_have_text("0")
        await expect(group_row(page, conv)).to_contain_text("Ops")
        await expect(group_row(page, conv)).to_contain_text("Acme")

    # The member writes in the portal: both consoles count it, live.
    portal = await member_opens_the_group(browser, world, acme.member)
    await member_writes(portal, "Our VPN is down since 9:00")
    for page in (a, b):
        await expect(group_row(page, conv).get_by_test_id("unread")).to_have_text("1")
        await expect(queue(page, "groups").get_by_test_id("count")).to_have_text("1")

    # Anna opens it: the history, the group's facts, no ticket actions; read, for her only.
    await group_row(a, conv).click()
    await expect(a.locator(".conv-head h1")).to_contain_text("Ops")
    await expect(a.get_by_test_id("group-badge")).to_have_text("Group chat")
    await expect(a.get_by_role("button", name="I'll answer")).to_have_count(0)
    message = history(a).locator(".msg", has_text="Our VPN is down since 9:00")
    await expect(message).to_contain_text("Mia")
    await expect(queue(a, "groups").get_by_test_id("count")).to_have_text("0")
    await expect(group_row(b, conv).get_by_test_id("unread")).to_have_text("1")

    # She answers with the same composer; the member reads it in the portal.
    box = a.get_by_label("Message")
    await box.fill("We are on it, Mia")
    await box.press("Enter")
    await expect(portal.locator("#chat-log")).to_contain_text("We are on it, Mia")
    await expect(group_row(b, conv).get_by_test_id("unread")).to_have_text("2")
    # Support's own answer is no customer's request: no ticket from it.
    answer = history(a).locator(".msg", has_text="We are on it, Mia")
    await expect(answer).to_be_visible()
    await expect(answer.get_by_role("button", name="Open a ticket")).to_have_count(0)

    # An internal note: her colleague sees it, the member never does.
    async with ChatClient(world.ws_url + "/ws", acme.member.token, timeout=10) as member_socket:
        await member_socket.join(conv)
        await a.get_by_label("Internal note (staff only)").check()
        await box.fill("Mia's company is on a trial plan")
        await box.press("Enter")
        await a.get_by_label("Internal note (staff only)").uncheck()
        await expect(history(a).locator(".msg.note")).to_contain_text("Mia's company is on a trial plan")
        await group_row(b, conv).click()
        await expect(history(b).locator(".msg.note")).to_contain_text("Mia's company is on a trial plan")
        await box.fill("A fix is being deployed")
        await box.press("Enter")
        await expect(portal.locator("#chat-log")).to_contain_text("A fix is being deployed")
        await member_socket.wait_for_seq(conv, max(e["seq"] for e in member_socket.log[conv]))
        assert all("trial plan" not in (e.get("body") or "") for e in member_socket.log[conv])
    await expect(portal.locator("#chat-log")).not_to_contain_text("trial plan")
    # A file, with the same composer: uploaded when chosen, sent with the reply.
    diagram = tmp_path / "diagram.png"
    diagram.write_bytes(png(32, 24))
    await a.get_by_label("Attach files").set_input_files(str(diagram))
    await expect(a.get_by_test_id("tray")).to_contain_text("ready")
    await box.fill("Here is the network diagram")
    await box.press("Enter")
    await expect(a.get_by_test_id("tray")).to_be_empty()
    await expect(portal.locator("#chat-log")).to_contain_text("Here is the network diagram")
    thumb = history(a).locator(".msg", has_text="Here is the network diagram").locator("img.thumb")
    await expect(thumb).to_have_attribute("src", re.compile(r"^blob:"))
    await a.wait_for_function("() => [...document.querySelectorAll('[data-testid=history] img.thumb')]"
                              ".every((i) => i.complete)")
    assert await thumb.evaluate("img => img.naturalWidth") == 32

    r = await api_as(world, acme.member.token, "GET", f"/api/conversations/{conv}/events?after_seq=0")
    assert r.status_code == 200, r.text
    messages = [e for e in r.json()["events"] if e["kind"] != "system"]
    assert [e["body"] for e in messages] == [
        "Our VPN is down since 9:00", "We are on it, Mia", "A fix is being deployed", "Here is the network diagram"]
    assert [f["filename"] for f in messages[-1]["data"]["attachments"]] == ["diagram.png"]

    # A ticket from the member's message: she is its requester, the group links to it.
    await message.get_by_role("button", name="Open a ticket").click()
    await expect(a.locator("dialog")).to_contain_text("Open a ticket from this message?")
    await a.locator("dialog").get_by_role("button", name="Open ticket").click()
    toast = a.locator(".toast", has_text="opened from the message")
    await expect(toast).to_be_visible()
    match = re.search(r"#(\d+)", await toast.inner_text())
    assert match, await toast.inner_text()
    ticket_id = int(match.group(1))
    r = await api(world, anna, "GET", f"/api/tickets/{ticket_id}")
    assert r.status_code == 200, r.text
    ticket = r.json()["ticket"]
    assert (ticket["requester"]["id"], ticket["channel"], ticket["linked_from"]) == (
        acme.member.id, "group_chat", conv)
    await expect(history(a).locator(".sys").last).to_contain_text(f"#{ticket_id}")
    await expect(portal.locator("#chat-log")).to_contain_text(f"#{ticket_id}")
    await a.evaluate("1")  # every page event raised so far has reached the test
    assert errors == []


async def test_in_russian_the_groups_queue_rings_live_and_read_only_staff_only_look(
    browser: Browser, world: WidgetWorld
) -> None:
    olga = await staff(world, "Olga")
    viewer = await staff(world, "Vera", Role.READ_ONLY)
    # Olga picks Russian; Vera (read-only: she changes nothing, her profile neither) keeps English.
    r = await api(world, olga, "PATCH", "/api/me", {"language": "ru"})
    assert r.status_code == 200, r.text
    acme = await acme_with_a_group(world)
    conv = acme.conversation_id
    _, o = await open_console(browser, world, olga)
    _, v = await open_console(browser, world, viewer)
    errors = page_errors(o, v)
    await expect(queue(o, "groups").locator("h2")).to_contain_text("Группы")

    portal = await member_opens_the_group(browser, world, acme.member)
    await member_writes(portal, "Принтер снова не печатает")
    await expect(group_row(o, conv).get_by_test_id("unread")).to_have_text("1")
    await expect(group_row(v, conv).get_by_test_id("unread")).to_have_text("1")

    await group_row(o, conv).click()
    await expect(o.get_by_test_id("group-badge")).to_have_text("Групповой чат")
    await expect(history(o)).to_contain_text("Принтер снова не печатает")
    await expect(queue(o, "groups").get_by_test_id("count")).to_have_text("0")
    box = o.get_by_label("Сообщение")
    await box.fill("Уже смотрим, Mia")
    await box.press("Enter")
    await expect(portal.locator("#chat-log")).to_contain_text("Уже смотрим, Mia")

    # Read-only staff see the chat and keep their own unread count, but write nothing.
    await group_row(v, conv).click()
    await expect(history(v)).to_contain_text("Уже смотрим, Mia")
    await expect(queue(v, "groups").get_by_test_id("count")).to_have_text("0")
    await expect(v.get_by_label("Message")).to_be_disabled()
    await expect(v.get_by_role("button", name="Send")).to_be_disabled()
    await expect(v.get_by_label("Internal note (staff only)")).to_be_disabled()
    await expect(history(v).locator(".msg", has_text="Принтер").get_by_role("button", name="Open a ticket")).to_be_disabled()

    # A group made after the consoles read their queues shows up on its first message.
    svc = world.services
    billing = await service.create_group(svc, acme.founder.principal, organization=acme.organization_id, name="Billing")
    made = await requests.request_join(svc, acme.member.principal, group="Billing")
    await requests.decide(svc, acme.partner_admin.principal, made.id, approve=True)
    async with ChatClient(world.ws_url + "/ws", acme.member.token, timeout=10) as member_socket:
        await member_socket.join(billing.conversation_id)
        await member_socket.send(billing.conversation_id, "Счёт выставлен неверно")
    await expect(group_row(o, billing.conversation_id)).to_contain_text("Billing")
    await expect(group_row(o, billing.conversation_id).get_by_test_id("unread")).to_have_text("1")
    await expect(queue(o, "groups").get_by_test_id("count")).to_have_text("1")
    await o.evaluate("1")
    assert errors == []

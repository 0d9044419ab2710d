"""The customer area in real Chromium: a customer asks to join her company's group, her
reseller's admin approves it live, and she chats there with support."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from playwright.async_api import Browser, BrowserContext, Page, expect

from chat import directory
from chat.client import ChatClient
from chat.groups import requests, service
from chat.models import OrgKind, Role
from tests.chat.groups.helpers import PASSWORD, person
from tests.support.live import LiveServer

TIMEOUT_MS = 10_000
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64


async def _signed_in(browser: Browser, web: LiveServer, email: str) -> tuple[BrowserContext, Page]:
    context = await browser.new_context()
    context.set_default_timeout(TIMEOUT_MS)
    page = await context.new_page()
    await page.goto(web.base_url + "/portal/")
    await page.get_by_label("E-mail").fill(email)
    await page.get_by_label("Password", exact=True).fill(PASSWORD)
    await page.get_by_role("button", name="Sign in").click()
    await expect(page.locator("#live")).to_have_text("live")
    return context, page


async def _first_message(client: ChatClient, conversation_id: int, author_id: int) -> dict[str, Any]:
    for _ in range(TIMEOUT_MS // 50):
        for event in client.log[conversation_id]:
            if event["kind"] == "message" and event["author"]["id"] == author_id:
                return event
        await asyncio.sleep(0.05)
    raise AssertionError(f"no message from user {author_id} reached the agent's socket")


async def test_request_approve_then_chat(browser: Browser, web: LiveServer) -> None:
    svc = web.services
    reseller = (await directory.create_organization(svc, None, name="Partner One", kind=OrgKind.RESELLER)).organization
    acme = (await directory.create_organization(svc, None, name="Acme", kind=OrgKind.CUSTOMER, parent=reseller.id)).organization
    alice = await person(svc, "alice@acme.example", Role.CUSTOMER, acme.id, password=True)
    await person(svc, "admin@partner.example", Role.RESELLER_ADMIN, reseller.id, password=True)
    agent = await person(svc, "agent@support.example", Role.AGENT)
    group = await service.create_group(svc, agent.principal, organization=acme.id, name="Ops")

    customer_ctx, customer = await _signed_in(browser, web, "alice@acme.example")
    admin_ctx, admin = await _signed_in(browser, web, "admin@partner.example")
    try:
        ops = customer.locator('#groups li[data-group="Ops"]')
        await expect(ops.get_by_test_id("membership")).to_have_text("not a member")
        await expect(admin.locator("#to-decide-empty")).to_be_visible()

        await ops.get_by_role("button", name="Request to join").click()
        await expect(ops.get_by_test_id("membership")).to_have_text("pending")
        await expect(customer.locator("#my-requests li")).to_contain_text("pending")

        # The admin's list fills in live (a join_request frame), without a reload.
        request = admin.locator('#to-decide li[data-user="alice@acme.example"]')
        await expect(request).to_contain_text("Alice → Ops")
        await request.get_by_role("button", name="Approve").click()
        await expect(admin.locator("#to-decide-empty")).to_be_visible()

        # Her page learns of it live (membership frame) and lets her into the chat.
        await expect(ops.get_by_test_id("membership")).to_have_text("member")
        await expect(customer.locator("#groups-notice")).to_have_text("You are now a member of Ops.")
        await ops.get_by_role("button", name="Open chat").click()
        await expect(customer.locator("#chat-log")).to_contain_text("Alice joined the group")

        async with ChatClient(web.ws_url + "/ws", agent.token, timeout=10) as support:
            await support.join(group.conversation_id)
            await customer.locator("#chat-input").fill("Hello from the browser <b>not bold</b>")
            await customer.locator("#chat-input").press("Enter")
            seen = await _first_message(support, group.conversation_id, alice.id)
            assert seen["body"] == "Hello from the browser <b>not bold</b>"
            assert seen["author"]["id"] == alice.id
            await support.send(group.conversation_id, "Hi Alice, support here")
            await expect(customer.locator("#chat-log")).to_contain_text("Hi Alice, support here")
        # Text stays text: no element was made from the message.
        await expect(customer.locator("#chat-log b")).to_have_count(0)
        await expect(customer.locator("#chat-log")).to_contain_text("<b>not bold</b>")
    finally:
        await customer_ctx.close()
        await admin_ctx.close()


async def test_support_alerts_and_removes_live(browser: Browser, web: LiveServer, tmp_path: Path) -> None:
    svc = web.services
    reseller = (await directory.create_organization(svc, None, name="Partner One", kind=OrgKind.RESELLER)).organization
    acme = (await directory.create_organization(svc, None, name="Acme", kind=OrgKind.CUSTOMER, parent=reseller.id)).organization
    alice = await person(svc, "alice@acme.example", Role.CUSTOMER, acme.id, password=True)
    agent = await person(svc, "agent@support.example", Role.AGENT, password=True)
    group = await service.create_group(svc, agent.principal, organization=acme.id, name="Ops")
    made = await requests.request_join(svc, alice.principal, group="Ops")
    admin = await person(svc, "admin@partner.example", Role.RESELLER_ADMIN, reseller.id)
    await requests.decide(svc, admin.principal, made.id, approve=True)
    shot = tmp_path / "map.png"
    shot.write_bytes(PNG)

    customer_ctx, customer = await _signed_in(browser, web, "alice@acme.example")
    support_ctx, support = await _signed_in(browser, web, "agent@support.example")
    try:
        await customer.locator('#groups li[data-group="Ops"]').get_by_role("button", name="Open chat").click()
        await expect(customer.locator("#chat-log")).to_contain_text("Alice joined the group")

        await support.locator("#alert-org").select_option(label="Acme")
        await support.locator("#alert-type").select_option("suspicious_activity")
        await support.locator("#alert-title").fill("Logins from a new country")
        await support.locator("#alert-body").fill("Was it you? <img src=x onerror=alert(1)>")
        await support.locator("#alert-files").set_input_files(str(shot))
        await support.get_by_role("button", name="Send alert").click()
        await expect(support.locator("#manage-notice")).to_have_text('Alert "Logins from a new country" sent.')

        alert = customer.locator("#alerts li").first
        await expect(alert).to_contain_text("Suspicious activity")
        await expect(alert).to_contain_text("Logins from a new country")
        await expect(alert).to_contain_text("<img src=x onerror=alert(1)>")
        await expect(alert.get_by_role("link", name="map.png")).to_be_visible()
        await expect(customer.locator("#alerts img")).to_have_count(0)

        await support.locator('#groups li[data-group="Ops"]').get_by_role("button", name="Members").click()
        member = support.locator('#members li[data-member="alice@acme.example"]')
        await member.get_by_label("reason").fill("moved to billing")
        await member.get_by_role("button", name="Remove").click()
        await expect(support.locator("#members-empty")).to_be_visible()

        await expect(customer.locator("#chat-notice")).to_have_text(
            "You are no longer a member of this group. moved to billing")
        await expect(customer.locator("#chat-send")).to_be_disabled()
        await expect(customer.locator('#groups li[data-group="Ops"]').get_by_test_id("membership")).to_have_text(
            "removed")
        assert all(group.conversation_id not in c.rooms for c in web.hub.by_user.get(alice.id, ()))
    finally:
        await customer_ctx.close()
        await support_ctx.close()

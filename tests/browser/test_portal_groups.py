"""Group chats in the portal, in real Chromium: a member on a phone in Brazilian Portuguese
sees when each message was written (today's as a time, older ones with their date, the full
moment on hover), sends a picture that another member — in English — sees as a preview,
follows a link in a system alert (a real, safe link; a javascript: text stays text), and
new messages land in view."""

from __future__ import annotations

import re
from datetime import timedelta
from pathlib import Path

from playwright.async_api import Browser, expect
from sqlalchemy import update

from chat import directory
from chat.client import ChatClient
from chat.groups import requests, service
from chat.models import Event, OrgKind, Role
from tests.browser.console_helpers import api_as
from tests.browser.portal_steps import PHONE, assert_no_horizontal_scroll, png, portal_as
from tests.browser.widget_harness import WidgetWorld
from tests.chat.groups.helpers import person


async def test_members_see_times_files_and_alert_links(browser: Browser, world: WidgetWorld, tmp_path: Path) -> None:
    svc = world.services
    shop = (await directory.create_organization(svc, None, name="Shop Co", kind=OrgKind.CUSTOMER)).organization
    bia = await person(svc, "bia@shop.example", Role.CUSTOMER, shop.id, password=True)
    bob = await person(svc, "bob@shop.example", Role.CUSTOMER, shop.id, password=True)
    agent = await person(svc, "agent@support.example", Role.AGENT)
    group = await service.create_group(svc, agent.principal, organization=shop.id, name="Ops")
    for member in (bia, bob):
        made = await requests.request_join(svc, member.principal, group="Ops")
        await requests.decide(svc, agent.principal, made.id, approve=True)
    conv = group.conversation_id

    r = await api_as(world, agent.token, "POST", "/api/alerts", {
        "organization": shop.id, "type": "information", "title": "Maintenance tonight",
        "body": "Status: https://status.example/incident-7. Not a link: javascript:alert(1)"})
    assert r.status_code == 201, r.text
    async with ChatClient(world.ws_url + "/ws", agent.token, timeout=10) as support:
        await support.join(conv)
        await support.send(conv, "Old news")
        for n in range(25):
            await support.send(conv, f"Filler {n}")
    # "Old news" was written three days ago.
    three_days_ago = svc.clock.now() - timedelta(days=3)
    async with svc.sessions.begin() as db:
        await db.execute(update(Event).where(Event.conversation_id == conv, Event.body == "Old news")
                         .values(created_at=three_days_ago))
    picture = tmp_path / "mapa.png"
    picture.write_bytes(png())

    bia_ctx, page = await portal_as(browser, world, bia.email, locale="pt-BR", viewport=PHONE)
    bob_ctx, other = await portal_as(browser, world, bob.email)
    try:
        # The alert's address is a link that opens safely; other schemes stay text.
        alert = page.locator("#alerts li").first
        link = alert.get_by_role("link", name="https://status.example/incident-7")
        await expect(link).to_have_attribute("href", "https://status.example/incident-7")
        await expect(link).to_have_attribute("rel", "noopener noreferrer")
        await expect(link).to_have_attribute("target", "_blank")
        await expect(alert.get_by_role("link")).to_have_count(1)
        await expect(alert).to_contain_text("javascript:alert(1)")
        await expect(alert.locator(".badge")).to_have_text("Informação")

        await page.locator('#groups li[data-group="Ops"]').get_by_role("button", name="Abrir chat").click()
        log = page.locator("#chat-log")
        await expect(log).to_contain_text("Filler 24")
        old = log.locator("li", has_text="Old news").locator("time")
        await expect(old).to_contain_text(f"{three_days_ago:%d/%m/%Y}")  # pt-BR: its date
        await expect(old).to_have_attribute("title", re.compile(str(three_days_ago.year)))
        today = log.locator("li", has_text="Filler 24").locator("time")
        await expect(today).to_have_text(re.compile(r"^\d{2}:\d{2}$"))  # today: the time only
        await assert_no_horizontal_scroll(page)

        await other.locator('#groups li[data-group="Ops"]').get_by_role("button", name="Open chat").click()
        await expect(other.locator("#chat-log")).to_contain_text("Filler 24")

        # A picture alone: uploaded, then sent under its name.
        await page.locator("#chat-file-input").set_input_files(str(picture))
        await expect(page.locator("#chat-files")).to_contain_text("mapa.png")
        await expect(page.locator("#chat-send")).to_be_enabled()
        await page.get_by_role("button", name="Enviar").click()
        await expect(page.locator("#chat-files li")).to_have_count(0)

        preview = other.locator("#chat-log li", has_text="Bia").locator("img.preview")
        await expect(preview).to_have_attribute("alt", "mapa.png")
        await expect(preview).to_have_js_property("naturalWidth", 4)  # the file itself, shown
        await expect(page.locator("#chat-log img.preview")).to_have_attribute("alt", "mapa.png")

        # A new message lands in view on the phone, under 26 older ones.
        await other.locator("#chat-input").fill("Recebi, obrigado")
        await other.locator("#chat-input").press("Enter")
        newest = log.locator("li", has_text="Recebi, obrigado")
        await expect(newest).to_be_in_viewport()
    finally:
        await bia_ctx.close()
        await bob_ctx.close()

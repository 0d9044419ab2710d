"""The customer's own tickets in the portal, in real Chromium on a phone: a customer whose
browser speaks Brazilian Portuguese lists her tickets, opens one (its public history, never
an internal note), replies with a picture (the agent's socket gets both), rates and closes
it; her reseller's admin, in English, reads the same ticket but may neither write in it nor
close nor rate it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from playwright.async_api import Browser, expect

from chat import directory
from chat.client import ChatClient
from chat.models import OrgKind, Role
from tests.browser.console_helpers import api, staff
from tests.browser.portal_steps import NARROW, PHONE, assert_no_horizontal_scroll, png, portal_as
from tests.browser.widget_harness import WidgetWorld
from tests.support.chatlog import eventually


async def test_a_customer_follows_replies_rates_and_closes_her_ticket(browser: Browser, world: WidgetWorld,
                                                                      tmp_path: Path) -> None:
    svc = world.services
    photo = tmp_path / "foto.png"
    photo.write_bytes(png())
    partner = (await directory.create_organization(svc, None, name="Partner", kind=OrgKind.RESELLER)).organization
    shop = (await directory.create_organization(svc, None, name="Shop Co", kind=OrgKind.CUSTOMER,
                                                parent=partner.id)).organization
    bia = await staff(world, "Bia", Role.CUSTOMER, organization=shop.id)
    pete = await staff(world, "Pete", Role.RESELLER_ADMIN, organization=partner.id)
    ann = await staff(world, "Ann", Role.AGENT)
    r = await api(world, bia, "POST", "/api/conversations", {"subject": "Impressora parada", "body": "Não imprime nada"})
    assert r.status_code == 201, r.text
    ticket_id = r.json()["conversation"]["id"]

    async with ChatClient(world.ws_url + "/ws", ann.token, timeout=10) as agent:
        await agent.join(ticket_id)
        await agent.send(ticket_id, "Reinicie a impressora, por favor: https://help.example/restart")
        await agent.send(ticket_id, "NOTE: the customer's printer is out of warranty", internal=True)

        # The reseller's admin, in English on a narrow phone: his customer's ticket, read only.
        pete_ctx, other = await portal_as(browser, world, pete.email, viewport=NARROW,
                                          section=f"tickets/{ticket_id}")
        try:
            await expect(other.get_by_test_id("ticket-log")).to_contain_text("Reinicie a impressora")
            await expect(other.get_by_test_id("ticket-log")).not_to_contain_text("NOTE")
            await expect(other.get_by_test_id("ticket-detail-status")).to_have_text("In progress")
            await expect(other.locator("#ticket-read-only")).to_be_visible()
            await expect(other.locator("#ticket-reply-form")).to_be_hidden()
            await expect(other.locator("#ticket-rate-form")).to_be_hidden()
            await assert_no_horizontal_scroll(other)
        finally:
            await pete_ctx.close()

        context, page = await portal_as(browser, world, bia.email, locale="pt-BR", viewport=PHONE)
        try:
            await expect(page.locator("#nav")).to_contain_text("Meus chamados")
            await page.get_by_role("link", name="Meus chamados").click()
            row = page.locator(f'#tickets li[data-ticket="{ticket_id}"]')
            await expect(row).to_contain_text(f"#{ticket_id} Impressora parada")
            await expect(row.get_by_test_id("ticket-status")).to_have_text("Em andamento")
            await assert_no_horizontal_scroll(page)

            await row.get_by_role("link").click()
            log = page.get_by_test_id("ticket-log")
            await expect(log).to_contain_text("Não imprime nada")
            await expect(log).to_contain_text("Reinicie a impressora")
            # The agent's address is a real link, opened safely.
            link = log.get_by_role("link", name="https://help.example/restart")
            await expect(link).to_have_attribute("rel", "noopener noreferrer")
            # The internal note never reaches the customer's page.
            await expect(log.locator("li")).to_have_count(2)
            assert "NOTE" not in (await page.content())
            await assert_no_horizontal_scroll(page)

            # A reply with a file, through the shared socket client: the agent's socket gets both.
            await page.locator("#ticket-file-input").set_input_files(str(photo))
            await expect(page.locator("#ticket-files")).to_contain_text("foto.png")
            await page.get_by_label("Sua resposta").fill("Reiniciei, agora funciona")
            await page.get_by_role("button", name="Enviar resposta").click()
            await expect(log).to_contain_text("Reiniciei, agora funciona")
            await expect(log.locator("img.preview")).to_have_attribute("alt", "foto.png")

            def reply() -> dict[str, Any] | None:
                return next((e for e in agent.log[ticket_id] if e["kind"] == "message"
                             and e.get("body") == "Reiniciei, agora funciona" and e["author"]["id"] == bia.id), None)
            await eventually(reply, timeout=10, what="the customer's reply on the agent's socket")
            sent = reply()
            assert sent is not None and [a["filename"] for a in sent["data"]["attachments"]] == ["foto.png"]

            # Rated and closed, with the server's own close and rating use case.
            rate = page.locator("#ticket-rate-form")
            await rate.get_by_label("Bom").check()
            await rate.get_by_label("Motivo (opcional)").fill("rápido")
            await rate.get_by_label("Comentário (opcional)").fill("Obrigada!")
            await rate.get_by_role("button", name="Fechar o chamado").click()
            await expect(page.get_by_test_id("ticket-detail-status")).to_have_text("Fechado")
            await expect(page.locator("#ticket-notice")).to_have_text("O chamado foi fechado. Obrigado!")
            await expect(page.locator("#ticket-rated")).to_have_text("Você avaliou este chamado: bom.")
            await expect(page.locator("#ticket-reply-form")).to_be_hidden()
            r = await api(world, ann, "GET", f"/api/tickets/{ticket_id}")
            ticket: dict[str, Any] = r.json()["ticket"]
            assert ticket["status"] == "closed"
            assert [(x["value"], x["reason"], x["comment"]) for x in ticket["ratings"]] == [("good", "rápido", "Obrigada!")]

            # Back to the list: it is under "Closed" now.
            await page.get_by_role("link", name="← Todos os meus chamados").click()
            await expect(page.locator("#tickets-empty")).to_be_visible()
            await page.get_by_role("button", name="Fechados").click()
            await expect(row.get_by_test_id("ticket-status")).to_have_text("Fechado")
        finally:
            await context.close()

    # The reseller's admin finds it among his customers' closed tickets.
    context, page = await portal_as(browser, world, pete.email, viewport=NARROW, section="tickets")
    try:
        await expect(page.get_by_role("link", name="My tickets")).to_have_attribute("aria-current", "page")
        await page.get_by_role("button", name="Closed").click()
        row = page.locator(f'#tickets li[data-ticket="{ticket_id}"]')
        await expect(row.get_by_test_id("ticket-status")).to_have_text("Closed")
        await row.get_by_role("link").click()
        await expect(page.get_by_test_id("ticket-log")).to_contain_text("Reiniciei, agora funciona")
        await expect(page.locator("#ticket-rate-form")).to_be_hidden()
        await assert_no_horizontal_scroll(page)
    finally:
        await context.close()


async def test_a_ticket_support_solves_then_closes_is_rated_afterwards(browser: Browser, world: WidgetWorld) -> None:
    svc = world.services
    shop = (await directory.create_organization(svc, None, name="Shop Co", kind=OrgKind.CUSTOMER)).organization
    ivan = await staff(world, "Ivan", Role.CUSTOMER, organization=shop.id)
    ann = await staff(world, "Ann", Role.AGENT)
    r = await api(world, ivan, "POST", "/api/conversations", {"subject": "Счёт", "body": "Где мой счёт?"})
    ticket_id = r.json()["conversation"]["id"]
    for action in ("start", "propose_close"):
        r = await api(world, ann, "POST", f"/api/tickets/{ticket_id}/status", {"action": action})
        assert r.status_code == 200, r.text

    context, page = await portal_as(browser, world, ivan.email, locale="ru-RU", viewport=PHONE,
                                    section=f"tickets/{ticket_id}")
    try:
        await expect(page.get_by_test_id("ticket-detail-status")).to_have_text("Решено — подтвердите, пожалуйста")
        await expect(page.locator("#ticket-proposed")).to_contain_text("Поддержка считает вопрос решённым")
        # Support closes it while the page is open: the page follows, live.
        r = await api(world, ann, "POST", f"/api/tickets/{ticket_id}/status", {"action": "close"})
        assert r.status_code == 200, r.text
        await expect(page.get_by_test_id("ticket-detail-status")).to_have_text("Закрыто")
        await expect(page.locator("#ticket-proposed")).to_be_hidden()
        await expect(page.locator("#ticket-reply-form")).to_be_hidden()
        await expect(page.get_by_role("button", name="Закрыть обращение")).to_be_hidden()
        rate = page.locator("#ticket-rate-form")
        # Nothing chosen: said so, nothing sent.
        await rate.get_by_role("button", name="Отправить оценку").click()
        await expect(page.locator("#ticket-error")).to_contain_text("Сначала выберите")
        await rate.get_by_label("Плохо").check()
        await rate.get_by_label("Комментарий (необязательно)").fill("Долго")
        await rate.get_by_role("button", name="Отправить оценку").click()
        await expect(page.locator("#ticket-rated")).to_have_text("Ваша оценка: плохо.")
        await expect(rate).to_be_hidden()
        r = await api(world, ann, "GET", f"/api/tickets/{ticket_id}")
        assert [(x["value"], x["comment"]) for x in r.json()["ticket"]["ratings"]] == [("bad", "Долго")]
    finally:
        await context.close()

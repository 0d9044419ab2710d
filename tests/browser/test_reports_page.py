"""The reports page in real Chromium against the real server (issue 17): tickets seeded
through the use cases on a manual clock (days apart, one left unanswered past its
first-response deadline), one sweeper pass; then a support admin reads the figures from
the tables of /console/reports — tickets created per local day, the SLA met share — and
clicks a number to get the tickets behind it. A customer gets no Reports entry and a 403
from the API; a reseller admin reads the reports in the portal, within its own customers."""

from __future__ import annotations

import re
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import httpx
import pytest
from playwright.async_api import Browser, BrowserContext, Locator, Page, expect

from chat import directory
from chat.auth import principal_of
from chat.authz import Principal
from chat.clock import ManualClock
from chat.conversations import post_message
from chat.events import publish_events
from chat.models import OrgKind, Role
from chat.reports import texts
from chat.services import Services
from chat.wiring import build_sweeper
from escalation.intake import TicketDraft, open_ticket
from escalation.models import Ticket
from escalation.policy_table import PlanTier
from tests.browser.widget_harness import PASSWORD, new_page
from tests.conftest import make_settings
from tests.support.live import LiveServer, live_server
from tests.support.processes import free_port

BERLIN = ZoneInfo("Europe/Berlin")


@dataclass
class Seeded:
    live: LiveServer
    clock: ManualClock
    day1: str  # local days (Europe/Berlin) the tickets were created on
    day2: str
    answered: int  # tickets: answered at once on day 1, never answered on day 1, answered on day 2
    ignored: int
    later: int
    policy: str


@pytest.fixture
async def live(sqlite_url: str, tmp_path: Path) -> AsyncIterator[tuple[LiveServer, ManualClock]]:
    # Twelve days ago at noon in Berlin: well inside the default 30-day range, and far from
    # a midnight, so each ticket's local day is certain. The browser runs on real time.
    start_day = datetime.now(BERLIN).date() - timedelta(days=12)
    clock = ManualClock(datetime.combine(start_day, time(12), tzinfo=BERLIN))
    port = free_port()
    settings = make_settings(sqlite_url, tmp_path / "var", PUBLIC_URL=f"http://127.0.0.1:{port}",
                             SWEEPER_IN_PROCESS="false")
    async with live_server(settings, clock, port=port, collect_garbage=True) as server:
        yield server, clock


async def person(svc: Services, email: str, role: Role, organization: int | None = None,
                 language: str = "en") -> Principal:
    user = await directory.create_user(svc, None, email=email, role=role, password=PASSWORD,
                                       name=email.split("@")[0].title(), organization=organization, language=language,
                                       language_chosen=language != "en")
    return principal_of(user)


async def reply(svc: Services, who: Principal, conversation_id: int, body: str) -> None:
    """As the websocket endpoint does: store, publish, then the after-commit reactions."""
    _, events = await post_message(svc, who, conversation_id, client_msg_id=uuid.uuid4().hex, body=body)
    await publish_events(svc, events)
    await svc.react(who, events)


@pytest.fixture
async def seeded(live: tuple[LiveServer, ManualClock]) -> Seeded:
    server, clock = live
    svc = server.services
    acme = (await directory.create_organization(svc, None, name="Acme", kind=OrgKind.CUSTOMER,
                                               plan_tier=PlanTier.REGULAR)).organization
    reseller = (await directory.create_organization(svc, None, name="Partner One", kind=OrgKind.RESELLER)).organization
    await directory.create_organization(svc, None, name="Beta", kind=OrgKind.CUSTOMER, parent=reseller.id)
    customer = await person(svc, "cat@acme.example", Role.CUSTOMER, acme.id)
    agent = await person(svc, "ann@support.example", Role.AGENT)
    await person(svc, "sam@support.example", Role.SUPPORT_ADMIN)
    await person(svc, "rolf@support.example", Role.READ_ONLY, language="de")
    await person(svc, "pat@partner.example", Role.RESELLER_ADMIN, reseller.id)
    await person(svc, "petr@partner.example", Role.RESELLER_ADMIN, reseller.id)  # no language chosen

    async def ticket(subject: str) -> int:
        return int((await open_ticket(svc, customer, TicketDraft(subject=subject, description="Help")))["id"])

    day1 = clock.now().astimezone(BERLIN).date()
    answered = await ticket("Printer on fire")
    clock.advance(timedelta(minutes=5))
    await reply(svc, agent, answered, "On it")
    ignored = await ticket("Scanner jammed")
    clock.advance(timedelta(days=1))
    later = await ticket("Fax is silent")
    clock.advance(timedelta(minutes=5))
    await reply(svc, agent, later, "Looking")
    # Past any first-response target: the pass marks the unanswered ticket breached, and
    # rolls the messages up.
    clock.advance(timedelta(days=9))
    await build_sweeper(svc).run_once()
    clock.set(datetime.now(UTC))
    async with svc.reads() as db:
        row = await db.get(Ticket, ignored)
        assert row is not None and row.sla_policy and row.sla_first_response == "breached", row and row.sla_first_response
        policy = row.sla_policy
    return Seeded(live=server, clock=clock, day1=day1.isoformat(), day2=(day1 + timedelta(days=1)).isoformat(),
                  answered=answered, ignored=ignored, later=later, policy=policy)


async def signed_in(browser: Browser, base_url: str, path: str, email: str) -> tuple[BrowserContext, Page]:
    """A fresh context in Berlin's time zone, signed in through the page's own form."""
    context = await browser.new_context(timezone_id="Europe/Berlin", locale="en-US")
    page = await new_page(context)
    await page.goto(base_url + path)
    portal = path.startswith("/portal")
    await (page.get_by_label("E-mail") if portal else page.get_by_placeholder("E-mail")).fill(email)
    await (page.get_by_label("Password", exact=True) if portal else page.get_by_placeholder("Password")).fill(PASSWORD)
    await page.get_by_role("button", name="Sign in").click()
    return context, page


def cell(page: Page, table: str, x: str, key: str) -> Locator:
    return page.locator(f"table[data-table='{table}'] tbody tr[data-x='{x}'] [data-key='{key}']")


async def test_a_support_admin_reads_the_figures_and_opens_the_tickets_behind_one(
        browser: Browser, seeded: Seeded) -> None:
    base = seeded.live.base_url
    context, page = await signed_in(browser, base, "/console/", "sam@support.example")
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    try:
        await page.get_by_role("button", name="Reports").click()
        await expect(page).to_have_url(re.compile(r"/console/reports\?from=\d{4}-\d\d-\d\d&to=.*&tz=Europe%2FBerlin"))
        reports = page.get_by_test_id("reports-page")
        await expect(reports.get_by_role("tab", name="Volume")).to_have_attribute("aria-selected", "true")
        await expect(reports.get_by_label("Time zone")).to_have_value("Europe/Berlin")

        # Volume: tickets created per local day, as the table shows them.
        await expect(cell(page, "per_day", seeded.day1, "created")).to_have_text("2")
        await expect(cell(page, "per_day", seeded.day2, "created")).to_have_text("1")
        await expect(page.locator("table[data-table='per_day'] tfoot [data-key='created']")).to_have_text("3")
        await expect(page.locator("table[data-table='per_day'] caption")).to_have_text("Per day")
        # The chart above the table is the server's SVG, parsed into the page.
        chart = page.locator("#report-volume figure.chart svg[role='img']").first
        await expect(chart.locator("title").first).to_have_text("Tickets per day")
        await expect(chart.locator(f".mark[data-x='{seeded.day1}'][data-series='created']")).to_have_attribute(
            "data-value", "2")
        csv = page.locator("#report-volume a.csv")
        assert (await csv.get_attribute("href") or "").startswith("/api/reports/volume.csv?from=")

        # Drill-down: the 2 created on day 1 are the two tickets of that day.
        await cell(page, "per_day", seeded.day1, "created").get_by_role("button").click()
        drill = page.get_by_test_id("drill")
        await expect(drill.locator("tbody tr")).to_have_count(2)
        await expect(drill.locator(f"tr[data-ticket-id='{seeded.answered}']")).to_contain_text("Printer on fire")
        await expect(drill.locator(f"tr[data-ticket-id='{seeded.ignored}']")).to_contain_text("Scanner jammed")
        tickets_csv = await drill.locator("a.csv").get_attribute("href") or ""
        assert tickets_csv.startswith("/api/reports/tickets.csv?") and f"day={seeded.day1}" in tickets_csv

        # A mark of the chart opens the same list as its cell.
        await chart.locator(f".mark[data-x='{seeded.day2}'][data-series='created']").click()
        await expect(drill.locator("tbody tr")).to_have_count(1)
        await expect(drill.locator(f"tr[data-ticket-id='{seeded.later}']")).to_contain_text("Fax is silent")

        # SLA: two of three first responses met, one breached.
        await reports.get_by_role("tab", name="SLA").click()
        await expect(cell(page, "per_policy", seeded.policy, "first_response_met")).to_have_text("2")
        await expect(cell(page, "per_policy", seeded.policy, "first_response_breached")).to_have_text("1")
        await expect(cell(page, "per_policy", seeded.policy, "first_response_share")).to_have_text("66.7%")
        await expect(page.locator("table[data-table='breaches'] tbody tr")).to_contain_text(["Scanner jammed"])
        # Its chart says what it shows, with the policies down the left; the live list's
        # instant is shown in the viewer's language and zone, not as ISO text.
        sla_chart = page.locator("#report-sla figure.chart svg.chart-hbars")
        await expect(sla_chart.locator("text.chart-title")).to_have_text("Met share per policy")
        note = page.locator("#report-sla section[data-table='open_by_time_left'] p.note")
        await expect(note).to_contain_text("Live, at ")
        assert not re.search(r"\d{4}-\d\d-\d\dT", await note.inner_text())
        await cell(page, "per_policy", seeded.policy, "first_response_breached").get_by_role("button").click()
        await expect(drill.locator("tbody tr")).to_have_count(1)
        await drill.get_by_role("link", name=f"#{seeded.ignored}").click()
        # The link opens the ticket in the console.
        await expect(page).to_have_url(f"{base}/console/#{seeded.ignored}")
        await expect(page.get_by_test_id("reports-page")).to_be_hidden()

        # The address keeps the page: a reload opens the reports on the same tab.
        await page.goto(f"{base}/console/reports?tab=sla")
        await expect(page.get_by_test_id("reports-page").get_by_role("tab", name="SLA")).to_have_attribute(
            "aria-selected", "true")
        await expect(cell(page, "per_policy", seeded.policy, "first_response_share")).to_have_text("66.7%")
        assert errors == []
    finally:
        await context.close()


async def test_numbers_and_dates_follow_the_viewers_language(browser: Browser, seeded: Seeded) -> None:
    # Rolf chose German (issue 18: the chosen language beats the browser's en-US).
    context, page = await signed_in(browser, seeded.live.base_url, "/console/", "rolf@support.example")
    try:
        await page.get_by_role("button", name="Berichte").click()
        day = cell(page, "per_day", seeded.day1, "day")
        await expect(day).to_have_attribute("data-value", seeded.day1)
        first = datetime.fromisoformat(seeded.day1)
        await expect(day).to_have_text(f"{first.day:02d}.{first.month:02d}.{first.year}")  # German medium date
        await page.get_by_test_id("reports-page").get_by_role("tab", name="SLA").click()
        await expect(cell(page, "per_policy", seeded.policy, "first_response_share")).to_have_text("66,7\u00a0%")
    finally:
        await context.close()


# Texts the server writes in English and in another wording in German: none may show on the
# German page (a word German shares, "Status", "Name", is no sign of a missing translation).
ENGLISH_ONLY = {k for k, v in texts.CATALOG["de"].items() if v != k}
# The page's headings and the server's words: captions, column heads, row heads, notes, and
# every text of the charts (titles, legends, axis names).
HEADINGS = """(panel) => [...panel.querySelectorAll(
  "table caption, thead th, tbody th, tfoot th, p.note, svg text, svg tspan, svg > title")]
  .map((el) => el.textContent.trim()).filter(Boolean)"""


async def test_the_report_texts_are_in_the_viewers_language(browser: Browser, seeded: Seeded) -> None:
    # Rolf chose German; the page asks the server for German texts (lang=de) and every
    # heading, column, note and chart is German, the keys and ids the same as in English.
    context, page = await signed_in(browser, seeded.live.base_url, "/console/", "rolf@support.example")
    try:
        await page.get_by_role("button", name="Berichte").click()
        reports = page.get_by_test_id("reports-page")
        await expect(page.locator("table[data-table='per_day'] caption")).to_have_text("Pro Tag")
        heads = page.locator("table[data-table='per_day'] thead th")
        await expect(heads).to_have_text(["Tag", "Erstellt", "Geschlossen", "Wieder geöffnet", "Offen am Tagesende",
                                          "Begonnene Chats", "Live beantwortet", "In Tickets umgewandelt",
                                          "Nachrichten"])
        await expect(page.locator("table[data-table='per_day'] thead th[data-key='reopened']")).to_have_text(
            "Wieder geöffnet")
        chart = page.locator("#report-volume figure.chart svg[role='img']").first
        await expect(chart.locator("text.chart-title")).to_have_text("Tickets pro Tag")
        await expect(chart.locator("text", has_text="Erstellt").first).to_be_visible()  # the legend
        assert "lang=de" in (await page.locator("#report-volume a.csv").get_attribute("href") or "")
        await expect(page.locator("#report-volume p.note")).to_contain_text("lokale Tage")

        await reports.locator("[role='tab'][data-report='sla']").click()
        await expect(page.locator("#report-sla figure.chart svg.chart-hbars text.chart-title")).to_have_text(
            "Eingehaltener Anteil nach Richtlinie")
        await expect(page.locator("table[data-table='per_policy'] thead th[data-key='first_response_share']")
                     ).to_have_text("Erste Antwort: Anteil eingehalten")
        await expect(page.locator("#report-sla section[data-table='open_by_time_left'] p.note")).to_contain_text(
            "Live, Stand ")

        for name in ("volume", "breakdown", "times", "sla", "ratings", "messages", "heatmap", "now"):
            await reports.locator(f"[role='tab'][data-report='{name}']").click()
            panel = page.locator(f"#report-{name}")
            await expect(panel.locator("header.report-head")).to_be_visible()
            await expect(panel).not_to_have_attribute("aria-busy", "true")
            english = sorted(set(await panel.evaluate(HEADINGS)) & ENGLISH_ONLY)
            assert english == [], f"English on the German {name} report: {english}"
        await expect(page.locator("table[data-table='weekday_hour'] tbody tr[data-x='mon'] th")).to_have_text("Montag")
    finally:
        await context.close()


async def test_a_customer_has_no_reports_and_a_reseller_admin_only_its_customers(
        browser: Browser, seeded: Seeded) -> None:
    base = seeded.live.base_url
    customer_ctx, customer = await signed_in(browser, base, "/portal/", "cat@acme.example")
    partner_ctx, partner = await signed_in(browser, base, "/portal/", "pat@partner.example")
    try:
        await expect(customer.locator("#live")).to_have_text("live")
        await expect(customer.locator("#reports-section")).to_be_hidden()
        token = await customer.evaluate("sessionStorage.getItem('portal.token')")
        async with httpx.AsyncClient(base_url=base, timeout=10) as http:
            r = await http.get("/api/reports/volume", headers={"Authorization": f"Bearer {token}"})
        assert r.status_code == 403, r.text
        assert r.json()["error"]["code"] == "forbidden"

        # The partner's admin: the same page in the portal; Acme is not its customer.
        await partner.get_by_role("button", name="Show reports").click()
        section = partner.locator("#reports-section")
        await expect(cell(partner, "per_day", seeded.day1, "created")).to_have_text("0")
        await expect(section.locator("table[data-table='per_day'] tfoot [data-key='created']")).to_have_text("0")
        companies = section.get_by_label("Company").locator("option")
        await expect(companies).to_have_count(2)
        assert sorted(await companies.all_inner_texts()) == ["Beta", "Partner One"]
    finally:
        await customer_ctx.close()
        await partner_ctx.close()


async def test_a_reseller_admin_reads_the_reports_in_russian_in_the_portal(browser: Browser, seeded: Seeded) -> None:
    # The portal mounts the same page. Petr chose no language: the server alone would answer
    # English; the portal reads Russian from the browser and asks for it (lang=ru).
    context = await browser.new_context(timezone_id="Europe/Berlin", locale="ru-RU")
    page = await new_page(context)
    try:
        await page.goto(seeded.live.base_url + "/portal/")
        await page.locator("#login-email").fill("petr@partner.example")
        await page.locator("#login-password").fill(PASSWORD)
        await page.get_by_role("button", name="Войти").click()
        await page.get_by_role("button", name="Показать отчёты").click()
        section = page.locator("#reports-section")
        await expect(section.locator("table[data-table='per_day'] caption")).to_have_text("По дням")
        await expect(section.locator("table[data-table='per_day'] thead th[data-key='created']")).to_have_text("Создано")
        await expect(section.locator("#report-volume svg text.chart-title").first).to_have_text("Тикеты по дням")
        href = await section.locator("#report-volume a.csv").get_attribute("href") or ""
        assert "lang=ru" in href
        token = await page.evaluate("sessionStorage.getItem('portal.token')")
        async with httpx.AsyncClient(base_url=seeded.live.base_url, timeout=10) as http:
            exported = await http.get(href, headers={"Authorization": f"Bearer {token}"})
        assert exported.status_code == 200, exported.text
        assert exported.text.removeprefix("\ufeff").startswith("таблица,День,Создано,")
        english = sorted(set(await section.locator("#report-volume").evaluate(HEADINGS)) & ENGLISH_ONLY)
        assert english == [], f"English on the Russian volume report: {english}"
    finally:
        await context.close()

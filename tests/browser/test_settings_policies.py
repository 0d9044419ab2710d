"""Admin → SLA policies in real Chromium (issue 19): a support admin creates a rule for a
category with "1 business day", a ticket of that category shows its resolution deadline in
the console's side panel; the admin switches the rule to working days of hours and the
side panel's deadline moves live, to the exact instant (the server runs on a manual
clock); a zero target is refused with the field marked and nothing stored; the audit
holds the changes; a read-only user sees the screen disabled."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from datetime import date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import httpx
import pytest
from playwright.async_api import Browser, BrowserContext, Locator, Page, expect

from chat import directory
from chat.auth import login, principal_of
from chat.clock import ManualClock
from chat.models import OrgKind, Role
from chat.wiring import build_sweeper
from escalation.calendars import moscow_business_calendar
from escalation.intake import TicketDraft, open_ticket
from escalation.policy_table import PlanTier
from tests.browser.console_helpers import console_live, open_settings
from tests.browser.widget_harness import PASSWORD, new_page
from tests.conftest import make_settings
from tests.support.live import LiveServer, live_server
from tests.support.processes import free_port

MSK = ZoneInfo("Europe/Moscow")


def a_working_monday() -> date:
    """A Monday a week or more ahead whose Monday and Tuesday are Moscow working days."""
    moscow = moscow_business_calendar()
    day = date.today() + timedelta(days=7)
    day += timedelta(days=-day.weekday())
    while not (moscow.is_business_day(day) and moscow.is_business_day(day + timedelta(days=1))):
        day += timedelta(days=7)
    return day


@pytest.fixture
async def live(sqlite_url: str, tmp_path: Path) -> AsyncIterator[tuple[LiveServer, ManualClock]]:
    # Monday 12:00 in Moscow; the sweeper is the test's (one pass after each change).
    clock = ManualClock(datetime.combine(a_working_monday(), datetime.min.time(), tzinfo=MSK) + timedelta(hours=12))
    port = free_port()
    settings = make_settings(sqlite_url, tmp_path / "var", PUBLIC_URL=f"http://127.0.0.1:{port}",
                             SWEEPER_IN_PROCESS="false")
    async with live_server(settings, clock, port=port, collect_garbage=True) as server:
        yield server, clock


async def person(server: LiveServer, name: str, role: Role, organization: int | None = None) -> tuple[str, str]:
    email = f"{name.lower()}@desk.example"
    await directory.create_user(server.services, None, email=email, role=role, password=PASSWORD, name=name,
                                organization=organization)
    token = (await login(server.services, email, PASSWORD, address="127.0.0.1", user_agent="test")).token
    return email, token


async def signed_in(browser: Browser, server: LiveServer, email: str, path: str = "") -> tuple[BrowserContext, Page]:
    # Moscow's time zone and US English: the deadline reads as the clock in Moscow shows it.
    context = await browser.new_context(timezone_id="Europe/Moscow", locale="en-US")
    page = await new_page(context)
    await page.goto(f"{server.base_url}/console/{path}")
    await page.get_by_placeholder("E-mail").fill(email)
    await page.get_by_placeholder("Password").fill(PASSWORD)
    await page.get_by_role("button", name="Sign in").click()
    await console_live(page)
    return context, page


async def policies_screen(page: Page) -> Locator:
    await open_settings(page, "policies")
    screen = page.get_by_test_id("settings-policies")
    await expect(screen.get_by_test_id("policies-table")).to_be_visible()
    return screen


async def read(server: LiveServer, token: str, path: str) -> dict[str, object]:
    async with httpx.AsyncClient(base_url=server.base_url, timeout=10) as http:
        r = await http.get(path, headers={"Authorization": f"Bearer {token}"})
    assert r.status_code == 200, r.text
    body: dict[str, object] = r.json()
    return body


def due_text(at: datetime) -> re.Pattern[str]:
    """``Intl`` en-US medium date, short time, in Moscow: "Mar 3, 2026, 6:00 PM" (newer
    ICU puts a narrow no-break space before PM)."""
    local = at.astimezone(MSK)
    hour = local.hour % 12 or 12
    return re.compile(rf"{local:%b} {local.day}, {local.year}, {hour}:{local:%M}\s{local:%p}")


async def test_an_admin_states_a_day_rule_and_the_deadline_follows_live(
    browser: Browser, live: tuple[LiveServer, ManualClock]
) -> None:
    server, clock = live
    svc = server.services
    acme = (await directory.create_organization(svc, None, name="Acme", kind=OrgKind.CUSTOMER,
                                               plan_tier=PlanTier.REGULAR)).organization
    customer = await directory.create_user(svc, None, email="cat@acme.example", role=Role.CUSTOMER, name="Cat",
                                           organization=acme.id, password=PASSWORD)
    admin_email, admin_token = await person(server, "Ada", Role.SUPPORT_ADMIN)
    agent_email, _ = await person(server, "Ann", Role.AGENT)
    sweeper = build_sweeper(svc)
    await sweeper.run_once()  # it starts at the configuration as it is
    monday_noon = clock.now()

    admin, page = await signed_in(browser, server, admin_email)
    agent = None
    try:
        screen = await policies_screen(page)
        form = screen.get_by_test_id("policy-form")
        await form.get_by_label("Name", exact=True).fill("Technical, Moscow hours")
        await form.get_by_label("Category", exact=True).select_option("technical_question")
        await form.get_by_label("Calendar", exact=True).select_option("moscow")
        await form.get_by_label("First response: amount").fill("4")
        await form.get_by_label("First response: unit").select_option("hours")
        await form.get_by_label("Resolution: amount").fill("1")
        await form.get_by_label("Resolution: unit").select_option("business_days")
        await expect(form.get_by_test_id("day-rule-whole_days")).to_be_checked()
        await form.get_by_role("button", name="Add rule", exact=True).click()
        row = screen.get_by_test_id("policy-row").filter(has_text="Technical, Moscow hours")
        await expect(row.locator("[data-target=resolution]")).to_have_text("1 business day (to the close of the day)")
        await expect(row.locator("[data-target=first_response]")).to_have_text("4 h")

        # A ticket of that category: whole business days from Monday 12:00 in Moscow is
        # Tuesday's close, 18:00.
        opened = await open_ticket(svc, principal_of(customer), TicketDraft(
            "VPN down", "All sites offline", category="technical_question"))
        ticket = int(opened["id"])
        agent, console = await signed_in(browser, server, agent_email, f"#{ticket}")
        resolution = console.locator("aside").get_by_test_id("sla-resolution")
        tuesday_close = monday_noon + timedelta(hours=30)
        await expect(resolution).to_contain_text(due_text(tuesday_close))

        # The admin switches the rule to working days of hours: 8 h 30 of Moscow business
        # time, 6 h on Monday and 2 h 30 from Tuesday 09:30 -> Tuesday 12:00. The side
        # panel follows without a reload once the sweeper's pass recomputed the ticket.
        await row.get_by_role("button", name="Edit").click()
        await form.get_by_test_id("day-rule-working_hours").check()
        await form.get_by_role("button", name="Save", exact=True).click()
        await expect(row.locator("[data-target=resolution]")).to_have_text("1 working day of hours")
        assert (await sweeper.run_once())["tickets.follow_desk"] >= 1
        await expect(resolution).to_contain_text(due_text(monday_noon + timedelta(hours=24)))
        assert clock.now() == monday_noon

        # A zero target: refused, the resolution's amount marked, nothing stored.
        await row.get_by_role("button", name="Edit").click()
        amount = form.get_by_label("Resolution: amount")
        await amount.fill("0")
        await form.get_by_role("button", name="Save", exact=True).click()
        await expect(amount).to_have_attribute("aria-invalid", "true")
        await expect(form.get_by_test_id("field-error")).to_contain_text("must be 1..365 business days, got 0")
        policies = (await read(server, admin_token, "/api/sla/policies"))["policies"]
        assert isinstance(policies, list)
        stored = next(p for p in policies if p["name"] == "Technical, Moscow hours")
        assert (stored["resolution"], stored["day_rule"]) == ({"business_days": 1}, "working_hours")
        await expect(resolution).to_contain_text(due_text(monday_noon + timedelta(hours=24)))

        # The audit holds the creation and the switch, before and after.
        entries = (await read(server, admin_token, "/api/audit?target_kind=policy"))["entries"]
        assert isinstance(entries, list)
        assert [e["action"] for e in entries] == ["config.policy.update", "config.policy.create"]
        assert (entries[0]["before"]["day_rule"], entries[0]["after"]["day_rule"]) == ("whole_days", "working_hours")

        # Delete asks first; declined, the rule stays; accepted, it goes (and is audited).
        page.once("dialog", lambda dialog: dialog.dismiss())
        await row.get_by_role("button", name="Delete").click()
        await expect(row).to_have_count(1)
        page.once("dialog", lambda dialog: dialog.accept())
        await row.get_by_role("button", name="Delete").click()
        await expect(row).to_have_count(0)
        await expect(screen.get_by_test_id("policy-row")).to_have_count(3)
        entries = (await read(server, admin_token, "/api/audit?target_kind=policy"))["entries"]
        assert isinstance(entries, list) and entries[0]["action"] == "config.policy.delete"
    finally:
        if agent is not None:
            await agent.close()
        await admin.close()


async def test_read_only_staff_see_the_policies_disabled(browser: Browser, live: tuple[LiveServer, ManualClock]) -> None:
    server, _ = live
    email, _ = await person(server, "Rolf", Role.READ_ONLY)
    context, page = await signed_in(browser, server, email)
    try:
        screen = await policies_screen(page)
        await expect(screen.get_by_test_id("policy-row")).to_have_count(3)  # the seeded plan rules
        await expect(screen.get_by_test_id("policy-row").first.locator("[data-target=first_response]")).to_have_text(
            "24 h")
        for button in await screen.get_by_role("button", name="Edit").all():
            await expect(button).to_be_disabled()
        form = screen.get_by_test_id("policy-form")
        await expect(form.get_by_label("Name", exact=True)).to_be_disabled()
        await expect(form.get_by_role("button", name="Add rule", exact=True)).to_be_disabled()
        await expect(form.get_by_test_id("day-rule-working_hours")).to_be_disabled()
    finally:
        await context.close()

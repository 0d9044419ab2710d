"""The widget following the server live in real Chromium: the "support online" signal
switches the intake form as agents come and go (no polling), and an identified customer
sees their company's system alerts — listed, then arriving on the socket."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
from playwright.async_api import Browser, expect

from chat import directory
from chat.auth import identity_hash
from chat.clock import SystemClock
from chat.demo import DEMO_ALERT, DEMO_WIDGET_USER, seed_demo
from chat.models import OrgKind, Site
from tests.browser.widget_harness import WidgetWorld, new_page, open_widget
from tests.conftest import make_settings
from tests.support.live import live_server
from tests.support.processes import free_port

pytestmark = pytest.mark.asyncio(loop_scope="module")

OFFLINE_INTRO = "No agents are online right now. Leave a message and we will reply by e-mail."
ONLINE_INTRO = "Tell us about your question and an agent will join you."
PNG = bytes.fromhex("89504e470d0a1a0a0000000d4948445200000001000000010806000000"
                    "1f15c4890000000d49444154789c6360000002000154a24f5d0000000049454e44ae426082")


async def test_the_intake_form_follows_agents_coming_and_going(browser: Browser, world: WidgetWorld) -> None:
    world.hub.presence.grace_seconds = 0.5
    agent_token = await world.staff("alex@x.example", "Alex Agent")
    context = await browser.new_context()
    page = await new_page(context)
    await page.goto(world.page_url())
    frame = await open_widget(page)
    await expect(frame.locator(".presence")).to_have_text("No agents online right now")
    await expect(frame.locator(".intro")).to_have_text(OFFLINE_INTRO)

    agent = world.client(agent_token)
    await agent.connect()
    # Told by the socket within moments, not by a poll a minute later.
    await expect(frame.locator(".presence")).to_have_text("Agents are online", timeout=5000)
    await expect(frame.locator(".intro")).to_have_text(ONLINE_INTRO, timeout=5000)
    await expect(frame.get_by_role("button", name="Start the chat")).to_be_visible()

    await agent.close()  # gone for good once the grace period is over
    await expect(frame.locator(".presence")).to_have_text("No agents online right now", timeout=5000)
    await expect(frame.locator(".intro")).to_have_text(OFFLINE_INTRO)

    # Something typed is never thrown away: the header follows, the form stays.
    await frame.locator("#f-description").fill("Half a sentence")
    await agent.connect()
    await expect(frame.locator(".presence")).to_have_text("Agents are online", timeout=5000)
    await expect(frame.locator(".intro")).to_have_text(OFFLINE_INTRO)
    await expect(frame.locator("#f-description")).to_have_value("Half a sentence")
    await agent.close()
    await context.close()


async def open_alert(world: WidgetWorld, token: str, org: int, title: str, body: str, files: list[int] | None = None,
                     kind: str = "information") -> dict[str, object]:
    made = await world.api(token, "POST", "/api/alerts", {"organization": org, "type": kind, "title": title,
                                                          "body": body, "files": files or []}, status=201)
    return dict(made["alert"])


async def test_an_identified_customer_sees_their_companys_alerts_live(browser: Browser, world: WidgetWorld) -> None:
    agent_token = await world.staff("alex@x.example", "Alex Agent")
    async with world.services.sessions() as db:
        site = await db.get(Site, world.site_id)
        assert site is not None and site.organization_id is not None
        secret, acme = site.identity_secret, site.organization_id
    other_org = (await directory.create_organization(world.services, None, name="Other Co", kind=OrgKind.CUSTOMER)).organization
    async with httpx.AsyncClient(base_url=world.base_url, timeout=10) as http:
        r = await http.post("/api/alert-files?filename=map.png", content=PNG,
                            headers={"Authorization": f"Bearer {agent_token}", "Content-Type": "image/png"})
        assert r.status_code == 201, r.text
        file_id = r.json()["file"]["id"]
    await open_alert(world, agent_token, acme, "Maintenance on Sunday <b>night</b>",
                     "The portal is down 02:00–03:00 UTC.\n<img src=x onerror=\"window.pwned=1\">", [file_id])
    await open_alert(world, agent_token, other_org.id, "Not for Acme", "Someone else's notice")

    fetched: list[str] = []
    context = await browser.new_context(accept_downloads=True)
    page = await new_page(context)
    page.on("request", lambda request: fetched.append(request.url))

    # An anonymous visitor has no company: no bell, and the alerts code is never fetched.
    await page.goto(world.page_url())
    frame = await open_widget(page)
    await expect(frame.locator(".intake")).to_be_visible()
    await expect(frame.locator(".bell")).to_have_count(0)
    assert not [u for u in fetched if u.endswith("/alerts.js")]

    await page.goto(world.page_url(**{"user-id": "u-7", "user-hash": identity_hash(secret, "u-7"),
                                      "user-name": "Ida Identified"}))
    frame = await open_widget(page)
    bell = frame.locator(".bell")
    await expect(bell).to_be_visible()
    await expect(bell).to_have_attribute("aria-label", "Notices from support (1)")
    await expect(bell.locator(".count")).to_have_text("1")
    await bell.click()
    sheet = frame.locator(".sheet.alerts")
    await expect(sheet.locator("h2")).to_have_text("Notices from support")
    items = sheet.locator("li")
    await expect(items).to_have_count(1)  # Other Co's alert is not Acme's business
    await expect(items.locator(".kind")).to_have_text("Information")
    await expect(items.locator("h3")).to_have_text("Maintenance on Sunday <b>night</b>")  # text, not markup
    await expect(items.locator("p")).to_contain_text('<img src=x onerror="window.pwned=1">')
    await expect(items.locator("img")).to_have_count(0)
    widget = next(f for f in page.frames if "/widget/frame" in f.url)
    assert await widget.evaluate("() => window.pwned === undefined")
    await expect(bell.locator(".count")).to_have_text("")  # seen

    # Its file is fetched with the user's token (never in a URL) and saved.
    async with page.expect_download() as download_info:
        await items.get_by_role("button", name="map.png").click()
    download = await download_info.value
    assert download.suggested_filename == "map.png"
    assert Path(await download.path()).read_bytes() == PNG

    # A new alert arrives on the socket while the sheet is open: listed at once, as seen.
    await open_alert(world, agent_token, acme, "Logins from a new country", "Was it you?", kind="suspicious_activity")
    await expect(items).to_have_count(2)
    await expect(items.first.locator("h3")).to_have_text("Logins from a new country")
    await expect(items.first.locator(".kind")).to_have_text("Suspicious activity")
    await sheet.get_by_role("button", name="Close").click()
    await expect(sheet).to_have_count(0)

    # Sheet closed: the next one is counted on the bell; a reload remembers what was seen.
    await open_alert(world, agent_token, acme, "Invoice question", "Please check", kind="complaint")
    await expect(bell.locator(".count")).to_have_text("1")
    await page.reload()
    frame = await open_widget(page)
    await expect(frame.locator(".bell .count")).to_have_text("1")
    await context.close()


async def test_alerts_speak_the_widgets_language(browser: Browser, world: WidgetWorld) -> None:
    agent_token = await world.staff("alex@x.example", "Alex Agent")
    async with world.services.sessions() as db:
        site = await db.get(Site, world.site_id)
        assert site is not None and site.organization_id is not None
        secret, acme = site.identity_secret, site.organization_id
    await open_alert(world, agent_token, acme, "Проверка", "Подозрительный вход", kind="suspicious_activity")
    context = await browser.new_context(locale="ru-RU")
    page = await new_page(context)
    await page.goto(world.page_url(**{"user-id": "u-8", "user-hash": identity_hash(secret, "u-8")}))
    frame = await open_widget(page)
    await frame.locator(".bell").click()
    await expect(frame.locator(".sheet.alerts h2")).to_have_text("Уведомления поддержки")
    await expect(frame.locator(".sheet.alerts .kind")).to_have_text("Подозрительная активность")
    await expect(frame.get_by_role("button", name="Закрыть")).to_be_visible()
    await context.close()


async def test_the_demo_pages_signed_in_customer_sees_the_demo_alert(
    browser: Browser, sqlite_url: str, tmp_path: Path
) -> None:
    port = free_port()
    settings = make_settings(sqlite_url, tmp_path / "var", PUBLIC_URL=f"http://127.0.0.1:{port}", DEMO_PAGE="true")
    async with live_server(settings, SystemClock(), port=port, collect_garbage=True) as live:
        await seed_demo(live.services)
        context = await browser.new_context()
        page = await new_page(context)
        await page.goto(live.base_url + "/")
        await page.get_by_role("link", name="Be the site's signed-in customer").click()
        frame = await open_widget(page)
        await expect(frame.locator("#f-name")).to_have_value(DEMO_WIDGET_USER[1])
        await frame.locator(".bell").click()
        await expect(frame.locator(".sheet.alerts h3")).to_have_text([DEMO_ALERT])
        await context.close()

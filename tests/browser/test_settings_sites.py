"""The console's "Sites" screen (issue 19) in real Chromium: a support admin creates a
site (a bad origin refused with its line marked, nothing stored), moves the widget to
another origin (it loads there and is refused where it was), makes the e-mail a required
pre-chat field and writes an offline message (the widget asks for the one and shows the
other), rotates the identity secret (the old signature vouches in the grace and not after,
on the server's clock); every change is in the audit log. Read-only staff see it disabled."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from playwright.async_api import Browser, Page, expect
from sqlalchemy import func, select

from chat.auth import identity_hash
from chat.clock import ManualClock
from chat.models import AuditLog, Role, Site
from tests.browser.console_helpers import open_console, open_settings, staff
from tests.browser.widget_harness import WidgetWorld, new_page, open_widget, widget_world


@pytest.fixture
def manual_clock() -> ManualClock:
    return ManualClock(datetime.now(UTC).replace(microsecond=0))


@pytest.fixture
async def world(sqlite_url: str, tmp_path: Path, manual_clock: ManualClock) -> AsyncIterator[WidgetWorld]:
    # The server on a clock the test moves: a rotated secret's grace ends on it.
    async with widget_world(sqlite_url, tmp_path / "var", manual_clock) as w:
        # Staff who leave are offline at once (not after 30 s): the test shows the widget's
        # offline form right after the console and the agent have gone.
        w.hub.presence.grace_seconds = 0.0
        yield w


async def open_sites(page: Page) -> None:
    await open_settings(page, "sites")
    await expect(page.get_by_test_id("settings-sites")).to_be_visible()


async def site_count(world: WidgetWorld) -> int:
    async with world.services.sessions() as db:
        return int(await db.scalar(select(func.count()).select_from(Site)) or 0)


async def audit_actions(world: WidgetWorld) -> list[tuple[str, str | None]]:
    async with world.services.sessions() as db:
        rows = await db.scalars(select(AuditLog).where(AuditLog.action.startswith("config.site.")).order_by(AuditLog.id))
        return [(row.action, row.target_id) for row in rows]


async def vouched(world: WidgetWorld, secret: str, who: str) -> int:
    async with httpx.AsyncClient(base_url=world.base_url, timeout=10) as http:
        r = await http.post("/api/widget/session", json={"site": world.site_key, "user_id": who,
                                                          "user_hash": identity_hash(secret, who)})
    return r.status_code


async def test_an_admin_runs_a_site_from_the_console(
    browser: Browser, world: WidgetWorld, manual_clock: ManualClock
) -> None:
    admin = await staff(world, "Ada", Role.SUPPORT_ADMIN)
    async with world.services.sessions() as db:
        site = await db.get(Site, world.site_id)
        assert site is not None
        old_secret = site.identity_secret
    context, page = await open_console(browser, world, admin)
    try:
        await open_sites(page)
        screen = page.get_by_test_id("settings-sites")
        await expect(screen.get_by_test_id("site-row")).to_have_count(1)

        # A new site whose second line is not an origin: that line is named, nothing stored.
        create = screen.get_by_test_id("site-create")
        await create.get_by_label("Site name").fill("Blog")
        origins = create.get_by_label("Allowed origins (one per line)")
        await origins.fill("https://blog.example\n\nhttps://*.blog.example")
        await create.get_by_role("button", name="Create site").click()
        await expect(origins).to_have_attribute("aria-invalid", "true")
        await expect(create.get_by_test_id("origin-line")).to_have_text("Line 3:")
        await expect(create.get_by_test_id("field-error")).to_contain_text("https://*.blog.example")
        assert await site_count(world) == 1
        await origins.fill("https://blog.example\nhttps://www.blog.example")
        await create.get_by_role("button", name="Create site").click()
        await expect(screen.get_by_test_id("site-row")).to_have_count(2)
        await expect(screen.get_by_test_id("site-edit")).to_contain_text("Site Blog")
        assert await site_count(world) == 2
        await expect(screen.get_by_test_id("site-snippet")).to_have_value(
            '<script src="' + world.base_url + '/widget/loader.js" data-site="'
            + (await world_site_key(world, "Blog")) + '" async></script>')

        # The shop's site moves from the shop's origin to the other one.
        await screen.get_by_role("button", name="Edit Acme shop").click()
        edit = screen.get_by_test_id("site-edit")
        await expect(edit).to_contain_text("Site Acme shop")
        await edit.get_by_label("Allowed origins (one per line)").fill(world.foreign + "\nftp://files.example")
        await edit.get_by_role("button", name="Save").click()
        await expect(edit.get_by_test_id("origin-line")).to_have_text("Line 2:")
        async with world.services.sessions() as db:
            assert (await db.get(Site, world.site_id)).allowed_origins == [world.shop]  # type: ignore[union-attr]
        await edit.get_by_label("Allowed origins (one per line)").fill(world.foreign)
        await edit.get_by_role("button", name="Save").click()
        await expect(page.locator(".toast").filter(has_text="Site saved.")).to_be_visible()

        # The e-mail becomes a required pre-chat field; an offline message in English.
        widget = screen.get_by_test_id("widget-form")
        await widget.get_by_label("How E-mail is asked").select_option("required")
        await widget.get_by_label("Offline message in English").fill("We answer from 9 to 18, Moscow time.")
        await widget.get_by_role("button", name="Save widget").click()
        await expect(page.locator(".toast").filter(has_text="Widget saved.")).to_be_visible()

        # A refused widget change marks its control (no object kind while the object is asked).
        await widget.get_by_label("How Affected object is asked").select_option("optional")
        for kind in ("Site", "Device", "Vehicle"):
            await widget.get_by_label(kind, exact=True).uncheck()
        await widget.get_by_role("button", name="Save widget").click()
        await expect(widget.locator("fieldset[data-field='widget.prechat.object_kinds']")).to_have_attribute(
            "aria-invalid", "true")

        # Rotate the identity secret with a one-hour grace: shown once, with its end.
        secret_box = screen.get_by_role("button", name="Rotate identity secret")
        await secret_box.click()
        confirm = screen.get_by_test_id("rotate-confirm")
        await confirm.get_by_label("Old secret keeps working for (hours, 0–168)").fill("1")
        await confirm.get_by_role("button", name="Rotate now").click()
        new_secret = await screen.get_by_test_id("secret-value").input_value()
        await expect(screen.get_by_test_id("secret-grace")).to_contain_text("The old secret works until")
        assert new_secret and new_secret != old_secret
    finally:
        await context.close()

    assert await vouched(world, old_secret, "crm-1") == 200
    manual_clock.advance(timedelta(hours=1))
    assert await vouched(world, old_secret, "crm-2") == 401
    assert await vouched(world, new_secret, "crm-2") == 200

    async with world.services.sessions() as db:
        blog = await db.scalar(select(Site).where(Site.name == "Blog"))
    assert blog is not None
    assert await audit_actions(world) == [
        ("config.site.create", str(blog.id)),  # the world's own site came from the operator: not audited
        ("config.site.update", str(world.site_id)),
        ("config.site.update", str(world.site_id)),
        ("config.site.rotate_secret", str(world.site_id)),
    ]
    async with world.services.sessions() as db:
        rows = list(await db.scalars(select(AuditLog).where(AuditLog.action == "config.site.update")
                                     .order_by(AuditLog.id)))
    assert rows[0].actor_id == admin.id
    assert rows[0].after is not None and rows[0].after["allowed_origins"] == [world.foreign]
    assert rows[1].after is not None and rows[1].after["widget"]["prechat"]["fields"]["email"] == "required"

    context = await browser.new_context()
    try:
        # The removed origin: the server refuses the frame.
        shop = await new_page(context)
        await shop.goto(world.page_url(world.shop))
        async with shop.expect_response(lambda r: "/widget/frame" in r.url) as refused:
            await shop.locator("#supportchat button").first.click()
        assert (await refused.value).status == 403

        # The new origin, with an agent online: the pre-chat form requires the e-mail.
        agent_token = await world.staff("otto@x.example", "Otto")
        async with world.client(agent_token):
            page = await new_page(context)
            await page.goto(world.page_url(world.foreign))
            frame = await open_widget(page)
            await expect(frame.locator("#f-email")).to_have_attribute("required", "")
            await frame.locator("#f-description").fill("The printer is on fire")
            await frame.get_by_role("button", name="Start the chat").click()
            await expect(frame.locator("form.intake .error")).to_have_text("Please fill in: E-mail")
            await expect(frame.locator("#f-email")).to_be_focused()
            await page.close()

        # Nobody online: the leave-a-message form says the site's own words.
        page = await new_page(context)
        await page.goto(world.page_url(world.foreign, language="en"))
        frame = await open_widget(page)
        await expect(frame.locator("form.intake .intro")).to_have_text("We answer from 9 to 18, Moscow time.")
    finally:
        await context.close()


async def world_site_key(world: WidgetWorld, name: str) -> str:
    async with world.services.sessions() as db:
        key = await db.scalar(select(Site.public_key).where(Site.name == name))
    assert key is not None
    return key


async def test_read_only_staff_see_the_sites_disabled(browser: Browser, world: WidgetWorld) -> None:
    auditor = await staff(world, "Rita", Role.READ_ONLY)
    context, page = await open_console(browser, world, auditor)
    try:
        await open_sites(page)
        screen = page.get_by_test_id("settings-sites")
        await expect(screen.get_by_test_id("site-row")).to_have_count(1)
        await expect(screen.get_by_role("button", name="Create site")).to_be_disabled()
        await screen.get_by_role("button", name="Edit Acme shop").click()
        edit = screen.get_by_test_id("site-edit")
        await expect(edit.get_by_label("Allowed origins (one per line)")).to_be_disabled()
        await expect(edit.get_by_role("button", name="Save")).to_be_disabled()
        await expect(screen.get_by_test_id("widget-form").get_by_label("How E-mail is asked")).to_be_disabled()
        await expect(screen.get_by_role("button", name="Rotate identity secret")).to_be_disabled()
    finally:
        await context.close()

"""The portal's profile page in real Chromium on a narrow phone: a customer renames herself
(saving leaves the language to the browser), then picks German and the page comes back in
German, chosen for good; no page of the portal scrolls sideways at 360 px. Before signing in,
the form speaks the browser's language."""

from __future__ import annotations

from playwright.async_api import Browser, expect

from chat import directory
from chat.models import OrgKind, Role
from tests.browser.console_helpers import api, staff
from tests.browser.portal_steps import NARROW, assert_no_horizontal_scroll, portal_as
from tests.browser.widget_harness import WidgetWorld, new_page


async def test_a_customer_renames_herself_and_picks_german(browser: Browser, world: WidgetWorld) -> None:
    shop = (await directory.create_organization(world.services, None, name="Shop Co", kind=OrgKind.CUSTOMER)).organization
    cora = await staff(world, "Cora", Role.CUSTOMER, organization=shop.id)
    context, page = await portal_as(browser, world, cora.email, viewport=NARROW)
    try:
        # The console's look: one theme (static/shared/theme.css) for both apps.
        accent = await page.evaluate("getComputedStyle(document.documentElement).getPropertyValue('--accent').trim()")
        assert accent == "#0052cc"
        console = await context.new_page()
        await console.goto(world.base_url + "/console/")
        assert await console.evaluate("getComputedStyle(document.body).backgroundColor") == await page.evaluate(
            "getComputedStyle(document.body).backgroundColor") == "rgb(244, 245, 247)"
        await console.close()
        for section in ("Group chats", "My tickets", "Profile"):
            await page.get_by_role("link", name=section).click()
            await expect(page.get_by_role("link", name=section)).to_have_attribute("aria-current", "page")
            await assert_no_horizontal_scroll(page)
        # Every field is at least 16 px (iOS zooms into smaller ones) and every button 40 px tall.
        sizes = await page.evaluate("""[...document.querySelectorAll(
            '#page-profile input, #page-profile select, #page-profile button')].filter((e) => e.offsetParent)
            .map((e) => [e.id || e.textContent, parseFloat(getComputedStyle(e).fontSize),
                         e.getBoundingClientRect().height, e.tagName])""")
        assert sizes and all(size >= 16 for _, size, _, tag in sizes if tag != "BUTTON"), sizes
        assert all(height >= 40 for _, _, height, tag in sizes if tag == "BUTTON"), sizes

        profile = page.locator("#profile")
        # Never chosen: the browser's language, offered as such.
        await expect(profile.get_by_label("Language")).to_have_value("")
        await profile.get_by_label("Name", exact=True).fill("Cora Lima")
        await profile.get_by_role("button", name="Save").click()
        await expect(page.locator("#profile-notice")).to_have_text("Saved.")
        await expect(page.locator("#who-name")).to_have_text("Cora Lima")
        me = (await api(world, cora, "GET", "/api/me")).json()["user"]
        assert (me["name"], me["language_chosen"]) == ("Cora Lima", False)

        await profile.get_by_label("Language").select_option("de")
        await profile.get_by_role("button", name="Save").click()
        # Back in German, on the profile page, chosen for good.
        await expect(page.get_by_role("link", name="Meine Tickets")).to_be_visible()
        await expect(page.locator("#profile h2")).to_have_text("Mein Profil")
        await expect(page.locator("#profile").get_by_label("Sprache")).to_have_value("de")
        await expect(page.locator("html")).to_have_attribute("lang", "de")
        me = (await api(world, cora, "GET", "/api/me")).json()["user"]
        assert (me["language"], me["language_chosen"]) == ("de", True)
        await assert_no_horizontal_scroll(page)

        # Back to the browser's language (English here): un-chosen, the page reloads in it.
        await page.locator("#profile").get_by_label("Sprache").select_option("")
        await page.locator("#profile").get_by_role("button", name="Speichern").click()
        await expect(page.get_by_role("link", name="My tickets")).to_be_visible()
        await expect(page.locator("#profile").get_by_label("Language")).to_have_value("")
        me = (await api(world, cora, "GET", "/api/me")).json()["user"]
        assert me["language_chosen"] is False
    finally:
        await context.close()


async def test_the_sign_in_form_follows_the_browser(browser: Browser, world: WidgetWorld) -> None:
    context = await browser.new_context(locale="es-ES", viewport=NARROW)  # type: ignore[arg-type]
    page = await new_page(context)
    try:
        await page.goto(world.base_url + "/portal/")
        await expect(page.get_by_role("button", name="Iniciar sesión")).to_be_visible()
        await expect(page.get_by_label("Contraseña", exact=True)).to_be_visible()
        await expect(page.get_by_role("link", name="¿Olvidaste tu contraseña?")).to_be_visible()
        await expect(page.locator("html")).to_have_attribute("lang", "es")
        await expect(page).to_have_title("Soporte — área de clientes")
        await assert_no_horizontal_scroll(page)
    finally:
        await context.close()

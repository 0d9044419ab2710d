"""Issue 18, item 3, in Chromium: the inbox's Mine / Unassigned / All views. Two agents;
the server filters the queues and their counts, a claim moves an item between views live,
and the choice is the agent's own — it survives a reload and follows them to a second
browser (it is stored on their user, ``ui_prefs.view``)."""

from __future__ import annotations

from playwright.async_api import Browser, Page, expect

from chat.auth import principal_of, visitor_session
from chat.conversations import start_conversation
from chat.models import Role
from tests.browser.console_helpers import api, item, no_auto_assignment, open_console, queue, staff
from tests.browser.widget_harness import WidgetWorld


async def chat(world: WidgetWorld, name: str, subject: str) -> int:
    session = await visitor_session(world.services, site_key=world.site_key, name=name)
    return (await start_conversation(world.services, principal_of(session.user), subject=subject)).conversation.id


async def shows(page: Page, view: str, present: list[int], absent: list[int]) -> None:
    await expect(page.get_by_test_id(f"view-{view}")).to_have_attribute("aria-pressed", "true")
    for conv in present:
        await expect(item(page, "new", conv)).to_be_visible()
    for conv in absent:
        await expect(item(page, "new", conv)).to_have_count(0)
    await expect(queue(page, "new").get_by_test_id("count")).to_have_text(str(len(present)))


async def test_mine_unassigned_and_all_are_filtered_live_and_follow_the_agent(browser: Browser, world: WidgetWorld) -> None:
    alice, bob = await staff(world, "Alice"), await staff(world, "Bob")
    admin = await staff(world, "Ada", Role.SUPPORT_ADMIN)
    await no_auto_assignment(world, admin, alice, bob)
    first = await chat(world, "Vera", "Printer jammed")
    second = await chat(world, "Otto", "Invoice missing")
    assert (await api(world, alice, "POST", f"/api/desk/conversations/{first}/claim", {})).status_code == 200

    _, a = await open_console(browser, world, alice)
    _, b = await open_console(browser, world, bob)
    await shows(a, "all", [first, second], [])

    await a.get_by_test_id("view-mine").click()
    await shows(a, "mine", [first], [second])
    await a.get_by_test_id("view-unassigned").click()
    await shows(a, "unassigned", [second], [first])
    await b.get_by_test_id("view-mine").click()
    await shows(b, "mine", [], [first, second])

    # Bob claims the second: it leaves Alice's Unassigned and enters Bob's Mine, live.
    assert (await api(world, bob, "POST", f"/api/desk/conversations/{second}/claim", {})).status_code == 200
    await shows(a, "unassigned", [], [first, second])
    await shows(b, "mine", [second], [first])
    # A third chat comes in: Unassigned shows it, Mine does not.
    third = await chat(world, "Pia", "Login fails")
    await shows(a, "unassigned", [third], [first, second])
    await shows(b, "mine", [second], [first, third])

    # The choice is saved on the person: a reload, then another browser, keep it.
    await a.get_by_test_id("view-mine").click()
    await shows(a, "mine", [first], [second, third])
    await a.reload()
    await shows(a, "mine", [first], [second, third])
    _, elsewhere = await open_console(browser, world, alice)
    await shows(elsewhere, "mine", [first], [second, third])
    me = (await api(world, alice, "GET", "/api/me")).json()
    assert me["user"]["ui_prefs"]["view"] == "mine"

"""My status across my own consoles: a choice made in one tab shows in the others (and the
latest choice is the one everybody sees — docs/protocol.md, `presence`)."""

from __future__ import annotations

from playwright.async_api import Browser, expect

from chat.models import Role
from tests.browser.console_helpers import open_console, staff
from tests.browser.widget_harness import WidgetWorld


async def test_away_chosen_in_one_tab_shows_in_the_other_and_back(browser: Browser, world: WidgetWorld) -> None:
    ann = await staff(world, "Ann", Role.AGENT)
    first_context, first = await open_console(browser, world, ann)
    second_context, second = await open_console(browser, world, ann)
    try:
        mine_first, mine_second = first.get_by_label("My status"), second.get_by_label("My status")
        await expect(mine_first).to_have_value("online")
        await mine_second.select_option("away")
        await expect(mine_first).to_have_value("away")
        await mine_first.select_option("online")
        await expect(mine_second).to_have_value("online")
        # A console opened now starts from the stored choice and the same status.
        await mine_second.select_option("away")
        await expect(mine_first).to_have_value("away")
        third_context, third = await open_console(browser, world, ann)
        try:
            await expect(third.get_by_label("My status")).to_have_value("away")
            await expect(mine_first).to_have_value("away")  # opening a tab chose nothing
        finally:
            await third_context.close()
    finally:
        await first_context.close()
        await second_context.close()

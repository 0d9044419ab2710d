"""The agent console in real Chromium against the real server: two agents in two browser
contexts, the visitor in a third on the customer's site through the real widget."""

from __future__ import annotations

import re

from playwright.async_api import Browser, FrameLocator, Locator, Page, expect
from playwright.async_api import TimeoutError as PlaywrightTimeoutError

from chat import directory
from chat.auth import visitor_session
from chat.models import OrgKind, Role
from tests.browser.console_helpers import (
    api,
    api_as,
    composer_send,
    history,
    item,
    no_auto_assignment,
    open_console,
    queue,
    staff,
    visitor_starts_chat,
    widget_messages,
)
from tests.browser.widget_harness import WidgetWorld
from tests.support.chatlog import eventually


async def ticket_number(frame: FrameLocator) -> int:
    text = await frame.locator(".ticket").inner_text()
    match = re.search(r"#(\d+)", text)
    assert match, text
    return int(match.group(1))


async def open_item(page: Page, key: str, conversation_id: int) -> None:
    await item(page, key, conversation_id).click()
    await expect(page.locator(".conv-head h1")).to_contain_text(f"#{conversation_id}")


async def test_two_agents_see_a_new_chat_live_one_claims_it_the_other_sees_who_and_an_internal_note_stays_internal(
    browser: Browser, world: WidgetWorld
) -> None:
    alice, bob = await staff(world, "Alice"), await staff(world, "Bob")
    admin = await staff(world, "Ada", Role.SUPPORT_ADMIN)
    await no_auto_assignment(world, admin, alice, bob)
    _, a = await open_console(browser, world, alice)
    _, b = await open_console(browser, world, bob)
    await expect(queue(a, "new").get_by_test_id("count")).to_have_text("0")

    # A visitor starts a chat in the widget: it appears in both consoles without a reload.
    _, widget = await visitor_starts_chat(browser, world, "Vera Visitor", "My printer is on fire")
    conv = await ticket_number(widget)
    for page in (a, b):
        await expect(item(page, "new", conv)).to_contain_text("My printer is on fire")
        await expect(item(page, "new", conv)).to_contain_text("Vera Visitor")
        await expect(queue(page, "new").get_by_test_id("count")).to_have_text("1")

    # Alice claims it; Bob, opening it, sees who answers and who else is there.
    await open_item(a, "new", conv)
    await a.get_by_role("button", name="I'll answer").click()
    await expect(a.get_by_test_id("claimed-by")).to_have_text("Answering: Alice")
    await expect(item(b, "new", conv)).to_contain_text("answering: Alice")
    await open_item(b, "new", conv)
    await expect(b.get_by_test_id("claimed-by")).to_have_text("Answering: Alice")
    await expect(b.get_by_test_id("viewers")).to_contain_text("Alice (answering)")
    await expect(a.get_by_test_id("viewers")).to_contain_text("Bob (viewing)")
    # Bob's claim would be refused by the server: the console asks before taking over.
    await b.get_by_role("button", name="I'll answer").click()
    await expect(b.locator("dialog")).to_contain_text("Alice is already answering")
    await b.locator("dialog").get_by_role("button", name="Cancel").click()

    # Bob types: Alice sees it.
    await b.get_by_label("Message").press_sequentially("let me check")
    await expect(a.get_by_test_id("typing")).to_have_text("Bob is typing…")
    await b.get_by_label("Message").fill("")

    # An internal note, then a two-line reply (Shift+Enter breaks the line, Enter sends).
    await composer_send(a, "Customer sounds upset; printer model X7", internal=True)
    await expect(history(b).locator(".msg.note")).to_contain_text("Customer sounds upset")
    box = a.get_by_label("Message")
    await box.fill("Please unplug it now.")
    await box.press("Shift+Enter")
    await box.press_sequentially("Then tell me what the display says.")
    await box.press("Enter")
    reply = "Please unplug it now.\nThen tell me what the display says."
    await expect(widget_messages(widget).last).to_contain_text("Then tell me what the display says.")
    assert reply in await widget_messages(widget).last.inner_text()
    # The widget shows the reply, which came after the note, and never the note.
    await expect(widget.locator("body")).not_to_contain_text("Customer sounds upset")
    await expect(history(b).locator(".msg.staff").last).to_contain_text("Then tell me what the display says.")


async def test_a_transfer_moves_the_item_live_and_resolve_brings_the_rating_prompt_to_the_widget(
    browser: Browser, world: WidgetWorld
) -> None:
    alice, bob = await staff(world, "Alice"), await staff(world, "Bob")
    admin = await staff(world, "Ada", Role.SUPPORT_ADMIN)
    await no_auto_assignment(world, admin, alice, bob)
    _, a = await open_console(browser, world, alice)
    _, b = await open_console(browser, world, bob)
    _, widget = await visitor_starts_chat(browser, world, "Vera Visitor", "The sensor reports 300 degrees")
    conv = await ticket_number(widget)

    await open_item(a, "new", conv)
    await composer_send(a, "Looking into it.")
    await expect(widget_messages(widget).last).to_contain_text("Looking into it.")
    # Answered: out of New, into the first line, live in the other console too.
    await expect(item(b, "first_line", conv)).to_be_visible()
    await expect(queue(b, "new").get_by_test_id("count")).to_have_text("0")

    await a.get_by_role("button", name="Transfer…").click()
    dialog = a.locator("dialog")
    await dialog.get_by_label("Transfer to").select_option(label="Second level (level 2)")
    await dialog.get_by_label("Note for the next line").fill("Hardware fault, needs a technician")
    await dialog.get_by_role("button", name="Transfer").click()
    await expect(item(b, "group:second_level", conv)).to_be_visible()
    await expect(item(b, "first_line", conv)).to_have_count(0)
    await expect(queue(b, "group:second_level").get_by_test_id("count")).to_have_text("1")
    await expect(history(a).locator(".sys").last).to_contain_text("Hardware fault, needs a technician")

    # Re-categorize, set the severity, add an action task: the side panel shows them.
    await a.get_by_role("button", name="Category / severity…").click()
    await a.locator("dialog").get_by_label("Category").select_option(label="Device error")
    await a.locator("dialog").get_by_label("Severity").select_option("1")
    await a.locator("dialog").get_by_role("button", name="Save").click()
    await expect(a.locator(".aside")).to_contain_text("Device error")
    await a.get_by_role("button", name="Add task…").click()
    await a.locator("dialog").get_by_label("Task").fill("Ship a replacement sensor")
    await a.locator("dialog").get_by_label("Type").select_option("firmware")
    await a.locator("dialog").get_by_label("Hours").fill("1.5")
    await a.locator("dialog").get_by_role("button", name="Add task").click()
    await expect(a.locator(".aside .task-item")).to_contain_text("Ship a replacement sensor")
    await expect(b.locator(".conv-head")).to_have_count(0)  # Bob never opened it; his queues still follow
    await expect(item(b, "group:second_level", conv)).to_be_visible()

    # Resolve: a reply and "proposed to close"; the widget asks the visitor to rate.
    await a.get_by_role("button", name="Resolve…").click()
    await a.locator("dialog").get_by_label("Reply to the customer").fill("Replaced the sensor remotely; all good now.")
    await a.locator("dialog").get_by_role("button", name="Send and resolve").click()
    await expect(widget_messages(widget).last).to_contain_text("Replaced the sensor remotely")
    await expect(widget.locator(".prompt")).to_be_visible()
    await expect(widget.get_by_role("button", name="Rate and close")).to_be_visible()
    # Resolved items leave the working queues, and search still finds them.
    await expect(item(b, "group:second_level", conv)).to_have_count(0)
    await b.get_by_label("Search").fill(str(conv))
    await b.get_by_label("Search").press("Enter")
    await expect(queue(b, "search").locator(f"[data-conversation-id='{conv}']")).to_contain_text("proposed_to_close")


async def force_open_and_fill(page: Page, field: Locator, text: str) -> None:
    """Remove the composer's ``disabled`` and type into ``field``. A live update may render
    the composer again (disabled) between the two steps — seen once in a full run — so
    both are retried together, a few times."""
    for attempt in range(5):
        await page.evaluate("document.querySelectorAll('.composer [disabled]').forEach(el => el.removeAttribute('disabled'))")
        try:
            await field.fill(text, timeout=2000)
            return
        except PlaywrightTimeoutError:
            if attempt == 4:
                raise


async def test_a_read_only_user_sees_everything_and_the_server_refuses_their_reply(
    browser: Browser, world: WidgetWorld
) -> None:
    rita = await staff(world, "Rita", Role.READ_ONLY)
    alice, admin = await staff(world, "Alice"), await staff(world, "Ada", Role.SUPPORT_ADMIN)
    await no_auto_assignment(world, admin, alice)
    _, r = await open_console(browser, world, rita)
    # An agent online (over the protocol client), or the widget offers only the offline form.
    async with world.client(alice.token) as agent_socket:
        await agent_socket.ping()
        _, widget = await visitor_starts_chat(browser, world, "Vera Visitor", "Cannot log in")
        first = await ticket_number(widget)
        _, widget2 = await visitor_starts_chat(browser, world, "Walt Visitor", "Invoice is wrong")
        second = await ticket_number(widget2)
    await expect(item(r, "new", second)).to_be_visible()

    # Quick switching: Alt+↓ opens the next conversation of the queues.
    await r.keyboard.press("Alt+ArrowDown")
    await expect(r.locator(".conv-head h1")).to_contain_text(f"#{first}")
    await r.keyboard.press("Alt+ArrowDown")
    await expect(r.locator(".conv-head h1")).to_contain_text(f"#{second}")
    await expect(history(r).locator(".sys").first).to_contain_text("Walt Visitor started the conversation")
    # Each row counts down its SLA; the colour turns near the warning time and past due.
    await expect(item(r, "new", second).get_by_test_id("sla")).to_contain_text("left")
    colours = await r.evaluate("""async () => {
        const { slaState } = await import("/console/js/inbox.js");
        const sla = { due_at: "2026-03-02T10:00:00Z", warn_at: "2026-03-02T09:45:00Z", state: "running" };
        return ["09:00", "09:50", "10:05"].map((t) => slaState(sla, Date.parse(`2026-03-02T${t}:00Z`)));
    }""")
    assert colours == [{"cls": "ok", "text": "1h 00m left"}, {"cls": "near", "text": "10m left"},
                       {"cls": "breached", "text": "late 5m"}]

    # The console offers nothing to change; forcing the composer open, the server refuses.
    message = r.get_by_label("Message")
    await expect(message).to_be_disabled()
    await expect(r.get_by_role("button", name="I'll answer")).to_be_disabled()
    await force_open_and_fill(r, message, "I am read-only but I try anyway")
    await message.press("Enter")
    await expect(r.get_by_role("alert")).to_contain_text("Not sent: you may not post message")
    # The desk's own actions, called from the page with the page's credentials: refused too.
    refused = await r.evaluate("""async (id) => {
        const token = sessionStorage.getItem("supportchat.console.token");
        const call = async (path, body) => {
            const res = await fetch(path, {method: "POST", body: JSON.stringify(body),
                headers: {"Authorization": `Bearer ${token}`, "Content-Type": "application/json"}});
            return [res.status, (await res.json()).error.code];
        };
        return [await call(`/api/desk/conversations/${id}/claim`, {}),
                await call(`/api/desk/conversations/${id}/resolve`, {body: "x", client_msg_id: "ro"}),
                await call(`/api/tickets/${id}/transfer`, {group: "vendor"})];
    }""", second)
    assert refused == [[403, "forbidden"]] * 3
    stored = await api(world, rita, "GET", f"/api/conversations/{second}/events")
    assert "I am read-only" not in stored.text
    assert (await api(world, rita, "GET", f"/api/desk/items/{second}")).json()["item"]["assignee"] is None
    await expect(widget2.locator("body")).not_to_contain_text("I am read-only")


async def test_after_a_dropped_connection_the_console_has_every_message_once_and_the_queues_are_fresh(
    browser: Browser, world: WidgetWorld
) -> None:
    alice, admin = await staff(world, "Alice"), await staff(world, "Ada", Role.SUPPORT_ADMIN)
    await no_auto_assignment(world, admin, alice)
    _, a = await open_console(browser, world, alice)
    visitor = await visitor_session(world.services, site_key=world.site_key, name="Vera Visitor")
    async with world.client(visitor.token) as customer:
        conv = int((await api_as(world, visitor.token, "POST", "/api/conversations", {"subject": "Flaky"})).json()["conversation"]["id"])
        await customer.join(conv)
        await open_item(a, "new", conv)
        await customer.send(conv, "one")
        await expect(history(a).locator(".msg")).to_have_count(1)

        # The server drops the console's socket; the customer goes on writing meanwhile, and
        # a new chat starts (its doorbell rings while the console is away).
        reconnected: list[object] = []
        a.on("websocket", lambda ws: reconnected.append(ws))
        dropped = list(world.hub.by_user.get(alice.id, ()))
        for conn in dropped:
            conn.close_soon(1011, "dropped by the test")
        assert len(dropped) == 1
        for text in ("two", "three", "four"):
            await customer.send(conv, text)
        other = int((await api_as(world, visitor.token, "POST", "/api/conversations", {"subject": "Meanwhile"})).json()
                    ["conversation"]["id"])

        def reconnect_seen() -> None:
            assert reconnected, "no new socket yet"

        await eventually(reconnect_seen, timeout=10, what="the console's new socket")
        await expect(a.get_by_test_id("connection")).to_have_text("live")
        await expect(history(a).locator(".msg .body")).to_have_text(["one", "two", "three", "four"])
        seqs = [int(s) for s in await history(a).locator("[data-seq]").evaluate_all("els => els.map(e => e.dataset.seq)")]
        assert seqs == sorted(set(seqs)), seqs
        await expect(item(a, "new", other)).to_contain_text("Meanwhile")
        # And the composer works on the new socket.
        await composer_send(a, "Still here")
        await customer.wait_for_seq(conv, seqs[-1] + 1)
        assert [e["body"] for e in customer.log[conv] if e["kind"] == "message"][-1] == "Still here"


async def test_a_partners_admin_takes_replies_and_hands_a_ticket_to_the_platform_whose_agent_then_sees_it(
    browser: Browser, world: WidgetWorld
) -> None:
    svc = world.services
    reseller = (await directory.create_organization(svc, None, name="Partner Co", kind=OrgKind.RESELLER)).organization
    company = (await directory.create_organization(svc, None, name="Client Co", kind=OrgKind.CUSTOMER, parent=reseller.id)).organization
    admin, alice = await staff(world, "Ada", Role.SUPPORT_ADMIN), await staff(world, "Alice")
    assert (await api(world, admin, "PUT", f"/api/organizations/{reseller.id}/reseller-settings",
                      {"own_first_line": True})).status_code == 200
    rex = await staff(world, "Rex", Role.RESELLER_ADMIN, organization=reseller.id)
    carl = await staff(world, "Carl", Role.CUSTOMER, organization=company.id)
    _, a = await open_console(browser, world, alice)
    _, r = await open_console(browser, world, rex)
    await expect(r.locator(".brand")).to_have_text("Partner console — Partner Co")
    await expect(r.get_by_role("button", name="Admin")).to_have_count(0)

    created = await api(world, carl, "POST", "/api/conversations", {"subject": "VPN drops", "body": "Every hour"})
    conv = int(created.json()["conversation"]["id"])
    key = f"partner:{reseller.id}"
    # The partner's console re-reads its queue on its own (no staff doorbells reach it).
    await r.reload()
    await expect(item(r, key, conv)).to_contain_text("VPN drops")
    await expect(item(a, "new", conv)).to_have_count(0)  # never in the platform's queues
    # A platform agent finds it by search and may read it, not work it.
    await a.get_by_label("Search").fill("VPN")
    await a.get_by_label("Search").press("Enter")
    await open_item(a, "search", conv)
    await expect(a.get_by_test_id("partner-badge")).to_have_text("Partner's queue: Partner Co")
    await expect(a.get_by_role("button", name="I'll answer")).to_be_disabled()
    await expect(a.get_by_role("button", name="Transfer to platform…")).to_be_disabled()
    await expect(a.get_by_label("Message")).to_be_disabled()
    await expect(a.get_by_test_id("handled-by")).to_have_count(0)
    await a.get_by_role("button", name="Back to queues").click()
    # A support admin oversees the partners' queues.
    _, d = await open_console(browser, world, admin)
    await d.get_by_test_id("handled-by").select_option("partner")
    await expect(item(d, key, conv)).to_contain_text("partner: Partner Co")
    await expect(queue(d, "new")).to_have_count(0)

    await open_item(r, key, conv)
    await expect(r.get_by_test_id("partner-badge")).to_have_text("Partner's queue: Partner Co")
    await expect(r.get_by_label("Message")).to_be_disabled()  # take it first
    await r.get_by_role("button", name="Take").click()
    await expect(r.get_by_test_id("claimed-by")).to_have_text("Answering: Rex")
    await expect(r.get_by_label("Message")).to_be_enabled()
    await composer_send(r, "Which router model?")
    await expect(history(r).locator(".msg.staff")).to_contain_text("Which router model?")

    await r.get_by_role("button", name="Transfer to platform…").click()
    await r.locator("dialog").get_by_label("Note for platform support").fill("Looks like a platform bug")
    await r.locator("dialog").get_by_role("button", name="Transfer").click()
    await expect(item(r, key, conv)).to_have_count(0)
    await expect(queue(r, key).get_by_test_id("count")).to_have_text("0")

    # Live in the platform agent's console: in the first line (answered), with its history.
    await expect(item(a, "first_line", conv)).to_contain_text("VPN drops")
    await open_item(a, "first_line", conv)
    await expect(a.get_by_test_id("partner-badge")).to_have_count(0)
    await expect(history(a).locator(".msg.staff")).to_contain_text("Which router model?")
    await expect(history(a).locator(".sys").last).to_contain_text("Rex handed it to platform support — Looks like a platform bug")
    await expect(a.get_by_role("button", name="I'll answer")).to_be_enabled()
    # Rows and the head say how long ago the visitor left a live chat (customer_left_at).
    left = await a.evaluate("""async () => {
        const { leftText } = await import("/console/js/inbox.js");
        const at = "2026-03-02T10:00:00Z", now = Date.parse("2026-03-02T10:07:30Z");
        return [leftText({ customer_left_at: at, customer: { role: "visitor" } }, now),
                leftText({ customer_left_at: at, customer: { role: "customer" } }, now),
                leftText({ customer_left_at: null }, now)];
    }""")
    assert left == ["Visitor left 7m ago", "Customer left 7m ago", ""]

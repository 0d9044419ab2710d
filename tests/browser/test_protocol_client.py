"""The browser's one protocol client (static/shared/protocol.js), which the widget, the
console and the portal share: its close-code table is docs/protocol.md's and it acts on
it; and the portal keeps what was written while its socket was down and has it stored
exactly once after the reconnect — also when the first ``ack`` was lost with a socket."""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any

import httpx
from playwright.async_api import Browser, BrowserContext, Page, WebSocketRoute, expect

from chat import directory
from chat.groups import requests, service
from chat.models import OrgKind, Role
from tests.chat.groups.helpers import PASSWORD, Person, person
from tests.support.live import LiveServer

ROOT = Path(__file__).resolve().parents[2]
TIMEOUT_MS = 10_000
SOCKET = re.compile(r"/ws(\?.*)?$")
# Closing a routed socket is a coroutine; its callers (message handlers) are not.
PENDING: set[asyncio.Future[None]] = set()


def soon(closing: Coroutine[Any, Any, None]) -> None:
    task = asyncio.ensure_future(closing)
    PENDING.add(task)
    task.add_done_callback(PENDING.discard)


def documented_close_codes() -> dict[int, str]:
    """docs/protocol.md, "Close codes": each code's "reconnect" column."""
    text = (ROOT / "docs" / "protocol.md").read_text(encoding="utf-8")
    section = text.split("\n## Close codes\n", 1)[1].split("\n## ", 1)[0]
    header, *rows = [line for line in section.splitlines() if line.startswith("| ") and not line.startswith("|---")]
    columns = [c.strip() for c in header.strip("|").split("|")]
    assert columns[0] == "code" and "reconnect" in columns, columns
    table = {}
    for row in rows:
        cells = [c.strip() for c in row.strip("|").split("|")]
        table[int(cells[0])] = cells[columns.index("reconnect")]
    return table


def stand_in(connections: dict[int, int], sends: dict[int, int]) -> Callable[[WebSocketRoute], None]:
    """A server that closes every socket with the code its URL names (``/ws?close=4403``)
    right after ``auth``. For 1009 it first says ``ready`` and ``joined``, and closes on
    the ``send`` frame (the frame too large)."""

    def route(ws: WebSocketRoute) -> None:
        code = int(ws.url.rsplit("=", 1)[1])
        connections[code] = connections.get(code, 0) + 1

        def answer(message: str | bytes) -> None:
            frame = json.loads(message)
            if code == 1009 and frame["type"] == "auth":
                ws.send(json.dumps({"type": "ready", "user": {"id": 1, "name": "T", "role": "customer"}}))
            elif code == 1009 and frame["type"] == "join":
                ws.send(json.dumps({"type": "joined", "conversation_id": frame["conversation_id"], "last_seq": 0,
                                    "read_seq": 0, "ref": frame.get("ref")}))
            else:
                if frame["type"] == "send":
                    sends[code] = sends.get(code, 0) + 1
                soon(ws.close(code=code, reason="stand-in"))

        ws.on_message(answer)

    return route


async def test_the_close_code_table_is_the_documented_one_and_the_client_acts_on_it(
    browser: Browser, web: LiveServer
) -> None:
    documented = documented_close_codes()
    assert {documented[c] for c in (4400, 4403, 4409)} == {"no"} and documented[4401] == "new token"
    connections: dict[int, int] = {}
    sends: dict[int, int] = {}
    context = await browser.new_context()
    try:
        page = await context.new_page()
        await page.route_web_socket(SOCKET, stand_in(connections, sends))
        await page.goto(web.base_url + "/portal/")
        table = await page.evaluate("async () => (await import('/static/shared/protocol.js')).CLOSE")
        assert {int(code): how for code, how in table.items()} == documented

        # Every code once, all at the same time, and 4000 that no table names (like 1006).
        codes = [*sorted(documented), 4000]
        seen = await page.evaluate("""async (codes) => {
            const { Client } = await import("/static/shared/protocol.js");
            const clients = codes.map((code) => {
                const c = new Client(`ws://${location.host}/ws?close=${code}`, () => "s:test");
                c.fatal = null;
                c.failed = [];
                c.on("fatal", (f) => { c.fatal = f; }).on("sendFailed", (item, f) => c.failed.push(f.code));
                c.join(42, 0);
                if (code === 1009) c.send(42, "too big, say");
                c.start();
                return c;
            });
            // A backoff's first retry comes within 0.5 s; a pause waits 5 s.
            await new Promise((r) => setTimeout(r, 2500));
            const out = {};
            clients.forEach((c, i) => {
                out[codes[i]] = { state: c.state, fatal: c.fatal, failed: c.failed, outbox: c.outbox.length };
                c.stop();
            });
            return out;
        }""", codes)
    finally:
        await context.close()

    state = {"backoff": "reconnecting", "pause": "reconnecting", "no": "failed", "new token": "auth"}
    for code, how in {**documented, 4000: "backoff"}.items():
        got = seen[str(code)]
        # 1009's stand-in lets the second socket in (nothing is sent on it).
        assert got["state"] == ("online" if code == 1009 else state[how]), (code, how, got)
        assert got["fatal"] == (code if how in ("no", "new token") else None), (code, how, got)
        # Came back within the 2.5 s only when the table says "backoff".
        assert (connections[code] > 1) == (how == "backoff"), (code, how, connections[code])
    # 1009: the frame that was too large is dropped and reported, never sent again.
    assert sends == {1009: 1}
    assert seen["1009"]["failed"] == ["frame_too_large"] and seen["1009"]["outbox"] == 0


# -- the portal ----------------------------------------------------------------------


async def _member(web: LiveServer) -> tuple[Person, Person, int]:
    """Alice, a member of her company's group Ops; an agent; the group's conversation."""
    svc = web.services
    reseller = (await directory.create_organization(svc, None, name="Partner One", kind=OrgKind.RESELLER)).organization
    acme = (await directory.create_organization(svc, None, name="Acme", kind=OrgKind.CUSTOMER, parent=reseller.id)).organization
    alice = await person(svc, "alice@acme.example", Role.CUSTOMER, acme.id, password=True)
    agent = await person(svc, "agent@support.example", Role.AGENT)
    group = await service.create_group(svc, agent.principal, organization=acme.id, name="Ops")
    made = await requests.request_join(svc, alice.principal, group="Ops")
    admin = await person(svc, "admin@partner.example", Role.RESELLER_ADMIN, reseller.id)
    await requests.decide(svc, admin.principal, made.id, approve=True)
    return alice, agent, group.conversation_id


async def _in_the_group_chat(
    browser: Browser, web: LiveServer, who: Person, relay: Callable[[WebSocketRoute], None] | None = None
) -> tuple[BrowserContext, Page]:
    """Signed in to the portal (through ``relay`` if given), the group Ops open."""
    context = await browser.new_context()
    context.set_default_timeout(TIMEOUT_MS)
    page = await context.new_page()
    if relay is not None:
        await page.route_web_socket(SOCKET, relay)
    await page.goto(web.base_url + "/portal/")
    await page.get_by_label("E-mail").fill(who.email)
    await page.get_by_label("Password", exact=True).fill(PASSWORD)
    await page.get_by_role("button", name="Sign in").click()
    await expect(page.locator("#live")).to_have_text("live")
    await page.locator('#groups li[data-group="Ops"]').get_by_role("button", name="Open chat").click()
    await expect(page.locator("#chat-log")).to_contain_text("Alice joined the group")
    return context, page


async def _stored(web: LiveServer, token: str, conversation_id: int) -> list[dict[str, Any]]:
    """The conversation's stored messages, read over HTTP."""
    async with httpx.AsyncClient(base_url=web.base_url, timeout=10) as http:
        r = await http.get(f"/api/conversations/{conversation_id}/events?limit=500",
                           headers={"Authorization": f"Bearer {token}"})
    assert r.status_code == 200, r.text
    return [e for e in r.json()["events"] if e["kind"] == "message"]


def _drop(web: LiveServer, user_id: int) -> int:
    """The server drops every socket of the user (as a restart or a proxy would)."""
    conns = list(web.hub.by_user.get(user_id, ()))
    for conn in conns:
        conn.close_soon(1011, "dropped by the test")
    return len(conns)


async def _say(page: Page, text: str) -> None:
    await page.locator("#chat-input").fill(text)
    await page.locator("#chat-input").press("Enter")


async def test_a_message_written_while_the_portals_socket_is_down_is_stored_once_after_the_reconnect(
    browser: Browser, web: LiveServer
) -> None:
    alice, agent, conv = await _member(web)
    context, page = await _in_the_group_chat(browser, web, alice)
    try:
        sockets: list[object] = []
        page.on("websocket", lambda ws: sockets.append(ws))

        # The server drops the socket and the network stays down while she writes.
        await context.set_offline(True)
        assert _drop(web, alice.id) == 1
        await expect(page.locator("#live")).to_have_text("offline")
        await _say(page, "Written while offline")
        await _say(page, "And a second one")
        # Not lost: out of the input, waiting in the outbox, shown as not sent yet.
        await expect(page.locator("#chat-input")).to_have_value("")
        await expect(page.locator("#chat-pending .body")).to_have_text(["Written while offline", "And a second one"])
        assert await _stored(web, agent.token, conv) == []

        await context.set_offline(False)
        await expect(page.locator("#live")).to_have_text("live")
        await expect(page.locator("#chat-pending li")).to_have_count(0)
        stored = await _stored(web, agent.token, conv)
        assert [m["body"] for m in stored] == ["Written while offline", "And a second one"]
        assert {m["author"]["id"] for m in stored} == {alice.id}
        await expect(page.locator("#chat-log .body")).to_have_text(["Written while offline", "And a second one"])

        # Acknowledged means out of the outbox: another drop sends nothing again.
        before = len(sockets)
        assert _drop(web, alice.id) == 1
        for _ in range(100):
            if len(sockets) > before:
                break
            await asyncio.sleep(0.1)
        assert len(sockets) > before, "the portal did not reconnect"
        await expect(page.locator("#live")).to_have_text("live")
        await _say(page, "After the second drop")
        await expect(page.locator("#chat-log .body")).to_have_text(
            ["Written while offline", "And a second one", "After the second drop"])
        stored = await _stored(web, agent.token, conv)
        assert [m["body"] for m in stored] == ["Written while offline", "And a second one", "After the second drop"]
    finally:
        await context.close()


async def test_a_send_whose_ack_was_lost_is_sent_again_and_the_duplicate_ack_settles_it(
    browser: Browser, web: LiveServer
) -> None:
    alice, agent, conv = await _member(web)
    acks: list[dict[str, Any]] = []
    sent: list[dict[str, Any]] = []

    def relay(ws: WebSocketRoute) -> None:
        """Between the page and the server. The first ack never reaches the page: its
        socket is cut right then (the message is stored, the page cannot know it)."""
        server = ws.connect_to_server()

        def to_server(message: str | bytes) -> None:
            frame = json.loads(message)
            if frame["type"] == "send":
                sent.append(frame)
            server.send(message)

        def to_page(message: str | bytes) -> None:
            frame = json.loads(message)
            if frame["type"] == "ack":
                acks.append(frame)
                if len(acks) == 1:
                    soon(ws.close(code=1011, reason="cut by the test"))
                    soon(server.close())
                    return
            ws.send(message)

        ws.on_message(to_server)
        server.on_message(to_page)

    context, page = await _in_the_group_chat(browser, web, alice, relay)
    try:
        await _say(page, "Said once")
        await expect(page.locator("#chat-pending li")).to_have_count(0)
        await expect(page.locator("#live")).to_have_text("live")
        stored = await _stored(web, agent.token, conv)
        assert [m["body"] for m in stored] == ["Said once"]
        # The same client_msg_id both times; the server's second answer: a duplicate.
        assert [f["body"] for f in sent] == ["Said once", "Said once"]
        assert sent[0]["client_msg_id"] == sent[1]["client_msg_id"] == stored[0]["client_msg_id"]
        assert [(a["client_msg_id"], a["duplicate"]) for a in acks] == [
            (sent[0]["client_msg_id"], False), (sent[0]["client_msg_id"], True)]
        await expect(page.locator("#chat-log .body")).to_have_text(["Said once"])
        # Settled: the next message goes out behind it.
        await _say(page, "And the next one")
        await expect(page.locator("#chat-log .body")).to_have_text(["Said once", "And the next one"])
        await expect(page.locator("#chat-pending li")).to_have_count(0)
        assert [m["body"] for m in await _stored(web, agent.token, conv)] == ["Said once", "And the next one"]
    finally:
        await context.close()


async def test_an_unasked_left_ends_the_conversation_and_its_outbox(browser: Browser, web: LiveServer) -> None:
    """``left`` with ``reason: "access_revoked"`` (docs/protocol.md, "Who may see a
    conversation"): the client forgets the conversation and fails what waited to be sent
    there, as for a refused join — it does not join again."""
    joins: list[int] = []

    def route(ws: WebSocketRoute) -> None:
        def answer(message: str | bytes) -> None:
            frame = json.loads(message)
            if frame["type"] == "auth":
                ws.send(json.dumps({"type": "ready", "user": {"id": 1, "name": "T", "role": "customer"}}))
            elif frame["type"] == "join":
                joins.append(frame["conversation_id"])
                ws.send(json.dumps({"type": "joined", "conversation_id": frame["conversation_id"], "last_seq": 0,
                                    "read_seq": 0, "ref": frame.get("ref")}))
            elif frame["type"] == "send":  # taken off the ticket before this one was stored
                ws.send(json.dumps({"type": "left", "conversation_id": frame["conversation_id"],
                                    "reason": "access_revoked"}))

        ws.on_message(answer)

    context = await browser.new_context()
    try:
        page = await context.new_page()
        await page.route_web_socket(SOCKET, route)
        await page.goto(web.base_url + "/portal/")
        seen = await page.evaluate("""async () => {
            const { Client } = await import("/static/shared/protocol.js");
            const c = new Client(`ws://${location.host}/ws`, () => "s:test");
            const failed = [], left = [];
            c.on("sendFailed", (item, f) => failed.push([item.body, f.code])).on("left", (f) => left.push(f.reason));
            c.join(42, 0);
            c.send(42, "one");
            c.send(42, "two");
            c.start();
            await new Promise((r) => setTimeout(r, 1500));
            const out = { failed, left, outbox: c.outbox.length, known: c.convs.has(42), state: c.state };
            c.stop();
            return out;
        }""")
    finally:
        await context.close()
    assert seen == {"failed": [["one", "access_revoked"], ["two", "access_revoked"]], "left": ["access_revoked"],
                    "outbox": 0, "known": False, "state": "online"}
    assert joins == [42]

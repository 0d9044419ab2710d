"""Partner first line, the tickets' side: a ticket of a partner's customer lands in the
partner's own queue; the partner's admins list and work it, platform agents neither see it
in their queues nor work it, until the partner transfers it to the platform. Over HTTP on
a live server, on both databases; the escalation ladder with a manual clock."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select

from chat.client import ChatClient
from chat.clock import ManualClock
from chat.conversations import post_message
from chat.errors import Forbidden
from chat.groups.partners import set_reseller_settings
from chat.models import Attachment
from chat.wiring import build_sweeper
from tests.chat.groups.helpers import GroupWorld, Person, make_group_world
from tests.conftest import make_settings
from tests.support.chatlog import stored_log
from tests.support.live import LiveServer, live_server


@pytest.fixture
async def live(db_url: str, tmp_path: Path, clock: ManualClock) -> AsyncIterator[LiveServer]:
    async with live_server(make_settings(db_url, tmp_path / "var", SWEEPER_IN_PROCESS="false"), clock) as server:
        yield server


@pytest.fixture
async def world(live: LiveServer) -> GroupWorld:
    world = await make_group_world(live.services)
    await set_reseller_settings(live.services, world.admin.principal, world.reseller1, own_first_line=True)
    return world


@pytest.fixture
async def http(live: LiveServer) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=live.base_url, timeout=10) as client:
        yield client


class Caller:
    def __init__(self, http: httpx.AsyncClient) -> None:
        self.http = http

    async def __call__(self, who: Person, method: str, path: str, json: Any = None, expect: int = 200) -> Any:
        r = await self.http.request(method, path, json=json, headers={"Authorization": f"Bearer {who.token}"})
        assert r.status_code == expect, f"{method} {path} as {who.name}: {r.status_code} {r.text}"
        return r.json()

    async def error(self, who: Person, method: str, path: str, json: Any, status: int, code: str) -> None:
        body = await self(who, method, path, json, expect=status)
        assert body["error"]["code"] == code, body


async def open_ticket(call: Caller, who: Person, subject: str) -> int:
    body = await call(who, "POST", "/api/tickets", {"subject": subject, "description": "details"}, expect=201)
    return int(body["ticket"]["id"])


async def ids(call: Caller, who: Person, query: str = "") -> set[int]:
    return {t["id"] for t in (await call(who, "GET", f"/api/tickets{query}"))["tickets"]}


async def test_a_partners_customer_lands_in_the_partners_queue_until_transferred(
    world: GroupWorld, http: httpx.AsyncClient, live: LiveServer
) -> None:
    call = Caller(http)
    mine = await open_ticket(call, world.alice, "Reports are empty")  # acme: reseller 1 has own first line
    other = await open_ticket(call, world.carol, "Login fails")  # globex: reseller 2 has not
    chat = (await call(world.bob, "POST", "/api/conversations", {"subject": "Hi", "body": "Anyone?"},
                       expect=201))["conversation"]["id"]
    # The customer's view says nothing of routing; the partner's admin gets the desk's view.
    assert "handled_by" not in (await call(world.alice, "GET", f"/api/tickets/{mine}"))["ticket"]
    seen = (await call(world.r1admin, "GET", f"/api/tickets/{mine}"))["ticket"]
    assert (seen["handled_by"], seen["level"], set(seen["deadlines"])) == (
        world.reseller1, 1, {"first_response", "resolution"})

    # Platform queues leave the partner's tickets out; filters show them.
    assert await ids(call, world.agent) == {other}
    assert await ids(call, world.agent, "?handled_by=partner") == {mine, chat}
    assert await ids(call, world.agent, f"?handled_by={world.reseller1}") == {mine, chat}
    assert await ids(call, world.readonly, "?handled_by=any") == {mine, other, chat}
    listed = (await call(world.agent, "GET", "/api/tickets?handled_by=partner"))["tickets"]
    assert {t["handled_by"] for t in listed} == {world.reseller1}
    await call.error(world.agent, "GET", "/api/tickets?handled_by=someone", None, 422, "validation_failed")
    # The partner lists its own queue, and only that.
    assert await ids(call, world.r1admin) == {mine, chat}
    assert await ids(call, world.r1admin, f"?handled_by={world.reseller1}&q=reports") == {mine}
    assert await ids(call, world.r2admin) == set()
    await call.error(world.r1admin, "GET", "/api/tickets?handled_by=platform", None, 403, "forbidden")
    await call.error(world.alice, "GET", "/api/tickets", None, 403, "forbidden")

    # Platform agents may not work it, nor answer in it; another reseller cannot even see it.
    base = f"/api/tickets/{mine}"
    with pytest.raises(Forbidden):
        await post_message(live.services, world.agent.principal, mine, client_msg_id="ag1", body="Platform here")
    assert not [e for e in await stored_log(live.services, world.admin.principal, mine) if e["kind"] == "message"
                and e["author"] and e["author"]["id"] == world.agent.id]
    await call.error(world.agent, "POST", f"{base}/status", {"action": "start"}, 403, "forbidden")
    await call.error(world.agent, "POST", f"{base}/assign", {"assignee_id": world.agent.id}, 403, "forbidden")
    await call.error(world.agent, "POST", f"{base}/transfer", {"to_platform": True}, 403, "forbidden")
    await call.error(world.r2admin, "POST", f"{base}/transfer", {"to_platform": True}, 404, "not_found")
    # The partner works it: support lines are the platform's, people are its own.
    await call.error(world.r1admin, "POST", f"{base}/transfer", {"level": 2}, 409, "partner_ticket")
    await call.error(world.r1admin, "POST", f"{base}/assign", {"assignee_id": world.agent.id}, 422,
                     "validation_failed")
    assigned = (await call(world.r1admin, "POST", f"{base}/assign", {"assignee_id": world.r1admin.id}))["ticket"]
    assert assigned["assignee"]["id"] == world.r1admin.id
    # Assigned, the partner's admin takes part and answers: that is the first response.
    await post_message(live.services, world.r1admin.principal, mine, client_msg_id="p1", body="Looking into it")
    answered = (await call(world.r1admin, "GET", base))["ticket"]
    assert (answered["status"], answered["deadlines"]["first_response"]["state"]) == ("in_progress", "met")
    waiting = (await call(world.r1admin, "POST", f"{base}/status", {"action": "wait_on_customer"}))["ticket"]
    assert waiting["status"] == "waiting_on_customer"
    await post_message(live.services, world.alice.principal, mine, client_msg_id="a1", body="Still empty")
    assert (await call(world.r1admin, "GET", base))["ticket"]["status"] == "in_progress"  # a customer reply

    # Handed over: it leaves the partner's queue for the platform's, on the line asked for.
    back = (await call(world.r1admin, "POST", f"{base}/transfer",
                       {"to_platform": True, "group": "second_level", "note": "needs a developer"}))["ticket"]
    assert "handled_by" not in back  # no longer its queue: the partner sees its customer's ticket
    moved = (await call(world.agent, "GET", base))["ticket"]
    assert (moved["handled_by"], moved["level"], moved["group"], moved["assignee"]) == (None, 2, "second_level", None)
    log = await stored_log(live.services, world.admin.principal, mine)
    transferred = [e["data"] for e in log if e["kind"] == "system" and e["data"]["event"] == "ticket.transferred"]
    assert len(transferred) == 1 and transferred[0]["to_platform"] is True
    assert (transferred[0]["partner_id"], transferred[0]["note"]) == (world.reseller1, "needs a developer")
    assert await ids(call, world.agent) == {mine, other}
    assert await ids(call, world.r1admin) == {chat}
    await call(world.agent, "POST", f"{base}/assign", {"assignee_id": world.agent.id})
    # The partner no longer works it (it still sees it, as its customer's ticket).
    await call.error(world.r1admin, "POST", f"{base}/transfer", {"to_platform": True}, 403, "forbidden")
    await call.error(world.r1admin, "POST", f"{base}/status", {"action": "start"}, 403, "forbidden")
    await call.error(world.admin, "POST", f"{base}/transfer", {"to_platform": True}, 409, "not_partner_ticket")
    # A live chat goes over the same way, at its current line.
    await call(world.r1admin, "POST", f"/api/tickets/{chat}/transfer", {"to_platform": True})
    chat_moved = (await call(world.agent, "GET", f"/api/tickets/{chat}"))["ticket"]
    assert (chat_moved["handled_by"], chat_moved["level"], chat_moved["group"]) == (None, 1, None)


async def test_the_escalation_ladder_stays_inside_the_partner(
    world: GroupWorld, http: httpx.AsyncClient, live: LiveServer, clock: ManualClock
) -> None:
    call = Caller(http)
    mine = await open_ticket(call, world.alice, "Tracker offline")  # basic plan: first response in 24 h
    sweeper = build_sweeper(live.services)
    clock.advance(timedelta(hours=24, minutes=1))
    await sweeper.run_once()
    clock.advance(timedelta(minutes=60))
    await sweeper.run_once()
    ticket = (await call(world.admin, "GET", f"/api/tickets/{mine}"))["ticket"]
    assert (ticket["level"], ticket["group"], ticket["handled_by"]) == (1, None, world.reseller1)
    log = await stored_log(live.services, world.admin.principal, mine)
    steps = [e["data"] for e in log if e["kind"] == "system" and e["data"]["event"] == "ticket.escalated"]
    assert [s["action"] for s in steps] == ["raise_level", "notify_group_lead"]
    # Not raised to the platform's second line; the partner's admins are told, not ours.
    assert steps[0]["held_by_partner"] == world.reseller1 and steps[0]["level"] == 1
    assert steps[1]["notify"] == [world.r1admin.id]


async def test_an_upload_is_authorized_as_a_message(world: GroupWorld, http: httpx.AsyncClient, live: LiveServer) -> None:
    """A platform agent may not post in a chat the partner holds, so may not upload into it
    either (nothing stored); the customer and support admins may; once the partner hands
    it over, the agent may too."""
    call = Caller(http)
    chat = (await call(world.bob, "POST", "/api/conversations", {"subject": "Hi", "body": "Anyone?"},
                       expect=201))["conversation"]["id"]

    async def upload(who: Person) -> httpx.Response:
        return await http.post(f"/api/conversations/{chat}/attachments?filename=log.txt", content=b"a log line\n",
                               headers={"Authorization": f"Bearer {who.token}", "Content-Type": "text/plain"})

    refused = await upload(world.agent)
    assert (refused.status_code, refused.json()["error"]["code"]) == (403, "forbidden")
    async with live.services.sessions() as db:
        assert not await db.scalar(select(func.count()).select_from(Attachment).where(Attachment.uploader_id == world.agent.id))
    for who in (world.bob, world.admin):
        assert (await upload(who)).status_code == 201, who.name
    await call(world.r1admin, "POST", f"/api/tickets/{chat}/transfer", {"to_platform": True})
    assert (await upload(world.agent)).status_code == 201


async def test_the_partners_admin_keeps_the_room_after_handing_the_ticket_over(
    world: GroupWorld, http: httpx.AsyncClient, live: LiveServer
) -> None:
    """Unassigned by the transfer to the platform, the partner's admin is no participant any
    more — but still reads their customer's conversation (reseller scope), as a new join
    would: their socket stays in the room (chat.access_changes decides as the join does)."""
    call = Caller(http)
    chat = (await call(world.alice, "POST", "/api/conversations", {"subject": "Hi", "body": "Anyone?"},
                       expect=201))["conversation"]["id"]
    await call(world.r1admin, "POST", f"/api/tickets/{chat}/assign", {"assignee_id": world.r1admin.id})
    async with ChatClient(live.ws_url + "/ws", world.r1admin.token, timeout=10) as partner, \
            ChatClient(live.ws_url + "/ws", world.agent.token, timeout=10) as agent:
        await partner.join(chat)
        await agent.join(chat)
        await call(world.r1admin, "POST", f"/api/tickets/{chat}/transfer", {"to_platform": True})
        ack = await agent.send(chat, "platform here")
        assert (await partner.wait_for_seq(chat, ack["seq"]))[-1]["body"] == "platform here"
        assert any(c.principal.user_id == world.r1admin.id for c in live.hub.rooms[chat])

"""Group chats in the console (issue 18): the Groups queue's unread counts per staff
member, the read marker, the doorbell a member's message rings, the group in the
conversation detail, and internal notes that never reach the members (socket, HTTP)."""

from __future__ import annotations

import asyncio
from email import message_from_bytes
from email.policy import default
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from chat.client import ChatClient
from chat.groups import requests
from chat.mail.models import OutboxMail
from chat.wiring import build_sweeper
from tests.chat.groups.helpers import GroupWorld, Person, make_group_world
from tests.support.live import LiveServer

SETTLE_SECONDS = 0.3


@pytest.fixture
async def world(server: LiveServer) -> GroupWorld:
    w = await make_group_world(server.services)
    made = await requests.request_join(server.services, w.alice.principal, group="Ops")
    await requests.decide(server.services, w.r1admin.principal, made.id, approve=True)
    return w


def auth(p: Person) -> dict[str, str]:
    return {"Authorization": f"Bearer {p.token}"}


def client(server: LiveServer, p: Person) -> ChatClient:
    return ChatClient(server.ws_url + "/ws", p.token, timeout=10)


async def _queue(http: httpx.AsyncClient, p: Person) -> dict[str, Any]:
    r = await http.get("/api/desk/group-chats", headers=auth(p))
    assert r.status_code == 200, r.text
    body: dict[str, Any] = r.json()
    return body


def _row(body: dict[str, Any], conversation_id: int) -> dict[str, Any]:
    [row] = [g for g in body["group_chats"] if g["conversation_id"] == conversation_id]
    return row


async def test_unread_counts_the_members_messages_since_my_marker_and_not_my_own_or_notes(
    server: LiveServer, world: GroupWorld, http: httpx.AsyncClient
) -> None:
    conv = world.ops.conversation_id
    async with client(server, world.alice) as alice, client(server, world.agent) as agent:
        await alice.join(conv)
        await agent.join(conv)
        await alice.send(conv, "first question")
        await alice.send(conv, "second question")
        body = await _queue(http, world.agent)
        ops = _row(body, conv)
        assert (ops["unread"], ops["name"], ops["organization"]["name"], ops["members"]) == (2, "Ops", "Acme", 1)
        assert body["unread"] == 2  # the direct customer's group has no messages
        assert body["group_chats"][0]["conversation_id"] == conv  # the unread one first
        # Each staff member has their own marker: the admin has not read either.
        assert _row(await _queue(http, world.admin), conv)["unread"] == 2

        await agent.send(conv, "an answer")  # my own message is not unread for me
        await agent.send(conv, "a note for colleagues", internal=True)
        assert _row(await _queue(http, world.agent), conv)["unread"] == 2
        assert _row(await _queue(http, world.admin), conv)["unread"] == 3  # the note is not counted

        last_seq = _row(await _queue(http, world.agent), conv)["last_seq"]
        r = await http.post(f"/api/desk/group-chats/{conv}/read", json={"seq": last_seq + 100}, headers=auth(world.agent))
        assert r.status_code == 200, r.text
        assert (r.json()["group_chat"]["unread"], r.json()["group_chat"]["read_seq"]) == (0, last_seq)  # clamped
        # Never back.
        r = await http.post(f"/api/desk/group-chats/{conv}/read", json={"seq": 1}, headers=auth(world.agent))
        assert r.json()["group_chat"]["read_seq"] == last_seq
        await alice.send(conv, "third question")
        r = await http.get(f"/api/desk/group-chats/{conv}", headers=auth(world.agent))
        assert r.status_code == 200, r.text
        assert r.json()["group_chat"]["unread"] == 1
        # Read-only staff see the queue and keep a marker of their own (they change nothing in the chat).
        r = await http.post(f"/api/desk/group-chats/{conv}/read", json={"seq": last_seq}, headers=auth(world.readonly))
        assert r.status_code == 200, r.text
        assert r.json()["group_chat"]["unread"] == 1


async def test_a_members_message_rings_every_staff_console_and_a_note_rings_none(
    server: LiveServer, world: GroupWorld
) -> None:
    conv = world.ops.conversation_id
    async with client(server, world.alice) as alice, client(server, world.agent) as agent, \
            client(server, world.readonly) as readonly:
        await alice.join(conv)
        await agent.join(conv)
        await alice.send(conv, "is anyone there?")
        for console in (agent, readonly):  # joined or not
            frame = await console.next_frame("inbox")
            assert (frame["conversation_id"], frame["reason"]) == (conv, "group.message")
        await agent.send(conv, "staff only", internal=True)
        await asyncio.sleep(SETTLE_SECONDS)
        rung = []
        while not readonly.frames.empty():
            frame = readonly.frames.get_nowait()
            rung += [frame] if frame.get("type") == "inbox" else []
        assert rung == []


async def test_an_internal_note_in_a_group_never_reaches_a_member(
    server: LiveServer, world: GroupWorld, http: httpx.AsyncClient
) -> None:
    conv = world.ops.conversation_id
    async with client(server, world.alice) as alice, client(server, world.agent) as agent:
        await alice.join(conv)
        await agent.join(conv)
        await agent.send(conv, "secret: the customer is on a trial", internal=True)
        ack = await agent.send(conv, "Hello Acme")
        seen = (await alice.wait_for_seq(conv, ack["seq"]))[-1]
        assert seen["body"] == "Hello Acme"  # the note before it never came
        assert all("secret" not in (e.get("body") or "") for e in alice.log[conv])
    r = await http.get(f"/api/conversations/{conv}/events?after_seq=0", headers=auth(world.alice))
    assert r.status_code == 200, r.text
    assert [e["body"] for e in r.json()["events"] if e["kind"] != "system"] == ["Hello Acme"]
    r = await http.get(f"/api/conversations/{conv}/events?after_seq=0", headers=auth(world.agent))
    assert "secret: the customer is on a trial" in [e["body"] for e in r.json()["events"]]
    # Nor by mail: a full pass of the mail planner and sender, then the outbox.
    await build_sweeper(server.services).run_once()
    async with server.services.reads() as db:
        mails = list(await db.scalars(select(OutboxMail)))
    texts = [part.get_content() for m in mails
             for part in message_from_bytes(m.raw, policy=default).walk() if part.get_content_maintype() == "text"]
    assert all("on a trial" not in text for text in texts)


async def test_the_detail_of_a_group_chat_names_the_group_and_what_the_reader_may_do(
    server: LiveServer, world: GroupWorld, http: httpx.AsyncClient
) -> None:
    conv = world.ops.conversation_id
    r = await http.get(f"/api/desk/conversations/{conv}", headers=auth(world.agent))
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["group"] == {"id": world.ops.id, "name": "Ops", "organization": {"id": world.acme, "name": "Acme"},
                             "members": 1, "can_escalate": True}
    assert (body["ticket"], body["customer"]) == (None, None)
    assert body["can"]["reply"] and body["can"]["internal"]
    r = await http.get(f"/api/desk/conversations/{conv}", headers=auth(world.readonly))
    body = r.json()
    assert (body["can"]["reply"], body["can"]["internal"], body["group"]["can_escalate"]) == (False, False, False)


async def test_bad_reads_are_refused_and_customers_have_no_groups_queue(
    server: LiveServer, world: GroupWorld, http: httpx.AsyncClient
) -> None:
    conv = world.ops.conversation_id
    cases = [
        (world.agent, f"/api/desk/group-chats/{conv}/read", {"seq": -1}, 422),
        (world.agent, f"/api/desk/group-chats/{conv}/read", {"seq": "1"}, 422),
        (world.agent, f"/api/desk/group-chats/{conv}/read", {"seq": 1, "extra": 1}, 422),
        (world.agent, "/api/desk/group-chats/999999/read", {"seq": 1}, 404),
        (world.alice, f"/api/desk/group-chats/{conv}/read", {"seq": 1}, 403),
    ]
    for who, path, payload, status in cases:
        r = await http.post(path, json=payload, headers=auth(who))
        assert r.status_code == status, (path, payload, r.text)
        assert set(r.json()["error"]) >= {"code", "message"}
    for who, path, status in [(world.alice, "/api/desk/group-chats", 403), (world.agent, "/api/desk/group-chats/0", 422),
                              (world.r1admin, f"/api/desk/group-chats/{conv}", 403)]:
        r = await http.get(path, headers=auth(who))
        assert r.status_code == status, (path, r.text)
    assert r.json()["error"]["code"] == "forbidden"
    # Nothing was stored by the refusals.
    assert _row(await _queue(http, world.agent), conv)["read_seq"] == 0

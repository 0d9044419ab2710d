"""Group chats on a real server with real sockets: membership takes effect live, removal
cuts a socket's delivery at once, alerts reach the company's sockets, and the whole
authorization matrix over HTTP and the websocket."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import pytest

from chat.client import ChatClient, ProtocolError
from chat.directory import set_user_disabled
from chat.groups import requests, service
from chat.models import Role
from tests.chat.groups.helpers import GroupWorld, Person, make_group_world, person
from tests.support.live import LiveServer

# Long enough for a publish to cross the in-process broker and the socket many times over.
SETTLE_SECONDS = 0.3


@pytest.fixture
async def world(server: LiveServer) -> GroupWorld:
    return await make_group_world(server.services)


def auth(p: Person) -> dict[str, str]:
    return {"Authorization": f"Bearer {p.token}"}


def client(server: LiveServer, p: Person) -> ChatClient:
    return ChatClient(server.ws_url + "/ws", p.token, timeout=10)


async def _admit(server: LiveServer, world: GroupWorld, p: Person) -> None:
    made = await requests.request_join(server.services, p.principal, group="Ops")
    await requests.decide(server.services, world.r1admin.principal, made.id, approve=True)


async def test_approval_reaches_the_open_socket_and_the_member_joins(
    server: LiveServer, world: GroupWorld, http: httpx.AsyncClient
) -> None:
    conv = world.ops.conversation_id
    async with client(server, world.alice) as alice, client(server, world.agent) as agent:
        await agent.join(conv)
        with pytest.raises(ProtocolError) as refused:
            await alice.join(conv)
        assert refused.value.code == "not_found"  # not a member yet
        r = await http.post("/api/group-join-requests", json={"group": "Ops"}, headers=auth(world.alice))
        assert r.status_code == 201, r.text
        assert (await alice.next_frame("join_request"))["request"]["status"] == "pending"
        r = await http.post(f"/api/group-join-requests/{r.json()['request']['id']}/approve", json={},
                            headers=auth(world.r1admin))
        assert r.status_code == 200, r.text
        told = await alice.next_frame("join_request")
        assert told["request"]["status"] == "approved"
        membership = await alice.next_frame("membership")
        assert membership["state"] == "member" and membership["conversation_id"] == conv
        joined = await alice.join(conv)
        log = await alice.wait_for_seq(conv, joined["last_seq"])
        assert log[-1]["data"]["event"] == "member.joined"
        welcome = await agent.send(conv, "welcome, Alice")
        event = (await alice.wait_for_seq(conv, welcome["seq"]))[-1]
        assert event["body"] == "welcome, Alice" and event["author"]["role"] == "agent"
        ack = await alice.send(conv, "thanks!")
        assert (await agent.wait_for_seq(conv, ack["seq"]))[-1]["body"] == "thanks!"


async def test_removal_cuts_a_live_socket_at_once(server: LiveServer, world: GroupWorld, http: httpx.AsyncClient) -> None:
    conv = world.ops.conversation_id
    await _admit(server, world, world.alice)
    await _admit(server, world, world.bob)
    async with (client(server, world.alice) as alice, client(server, world.bob) as bob,
                client(server, world.agent) as agent):
        for c in (alice, bob, agent):
            await c.join(conv)
        one = await agent.send(conv, "one")
        await alice.wait_for_seq(conv, one["seq"])
        await bob.wait_for_seq(conv, one["seq"])

        r = await http.post(f"/api/chat-groups/{world.ops.id}/members/{world.bob.id}/remove",
                            json={"reason": "moved to another team"}, headers=auth(world.r1admin))
        assert r.status_code == 200, r.text
        told = await bob.next_frame("membership")
        assert told["state"] == "removed" and told["reason"] == "moved to another team"
        two = await agent.send(conv, "two")
        await alice.wait_for_seq(conv, two["seq"])
        await asyncio.sleep(SETTLE_SECONDS)
        bobs = [e.get("body") for e in bob.log[conv]]
        assert "one" in bobs and "two" not in bobs
        assert bob.log[conv][-1]["data"].get("event") == "member.removed"
        assert all(conv not in c.rooms for c in server.hub.by_user.get(world.bob.id, ()))
        # The socket stays open, but the room is closed to him.
        with pytest.raises(ProtocolError) as refused:
            await bob.send(conv, "still here?")
        assert refused.value.code == "not_joined"
        with pytest.raises(ProtocolError) as refused:
            await bob.join(conv)
        assert refused.value.code == "not_found"
        assert (await bob.ping())["type"] == "pong"


async def test_disabling_a_member_closes_their_sockets(server: LiveServer, world: GroupWorld) -> None:
    conv = world.ops.conversation_id
    await _admit(server, world, world.alice)
    async with client(server, world.alice) as alice:
        await alice.join(conv)
        await set_user_disabled(server.services, world.r1admin.principal, world.alice.id, disabled=True)
        assert await alice.wait_closed() == 4409


async def test_an_alert_reaches_the_companys_sockets_only(server: LiveServer, world: GroupWorld,
                                                         http: httpx.AsyncClient) -> None:
    async with client(server, world.alice) as alice, client(server, world.carol) as carol:
        r = await http.post("/api/alerts", json={"organization": world.acme, "type": "suspicious_activity",
                                                 "title": "Logins from a new country", "body": "Was it you?"},
                            headers=auth(world.agent))
        assert r.status_code == 201, r.text
        frame = await alice.next_frame("alert")
        assert frame["alert"]["title"] == "Logins from a new country"
        assert frame["alert"]["type"] == "suspicious_activity"
        await asyncio.sleep(SETTLE_SECONDS)
        assert all(f.get("type") != "alert" for f in _queued(carol))


def _queued(c: ChatClient) -> list[dict[str, Any]]:
    items = []
    while not c.frames.empty():
        items.append(c.frames.get_nowait())
    return items


# -- the authorization matrix ------------------------------------------------------------

# Outcomes: the group in GET /api/chat-groups; GET /api/chat-groups/{id}; the history over
# HTTP; joining the room; sending in it (after the join, or without one); deciding someone
# else's pending request; asking to join (by the group's id).
MATRIX: dict[str, tuple[bool, int, int, str, str, int, int]] = {
    "member": (True, 200, 200, "joined", "ack", 404, 409),
    "non-member": (True, 200, 404, "not_found", "not_joined", 404, 201),
    "pending": (True, 200, 404, "not_found", "not_joined", 404, 409),
    "rejected": (True, 200, 404, "not_found", "not_joined", 404, 201),
    "removed": (True, 200, 404, "not_found", "not_joined", 404, 201),
    "own reseller admin": (True, 200, 200, "joined", "forbidden", 200, 403),
    "other reseller admin": (False, 404, 404, "not_found", "not_joined", 404, 404),
    "agent": (True, 200, 200, "joined", "ack", 403, 403),
    "read-only": (True, 200, 200, "joined", "forbidden", 403, 403),
}


async def test_authorization_matrix(server: LiveServer, world: GroupWorld, http: httpx.AsyncClient) -> None:
    svc = server.services
    extra = {name: await person(svc, f"{name}@acme.example", Role.CUSTOMER, world.acme)
             for name in ("frank", "gina", "hank")}
    await _admit(server, world, world.alice)
    await requests.request_join(svc, world.bob.principal, group="Ops")
    rejected = await requests.request_join(svc, extra["frank"].principal, group="Ops")
    await requests.decide(svc, world.r1admin.principal, rejected.id, approve=False, reason="no")
    await _admit(server, world, extra["gina"])
    await service.remove_member(svc, world.agent.principal, world.ops.id, extra["gina"].id)
    target = await requests.request_join(svc, extra["hank"].principal, group="Ops")
    who = {
        "member": world.alice, "non-member": world.erin, "pending": world.bob, "rejected": extra["frank"],
        "removed": extra["gina"], "own reseller admin": world.r1admin, "other reseller admin": world.r2admin,
        "agent": world.agent, "read-only": world.readonly,
    }
    conv = world.ops.conversation_id
    got: dict[str, tuple[bool, int, int, str, str, int, int]] = {}
    for name, p in who.items():
        listed = (await http.get("/api/chat-groups", headers=auth(p))).json()["groups"]
        detail = await http.get(f"/api/chat-groups/{world.ops.id}", headers=auth(p))
        history = await http.get(f"/api/conversations/{conv}/events", headers=auth(p))
        async with client(server, p) as c:
            try:
                await c.join(conv)
                joined = "joined"
            except ProtocolError as exc:
                joined = exc.code
            try:
                await c.send(conv, f"hello from {name}")
                sent = "ack"
            except ProtocolError as exc:
                sent = exc.code
        decided = await http.post(f"/api/group-join-requests/{target.id}/reject", json={"reason": "matrix"},
                                  headers=auth(p)) if name != "own reseller admin" else None
        asked = await http.post("/api/group-join-requests", json={"group": world.ops.id}, headers=auth(p))
        got[name] = (
            any(g["id"] == world.ops.id for g in listed), detail.status_code, history.status_code, joined, sent,
            decided.status_code if decided is not None else 0, asked.status_code,
        )
    # The own reseller's admin decides last, so everyone else met a pending request.
    decided = await http.post(f"/api/group-join-requests/{target.id}/approve", json={},
                              headers=auth(world.r1admin))
    got["own reseller admin"] = (*got["own reseller admin"][:5], decided.status_code, got["own reseller admin"][6])
    assert got == MATRIX

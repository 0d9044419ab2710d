"""The HTTP edge's own cases from the probe (issue 20): odd ids refused as 422, a retried
chat start answered idempotently, a policy update validated like a create. The table-driven
sweep over every route is tests/chat/http/test_fuzz_edges.py."""

from __future__ import annotations

import logging

import httpx
import pytest
from sqlalchemy import func, select

from chat import directory
from chat.models import Conversation, Event, OrgKind, Role
from tests.chat.http.test_account import PASSWORD, sign_in
from tests.chat.hub.helpers import World, make_world
from tests.support.live import LiveServer


@pytest.fixture
async def world(server: LiveServer) -> World:
    return await make_world(server)


def auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def assert_clean(caplog: pytest.LogCaptureFixture) -> None:
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR or r.exc_info]


@pytest.mark.parametrize("raw", ["²", "١٢", "9223372036854775808", "18446744073709551616", "0", "-1"])
async def test_odd_ids_in_paths_and_queries_are_422(
    world: World, http: httpx.AsyncClient, caplog: pytest.LogCaptureFixture, raw: str
) -> None:
    """A visitor's free token reached a 500 with each of these (``str.isdigit`` accepts
    ``²``; SQLite and PostgreSQL refuse a value past 2**63-1)."""
    for path in (f"/api/conversations/{raw}", f"/api/conversations/{raw}/events", f"/api/tickets/{raw}",
                 f"/api/attachments/{raw}"):
        r = await http.get(path, headers=auth(world.customer_token))
        assert r.status_code == 422, (path, r.text)
        assert r.json()["error"]["code"] == "validation_failed"
    r = await http.get("/api/conversations", params={"before_id": raw}, headers=auth(world.customer_token))
    assert r.status_code == 422 and "before_id" in r.json()["error"]["message"]
    assert_clean(caplog)


@pytest.mark.parametrize("value", [2**63, 2**64])
async def test_ids_past_bigint_in_json_fields_are_422(
    world: World, http: httpx.AsyncClient, caplog: pytest.LogCaptureFixture, value: int
) -> None:
    for body in ({"subject": "x", "linked_to": value}, {"subject": "x", "severity": value}):
        r = await http.post("/api/conversations", json=body, headers=auth(world.customer_token))
        assert r.status_code == 422, r.text
    r = await http.post("/api/group-join-requests", json={"group": value}, headers=auth(world.customer_token))
    assert r.status_code == 422, r.text
    assert_clean(caplog)


async def test_a_retried_start_answers_the_same_chat(
    world: World, http: httpx.AsyncClient, caplog: pytest.LogCaptureFixture
) -> None:
    """The same ``client_msg_id`` again (a retry after a lost answer) raised IntegrityError:
    it answers the chat the first request opened, and stores nothing."""
    body = {"subject": "Printer", "body": "it is on fire", "client_msg_id": "start-7"}
    first = await http.post("/api/conversations", json=body, headers=auth(world.other_customer_token))
    assert first.status_code == 201 and first.json()["duplicate"] is False
    again = await http.post("/api/conversations", json=body, headers=auth(world.other_customer_token))
    assert again.status_code == 200, again.text
    assert again.json()["duplicate"] is True
    assert again.json()["conversation"]["id"] == first.json()["conversation"]["id"]
    async with world.server.services.sessions() as db:
        messages = await db.scalar(select(func.count()).select_from(Event).where(Event.client_msg_id == "start-7"))
        chats = await db.scalar(select(func.count()).select_from(Conversation).where(Conversation.subject == "Printer"))
    assert (messages, chats) == (1, 1)
    # Another person's id is theirs: the same string starts a chat of its own.
    theirs = await http.post("/api/conversations", json=body, headers=auth(world.customer_token))
    assert theirs.status_code == 201
    assert theirs.json()["conversation"]["id"] != first.json()["conversation"]["id"]
    assert_clean(caplog)


async def test_a_start_reusing_a_send_id_of_another_chat_is_409(
    world: World, http: httpx.AsyncClient, caplog: pytest.LogCaptureFixture
) -> None:
    async with world.client(world.customer_token) as visitor:
        await visitor.join(world.conversation_id)
        await visitor.send(world.conversation_id, "hello", client_msg_id="used-0")
        await visitor.send(world.conversation_id, "a later message", client_msg_id="used-1")
    r = await http.post("/api/conversations", json={"body": "new", "client_msg_id": "used-1"},
                        headers=auth(world.customer_token))
    assert r.status_code == 409 and r.json()["error"]["code"] == "duplicate_client_msg_id"
    assert_clean(caplog)


async def test_a_policy_update_is_validated_as_a_create(
    server: LiveServer, http: httpx.AsyncClient, caplog: pytest.LogCaptureFixture
) -> None:
    """PUT raised IntegrityError (FK / CHECK) where POST answers 422 naming the field."""
    await directory.create_user(server.services, None, email="admin@x.example", role=Role.SUPPORT_ADMIN, password=PASSWORD)
    headers = auth(await sign_in(http, "admin@x.example"))
    before = (await http.get("/api/sla/policies", headers=headers)).json()["policies"]
    policy = before[0]
    url = f"/api/sla/policies/{policy['id']}"
    for body, code, field in (({"name": "x", "calendar": "nowhere"}, "invalid_calendar", "calendar"),
                              ({"name": "x", "category": "nowhere"}, "unknown_category", "category"),
                              ({"name": "x", "warning_share": 2**31}, "invalid_policy", "warning share"),
                              ({"name": "x", "warning_share": 1.5}, "invalid_policy", "warning share")):
        for method, target in (("POST", "/api/sla/policies"), ("PUT", url)):
            r = await http.request(method, target, json=body, headers=headers)
            assert r.status_code == 422, (method, body, r.text)
            assert r.json()["error"]["code"] == code and field in r.json()["error"]["message"]
    assert (await http.get("/api/sla/policies", headers=headers)).json()["policies"] == before
    r = await http.put(url, json={**{k: policy[k] for k in ("tier", "category", "severity", "calendar")},
                                  "name": "Renamed", "warning_share": 0.5}, headers=headers)
    assert r.status_code == 200 and r.json()["policy"]["name"] == "Renamed", r.text
    assert_clean(caplog)


async def test_reseller_admins_read_sla_policies_and_calendars_not_support_groups(
    server: LiveServer, http: httpx.AsyncClient
) -> None:
    """docs/http.md: SLA policies and calendars are read by staff and reseller admins (who
    sell SLA to their customers); the platform's support groups by staff only."""
    svc = server.services
    await directory.create_organization(svc, None, name="Reseller", kind=OrgKind.RESELLER, slug="res")
    await directory.create_organization(svc, None, name="Co", kind=OrgKind.CUSTOMER, slug="co", parent="res")
    for email, role, org in (("r@res.example", Role.RESELLER_ADMIN, "res"), ("c@co.example", Role.CUSTOMER, "co"),
                             ("ro@x.example", Role.READ_ONLY, None)):
        await directory.create_user(svc, None, email=email, role=role, organization=org, password=PASSWORD)
    expected = {"r@res.example": (200, 200, 403), "c@co.example": (403, 403, 403), "ro@x.example": (200, 200, 200)}
    for email, statuses in expected.items():
        headers = auth(await sign_in(http, email))
        got = tuple([(await http.get(path, headers=headers)).status_code
                     for path in ("/api/sla/policies", "/api/sla/calendars", "/api/groups/support")])
        assert got == statuses, (email, got)


@pytest.mark.parametrize("day", ["²", "١", "9" * 30])
async def test_a_calendar_weekday_in_odd_digits_is_422(
    server: LiveServer, http: httpx.AsyncClient, caplog: pytest.LogCaptureFixture, day: str
) -> None:
    """``str.isdigit`` let ``²`` through to ``int()`` in the calendar parser (a 500)."""
    await directory.create_user(server.services, None, email="admin@x.example", role=Role.SUPPORT_ADMIN, password=PASSWORD)
    headers = auth(await sign_in(http, "admin@x.example"))
    r = await http.put("/api/sla/calendars/odd", headers=headers, json={
        "name": "Odd", "definition": {"timezone": "UTC", "weekly": {day: [["09:00", "17:00"]]}}})
    assert r.status_code == 422 and r.json()["error"]["code"] == "invalid_calendar", r.text
    assert_clean(caplog)

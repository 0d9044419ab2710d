"""Impersonation, audited (issue 20, item 2), over real HTTP and the real socket, on SQLite
and PostgreSQL: who may start one, as whom, for how long; that everything done in it
names both people; and that the audit log, the customer's access log and their mail say so."""

from __future__ import annotations

from datetime import timedelta
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import func, select

from chat import directory
from chat.client import ChatClient
from chat.clock import ManualClock
from chat.impersonation import IMPERSONATION_MINUTES, expire_job
from chat.mail.models import OutboxMail
from chat.models import AuditLog, AuthSession, OrgKind, Role, User
from chat.settings import Settings
from tests.chat.http.test_account import PASSWORD, sign_in
from tests.conftest import make_settings
from tests.support.live import LiveServer, live_server

REASON = "Ticket #42: the invoice page shows an error"


async def seed(server: LiveServer) -> dict[str, int]:
    """Staff of every kind, a partner, and two customers (one disabled)."""
    svc = server.services
    await directory.create_organization(svc, None, name="Reseller", kind=OrgKind.RESELLER, slug="r20")
    await directory.create_organization(svc, None, name="Acme", kind=OrgKind.CUSTOMER, parent="r20", slug="acme")
    ids: dict[str, int] = {}
    for key, email, role, org, name in [
        ("admin", "admin@x.example", Role.SUPPORT_ADMIN, None, "Sam Admin"),
        ("admin2", "admin2@x.example", Role.SUPPORT_ADMIN, None, "Sue Admin"),
        ("agent", "agent@x.example", Role.AGENT, None, "Al Agent"),
        ("ro", "ro@x.example", Role.READ_ONLY, None, "Rita Readonly"),
        ("reseller", "reseller@r20.example", Role.RESELLER_ADMIN, "r20", "Rex Reseller"),
        ("customer", "anna@acme.example", Role.CUSTOMER, "acme", "Anna Customer"),
        ("gone", "gone@acme.example", Role.CUSTOMER, "acme", "Gone Customer"),
    ]:
        user = await directory.create_user(svc, None, email=email, role=role, organization=org, password=PASSWORD,
                                           name=name)
        ids[key] = user.id
    await directory.set_user_disabled(svc, None, ids["gone"], disabled=True)
    return ids


async def rows(server: LiveServer, model: type) -> int:
    async with server.services.sessions() as db:
        return int(await db.scalar(select(func.count()).select_from(model)) or 0)


async def audit_rows(server: LiveServer) -> list[AuditLog]:
    async with server.services.sessions() as db:
        return list(await db.scalars(select(AuditLog).order_by(AuditLog.id)))


async def outbox(server: LiveServer) -> list[OutboxMail]:
    async with server.services.sessions() as db:
        return list(await db.scalars(select(OutboxMail).order_by(OutboxMail.id)))


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def impersonate(http: httpx.AsyncClient, user_id: int, reason: Any = REASON, **kw: Any) -> httpx.Response:
    return await http.post(f"/api/users/{user_id}/impersonate", json={"reason": reason}, **kw)


async def test_admin_signs_in_as_a_customer_and_back(server: LiveServer, http: httpx.AsyncClient) -> None:
    ids = await seed(server)
    await sign_in(http, "admin@x.example")
    started = await impersonate(http, ids["customer"])
    assert started.status_code == 201, started.text
    body = started.json()
    assert body["user"]["id"] == ids["customer"] and body["impersonator"] == {"id": ids["admin"], "name": "Sam Admin"}
    assert body["reason"] == REASON
    # The browser's cookie is now the customer's session; the admin's is kept aside.
    me = (await http.get("/api/me")).json()["user"]
    assert me["id"] == ids["customer"] and me["role"] == "customer"
    status = (await http.get("/api/impersonation")).json()["impersonation"]
    assert status["user"]["id"] == ids["customer"] and status["impersonator"]["name"] == "Sam Admin"
    assert status["reason"] == REASON and status["ends_at"] == body["expires_at"]
    # The customer's rights, not the admin's: staff pages refuse.
    assert (await http.get(f"/api/users/{ids['agent']}")).status_code in (403, 404)
    assert (await http.get("/api/audit")).status_code == 403

    ended = await http.post("/api/impersonation/end")
    assert ended.status_code == 200 and ended.json() == {"ended": True, "restored": True}
    assert (await http.get("/api/me")).json()["user"]["id"] == ids["admin"]
    assert (await http.get("/api/impersonation")).json() == {"impersonation": None, "may_impersonate": True}
    gone = await http.get("/api/me", headers=bearer(body["token"]))
    assert gone.status_code == 401 and gone.json()["error"]["code"] == "session_revoked"

    start, end = await audit_rows(server)
    assert (start.action, start.actor_id, start.on_behalf_of_id, start.target_kind, start.target_id, start.reason) == (
        "impersonation.start", ids["admin"], ids["customer"], "user", str(ids["customer"]), REASON)
    assert (end.action, end.actor_id, end.on_behalf_of_id) == ("impersonation.end", ids["admin"], ids["customer"])
    assert end.after is not None and end.after["ended_by"] == "impersonator"
    # The customer is told: who, why, from when to when.
    [mail] = await outbox(server)
    assert mail.kind == "account_accessed" and mail.to_user_id == ids["customer"] and mail.to_addr == "anna@acme.example"
    assert mail.context["staff_name"] == "Sam Admin" and mail.context["reason"] == REASON
    assert mail.context["started_at"] == start.at.isoformat() and mail.context["ended_at"] == end.at.isoformat()
    assert "Support accessed your account" in mail.subject
    parsed = message_from_bytes(mail.raw, policy=policy.default)
    assert isinstance(parsed, EmailMessage)
    text = parsed.get_body(("plain",))
    assert text is not None and "Sam Admin" in text.get_content() and "invoice page" in text.get_content()


async def test_who_may_impersonate_whom(server: LiveServer, http: httpx.AsyncClient) -> None:
    ids = await seed(server)
    sessions_before = await rows(server, AuthSession)
    for email in ("agent@x.example", "ro@x.example", "reseller@r20.example", "anna@acme.example"):
        token = await sign_in(http, email)
        http.cookies.clear()
        for target in (ids["customer"], 999_999):  # refused before the lookup: no existence leak
            refused = await impersonate(http, target, headers=bearer(token))
            assert refused.status_code == 403, (email, refused.text)
            assert refused.json()["error"]["code"] == "forbidden"
    admin = await sign_in(http, "admin@x.example")
    http.cookies.clear()
    for target in ("admin2", "agent", "ro", "reseller"):
        refused = await impersonate(http, ids[target], headers=bearer(admin))
        assert refused.status_code == 403 and refused.json()["error"]["code"] == "impersonation_target", target
    disabled = await impersonate(http, ids["gone"], headers=bearer(admin))
    assert disabled.status_code == 409 and disabled.json()["error"]["code"] == "account_disabled"
    missing = await impersonate(http, 999_999, headers=bearer(admin))
    assert missing.status_code == 404
    for reason in ("", "   ", "x" * 501, None, 7):
        bad = await impersonate(http, ids["customer"], reason, headers=bearer(admin))
        assert bad.status_code == 422, reason
    no_body = await http.post(f"/api/users/{ids['customer']}/impersonate", json={}, headers=bearer(admin))
    assert no_body.status_code == 422
    for odd in ("²", str(2**63), "0", "-1"):
        assert (await http.post(f"/api/users/{odd}/impersonate", json={"reason": REASON},
                                headers=bearer(admin))).status_code in (404, 422)
    # Nothing stored by any refusal: the sign-ins above are the only new sessions.
    assert await rows(server, AuthSession) == sessions_before + 5
    assert await rows(server, AuditLog) == 0 and await outbox(server) == []


async def test_no_nesting(server: LiveServer, http: httpx.AsyncClient) -> None:
    ids = await seed(server)
    admin = await sign_in(http, "admin@x.example")
    http.cookies.clear()
    token = (await impersonate(http, ids["customer"], headers=bearer(admin))).json()["token"]
    nested = await impersonate(http, ids["customer"], headers=bearer(token))
    assert nested.status_code == 409 and nested.json()["error"]["code"] == "impersonation_nested"
    assert (await http.get("/api/impersonation", headers=bearer(token))).json()["may_impersonate"] is False
    # Signing out is not a way around the audited end.
    out = await http.post("/api/auth/logout", headers=bearer(token))
    assert out.status_code == 409 and out.json()["error"]["code"] == "impersonation_active"
    assert (await http.get("/api/me", headers=bearer(token))).status_code == 200
    # Ending is for impersonated sessions only.
    own = await http.post("/api/impersonation/end", headers=bearer(admin))
    assert own.status_code == 409 and own.json()["error"]["code"] == "not_impersonating"
    assert [r.action for r in await audit_rows(server)] == ["impersonation.start"]



async def test_a_support_session_cannot_change_the_users_password(server: LiveServer, http: httpx.AsyncClient) -> None:
    ids = await seed(server)
    admin = await sign_in(http, "admin@x.example")
    http.cookies.clear()
    token = (await impersonate(http, ids["customer"], headers=bearer(admin))).json()["token"]
    async with server.services.sessions() as db:
        before = (await db.get(User, ids["customer"])).password_hash  # type: ignore[union-attr]
    changed = await http.post("/api/me/password", headers=bearer(token),
                              json={"current_password": PASSWORD, "new_password": "Violet-Harbour-Tram-1877"})
    assert changed.status_code == 409 and changed.json()["error"]["code"] == "impersonation_active"
    async with server.services.sessions() as db:
        assert (await db.get(User, ids["customer"])).password_hash == before  # type: ignore[union-attr]
    assert (await http.get("/api/me", headers=bearer(token))).status_code == 200

async def test_it_ends_by_itself_after_30_minutes(server: LiveServer, http: httpx.AsyncClient, clock: ManualClock) -> None:
    ids = await seed(server)
    admin = await sign_in(http, "admin@x.example")
    http.cookies.clear()
    started = clock.now()
    token = (await impersonate(http, ids["customer"], headers=bearer(admin))).json()["token"]
    clock.advance(timedelta(minutes=IMPERSONATION_MINUTES) - timedelta(seconds=1))
    assert (await http.get("/api/me", headers=bearer(token))).status_code == 200
    assert await expire_job(server.services, clock.now()) == 0
    clock.advance(timedelta(seconds=1))
    expired = await http.get("/api/me", headers=bearer(token))
    assert expired.status_code == 401 and expired.json()["error"]["code"] == "token_expired"
    # The admin's own session is untouched.
    assert (await http.get("/api/me", headers=bearer(admin))).json()["user"]["id"] == ids["admin"]

    clock.advance(timedelta(minutes=5))  # the sweeper comes by a little later
    assert await expire_job(server.services, clock.now()) == 1
    assert await expire_job(server.services, clock.now()) == 0
    end = (await audit_rows(server))[-1]
    ends_at = started + timedelta(minutes=IMPERSONATION_MINUTES)
    assert end.action == "impersonation.end" and end.at == ends_at
    assert end.after == {"ended_at": ends_at.isoformat(), "ended_by": "expiry"}
    [mail] = await outbox(server)
    assert mail.kind == "account_accessed" and mail.context["ended_at"] == ends_at.isoformat()
    # The customer sees it on their account.
    http.cookies.clear()
    customer = await sign_in(http, "anna@acme.example")
    [entry] = (await http.get("/api/account/access-log", headers=bearer(customer))).json()["sessions"]
    assert entry["by"] == {"id": ids["admin"], "name": "Sam Admin"} and entry["reason"] == REASON
    assert entry["started_at"] == started.isoformat() and entry["ended_at"] == ends_at.isoformat()


async def test_an_impersonator_disabled_meanwhile_ends_the_session(server: LiveServer, http: httpx.AsyncClient) -> None:
    ids = await seed(server)
    admin2 = await sign_in(http, "admin2@x.example")
    http.cookies.clear()
    token = (await impersonate(http, ids["customer"], headers=bearer(admin2))).json()["token"]
    await directory.set_user_disabled(server.services, None, ids["admin2"], disabled=True)
    refused = await http.get("/api/me", headers=bearer(token))
    assert refused.status_code == 401 and refused.json()["error"]["code"] == "session_revoked"


async def test_agents_may_when_the_setting_says_so(settings: Settings, clock: ManualClock, tmp_path: Path) -> None:
    allowed = make_settings(settings.database_url, tmp_path / "var2", IMPERSONATION_BY_AGENTS="true")
    async with live_server(allowed, clock) as server, httpx.AsyncClient(base_url=server.base_url) as http:
        ids = await seed(server)
        agent = await sign_in(http, "agent@x.example")
        http.cookies.clear()
        ok = await impersonate(http, ids["customer"], headers=bearer(agent))
        assert ok.status_code == 201, ok.text
        # Still never staff.
        staff = await impersonate(http, ids["admin"], headers=bearer(agent))
        assert staff.status_code == 403 and staff.json()["error"]["code"] == "impersonation_target"
        ro = await sign_in(http, "ro@x.example")
        http.cookies.clear()
        assert (await impersonate(http, ids["customer"], headers=bearer(ro))).status_code == 403


def names_both(event: dict[str, Any], customer: int, admin: int) -> bool:
    return event["data"].get("on_behalf_of") == customer and event["data"].get("impersonator") == admin


async def test_everything_done_in_the_session_names_both_people(server: LiveServer, http: httpx.AsyncClient) -> None:
    ids = await seed(server)
    admin = await sign_in(http, "admin@x.example")
    http.cookies.clear()
    token = (await impersonate(http, ids["customer"], headers=bearer(admin))).json()["token"]
    # A chat opened with a first message, over HTTP.
    opened = await http.post("/api/conversations", json={"subject": "Invoices", "body": "It fails", "client_msg_id": "m1"},
                             headers=bearer(token))
    assert opened.status_code == 201, opened.text
    conv_id = opened.json()["conversation"]["id"]
    # A message over the socket (the message writer's path).
    async with ChatClient(server.ws_url + "/ws", token, timeout=10) as client:
        await client.join(conv_id)
        ack = await client.send(conv_id, "Still failing", client_msg_id="m2")
        assert ack["type"] == "ack"
    # A ticket action: the customer ends the chat.
    closed = await http.post(f"/api/conversations/{conv_id}/close", json={}, headers=bearer(token))
    assert closed.status_code == 200, closed.text
    events = (await http.get(f"/api/conversations/{conv_id}/events?limit=100", headers=bearer(admin))).json()["events"]
    by_customer = [e for e in events if e["kind"] == "message"]
    assert [e["body"] for e in by_customer] == ["It fails", "Still failing"]
    assert all(names_both(e, ids["customer"], ids["admin"]) for e in by_customer)
    assert all(e["author"]["id"] == ids["customer"] for e in by_customer)
    created = next(e for e in events if e["data"].get("event") == "conversation.created")
    assert names_both(created, ids["customer"], ids["admin"])
    status = [e for e in events if e["data"].get("event") == "ticket.status_changed"]
    assert status and all(names_both(e, ids["customer"], ids["admin"]) for e in status)

    # A ticket opened through the web form: its first message and ticket.opened.
    ticket = await http.post("/api/tickets", json={"subject": "Exports", "description": "Exports are empty"},
                             headers=bearer(token))
    assert ticket.status_code == 201, ticket.text
    ticket_events = (await http.get(f"/api/conversations/{ticket.json()['conversation']['id']}/events",
                                    headers=bearer(admin))).json()["events"]
    first = next(e for e in ticket_events if e["kind"] == "message")
    opened_event = next(e for e in ticket_events if e["data"].get("event") == "ticket.opened")
    assert names_both(first, ids["customer"], ids["admin"]) and names_both(opened_event, ids["customer"], ids["admin"])

    # The customer's own session names nobody else.
    http.cookies.clear()
    own = await sign_in(http, "anna@acme.example")
    http.cookies.clear()
    mine = await http.post("/api/conversations", json={"subject": "Mine", "body": "Hello", "client_msg_id": "m3"},
                           headers=bearer(own))
    assert mine.status_code == 201
    mine_events = (await http.get(f"/api/conversations/{mine.json()['conversation']['id']}/events",
                                  headers=bearer(own))).json()["events"]
    assert all("impersonator" not in e["data"] and "on_behalf_of" not in e["data"] for e in mine_events)


async def test_the_audit_log_reads_for_admins_and_auditors_with_filters(server: LiveServer, http: httpx.AsyncClient,
                                                                        clock: ManualClock) -> None:
    ids = await seed(server)
    admin = await sign_in(http, "admin@x.example")
    admin2 = await sign_in(http, "admin2@x.example")
    http.cookies.clear()
    first = clock.now()
    for who in (admin, admin2, admin):
        token = (await impersonate(http, ids["customer"], headers=bearer(who))).json()["token"]
        clock.advance(timedelta(minutes=1))
        assert (await http.post("/api/impersonation/end", headers=bearer(token))).status_code == 200
        clock.advance(timedelta(minutes=1))
    ro = await sign_in(http, "ro@x.example")
    agent = await sign_in(http, "agent@x.example")
    http.cookies.clear()
    assert (await http.get("/api/audit", headers=bearer(agent))).status_code == 403
    everything = (await http.get("/api/audit", headers=bearer(ro))).json()
    assert [e["action"] for e in everything["entries"]] == ["impersonation.end", "impersonation.start"] * 3
    assert everything["next_before"] is None
    newest = everything["entries"][0]
    assert newest["actor"] == {"id": ids["admin"], "name": "Sam Admin", "role": "support_admin"}
    assert newest["on_behalf_of"]["id"] == ids["customer"] and newest["target"] == {"kind": "user", "id": str(ids["customer"])}

    async def ask(**query: Any) -> dict[str, Any]:
        r = await http.get("/api/audit", params=query, headers=bearer(admin))
        assert r.status_code == 200, r.text
        return dict(r.json())

    assert len((await ask(actor=ids["admin2"]))["entries"]) == 2
    assert len((await ask(action="impersonation.start"))["entries"]) == 3
    assert len((await ask(action="impersonation."))["entries"]) == 6
    assert len((await ask(target_kind="user", target_id=ids["customer"]))["entries"]) == 6
    assert len((await ask(on_behalf_of=ids["customer"], actor=ids["admin"]))["entries"]) == 4
    window = await ask(since=(first + timedelta(minutes=1)).isoformat(), until=(first + timedelta(minutes=3)).isoformat())
    assert [e["action"] for e in window["entries"]] == ["impersonation.start", "impersonation.end"]
    page1 = await ask(limit=4)
    page2 = await ask(limit=4, before=page1["next_before"])
    assert len(page1["entries"]) == 4 and len(page2["entries"]) == 2 and page2["next_before"] is None
    assert [e["id"] for e in page1["entries"] + page2["entries"]] == [e["id"] for e in everything["entries"]]
    for bad in ({"actor": "²"}, {"actor": str(2**63)}, {"before": "0"}, {"since": "yesterday"}, {"limit": "0"},
                {"limit": "201"}, {"action": "x" * 65}, {"since": first.isoformat(), "until": first.isoformat()}):
        r = await http.get("/api/audit", params=bad, headers=bearer(admin))
        assert r.status_code == 422 and r.json()["error"]["code"] == "validation_failed", bad


async def test_a_customer_sees_support_sessions_on_their_account(server: LiveServer, http: httpx.AsyncClient) -> None:
    ids = await seed(server)
    admin = await sign_in(http, "admin@x.example")
    customer = await sign_in(http, "anna@acme.example")
    http.cookies.clear()
    assert (await http.get("/api/account/access-log", headers=bearer(customer))).json() == {"sessions": []}
    token = (await impersonate(http, ids["customer"], headers=bearer(admin))).json()["token"]
    [live] = (await http.get("/api/account/access-log", headers=bearer(customer))).json()["sessions"]
    assert live["ended_at"] is None and live["by"]["name"] == "Sam Admin" and live["reason"] == REASON
    await http.post("/api/impersonation/end", headers=bearer(token))
    [done] = (await http.get("/api/account/access-log", headers=bearer(customer))).json()["sessions"]
    assert done["ended_at"] is not None
    # Nobody else's account lists it.
    assert (await http.get("/api/account/access-log", headers=bearer(admin))).json() == {"sessions": []}
    async with server.services.sessions() as db:
        user = await db.get(User, ids["customer"])
        assert user is not None and user.disabled is False


async def test_a_bearer_client_keeps_its_cookies(server: LiveServer, http: httpx.AsyncClient) -> None:
    """The console and the portal send Bearer tokens; the browser's own cookie (set by the
    console's sign-in) is the admin's and neither start nor end touches it."""
    ids = await seed(server)
    admin = await sign_in(http, "admin@x.example")  # the cookie stays in the client
    started = await impersonate(http, ids["customer"], headers=bearer(admin))
    assert started.status_code == 201 and "set-cookie" not in started.headers
    ended = await http.post("/api/impersonation/end", headers=bearer(started.json()["token"]))
    assert ended.json() == {"ended": True, "restored": False} and "set-cookie" not in ended.headers
    assert (await http.get("/api/me")).json()["user"]["id"] == ids["admin"]

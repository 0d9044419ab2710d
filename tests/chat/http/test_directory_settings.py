"""The settings screens' endpoints for sites, people and companies (issue 19): each
change stored and audited, each refusal naming its field with nothing stored, a rotated
identity secret's grace on both sides of its instant."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import httpx
from sqlalchemy import select

from chat import directory
from chat.auth import identity_hash
from chat.client import ChatClient
from chat.clock import ManualClock
from chat.mail.models import OutboxMail
from chat.models import AuditLog, AuthSession, Site, User
from tests.chat.http.test_account import PASSWORD, sign_in
from tests.chat.http.test_admin import seed
from tests.support.live import LiveServer


async def audit_rows(server: LiveServer, prefix: str) -> list[AuditLog]:
    async with server.services.sessions() as db:
        return list(await db.scalars(select(AuditLog).where(AuditLog.action.startswith(prefix)).order_by(AuditLog.id)))


async def stored_site(server: LiveServer, site_id: int) -> Site:
    async with server.services.sessions() as db:
        site = await db.get(Site, site_id)
    assert site is not None
    return site


def refusal(r: httpx.Response) -> dict[str, Any]:
    error: dict[str, Any] = r.json()["error"]
    return error


async def test_a_site_is_edited_and_a_bad_origin_names_its_line(server: LiveServer, http: httpx.AsyncClient) -> None:
    await seed(server)
    await sign_in(http, "admin@x.example")
    bad = await http.post("/api/sites", json={"name": "Shop", "allowed_origins": ["https://ok.example",
                                                                                 "https://*.shop.example"]})
    assert bad.status_code == 422 and refusal(bad)["field"] == "allowed_origins.1"
    assert (await http.get("/api/sites")).json()["sites"] == []
    assert await audit_rows(server, "config.site.") == []

    created = await http.post("/api/sites", json={"name": "Shop", "allowed_origins": ["https://shop.example"]})
    assert created.status_code == 201
    site_id = created.json()["site"]["id"]
    for origins, field in [(["https://a.example", "shop.example/path"], "allowed_origins.1"),
                           (["https://a.example?x=1"], "allowed_origins.0"), ([], "allowed_origins")]:
        r = await http.patch(f"/api/sites/{site_id}", json={"allowed_origins": origins, "name": "Renamed"})
        assert r.status_code == 422 and refusal(r)["field"] == field, r.text
    r = await http.patch(f"/api/sites/{site_id}", json={"default_language": "xx"})
    assert r.status_code == 422 and refusal(r)["field"] == "default_language"
    unchanged = await stored_site(server, site_id)
    assert (unchanged.name, unchanged.allowed_origins) == ("Shop", ["https://shop.example"])

    r = await http.patch(f"/api/sites/{site_id}", json={
        "name": "Shop EU", "allowed_origins": ["https://eu.shop.example", "http://localhost:8080"],
        "default_language": "de", "organization": "c10"})
    assert r.status_code == 200, r.text
    site = r.json()["site"]
    assert site["allowed_origins"] == ["http://localhost:8080", "https://eu.shop.example"]
    assert (site["name"], site["default_language"]) == ("Shop EU", "de")
    assert "identity_secret" not in site
    rows = await audit_rows(server, "config.site.")
    assert [row.action for row in rows] == ["config.site.create", "config.site.update"]
    assert rows[1].before is not None and rows[1].after is not None
    assert rows[1].before["allowed_origins"] == ["https://shop.example"]
    assert rows[1].after["allowed_origins"] == ["http://localhost:8080", "https://eu.shop.example"]
    assert "identity_secret" not in rows[1].after

    # The widget settings' offline message and required fields, audited as the site's.
    r = await http.patch(f"/api/sites/{site_id}/widget", json={
        "offline_message": {"en": "Back at 9.", "de": "Ab 9 Uhr."}, "prechat": {"fields": {"email": "required"}}})
    assert r.status_code == 200 and r.json()["widget"]["offline_message"] == {"en": "Back at 9.", "de": "Ab 9 Uhr."}
    r = await http.patch(f"/api/sites/{site_id}/widget", json={"offline_message": {"de": ""}})
    assert r.json()["widget"]["offline_message"] == {"en": "Back at 9."}
    r = await http.patch(f"/api/sites/{site_id}/widget", json={"offline_message": {"xx": "?"}})
    assert r.status_code == 422 and refusal(r)["field"] == "widget.offline_message.xx"
    public = (await http.get("/api/widget/config", params={"site": created.json()["site"]["public_key"]})).json()
    assert public["offline_message"] == {"en": "Back at 9."}
    assert {"name": "email", "mode": "required"} in public["prechat"]["fields"]
    assert [row.action for row in await audit_rows(server, "config.site.")][2:] == ["config.site.update"] * 2

    http.cookies.clear()
    await sign_in(http, "ro@x.example")
    listed = (await http.get("/api/sites")).json()["sites"]
    assert [s["id"] for s in listed] == [site_id] and "identity_secret" not in listed[0]
    assert (await http.patch(f"/api/sites/{site_id}", json={"name": "X"})).status_code == 403
    assert (await http.post(f"/api/sites/{site_id}/rotate-secret", json={})).status_code == 403


async def test_a_rotated_secret_vouches_until_its_grace_ends(
    server: LiveServer, http: httpx.AsyncClient, clock: ManualClock
) -> None:
    await seed(server)
    created = await directory.create_site(server.services, None, name="Shop", allowed_origins=["https://s.example"])
    old_secret, key = created.site.identity_secret, created.site.public_key
    await sign_in(http, "admin@x.example")
    for grace in (-1, 169, True):
        r = await http.post(f"/api/sites/{created.site.id}/rotate-secret", json={"grace_hours": grace})
        assert r.status_code == 422, r.text
    assert (await stored_site(server, created.site.id)).identity_secret == old_secret

    rotated = await http.post(f"/api/sites/{created.site.id}/rotate-secret", json={"grace_hours": 2})
    assert rotated.status_code == 200, rotated.text
    new_secret = rotated.json()["identity_secret"]
    until = clock.now() + timedelta(hours=2)
    assert new_secret != old_secret and rotated.json()["site"]["previous_secret_until"] == until.isoformat()

    async def vouched(secret: str, who: str) -> int:
        r = await http.post("/api/widget/session", json={"site": key, "user_id": who,
                                                          "user_hash": identity_hash(secret, who)})
        return r.status_code

    assert await vouched(new_secret, "crm-1") == 200
    clock.set(until - timedelta(microseconds=1))
    assert await vouched(old_secret, "crm-2") == 200
    clock.set(until)
    assert await vouched(old_secret, "crm-3") == 401
    assert await vouched(new_secret, "crm-3") == 200

    # A second rotation with no grace: the one before stops at once, the oldest too.
    second = (await http.post(f"/api/sites/{created.site.id}/rotate-secret", json={"grace_hours": 0})).json()
    assert second["site"]["previous_secret_until"] is None
    assert await vouched(new_secret, "crm-4") == 401
    assert await vouched(second["identity_secret"], "crm-4") == 200
    rows = await audit_rows(server, "config.site.rotate_secret")
    assert len(rows) == 2 and rows[0].after is not None and rows[0].after["previous_secret_until"] == until.isoformat()
    assert old_secret not in str(rows[0].before) + str(rows[0].after)


async def test_people_are_listed_edited_and_sent_a_reset(server: LiveServer, http: httpx.AsyncClient) -> None:
    ids = await seed(server)
    await sign_in(http, "admin@x.example")
    everyone = (await http.get("/api/users")).json()
    assert [u["email"] for u in everyone["users"]] == [
        "admin@x.example", "agent@x.example", "ro@x.example", "reseller@r20.example", "cust@ten.example",
        "cust@eleven.example"]
    assert everyone["users"][0]["last_sign_in_at"] is not None and everyone["users"][1]["last_sign_in_at"] is None
    customers = (await http.get("/api/users", params={"role": "customer", "organization": ids["c10"]})).json()
    assert [u["email"] for u in customers["users"]] == ["cust@ten.example"]
    found = (await http.get("/api/users", params={"q": "ELEVEN"})).json()
    assert [u["email"] for u in found["users"]] == ["cust@eleven.example"]
    page = (await http.get("/api/users", params={"limit": 2})).json()
    assert len(page["users"]) == 2 and page["next_after"] == page["users"][1]["id"]
    rest = (await http.get("/api/users", params={"limit": 50, "after": page["next_after"]})).json()
    assert len(rest["users"]) == 4 and rest["next_after"] is None
    assert (await http.get("/api/users", params={"role": "boss"})).status_code == 422
    agent = everyone["users"][1]
    admin = everyone["users"][0]

    # A customer belongs to a customer company; staff to none: refused naming the field.
    r = await http.patch(f"/api/users/{agent['id']}", json={"organization": "r20"})
    assert r.status_code == 422 and refusal(r)["field"] == "organization"
    r = await http.patch(f"/api/users/{agent['id']}", json={"role": "customer", "organization": "r20"})
    assert r.status_code == 422 and refusal(r)["field"] == "organization"
    r = await http.patch(f"/api/users/{admin['id']}", json={"role": "agent"})
    assert r.status_code == 403 and refusal(r)["code"] == "own_role"
    assert await audit_rows(server, "config.user.update") == []

    r = await http.patch(f"/api/users/{agent['id']}", json={"role": "read_only", "name": "Otto", "language": "de"})
    assert r.status_code == 200, r.text
    assert (r.json()["user"]["role"], r.json()["user"]["name"], r.json()["user"]["language"]) == ("read_only", "Otto", "de")
    [row] = await audit_rows(server, "config.user.update")
    assert row.before is not None and row.after is not None
    assert (row.before["role"], row.after["role"], row.target_id) == ("agent", "read_only", str(agent["id"]))

    r = await http.post(f"/api/users/{agent['id']}/reset-password")
    assert r.status_code == 200 and r.json() == {"queued": True}
    async with server.services.sessions() as db:
        mails = [(m.kind, m.to_addr) for m in await db.scalars(select(OutboxMail))]
    assert mails == [("password_reset", "agent@x.example")]
    assert PASSWORD not in r.text
    assert (await http.post(f"/api/users/{agent['id']}/disable")).status_code == 200
    r = await http.post(f"/api/users/{agent['id']}/reset-password")
    assert r.status_code == 409 and refusal(r)["code"] == "user_disabled"
    actions = [row.action for row in await audit_rows(server, "config.user.")]
    assert actions[-3:] == ["config.user.update", "config.user.reset_password", "config.user.disable"]

    http.cookies.clear()
    await sign_in(http, "ro@x.example")
    assert (await http.get("/api/users")).status_code == 200
    assert (await http.patch(f"/api/users/{agent['id']}", json={"name": "X"})).status_code == 403
    assert (await http.post(f"/api/users/{agent['id']}/reset-password")).status_code == 403
    http.cookies.clear()
    await sign_in(http, "cust@ten.example")
    assert (await http.get("/api/users")).status_code == 403


async def test_a_company_gets_its_own_auto_close_delays(server: LiveServer, http: httpx.AsyncClient) -> None:
    ids = await seed(server)
    await sign_in(http, "admin@x.example")
    for body, field in [({"auto_close_waiting": "2 days"}, "auto_close_waiting"),
                        ({"auto_close_proposed": "0h"}, "auto_close_proposed"),
                        ({"domains": ["ok.example", "not a domain"]}, "domains.1"),
                        ({"name": " "}, "name")]:
        r = await http.patch(f"/api/organizations/{ids['c11']}", json=body)
        assert r.status_code == 422 and refusal(r)["field"] == field, r.text
    r = await http.patch(f"/api/organizations/{ids['c11']}", json={"domains": ["ten.example"]})
    assert r.status_code == 409 and refusal(r) == {"code": "domain_taken", "field": "domains",
                                                   "message": refusal(r)["message"]}
    assert await audit_rows(server, "config.organization.") == []

    r = await http.patch(f"/api/organizations/{ids['c11']}", json={
        "name": "Customer 11", "plan_tier": "premium", "domains": ["eleven.example"],
        "auto_close_waiting": "2BD", "auto_close_proposed": "7d"})
    assert r.status_code == 200, r.text
    org = r.json()["organization"]
    assert (org["name"], org["plan_tier"], org["domains"]) == ("Customer 11", "premium", ["eleven.example"])
    assert (org["auto_close_waiting"], org["auto_close_proposed"]) == ("2bd", "7d")
    r = await http.patch(f"/api/organizations/{ids['c11']}", json={"auto_close_proposed": None, "domains": []})
    assert (r.json()["organization"]["auto_close_proposed"], r.json()["organization"]["domains"]) == (None, [])
    listed = {o["id"]: o for o in (await http.get("/api/organizations")).json()["organizations"]}
    assert listed[ids["c11"]]["auto_close_waiting"] == "2bd"
    rows = await audit_rows(server, "config.organization.update")
    assert len(rows) == 2 and rows[0].before is not None and rows[0].after is not None
    assert (rows[0].before["auto_close_waiting"], rows[0].after["auto_close_waiting"]) == (None, "2bd")

    http.cookies.clear()
    await sign_in(http, "ro@x.example")
    assert (await http.patch(f"/api/organizations/{ids['c11']}", json={"name": "X"})).status_code == 403


async def test_a_role_change_counts_at_once_and_closes_old_sockets_at_once(
    server: LiveServer, http: httpx.AsyncClient
) -> None:
    """PATCH /api/users/{id} changes no session: the person's next request acts with the
    new role, and their socket opened with the old one closes after the commit, without
    waiting for the hub's revalidation (4409, sign in again); another person's socket stays."""
    await seed(server)
    async with server.services.sessions() as db:
        agent = await db.scalar(select(User).where(User.email == "agent@x.example"))
    assert agent is not None
    tokens = {}
    for email in ("agent@x.example", "ro@x.example"):
        async with httpx.AsyncClient(base_url=server.base_url) as own:
            r = await own.post("/api/auth/login", json={"email": email, "password": PASSWORD})
            tokens[email] = r.json()["token"]
    async with ChatClient(server.ws_url + "/ws", tokens["agent@x.example"], timeout=10) as socket, \
            ChatClient(server.ws_url + "/ws", tokens["ro@x.example"], timeout=10) as other:
        await sign_in(http, "admin@x.example")
        assert (await http.patch(f"/api/users/{agent.id}", json={"role": "read_only"})).status_code == 200
        me = await http.get("/api/me", headers={"Authorization": f"Bearer {tokens['agent@x.example']}"})
        assert me.json()["user"]["role"] == "read_only"
        # No revalidation is run here: the hub's periodic one is 10 s away at the earliest.
        assert await socket.wait_closed(5) == 4409
        assert (await other.ping())["type"] == "pong"
    async with server.services.sessions() as db:
        live = list(await db.scalars(select(AuthSession).where(AuthSession.user_id == agent.id,
                                                               AuthSession.revoked_at.is_(None))))
    assert len(live) == 1

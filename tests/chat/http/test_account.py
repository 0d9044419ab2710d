"""Sign-in, tokens and the caller's identity over real HTTP, on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import timedelta

import httpx
import pytest
from sqlalchemy import func, select

from chat import directory
from chat.auth import identity_hash
from chat.clock import ManualClock
from chat.models import AuthSession, LoginFailure, OrgKind, Role, User
from tests.support.live import LiveServer

PASSWORD = "correct horse battery"


async def make_user(server: LiveServer, email: str = "agent@example.com", role: Role = Role.AGENT, **kw: object) -> User:
    return await directory.create_user(server.services, None, email=email, role=role, password=PASSWORD, **kw)  # type: ignore[arg-type]


async def sign_in(http: httpx.AsyncClient, email: str, password: str = PASSWORD) -> str:
    response = await http.post("/api/auth/login", json={"email": email, "password": password})
    assert response.status_code == 200, response.text
    return str(response.json()["token"])


async def count(server: LiveServer, model: type) -> int:
    async with server.services.sessions() as db:
        return int(await db.scalar(select(func.count()).select_from(model)) or 0)


async def test_login_me_logout(server: LiveServer, http: httpx.AsyncClient) -> None:
    user = await make_user(server, name="Alex")
    response = await http.post("/api/auth/login", json={"email": "AGENT@example.com ", "password": PASSWORD})
    assert response.status_code == 200
    body = response.json()
    assert body["user"] == {**body["user"], "id": user.id, "email": "agent@example.com", "role": "agent", "name": "Alex"}
    cookie = response.headers["set-cookie"].lower()
    assert "httponly" in cookie and "samesite=strict" in cookie
    token = body["token"]
    bearer = {"Authorization": f"Bearer {token}"}
    http.cookies.clear()

    me = await http.get("/api/me", headers=bearer)
    assert me.status_code == 200 and me.json()["user"]["id"] == user.id

    assert (await http.post("/api/auth/logout", headers=bearer)).status_code == 204
    after = await http.get("/api/me", headers=bearer)
    assert after.status_code == 401
    assert after.json()["error"]["code"] == "session_revoked"


async def test_cookie_session_works_for_the_console(server: LiveServer, http: httpx.AsyncClient) -> None:
    await make_user(server)
    await sign_in(http, "agent@example.com")
    assert (await http.get("/api/me")).status_code == 200


async def test_wrong_password_and_unknown_email_look_the_same(server: LiveServer, http: httpx.AsyncClient) -> None:
    await make_user(server)
    wrong = await http.post("/api/auth/login", json={"email": "agent@example.com", "password": "wrong password"})
    unknown = await http.post("/api/auth/login", json={"email": "nobody@example.com", "password": PASSWORD})
    assert wrong.status_code == unknown.status_code == 401
    assert wrong.json() == unknown.json() == {
        "error": {"code": "invalid_credentials", "message": "the e-mail or the password is wrong"}
    }
    assert await count(server, AuthSession) == 0


async def test_failed_logins_lock_the_account_then_unlock(
    server: LiveServer, http: httpx.AsyncClient, clock: ManualClock
) -> None:
    await make_user(server)
    limit = server.services.settings.login_max_failures_per_account
    for _ in range(limit):
        r = await http.post("/api/auth/login", json={"email": "agent@example.com", "password": "wrong password"})
        assert r.status_code == 401
    locked = await http.post("/api/auth/login", json={"email": "agent@example.com", "password": PASSWORD})
    assert locked.status_code == 429
    assert locked.json()["error"]["code"] == "too_many_attempts"
    assert int(locked.headers["retry-after"]) > 0
    assert await count(server, AuthSession) == 0
    clock.advance(timedelta(seconds=server.services.settings.login_lockout_seconds + 1))
    await sign_in(http, "agent@example.com")
    # Success clears the account's counter.
    async with server.services.sessions() as db:
        assert await db.get(LoginFailure, "acct:agent@example.com") is None


async def test_failed_logins_lock_the_address_across_accounts(server: LiveServer, http: httpx.AsyncClient) -> None:
    await make_user(server)
    limit = server.services.settings.login_max_failures_per_address
    for i in range(limit):
        r = await http.post("/api/auth/login", json={"email": f"guess{i}@example.com", "password": "x" * 12})
        assert r.status_code == 401
    # A different, real account from the same address is refused too, right password or not.
    r = await http.post("/api/auth/login", json={"email": "agent@example.com", "password": PASSWORD})
    assert r.status_code == 429


async def test_disabled_user_is_refused_at_once(server: LiveServer, http: httpx.AsyncClient) -> None:
    user = await make_user(server, email="customer@example.com", role=Role.AGENT)
    token = await sign_in(http, "customer@example.com")
    http.cookies.clear()
    bearer = {"Authorization": f"Bearer {token}"}
    assert (await http.get("/api/me", headers=bearer)).status_code == 200
    await directory.set_user_disabled(server.services, None, user.id, disabled=True)
    refused = await http.get("/api/me", headers=bearer)
    assert refused.status_code in (401, 403)
    assert refused.json()["error"]["code"] in {"session_revoked", "account_disabled"}
    login = await http.post("/api/auth/login", json={"email": "customer@example.com", "password": PASSWORD})
    assert login.status_code == 403 and login.json()["error"]["code"] == "account_disabled"
    assert await count(server, AuthSession) == 1  # the old one, revoked; no new one


@pytest.mark.parametrize(
    ("headers", "code"),
    [
        ({"Authorization": "Bearer s:not-a-token"}, "invalid_token"),
        ({"Authorization": "Bearer v:not-a-token"}, "invalid_token"),
        ({"Authorization": "Bearer nonsense"}, "invalid_token"),
        ({"Authorization": "Basic abc"}, "invalid_token"),
        ({}, "unauthenticated"),
    ],
)
async def test_bad_tokens_are_refused(http: httpx.AsyncClient, headers: dict[str, str], code: str) -> None:
    r = await http.get("/api/me", headers=headers)
    assert r.status_code == 401
    assert r.json()["error"]["code"] == code


async def test_a_visitor_token_is_not_a_session_token(server: LiveServer, http: httpx.AsyncClient) -> None:
    site = (await directory.create_site(server.services, None, name="Shop", allowed_origins=["https://shop.example"])).site
    visitor = (await http.post("/api/widget/session", json={"site": site.public_key})).json()["token"]
    forged = "s:" + visitor.partition(":")[2]
    r = await http.get("/api/me", headers={"Authorization": f"Bearer {forged}"})
    assert r.status_code == 401 and r.json()["error"]["code"] == "invalid_token"


async def test_expired_session_is_refused(server: LiveServer, http: httpx.AsyncClient, clock: ManualClock) -> None:
    await make_user(server)
    token = await sign_in(http, "agent@example.com")
    http.cookies.clear()
    clock.advance(timedelta(seconds=server.services.settings.session_ttl_seconds + 1))
    r = await http.get("/api/me", headers={"Authorization": f"Bearer {token}"})
    assert r.status_code == 401 and r.json()["error"]["code"] == "token_expired"


@pytest.mark.parametrize(
    ("content", "content_type", "status", "code"),
    [
        (b'{"email": "a@b.co"', "application/json", 400, "malformed_json"),
        (b'{"email": "a@b.co"}', "application/json", 422, "validation_failed"),
        (b'{"email": "a@b.co", "password": "x", "admin": true}', "application/json", 422, "validation_failed"),
        (b'{"email": 5, "password": "x"}', "application/json", 422, "validation_failed"),
        (b"email=a@b.co&password=x", "application/x-www-form-urlencoded", 415, "unsupported_media_type"),
        (b'{"email": "' + b"a" * 70_000 + b'", "password": "x"}', "application/json", 413, "payload_too_large"),
    ],
)
async def test_bad_login_bodies(
    server: LiveServer, http: httpx.AsyncClient, content: bytes, content_type: str, status: int, code: str
) -> None:
    r = await http.post("/api/auth/login", content=content, headers={"Content-Type": content_type})
    assert r.status_code == status
    assert r.json()["error"]["code"] == code
    assert await count(server, LoginFailure) == 0


async def test_unknown_route_and_method_are_json(http: httpx.AsyncClient) -> None:
    missing = await http.get("/api/nothing-here")
    assert missing.status_code == 404 and missing.json()["error"]["code"] == "not_found"
    wrong_method = await http.delete("/api/me")
    assert wrong_method.status_code == 405 and wrong_method.json()["error"]["code"] == "method_not_allowed"


async def test_profile_update_and_read_only_refusal(server: LiveServer, http: httpx.AsyncClient) -> None:
    await make_user(server)
    await sign_in(http, "agent@example.com")
    r = await http.patch("/api/me", json={"language": "pt-br", "notification_prefs": {"email_on_reply": False}})
    assert r.status_code == 200
    assert r.json()["user"]["language"] == "pt-BR"
    # The pre-mail key still works: for an agent it stands for "the customer replied".
    assert r.json()["user"]["notification_prefs"] == {"customer_replied": False}
    bad = await http.patch("/api/me", json={"language": "klingon"})
    assert bad.status_code == 422
    bad = await http.patch("/api/me", json={"notification_prefs": {"sms": True}})
    assert bad.status_code == 422
    assert (await http.get("/api/me")).json()["user"]["language"] == "pt-BR"

    await make_user(server, email="ro@example.com", role=Role.READ_ONLY)
    await sign_in(http, "ro@example.com")
    r = await http.patch("/api/me", json={"name": "Changed"})
    assert r.status_code == 403 and r.json()["error"]["code"] == "forbidden"


async def test_widget_visitor_anonymous_and_identified(server: LiveServer, http: httpx.AsyncClient) -> None:
    org = (await directory.create_organization(server.services, None, name="Acme", kind=OrgKind.CUSTOMER)).organization
    created = await directory.create_site(
        server.services, None, name="Shop", allowed_origins=["https://shop.example"], organization=org.id
    )
    site = created.site
    first = (await http.post("/api/widget/session", json={"site": site.public_key, "name": "Guest"})).json()
    assert first["identified"] is False and first["user"]["role"] == "visitor"
    again = (await http.post("/api/widget/session", json={"site": site.public_key, "visitor_token": first["token"]})).json()
    assert again["user"]["id"] == first["user"]["id"]
    me = await http.get("/api/me", headers={"Authorization": f"Bearer {first['token']}"})
    assert me.status_code == 200 and me.json()["user"]["site_id"] == site.id

    good_hash = identity_hash(site.identity_secret, "crm-42")
    ident = await http.post("/api/widget/session", json={"site": site.public_key, "user_id": "crm-42", "user_hash": good_hash})
    assert ident.status_code == 200
    body = ident.json()
    assert body["identified"] is True and body["user"]["role"] == "customer"
    again = (await http.post("/api/widget/session", json={"site": site.public_key, "user_id": "crm-42", "user_hash": good_hash})).json()
    assert again["user"]["id"] == body["user"]["id"]
    profile = (await http.get("/api/me", headers={"Authorization": f"Bearer {body['token']}"})).json()
    assert profile["user"]["organization_id"] == org.id

    users_before = await count(server, User)
    forged = await http.post(
        "/api/widget/session", json={"site": site.public_key, "user_id": "crm-1", "user_hash": good_hash}
    )
    assert forged.status_code == 401 and forged.json()["error"]["code"] == "identity_rejected"
    unknown_site = await http.post("/api/widget/session", json={"site": "st_nope"})
    assert unknown_site.status_code == 404 and unknown_site.json()["error"]["code"] == "site_not_found"
    assert await count(server, User) == users_before


async def test_language_choice_and_ui_prefs(server: LiveServer, http: httpx.AsyncClient) -> None:
    await make_user(server)
    await sign_in(http, "agent@example.com")
    user = (await http.get("/api/me")).json()["user"]
    # Never picked: the console and portal follow the browser until the person chooses.
    assert user["language_chosen"] is False and user["ui_prefs"] == {}
    r = await http.patch("/api/me", json={"language": "de", "ui_prefs": {"view": "mine", "sound": False}})
    assert r.status_code == 200, r.text
    assert r.json()["user"]["language_chosen"] is True
    assert r.json()["user"]["ui_prefs"] == {"view": "mine", "sound": False}
    # Merged, and null unsets one key.
    r = await http.patch("/api/me", json={"ui_prefs": {"desktop": True, "sound": None}})
    assert r.json()["user"]["ui_prefs"] == {"view": "mine", "desktop": True}
    for bad in ({"view": "everything"}, {"sound": "yes"}, {"colour": "red"}):
        refused = await http.patch("/api/me", json={"ui_prefs": bad, "name": "Changed"})
        assert refused.status_code == 422, bad
    after = (await http.get("/api/me")).json()["user"]
    assert after["ui_prefs"] == {"view": "mine", "desktop": True} and after["name"] != "Changed"
    desk = (await http.get("/api/desk/me")).json()["user"]
    assert desk["language"] == "de" and desk["language_chosen"] is True and desk["ui_prefs"]["view"] == "mine"

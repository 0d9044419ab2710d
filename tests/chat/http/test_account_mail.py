"""Accounts by e-mail over real HTTP: "forgot password" answers the same for everyone and
is throttled, the link pages open without spending anything, reset and invitation links
work once, and a refused link is a clear page or a documented JSON error."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import httpx
from sqlalchemy import select

from chat import directory
from chat.mail import accounts
from chat.mail.models import OutboxMail
from chat.models import Role
from tests.chat.http.test_account import make_user, sign_in
from tests.support.live import LiveServer

NEW_PASSWORD = "a brand new passphrase"


async def outbox(server: LiveServer) -> list[OutboxMail]:
    async with server.services.sessions() as db:
        return list(await db.scalars(select(OutboxMail).order_by(OutboxMail.id)))


def link_of(row: OutboxMail) -> tuple[str, str]:
    """(path, token) of the link a mail carries."""
    parts = urlsplit(str(row.context["url"]))
    return parts.path, parse_qs(parts.query)["t"][0]


async def test_forgot_answers_the_same_for_everyone(server: LiveServer, http: httpx.AsyncClient) -> None:
    await make_user(server)
    await make_user(server, "visitor-like@example.com", Role.CUSTOMER)
    await directory.set_user_disabled(server.services, None, "visitor-like@example.com", disabled=True)
    answers = [
        await http.post("/api/auth/password/forgot", json={"email": email})
        for email in ["agent@example.com", "nobody@example.com", "visitor-like@example.com", "not an address"]
    ]
    assert [(r.status_code, r.json()) for r in answers] == [(202, {"status": "sent"})] * 4
    [row] = await outbox(server)
    assert (row.kind, row.to_addr) == ("password_reset", "agent@example.com")
    bad = await http.post("/api/auth/password/forgot", json={"mail": "agent@example.com"})
    assert bad.status_code == 422 and bad.json()["error"]["code"] == "validation_failed"


async def test_forgot_is_throttled_with_retry_after(server: LiveServer, http: httpx.AsyncClient) -> None:
    for _ in range(accounts.RESET_REQUESTS_PER_ACCOUNT):
        assert (await http.post("/api/auth/password/forgot", json={"email": "ghost@example.com"})).status_code == 202
    refused = await http.post("/api/auth/password/forgot", json={"email": "ghost@example.com"})
    assert refused.status_code == 429
    assert refused.headers["retry-after"] == str(server.services.settings.login_lockout_seconds + 1)
    assert refused.json()["error"]["code"] == "too_many_requests"


async def test_reset_page_then_api_works_once(server: LiveServer, http: httpx.AsyncClient) -> None:
    await make_user(server)
    old_token = await sign_in(http, "agent@example.com")
    await http.post("/api/auth/password/forgot", json={"email": "agent@example.com"})
    path, token = link_of((await outbox(server))[0])
    assert path == "/account/reset"

    page = await http.get(path, params={"t": token})
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert page.headers["referrer-policy"] == "no-referrer" and page.headers["cache-control"] == "no-store"
    assert 'data-action="reset"' in page.text and f'value="{token}"' in page.text
    assert "agent@example.com" in page.text

    short = await http.post("/api/auth/password/reset", json={"token": token, "password": "short"})
    assert short.status_code == 422
    done = await http.post("/api/auth/password/reset", json={"token": token, "password": NEW_PASSWORD})
    assert done.status_code == 200
    assert done.json() == {"status": "password_set", "sign_in_url": "/console/"}
    http.cookies.clear()
    revoked = await http.get("/api/me", headers={"Authorization": f"Bearer {old_token}"})
    assert revoked.status_code == 401 and revoked.json()["error"]["code"] == "session_revoked"
    await sign_in(http, "agent@example.com", NEW_PASSWORD)

    again = await http.post("/api/auth/password/reset", json={"token": token, "password": "yet another passphrase"})
    assert again.status_code == 410
    assert again.json()["error"]["code"] == "token_used"
    used_page = await http.get(path, params={"t": token})
    assert used_page.status_code == 410 and 'data-code="token_used"' in used_page.text
    assert 'href="/account/forgot"' in used_page.text


async def test_forged_link_is_a_clear_page_and_a_400(server: LiveServer, http: httpx.AsyncClient) -> None:
    page = await http.get("/account/reset", params={"t": "<script>x</script>"})
    assert page.status_code == 400 and 'data-code="invalid_token"' in page.text and "<script>x" not in page.text
    missing = await http.get("/account/invitation")
    assert missing.status_code == 400
    api = await http.post("/api/auth/password/reset", json={"token": "forged", "password": NEW_PASSWORD})
    assert api.status_code == 400 and api.json()["error"]["code"] == "invalid_token"


async def test_invitation_accept_signs_in_and_is_single_use(server: LiveServer, http: httpx.AsyncClient) -> None:
    await make_user(server, "admin@example.com", Role.SUPPORT_ADMIN)
    admin_token = {"Authorization": f"Bearer {await sign_in(http, 'admin@example.com')}"}
    http.cookies.clear()
    created = await http.post("/api/users", headers=admin_token,
                              json={"email": "new@example.com", "role": "agent", "name": "Nina"})
    assert created.status_code == 201
    user_id = created.json()["user"]["id"]
    sent = await http.post(f"/api/users/{user_id}/invite", headers=admin_token)
    assert (sent.status_code, sent.json()) == (202, {"queued": True})
    [row] = await outbox(server)
    assert (row.kind, row.to_addr, row.to_user_id) == ("invitation", "new@example.com", user_id)
    path, token = link_of(row)
    assert path == "/account/invitation"
    page = await http.get(path, params={"t": token})
    assert page.status_code == 200 and 'data-action="invitation"' in page.text and 'value="Nina"' in page.text

    accepted = await http.post("/api/auth/invitation/accept",
                               json={"token": token, "password": NEW_PASSWORD, "name": "Nina New"})
    assert accepted.status_code == 200
    body = accepted.json()
    assert body["user"]["name"] == "Nina New" and body["sign_in_url"] == "/console/"
    assert "httponly" in accepted.headers["set-cookie"].lower()
    http.cookies.clear()
    me = await http.get("/api/me", headers={"Authorization": f"Bearer {body['token']}"})
    assert me.status_code == 200 and me.json()["user"]["id"] == user_id
    await sign_in(http, "new@example.com", NEW_PASSWORD)
    http.cookies.clear()

    reused = await http.post("/api/auth/invitation/accept", json={"token": token, "password": "another passphrase"})
    assert reused.status_code == 410 and reused.json()["error"]["code"] == "token_used"
    resend = await http.post(f"/api/users/{user_id}/invite", headers=admin_token)
    assert resend.status_code == 409 and resend.json()["error"]["code"] == "password_already_set"


async def test_only_who_may_create_a_user_may_invite_them(server: LiveServer, http: httpx.AsyncClient) -> None:
    target = await directory.create_user(server.services, None, email="new@example.com", role=Role.AGENT)
    await make_user(server, "agent@example.com", Role.AGENT)
    agent = {"Authorization": f"Bearer {await sign_in(http, 'agent@example.com')}"}
    http.cookies.clear()
    refused = await http.post(f"/api/users/{target.id}/invite", headers=agent)
    assert refused.status_code == 403
    anonymous = await http.post(f"/api/users/{target.id}/invite")
    assert anonymous.status_code == 401
    assert await outbox(server) == []


async def test_account_pages_speak_the_users_language_else_the_browsers(server: LiveServer, http: httpx.AsyncClient) -> None:
    await make_user(server, "ana@example.com", Role.CUSTOMER, language="pt-BR", name="Ana")
    await http.post("/api/auth/password/forgot", json={"email": "ana@example.com"})
    path, token = link_of((await outbox(server))[0])

    # The link names Ana: her language wins over the browser's.
    page = await http.get(path, params={"t": token}, headers={"Accept-Language": "de"})
    assert page.status_code == 200 and '<html lang="pt-BR">' in page.text
    assert "<title>Defina uma nova senha</title>" in page.text
    assert "Escolha uma nova senha para <strong>ana@example.com</strong>." in page.text
    assert 'data-msg-mismatch="As duas senhas são diferentes."' in page.text
    csp = page.headers["content-security-policy"]
    assert csp.startswith("default-src 'none'; script-src 'self'; connect-src 'self'; style-src 'sha256-")
    assert "unsafe-inline" not in csp

    assert (await http.post("/api/auth/password/reset", json={"token": token, "password": NEW_PASSWORD})).status_code == 200
    used = await http.get(path, params={"t": token}, headers={"Accept-Language": "de"})
    assert used.status_code == 410 and 'data-code="token_used">Este link já foi usado' in used.text
    assert '<a href="/account/forgot">Pedir um novo link de senha</a>' in used.text

    # No user named: Accept-Language by its q-values (fr is not ours, es beats ru).
    forged = await http.get("/account/invitation", params={"t": "x"}, headers={"Accept-Language": "fr, ru;q=0.5, es;q=0.8"})
    assert forged.status_code == 400 and '<html lang="es">' in forged.text
    assert 'data-code="invalid_token">Esta invitación no es válida.' in forged.text
    assert "/account/forgot" not in forged.text  # no "new password link" under an invitation
    forgot = await http.get("/account/forgot", params={"email": '"><b>x'}, headers={"Accept-Language": "ru-RU"})
    assert forgot.status_code == 200 and "<title>Забыли пароль?</title>" in forgot.text
    assert 'value="&#34;&gt;&lt;b&gt;x"' in forgot.text

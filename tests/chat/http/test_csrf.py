"""CSRF: a request the session cookie authenticates needs X-Requested-With and must not
come from another origin (issue 20; chat/http/csrf.py). The browser side, from a same-site
origin in Chromium: tests/browser/test_csrf.py."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest

from chat import directory
from chat.models import Role, User
from tests.support.live import LiveServer

PASSWORD = "correct horse battery"
HEADER = {"X-Requested-With": "supportchat"}


@pytest.fixture
async def http(server: LiveServer) -> AsyncIterator[httpx.AsyncClient]:
    """A client that sends no CSRF header unless told (the shared fixture sends it)."""
    async with httpx.AsyncClient(base_url=server.base_url, timeout=10) as client:
        yield client


async def admin_cookie_and_victim(server: LiveServer, http: httpx.AsyncClient) -> int:
    svc = server.services
    await directory.create_user(svc, None, email="admin@x.example", role=Role.SUPPORT_ADMIN, password=PASSWORD)
    victim = await directory.create_user(svc, None, email="agent@x.example", role=Role.AGENT, password=PASSWORD)
    signed_in = await http.post("/api/auth/login", json={"email": "admin@x.example", "password": PASSWORD})
    assert signed_in.status_code == 200 and "sc_session" in http.cookies
    return victim.id


async def is_disabled(server: LiveServer, user_id: int) -> bool:
    async with server.services.sessions() as db:
        user = await db.get(User, user_id)
        assert user is not None
        return user.disabled


def refused(response: httpx.Response) -> bool:
    return response.status_code == 403 and response.json()["error"]["code"] == "csrf_failed"


async def test_the_cookie_alone_does_not_authorize_a_change(server: LiveServer, http: httpx.AsyncClient) -> None:
    victim = await admin_cookie_and_victim(server, http)
    # What a forged form sends: the cookie, an empty or text/plain body, no header.
    assert refused(await http.post(f"/api/users/{victim}/disable"))
    assert refused(await http.post(f"/api/users/{victim}/disable", content=b"x=1",
                                   headers={"Content-Type": "application/x-www-form-urlencoded"}))
    assert refused(await http.post("/api/conversations/1/attachments?filename=a.txt", content=b"hello",
                                   headers={"Content-Type": "text/plain"}))
    assert refused(await http.post("/api/auth/logout"))
    assert refused(await http.patch("/api/me", json={"name": "Mallory"}))
    assert not await is_disabled(server, victim)
    assert (await http.get("/api/me")).status_code == 200  # reads need nothing: not a change, and still signed in


async def test_the_header_from_the_own_origin_passes(server: LiveServer, http: httpx.AsyncClient) -> None:
    victim = await admin_cookie_and_victim(server, http)
    own = {**HEADER, "Origin": server.base_url, "Sec-Fetch-Site": "same-origin"}
    assert (await http.post(f"/api/users/{victim}/disable", headers=own)).status_code == 200
    assert await is_disabled(server, victim)
    assert (await http.post(f"/api/users/{victim}/enable", headers=HEADER)).status_code == 200  # no Origin: not a browser


async def test_a_foreign_origin_is_refused_even_with_the_header(server: LiveServer, http: httpx.AsyncClient) -> None:
    victim = await admin_cookie_and_victim(server, http)
    for foreign in (
        {"Sec-Fetch-Site": "same-site"},
        {"Sec-Fetch-Site": "cross-site"},
        {"Origin": "http://127.0.0.1:1"},  # same site, another port
        {"Origin": "null"},
        {"Origin": server.base_url, "Sec-Fetch-Site": "same-site"},
    ):
        assert refused(await http.post(f"/api/users/{victim}/disable", headers={**HEADER, **foreign})), foreign
    assert not await is_disabled(server, victim)


async def test_bearer_requests_need_no_header(server: LiveServer, http: httpx.AsyncClient) -> None:
    victim = await admin_cookie_and_victim(server, http)
    token = (await http.post("/api/auth/login", json={"email": "admin@x.example", "password": PASSWORD},
                             headers=HEADER)).json()["token"]
    http.cookies.clear()
    # An API client or the widget on a customer's site: the token is no ambient credential.
    response = await http.post(f"/api/users/{victim}/disable", headers={"Authorization": f"Bearer {token}",
                                                                        "Origin": "https://shop.example"})
    assert response.status_code == 200
    # No cookie and no token: not signed in, so not forgeable — the handler's own 401.
    anonymous = await http.post(f"/api/users/{victim}/enable")
    assert anonymous.status_code == 401


async def test_token_forms_from_mail_pages_still_post_with_a_cookie(server: LiveServer, http: httpx.AsyncClient) -> None:
    await admin_cookie_and_victim(server, http)
    # A plain HTML form acting on the signed token in its URL (no header possible): the
    # handler answers (a bad token here), the CSRF guard does not.
    for path in ("/mail/rate?t=forged", "/mail/unsubscribe?t=forged"):
        response = await http.post(path, data={"score": "5"})
        assert response.status_code != 403 or "csrf_failed" not in response.text, path

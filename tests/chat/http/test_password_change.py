"""A password change ends the user's other sessions and closes their sockets (issue 20)."""

from __future__ import annotations

import httpx
import pytest

from chat import directory
from chat.client import ChatClient
from chat.models import Role
from tests.support.live import LiveServer

PASSWORD = "correct horse battery"
NEW_PASSWORD = "plum kettle orbit violin"


async def sign_in(http: httpx.AsyncClient, password: str = PASSWORD) -> str:
    response = await http.post("/api/auth/login", json={"email": "agent@example.com", "password": password})
    assert response.status_code == 200, response.text
    http.cookies.clear()  # each session by its bearer token only
    return str(response.json()["token"])


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def test_changing_the_password_ends_every_other_session(server: LiveServer, http: httpx.AsyncClient) -> None:
    await directory.create_user(server.services, None, email="agent@example.com", role=Role.AGENT, password=PASSWORD)
    here, elsewhere = await sign_in(http), await sign_in(http)
    async with ChatClient(server.ws_url + "/ws", elsewhere) as other_socket, ChatClient(server.ws_url + "/ws", here) as own_socket:
        changed = await http.post("/api/me/password", headers=bearer(here),
                                  json={"current_password": PASSWORD, "new_password": NEW_PASSWORD})
        assert changed.status_code == 204, changed.text
        assert await other_socket.wait_closed(5) == 4409
        refused = await http.get("/api/me", headers=bearer(elsewhere))
        assert refused.status_code == 401 and refused.json()["error"]["code"] == "session_revoked"
        # The session that made the change goes on, socket included.
        assert (await http.get("/api/me", headers=bearer(here))).status_code == 200
        assert own_socket.close_code is None
        assert (await own_socket.ping())["type"] == "pong"
    old = await http.post("/api/auth/login", json={"email": "agent@example.com", "password": PASSWORD})
    assert old.status_code == 401
    await sign_in(http, NEW_PASSWORD)


async def test_a_refused_change_changes_nothing(server: LiveServer, http: httpx.AsyncClient) -> None:
    await directory.create_user(server.services, None, email="agent@example.com", role=Role.AGENT, password=PASSWORD)
    here, elsewhere = await sign_in(http), await sign_in(http)
    wrong = await http.post("/api/me/password", headers=bearer(here),
                            json={"current_password": "not the password", "new_password": NEW_PASSWORD})
    assert wrong.status_code == 403 and wrong.json()["error"]["code"] == "wrong_password"
    weak = await http.post("/api/me/password", headers=bearer(here),
                           json={"current_password": PASSWORD, "new_password": "password12"})
    assert weak.status_code == 422 and weak.json()["error"]["code"] == "validation_failed"
    assert "common password" in weak.json()["error"]["message"]
    assert (await http.get("/api/me", headers=bearer(elsewhere))).status_code == 200
    await sign_in(http, PASSWORD)


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
async def test_a_visitor_has_no_password_to_change(server: LiveServer, http: httpx.AsyncClient) -> None:
    site = await directory.create_site(server.services, None, name="Shop", allowed_origins=["https://shop.example"])
    visitor = (await http.post("/api/widget/session", json={"site": site.site.public_key})).json()["token"]
    refused = await http.post("/api/me/password", headers=bearer(visitor),
                              json={"current_password": "", "new_password": NEW_PASSWORD})
    assert refused.status_code == 401 and refused.json()["error"]["code"] == "not_a_session"


async def test_set_password_by_the_operator_ends_every_session(server: LiveServer, http: httpx.AsyncClient) -> None:
    await directory.create_user(server.services, None, email="agent@example.com", role=Role.AGENT, password=PASSWORD)
    first, second = await sign_in(http), await sign_in(http)
    async with ChatClient(server.ws_url + "/ws", first) as socket:
        await directory.set_password(server.services, "agent@example.com", NEW_PASSWORD)
        assert await socket.wait_closed(5) == 4409
    for token in (first, second):
        refused = await http.get("/api/me", headers=bearer(token))
        assert refused.status_code == 401 and refused.json()["error"]["code"] == "session_revoked"
    await sign_in(http, NEW_PASSWORD)

"""Limits on anonymous use (issue 20): new visitors per address, a visitor's chats, its
unsent uploads, and the sweeper that deletes uploads never sent. Over real HTTP, with the
limits set low and the manual clock."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from pathlib import Path

import httpx
import pytest
from sqlalchemy import func, select

from chat import directory
from chat.attachments import sweep_unsent_uploads, upload_dir
from chat.auth import identity_hash
from chat.client import ChatClient
from chat.clock import ManualClock
from chat.models import Attachment, Conversation, User
from chat.settings import Settings
from tests.conftest import make_settings
from tests.support.live import LiveServer


@pytest.fixture
def settings(db_url: str, tmp_path: Path) -> Settings:
    return make_settings(
        db_url, tmp_path / "var", VISITOR_SESSIONS_PER_ADDRESS="3", VISITOR_SESSION_WINDOW_SECONDS="600",
        VISITOR_OPEN_CONVERSATIONS="2", VISITOR_CONVERSATIONS_PER_HOUR="3", VISITOR_UNSENT_UPLOADS="2",
        VISITOR_UNSENT_UPLOAD_BYTES="4096", UNSENT_UPLOAD_HOURS="24",
    )


def auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def site_key(server: LiveServer) -> tuple[str, str]:
    site = (await directory.create_site(server.services, None, name="Shop", allowed_origins=["https://shop.example"])).site
    return site.public_key, site.identity_secret


async def count(server: LiveServer, model: type) -> int:
    async with server.services.sessions() as db:
        return int(await db.scalar(select(func.count()).select_from(model)) or 0)


def too_many(response: httpx.Response, code: str) -> int:
    assert response.status_code == 429, response.text
    assert response.json()["error"]["code"] == code
    return int(response.headers["retry-after"])


async def test_new_visitors_per_address_are_bounded(server: LiveServer, http: httpx.AsyncClient, clock: ManualClock) -> None:
    key, secret = await site_key(server)
    tokens, ids = [], []
    for _ in range(3):
        r = await http.post("/api/widget/session", json={"site": key})
        assert r.status_code == 200
        tokens.append(r.json()["token"])
        ids.append(r.json()["user"]["id"])
    users = await count(server, User)
    refused = await http.post("/api/widget/session", json={"site": key})
    assert 1 <= too_many(refused, "too_many_visitors") <= 601
    # A forged or foreign token starts a new visitor: it counts, and is refused too.
    assert (await http.post("/api/widget/session", json={"site": key, "visitor_token": "v:forged"})).status_code == 429
    assert await count(server, User) == users  # nothing created by the refusals
    # A returning visitor and a site's identified user are not new anonymous visitors.
    again = await http.post("/api/widget/session", json={"site": key, "visitor_token": tokens[0]})
    assert again.status_code == 200 and again.json()["user"]["id"] == ids[0]
    identified = await http.post("/api/widget/session", json={"site": key, "user_id": "u1",
                                                             "user_hash": identity_hash(secret, "u1")})
    assert identified.status_code == 200
    # An unknown site is still a 404, not a 429.
    assert (await http.post("/api/widget/session", json={"site": "st_nope"})).status_code == 404
    clock.advance(timedelta(seconds=600))
    assert (await http.post("/api/widget/session", json={"site": key})).status_code == 200


async def test_a_visitors_conversations_are_bounded(server: LiveServer, http: httpx.AsyncClient, clock: ManualClock) -> None:
    key, _ = await site_key(server)
    visitor = auth((await http.post("/api/widget/session", json={"site": key})).json()["token"])
    other = auth((await http.post("/api/widget/session", json={"site": key})).json()["token"])
    opened = []
    for i in range(2):
        r = await http.post("/api/conversations", json={"subject": f"chat {i}"}, headers=visitor)
        assert r.status_code == 201
        opened.append(r.json()["conversation"]["id"])
    before = await count(server, Conversation)
    assert too_many(await http.post("/api/conversations", json={"subject": "3"}, headers=visitor),
                    "too_many_open_conversations") == 60
    assert await count(server, Conversation) == before  # nothing stored: the New queue does not grow
    # Another visitor has its own budget.
    assert (await http.post("/api/conversations", json={"subject": "theirs"}, headers=other)).status_code == 201
    # Closing one frees an open slot; the hourly budget (3) still counts it.
    assert (await http.post(f"/api/conversations/{opened[0]}/close", headers=visitor)).status_code == 200
    clock.advance(timedelta(minutes=10))
    third = await http.post("/api/conversations", json={"subject": "third"}, headers=visitor)
    assert third.status_code == 201
    assert (await http.post(f"/api/conversations/{opened[1]}/close", headers=visitor)).status_code == 200
    wait = too_many(await http.post("/api/conversations", json={"subject": "4"}, headers=visitor),
                    "too_many_conversations")
    assert 50 * 60 - 1 <= wait <= 50 * 60 + 1  # until the first of the hour is an hour old
    clock.advance(timedelta(minutes=50, seconds=1))
    assert (await http.post("/api/conversations", json={"subject": "later"}, headers=visitor)).status_code == 201


async def upload(http: httpx.AsyncClient, token: str, conv: int, content: bytes) -> httpx.Response:
    return await http.post(f"/api/conversations/{conv}/attachments?filename=notes.txt", content=content,
                           headers={**auth(token), "Content-Type": "text/plain"})


async def test_unsent_uploads_are_bounded_and_sending_frees_them(server: LiveServer, http: httpx.AsyncClient) -> None:
    key, _ = await site_key(server)
    token = (await http.post("/api/widget/session", json={"site": key})).json()["token"]
    conv = (await http.post("/api/conversations", json={"subject": "files"}, headers=auth(token))).json()["conversation"]["id"]
    first = (await upload(http, token, conv, b"a" * 1000)).json()["attachment"]["id"]
    assert too_many(await upload(http, token, conv, b"b" * 3500), "too_many_unsent_uploads") > 23 * 3600  # bytes
    await upload(http, token, conv, b"c" * 1000)
    assert too_many(await upload(http, token, conv, b"d"), "too_many_unsent_uploads") > 0  # files
    assert await count(server, Attachment) == 2
    files = await asyncio.to_thread(lambda: sorted(p.name for p in upload_dir(server.services).iterdir()))
    assert len(files) == 2  # nothing of the refused ones kept on disk
    async with ChatClient(server.ws_url + "/ws", token) as visitor:
        await visitor.join(conv)
        await visitor.send(conv, "here", attachments=[first])
    assert (await upload(http, token, conv, b"e" * 1000)).status_code == 201


async def test_the_sweeper_deletes_uploads_never_sent(server: LiveServer, http: httpx.AsyncClient, clock: ManualClock) -> None:
    key, _ = await site_key(server)
    svc = server.services
    token = (await http.post("/api/widget/session", json={"site": key})).json()["token"]
    conv = (await http.post("/api/conversations", json={"subject": "files"}, headers=auth(token))).json()["conversation"]["id"]
    sent = (await upload(http, token, conv, b"sent")).json()["attachment"]
    kept = (await upload(http, token, conv, b"unsent")).json()["attachment"]
    async with ChatClient(server.ws_url + "/ws", token) as visitor:
        await visitor.join(conv)
        await visitor.send(conv, "here", attachments=[sent["id"]])
    clock.advance(timedelta(hours=23))
    assert await sweep_unsent_uploads(svc, clock.now()) == 0
    clock.advance(timedelta(hours=1, seconds=1))
    assert await sweep_unsent_uploads(svc, clock.now()) == 1
    assert await sweep_unsent_uploads(svc, clock.now()) == 0
    async with svc.sessions() as db:
        left = list(await db.scalars(select(Attachment)))
    assert [a.id for a in left] == [sent["id"]]
    folder = upload_dir(svc)
    assert [p.name for p in folder.iterdir()] == [left[0].storage_key]
    assert (await http.get(kept["url"], headers=auth(token))).status_code == 404
    assert (await http.get(sent["url"], headers=auth(token))).status_code == 200

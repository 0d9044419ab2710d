"""Conversations and attachments over HTTP: start, list, history paging, upload limits and access."""

from __future__ import annotations

import httpx
import pytest
from sqlalchemy import func, select

from chat.client import ProtocolError
from chat.models import Attachment
from tests.chat.hub.helpers import World, make_world
from tests.support.live import LiveServer

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64


@pytest.fixture
async def world(server: LiveServer) -> World:
    return await make_world(server)


def auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def test_start_list_and_page_history(world: World, http: httpx.AsyncClient) -> None:
    r = await http.post("/api/conversations", json={"subject": "Second issue", "body": "it broke again",
                                                    "client_msg_id": "first-1"}, headers=auth(world.other_customer_token))
    assert r.status_code == 201
    conv = r.json()["conversation"]
    assert conv["last_seq"] == 2 and conv["subject"] == "Second issue"
    mine = (await http.get("/api/conversations", headers=auth(world.other_customer_token))).json()["conversations"]
    assert [c["id"] for c in mine] == [conv["id"]]  # not the other visitor's conversation
    staff = (await http.get("/api/conversations", headers=auth(world.agent_token))).json()["conversations"]
    assert {c["id"] for c in staff} == {conv["id"], world.conversation_id}

    async with world.client(world.agent_token) as agent:
        await agent.join(conv["id"])
        for i in range(7):
            await agent.send(conv["id"], f"reply {i}")
    page1 = (await http.get(f"/api/conversations/{conv['id']}/events?after_seq=0&limit=4",
                            headers=auth(world.other_customer_token))).json()
    assert [e["seq"] for e in page1["events"]] == [1, 2, 3, 4] and page1["has_more"]
    page2 = (await http.get(f"/api/conversations/{conv['id']}/events?after_seq=4&limit=100",
                            headers=auth(world.other_customer_token))).json()
    assert [e["seq"] for e in page2["events"]] == [5, 6, 7, 8, 9, 10] and not page2["has_more"]
    assert all(e["prev_seq"] == e["seq"] - 1 for e in page1["events"] + page2["events"])
    # Someone else's conversation looks exactly like a missing one.
    for path in (f"/api/conversations/{conv['id']}", f"/api/conversations/{conv['id']}/events"):
        r = await http.get(path, headers=auth(world.customer_token))
        assert r.status_code == 404 and r.json()["error"]["code"] == "not_found"
    for bad in ("?after_seq=-1", "?limit=0", "?after_seq=abc"):
        r = await http.get(f"/api/conversations/{conv['id']}/events{bad}", headers=auth(world.agent_token))
        assert r.status_code == 422


async def test_staff_cannot_start_a_chat_as_a_customer(world: World, http: httpx.AsyncClient) -> None:
    r = await http.post("/api/conversations", json={"subject": "x"}, headers=auth(world.agent_token))
    assert r.status_code == 403 and r.json()["error"]["code"] == "forbidden"


async def _count_attachments(world: World) -> int:
    async with world.server.services.sessions() as db:
        return int(await db.scalar(select(func.count()).select_from(Attachment)) or 0)


async def test_attachment_upload_send_and_download(world: World, http: httpx.AsyncClient) -> None:
    conv = world.conversation_id
    r = await http.post(f"/api/conversations/{conv}/attachments?filename=../../screen%20shot.png", content=PNG,
                        headers={**auth(world.customer_token), "Content-Type": "image/png"})
    assert r.status_code == 201, r.text
    att = r.json()["attachment"]
    assert att["filename"] == "screen shot.png" and att["size"] == len(PNG)
    # Before it is sent only the uploader and staff can fetch it.
    assert (await http.get(att["url"], headers=auth(world.other_customer_token))).status_code == 404
    async with world.client(world.customer_token) as visitor:
        await visitor.join(conv)
        ack = await visitor.send(conv, "see attached", attachments=[att["id"]])
        event = (await visitor.wait_for_seq(conv, ack["seq"]))[-1]
        assert event["data"]["attachments"][0]["id"] == att["id"]
        with pytest.raises(ProtocolError) as reused:
            await visitor.send(conv, "again", attachments=[att["id"]])
        assert reused.value.code == "invalid_attachment"
    got = await http.get(att["url"], headers=auth(world.agent_token))
    assert got.status_code == 200 and got.content == PNG
    assert got.headers["x-content-type-options"] == "nosniff"
    assert "sandbox" in got.headers["content-security-policy"]
    assert (await http.get(att["url"], headers=auth(world.other_customer_token))).status_code == 404


async def test_attachment_on_an_internal_note_is_staff_only(world: World, http: httpx.AsyncClient) -> None:
    conv = world.conversation_id
    r = await http.post(f"/api/conversations/{conv}/attachments?filename=log.txt", content=b"secret log",
                        headers={**auth(world.agent_token), "Content-Type": "text/plain"})
    att = r.json()["attachment"]
    async with world.client(world.agent_token) as agent:
        await agent.join(conv)
        await agent.send(conv, "internal log", internal=True, attachments=[att["id"]])
    assert (await http.get(att["url"], headers=auth(world.customer_token))).status_code == 404
    assert (await http.get(att["url"], headers=auth(world.agent2_token))).status_code == 200


@pytest.mark.parametrize(
    ("ctype", "content", "status", "code"),
    [
        ("text/html", b"<script>alert(1)</script>", 415, "attachment_type"),
        ("image/svg+xml", b"<svg/>", 415, "attachment_type"),
        ("image/png", b"<html>not a png</html>", 415, "attachment_type"),
        ("text/plain", b"", 422, "validation_failed"),
        ("text/plain", b"x" * (10 * 1024 * 1024 + 1), 413, "attachment_too_large"),
    ],
)
async def test_bad_uploads_store_nothing(
    world: World, http: httpx.AsyncClient, ctype: str, content: bytes, status: int, code: str
) -> None:
    r = await http.post(f"/api/conversations/{world.conversation_id}/attachments?filename=f", content=content,
                        headers={**auth(world.customer_token), "Content-Type": ctype})
    assert (r.status_code, r.json()["error"]["code"]) == (status, code)
    assert await _count_attachments(world) == 0
    uploads = world.server.services.settings.var_dir / "uploads"
    assert not uploads.exists() or list(uploads.iterdir()) == []


async def test_upload_needs_access_to_the_conversation(world: World, http: httpx.AsyncClient) -> None:
    r = await http.post(f"/api/conversations/{world.conversation_id}/attachments?filename=a.txt", content=b"hi",
                        headers={**auth(world.other_customer_token), "Content-Type": "text/plain"})
    assert r.status_code == 404
    r = await http.post(f"/api/conversations/{world.conversation_id}/attachments?filename=a.txt", content=b"hi",
                        headers={**auth(world.readonly_token), "Content-Type": "text/plain"})
    assert r.status_code == 403
    assert await _count_attachments(world) == 0


async def test_the_list_counts_for_a_customer_only_what_they_can_see(world: World, http: httpx.AsyncClient) -> None:
    """An internal note moves staff's ``last_seq``, not the customer's — in the list as in
    the detail view (which the list must agree with)."""
    conv = world.conversation_id
    async with world.client(world.agent_token) as agent:
        await agent.join(conv)
        public = await agent.send(conv, "a reply")
        await agent.send(conv, "between us", internal=True)

    def listed(token: str) -> int:
        return next(c["last_seq"] for c in lists[token] if c["id"] == conv)

    lists = {token: (await http.get("/api/conversations", headers=auth(token))).json()["conversations"]
             for token in (world.customer_token, world.agent_token)}
    detail = (await http.get(f"/api/conversations/{conv}", headers=auth(world.customer_token))).json()["conversation"]
    assert listed(world.customer_token) == detail["last_seq"] == public["seq"]
    assert listed(world.agent_token) == public["seq"] + 1

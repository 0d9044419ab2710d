"""Files in a group chat (the portal's "Attach files"): a member uploads to the group's
conversation as to a support chat and sends it in a message; other members download it;
whoever may not write there may not upload there, and whoever may not read it gets 404."""

from __future__ import annotations

import httpx
import pytest

from chat.client import ChatClient
from chat.groups import requests
from tests.chat.groups.helpers import GroupWorld, Person, make_group_world
from tests.support.live import LiveServer

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64


@pytest.fixture
async def world(server: LiveServer) -> GroupWorld:
    world = await make_group_world(server.services)
    for member in (world.alice, world.bob):
        made = await requests.request_join(server.services, member.principal, group="Ops")
        await requests.decide(server.services, world.r1admin.principal, made.id, approve=True)
    return world


def auth(p: Person) -> dict[str, str]:
    return {"Authorization": f"Bearer {p.token}", "Content-Type": "image/png"}


def error(r: httpx.Response) -> tuple[int, str]:
    return r.status_code, r.json()["error"]["code"]


async def test_a_member_sends_a_file_that_members_read(world: GroupWorld, http: httpx.AsyncClient,
                                                       server: LiveServer) -> None:
    conv = world.ops.conversation_id
    r = await http.post(f"/api/conversations/{conv}/attachments?filename=map.png", content=PNG, headers=auth(world.alice))
    assert r.status_code == 201, r.text
    attachment = r.json()["attachment"]
    assert (attachment["conversation_id"], attachment["filename"], attachment["content_type"]) == (
        conv, "map.png", "image/png")
    # Not sent yet: only its uploader (and staff) may fetch it.
    assert (await http.get(attachment["url"], headers=auth(world.bob))).status_code == 404

    async with ChatClient(server.ws_url + "/ws", world.alice.token, timeout=10) as alice:
        await alice.join(conv)
        await alice.send(conv, "map.png", attachments=[attachment["id"]])
    got = await http.get(attachment["url"], headers=auth(world.bob))
    assert got.status_code == 200 and got.content == PNG
    # Erin (same company, not a member) and Carol (another company) cannot read it.
    assert (await http.get(attachment["url"], headers=auth(world.erin))).status_code == 404
    assert (await http.get(attachment["url"], headers=auth(world.carol))).status_code == 404


async def test_who_may_not_write_there_may_not_upload_there(world: GroupWorld, http: httpx.AsyncClient) -> None:
    conv = world.ops.conversation_id
    url = f"/api/conversations/{conv}/attachments?filename=map.png"
    # Erin (same company, not a member) does not see the group's conversation; Carol neither.
    assert error(await http.post(url, content=PNG, headers=auth(world.erin))) == (404, "not_found")
    assert error(await http.post(url, content=PNG, headers=auth(world.carol))) == (404, "not_found")
    # The reseller's admin reads the group but does not write in it.
    assert error(await http.post(url, content=PNG, headers=auth(world.r1admin))) == (403, "forbidden")

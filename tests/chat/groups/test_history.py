"""The per-group history setting: new members read from the start, or from their join."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from chat import attachments
from chat.conversations import events_after, post_message
from chat.errors import NotFound
from chat.events import render_event
from chat.groups import requests, service
from chat.groups.models import HistoryVisibility
from chat.services import Services
from tests.chat.groups.helpers import GroupWorld, Person, make_group_world


@pytest.fixture
async def world(svc: Services) -> GroupWorld:
    return await make_group_world(svc, history=HistoryVisibility.SINCE_JOIN)


async def _admit(svc: Services, world: GroupWorld, who: str) -> None:
    person = getattr(world, who)
    made = await requests.request_join(svc, person.principal, group="Ops")
    await requests.decide(svc, world.r1admin.principal, made.id, approve=True)


async def test_since_join_hides_what_came_before_and_full_shows_it(svc: Services, world: GroupWorld) -> None:
    conv = world.ops.conversation_id
    await _admit(svc, world, "alice")
    for i in range(3):
        await post_message(svc, world.alice.principal, conv, client_msg_id=f"early-{i}", body=f"early {i}")
    await post_message(svc, world.agent.principal, conv, client_msg_id="note-1", body="staff only", internal=True)
    await _admit(svc, world, "bob")
    await post_message(svc, world.alice.principal, conv, client_msg_id="late-1", body="welcome bob")

    everything, last = await events_after(svc, world.agent.principal, conv, after_seq=0)
    assert [e["seq"] for e in everything] == list(range(1, last + 1))
    bob_join = next(e for e in everything if e["data"].get("event") == "member.joined"
                    and e["data"]["user"]["id"] == world.bob.id)

    seen, _ = await events_after(svc, world.bob.principal, conv, after_seq=0)
    assert [e["seq"] for e in seen] == [bob_join["seq"], bob_join["seq"] + 1]
    assert [e["body"] for e in seen] == [None, "welcome bob"]
    # The first event he may see follows "nothing", so his client's gap check passes.
    frames = [render_event(e, staff=False) for e in seen]
    assert [f["prev_seq"] for f in frames] == [0, bob_join["seq"]]
    # Resuming from an older position (e.g. an earlier membership) chains from it.
    resumed, _ = await events_after(svc, world.bob.principal, conv, after_seq=2)
    assert render_event(resumed[0], staff=False)["prev_seq"] == 2 and resumed[0]["seq"] == bob_join["seq"]
    # Alice joined first and reads everything since her own join; staff read all.
    alice_seen, _ = await events_after(svc, world.alice.principal, conv, after_seq=0)
    assert [e["body"] for e in alice_seen if e["kind"] == "message"] == ["early 0", "early 1", "early 2", "welcome bob"]

    # Switched to full history, the same member reads from the start (notes still hidden).
    await service.update_group(svc, world.r1admin.principal, world.ops.id, history=HistoryVisibility.FULL)
    full, _ = await events_after(svc, world.bob.principal, conv, after_seq=0)
    assert [e["body"] for e in full if e["kind"] == "message"] == ["early 0", "early 1", "early 2", "welcome bob"]
    assert full[0]["seq"] == 1 and not any(e["internal"] for e in full)
    assert all(render_event(e, staff=False)["prev_seq"] == e["prev_public_seq"] for e in full)


async def test_rejoining_after_removal_starts_from_the_new_join(svc: Services, world: GroupWorld) -> None:
    conv = world.ops.conversation_id
    await _admit(svc, world, "alice")
    await _admit(svc, world, "bob")
    await post_message(svc, world.alice.principal, conv, client_msg_id="m1", body="while bob is in")
    await service.remove_member(svc, world.r1admin.principal, world.ops.id, world.bob.id)
    await post_message(svc, world.alice.principal, conv, client_msg_id="m2", body="while bob is out")
    await _admit(svc, world, "bob")
    seen, _ = await events_after(svc, world.bob.principal, conv, after_seq=0)
    assert seen[0]["data"]["event"] == "member.joined"
    assert [e["body"] for e in seen if e["kind"] == "message"] == []


async def _file(svc: Services, who: Person, conv: int, text: str) -> int:
    async def chunks() -> AsyncIterator[bytes]:
        yield text.encode()

    row = await attachments.upload(svc, who.principal, conv, filename=f"{text}.txt", content_type="text/plain",
                                   declared_size=None, chunks=chunks())
    await post_message(svc, who.principal, conv, client_msg_id=text, body=text, attachments=[row.id])
    return row.id


async def test_since_join_hides_the_files_of_what_came_before(svc: Services, world: GroupWorld) -> None:
    conv = world.ops.conversation_id
    await _admit(svc, world, "alice")
    early = await _file(svc, world.alice, conv, "early")
    await _admit(svc, world, "bob")
    late = await _file(svc, world.alice, conv, "late")

    with pytest.raises(NotFound):
        await attachments.open_for_download(svc, world.bob.principal, early)
    row, path = await attachments.open_for_download(svc, world.bob.principal, late)
    assert path.read_bytes() == b"late"
    for reader in (world.alice, world.agent, world.r1admin):  # the poster, staff, the reseller's admin
        row, path = await attachments.open_for_download(svc, reader.principal, early)
        assert (row.id, path.read_bytes()) == (early, b"early")
    # With the whole history shown, the member gets the earlier file too.
    await service.update_group(svc, world.r1admin.principal, world.ops.id, history=HistoryVisibility.FULL)
    assert (await attachments.open_for_download(svc, world.bob.principal, early))[0].id == early

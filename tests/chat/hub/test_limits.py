"""Authentication deadline, origins, frame size, rate limits, slow consumers — over real sockets."""

from __future__ import annotations

import asyncio
import json
import logging
import time

import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

from chat.auth import principal_of
from chat.client import ChatClient, ProtocolError
from chat.conversations import post_message
from chat.events import publish_events
from chat.hub.endpoint import ADMISSION_LAG_SECONDS, CLOSE_TRY_AGAIN, FLOOD_REFUSALS, Admission
from chat.models import User
from tests.chat.hub.helpers import SITE_ORIGIN, World, make_world, stored_log
from tests.support.live import LiveServer


@pytest.fixture
async def world(server: LiveServer) -> World:
    return await make_world(server)


async def _close_code(url: str, *frames: str | bytes, origin: str | None = None, wait: float = 8.0) -> int | None:
    headers = {"Origin": origin} if origin else None
    async with connect(url, additional_headers=headers, compression=None) as ws:
        for frame in frames:
            await ws.send(frame)
        try:
            while True:
                await asyncio.wait_for(ws.recv(), wait)
        except ConnectionClosed as exc:
            return exc.rcvd.code if exc.rcvd else None


async def test_authentication_must_come_first_and_in_time(world: World) -> None:
    url = world.server.ws_url + "/ws"
    assert await _close_code(url) == 4401  # nothing sent within 5 s
    assert await _close_code(url, '{"type": "ping"}') == 4400
    assert await _close_code(url, b"\x00binary") == 4400
    assert await _close_code(url, "not json") == 4400
    assert await _close_code(url, '{"type": "auth", "token": "v:forged"}') == 4401
    assert await _close_code(url, '{"type": "auth", "token": ""}') == 4400


@pytest.mark.parametrize(
    ("who", "origin", "accepted"),
    [
        ("visitor", SITE_ORIGIN, True),
        ("visitor", "http://127.0.0.1:8000", True),  # the widget iframe runs on our own origin
        ("visitor", "https://evil.example", False),
        ("visitor", "https://shop.example.evil.example", False),
        ("visitor", None, True),  # not a browser
        ("agent", "http://127.0.0.1:8000", True),
        ("agent", SITE_ORIGIN, False),
    ],
)
async def test_origin_is_checked_per_principal(world: World, who: str, origin: str | None, accepted: bool) -> None:
    token = world.customer_token if who == "visitor" else world.agent_token
    client = ChatClient(world.server.ws_url + "/ws", token, origin=origin)
    if accepted:
        await client.connect()
        assert (await client.ping())["type"] == "pong"
        await client.close()
    else:
        with pytest.raises(ConnectionClosed):
            await client.connect()  # closed before "ready"
        assert client.close_code == 4403


async def test_oversized_frame_closes_with_1009_and_others_live_on(world: World) -> None:
    async with world.client(world.agent_token) as bystander:
        client = world.client(world.customer_token)
        await client.connect()
        await client.raw(json.dumps({"type": "ping", "ref": "x" * 70_000}))
        assert await client.wait_closed(5) == 1009
        assert (await bystander.ping())["type"] == "pong"


async def test_a_burst_is_refused_politely_and_the_connection_survives(world: World) -> None:
    async with world.client(world.customer_token) as client:
        for _ in range(60):
            await client.raw('{"type": "ping"}')
        limited = await client.next_frame("error")
        assert limited["code"] == "rate_limited" and limited["retry_after_ms"] > 0
        await asyncio.sleep(2.5)
        assert (await client.ping())["type"] == "pong"


async def test_a_rate_limited_frame_is_answered_with_its_ref(world: World) -> None:
    """Refused before it is parsed, a frame's ``ref`` is still echoed, as every error does."""
    async with world.client(world.customer_token) as client:
        for i in range(60):
            await client.raw(json.dumps({"type": "ping", "ref": f"p{i}"}))
        limited = await client.next_frame("error")
        assert limited["code"] == "rate_limited" and limited["ref"].startswith("p")
        assert int(limited["ref"][1:]) >= 40  # the burst went through first


async def test_the_flood_close_is_the_200th_refusal_in_a_row(world: World) -> None:
    """docs/protocol.md: 4429 comes instead of the 200th ``rate_limited`` answer in a row
    (any frame let through in between starts the count again: its ``pong`` marks it)."""
    client = world.client(world.customer_token)
    await client.connect()
    for _ in range(400):
        try:
            await client.raw('{"type": "ping"}')
        except ConnectionClosed:
            break
    assert await client.wait_closed(5) == 4429
    answers = []
    while not client.frames.empty():
        answers.append(client.frames.get_nowait())
    last_pong = max(i for i, f in enumerate(answers) if f["type"] == "pong")
    after = answers[last_pong + 1:]
    assert len(after) == FLOOD_REFUSALS - 1 == 199
    assert all(f["type"] == "error" and f["code"] == "rate_limited" for f in after)



async def test_a_slow_reader_is_cut_without_stalling_the_room(world: World) -> None:
    conv = world.conversation_id
    svc = world.server.services
    async with svc.sessions() as db:
        customer = await db.get(User, world.customer.user_id)
    assert customer is not None
    async with world.client(world.agent_token) as fast:
        await fast.join(conv)
        # A raw client that stops reading: the websockets library stops pulling from the
        # socket after max_queue frames, so TCP backs up into the server.
        slow = await connect(world.server.ws_url + "/ws", compression=None, max_queue=1)
        await slow.send(json.dumps({"type": "auth", "token": world.agent2_token}))
        await slow.send(json.dumps({"type": "join", "conversation_id": conv}))
        await asyncio.sleep(0.3)
        body = "x" * 9000
        total = 1500
        for i in range(total):
            _, events = await post_message(svc, principal_of(customer), conv, client_msg_id=f"flood-{i}", body=body)
            await publish_events(svc, events)
        last = total + 1
        log = await fast.wait_for_seq(conv, last, timeout=60)
        assert [e["seq"] for e in log] == list(range(1, last + 1))
        try:
            while True:
                await asyncio.wait_for(slow.recv(), 10)
        except ConnectionClosed as exc:
            assert exc.rcvd is not None and exc.rcvd.code == 4408
        await slow.close()


async def test_send_before_join_and_after_leave_is_refused(world: World) -> None:
    conv = world.conversation_id
    async with world.client(world.customer_token) as client:
        with pytest.raises(ProtocolError) as refused:
            await client.send(conv, "too early")
        assert refused.value.code == "not_joined"
        await client.join(conv)
        await client.leave(conv)
        with pytest.raises(ProtocolError):
            await client.send(conv, "too late")
    assert len(await stored_log(world.server, conv, world.agent_token)) == 1


async def test_an_overloaded_process_refuses_new_sockets_with_1013_and_keeps_the_others(world: World) -> None:
    app = world.server.server.config.app
    async with world.client(world.agent_token) as admitted:
        # The event loop is "too far behind": the limit below any lag.
        app.state.admission = Admission(limit=-1.0)
        with pytest.raises(ConnectionClosed) as refused:
            await world.client(world.customer_token).connect()
        assert refused.value.rcvd is not None and refused.value.rcvd.code == CLOSE_TRY_AGAIN
        assert (await admitted.ping())["type"] == "pong"  # sockets already open carry on
        app.state.admission = Admission(limit=ADMISSION_LAG_SECONDS)
        async with world.client(world.customer_token) as later:
            assert (await later.ping())["type"] == "pong"


async def test_the_admission_lag_is_how_late_the_event_loop_runs() -> None:
    admission = Admission(limit=0.2)
    assert admission.admit()  # starts measuring
    await asyncio.sleep(0.15)
    time.sleep(0.4)  # a loop held up, as by a burst of work
    await asyncio.sleep(0.01)
    assert admission.lag >= 0.3 and not admission.admit()
    await asyncio.sleep(0.25)  # on time again
    assert admission.lag < 0.2 and admission.admit()


async def test_a_text_frame_that_is_not_utf8_closes_with_1007_and_one_quiet_line(
    world: World, caplog: pytest.LogCaptureFixture
) -> None:
    """RFC 6455: 1007. No traceback in the log (anyone can send these), one info line at most;
    other sockets live on."""
    caplog.set_level(logging.INFO)
    async with world.client(world.agent_token) as bystander:
        async with connect(world.server.ws_url + "/ws", compression=None) as ws:
            await ws.send(json.dumps({"type": "auth", "token": world.customer_token}))
            assert json.loads(await ws.recv())["type"] == "ready"
            await ws.send(b'{"type": "ping", "ref": "\xff"}', text=True)
            with pytest.raises(ConnectionClosed) as closed:
                while True:
                    await asyncio.wait_for(ws.recv(), 5)
            assert closed.value.rcvd is not None and closed.value.rcvd.code == 1007
        assert (await bystander.ping())["type"] == "pong"
    server_records = [r for r in caplog.records if not r.name.startswith(("websockets", "aiosqlite", "sqlalchemy"))]
    assert not [r for r in server_records if r.exc_info or r.levelno >= logging.WARNING], server_records
    assert len([r for r in server_records if "UTF-8" in r.getMessage()]) == 1


async def test_sockets_per_principal_are_capped_on_a_process(world: World) -> None:
    """``MAX_SOCKETS_PER_VISITOR`` sockets of one visitor are served; the next is closed with
    4430 before ``ready``; one closed makes room again. Others are not affected."""
    svc = world.server.services
    cap = svc.settings.max_sockets_per_visitor
    assert (cap, svc.settings.max_sockets_per_staff) == (20, 50)
    held = [world.client(world.customer_token) for _ in range(cap)]
    try:
        for client in held:
            await client.connect()
        refused = world.client(world.customer_token)
        with pytest.raises(ConnectionClosed):
            await refused.connect()
        assert refused.close_code == 4430
        async with world.client(world.other_customer_token) as other:
            assert (await other.ping())["type"] == "pong"
        await held.pop().close()
        for _ in range(50):  # the server unregisters the closed socket on its side
            if len(world.server.hub.by_user.get(world.customer.user_id, ())) < cap:
                break
            await asyncio.sleep(0.05)
        async with world.client(world.customer_token) as again:
            assert (await again.ping())["type"] == "pong"
    finally:
        for client in held:
            await client.close()

"""The broker port against the in-memory implementation and a real redis-server."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator

import pytest

from chat.broker import Broker, BrokerUnavailable, create_broker
from tests.support.processes import RedisServer, free_port


@pytest.fixture(params=["memory", "redis"])
async def broker(request: pytest.FixtureRequest) -> AsyncIterator[Broker]:
    url = None if request.param == "memory" else request.getfixturevalue("redis_server").url
    instance = create_broker(url)
    await instance.connect()
    try:
        yield instance
    finally:
        await instance.disconnect()


async def _next(sub: object, timeout: float = 5.0) -> tuple[str, bytes]:
    iterator = sub.__aiter__()  # type: ignore[attr-defined]
    return await asyncio.wait_for(iterator.__anext__(), timeout)


async def test_publish_reaches_subscribers_in_order(broker: Broker) -> None:
    sub = await broker.subscribe("conv:1", "conv:2")
    try:
        await asyncio.sleep(0.05)  # redis confirms subscriptions asynchronously
        for i in range(5):
            await broker.publish("conv:1", f"m{i}".encode())
        await broker.publish("conv:3", b"not for us")
        await broker.publish("conv:2", b"other")
        iterator = sub.__aiter__()
        got = [await asyncio.wait_for(iterator.__anext__(), 5) for _ in range(6)]
        assert got == [("conv:1", f"m{i}".encode()) for i in range(5)] + [("conv:2", b"other")]
    finally:
        await sub.close()


async def test_removed_channel_is_no_longer_delivered(broker: Broker) -> None:
    sub = await broker.subscribe("a", "b")
    try:
        await sub.remove("a")
        await asyncio.sleep(0.05)
        await broker.publish("a", b"dropped")
        await broker.publish("b", b"kept")
        assert await _next(sub) == ("b", b"kept")
    finally:
        await sub.close()


async def test_ping(broker: Broker) -> None:
    await broker.ping()


async def test_dead_redis_fails_fast_instead_of_hanging() -> None:
    broker = create_broker(f"redis://127.0.0.1:{free_port()}/0")
    await broker.connect()
    try:
        started = time.monotonic()
        with pytest.raises(BrokerUnavailable):
            await broker.ping()
        with pytest.raises(BrokerUnavailable):
            await broker.publish("x", b"y")
        assert time.monotonic() - started < 10
    finally:
        await broker.disconnect()


async def test_redis_server_fixture_is_real(redis_server: RedisServer) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", redis_server.port)
    writer.write(b"PING\r\n")
    await writer.drain()
    assert await reader.readline() == b"+PONG\r\n"
    writer.close()
    await writer.wait_closed()

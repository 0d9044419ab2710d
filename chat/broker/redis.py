"""Redis pub/sub broker, for several web processes on any number of hosts.

Connection failures surface as :class:`BrokerUnavailable` within the socket timeout
instead of hanging (encode/broadcaster #144 is the failure we refuse to copy).
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import redis.asyncio as aioredis
from redis.asyncio.client import PubSub
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from chat.broker.base import BrokerUnavailable

# Long enough for a busy Redis on the same network, short enough that a send never waits
# on a dead broker for longer than a user would notice.
SOCKET_TIMEOUT_SECONDS = 2.0
# A command (publish, ping) is sent once more on a fresh connection if its pooled one
# fails: connections that died with a restarted Redis would otherwise each lose one
# publish. A Redis that is down still fails at once (refused) or within the timeouts.
COMMAND_RETRIES = 1


class RedisSubscription:
    def __init__(self, pubsub: PubSub) -> None:
        self._pubsub = pubsub

    async def add(self, *channels: str) -> None:
        if channels:
            try:
                await self._pubsub.subscribe(*channels)
            except (RedisConnectionError, RedisTimeoutError, OSError) as exc:
                raise BrokerUnavailable(f"redis subscribe failed: {exc}") from exc

    async def remove(self, *channels: str) -> None:
        if channels:
            try:
                await self._pubsub.unsubscribe(*channels)
            except (RedisConnectionError, RedisTimeoutError, OSError) as exc:
                raise BrokerUnavailable(f"redis unsubscribe failed: {exc}") from exc

    async def close(self) -> None:
        await self._pubsub.aclose()

    async def __aiter__(self) -> AsyncIterator[tuple[str, bytes]]:
        try:
            async for item in self._pubsub.listen():
                if item["type"] == "message":
                    yield item["channel"].decode(), item["data"]
        except (RedisConnectionError, RedisTimeoutError, OSError) as exc:
            raise BrokerUnavailable(f"redis connection lost: {exc}") from exc


class RedisBroker:
    name = "redis"

    def __init__(self, url: str) -> None:
        self._url = url
        self._client: aioredis.Redis | None = None
        self._sub_client: aioredis.Redis | None = None

    @property
    def client(self) -> aioredis.Redis:
        if self._client is None:
            raise BrokerUnavailable("the redis broker is not connected")
        return self._client

    async def connect(self) -> None:
        self._client = self._new_client(COMMAND_RETRIES)
        # Subscriptions get their own pool and never retry: redis-py would reconnect and
        # resubscribe silently, and whatever was published meanwhile would be lost without
        # anyone knowing. A lost subscriber connection surfaces as BrokerUnavailable, so
        # the hub catches its sockets up from the database.
        self._sub_client = self._new_client(0)

    def _new_client(self, retries: int) -> aioredis.Redis:
        return aioredis.Redis.from_url(
            self._url,
            socket_timeout=SOCKET_TIMEOUT_SECONDS,
            socket_connect_timeout=SOCKET_TIMEOUT_SECONDS,
            health_check_interval=30,
            retry=Retry(NoBackoff(), retries),
        )

    async def disconnect(self) -> None:
        for client in (self._client, self._sub_client):
            if client is not None:
                await client.aclose()
        self._client = self._sub_client = None

    async def publish(self, channel: str, message: bytes) -> None:
        try:
            await self.client.publish(channel, message)
        except (RedisConnectionError, RedisTimeoutError, OSError) as exc:
            raise BrokerUnavailable(f"redis publish failed: {exc}") from exc

    async def subscribe(self, *channels: str) -> RedisSubscription:
        if self._sub_client is None:
            raise BrokerUnavailable("the redis broker is not connected")
        sub = RedisSubscription(self._sub_client.pubsub())
        await sub.add(*channels)
        return sub

    async def ping(self) -> None:
        try:
            await self.client.ping()
        except (RedisConnectionError, RedisTimeoutError, OSError) as exc:
            raise BrokerUnavailable(f"redis is not reachable: {exc}") from exc

"""In-process broker: the embedded default (one process, no Redis)."""

from __future__ import annotations

import asyncio
from collections import defaultdict
from collections.abc import AsyncIterator


class MemorySubscription:
    def __init__(self, broker: MemoryBroker) -> None:
        self._broker = broker
        self._queue: asyncio.Queue[tuple[str, bytes] | None] = asyncio.Queue()
        self.channels: set[str] = set()

    def deliver(self, channel: str, message: bytes) -> None:
        self._queue.put_nowait((channel, message))

    async def add(self, *channels: str) -> None:
        for channel in channels:
            self.channels.add(channel)
            self._broker.subscribers[channel].add(self)

    async def remove(self, *channels: str) -> None:
        for channel in channels:
            self.channels.discard(channel)
            self._broker.subscribers[channel].discard(self)

    async def close(self) -> None:
        await self.remove(*list(self.channels))
        self._queue.put_nowait(None)

    async def __aiter__(self) -> AsyncIterator[tuple[str, bytes]]:
        while (item := await self._queue.get()) is not None:
            yield item


class MemoryBroker:
    name = "memory"

    def __init__(self) -> None:
        self.subscribers: defaultdict[str, set[MemorySubscription]] = defaultdict(set)

    async def connect(self) -> None:
        return None

    async def disconnect(self) -> None:
        for subs in list(self.subscribers.values()):
            for sub in list(subs):
                await sub.close()

    async def publish(self, channel: str, message: bytes) -> None:
        for sub in list(self.subscribers.get(channel, ())):
            sub.deliver(channel, message)

    async def subscribe(self, *channels: str) -> MemorySubscription:
        sub = MemorySubscription(self)
        await sub.add(*channels)
        return sub

    async def ping(self) -> None:
        return None

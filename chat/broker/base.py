"""The broker protocol shared by the memory and Redis implementations."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Protocol


class BrokerUnavailable(Exception):
    """The broker cannot be reached right now; the caller carries on without it."""


class Subscription(Protocol):
    """Messages published on the subscribed channels, in publish order per channel."""

    def __aiter__(self) -> AsyncIterator[tuple[str, bytes]]: ...

    async def add(self, *channels: str) -> None: ...

    async def remove(self, *channels: str) -> None: ...

    async def close(self) -> None: ...


class Broker(Protocol):
    name: str

    async def connect(self) -> None: ...

    async def disconnect(self) -> None: ...

    async def publish(self, channel: str, message: bytes) -> None:
        """Deliver to current subscribers; raise :class:`BrokerUnavailable` if it cannot."""
        ...

    async def subscribe(self, *channels: str) -> Subscription: ...

    async def ping(self) -> None:
        """Raise :class:`BrokerUnavailable` unless the broker answers."""
        ...

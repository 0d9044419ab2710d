"""The broker port: fan-out of "something happened" between processes.

The broker is only a doorbell. Everything that matters is committed to the database
first; a lost publish costs latency (clients notice the ``seq`` gap and fetch), never data.
``create_broker`` picks the implementation from ``REDIS_URL``; nothing else knows which.
"""

from __future__ import annotations

from chat.broker.base import Broker, BrokerUnavailable, Subscription


def create_broker(redis_url: str | None) -> Broker:
    # Imported on demand: the embedded default never loads the redis client (a heavy
    # import with its own connection machinery), and a Redis deployment never the memory one.
    if redis_url is None:
        from chat.broker.memory import MemoryBroker

        return MemoryBroker()
    from chat.broker.redis import RedisBroker

    return RedisBroker(redis_url)


__all__ = ["Broker", "BrokerUnavailable", "Subscription", "create_broker"]

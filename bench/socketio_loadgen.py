"""The peer's load generator: one scenario against the python-socketio peer, in its own process.

``python -m bench.socketio_loadgen SPEC.json`` is bench/loadgen.py for the peer
(bench/socketio_server.py): the same process model (one process per scenario, uvloop,
garbage collector off, one JSON line out), the same scenario definitions and result keys,
the same measuring helpers (imported from bench/loadgen.py and bench/procfs.py), but the
peer's own client library, ``socketio.AsyncClient`` over its websocket transport, as an
app of that kind is driven.

- ``pair``: one sender and one receiver in a fresh room; closed loop (``window`` sends in
  flight) for the most acked-and-delivered messages/s, then open loop at half and all of
  that rate, latency from each message's scheduled send time to the receiver's event;
- ``fanout``: a room of ``members`` sockets (the sender's echo counted), a fixed offered
  rate, deliveries per second of server CPU;
- ``idle``: sockets connected and joined, 20 to a room, held at each level: the server's
  RSS growth per socket, measured as the crowd scenario of bench/loadgen.py measures ours.

Every loop here is bounded by a count and a deadline and stops by itself.
"""

from __future__ import annotations

import asyncio
import itertools
import os
import random
import sys
import time
from collections import Counter
from collections.abc import Callable
from typing import Any

import socketio  # type: ignore[import-untyped]  # python-socketio ships no type information

from bench.loadgen import Window, _quiet, measure_fanout, measure_pair, run_spec, stamp_of
from bench.procfs import rss_kib

Event = dict[str, Any]
# What connecting or joining can fail with when the server is overloaded: the client
# library's connection and timeout errors, and the socket's own.
CONNECT_ERRORS = (socketio.exceptions.SocketIOError, OSError, TimeoutError)
_ids = itertools.count(1)


class PeerClient:
    """One ``socketio.AsyncClient`` with the counters bench/loadgen.py's BenchClient keeps:
    unacknowledged sends, raw duplicates and gaps in the seqs the server sent."""

    def __init__(self, url: str, *, timeout: float = 10.0) -> None:
        self.url = url
        self.timeout = timeout
        self.sio = socketio.AsyncClient(reconnection=False, handle_sigint=False, request_timeout=timeout)
        self.sio.on("event", self._on_event)
        self.on_event: Callable[[Event, float], None] | None = None
        self.on_ack: Callable[[int, float], None] | None = None
        self.unacked: dict[str, float] = {}
        self.last_seq: dict[str, int] = {}
        self.raw_events = 0
        self.raw_duplicates = 0  # the server sent a seq at or below the last one received
        self.raw_gaps = 0  # the server skipped a seq
        self.errors: Counter[str] = Counter()

    async def connect(self) -> None:
        await self.sio.connect(self.url, transports=["websocket"], wait_timeout=self.timeout)

    async def join(self, room: str) -> int:
        last = int(await self.sio.call("join", {"room": room}, timeout=self.timeout))
        self.last_seq[room] = last
        return last

    async def ping(self) -> str:
        return str(await self.sio.call("ping", timeout=self.timeout))

    async def send_nowait(self, room: str, text: str) -> None:
        client_id = f"{os.getpid()}-{next(_ids)}"
        self.unacked[client_id] = time.monotonic()

        def acked(seq: int) -> None:
            self.unacked.pop(client_id, None)
            if self.on_ack is not None:
                self.on_ack(seq, time.monotonic())

        await self.sio.emit("send", {"room": room, "body": text, "client_id": client_id}, callback=acked)

    def _on_event(self, event: Event) -> None:
        now = time.monotonic()
        room, seq = event["room"], int(event["seq"])
        last = self.last_seq.get(room, 0)
        self.raw_events += 1
        if seq <= last:
            self.raw_duplicates += 1
        elif seq != last + 1:
            self.raw_gaps += 1
        self.last_seq[room] = max(last, seq)
        if self.on_event is not None:
            self.on_event(event, now)

    async def close(self) -> None:
        await self.sio.disconnect()


def stamp(event: Event) -> float | None:
    """The scheduled send time carried in the body (bench/loadgen.py's stamp format)."""
    return stamp_of({"kind": "message", "body": event.get("body")})


async def open_joined(url: str, room: str, timeout: float = 10.0) -> PeerClient:
    client = PeerClient(url, timeout=timeout)
    await client.connect()
    await client.join(room)
    return client


# -- scenario: a room of two -----------------------------------------------------------------


async def scenario_pair(spec: dict[str, Any]) -> dict[str, Any]:
    """bench/loadgen.py's ``pair`` against the peer: the same phases, windows and keys."""
    url, room = spec["url"], spec["room"]
    sender = await open_joined(url, room)
    receiver = await open_joined(url, room)
    return await measure_pair(sender, receiver, room, spec, stamp)


# -- scenario: fan-out -----------------------------------------------------------------------


async def scenario_fanout(spec: dict[str, Any]) -> dict[str, Any]:
    """bench/loadgen.py's ``fanout`` against the peer: deliveries at every member (the
    sender's echo included) per second of server CPU, at a fixed offered rate."""
    url, room, members = spec["url"], spec["room"], spec["members"]
    sender = await open_joined(url, room)
    receivers = [await open_joined(url, room) for _ in range(members - 1)]
    return await measure_fanout(sender, receivers, room, spec, stamp)


# -- scenario: idle sockets ------------------------------------------------------------------


class Crowd:
    """Idle sockets, ``per_room`` to a room, as bench/loadgen.py's crowd holds ours."""

    def __init__(self, spec: dict[str, Any]) -> None:
        self.url: str = spec["url"]
        self.pid: int = spec["server_pid"]
        self.prefix: str = spec["room_prefix"]
        self.per_room: int = spec["sockets_per_room"]
        self.concurrency: int = spec["connect_concurrency"]
        self.timeout: float = spec["client_timeout"]
        self.clients: list[PeerClient] = []
        self.failures: Counter[str] = Counter()

    def room_of(self, index: int) -> str:
        return f"{self.prefix}-{index // self.per_room}"

    async def grow(self, total: int, deadline: float) -> None:
        """Open sockets until ``total`` are open and joined; a failed one is retried once."""
        gate = asyncio.Semaphore(self.concurrency)

        async def one(index: int) -> PeerClient | None:
            async with gate:
                if time.monotonic() > deadline:
                    self.failures["deadline"] += 1
                    return None
                try:
                    return await open_joined(self.url, self.room_of(index), self.timeout)
                except CONNECT_ERRORS as exc:  # counted and reported: the ramp goes on
                    self.failures[type(exc).__name__] += 1
                    return None

        opened = await asyncio.gather(*(one(i) for i in range(len(self.clients), total)))
        for client in opened:
            if client is None:
                try:
                    client = await open_joined(self.url, self.room_of(len(self.clients)), self.timeout)
                except CONNECT_ERRORS as exc:
                    self.failures["retry:" + type(exc).__name__] += 1
                    raise RuntimeError(f"could not open socket {len(self.clients)}: {exc!r}") from exc
            self.clients.append(client)

    async def check_alive(self, sample: int) -> int:
        chosen = random.Random(7).sample(self.clients, min(sample, len(self.clients)))
        answers = await asyncio.gather(*(c.ping() for c in chosen), return_exceptions=True)
        return sum(1 for a in answers if a == "pong")


async def scenario_idle(spec: dict[str, Any]) -> dict[str, Any]:
    """RSS growth per idle socket at each level, since a warm start of one room's worth
    (the result has the keys of bench/loadgen.py's ``crowd`` ``idle`` part)."""
    crowd = Crowd(spec)
    deadline = time.monotonic() + spec["ramp_deadline_seconds"]
    settle = spec["settle_seconds"]
    try:
        warm = crowd.per_room
        await crowd.grow(warm, deadline)
        await asyncio.sleep(settle)
        await _quiet(crowd.pid)
        rss0 = previous = rss_kib(crowd.pid)
        client_rss0 = rss_kib(os.getpid())
        out: dict[str, Any] = {"warm_sockets": warm, "server_rss0_kib": rss0, "levels": []}
        for level in spec["levels"]:
            before = len(crowd.clients)
            win = Window(crowd.pid)
            win.open()
            try:
                await crowd.grow(level, deadline)
            except RuntimeError as exc:
                win.close()
                out["levels"].append({"sockets": len(crowd.clients), "target": level, "error": str(exc)})
                break
            win.close()
            opened = len(crowd.clients) - before
            await asyncio.sleep(settle)
            rss = rss_kib(crowd.pid)
            alive = await crowd.check_alive(50)
            out["levels"].append({
                "sockets": len(crowd.clients), "target": level, "opened": opened, "seconds": round(win.seconds, 2),
                "opened_per_s": round(opened / win.seconds, 1),
                "server_cpu_ms_per_socket": round(win.server_cpu / max(1, opened) * 1000, 3),
                "client_cpu_ms_per_socket": round(win.client_cpu / max(1, opened) * 1000, 3),
                "other_cores": win.other_cores,
                "server_rss_kib": rss,
                "kib_per_socket": round((rss - rss0) / (len(crowd.clients) - warm), 2),
                "marginal_kib_per_socket": round((rss - previous) / max(1, opened), 2),
                "client_kib_per_socket": round((rss_kib(os.getpid()) - client_rss0) / (len(crowd.clients) - warm), 2),
                "alive_of_50": alive,
            })
            previous = rss
        out["failures"] = dict(crowd.failures)
    finally:
        await asyncio.gather(*(c.close() for c in crowd.clients), return_exceptions=True)
    return {"idle": out}


SCENARIOS = {"pair": scenario_pair, "fanout": scenario_fanout, "idle": scenario_idle}


def main() -> int:
    return run_spec(SCENARIOS)


if __name__ == "__main__":
    sys.exit(main())

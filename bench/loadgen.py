"""The load generator: runs one scenario against one server, in its own process.

``python -m bench.loadgen SPEC.json`` reads the scenario, drives the server with the
project's own client (:class:`chat.client.ChatClient`, through the thin
:class:`BenchClient` subclass that only timestamps and counts), and prints one JSON line
with what it measured. The harness (bench/hub_bench.py) runs it once per scenario and
server, so both servers face the same client code, the same process layout and the same
event loop (uvloop when installed, as uvicorn uses).

Every loop here is bounded by a count and a deadline and stops by itself.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import gc
import json
import math
import os
import random
import sys
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Mapping, Sequence, Sized
from typing import Any, Protocol

from websockets.exceptions import ConnectionClosed, WebSocketException

from bench.proc_groups import GroupReading, group_cpu_seconds, read_groups
from bench.procfs import CpuReading, cpu_seconds, machine_busy_seconds, raise_fd_limit, read_cpu, rss_kib
from chat.client import ChatClient, Frame, ProtocolError

BODY_CHARS = 200  # "~200-byte messages": the body; the event frame around it is ~450 bytes
# Unacknowledged sends an open-loop sender lets pile up before it calls the server
# overloaded and stops the phase (the server's outbound queue holds 1000 frames).
MAX_UNACKED = 800
DRAIN_SECONDS = 15.0
# What opening, joining or catching up can fail with when the server is overloaded: the
# socket (OSError, TimeoutError, ConnectionError), the handshake or a close
# (WebSocketException), an error frame (ProtocolError). These are counted and the run goes
# on; anything else is a bug of the load generator and stops it.
CONNECT_ERRORS = (OSError, TimeoutError, WebSocketException, ProtocolError)
CLOSE_TRY_AGAIN = 1013  # the server's "busy: try again later" (docs/protocol.md)
REFERENCE_ATTEMPTS = 5


def body(stamp: float) -> str:
    """A message body carrying its (scheduled) send time, padded to BODY_CHARS."""
    head = f"{stamp:.6f}|"
    return head + "x" * (BODY_CHARS - len(head))


def stamp_of(event: Frame) -> float | None:
    text = event.get("body")
    if event.get("kind") != "message" or not isinstance(text, str) or "|" not in text:
        return None
    try:
        return float(text.split("|", 1)[0])
    except ValueError:
        return None


def percentile(values: list[float], p: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    rank = max(0, min(len(ordered) - 1, math.ceil(p / 100 * len(ordered)) - 1))
    return ordered[rank]


class LoadClient(Protocol):
    """What the scenarios' measuring needs of a client, ours (:class:`BenchClient`) or the
    python-socketio peer's (bench/socketio_loadgen.py): sends in flight, a fire-and-forget
    send, the event and ack callbacks, the raw seq checks, the errors, a close."""

    @property
    def unacked(self) -> Sized: ...

    on_event: Any
    on_ack: Any
    raw_duplicates: int
    raw_gaps: int
    errors: Counter[str]

    async def send_nowait(self, room: Any, text: str, /) -> Any: ...

    async def close(self) -> None: ...


class BenchClient(ChatClient):
    """:class:`ChatClient` plus timestamps and counters; its protocol handling is the
    client's own (ordering, gap rule, resume, resend)."""

    def __init__(self, url: str, token: str, *, timeout: float = 10.0) -> None:
        super().__init__(url, token, timeout=timeout)
        self.on_event: Callable[[Frame, float], None] | None = None
        self.on_ack: Callable[[Frame, float], None] | None = None
        self.raw_events = 0
        self.raw_duplicates = 0  # the server sent a seq at or below the last one delivered
        self.raw_gaps = 0  # the server skipped a seq (the client re-joins to fill it)
        self.errors: Counter[str] = Counter()

    async def _on_event(self, event: Frame) -> None:
        now = time.monotonic()
        last = self.last_seq.get(event["conversation_id"], 0)
        self.raw_events += 1
        if event["seq"] <= last:
            self.raw_duplicates += 1
        elif event["prev_seq"] != last:
            self.raw_gaps += 1
        if self.on_event is not None:
            self.on_event(event, now)
        await super()._on_event(event)

    async def _on_frame(self, frame: Frame) -> None:
        kind = frame.get("type")
        if kind == "ack" and "ref" not in frame and self.on_ack is not None:
            # An ack of send_nowait(): counted here rather than queued for next_frame(),
            # which a high-rate sender never calls.
            self.unacked.pop(frame["client_msg_id"], None)
            self.on_ack(frame, time.monotonic())
            return
        if kind == "error":
            self.errors[str(frame.get("code"))] += 1
        elif kind in {"presence", "viewers", "typing", "read", "status"}:
            return  # ephemeral frames nobody here reads; do not let them pile up
        await super()._on_frame(frame)


async def open_joined(url: str, token: str, conversation_id: int, timeout: float = 10.0) -> BenchClient:
    client = BenchClient(url, token, timeout=timeout)
    await client.connect()
    joined = await client.join(conversation_id)
    if joined["last_seq"] > 0:
        await client.wait_for_seq(conversation_id, joined["last_seq"], timeout)
    return client


class Window:
    """A measurement window: server and load-generator CPU between ``open`` and ``close``;
    with ``groups`` (process kind → pids, bench/proc_groups.py) also each group's CPU, its
    processes' descendants included (the scale-out run: web processes, worker, PostgreSQL,
    Redis)."""

    def __init__(self, server_pid: int, groups: dict[str, list[int]] | None = None) -> None:
        self.pid = server_pid
        self.groups = groups or {}
        self._group_start: GroupReading = {}
        self.group_cpu: dict[str, float] = {}
        self.start = self.end = 0.0
        self._server: CpuReading | None = None
        self._client: CpuReading | None = None
        self.server_cpu = self.client_cpu = 0.0
        self.server_system_share: float | None = None
        self._machine = (0.0, 0.0)
        self.other_cores = 0.0  # CPU used meanwhile by processes other than server and load generator
        self.steal_cores = 0.0

    def open(self) -> None:
        self.start = time.monotonic()
        self._server, self._client = read_cpu(self.pid), read_cpu(os.getpid())
        self._machine = machine_busy_seconds()
        if self.groups:
            self._group_start = read_groups(self.groups)

    def close(self) -> None:
        self.end = time.monotonic()
        assert self._server is not None and self._client is not None
        server = read_cpu(self.pid)
        self.server_cpu = cpu_seconds(self._server, server)
        ticks = server.ticks_seconds - self._server.ticks_seconds
        if ticks > 0:
            self.server_system_share = round((server.system_seconds - self._server.system_seconds) / ticks, 3)
        self.client_cpu = cpu_seconds(self._client, read_cpu(os.getpid()))
        if self.groups:
            self.group_cpu = group_cpu_seconds(self._group_start, read_groups(self.groups))
        busy, steal = machine_busy_seconds()
        if self.seconds > 0:
            server_side = sum(self.group_cpu.values()) if self.group_cpu else self.server_cpu
            other = (busy - self._machine[0]) - server_side - self.client_cpu
            self.other_cores = round(max(0.0, other) / self.seconds, 3)
            self.steal_cores = round((steal - self._machine[1]) / self.seconds, 3)

    @property
    def seconds(self) -> float:
        return self.end - self.start

    def within(self, t: float) -> bool:
        return self.start <= t < self.end


async def _until(t: float) -> None:
    delay = t - time.monotonic()
    if delay > 0:
        await asyncio.sleep(delay)


async def _drain(expected: Callable[[], bool], seconds: float = DRAIN_SECONDS) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if expected():
            return True
        await asyncio.sleep(0.05)
    return expected()


async def _open_loop(client: LoadClient, conversation_id: Any, rate: float, stop_at: float) -> dict[str, Any]:
    """Send at ``rate`` messages/s until ``stop_at``; each body carries its *scheduled*
    time, so latency includes any lateness of the sender (no coordinated omission)."""
    t0 = time.monotonic()
    sent = 0
    overloaded = False
    while True:
        scheduled = t0 + sent / rate
        if scheduled >= stop_at:
            break
        await _until(scheduled)
        if len(client.unacked) > MAX_UNACKED:
            overloaded = True
            break
        await client.send_nowait(conversation_id, body(scheduled))
        sent += 1
    return {"sent": sent, "overloaded": overloaded}


def _reached(items: list[tuple[float, float]], count: int) -> bool:
    return len(items) >= count


def _latency_summary(latencies: list[float]) -> dict[str, float | None]:
    def ms(v: float | None) -> float | None:
        return None if v is None else round(v * 1000, 3)

    return {"p50_ms": ms(percentile(latencies, 50)), "p99_ms": ms(percentile(latencies, 99)),
            "max_ms": ms(max(latencies) if latencies else None), "samples": len(latencies)}


# -- scenario: a room of two -----------------------------------------------------------------


async def scenario_pair(spec: dict[str, Any]) -> dict[str, Any]:
    """One sender, one receiver in one conversation. First the most the pair can carry
    (closed loop, ``window`` sends in flight), then fixed rates at half and all of it."""
    url, conv = spec["url"], spec["conversation_id"]
    # The receiver may be on another web process (the scale-out run): every message then
    # crosses the broker between the two.
    sender = await open_joined(url, spec["sender_token"], conv)
    receiver = await open_joined(spec.get("receiver_url") or url, spec["receiver_token"], conv)
    return await measure_pair(sender, receiver, conv, spec, stamp_of)


async def measure_pair(sender: LoadClient, receiver: LoadClient, room: Any, spec: dict[str, Any],
                       stamp: Callable[[Any], float | None]) -> dict[str, Any]:
    """The room of two's phases on two joined clients of any server (ours, or the peer's
    through bench/socketio_loadgen.py): the same windows and keys for both; ``stamp`` reads
    the scheduled send time out of a client's event. Closes both clients."""
    pid, warmup, duration, window = spec["server_pid"], spec["warmup_seconds"], spec["seconds"], spec["window"]
    groups: dict[str, list[int]] | None = spec.get("cpu_groups")
    received: list[tuple[float, float]] = []  # (scheduled send time, receive time)
    acked: list[float] = []
    receiver.on_event = lambda e, now: received.append((s, now)) if (s := stamp(e)) is not None else None
    result: dict[str, Any] = {}
    sent_total = 0
    try:
        # Closed loop: the most the pair carries, acked and delivered.
        slots = asyncio.Semaphore(window)

        def on_ack(answer: Any, now: float) -> None:
            acked.append(now)
            slots.release()

        sender.on_ack = on_ack
        win = Window(pid, groups)
        start = time.monotonic()
        stop = asyncio.Event()

        async def closed_loop() -> int:
            sent = 0
            while not stop.is_set():
                await asyncio.wait_for(slots.acquire(), 10)
                if stop.is_set():
                    break
                await sender.send_nowait(room, body(time.monotonic()))
                sent += 1
            return sent

        task = asyncio.create_task(closed_loop())
        await _until(start + warmup)
        win.open()
        await _until(start + warmup + duration)
        win.close()
        stop.set()
        sent_total += await task
        acks_in = sum(1 for t in acked if win.within(t))
        delivered_in = sum(1 for _, t in received if win.within(t))
        rate = min(acks_in, delivered_in) / win.seconds
        result["max"] = {
            "rate": round(rate, 1), "acked_per_s": round(acks_in / win.seconds, 1),
            "delivered_per_s": round(delivered_in / win.seconds, 1),
            "server_cpu_s": round(win.server_cpu, 4), "client_cpu_s": round(win.client_cpu, 4),
            "seconds": round(win.seconds, 3), "server_system_share": win.server_system_share,
            "other_cores": win.other_cores, "steal_cores": win.steal_cores,
            "server_cpu_ms_per_msg": round(win.server_cpu / max(1, delivered_in) * 1000, 4),
            "cpu_by_group": win.group_cpu, "delivered_in_window": delivered_in,
            **_latency_summary([r - s for s, r in received if win.within(r)]),
        }
        await _drain(lambda: len(received) >= sent_total)
        sender.on_ack = lambda answer, now: acked.append(now)

        for name, fraction in (("half", 0.5), ("full", 1.0)):
            target = max(1.0, rate * fraction)
            win = Window(pid, groups)
            start = time.monotonic()
            phase = asyncio.create_task(_open_loop(sender, room, target, start + warmup + duration))
            await _until(start + warmup)
            win.open()
            await _until(start + warmup + duration)
            win.close()
            outcome = await phase
            sent_total += outcome["sent"]
            drained = await _drain(functools.partial(_reached, received, sent_total))
            in_window = [(s, r) for s, r in received if win.within(s)]
            result[name] = {
                "offered": round(target, 1),
                "delivered_per_s": round(sum(1 for _, r in received if win.within(r)) / win.seconds, 1),
                "server_cpu_s": round(win.server_cpu, 4), "client_cpu_s": round(win.client_cpu, 4),
                "seconds": round(win.seconds, 3), "overloaded": outcome["overloaded"], "drained": drained,
                "other_cores": win.other_cores, "cpu_by_group": win.group_cpu,
                **_latency_summary([r - s for s, r in in_window]),
            }
    finally:
        result["sent"] = sent_total
        result["acked"] = len(acked)
        result["delivered"] = len(received)
        result["raw_duplicates"] = receiver.raw_duplicates
        result["raw_gaps"] = receiver.raw_gaps
        result["errors"] = dict(sender.errors + receiver.errors)
        for client in (sender, receiver):
            with contextlib.suppress(Exception):
                await client.close()
    return result


# -- scenario: fan-out -----------------------------------------------------------------------


async def scenario_fanout(spec: dict[str, Any]) -> dict[str, Any]:
    """A room of ``members`` sockets (the sender included: both servers deliver to every
    member, the sender's own echo too); the sender posts at a fixed rate, the same for
    both servers. Deliveries counted at every member, per second of server CPU."""
    url, conv, members = spec["url"], spec["conversation_id"], spec["members"]
    sender = await open_joined(url, spec["sender_token"], conv)
    tokens = spec["member_tokens"]
    # Member j (the sender is member 0, on ``url``) opens on member_urls[j % n]: spread
    # round-robin over the web processes in the scale-out run.
    member_urls: list[str] = spec.get("member_urls") or [url]
    receivers = [await open_joined(member_urls[(i + 1) % len(member_urls)], tokens[i % len(tokens)], conv)
                 for i in range(members - 1)]
    return await measure_fanout(sender, receivers, conv, spec, stamp_of)


async def measure_fanout(sender: LoadClient, receivers: Sequence[LoadClient], room: Any, spec: dict[str, Any],
                         stamp: Callable[[Any], float | None]) -> dict[str, Any]:
    """The fan-out's phase on joined clients of any server, as :func:`measure_pair`.
    Closes every client."""
    pid, members = spec["server_pid"], spec["members"]
    warmup, duration, rate = spec["warmup_seconds"], spec["seconds"], spec["rate"]
    everyone = [sender, *receivers]
    deliveries: list[tuple[float, float]] = []
    for client in everyone:
        client.on_event = lambda e, now: deliveries.append((s, now)) if (s := stamp(e)) is not None else None
    sender.on_ack = lambda answer, now: None
    result: dict[str, Any] = {"members": members, "rate": rate}
    try:
        await asyncio.sleep(0.5)  # let join-time frames (backlog, viewers) settle
        win = Window(pid, spec.get("cpu_groups"))
        start = time.monotonic()
        task = asyncio.create_task(_open_loop(sender, room, rate, start + warmup + duration))
        await _until(start + warmup)
        win.open()
        await _until(start + warmup + duration)
        win.close()
        outcome = await task
        expected = outcome["sent"] * members
        drained = await _drain(lambda: len(deliveries) >= expected)
        in_window = sum(1 for _, r in deliveries if win.within(r))
        result.update({
            "sent": outcome["sent"], "deliveries": len(deliveries), "expected_deliveries": expected,
            "overloaded": outcome["overloaded"], "drained": drained,
            "deliveries_in_window": in_window, "seconds": round(win.seconds, 3),
            "deliveries_per_s": round(in_window / win.seconds, 1),
            "server_cpu_s": round(win.server_cpu, 4), "client_cpu_s": round(win.client_cpu, 4),
            "server_system_share": win.server_system_share,
            "other_cores": win.other_cores, "steal_cores": win.steal_cores,
            "deliveries_per_cpu_s": round(in_window / win.server_cpu, 1) if win.server_cpu > 0 else None,
            "server_cpu_ms_per_msg": round(win.server_cpu / max(1, in_window / members) * 1000, 4),
            "cpu_by_group": win.group_cpu,
            **_latency_summary([r - s for s, r in deliveries if win.within(s)]),
            "raw_duplicates": sum(c.raw_duplicates for c in everyone),
            "raw_gaps": sum(c.raw_gaps for c in everyone),
            "errors": dict(sum((c.errors for c in everyone), Counter())),
        })
    finally:
        await asyncio.gather(*(c.close() for c in everyone), return_exceptions=True)
    return result


# -- scenario: the crowd (idle sockets, then reconnect storms) --------------------------------


class Crowd:
    def __init__(self, spec: dict[str, Any]) -> None:
        self.url = spec["url"]
        self.pid = spec["server_pid"]
        self.rooms: list[dict[str, Any]] = spec["rooms"]
        self.per_room: int = spec["sockets_per_room"]
        self.concurrency: int = spec["connect_concurrency"]
        self.timeout: float = spec["client_timeout"]
        self.clients: list[BenchClient] = []
        self.failures: Counter[str] = Counter()

    def room_of(self, index: int) -> dict[str, Any]:
        return self.rooms[index // self.per_room]

    async def grow(self, total: int, deadline: float) -> None:
        """Open sockets until ``total`` are open (authenticated, joined, caught up)."""
        gate = asyncio.Semaphore(self.concurrency)

        async def one(index: int) -> BenchClient | None:
            async with gate:
                if time.monotonic() > deadline:
                    self.failures["deadline"] += 1
                    return None
                room = self.room_of(index)
                try:
                    return await open_joined(self.url, room["owner_token"], room["conversation_id"], self.timeout)
                except CONNECT_ERRORS as exc:  # counted and reported: the ramp goes on
                    self.failures[type(exc).__name__] += 1
                    return None

        opened = await asyncio.gather(*(one(i) for i in range(len(self.clients), total)))
        # Keep index → room alignment: a failed slot is retried once, then left empty.
        for client in opened:
            if client is None:
                room = self.room_of(len(self.clients))
                try:
                    client = await open_joined(self.url, room["owner_token"], room["conversation_id"], self.timeout)
                except Exception as exc:
                    self.failures["retry:" + type(exc).__name__] += 1
                    raise RuntimeError(f"could not open socket {len(self.clients)}: {exc!r}") from exc
            self.clients.append(client)

    async def shrink(self, total: int) -> None:
        extra, self.clients = self.clients[total:], self.clients[:total]
        await asyncio.gather(*(c.drop() for c in extra), return_exceptions=True)

    async def check_alive(self, sample: int) -> int:
        chosen = random.Random(7).sample(self.clients, min(sample, len(self.clients)))
        answers = await asyncio.gather(*(c.ping() for c in chosen), return_exceptions=True)
        return sum(1 for a in answers if isinstance(a, dict) and a.get("type") == "pong")


async def _idle_levels(crowd: Crowd, levels: list[int], settle: float, deadline: float) -> dict[str, Any]:
    warm = crowd.per_room  # one room's worth, kept open, so RSS0 includes every first-use cost
    await crowd.grow(warm, deadline)
    await asyncio.sleep(settle)
    # Work the server does on its own (after-commit reactions, a sweeper pass over the
    # seeded conversations) can hold tens of MiB for a while: RSS0 is taken once it is done.
    await _quiet(crowd.pid)
    rss0 = rss_kib(crowd.pid)
    previous = rss0
    client_rss0 = rss_kib(os.getpid())
    out: dict[str, Any] = {"warm_sockets": warm, "server_rss0_kib": rss0, "levels": []}
    for level in levels:
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
            "sockets": len(crowd.clients), "opened": opened, "seconds": round(win.seconds, 2),
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
    return out


async def _resume(client: BenchClient, conv: int, target: int, mode: str, t0: float, deadline: float,
                  rng: random.Random, max_attempts: int, record: dict[str, Any]) -> None:
    """Reconnect and resume as docs/protocol.md says: exponential backoff from 0.5 s to
    30 s, with full jitter ("jitter") or without it ("sync": everyone at once, and retries
    in lockstep). Done when the client's log reaches ``target``. Progress goes to
    ``record`` as it happens, so a client cut off by the deadline still tells its story."""
    ceiling = 0.5
    delay = rng.uniform(0, ceiling) if mode == "jitter" else 0.0
    record.update(done=None, connected=None, attempts=0, errors=[], refused=0)
    while True:
        await _until(time.monotonic() + delay)
        record["attempts"] += 1
        try:
            await client.reconnect()
            break
        except CONNECT_ERRORS as exc:
            record["errors"].append(type(exc).__name__)
            if _refused(exc):
                record["refused"] += 1
            if record["attempts"] >= max_attempts or time.monotonic() + ceiling > deadline:
                return
            ceiling = min(ceiling * 2, 30.0)
            delay = rng.uniform(0, ceiling) if mode == "jitter" else ceiling
    record["connected"] = time.monotonic() - t0
    try:
        await client.wait_for_seq(conv, target, max(0.1, deadline - time.monotonic()))
    except TimeoutError:
        record["errors"].append("catch_up_timeout")
        return
    record["done"] = time.monotonic() - t0


def _refused(exc: BaseException) -> bool:
    """Whether an attempt ended with the server's close 1013 ("try again later"): the
    admission control turned it away, as opposed to a timeout or a dropped connection."""
    return isinstance(exc, ConnectionClosed) and exc.rcvd is not None and exc.rcvd.code == CLOSE_TRY_AGAIN


def _refusals(outcomes: list[dict[str, Any]]) -> dict[str, Any]:
    """Close-1013 refusals per client: the storm's aim allows each client one at most."""
    per_client = [int(o.get("refused", 0)) for o in outcomes]
    return {"total": sum(per_client), "max_per_client": max(per_client, default=0),
            "clients_refused": sum(1 for n in per_client if n > 0),
            "clients_refused_more_than_once": sum(1 for n in per_client if n > 1),
            "per_client": {str(k): v for k, v in sorted(Counter(per_client).items())}}


async def _quiet(pid: int, limit: float = 30.0) -> float:
    """Wait (at most ``limit`` s) until the server has used under 5 % of a core for two
    seconds in a row, so one storm's leftovers do not run into the next measurement."""
    started = time.monotonic()
    calm = 0
    while time.monotonic() - started < limit and calm < 2:
        before = read_cpu(pid)
        await asyncio.sleep(1.0)
        calm = calm + 1 if cpu_seconds(before, read_cpu(pid)) < 0.05 else 0
    return round(time.monotonic() - started, 1)


async def _storm(crowd: Crowd, poster: BenchClient, size: int, mode: str, messages: int,
                 seconds: float, max_attempts: int) -> dict[str, Any]:
    clients = crowd.clients[:size]
    rooms = crowd.rooms[: math.ceil(size / crowd.per_room)]
    quiet_before = await _quiet(crowd.pid)
    # Everyone drops at once, as when a load balancer or the network cuts them.
    await asyncio.gather(*(c.drop() for c in clients), return_exceptions=True)
    await asyncio.sleep(1.0)
    await _quiet(crowd.pid)
    # Meanwhile the conversations move on: ``messages`` new ones in each.
    targets: dict[int, int] = {}
    gate = asyncio.Semaphore(32)

    async def post(conv: int) -> None:
        async with gate:
            for _ in range(messages):
                ack = await poster.send(conv, body(time.monotonic()))
                targets[conv] = max(targets.get(conv, 0), int(ack["seq"]))

    await asyncio.gather(*(post(r["conversation_id"]) for r in rooms))
    raw_before = [(c.raw_duplicates, c.raw_gaps) for c in clients]
    rng = random.Random(size * 31 + len(mode))
    win = Window(crowd.pid)
    win.open()
    t0 = win.start
    deadline = t0 + seconds
    outcomes: list[dict[str, Any]] = [{"done": None, "connected": None, "attempts": 0, "errors": [], "refused": 0}
                                      for _ in clients]
    tasks = [asyncio.create_task(_resume(c, crowd.room_of(i)["conversation_id"],
                                         targets[crowd.room_of(i)["conversation_id"]], mode, t0, deadline, rng,
                                         max_attempts, outcomes[i]))
             for i, c in enumerate(clients)]
    _, pending = await asyncio.wait(tasks, timeout=max(0.1, deadline - time.monotonic()))
    for task in pending:  # the deadline is the deadline: attempts still under way are cut
        task.cancel()
    await asyncio.gather(*pending, return_exceptions=True)
    win.close()
    for index, task in enumerate(tasks):
        if task in pending and outcomes[index]["done"] is None:
            outcomes[index]["errors"].append("deadline")
    done = [o["done"] for o in outcomes if o["done"] is not None]
    connected = [o["connected"] for o in outcomes if o.get("connected") is not None]
    attempts = Counter(o["attempts"] for o in outcomes)
    errors: Counter[str] = Counter(e for o in outcomes for e in o["errors"])
    # Verify: every client's log equals its conversation's log as a fresh socket of the
    # same visitor reads it from the start (not simply 1..k: events a customer may not
    # see, such as staff-only system events, have seqs too). A client that did not catch
    # up in time holds a prefix and is "incomplete", not wrong; one whose log has a hole,
    # a repeat or a disorder is wrong whatever happened.
    reference = await _reference_logs(crowd, rooms, targets)
    bad_logs = incomplete = 0
    bad_examples: list[list[int]] = []
    for i, client in enumerate(clients):
        conv = crowd.room_of(i)["conversation_id"]
        seqs = [e["seq"] for e in client.log[conv]]
        expected = reference.get(conv)
        if expected is None or seqs != expected[: len(seqs)]:
            bad_logs += 1
            if len(bad_examples) < 3:
                bad_examples.append(seqs[:20])
        elif len(seqs) < len(expected):
            incomplete += 1
    dups = sum(c.raw_duplicates - before[0] for c, before in zip(clients, raw_before, strict=True))
    gaps = sum(c.raw_gaps - before[1] for c, before in zip(clients, raw_before, strict=True))
    return {
        "size": size, "mode": mode, "messages_per_room": messages, "rooms": len(rooms),
        "waited_for_quiet_s": quiet_before,
        "caught_up": len(done), "failed": size - len(done),
        "all_caught_up_s": round(max(done), 3) if len(done) == size else None,
        "p50_s": round(percentile(done, 50) or 0, 3), "p99_s": round(percentile(done, 99) or 0, 3),
        "p50_connected_s": round(percentile(connected, 50) or 0, 3),
        "p99_connected_s": round(percentile(connected, 99) or 0, 3),
        "attempts": {str(k): v for k, v in sorted(attempts.items())}, "errors": dict(errors),
        "refusals_1013": _refusals(outcomes),
        "server_cpu_s": round(win.server_cpu, 3), "client_cpu_s": round(win.client_cpu, 3),
        "server_cpu_ms_per_client": round(win.server_cpu / size * 1000, 3),
        "other_cores": win.other_cores, "seconds": round(win.seconds, 3),
        "server_rss_kib_after": rss_kib(crowd.pid),
        "bad_logs": bad_logs, "bad_examples": bad_examples, "rooms_without_reference": len(rooms) - len(reference),
        "incomplete_logs": incomplete, "raw_duplicates": dups, "raw_gaps": gaps,
    }


async def _reference_logs(crowd: Crowd, rooms: list[dict[str, Any]], targets: dict[int, int]) -> dict[int, list[int]]:
    """Each room's log (seqs) as its owner sees it on a fresh socket joined from 0."""
    reference: dict[int, list[int]] = {}
    for room in rooms:
        conv = room["conversation_id"]
        # A server still settling the storm may refuse the reader too (1013, "try again
        # later"): a few tries, a second apart, before the room is given up; any other
        # failure (a timeout, 4430 for a 21st socket of the visitor) gives it up at once.
        for attempt in range(1, REFERENCE_ATTEMPTS + 1):
            try:
                client = await open_joined(crowd.url, room["owner_token"], conv, crowd.timeout)
                try:
                    log = await client.wait_for_seq(conv, targets[conv], 30.0)
                    reference[conv] = [e["seq"] for e in log]
                finally:
                    await client.close()
                break
            except CONNECT_ERRORS as exc:  # no reference: every client of the room counts as wrong
                if attempt == REFERENCE_ATTEMPTS or not _refused(exc):
                    print(f"reference log of conversation {conv} failed: {exc!r}", file=sys.stderr)
                    break
                await asyncio.sleep(1.0)
    return reference


async def scenario_crowd(spec: dict[str, Any]) -> dict[str, Any]:
    """Idle sockets held at each level (RSS per socket), then reconnect storms of each
    size, biggest first, on the sockets already open (no second ramp)."""
    crowd = Crowd(spec)
    deadline = time.monotonic() + spec["ramp_deadline_seconds"]
    result: dict[str, Any] = {"fd_limit": spec.get("fd_limit")}
    poster: BenchClient | None = None
    try:
        result["idle"] = await _idle_levels(crowd, spec["levels"], spec["settle_seconds"], deadline)
        storms = []
        if spec["storms"]:
            biggest = max(s for s, _ in spec["storms"])
            await crowd.shrink(biggest)
            await asyncio.sleep(spec["settle_seconds"])
            poster = BenchClient(crowd.url, spec["poster_token"], timeout=30)
            await poster.connect()
            for room in crowd.rooms[: math.ceil(biggest / crowd.per_room)]:
                joined = await poster.join(room["conversation_id"])
                if joined["last_seq"]:
                    await poster.wait_for_seq(room["conversation_id"], joined["last_seq"])
            for size, modes in sorted(spec["storms"], reverse=True):
                await crowd.shrink(size)
                for mode in modes:
                    storms.append(await _storm(crowd, poster, size, mode, spec["messages_per_room"],
                                               spec["storm_seconds"], spec["max_attempts"]))
        result["storms"] = storms
    finally:
        if poster is not None:
            with contextlib.suppress(Exception):
                await poster.close()
        await asyncio.gather(*(c.drop() for c in crowd.clients), return_exceptions=True)
    return result


SCENARIOS = {"pair": scenario_pair, "fanout": scenario_fanout, "crowd": scenario_crowd}


def run_spec(scenarios: Mapping[str, Callable[[dict[str, Any]], Awaitable[dict[str, Any]]]]) -> int:
    """A load generator's process: the spec file named on the command line, its scenario
    run on uvloop within the spec's hard deadline, one JSON line out (this module's and
    bench/socketio_loadgen.py's ``main``)."""
    # The client keeps every event it received (ChatClient.log), so the heap grows all
    # run long and the collector's full passes would stall this process for tens of ms:
    # a pause of the load generator, not of the server. Runs are bounded, so memory is too.
    gc.disable()
    with open(sys.argv[1]) as file:
        spec = json.load(file)
    spec["fd_limit"] = raise_fd_limit()
    runner = scenarios[spec["scenario"]]

    async def bounded() -> dict[str, Any]:
        return await asyncio.wait_for(runner(spec), spec.get("hard_deadline_seconds", 600))

    try:
        import uvloop

        result = uvloop.run(bounded())
    except ImportError:
        result = asyncio.run(bounded())
    print(json.dumps(result))
    return 0


def main() -> int:
    return run_spec(SCENARIOS)


if __name__ == "__main__":
    sys.exit(main())

"""chat/metrics.py: fixed label sets, the sweeper's and the sender's metrics, the lag probes on
both databases, and multi-process mode with real server processes sharing one directory
(``PROMETHEUS_MULTIPROC_DIR``) and ``supportchat serve --workers 2``.

Values in this process live in prometheus_client's default registry and grow across tests:
assertions are on differences (:func:`sample`)."""

from __future__ import annotations

import asyncio
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Callable, Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import get_args

import httpx
import pytest
from prometheus_client import REGISTRY
from prometheus_client.multiprocess import MultiProcessCollector

from chat import metrics
from chat.client import ChatClient
from chat.clock import ManualClock
from chat.hub import frames
from chat.mail.models import MailStatus
from chat.mail.sender import outbox_depth, send_backlog, send_due
from chat.mail.transport import DELIVERED, Envelope, Outcome, Result
from chat.services import Services, open_services
from chat.settings import SettingsError, load_settings
from chat.wiring import build_services, build_sweepers
from escalation.jobs import ticket_backlogs
from escalation.models import Ticket
from escalation.worker import Sweeper
from tests.chat.mail.outbox_rows import queue_rows, rows
from tests.conftest import TEST_SECRET, make_settings
from tests.support.chatlog import SupportChat, seed_support_chat
from tests.support.cluster import ServerProcess, server_env, server_processes, spawn_server, wait_ready
from tests.support.processes import RedisServer, free_port, start_redis
from tests.support.scrape import Scrape, parse, scrape

ROOT = Path(__file__).resolve().parents[2]
TOKEN = "metrics-token-" + "p" * 24
SOCKETS = "supportchat_websocket_connections"
FRAMES_IN = "supportchat_websocket_frames_received_total"


def sample(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


# -- label sets ---------------------------------------------------------------------------


def test_client_frame_types_are_the_protocol_frames() -> None:
    tags = {str(cls.__struct_config__.tag) for cls in get_args(frames.ClientFrame)}
    assert set(metrics.CLIENT_FRAME_TYPES) == tags


def test_server_frame_types_are_the_documented_ones() -> None:
    text = (ROOT / "docs" / "protocol.md").read_text()
    section = text.split("## Server → client frames", 1)[1].split("\n## ", 1)[0]
    documented = set(re.findall(r"^\| `([a-z_]+)` \|", section, flags=re.MULTILINE))
    assert documented and set(metrics.SERVER_FRAME_TYPES) == documented


def test_a_value_outside_the_set_counts_as_other() -> None:
    before = sample("supportchat_websocket_frames_sent_total", type="other")
    metrics.FRAMES_SENT["no-such-frame"].inc()
    metrics.FRAMES_SENT["ack"].inc(0)
    assert sample("supportchat_websocket_frames_sent_total", type="other") == before + 1
    assert REGISTRY.get_sample_value("supportchat_websocket_frames_sent_total", {"type": "no-such-frame"}) is None


# -- the sweeper ----------------------------------------------------------------------------


@pytest.fixture
async def lite(sqlite_url: str, tmp_path: Path, clock: ManualClock) -> AsyncIterator[Services]:
    svc = build_services(make_settings(sqlite_url, tmp_path / "var"), clock=clock)
    await svc.broker.connect()
    try:
        yield svc
    finally:
        await svc.close()


async def test_a_pass_counts_actions_and_failures_per_job_times_itself_and_sets_the_lag(
    lite: Services, clock: ManualClock
) -> None:
    oldest = clock.now() - timedelta(seconds=90)

    async def three(svc: Services, now: datetime) -> int:
        return 3

    async def broken(svc: Services, now: datetime) -> int:
        raise RuntimeError("boom")

    async def behind(svc: Services, now: datetime) -> datetime | None:
        return oldest

    async def clear(svc: Services, now: datetime) -> datetime | None:
        return None

    sweeper = Sweeper(lite, [("t.three", three), ("t.broken", broken)], name="t-loop",
                      backlogs={"t.three": behind, "t.broken": clear})
    actions, failures = sample("supportchat_sweeper_actions_total", job="t.three"), sample(
        "supportchat_sweeper_job_failures_total", job="t.broken")
    passes = sample("supportchat_sweeper_pass_seconds_count", sweeper="t-loop")
    assert await sweeper.run_once() == {"t.three": 3, "t.broken": -1}
    assert sample("supportchat_sweeper_actions_total", job="t.three") == actions + 3
    assert sample("supportchat_sweeper_job_failures_total", job="t.broken") == failures + 1
    assert sample("supportchat_sweeper_pass_seconds_count", sweeper="t-loop") == passes + 1
    assert sample("supportchat_sweeper_lag_seconds", job="t.three") == 90
    assert sample("supportchat_sweeper_lag_seconds", job="t.broken") == 0
    clock.advance(timedelta(seconds=30))
    await sweeper.run_once()
    assert sample("supportchat_sweeper_lag_seconds", job="t.three") == 120


async def test_the_wired_backlogs_find_the_oldest_unhandled_item(svc: Services, clock: ManualClock) -> None:
    """On both databases: every lag probe the wiring gives the sweeper runs, and the ones
    with rows to find find the oldest due one."""
    now = clock.now()
    probes = {name: probe for sweeper in build_sweepers(svc) for name, probe in sweeper.backlogs.items()}
    assert set(probes) == {"tickets.sla", "tickets.auto_close", "tickets.convert", "reports.roll", "mail.plan",
                           "mail.send"}
    for name, probe in probes.items():
        assert await probe(svc, now) is None or name == "mail.plan", name

    await queue_rows(svc, 1, due=now - timedelta(minutes=5), prefix="old")
    await queue_rows(svc, 1, due=now - timedelta(minutes=1), prefix="new")
    await queue_rows(svc, 1, due=now + timedelta(minutes=1), prefix="future")
    assert await send_backlog(svc, now) == now - timedelta(minutes=5)
    assert await outbox_depth(svc) == metrics.OutboxDepth(held=0, pending=3, due=2)

    chat = await seed_support_chat(svc)
    async with svc.sessions.begin() as db:
        ticket = await db.get(Ticket, chat.conversation_id)
        assert ticket is not None
        ticket.auto_close_at = now - timedelta(hours=2)
    assert await ticket_backlogs()["tickets.auto_close"](svc, now) == now - timedelta(hours=2)
    assert await ticket_backlogs()["tickets.auto_close"](svc, now - timedelta(hours=3)) is None
    # The planner has not read the chat's events yet: its lag starts at the first of them.
    planned_from = await probes["mail.plan"](svc, now)
    assert planned_from is not None and planned_from <= now


# -- the sender -----------------------------------------------------------------------------


class Scripted:
    """A mail transport that answers from a script, in order."""

    name = "scripted"

    def __init__(self, *outcomes: Outcome) -> None:
        self.outcomes = list(outcomes)

    async def send(self, envelope: Envelope) -> Outcome:
        return self.outcomes.pop(0)

    async def close(self) -> None:
        return None


async def test_each_marked_mail_counts_once_by_outcome(sqlite_url: str, tmp_path: Path, clock: ManualClock) -> None:
    transport = Scripted(DELIVERED, Outcome(Result.TEMPORARY, "451 later"), Outcome(Result.PERMANENT, "550 no"),
                         DELIVERED)
    svc = open_services(make_settings(sqlite_url, tmp_path / "var", MAIL_RETRY_HOURS="1"), clock=clock, mail=transport)
    await svc.broker.connect()
    try:
        before = {o: sample("supportchat_mail_outcomes_total", outcome=o) for o in metrics.MAIL_OUTCOMES}
        await queue_rows(svc, 3, to="p{n}@customer.example")
        assert await send_due(svc, clock.now(), concurrency=1) == 3
        # p2 is now suppressed (550): a new mail to it is not sent.
        await queue_rows(svc, 1, to="p2@customer.example", prefix="again")
        # The deferred one comes round again after its backoff, out of retries after an hour.
        clock.advance(timedelta(hours=2))
        transport.outcomes = [Outcome(Result.TEMPORARY, "451 still")]
        assert await send_due(svc, clock.now(), concurrency=1) == 2
        after = {o: sample("supportchat_mail_outcomes_total", outcome=o) - before[o] for o in metrics.MAIL_OUTCOMES}
        assert after == {"sent": 1, "deferred": 1, "failed": 2, "suppressed": 1}
        assert sorted(r.status for r in await rows(svc)) == sorted(
            [MailStatus.SENT, MailStatus.FAILED, MailStatus.FAILED, MailStatus.FAILED])
    finally:
        await svc.close()


# -- multi-process mode -----------------------------------------------------------------------


def dead_pid() -> int:
    process = subprocess.Popen([sys.executable, "-c", "pass"])
    process.wait()
    return process.pid


def test_cleaning_the_directory_removes_a_previous_run_but_never_a_running_one(tmp_path: Path) -> None:
    gone, here = dead_pid(), os.getpid()
    files = [tmp_path / f"counter_{gone}.db", tmp_path / f"gauge_livesum_{gone}.db", tmp_path / f"counter_{here}.db",
             tmp_path / f"gauge_livesum_{here}.db", tmp_path / "notes.txt"]
    for file in files:
        file.write_bytes(b"")
    assert metrics.clean_multiprocess_dir(tmp_path) == 2
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(f.name for f in files[2:])

    # Another running process writes here (pid 1 always runs): nothing of the dead goes,
    # or the sums would go down under the running one's feet.
    for file in [tmp_path / f"counter_{gone}.db", tmp_path / "counter_1.db"]:
        file.write_bytes(b"")
    assert metrics.clean_multiprocess_dir(tmp_path) == 0
    assert (tmp_path / f"counter_{gone}.db").exists()

    made = tmp_path / "made" / "here"
    assert metrics.clean_multiprocess_dir(made) == 0 and made.is_dir()


@pytest.fixture
def private_redis() -> Iterator[RedisServer]:
    # Not the session redis: another test's user ids are the same numbers.
    server = start_redis()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
async def people(sqlite_url: str, tmp_path: Path) -> AsyncIterator[SupportChat]:
    """Tokens for sockets, seeded on the database the server processes will share."""
    svc = build_services(make_settings(sqlite_url, tmp_path / "seed"))
    await svc.broker.connect()
    try:
        yield await seed_support_chat(svc)
    finally:
        await svc.close()


def shared_env(sqlite_url: str, redis: RedisServer, **more: str) -> dict[str, str]:
    return {"DATABASE_URL": sqlite_url, "REDIS_URL": redis.url, "SECRET_KEY": TEST_SECRET, "AUTO_MIGRATE": "false",
            "METRICS_TOKEN": TOKEN, **more}


async def scrape_of(server: ServerProcess) -> Scrape:
    async with httpx.AsyncClient(timeout=10) as http:
        return await scrape(http, TOKEN, server.base_url)


async def eventually(server: ServerProcess, what: str, check: Callable[[Scrape], bool]) -> Scrape:
    last = None
    for _ in range(200):
        last = await scrape_of(server)
        if check(last):
            return last
        await asyncio.sleep(0.05)
    raise AssertionError(f"never {what}; last scrape:\n{last.text if last else ''}")


async def test_two_processes_sharing_a_directory_report_the_sum_of_both(
    sqlite_url: str, tmp_path: Path, private_redis: RedisServer, people: SupportChat
) -> None:
    shared = tmp_path / "metrics"
    env = shared_env(sqlite_url, private_redis, PROMETHEUS_MULTIPROC_DIR=str(shared))
    async with asyncio.timeout(150), server_processes(["A", "B"], env, tmp_path / "servers") as (a, b):
        on_a = [ChatClient(a.ws_url, people.visitor.token), ChatClient(a.ws_url, people.agent.token)]
        on_b = ChatClient(b.ws_url, people.agent2.token)
        for c in [*on_a, on_b]:
            await c.connect()
        await on_a[0].ping()
        await on_b.ping()
        await on_b.ping()
        for server in (a, b):  # either process answers for both
            both = await scrape_of(server)
            assert both.value(SOCKETS) == 3
            assert (both.value(FRAMES_IN, type="auth"), both.value(FRAMES_IN, type="ping")) == (3, 3)
        assert len({p.name.rpartition("_")[2] for p in shared.glob("counter_*.db")}) >= 2

        # B stops: its sockets leave the sum, its counts stay in it.
        await b.stop()
        after = await eventually(a, "B's socket gone", lambda s: s.value(SOCKETS) == 2)
        assert (after.value(FRAMES_IN, type="auth"), after.value(FRAMES_IN, type="ping")) == (3, 3)

        # A process killed outright cannot say so; the next one to start clears its sockets.
        c = spawn_server("C", env, tmp_path / "servers")
        try:
            await wait_ready(c)
            on_c = ChatClient(c.ws_url, people.agent2.token)
            await on_c.connect()
            assert (await scrape_of(a)).value(SOCKETS) == 3
            await c.kill()
            assert (await scrape_of(a)).value(SOCKETS) == 3  # the dead one's socket, still counted
            d = spawn_server("D", env, tmp_path / "servers")
            try:
                await wait_ready(d)
                now = await scrape_of(d)
                # Its socket is gone; its count stays (A still runs: D cleaned nothing else).
                assert (now.value(SOCKETS), now.value(FRAMES_IN, type="auth")) == (2, 4)
            finally:
                await d.stop()
        finally:
            await c.stop()
        for client in on_a:
            await client.close()
        await eventually(a, "A's sockets gone", lambda s: s.value(SOCKETS) == 0)


async def test_a_sweeper_worker_sharing_the_directory_shows_in_the_web_process_scrape(
    sqlite_url: str, tmp_path: Path, private_redis: RedisServer
) -> None:
    shared = tmp_path / "metrics"
    env = shared_env(sqlite_url, private_redis, PROMETHEUS_MULTIPROC_DIR=str(shared))
    async with asyncio.timeout(120), server_processes(["web"], env, tmp_path / "servers") as (web,):
        assert (await scrape_of(web)).value("supportchat_sweeper_pass_seconds_count", sweeper="tickets") == 0
        with (tmp_path / "worker.log").open("wb") as log:
            worker = subprocess.Popen([sys.executable, "-m", "escalation"], cwd=tmp_path,
                                      env=server_env({**env, "VAR_DIR": str(tmp_path / "worker-var")}),
                                      stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        try:
            seen = await eventually(web, "the worker's first passes", lambda s: s.value(
                "supportchat_sweeper_pass_seconds_count", sweeper="mail") >= 1)
            assert seen.value("supportchat_sweeper_lag_seconds", job="mail.send") == 0
        finally:
            worker.send_signal(signal.SIGTERM)
            await asyncio.to_thread(worker.wait, 30)
        assert worker.returncode == 0, (tmp_path / "worker.log").read_text()
        # Gone: its lag leaves the scrape (a live gauge), its passes stay counted.
        after = await scrape_of(web)
        assert ("supportchat_sweeper_lag_seconds", frozenset({("job", "mail.send")})) not in after.samples
        assert after.value("supportchat_sweeper_pass_seconds_count", sweeper="mail") >= 1


def per_process_sockets(directory: Path) -> dict[str, float]:
    found = {}
    for file in directory.glob("gauge_livesum_*.db"):
        for metric in MultiProcessCollector.merge([str(file)]):
            for s in metric.samples:
                if s.name == SOCKETS:
                    found[file.stem.rpartition("_")[2]] = s.value
    return found


async def test_serve_with_two_workers_makes_a_directory_sums_both_and_removes_it(
    sqlite_url: str, tmp_path: Path, private_redis: RedisServer, people: SupportChat
) -> None:
    temp = tmp_path / "tmp"
    temp.mkdir()
    workdir = tmp_path / "serve"
    workdir.mkdir()
    port = free_port()
    env = server_env(shared_env(sqlite_url, private_redis, VAR_DIR=str(workdir / "var"), TMPDIR=str(temp)))
    with (workdir / "server.log").open("wb") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "chat", "serve", "--host", "127.0.0.1", "--port", str(port), "--workers", "2"],
            cwd=workdir, env=env, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
        )
    server = ServerProcess("workers", port, process, workdir)
    clients: list[ChatClient] = []
    try:
        async with asyncio.timeout(150):
            await wait_ready(server)
            [made] = list(temp.glob("supportchat-metrics-*"))
            # The kernel decides which worker accepts each socket (often all to one: the
            # sum over two processes that certainly hold some is the test above).
            tokens = [people.visitor.token, people.agent.token, people.agent2.token]
            clients = [ChatClient(server.ws_url, tokens[n % 3]) for n in range(12)]
            await asyncio.gather(*(c.connect() for c in clients))
            by_worker = per_process_sockets(made)
            assert len(by_worker) == 2, by_worker  # both workers count into the directory
            assert sum(by_worker.values()) == len(clients)
            for _ in range(6):  # whichever worker answers, it reports both
                assert (await scrape_of(server)).value(SOCKETS) == len(clients)
            for client in clients:
                await client.close()
            await eventually(server, "every socket gone", lambda s: s.value(SOCKETS) == 0)
            assert (await scrape_of(server)).value(FRAMES_IN, type="auth") == len(clients)
    finally:
        process.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + 30
        while process.poll() is None and time.monotonic() < deadline:
            await asyncio.sleep(0.1)
        if process.poll() is None:
            process.kill()
            process.wait(10)
            print(server.log_tail())
    assert process.returncode == 0, server.log_tail()
    assert list(temp.glob("supportchat-metrics-*")) == []


@pytest.mark.parametrize("raw", ["short", "sixteen chars ok", "x" * 15, "tab\tinside-a-long-token"])
def test_a_weak_or_malformed_metrics_token_stops_the_start(raw: str, tmp_path: Path) -> None:
    with pytest.raises(SettingsError, match="METRICS_TOKEN"):
        load_settings({"VAR_DIR": str(tmp_path), "SECRET_KEY": TEST_SECRET, "METRICS_TOKEN": raw})
    assert load_settings({"VAR_DIR": str(tmp_path), "SECRET_KEY": TEST_SECRET}).metrics_token is None
    assert load_settings({"VAR_DIR": str(tmp_path), "SECRET_KEY": TEST_SECRET,
                          "METRICS_TOKEN": " " + TOKEN + " "}).metrics_token == TOKEN


def test_parse_reads_the_exposition() -> None:
    text = metrics.exposition(None)[0].decode()
    parsed = parse(text)
    assert "# HELP supportchat_websocket_connections" in parsed.text
    assert (SOCKETS, frozenset()) in parsed.samples


def test_frames_sent_are_tallied_and_reach_the_counter_in_bulk() -> None:
    tally = metrics.Tally(metrics.FRAMES_SENT, flush_every=3)
    before = sample("supportchat_websocket_frames_sent_total", type="typing")
    tally.add("typing")
    tally.add("typing")
    assert sample("supportchat_websocket_frames_sent_total", type="typing") == before  # not yet
    tally.add("no-such-frame")  # the third: flushed, an unknown kind as "other"
    assert sample("supportchat_websocket_frames_sent_total", type="typing") == before + 2
    tally.add("typing")
    tally.flush()
    assert sample("supportchat_websocket_frames_sent_total", type="typing") == before + 3

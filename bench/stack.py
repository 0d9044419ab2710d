"""The README's scale-out recipe on loopback, for the benchmark: PostgreSQL, Redis, the
schema migrated, web processes (``supportchat serve`` as bench/ours_server.py runs it) and
one ``python -m escalation`` worker, in a temporary directory.

:func:`scaleout_stack` starts everything and stops everything it started, whatever
happens in between. PostgreSQL runs as the ``postgres`` user (it refuses root), the way
the test suite's servers run (tests/support/processes.py, whose pieces are reused here).
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from chat import migrate
from tests.support.processes import PostgresServer, RedisServer, _pg_bin, free_port, start_redis

REPO = Path(__file__).resolve().parent.parent
DATABASE = "chat"
# What a web process or the worker inherits from the harness: only what running Python
# needs; every setting comes from the stack (as tests/support/cluster.py does).
INHERITED_ENV = ("PATH", "HOME", "LANG", "LC_ALL", "LC_CTYPE", "TMPDIR", "TZ", "PYTHONPATH", "VIRTUAL_ENV")
# A cold start of a web process (SQLAlchemy, Starlette, uvicorn) takes a few seconds on a
# busy 2-core machine; a minute means something is wrong, not slow.
READY_SECONDS = 60.0
# Two web processes and the worker each pool up to 10 + 20 connections (docs/operations.md),
# plus the seeding process: more than PostgreSQL's default 100 in the worst case.
MAX_CONNECTIONS = 200


@dataclass
class Proc:
    """A process a harness started: a web process or the worker of the stack, or a server
    under test of bench/hub_bench.py."""

    name: str
    process: subprocess.Popen[bytes]
    log: Path
    port: int = 0

    @property
    def pid(self) -> int:
        return self.process.pid

    @property
    def url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/ws"

    def alive(self) -> bool:
        return self.process.poll() is None

    def log_tail(self, chars: int = 3000) -> str:
        try:
            return self.log.read_text(errors="replace")[-chars:]
        except OSError as exc:
            return f"(no log: {exc})"

    def log_summary(self) -> dict[str, object]:
        """Warnings, errors and tracebacks it logged (it runs at LOG_LEVEL=warning)."""
        lines = self.log.read_text(errors="replace").splitlines() if self.log.exists() else []
        flagged = [line for line in lines if any(w in line for w in ("Traceback", "ERROR", "WARNING", "Error", "exception"))]
        kinds: dict[str, int] = {}
        for line in flagged:
            kinds[line.strip()[:100]] = kinds.get(line.strip()[:100], 0) + 1
        return {"lines": len(lines), "flagged": len(flagged),
                "top": sorted(kinds.items(), key=lambda kv: -kv[1])[:8]}

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(10)


@dataclass
class Stack:
    postgres: PostgresServer
    redis: RedisServer
    env: dict[str, str]
    """The settings every process of the stack shares (DATABASE_URL, REDIS_URL, SECRET_KEY …)."""
    webs: list[Proc] = field(default_factory=list)
    worker: Proc | None = None

    def web(self, name: str) -> Proc:
        return next(w for w in self.webs if w.name == name)

    @property
    def postmaster_pid(self) -> int:
        return int((self.postgres.datadir / "postmaster.pid").read_text().split()[0])

    def cpu_groups(self, webs: list[str]) -> dict[str, list[int]]:
        """Process kind → pids whose CPU the load generator reads (bench/proc_groups.py adds
        each pid's descendants: every PostgreSQL backend under the postmaster): the web
        processes ``webs``, the worker, PostgreSQL and Redis."""
        groups = {f"web-{name}": [self.web(name).pid] for name in webs}
        if self.worker is not None:
            groups["worker"] = [self.worker.pid]
        groups["postgres"] = [self.postmaster_pid]
        groups["redis"] = [self.redis.process.pid]
        return groups

    def check_alive(self) -> None:
        for proc in [*self.webs, *([self.worker] if self.worker else [])]:
            if not proc.alive():
                raise RuntimeError(f"{proc.name} exited ({proc.process.returncode}):\n{proc.log_tail()}")


def start_postgres(durable: bool) -> PostgresServer:
    """PostgreSQL 15 on a free loopback port. ``durable``: the server's defaults (fsync and
    synchronous commit on, as a deployment runs it: every commit waits for the disk);
    otherwise the test suite's fast settings (fsync, synchronous_commit, full_page_writes off)."""
    bin_dir = _pg_bin()
    as_postgres = os.geteuid() == 0  # PostgreSQL refuses to run as root
    root = Path(tempfile.mkdtemp(prefix="bench-pg-"))
    if as_postgres:
        shutil.chown(root, "postgres", "postgres")
    port = free_port()
    server = PostgresServer(port, root / "data", bin_dir, as_postgres)
    server._run(str(bin_dir / "initdb"), "-D", str(server.datadir), "-U", "postgres", "-A", "trust", "-E", "UTF8",
                "--no-sync", "--locale=C.UTF-8")
    options = f"-p {port} -k {root} -c listen_addresses=127.0.0.1 -c max_connections={MAX_CONNECTIONS}"
    if not durable:
        options += " -c fsync=off -c synchronous_commit=off -c full_page_writes=off"
    server._run(str(bin_dir / "pg_ctl"), "-D", str(server.datadir), "-w", "-t", "60", "-l", str(root / "log"),
                "-o", options, "start")
    server.psql(f"CREATE DATABASE {DATABASE}")
    return server


def _process_env(settings: dict[str, str], var_dir: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k in INHERITED_ENV}
    env.update(settings)
    env.update({"VAR_DIR": str(var_dir), "LOG_LEVEL": "warning", "PYTHONUNBUFFERED": "1"})
    return env


def start_web(name: str, settings: dict[str, str], workdir: Path, product_limits: bool) -> Proc:
    """``supportchat serve`` through bench/ours_server.py (the rate limits lifted as in the
    other scenarios unless ``product_limits``) on ``settings`` (a stack's: REDIS_URL and no
    in-process sweeper)."""
    port = free_port()
    log = workdir / f"web-{name}-{port}.log"
    cmd = [sys.executable, "-m", "bench.ours_server", "--port", str(port)]
    if product_limits:
        cmd.append("--product-limits")
    with log.open("wb") as out:
        process = subprocess.Popen(cmd, cwd=REPO, env=_process_env(settings, workdir / f"var-{name}"),
                                   stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    return Proc(name, process, log, port)


def start_worker(stack: Stack, workdir: Path) -> Proc:
    log = workdir / "worker.log"
    with log.open("wb") as out:
        process = subprocess.Popen([sys.executable, "-m", "escalation"], cwd=REPO,
                                   env=_process_env(stack.env, workdir / "var-worker"),
                                   stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    return Proc("worker", process, log)


def wait_ready(web: Proc, timeout: float = READY_SECONDS) -> None:
    """Until ``/readyz`` answers 200 (database and broker reachable)."""
    deadline = time.monotonic() + timeout
    last = "no answer"
    while time.monotonic() < deadline:
        if not web.alive():
            raise RuntimeError(f"web {web.name} exited ({web.process.returncode}) before it was ready:\n"
                               f"{web.log_tail()}")
        try:
            response = httpx.get(f"http://127.0.0.1:{web.port}/readyz", timeout=2.0)
            if response.status_code == 200:
                return
            last = f"{response.status_code} {response.text[:200]}"
        except httpx.HTTPError as exc:
            last = type(exc).__name__
        time.sleep(0.1)
    raise RuntimeError(f"web {web.name} not ready after {timeout}s ({last}):\n{web.log_tail()}")


@contextmanager
def database_and_broker(secret: str, durable: bool = True) -> Iterator[Stack]:
    """PostgreSQL (migrated) and Redis, no web process yet: seed now, then :func:`serving`."""
    with ExitStack() as stops:
        postgres = start_postgres(durable)
        stops.callback(postgres.stop)
        redis = start_redis()
        stops.callback(redis.stop)
        url = postgres.url(DATABASE)
        migrate.upgrade(url)
        env = {"DATABASE_URL": url, "REDIS_URL": redis.url, "SECRET_KEY": secret,
               "AUTO_MIGRATE": "false", "SWEEPER_IN_PROCESS": "false"}
        yield Stack(postgres, redis, env)


@contextmanager
def serving(stack: Stack, workdir: Path, names: list[str], product_limits: bool = False,
            extra: dict[str, dict[str, str]] | None = None) -> Iterator[Stack]:
    """The web processes ``names`` and one worker on ``stack``, and the web processes of
    ``extra`` (name → settings of their own, e.g. the embedded default for reference); all
    stopped on the way out."""
    workdir.mkdir(parents=True, exist_ok=True)
    try:
        stack.worker = start_worker(stack, workdir)
        stack.webs = [start_web(name, stack.env, workdir, product_limits) for name in names]
        stack.webs += [start_web(name, settings, workdir, product_limits) for name, settings in (extra or {}).items()]
        for web in stack.webs:
            wait_ready(web)
        stack.check_alive()
        yield stack
    finally:
        for proc in [*stack.webs, *([stack.worker] if stack.worker else [])]:
            proc.stop()

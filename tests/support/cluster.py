"""Real server processes (``python -m chat serve``) on free loopback ports.

For tests that need more than one web process, a ``kill -9``, or a server that keeps
running while its broker goes away: each server is a separate OS process started the way
an operator starts it, configured only through its environment, and reached only over
HTTP and websockets. A server that does not become ready is an error with its log
attached, never a skip.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx

from tests.support.processes import free_port

# What a server process inherits from the test's environment: only what running Python
# needs. Every setting (chat/settings.py reads dozens) comes from the test, nothing from
# the developer's shell (and no .env: they run in their own dir).
INHERITED_ENV = ("PATH", "HOME", "LANG", "LC_ALL", "LC_CTYPE", "TMPDIR", "TZ", "PYTHONPATH", "VIRTUAL_ENV")
# A cold Python start with SQLAlchemy, Starlette and uvicorn takes a few seconds on a busy
# 2-core machine; a minute means something is wrong, not slow.
READY_TIMEOUT_SECONDS = 60.0


@dataclass
class ServerProcess:
    name: str
    port: int
    process: subprocess.Popen[bytes]
    workdir: Path

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def ws_url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/ws"

    @property
    def log_path(self) -> Path:
        return self.workdir / "server.log"

    def alive(self) -> bool:
        return self.process.poll() is None

    def log_tail(self, chars: int = 4000) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-chars:]
        except OSError as exc:
            return f"(no log: {exc})"

    async def kill(self) -> None:
        """``kill -9``: no shutdown, no goodbye to clients, database or broker."""
        if self.alive():
            self.process.send_signal(signal.SIGKILL)
        await asyncio.to_thread(self.process.wait, 10)

    async def stop(self) -> None:
        """A graceful stop (SIGTERM), forced after 15 s."""
        if not self.alive():
            return
        self.process.terminate()
        try:
            await asyncio.to_thread(self.process.wait, 15)
        except subprocess.TimeoutExpired:
            self.process.kill()
            await asyncio.to_thread(self.process.wait, 10)

    async def readyz(self, timeout: float = 5.0) -> httpx.Response:
        async with httpx.AsyncClient(base_url=self.base_url, timeout=timeout) as http:
            return await http.get("/readyz")


def server_env(settings_env: Mapping[str, str]) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k in INHERITED_ENV}
    env.update(settings_env)
    env.setdefault("LOG_LEVEL", "warning")
    env["PYTHONUNBUFFERED"] = "1"
    return env


def spawn_server(name: str, settings_env: Mapping[str, str], root: Path) -> ServerProcess:
    """Start ``python -m chat serve`` on a free port (not waiting for it to be ready)."""
    workdir = root / name
    workdir.mkdir(parents=True, exist_ok=True)
    env = server_env({"VAR_DIR": str(workdir / "var"), **settings_env})
    port = free_port()
    with (workdir / "server.log").open("wb") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "chat", "serve", "--host", "127.0.0.1", "--port", str(port)],
            cwd=workdir, env=env, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
        )
    return ServerProcess(name, port, process, workdir)


async def wait_ready(server: ServerProcess, timeout: float = READY_TIMEOUT_SECONDS) -> None:
    """Until ``/readyz`` answers 200 (database and broker reachable)."""
    deadline = time.monotonic() + timeout
    last = "no answer"
    async with httpx.AsyncClient(base_url=server.base_url, timeout=2.0) as http:
        while time.monotonic() < deadline:
            if not server.alive():
                raise RuntimeError(
                    f"server {server.name} exited with {server.process.returncode} before it was ready:\n"
                    f"{server.log_tail()}"
                )
            try:
                response = await http.get("/readyz")
                if response.status_code == 200:
                    return
                last = f"{response.status_code} {response.text[:200]}"
            except httpx.HTTPError as exc:
                last = type(exc).__name__
            await asyncio.sleep(0.1)
    raise RuntimeError(f"server {server.name} not ready after {timeout}s ({last}):\n{server.log_tail()}")


@asynccontextmanager
async def server_processes(
    names: list[str], settings_env: Mapping[str, str], root: Path
) -> AsyncIterator[list[ServerProcess]]:
    """Start one server process per name, all on the same settings, and wait until every
    one is ready; stop them all afterwards (their logs are printed if the body failed)."""
    servers = [spawn_server(name, settings_env, root) for name in names]
    failed = True
    try:
        await asyncio.gather(*(wait_ready(s) for s in servers))
        yield servers
        failed = False
    finally:
        await asyncio.gather(*(s.stop() for s in servers), return_exceptions=True)
        if failed:
            for server in servers:
                print(f"----- log of server {server.name} (exit {server.process.returncode}) -----\n{server.log_tail()}")


def spawn_worker(name: str, settings_env: Mapping[str, str], root: Path) -> ServerProcess:
    """Start ``python -m escalation`` (the Procfile's worker: the sweeper on its own). It
    serves no HTTP: ``port`` is 0 and only :meth:`ServerProcess.alive`, ``stop`` and the
    log apply."""
    workdir = root / name
    workdir.mkdir(parents=True, exist_ok=True)
    env = server_env({"VAR_DIR": str(workdir / "var"), **settings_env})
    with (workdir / "server.log").open("wb") as log:
        process = subprocess.Popen([sys.executable, "-m", "escalation"], cwd=workdir, env=env, stdout=log,
                                   stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    return ServerProcess(name, 0, process, workdir)

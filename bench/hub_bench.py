"""The hub benchmark: our server against a bare ``websockets`` baseline, in one session.

    python -m bench.hub_bench            # the full run (~16 minutes on 2 cores, the scale-out part included)
    python -m bench.hub_bench --quick    # a ~2-minute smoke run with small numbers
    python -m bench.hub_bench --write    # also replace the results section of docs/benchmarks.md

Layout: this process only orchestrates (seeds the database through the use cases, starts
and stops servers, runs the probes). The baseline (bench/baseline_server.py) and ours
(bench/ours_server.py: ``supportchat serve`` on SQLite with the in-memory broker) each run
in their own process; the load generator (bench/loadgen.py, the project's ChatClient) runs
in a third, one scenario per run. Comparable scenarios alternate baseline and ours (A B A B
…) and report medians and the ratio ours / baseline, because the machine is shared and noisy.

Every loop is bounded in count and time; every process started here is stopped here.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import secrets
import shlex
import shutil
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench import report
from bench.procfs import cpu_seconds, machine, raise_fd_limit, read_cpu, rss_kib
from bench.scaleout import ScaleConfig, ScaleOut
from bench.seed import Seed, seed_baseline, seed_ours
from bench.stack import Proc as Server

REPO = Path(__file__).resolve().parent.parent
BARE = "ours-bare"
"""Ours without the after-commit reactions (tickets, desk), room watchers and in-process
sweeper: the hub's own cost."""
PEERS = ("peer", "peer-sqlite")
"""The python-socketio peer (bench/socketio_server.py) without persistence and storing each
message in SQLite; driven by bench/socketio_loadgen.py."""
DOC = REPO / "docs" / "benchmarks.md"
STORM_AIM_CLIENTS = 5000


@dataclass
class Config:
    rounds: int = 3
    pair_warmup: float = 1.0
    pair_seconds: float = 3.0
    pair_window: int = 64
    fanout: dict[int, float] = field(default_factory=lambda: {10: 40.0, 100: 40.0})
    """Room size → messages/s: the same offered load for both servers, which ours must
    keep up with, and the same for both sizes, so that the difference between the sizes
    is the cost of the extra deliveries alone."""
    fanout_warmup: float = 1.0
    fanout_seconds: float = 4.0
    idle_levels: list[int] = field(default_factory=lambda: [1000, 5000, 10000])
    storms: list[tuple[int, list[str]]] = field(default_factory=lambda: [(5000, ["sync", "jitter"]),
                                                                         (1000, ["sync", "jitter"])])
    sockets_per_room: int = 20
    """Sockets per visitor and conversation in the crowd (tabs, devices); also keeps every
    principal well inside its per-principal budget when the product limits are on."""
    messages_per_room: int = 3
    storm_seconds: float = 30.0
    """Deadline of one storm: by then every client has caught up, or it is counted as not."""
    max_attempts: int = 8
    settle_seconds: float = 3.0
    connect_concurrency: int = 100
    client_timeout: float = 10.0
    ramp_deadline_seconds: float = 400.0
    probe_messages: int = 300
    product_limits: bool = False
    peer_idle_levels: list[int] = field(default_factory=lambda: [1000, 5000])
    """Idle sockets held by the python-socketio peer (and by ours, when ``crowd`` does not run)."""
    pg_durable: bool = True
    """The scale-out part's PostgreSQL: fsync and synchronous commit on, as deployed."""

    @staticmethod
    def quick() -> Config:
        return Config(rounds=1, pair_seconds=3.0, fanout_seconds=3.0, idle_levels=[300, 1000],
                      storms=[(1000, ["sync", "jitter"])], settle_seconds=2.0, probe_messages=100,
                      ramp_deadline_seconds=120.0, storm_seconds=30.0, peer_idle_levels=[1000])

    def storm_only(self) -> None:
        """``--only storm``: the 5 000-client storm with everyone at once, after the one ramp
        it needs (no other idle levels, no jittered or 1 000-client storms): the issue's
        storm aim, in ~2 minutes instead of the crowd's ~7, to iterate on."""
        self.idle_levels = [STORM_AIM_CLIENTS]
        self.storms = [(STORM_AIM_CLIENTS, ["sync"])]

    @property
    def crowd_rooms(self) -> int:
        biggest = max([*self.idle_levels, *self.peer_idle_levels, *(s for s, _ in self.storms)])
        return -(-biggest // self.sockets_per_room)


# -- processes ----------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_for_port(port: int, process: subprocess.Popen[bytes], timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"the server exited with status {process.returncode} before listening")
        with socket.socket() as sock:
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.05)
    raise RuntimeError(f"nothing listens on 127.0.0.1:{port} after {timeout}s")


def start_server(name: str, workdir: Path, env: dict[str, str], product_limits: bool) -> Server:
    port = free_port()
    if name == BARE:
        # The hub alone: no sweeper in the process either (it assigns waiting chats to
        # the agents who connect, every few seconds, in the middle of a measurement).
        env = {**env, "SWEEPER_IN_PROCESS": "false"}
    log = workdir / f"{name}-{port}.log"
    if name == "baseline":
        cmd = [sys.executable, "-m", "bench.baseline_server", "--port", str(port)]
    elif name in PEERS:
        cmd = [sys.executable, "-m", "bench.socketio_server", "--port", str(port)]
        if name == "peer-sqlite":
            cmd += ["--sqlite", str(workdir / f"{name}-{port}.db")]
    else:
        cmd = [sys.executable, "-m", "bench.ours_server", "--port", str(port)]
        if product_limits:
            cmd.append("--product-limits")
        if name == BARE:
            cmd.append("--no-reactions")
    with log.open("wb") as out:
        process = subprocess.Popen(cmd, cwd=REPO, env=env, stdout=out, stderr=subprocess.STDOUT)
    server = Server(name, process, log, port)
    try:
        wait_for_port(port, process)
    except (RuntimeError, OSError):  # what wait_for_port raises: exited, never listened, socket
        server.stop()
        raise RuntimeError(f"{name} did not start: {log.read_text()[-2000:]}") from None
    return server


def run_loadgen(spec: dict[str, Any], workdir: Path, module: str = "bench.loadgen") -> dict[str, Any]:
    """One scenario in its own process (``module``: bench.loadgen, or bench.socketio_loadgen
    for the peer); its JSON result, or ``{"error": …}``."""
    path = workdir / f"spec-{spec['scenario']}-{time.monotonic_ns()}.json"
    path.write_text(json.dumps(spec))
    deadline = spec["hard_deadline_seconds"]
    try:
        done = subprocess.run([sys.executable, "-m", module, str(path)], cwd=REPO, capture_output=True,
                              text=True, timeout=deadline + 60)
    except subprocess.TimeoutExpired:
        return {"error": f"load generator exceeded {deadline + 60:.0f}s"}
    if done.returncode != 0:
        return {"error": done.stderr.strip().splitlines()[-1] if done.stderr.strip() else f"exit {done.returncode}",
                "stderr": done.stderr[-3000:]}
    return dict(json.loads(done.stdout.strip().splitlines()[-1]))


# -- the session ----------------------------------------------------------------------------------


class Session:
    def __init__(self, config: Config, workdir: Path, log: bool = True) -> None:
        self.config = config
        self.workdir = workdir
        self.verbose = log
        self.secret = secrets.token_urlsafe(30)  # 40 characters
        db_path = workdir / "chat.db"
        self.env = {k: v for k, v in os.environ.items()
                    if k not in {"REDIS_URL", "DATABASE_URL", "SECRET_KEY", "SECRET_KEYS_PREVIOUS", "VAR_DIR"}}
        self.env.update({"VAR_DIR": str(workdir / "var"), "DATABASE_URL": f"sqlite:///{db_path}",
                         "SECRET_KEY": self.secret, "LOG_LEVEL": "warning", "PYTHONUNBUFFERED": "1",
                         # The crowd holds ``sockets_per_room`` sockets per visitor, the product's
                         # cap (20, chat.settings); a storm's reference reader is one more of the
                         # same visitor, refused 4430 at the cap (every log then counts as wrong).
                         "MAX_SOCKETS_PER_VISITOR": str(config.sockets_per_room + 1)})
        self.seeds: dict[str, Seed] = {}
        self.bare_env: dict[str, str] = self.env  # its own database once seeded
        self.hot_next: dict[str, int] = {"baseline": 0, "ours": 0, BARE: 0, **dict.fromkeys(PEERS, 0)}
        self.results: dict[str, Any] = {"pair": [], "fanout": [], "crowd": {}, "peer_idle": {}, "notes": []}

    def say(self, text: str) -> None:
        if self.verbose:
            print(f"[{time.strftime('%H:%M:%S')}] {text}", file=sys.stderr, flush=True)

    def seed(self) -> None:
        from chat import migrate

        migrate.upgrade(self.env["DATABASE_URL"].replace("sqlite:", "sqlite+aiosqlite:", 1))
        per_server = 2 + self.config.rounds * (1 + len(self.config.fanout)) + 1
        hot = 2 * per_server  # ours and ours-bare: their own rooms (and databases, below)
        ours = asyncio.run(seed_ours(self.env, agents=4, hot=hot, crowd=self.config.crowd_rooms))
        bare = Seed(agents=ours.agents, hot=ours.hot[per_server:], crowd=ours.crowd, seconds=ours.seconds)
        ours.hot = ours.hot[:per_server]
        self.seeds = {"ours": ours, BARE: bare, "baseline": seed_baseline(ours)}
        # The hub alone gets its own copy of the seeded database: the product's sweeper
        # would otherwise assign its rooms and catch their tickets up (the hub alone runs
        # no reactions), charging the product for the other server's traffic.
        own = self.workdir / "chat-bare.db"
        source = sqlite3.connect(self.workdir / "chat.db")
        target = sqlite3.connect(own)
        try:
            source.backup(target)
        finally:
            source.close()
            target.close()
        self.bare_env = {**self.env, "DATABASE_URL": f"sqlite:///{own}"}
        self.results["seed_seconds"] = round(ours.seconds, 2)
        self.say(f"seeded 4 agents and {hot + self.config.crowd_rooms} conversations in {ours.seconds:.1f}s")

    def next_room(self, name: str) -> Any:
        room = self.seeds[name].hot[self.hot_next[name]]
        self.hot_next[name] += 1
        return room

    def pair_spec(self, server: Server, seconds: float | None = None) -> dict[str, Any]:
        if server.name in PEERS:
            return self.peer_pair_spec(server, seconds)
        seed, room = self.seeds[server.name], self.next_room(server.name)
        c = self.config
        return {"scenario": "pair", "url": server.url, "server_pid": server.pid,
                "conversation_id": room.conversation_id, "sender_token": room.owner_token,
                "receiver_token": seed.agents[0], "warmup_seconds": c.pair_warmup,
                "seconds": seconds or c.pair_seconds, "window": c.pair_window,
                "hard_deadline_seconds": 3 * (c.pair_warmup + (seconds or c.pair_seconds)) + 3 * 15 + 30}

    def fanout_spec(self, server: Server, members: int, rate: float) -> dict[str, Any]:
        if server.name in PEERS:
            return self.peer_fanout_spec(server, members, rate)
        seed, room = self.seeds[server.name], self.next_room(server.name)
        c = self.config
        return {"scenario": "fanout", "url": server.url, "server_pid": server.pid,
                "conversation_id": room.conversation_id, "sender_token": room.owner_token,
                "member_tokens": seed.agents, "members": members, "rate": rate,
                "warmup_seconds": c.fanout_warmup, "seconds": c.fanout_seconds,
                "hard_deadline_seconds": c.fanout_warmup + c.fanout_seconds + 120}

    def crowd_spec(self, server: Server) -> dict[str, Any]:
        seed, c = self.seeds[server.name], self.config
        return {"scenario": "crowd", "url": server.url, "server_pid": server.pid,
                "rooms": [asdict(r) for r in seed.crowd], "sockets_per_room": c.sockets_per_room,
                "levels": c.idle_levels, "storms": c.storms, "poster_token": seed.agents[-1],
                "messages_per_room": c.messages_per_room, "storm_seconds": c.storm_seconds,
                "max_attempts": c.max_attempts, "settle_seconds": c.settle_seconds,
                "connect_concurrency": c.connect_concurrency, "client_timeout": c.client_timeout,
                "ramp_deadline_seconds": c.ramp_deadline_seconds,
                "hard_deadline_seconds": c.ramp_deadline_seconds + len(c.storms) * 2 * (c.storm_seconds + 60) + 120}

    # -- the python-socketio peer (issue 21, item 1) --

    def peer_room(self, server: Server, scenario: str) -> str:
        """A fresh room per run, as ours gets a fresh conversation: no run replays another's."""
        self.hot_next[server.name] += 1
        return f"{scenario}-{self.hot_next[server.name]}"

    def peer_pair_spec(self, server: Server, seconds: float | None = None) -> dict[str, Any]:
        c = self.config
        return {"scenario": "pair", "url": f"http://127.0.0.1:{server.port}", "server_pid": server.pid,
                "room": self.peer_room(server, "pair"), "warmup_seconds": c.pair_warmup,
                "seconds": seconds or c.pair_seconds, "window": c.pair_window,
                "hard_deadline_seconds": 3 * (c.pair_warmup + (seconds or c.pair_seconds)) + 3 * 15 + 30}

    def peer_fanout_spec(self, server: Server, members: int, rate: float) -> dict[str, Any]:
        c = self.config
        return {"scenario": "fanout", "url": f"http://127.0.0.1:{server.port}", "server_pid": server.pid,
                "room": self.peer_room(server, "fanout"), "members": members, "rate": rate,
                "warmup_seconds": c.fanout_warmup, "seconds": c.fanout_seconds,
                "hard_deadline_seconds": c.fanout_warmup + c.fanout_seconds + 120}

    def peer_idle_spec(self, server: Server) -> dict[str, Any]:
        c = self.config
        return {"scenario": "idle", "url": f"http://127.0.0.1:{server.port}", "server_pid": server.pid,
                "room_prefix": "idle", "sockets_per_room": c.sockets_per_room, "levels": c.peer_idle_levels,
                "settle_seconds": c.settle_seconds, "connect_concurrency": c.connect_concurrency,
                "client_timeout": c.client_timeout, "ramp_deadline_seconds": c.ramp_deadline_seconds,
                "hard_deadline_seconds": c.ramp_deadline_seconds + 120}

    def run(self, server: Server, spec: dict[str, Any]) -> dict[str, Any]:
        return run_loadgen(spec, self.workdir, "bench.socketio_loadgen" if server.name in PEERS else "bench.loadgen")

    def peer_idle(self, only: set[str]) -> None:
        """Idle sockets held by each peer variant on a fresh process; ours at the same
        levels too, unless the ``crowd`` part measured them in this session already."""
        names: list[str] = list(PEERS)
        ours_levels = {lv.get("target", lv.get("sockets")) for lv in
                       (self.results["crowd"].get("ours", {}).get("idle", {}).get("levels", []))}
        if "crowd" not in only or not set(self.config.peer_idle_levels) <= ours_levels:
            names.append("ours")
        for name in names:
            server = self.start(name)
            try:
                if name == "ours":
                    spec = {**self.crowd_spec(server), "levels": self.config.peer_idle_levels, "storms": []}
                else:
                    spec = self.peer_idle_spec(server)
                result = self.run(server, spec)
            finally:
                server.stop()
                self.results.setdefault("server_logs", {})[f"peer idle/{name}"] = server.log_summary()
            self.results["peer_idle"][name] = {"idle": result["idle"]} if "idle" in result else result
            for level in result.get("idle", {}).get("levels", []):
                self.say(f"idle {name} {level.get('sockets')}: {level.get('kib_per_socket')} KiB/socket")
            if "error" in result:
                self.say(f"idle {name} failed: {result['error']}")

    def start(self, name: str) -> Server:
        env = self.bare_env if name == BARE else self.env
        server = start_server(name, self.workdir, env, self.config.product_limits)
        self.say(f"{name} server pid {server.pid} on port {server.port}")
        return server

    def quiet(self, server: Server, limit: float = 30.0) -> float:
        """Wait (at most ``limit`` s) until ``server`` has used under 5 % of a core for a
        second, so that work left over from the previous scenario (after-commit reactions,
        a departed visitor's ticket bookkeeping) is not measured in the next one; how
        long that took."""
        started = time.monotonic()
        while time.monotonic() - started < limit:
            before = read_cpu(server.pid)
            time.sleep(1.0)
            if cpu_seconds(before, read_cpu(server.pid)) < 0.05:
                break
        waited = round(time.monotonic() - started, 1)
        self.results.setdefault("quiet_waits", {}).setdefault(server.name, []).append(waited)
        return waited

    def idle_cpu(self, server: Server, seconds: float = 3.0) -> float:
        before = read_cpu(server.pid)
        time.sleep(seconds)
        return cpu_seconds(before, read_cpu(server.pid)) / seconds

    def comparable(self, only: set[str]) -> None:
        """Room of two and fan-out, alternating baseline and ours (and the python-socketio
        peers when ``peer`` is selected, which then implies both scenarios), ``rounds`` times."""
        names = ("baseline", "ours", BARE, *(PEERS if "peer" in only else ()))
        if "peer" in only and not only & {"pair", "fanout"}:
            only = only | {"pair", "fanout"}
        servers = {name: self.start(name) for name in names}
        try:
            for name, server in servers.items():
                self.results.setdefault("idle_cpu_share", {})[name] = round(self.idle_cpu(server), 4)
                self.results.setdefault("rss_start_kib", {})[name] = rss_kib(server.pid)
                warm = self.run(server, self.pair_spec(server, seconds=1.0))  # not reported
                if "error" in warm:
                    raise RuntimeError(f"warm-up against {name} failed: {warm}")
            for round_no in range(1, self.config.rounds + 1):
                for name in names:
                    server = servers[name]
                    if "pair" in only:
                        self.quiet(server)
                        result = self.run(server, self.pair_spec(server))
                        self.results["pair"].append({"server": name, "round": round_no, **result})
                        self.say(f"round {round_no} pair {name}: {_brief_pair(result)}")
                    if "fanout" in only:
                        for members, rate in self.config.fanout.items():
                            self.quiet(server)
                            result = self.run(server, self.fanout_spec(server, members, rate))
                            self.results["fanout"].append({"server": name, "round": round_no, **result})
                            self.say(f"round {round_no} fan-out {members} {name}: "
                                     f"{result.get('deliveries_per_cpu_s', result.get('error'))} deliveries/CPU-s")
        finally:
            for server in servers.values():
                server.stop()
                self.results.setdefault("server_logs", {})[f"comparable/{server.name}"] = server.log_summary()

    def crowd(self) -> None:
        """Idle sockets and reconnect storms: one fresh server at a time (baseline, then
        ours), so neither's memory carries anything from the other scenarios."""
        for name in ("baseline", "ours"):
            server = self.start(name)
            try:
                result = run_loadgen(self.crowd_spec(server), self.workdir)
            finally:
                server.stop()
                self.results.setdefault("server_logs", {})[f"crowd/{name}"] = server.log_summary()
            self.results["crowd"][name] = result
            if "error" in result:
                self.say(f"crowd {name} failed: {result['error']}")
            else:
                for level in result["idle"]["levels"]:
                    self.say(f"idle {name} {level.get('sockets')}: {level.get('kib_per_socket')} KiB/socket")
                for storm in result["storms"]:
                    self.say(f"storm {name} {storm['size']} {storm['mode']}: all caught up in "
                             f"{storm['all_caught_up_s']}s, failed {storm['failed']}")

    def probe(self) -> None:
        from bench.dbprobe import probe

        self.results["dbprobe"] = probe(self.workdir / "probe", self.secret, self.config.probe_messages)
        p = self.results["dbprobe"]["product"]["post_message"]
        self.say(f"SQLite probe: post_message {p['per_s']}/s in-process, "
                 f"{self.results['dbprobe']['raw_sqlite']['same_statements_commit_each']['per_s']}/s raw sqlite3")

    def profile(self) -> None:
        """py-spy (if installed) on ours during one extra room-of-two run, sampling whichever
        thread holds the GIL (``--gil``): where the server's Python CPU time goes."""
        spy = shutil.which("py-spy") or str(Path(sys.executable).parent / "py-spy")
        if not Path(spy).exists():
            self.results["notes"].append("profile skipped: py-spy is not installed (pip install py-spy)")
            return
        server = self.start("ours")
        out = self.workdir / "ours-profile.raw"
        try:
            spec = self.pair_spec(server, seconds=self.config.pair_seconds)
            spy_proc = subprocess.Popen([spy, "record", "-p", str(server.pid), "-r", "250", "-f", "raw", "-o", str(out),
                                         "-d", str(int(spec["warmup_seconds"] + spec["seconds"]) + 2), "--gil", "--threads",
                                         "--nonblocking"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            run_loadgen(spec, self.workdir)
            spy_proc.wait(120)
        finally:
            server.stop()
        if out.exists():
            self.results["profile"] = report.summarize_profile(out)

    def scaleout(self) -> None:
        """The README's recipe (two web processes, Redis, PostgreSQL, one worker): one web
        process against two, same rounds and phases as the comparable part (bench/scaleout.py)."""
        c = self.config
        scale = ScaleConfig(rounds=c.rounds, pair_warmup=c.pair_warmup, pair_seconds=c.pair_seconds,
                            pair_window=c.pair_window, fanout=dict(c.fanout), fanout_warmup=c.fanout_warmup,
                            fanout_seconds=c.fanout_seconds, durable=c.pg_durable, product_limits=c.product_limits)
        self.results["scaleout"] = ScaleOut(scale, self.workdir, run_loadgen, self.say).run()


def _brief_pair(result: dict[str, Any]) -> str:
    if "error" in result:
        return f"error {result['error']}"
    half, full = result.get("half", {}), result.get("full", {})
    return (f"max {result['max']['rate']}/s; half p50 {half.get('p50_ms')} p99 {half.get('p99_ms')} ms; "
            f"full p50 {full.get('p50_ms')} p99 {full.get('p99_ms')} ms")


def code_version() -> str:
    """The last commit that touched the product code (chat/, escalation/) and the product
    files that differed from it: what was measured (read-only git). Commits touching only
    bench/ or docs/ do not count."""
    try:
        head = subprocess.run(["git", "log", "-1", "--format=%h", "--", "chat", "escalation"], cwd=REPO,
                              capture_output=True, text=True, timeout=10).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--", "chat", "escalation"], cwd=REPO,
                               capture_output=True, text=True, timeout=10).stdout.split("\n")
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    changed = sorted(line[3:].strip() for line in dirty if line.strip())
    return f"{head or 'unknown'}" + (f" + uncommitted changes to {', '.join(changed)}" if changed else "")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.hub_bench", description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="small numbers, ~2 minutes: a smoke run")
    parser.add_argument("--write", action="store_true", help=f"replace the results section of {DOC.relative_to(REPO)}")
    parser.add_argument("--rounds", type=int, help="A/B rounds of the comparable scenarios (default 3, quick 1)")
    parser.add_argument("--only", default=None,
                        help="comma-separated subset of probe,pair,fanout,crowd,peer,profile,scaleout (default: "
                             "probe,pair,fanout,crowd,peer,scaleout; with --quick without scaleout, which adds "
                             "~2.5 minutes of PostgreSQL and Redis; peer: the python-socketio peer in the pair and "
                             "fan-out rounds, and its idle sockets); or storm (the 5,000-client storm alone, "
                             "everyone at once, instead of crowd)")
    parser.add_argument("--product-limits", action="store_true",
                        help="keep our per-socket frame rate limits (20/s): throughput then measures the limiter")
    parser.add_argument("--client-timeout", type=float, default=10.0,
                        help="the clients' open/answer timeout in seconds (default 10, as the tests use)")
    parser.add_argument("--pg-no-fsync", action="store_true",
                        help="scale-out: PostgreSQL with fsync and synchronous_commit off (the tests' settings)")
    parser.add_argument("--json", type=Path, help="also write every raw result to this file")
    parser.add_argument("--keep", action="store_true", help="keep the temporary directory (logs, database)")
    args = parser.parse_args(argv)
    config = Config.quick() if args.quick else Config()
    if args.rounds:
        config.rounds = args.rounds
    config.product_limits = args.product_limits
    config.client_timeout = args.client_timeout
    config.pg_durable = not args.pg_no_fsync
    default_parts = "probe,pair,fanout,crowd,peer" if args.quick else "probe,pair,fanout,crowd,peer,scaleout"
    only = {part.strip() for part in (args.only or default_parts).split(",") if part.strip()}
    if "storm" in only:
        config.storm_only()
        only.add("crowd")
    fd_limit = raise_fd_limit()
    needed = max([*config.idle_levels, *(s for s, _ in config.storms)]) + 200
    if fd_limit < needed:
        print(f"warning: open-file limit {fd_limit} < {needed}; the biggest crowd levels will fail", file=sys.stderr)

    code_at_start = code_version()
    workdir = Path(tempfile.mkdtemp(prefix="hubbench-"))
    session = Session(config, workdir)
    started = time.monotonic()
    when = datetime.now(UTC)
    try:
        if only - {"scaleout"}:  # the SQLite database of the other parts
            session.seed()
        if "probe" in only:
            session.probe()
        if only & {"pair", "fanout", "peer"}:
            session.comparable(only)
        if "crowd" in only:
            session.crowd()
        if "peer" in only:
            session.peer_idle(only)
        if "profile" in only:
            session.profile()
        if "scaleout" in only:
            session.scaleout()
    finally:
        if args.keep:
            print(f"kept {workdir}", file=sys.stderr)
        else:
            shutil.rmtree(workdir, ignore_errors=True)
    session.results["meta"] = {
        "date": when.strftime("%Y-%m-%d %H:%M UTC"), "machine": machine(), "fd_limit": fd_limit,
        "code": code_at_start if code_version() == code_at_start
        else f"{code_at_start} at the start, {code_version()} at the end (the product code changed during the run)",
        "command": "python -m bench.hub_bench " + " ".join(shlex.quote(a) for a in (argv or sys.argv[1:])),
        "config": asdict(config), "quick": args.quick,
        "wall_seconds": round(time.monotonic() - started, 1),
    }
    text = report.render(session.results)
    print(text)
    if args.json:
        args.json.write_text(json.dumps(session.results, indent=1))
    if args.write:
        report.write_section(DOC, text)
        print(f"wrote the results section of {DOC}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())

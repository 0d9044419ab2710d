"""The scale-out part of the hub benchmark (``python -m bench.hub_bench --only scaleout``):
the README's recipe — web processes, Redis, PostgreSQL, one worker — under the same load
generator as the other parts.

One stack runs the whole part (bench/stack.py): PostgreSQL, Redis, the worker and two web
processes, A and B, plus two reference web processes. Four placements of the clients
alternate, round after round, each on fresh conversations after the server side has been
quiet for a second:

- **embedded** (reference): process E, the embedded default (SQLite, in-memory broker, the
  sweeper in the process) on its own seeded SQLite database, as the comparable part runs it;
- **pg**: process P on the stack's PostgreSQL without REDIS_URL (in-memory broker): what
  PostgreSQL costs, apart from Redis;
- **one**: every socket on A (the recipe with N = 1; B runs idle, subscribed to nothing,
  and its CPU is still counted on the server side);
- **two**: the room of two with the visitor sending on A and the agent receiving on B, the
  fan-out rooms with their members spread over A and B: every message crosses Redis.

Each window reads the CPU of every process kind (bench/proc_groups.py): each web process,
the worker, PostgreSQL (postmaster and all backends), Redis, and the load generator, so
that the first bottleneck can be read from the numbers.
"""

from __future__ import annotations

import asyncio
import secrets
import statistics
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from bench.proc_groups import group_cpu_seconds, read_groups
from bench.seed import Seed, seed_ours
from bench.stack import Stack, database_and_broker, serving
from chat import migrate


@dataclass(frozen=True)
class Placement:
    webs: tuple[str, ...]
    """Web processes the clients use: the sender on the first, the room of two's receiver on
    the last, fan-out members round-robin over all."""
    counted: tuple[str, ...]
    """Web processes whose CPU is counted (B counts in ``one`` too: it runs, idle)."""
    stack: bool
    """Whether the worker, PostgreSQL and Redis are part of its server side."""


PLACEMENTS = {
    "embedded": Placement(("E",), ("E",), stack=False),
    "pg": Placement(("P",), ("P",), stack=True),
    "one": Placement(("A",), ("A", "B"), stack=True),
    "two": Placement(("A", "B"), ("A", "B"), stack=True),
}
TOPOLOGIES = tuple(PLACEMENTS)
QUIET_CORES = 0.05
"""The server side counts as quiet below this share of a core (web processes, worker and
PostgreSQL together) for a second: left-over work of the previous run is not measured."""

RunLoadgen = Callable[[dict[str, Any], Path], dict[str, Any]]
Say = Callable[[str], None]


@dataclass
class ScaleConfig:
    rounds: int = 3
    pair_warmup: float = 1.0
    pair_seconds: float = 3.0
    pair_window: int = 64
    fanout: dict[int, float] = field(default_factory=lambda: {10: 40.0, 100: 40.0})
    fanout_warmup: float = 1.0
    fanout_seconds: float = 4.0
    durable: bool = True
    """PostgreSQL with its default durability (fsync, synchronous commit), as deployed."""
    product_limits: bool = False
    placements: tuple[str, ...] = TOPOLOGIES


class ScaleOut:
    def __init__(self, config: ScaleConfig, workdir: Path, run_loadgen: RunLoadgen, say: Say) -> None:
        self.config = config
        self.workdir = workdir
        self.run_loadgen = run_loadgen
        self.say = say
        self.rooms: dict[str, list[Any]] = {}
        self.agents: dict[str, list[str]] = {}
        self.secret = secrets.token_urlsafe(30)
        self.results: dict[str, Any] = {"config": asdict(config), "runs": [], "quiet_waits": []}

    # -- the measurement ---------------------------------------------------------------------

    def run(self) -> dict[str, Any]:
        with database_and_broker(self.secret, durable=self.config.durable) as stack:
            extra = self.seed(stack)
            with serving(stack, self.workdir / "scaleout", ["A", "B"], self.config.product_limits, extra) as up:
                self.measure(up)
                self.results["logs"] = {p.name: p.log_summary() for p in [*up.webs, *([up.worker] if up.worker else [])]}
        self.results["summary"] = summarize(self.results["runs"])
        return self.results

    def seed(self, stack: Stack) -> dict[str, dict[str, str]]:
        """Rooms for every placement, through the use cases; the settings of the reference
        web processes (E, P) that :func:`serving` starts besides A and B."""
        c = self.config
        per_placement = 1 + c.rounds * (1 + len(c.fanout))  # the first is the warm-up's
        on_pg = [p for p in c.placements if p != "embedded"]
        # The seeding process publishes to no one (no server runs yet): the memory broker.
        env = {k: v for k, v in stack.env.items() if k != "REDIS_URL"}
        env["VAR_DIR"] = str(self.workdir / "seed-var")
        seed: Seed = asyncio.run(seed_ours(env, agents=4, hot=per_placement * len(on_pg), crowd=0))
        for i, placement in enumerate(on_pg):
            self.rooms[placement] = seed.hot[i * per_placement:(i + 1) * per_placement]
            self.agents[placement] = seed.agents
        seconds = seed.seconds
        extra: dict[str, dict[str, str]] = {}
        if "pg" in c.placements:
            extra["P"] = {k: v for k, v in stack.env.items() if k != "REDIS_URL"}
        if "embedded" in c.placements:
            db = self.workdir / "embedded.db"
            extra["E"] = {"DATABASE_URL": f"sqlite:///{db}", "SECRET_KEY": self.secret}
            migrate.upgrade(f"sqlite+aiosqlite:///{db}")
            local = asyncio.run(seed_ours({**extra["E"], "VAR_DIR": str(self.workdir / "seed-var-e")}, agents=4,
                                          hot=per_placement, crowd=0))
            self.rooms["embedded"], self.agents["embedded"] = list(local.hot), local.agents
            seconds += local.seconds
        self.results["seed_seconds"] = round(seconds, 2)
        self.say(f"scale-out: PostgreSQL and Redis up, seeded {per_placement} conversations per placement "
                 f"in {seconds:.1f}s")
        return extra

    def groups(self, stack: Stack, placement: str) -> dict[str, list[int]]:
        p = PLACEMENTS[placement]
        if p.stack:
            return stack.cpu_groups(list(p.counted))
        return {f"web-{name}": [stack.web(name).pid] for name in p.counted}

    def measure(self, stack: Stack) -> None:
        self.say("scale-out: " + ", ".join(f"web {w.name} pid {w.pid}" for w in stack.webs)
                 + f", worker pid {stack.worker.pid if stack.worker else '-'}, postgres {stack.postmaster_pid}")
        for placement in self.config.placements:
            warm = self.run_loadgen(self.pair_spec(stack, placement, seconds=1.0), self.workdir)  # not reported
            if "error" in warm:
                raise RuntimeError(f"scale-out warm-up of {placement} failed: {warm}")
        everything = {f"web-{w.name}": [w.pid] for w in stack.webs} | stack.cpu_groups([])
        self.results["idle_cores"] = self.idle_cores(everything)
        for round_no in range(1, self.config.rounds + 1):
            for topology in self.config.placements:
                stack.check_alive()
                groups = self.groups(stack, topology)
                self.quiet(groups)
                result = self.run_loadgen(self.pair_spec(stack, topology), self.workdir)
                self.results["runs"].append({"scenario": "pair", "topology": topology, "round": round_no, **result})
                self.say(f"scale-out round {round_no} pair {topology}: {_brief(result)}")
                for members, rate in self.config.fanout.items():
                    self.quiet(groups)
                    result = self.run_loadgen(self.fanout_spec(stack, topology, members, rate), self.workdir)
                    self.results["runs"].append({"scenario": "fanout", "topology": topology, "round": round_no,
                                                 **result})
                    self.say(f"scale-out round {round_no} fan-out {members} {topology}: "
                             f"{_fanout_brief(result)}")

    def pair_spec(self, stack: Stack, topology: str, seconds: float | None = None) -> dict[str, Any]:
        webs = [stack.web(name) for name in PLACEMENTS[topology].webs]
        room, c = self.rooms[topology].pop(0), self.config
        duration = seconds or c.pair_seconds
        return {"scenario": "pair", "url": webs[0].url, "receiver_url": webs[-1].url,
                "server_pid": webs[0].pid, "cpu_groups": self.groups(stack, topology),
                "conversation_id": room.conversation_id, "sender_token": room.owner_token,
                "receiver_token": self.agents[topology][0], "warmup_seconds": c.pair_warmup,
                "seconds": duration, "window": c.pair_window,
                "hard_deadline_seconds": 3 * (c.pair_warmup + duration) + 3 * 15 + 30}

    def fanout_spec(self, stack: Stack, topology: str, members: int, rate: float) -> dict[str, Any]:
        webs = [stack.web(name) for name in PLACEMENTS[topology].webs]
        room, c = self.rooms[topology].pop(0), self.config
        return {"scenario": "fanout", "url": webs[0].url, "member_urls": [w.url for w in webs],
                "server_pid": webs[0].pid, "cpu_groups": self.groups(stack, topology),
                "conversation_id": room.conversation_id, "sender_token": room.owner_token,
                "member_tokens": self.agents[topology], "members": members, "rate": rate,
                "warmup_seconds": c.fanout_warmup, "seconds": c.fanout_seconds,
                "hard_deadline_seconds": c.fanout_warmup + c.fanout_seconds + 120}

    def quiet(self, groups: dict[str, list[int]], limit: float = 30.0) -> None:
        """Wait (at most ``limit`` s) until the server side (all but Redis, which is idle
        anyway) used under :data:`QUIET_CORES` of a core for a second."""
        watched = {k: v for k, v in groups.items() if k != "redis"}
        started = time.monotonic()
        while time.monotonic() - started < limit:
            before = read_groups(watched)
            time.sleep(1.0)
            if sum(group_cpu_seconds(before, read_groups(watched)).values()) < QUIET_CORES:
                break
        self.results["quiet_waits"].append(round(time.monotonic() - started, 1))

    def idle_cores(self, groups: dict[str, list[int]], seconds: float = 3.0) -> dict[str, float]:
        before = read_groups(groups)
        time.sleep(seconds)
        used = group_cpu_seconds(before, read_groups(groups))
        return {name: round(cpu / seconds, 4) for name, cpu in used.items()}


# -- summary: medians per placement, ratios two / one ----------------------------------------------


def _median(values: list[float | None]) -> float | None:
    clean = [v for v in values if v is not None]
    return round(statistics.median(clean), 4) if clean else None


def _kinds(cpu_by_group: dict[str, float]) -> dict[str, float]:
    """Per-process CPU folded into kinds: web (all web processes), worker, postgres, redis."""
    out: dict[str, float] = {}
    for name, cpu in cpu_by_group.items():
        kind = "web" if name.startswith("web-") else name
        out[kind] = out.get(kind, 0.0) + cpu
    return out


def _shares(window: dict[str, Any]) -> dict[str, float]:
    """Cores each kind used during a window: web processes (each, and together), worker,
    PostgreSQL, Redis, the load generator, and anything else on the machine."""
    seconds = float(window.get("seconds") or 0) or 1.0
    groups: dict[str, float] = window.get("cpu_by_group") or {}
    out = {name: cpu / seconds for name, cpu in groups.items() if name.startswith("web-")}
    out.update({kind: cpu / seconds for kind, cpu in _kinds(groups).items()})
    out["loadgen"] = float(window.get("client_cpu_s") or 0) / seconds
    out["other"] = float(window.get("other_cores") or 0)
    return out


def _per_run(run: dict[str, Any]) -> dict[str, float | None]:
    """The numbers one run contributes to the summary."""
    if run["scenario"] == "pair":
        top = run.get("max", {})
        kinds = _kinds(top.get("cpu_by_group") or {})
        delivered = top.get("delivered_in_window") or 0
        web = kinds.get("web", 0.0)
        return {"rate": top.get("rate"), "half_p50_ms": run.get("half", {}).get("p50_ms"),
                "half_p99_ms": run.get("half", {}).get("p99_ms"),
                "web_cpu_ms_per_msg": round(web / delivered * 1000, 4) if delivered else None,
                "all_cpu_ms_per_msg": round(sum(kinds.values()) / delivered * 1000, 4) if delivered else None,
                **{f"cores_{k}": round(v, 3) for k, v in _shares(top).items()}}
    kinds = _kinds(run.get("cpu_by_group") or {})
    delivered = run.get("deliveries_in_window") or 0
    web, everything = kinds.get("web", 0.0), sum(kinds.values())
    return {"per_web_cpu_s": round(delivered / web, 1) if web else None,
            "per_all_cpu_s": round(delivered / everything, 1) if everything else None,
            "p50_ms": run.get("p50_ms"), "p99_ms": run.get("p99_ms"),
            "complete": 1.0 if run.get("deliveries", 0) >= run.get("expected_deliveries", 1) else 0.0,
            **{f"cores_{k}": round(v, 3) for k, v in _shares(run).items()}}


def summarize(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """Medians per placement: ``{"pair": {placement: …}, "fanout": {members: {placement: …}}, "errors": […]}``."""
    ok = [r for r in runs if "error" not in r]
    out: dict[str, Any] = {"pair": {}, "fanout": {}, "errors": [r.get("error") for r in runs if "error" in r]}
    for topology in TOPOLOGIES:
        rows = [_per_run(r) for r in ok if r["scenario"] == "pair" and r["topology"] == topology]
        if rows:
            out["pair"][topology] = {key: _median([row.get(key) for row in rows]) for key in rows[0]}
    for members in sorted({int(r["members"]) for r in ok if r["scenario"] == "fanout"}):
        for topology in TOPOLOGIES:
            rows = [_per_run(r) for r in ok if r["scenario"] == "fanout" and r["topology"] == topology
                    and int(r["members"]) == members]
            if rows:
                out["fanout"].setdefault(members, {})[topology] = {
                    key: _median([row.get(key) for row in rows]) for key in rows[0]}
    return out


def _brief(result: dict[str, Any]) -> str:
    if "error" in result:
        return f"error {result['error']}"
    half = result.get("half", {})
    shares = _shares(result.get("max", {}))
    cores = ", ".join(f"{k} {v:.2f}" for k, v in shares.items() if not k.startswith("web-"))
    return (f"max {result['max']['rate']}/s (cores: {cores}); half p50 {half.get('p50_ms')} "
            f"p99 {half.get('p99_ms')} ms")


def _fanout_brief(result: dict[str, Any]) -> str:
    if "error" in result:
        return f"error {result['error']}"
    row = _per_run({"scenario": "fanout", **result})
    return (f"{row['per_web_cpu_s']} deliveries per web CPU-s, {row['per_all_cpu_s']} per server-side CPU-s; "
            f"delivered {result.get('deliveries')}/{result.get('expected_deliveries')}")

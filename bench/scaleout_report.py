"""The "Scale-out (Redis + PostgreSQL)" tables of the hub benchmark's markdown, from
bench/scaleout.py's results (its ``summary``)."""

from __future__ import annotations

from typing import Any

TOPOLOGY_NAMES = {"embedded": "embedded default: SQLite, memory broker (E, reference)",
                  "pg": "one web process on PostgreSQL, no Redis (P)",
                  "one": "one web process + Redis (A; B idle)", "two": "two web processes + Redis (A → B)"}
RATIOS = (("two", "one", "two / one"), ("one", "pg", "one / pg: Redis's share"),
          ("pg", "embedded", "pg / embedded: PostgreSQL's share"))
KINDS = ("worker", "postgres", "redis", "loadgen", "other")


def _fmt(value: float | None, digits: int = 0) -> str:
    if value is None:
        return "–"
    return f"{value:,.{digits}f}"


def _ratio(two: float | None, one: float | None) -> str:
    if two is None or not one:
        return "–"
    return f"{two / one:.2f}×"


def _table(header: list[str], rows: list[list[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    return "\n".join(lines + ["| " + " | ".join(row) + " |" for row in rows])


def render_scaleout(scale: dict[str, Any], cpus: str | None) -> str:
    summary = scale.get("summary", {})
    cfg = scale.get("config", {})
    pair, fanout = summary.get("pair", {}), summary.get("fanout", {})
    parts = [
        f"The README's recipe on loopback: PostgreSQL 15 ({'durable: fsync and synchronous commit on' if cfg.get('durable') else 'fsync and synchronous_commit off'}), "
        "one Redis, one `python -m escalation` worker, web processes A and B (`supportchat serve` as "
        "bench/ours_server.py runs it, rate limits "
        f"{'kept' if cfg.get('product_limits') else 'lifted'}, `SWEEPER_IN_PROCESS=false`). "
        f"{cfg.get('rounds')} rounds alternating the placements **embedded** (reference: the embedded default, "
        "SQLite and the in-memory broker, on its own database, as the comparable part runs it), **pg** (process P on "
        "the stack's PostgreSQL without REDIS_URL), **one** (every socket on A; B up and idle) and **two** (room of "
        "two: the visitor sends on A, the agent receives on B; fan-out: members round-robin over A and B), fresh "
        "conversations, the server side quiet for a second before each run. Server-side CPU = the placement's web "
        "processes (both A and B for one and two) + worker + every PostgreSQL process + Redis (none of these for "
        "embedded), read from /proc during the measurement window. "
        f"Seeding {scale.get('seed_seconds')} s; idle cores before load: "
        + ", ".join(f"{k} {v:.3f}" for k, v in scale.get("idle_cores", {}).items()) + ".",
        "",
    ]
    if pair:
        rows = []
        keys: tuple[str, ...] = ("rate", "half_p50_ms", "half_p99_ms", "web_cpu_ms_per_msg", "all_cpu_ms_per_msg")
        for topology, d in pair.items():
            rows.append([TOPOLOGY_NAMES[topology], _fmt(d.get("rate")), _fmt(d.get("half_p50_ms"), 1),
                         _fmt(d.get("half_p99_ms"), 1), _fmt(d.get("web_cpu_ms_per_msg"), 3),
                         _fmt(d.get("all_cpu_ms_per_msg"), 3)])
        for top, bottom, label in RATIOS:
            if top in pair and bottom in pair:
                rows.append([label, *(_ratio(pair[top].get(k), pair[bottom].get(k)) for k in keys)])
        parts += ["Room of two (persisted, acked and delivered; medians):", "",
                  _table(["placement", "max msg/s", "half load p50 ms", "p99 ms", "web CPU ms/msg",
                          "server-side CPU ms/msg"], rows), ""]
    if fanout:
        rows = []
        keys = ("per_web_cpu_s", "per_all_cpu_s", "p50_ms", "p99_ms")
        for members, by_topology in sorted(fanout.items(), key=lambda kv: int(kv[0])):
            for topology, d in by_topology.items():
                rows.append([str(members), TOPOLOGY_NAMES[topology], _fmt(d.get("per_web_cpu_s")),
                             _fmt(d.get("per_all_cpu_s")), _fmt(d.get("p50_ms"), 1), _fmt(d.get("p99_ms"), 1),
                             "yes" if d.get("complete") == 1.0 else "no"])
            for top, bottom, label in RATIOS:
                if top in by_topology and bottom in by_topology:
                    rows.append([str(members), label,
                                 *(_ratio(by_topology[top].get(k), by_topology[bottom].get(k)) for k in keys), ""])
        parts += ["Fan-out (same offered rate as the comparable part; medians):", "",
                  _table(["room", "placement", "deliveries per web CPU-s", "per server-side CPU-s", "p50 ms",
                          "p99 ms", "all delivered"], rows), ""]
    share_rows = []
    for topology, d in pair.items():
        share_rows.append([f"room of two at its max, {topology}", _web_cores(d),
                           *(_fmt(d.get(f"cores_{k}"), 2) for k in KINDS)])
    for members, by_topology in sorted(fanout.items(), key=lambda kv: int(kv[0])):
        for topology, d in by_topology.items():
            share_rows.append([f"fan-out {members}, {topology}", _web_cores(d),
                               *(_fmt(d.get(f"cores_{k}"), 2) for k in KINDS)])
    if share_rows:
        parts += [f"How the {cpus or '?'} cores were shared (cores used by each process kind during the window, "
                  "medians; `other` is everything else on the machine, /proc/stat minus the rest):", "",
                  _table(["run", "web processes", *KINDS], share_rows), ""]
    errors = [e for e in summary.get("errors", []) if e]
    if errors:
        parts.append(f"Runs that failed: {'; '.join(str(e) for e in errors)}")
    logs = scale.get("logs", {})
    if logs:
        parts.append("Logged (LOG_LEVEL=warning): " + "; ".join(
            f"{name} {log.get('flagged')} warnings/errors" + (f" (`{log['top'][0][0]}` …)" if log.get("top") else "")
            for name, log in logs.items()))
    return "\n".join(parts).rstrip()


def _web_cores(d: dict[str, Any]) -> str:
    """The web processes' cores together, and each one's when there are several."""
    each = {k.removeprefix("cores_web-"): v for k, v in d.items() if k.startswith("cores_web-") and v is not None}
    total = _fmt(d.get("cores_web"), 2)
    if len(each) < 2:
        return total
    return f"{total} ({' + '.join(f'{name} {v:.2f}' for name, v in each.items())})"

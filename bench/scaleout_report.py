"""The "Scale-out (Redis + PostgreSQL)" tables of the hub benchmark's markdown, from
bench/scaleout.py's results (its ``summary``)."""

from __future__ import annotations

from typing import Any

TOPOLOGY_NAMES = {"one": "one web process (A)", "two": "two web processes (A → B)"}
KINDS = ("web-A", "web-B", "worker", "postgres", "redis", "loadgen", "other")


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
        f"{cfg.get('rounds')} rounds alternating **one** (every socket on A; B up and idle) and **two** (room of two: "
        "the visitor sends on A, the agent receives on B; fan-out: members round-robin over A and B), fresh "
        "conversations, the server side quiet for a second before each run. Server-side CPU = both web processes "
        "+ worker + every PostgreSQL process + Redis, read from /proc during the measurement window. "
        f"Seeding {scale.get('seed_seconds')} s; idle cores before load: "
        + ", ".join(f"{k} {v:.3f}" for k, v in scale.get("idle_cores", {}).items()) + ".",
        "",
    ]
    if pair:
        rows = []
        for topology in ("one", "two"):
            d = pair.get(topology, {})
            rows.append([TOPOLOGY_NAMES[topology], _fmt(d.get("rate")), _fmt(d.get("half_p50_ms"), 1),
                         _fmt(d.get("half_p99_ms"), 1), _fmt(d.get("web_cpu_ms_per_msg"), 3),
                         _fmt(d.get("all_cpu_ms_per_msg"), 3)])
        one, two = pair.get("one", {}), pair.get("two", {})
        rows.append(["two / one", _ratio(two.get("rate"), one.get("rate")),
                     _ratio(two.get("half_p50_ms"), one.get("half_p50_ms")),
                     _ratio(two.get("half_p99_ms"), one.get("half_p99_ms")),
                     _ratio(two.get("web_cpu_ms_per_msg"), one.get("web_cpu_ms_per_msg")),
                     _ratio(two.get("all_cpu_ms_per_msg"), one.get("all_cpu_ms_per_msg"))])
        parts += ["Room of two (persisted, acked and delivered; medians):", "",
                  _table(["placement", "max msg/s", "half load p50 ms", "p99 ms", "web CPU ms/msg",
                          "server-side CPU ms/msg"], rows), ""]
    if fanout:
        rows = []
        for members, by_topology in sorted(fanout.items(), key=lambda kv: int(kv[0])):
            for topology in ("one", "two"):
                d = by_topology.get(topology, {})
                rows.append([str(members), TOPOLOGY_NAMES[topology], _fmt(d.get("per_web_cpu_s")),
                             _fmt(d.get("per_all_cpu_s")), _fmt(d.get("p50_ms"), 1), _fmt(d.get("p99_ms"), 1),
                             "yes" if d.get("complete") == 1.0 else "no"])
            one, two = by_topology.get("one", {}), by_topology.get("two", {})
            rows.append([str(members), "two / one", _ratio(two.get("per_web_cpu_s"), one.get("per_web_cpu_s")),
                         _ratio(two.get("per_all_cpu_s"), one.get("per_all_cpu_s")),
                         _ratio(two.get("p50_ms"), one.get("p50_ms")), _ratio(two.get("p99_ms"), one.get("p99_ms")), ""])
        parts += ["Fan-out (same offered rate as the comparable part; medians):", "",
                  _table(["room", "placement", "deliveries per web CPU-s", "per server-side CPU-s", "p50 ms",
                          "p99 ms", "all delivered"], rows), ""]
    share_rows = []
    for topology in ("one", "two"):
        if topology in pair:
            d = pair[topology]
            share_rows.append([f"room of two at its max, {topology}", *(_fmt(d.get(f"cores_{k}"), 2) for k in KINDS)])
    for members, by_topology in sorted(fanout.items(), key=lambda kv: int(kv[0])):
        for topology in ("one", "two"):
            if topology in by_topology:
                d = by_topology[topology]
                share_rows.append([f"fan-out {members}, {topology}", *(_fmt(d.get(f"cores_{k}"), 2) for k in KINDS)])
    if share_rows:
        parts += [f"How the {cpus or '?'} cores were shared (cores used by each process kind during the window, "
                  "medians; `other` is everything else on the machine, /proc/stat minus the rest):", "",
                  _table(["run", *KINDS], share_rows), ""]
    errors = [e for e in summary.get("errors", []) if e]
    if errors:
        parts.append(f"Runs that failed: {'; '.join(str(e) for e in errors)}")
    logs = scale.get("logs", {})
    if logs:
        parts.append("Logged (LOG_LEVEL=warning): " + "; ".join(
            f"{name} {log.get('flagged')} warnings/errors" + (f" (`{log['top'][0][0]}` …)" if log.get("top") else "")
            for name, log in logs.items()))
    return "\n".join(parts).rstrip()

"""CPU of groups of processes, each pid with all its descendants (Linux /proc).

The scale-out run charges the server side by process kind: each web process, the worker,
PostgreSQL (the postmaster and every backend it forks, one per pooled connection) and
Redis. Descendants are found at each reading by scanning ``/proc/*/stat`` for parent pids,
so a backend forked during a window is counted from its start; one that exits during a
window loses what it used (the pools keep their connections, so this is rare).
"""

from __future__ import annotations

import contextlib
from pathlib import Path

from bench.procfs import CpuReading, cpu_seconds, read_cpu

GroupReading = dict[str, dict[int, CpuReading]]


def _parents() -> dict[int, int]:
    """pid → parent pid for every process on the machine."""
    out: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        with contextlib.suppress(OSError, ValueError, IndexError):
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            out[int(entry.name)] = int(fields[1])
    return out


def with_descendants(roots: list[int]) -> set[int]:
    parents = _parents()
    found = {pid for pid in roots if pid in parents}
    grew = True
    while grew:
        children = {pid for pid, parent in parents.items() if parent in found} - found
        grew = bool(children)
        found |= children
    return found


def read_groups(groups: dict[str, list[int]]) -> GroupReading:
    """Each group's processes (roots and descendants) and their CPU so far."""
    out: GroupReading = {}
    for name, roots in groups.items():
        readings: dict[int, CpuReading] = {}
        for pid in with_descendants(roots):
            with contextlib.suppress(OSError, ValueError, IndexError):  # it exited meanwhile
                readings[pid] = read_cpu(pid)
        out[name] = readings
    return out


def group_cpu_seconds(before: GroupReading, after: GroupReading) -> dict[str, float]:
    """CPU seconds each group used between two readings: a process first seen in ``after``
    counts all it used since it started."""
    zero = CpuReading(0.0, 0.0, 0.0)
    return {name: round(sum(cpu_seconds(before.get(name, {}).get(pid, zero), reading)
                            for pid, reading in readings.items()), 4)
            for name, readings in after.items()}

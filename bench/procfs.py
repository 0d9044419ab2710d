"""What the benchmark reads about processes and the machine, straight from /proc (Linux).

CPU time is the sum of user and system time of every thread of a process (the server's
SQLite worker threads included). Two readings are kept: ``/proc/PID/stat`` (clock ticks,
10 ms, counts exited threads too) and the sum of ``/proc/PID/task/*/schedstat``
(nanoseconds, live threads only). :func:`cpu_seconds` returns the precise one unless the
two disagree, which happens only when a thread exited in between.
"""

from __future__ import annotations

import contextlib
import os
import platform
import resource
import sys
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

_TICK = os.sysconf("SC_CLK_TCK")


@dataclass(frozen=True)
class CpuReading:
    ticks_seconds: float
    sched_seconds: float
    system_seconds: float
    """The kernel's share of ``ticks_seconds`` (socket I/O, thread wake-ups)."""


def read_cpu(pid: int) -> CpuReading:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    ticks = (int(fields[11]) + int(fields[12])) / _TICK  # utime, stime
    system = int(fields[12]) / _TICK
    sched = 0
    for task in Path(f"/proc/{pid}/task").iterdir():
        with contextlib.suppress(FileNotFoundError, ProcessLookupError, ValueError, IndexError):
            sched += int((task / "schedstat").read_text().split()[0])
    return CpuReading(ticks, sched / 1e9, system)


def cpu_seconds(before: CpuReading, after: CpuReading) -> float:
    ticks = after.ticks_seconds - before.ticks_seconds
    sched = after.sched_seconds - before.sched_seconds
    # schedstat is precise but forgets threads that exited; ticks never forget but are
    # coarse (10 ms). Within two ticks plus 5 % they agree and the precise one wins.
    if sched > 0 and abs(sched - ticks) <= 2 / _TICK + 0.05 * ticks:
        return sched
    return ticks


def machine_busy_seconds() -> tuple[float, float]:
    """(CPU seconds spent busy by every process on the machine, seconds stolen by the
    hypervisor), from /proc/stat: what lets a window tell whether something else ran."""
    fields = [int(x) for x in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    user, nice, system, _idle, _iowait, irq, softirq, steal = (fields + [0] * 8)[:8]
    return (user + nice + system + irq + softirq) / _TICK, steal / _TICK


def rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise RuntimeError(f"no VmRSS for pid {pid}")


def raise_fd_limit() -> int:
    """Raise this process's open-file limit to its hard limit (children inherit it)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


def machine() -> dict[str, str]:
    """The facts docs/benchmarks.md records next to every result."""
    model = "unknown"
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            model = line.split(":", 1)[1].strip()
            break
    mem_kib = 0
    for line in Path("/proc/meminfo").read_text().splitlines():
        if line.startswith("MemTotal:"):
            mem_kib = int(line.split()[1])
    versions = []
    for package in ("websockets", "uvicorn", "starlette", "SQLAlchemy", "aiosqlite", "msgspec", "uvloop"):
        with contextlib.suppress(metadata.PackageNotFoundError):
            versions.append(f"{package} {metadata.version(package)}")
    import sqlite3

    return {
        "cpus": str(os.cpu_count()),
        "cpu_model": model,
        "ram": f"{mem_kib / 1024 / 1024:.1f} GiB",
        "kernel": platform.release(),
        "os": _os_name(),
        "python": sys.version.split()[0],
        "sqlite": sqlite3.sqlite_version,
        "packages": ", ".join(versions),
        "fd_limit": str(resource.getrlimit(resource.RLIMIT_NOFILE)[1]),
    }


def _os_name() -> str:
    try:
        for line in Path("/etc/os-release").read_text().splitlines():
            if line.startswith("PRETTY_NAME="):
                return line.split("=", 1)[1].strip('"')
    except OSError:
        pass
    return platform.system()

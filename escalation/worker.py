"""The sweeper: acts on whatever is due (SLA warnings and breaches, escalation, auto-close,
chat-to-ticket on idle) by reading stored deadlines, never by holding timers.

Each job is idempotent and claims its rows with conditional updates, so several workers,
or a restart in the middle of a pass, never act twice or miss anything. The wiring
(:func:`chat.wiring.build_sweeper`) gives a :class:`Sweeper` its jobs; the loop itself
knows nothing about tickets.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable, Mapping
from datetime import datetime

from chat import metrics
from chat.services import Services

log = logging.getLogger("escalation.worker")

# Due work is acted on within this many seconds; SLA targets are minutes at the shortest
# (premium first response: 30 min), so this is far inside any warning margin.
DEFAULT_INTERVAL_SECONDS = 5.0

Job = Callable[[Services, datetime], Awaitable[int]]
"""A sweep step: given the services and "now", act on what is due; return how many items."""

Backlog = Callable[[Services, datetime], Awaitable[datetime | None]]
"""A job's oldest unhandled work: the due time of the oldest item due at "now" that the job
has not handled yet, or None when nothing is overdue (the job's lag metric)."""


class Sweeper:
    """One process's sweeper: its jobs (with whatever progress they keep) over ``svc``.

    ``name`` labels its pass duration; ``backlogs`` (job name -> :data:`Backlog`) are
    asked after each pass how far behind their job is."""

    def __init__(
        self, svc: Services, jobs: list[tuple[str, Job]], *, name: str = "sweeper",
        backlogs: Mapping[str, Backlog] | None = None,
    ) -> None:
        self.svc = svc
        self.jobs = jobs
        self.name = name
        self.backlogs = dict(backlogs or {})

    async def run_once(self) -> dict[str, int]:
        return await run_once(self.svc, self.jobs, name=self.name, backlogs=self.backlogs)

    async def run_forever(self, stop: asyncio.Event, interval: float = DEFAULT_INTERVAL_SECONDS) -> None:
        await run_forever(self.svc, self.jobs, stop, interval, name=self.name, backlogs=self.backlogs)


async def run_once(
    svc: Services, jobs: list[tuple[str, Job]], *, name: str = "sweeper", backlogs: Mapping[str, Backlog] | None = None
) -> dict[str, int]:
    """One pass over every job at the clock's current time. A failing job is logged and
    the others still run; the next pass retries it. Then each of ``backlogs`` sets its
    job's lag."""
    started = time.monotonic()
    now = svc.clock.now()
    done: dict[str, int] = {}
    for job_name, job in jobs:
        try:
            done[job_name] = await job(svc, now)
        except Exception:
            log.exception("sweep job %s failed; retrying on the next pass", job_name)
            done[job_name] = -1
            metrics.SWEEPER_JOB_FAILURES.labels(job_name).inc()
        else:
            metrics.SWEEPER_ACTIONS.labels(job_name).inc(max(0, done[job_name]))
    metrics.SWEEPER_PASS_SECONDS.labels(name).observe(time.monotonic() - started)
    if backlogs:
        await _measure_lag(svc, backlogs)
    return done


async def _measure_lag(svc: Services, backlogs: Mapping[str, Backlog]) -> None:
    # After the pass: what is still due now is what the pass did not get to (a backlog
    # larger than a batch, a failing job, work that fell due while it ran).
    now = svc.clock.now()
    for job_name, oldest_due in backlogs.items():
        try:
            oldest = await oldest_due(svc, now)
        except Exception:
            log.exception("measuring the lag of sweep job %s failed", job_name)
            continue
        lag = 0.0 if oldest is None else max(0.0, (now - oldest).total_seconds())
        metrics.SWEEPER_LAG_SECONDS.labels(job_name).set(lag)


async def run_forever(
    svc: Services, jobs: list[tuple[str, Job]], stop: asyncio.Event, interval: float = DEFAULT_INTERVAL_SECONDS,
    *, name: str = "sweeper", backlogs: Mapping[str, Backlog] | None = None,
) -> None:
    while not stop.is_set():
        await run_once(svc, jobs, name=name, backlogs=backlogs)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), interval)

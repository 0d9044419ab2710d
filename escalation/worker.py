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
from collections.abc import Awaitable, Callable
from datetime import datetime

from chat.services import Services

log = logging.getLogger("escalation.worker")

# Due work is acted on within this many seconds; SLA targets are minutes at the shortest
# (premium first response: 30 min), so this is far inside any warning margin.
DEFAULT_INTERVAL_SECONDS = 5.0

Job = Callable[[Services, datetime], Awaitable[int]]
"""A sweep step: given the services and "now", act on what is due; return how many items."""



class Sweeper:
    """One process's sweeper: its jobs (with whatever progress they keep) over ``svc``."""

    def __init__(self, svc: Services, jobs: list[tuple[str, Job]]) -> None:
        self.svc = svc
        self.jobs = jobs

    async def run_once(self) -> dict[str, int]:
        return await run_once(self.svc, self.jobs)

    async def run_forever(self, stop: asyncio.Event, interval: float = DEFAULT_INTERVAL_SECONDS) -> None:
        await run_forever(self.svc, self.jobs, stop, interval)


async def run_once(svc: Services, jobs: list[tuple[str, Job]]) -> dict[str, int]:
    """One pass over every job at the clock's current time. A failing job is logged and
    the others still run; the next pass retries it."""
    now = svc.clock.now()
    done: dict[str, int] = {}
    for name, job in jobs:
        try:
            done[name] = await job(svc, now)
        except Exception:
            log.exception("sweep job %s failed; retrying on the next pass", name)
            done[name] = -1
    return done


async def run_forever(
    svc: Services, jobs: list[tuple[str, Job]], stop: asyncio.Event, interval: float = DEFAULT_INTERVAL_SECONDS
) -> None:
    while not stop.is_set():
        await run_once(svc, jobs)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), interval)

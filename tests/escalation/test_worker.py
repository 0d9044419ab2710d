"""The sweeper loop: jobs run at the clock's time, a failing job does not stop the others."""

from __future__ import annotations

import asyncio
from datetime import datetime

from chat.services import Services
from escalation.worker import run_forever, run_once


async def test_run_once_passes_the_clock_and_survives_a_failing_job(svc: Services) -> None:
    seen: list[datetime] = []

    async def good(s: Services, now: datetime) -> int:
        seen.append(now)
        return 3

    async def bad(s: Services, now: datetime) -> int:
        raise RuntimeError("boom")

    result = await run_once(svc, [("bad", bad), ("good", good)])
    assert result == {"bad": -1, "good": 3}
    assert seen == [svc.clock.now()]


async def test_run_forever_stops_promptly(svc: Services) -> None:
    stop = asyncio.Event()
    task = asyncio.create_task(run_forever(svc, [], stop, interval=60))
    await asyncio.sleep(0.05)
    stop.set()
    await asyncio.wait_for(task, 2)

"""Long reads (reports, exports) run off the event loop on SQLite: the inline read engine
would hold every socket of the process for as long as a year's report takes."""

from __future__ import annotations

import asyncio

from sqlalchemy import text

from chat.services import Services


async def test_a_long_read_leaves_the_loop_free(svc: Services) -> None:
    ticks = 0

    async def tick() -> None:
        nonlocal ticks
        while True:
            ticks += 1
            await asyncio.sleep(0)

    ticker = asyncio.create_task(tick())
    try:
        async with svc.long_read() as db:
            # A deliberately slow query (a recursive count to two million).
            await db.execute(text(
                "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 2000000) "
                "SELECT count(*) FROM n"))
    finally:
        ticker.cancel()
    # Inline (svc.reads() on SQLite) the loop would not turn once during the query.
    assert ticks > 10

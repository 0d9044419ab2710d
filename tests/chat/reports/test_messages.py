"""Messages per resolution on SQLite and PostgreSQL: the BX buckets over tickets resolved in
the range, from the rollup's counts."""

from __future__ import annotations

import pytest
from sqlalchemy import update

from chat.clock import ManualClock
from chat.reports import selection as sel
from chat.reports.messages import messages_report
from chat.services import Services
from escalation.models import Ticket
from tests.chat.reports.world import World, build, query_of, table


@pytest.fixture
async def world(svc: Services, clock: ManualClock) -> World:
    return await build(svc, clock)


async def test_buckets(world: World) -> None:
    query = query_of(world.svc, [("from", "2026-03-02"), ("to", "2026-03-04")])
    document = await messages_report(world.svc, world.desk.admin, query)
    distribution = table(document, "distribution")
    assert [r["bucket"] for r in distribution["rows"]] == ["1", "2", "3", "4", "5", "6-10", "11-20", "21+"]
    # A took 3 public messages (the description and two answers), the chat B two.
    assert {r["bucket"]: r["tickets"] for r in distribution["rows"] if r["tickets"]} == {"2": 1, "3": 1}
    assert table(document, "summary")["rows"] == [{"tickets": 2, "messages": 5, "mean": 2.5}]
    assert document["charts"][0]["kind"] == "histogram"
    # The bucket edges: 0 and 1 in "1", 10 in "6-10", 11 in "11-20", 21 in "21+".
    for count, bucket in ((0, "1"), (1, "1"), (6, "6-10"), (10, "6-10"), (11, "11-20"), (20, "11-20"), (21, "21+"),
                          (5000, "21+")):
        async with world.svc.sessions.begin() as db:
            await db.execute(update(Ticket).where(Ticket.conversation_id == world.ids["A"])
                             .values(messages_count=count))
        rows = table(await messages_report(world.svc, world.desk.admin, query), "distribution")["rows"]
        assert {r["bucket"]: r["tickets"] for r in rows if r["tickets"]}.get(bucket, 0) >= 1, (count, bucket)
    assert [b[0] for b in sel.BUCKETS] == [r["bucket"] for r in rows]

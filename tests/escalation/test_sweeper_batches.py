"""The sweeper acts on several tickets per transaction (escalation.batch): each ticket's
events are numbered into its conversation's stream without gaps, published after the
commit exactly as stored; a ticket whose step fails rolls its batch back and is retried
alone; two sweepers with small batches still act once."""

from __future__ import annotations

import asyncio
import logging
from collections import Counter
from datetime import timedelta
from typing import Any

import msgspec
import pytest

from chat.clock import ManualClock
from chat.events import conversation_channel
from chat.services import Services
from chat.wiring import build_services, build_sweeper
from escalation import jobs, tickets
from escalation.batch import run_batch
from escalation.unit_of_work import Work
from tests.escalation.world import Desk, chat, last_seq, make_desk, say, system_events
from tests.support.chatlog import stored_log

H = timedelta(hours=1)


@pytest.fixture
async def desk(svc: Services) -> Desk:
    return await make_desk(svc)


async def waiting_chat(desk: Desk, subject: str) -> int:
    conv = await chat(desk, subject=subject)
    await say(desk, desk.agent, conv, "Send the logs please")
    await tickets.change_status(desk.svc, desk.agent, conv, "wait_on_customer")
    return conv


def _identity(event: dict[str, Any]) -> tuple[Any, ...]:
    return (event["conversation_id"], event["seq"], event["id"], event["kind"], event["internal"],
            event["prev_public_seq"], event["data"].get("event"), event["body"])


async def test_a_pass_in_batches_numbers_publishes_and_rechecks_every_ticket(
    desk: Desk, clock: ManualClock, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setattr(jobs, "UNITS_PER_TRANSACTION", 3)
    convs = [await waiting_chat(desk, f"Case {n}") for n in range(7)]
    answered = convs[4]
    clock.advance(49 * H)
    # Its customer answered a moment before the sweep, on a process that died before reacting.
    await say(desk, desk.customer, answered, "Here are the logs", react=False)
    before = {conv: await last_seq(desk, conv) for conv in convs}
    sub = await desk.svc.broker.subscribe(*(conversation_channel(conv) for conv in convs))

    with caplog.at_level(logging.WARNING, logger="escalation.jobs"):
        assert (await desk.sweeper.run_once())["tickets.auto_close"] == 6
    assert [r.getMessage() for r in caplog.records if r.name == "escalation.jobs"] == []  # no batch retried alone
    await sub.close()
    published = [msgspec.json.decode(message) async for _, message in sub]

    for conv in convs:
        log = await stored_log(desk.svc, desk.agent, conv)
        # What the pass stored is what it published, in order, ids and seqs included.
        mine = [e for e in published if e["conversation_id"] == conv]
        assert [_identity(e) for e in mine] == [_identity(e) for e in log if e["seq"] > before[conv]]
        # The stream has no gap, and every event names the public one before it.
        assert [e["seq"] for e in log] == list(range(1, len(log) + 1))
        public = 0
        for event in log:
            assert event["prev_public_seq"] == public
            public = public if event["internal"] else event["seq"]
        closes = Counter(e["data"].get("event") for e in mine)["conversation.closed"]
        ticket = await tickets.get_ticket(desk.svc, desk.agent, conv)
        if conv == answered:
            assert (closes, ticket["status"]) == (0, "in_progress")  # the reply reopened it
        else:
            assert (closes, ticket["status"]) == (1, "closed")
    again = await desk.sweeper.run_once()
    assert (again["tickets.auto_close"], again["tickets.sla"], again["tickets.convert"]) == (0, 0, 0)


async def test_a_failing_ticket_rolls_back_its_batch_and_holds_up_only_itself(
    desk: Desk, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    convs = [await chat(desk, subject=f"Case {n}") for n in range(4)]
    broken = convs[1]

    async def touch(work: Work) -> int:
        await work.append("test.touched", None, internal=True)
        if work.conv.id == broken:
            raise RuntimeError("this ticket's step fails")
        return 1

    with pytest.raises(RuntimeError):
        await run_batch(desk.svc, convs, touch)
    assert [(await system_events(desk, conv)).count("test.touched") for conv in convs] == [0, 0, 0, 0]

    monkeypatch.setattr(jobs, "UNITS_PER_TRANSACTION", 3)
    with caplog.at_level(logging.WARNING, logger="escalation.jobs"):
        assert await jobs.act_on(desk.svc, convs, touch) == 3
    assert [(await system_events(desk, conv)).count("test.touched") for conv in convs] == [1, 0, 1, 1]
    failures = [(r.levelno, r.getMessage()) for r in caplog.records if r.name == "escalation.jobs"]
    assert failures == [
        (logging.WARNING, "sweep step touch failed on a batch of 3; retrying its tickets one by one"),
        (logging.ERROR, f"ticket {broken}: sweep step touch failed; retrying on the next pass"),
    ]


async def test_two_sweepers_with_small_batches_close_each_ticket_once(
    desk: Desk, clock: ManualClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(jobs, "UNITS_PER_TRANSACTION", 2)
    convs = [await waiting_chat(desk, f"Case {n}") for n in range(5)]
    clock.advance(49 * H)
    second = build_services(desk.svc.settings, clock=clock)
    await second.broker.connect()
    try:
        done = await asyncio.gather(desk.sweeper.run_once(), build_sweeper(second).run_once())
    finally:
        await second.close()
    assert sum(d["tickets.auto_close"] for d in done) == 5
    for conv in convs:
        assert Counter(await system_events(desk, conv))["conversation.closed"] == 1

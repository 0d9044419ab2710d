"""The sender job against a real aiosmtpd server (STARTTLS and AUTH): delivery, retries
with backoff, permanent refusals and suppression, hangs and drops, giving up, leases,
and two senders at once."""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from chat.clock import ManualClock
from chat.mail import outbox
from chat.mail.devbox import DevMailbox
from chat.mail.models import MailStatus, MailSuppression
from chat.mail.sender import LEASE, send_due
from chat.mail.smtp import SmtpTransport
from chat.mail.transport import Envelope, MailTransport
from chat.services import Services, open_services
from tests.chat.mail.outbox_rows import queue_rows, rows
from tests.conftest import make_settings
from tests.support.smtp_server import Fault, SmtpServer

MINUTE = timedelta(minutes=1)


def transport_for(smtp: SmtpServer) -> SmtpTransport:
    return SmtpTransport(smtp.url, timeout=1.0, tls_context=smtp.client_tls)


async def services(db_url: str, var: Path, clock: ManualClock, mail: MailTransport, **env: str) -> Services:
    svc = open_services(make_settings(db_url, var, MAIL_FROM="Acme Support <support@ours.example>", **env),
                        clock=clock, mail=mail)
    await svc.broker.connect()
    return svc


@pytest.fixture
async def svc(sqlite_url: str, tmp_path: Path, clock: ManualClock, smtp: SmtpServer) -> AsyncIterator[Services]:
    services_ = await services(sqlite_url, tmp_path / "var", clock, transport_for(smtp), MAIL_RETRY_HOURS="1")
    try:
        yield services_
    finally:
        await services_.close()


async def test_due_mails_go_out_on_one_connection_and_are_marked_sent(svc: Services, smtp: SmtpServer,
                                                                       clock: ManualClock) -> None:
    now = clock.now()
    ids = await queue_rows(svc, 5, to="p{n}@customer.example")
    [later] = await queue_rows(svc, 1, due=now + MINUTE, prefix="later")
    assert await send_due(svc, now) == 5
    stored = {r.id: r for r in await rows(svc)}
    assert [stored[i].status for i in ids] == [MailStatus.SENT] * 5
    assert {(stored[i].transport, stored[i].sent_at, stored[i].attempts, stored[i].claimed_until) for i in ids} == {
        ("smtp", now, 1, None)
    }
    assert stored[later].status is MailStatus.PENDING
    assert sorted(r.rcpt_tos[0] for r in smtp.received) == [f"p{n}@customer.example" for n in range(5)]
    assert {r.mail_from for r in smtp.received} == {"support@ours.example"}  # MAIL_FROM's bare address
    assert sorted(smtp.message_ids()) == sorted(stored[i].message_id for i in ids)
    assert (smtp.sessions, smtp.logins) == (1, 1)
    assert await send_due(svc, now) == 0


async def test_a_temporary_refusal_is_retried_after_backoff_then_delivered_once(
    svc: Services, smtp: SmtpServer, clock: ManualClock
) -> None:
    smtp.set_fault(Fault.TEMP_RCPT, times=1)
    await queue_rows(svc, 1)
    t0 = clock.now()
    assert await send_due(svc, t0) == 1
    [row] = await rows(svc)
    assert (row.status, row.attempts, row.due_at, row.claimed_until) == (MailStatus.PENDING, 1, t0 + MINUTE, None)
    assert row.last_error == "RCPT 451 4.7.1 Try again later"
    clock.advance(30 * timedelta(seconds=1))
    assert await send_due(svc, clock.now()) == 0  # not due yet
    clock.advance(30 * timedelta(seconds=1))
    assert await send_due(svc, clock.now()) == 1
    [row] = await rows(svc)
    assert (row.status, row.attempts, row.sent_at) == (MailStatus.SENT, 2, t0 + MINUTE)
    assert smtp.message_ids() == [row.message_id]


async def test_a_permanent_refusal_fails_the_mail_and_suppresses_the_address(
    svc: Services, smtp: SmtpServer, clock: ManualClock
) -> None:
    smtp.set_fault(Fault.PERM_RCPT, address="bad@customer.example", times=5)
    [bad] = await queue_rows(svc, 1, to="bad@customer.example", prefix="a")
    [good] = await queue_rows(svc, 1, to="good@customer.example", prefix="b")
    assert await send_due(svc, clock.now()) == 2
    # Queued before the refusal, to the same address in another case: not even tried.
    [again] = await queue_rows(svc, 1, to="Bad@Customer.example", prefix="c")
    assert await send_due(svc, clock.now()) == 1
    stored = {r.id: r for r in await rows(svc)}
    assert (stored[bad].status, stored[bad].last_error) == (MailStatus.FAILED, "RCPT 550 5.1.1 No such user")
    assert (stored[again].status, stored[again].last_error, stored[again].attempts) == (
        MailStatus.FAILED, outbox.SUPPRESSED, 0
    )
    assert stored[good].status is MailStatus.SENT
    assert smtp.faults[0].times == 4  # one RCPT to the bad address, ever
    assert [r.rcpt_tos for r in smtp.received] == [["good@customer.example"]]
    async with svc.reads() as db:
        [entry] = (await db.scalars(select(MailSuppression))).all()
        assert (entry.address, entry.reason, entry.mail_id) == ("bad@customer.example", "RCPT 550 5.1.1 No such user", bad)
        assert await outbox.is_suppressed(db, "BAD@customer.example")
    async with svc.sessions() as db, db.begin():
        assert await outbox.clear_suppression(db, "bad@customer.example")
        assert not await outbox.clear_suppression(db, "bad@customer.example")
        assert not await outbox.is_suppressed(db, "bad@customer.example")


async def test_a_hanging_server_times_out_and_the_mail_is_retried(svc: Services, smtp: SmtpServer,
                                                                   clock: ManualClock) -> None:
    smtp.set_fault(Fault.HANG_DATA, times=1)
    await queue_rows(svc, 1)
    assert await asyncio.wait_for(send_due(svc, clock.now()), 5) == 1
    [row] = await rows(svc)
    assert (row.status, row.last_error) == (MailStatus.PENDING, "no answer within 1 s")
    clock.advance(MINUTE)
    assert await send_due(svc, clock.now()) == 1
    [row] = await rows(svc)
    assert row.status is MailStatus.SENT
    assert smtp.message_ids() == [row.message_id]


async def test_a_drop_mid_data_is_retried_and_delivered_exactly_once(svc: Services, smtp: SmtpServer,
                                                                      clock: ManualClock) -> None:
    smtp.set_fault(Fault.DROP_DATA, times=2)
    await queue_rows(svc, 3, to="p{n}@customer.example")
    for _ in range(4):
        await send_due(svc, clock.now())
        clock.advance(5 * MINUTE)
    stored = await rows(svc)
    assert {r.status for r in stored} == {MailStatus.SENT}
    assert Counter(smtp.message_ids()) == Counter({r.message_id: 1 for r in stored})


async def test_retries_give_up_after_mail_retry_hours_without_suppressing(svc: Services, smtp: SmtpServer,
                                                                           clock: ManualClock) -> None:
    smtp.set_fault(Fault.TEMP_DATA)
    t0 = clock.now()
    await queue_rows(svc, 1)
    schedule = []
    for _ in range(10):
        await send_due(svc, clock.now())
        [row] = await rows(svc)
        if row.status is not MailStatus.PENDING:
            break
        schedule.append(row.due_at - t0)
        clock.set(row.due_at)
    # Backoff 1, 5, 15, 30 min, then capped at created_at + MAIL_RETRY_HOURS (1 h here).
    assert [int(d / MINUTE) for d in schedule] == [1, 6, 21, 51, 60]
    assert (row.status, row.attempts) == (MailStatus.FAILED, 6)
    assert row.last_error == "gave up after 1 h: DATA 451 4.3.0 Temporary failure after DATA"
    assert smtp.received == []
    async with svc.reads() as db:
        assert not await outbox.is_suppressed(db, row.to_addr)


async def test_an_expired_lease_resends_the_same_message_id(svc: Services, smtp: SmtpServer,
                                                             clock: ManualClock) -> None:
    # A sender claimed the mail, sent it, and was killed before it could mark it.
    await queue_rows(svc, 1)
    async with svc.sessions() as db, db.begin():
        [claimed] = await outbox.claim_due(db, clock.now(), limit=10, lease=LEASE)
    await svc.mail.send(Envelope(claimed.id, "support@ours.example", claimed.to_addr, claimed.raw))
    assert await send_due(svc, clock.now()) == 0  # the lease still holds
    clock.advance(LEASE - MINUTE)
    assert await send_due(svc, clock.now()) == 0
    clock.advance(2 * MINUTE)
    assert await send_due(svc, clock.now()) == 1
    [row] = await rows(svc)
    assert (row.status, row.attempts) == (MailStatus.SENT, 1)
    assert smtp.message_ids() == [claimed.message_id, claimed.message_id]


async def test_a_dead_relay_stops_the_pass_and_releases_the_untried(svc: Services, smtp: SmtpServer,
                                                                     clock: ManualClock) -> None:
    await queue_rows(svc, 10, to="p{n}@customer.example")
    await smtp.stop()
    assert await send_due(svc, clock.now(), concurrency=1) == 3
    stored = await rows(svc)
    assert [(r.attempts, r.claimed_until is None) for r in stored] == [(1, True)] * 3 + [(0, True)] * 7
    assert all(r.status is MailStatus.PENDING for r in stored)
    assert {r.due_at - clock.now() for r in stored} == {MINUTE, timedelta(0)}
    await smtp.start()
    assert await send_due(svc, clock.now()) == 7
    clock.advance(MINUTE)
    assert await send_due(svc, clock.now()) == 3
    assert len(set(smtp.message_ids())) == len(smtp.received) == 10


async def test_two_senders_on_sqlite_never_send_a_mail_twice(sqlite_url: str, tmp_path: Path, clock: ManualClock,
                                                             smtp: SmtpServer) -> None:
    workers = [await services(sqlite_url, tmp_path / f"var{n}", clock, transport_for(smtp)) for n in range(2)]
    try:
        await queue_rows(workers[0], 60, to="p{n}@customer.example")
        done = await asyncio.gather(*(send_due(w, clock.now(), limit=7) for w in workers))
        stored = await rows(workers[0])
    finally:
        for w in workers:
            await w.close()
    assert sum(done) == 60
    assert {r.status for r in stored} == {MailStatus.SENT}
    assert Counter(smtp.message_ids()) == Counter({r.message_id: 1 for r in stored})


async def test_the_development_mailbox_keeps_every_mail_as_sent(sqlite_url: str, tmp_path: Path,
                                                                clock: ManualClock) -> None:
    svc = await services(sqlite_url, tmp_path / "var", clock, DevMailbox())
    try:
        await queue_rows(svc, 3)
        assert await send_due(svc, clock.now()) == 3
        stored = await rows(svc)
    finally:
        await svc.close()
    assert {(r.status, r.transport) for r in stored} == {(MailStatus.SENT, "devbox")}

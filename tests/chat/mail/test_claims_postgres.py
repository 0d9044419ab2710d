"""Claiming on the real PostgreSQL server: ``FOR UPDATE SKIP LOCKED`` gives two senders
disjoint rows at once (neither waits for the other), and two whole senders deliver every
mail exactly once."""

from __future__ import annotations

import asyncio
from collections import Counter
from pathlib import Path

import pytest

from chat.clock import ManualClock
from chat.mail import outbox
from chat.mail.models import MailStatus
from chat.mail.sender import LEASE, send_due
from chat.mail.smtp import SmtpTransport
from chat.services import open_services
from tests.chat.mail.outbox_rows import queue_rows, rows
from tests.conftest import fresh_postgres_db, make_settings
from tests.support.processes import PostgresServer
from tests.support.smtp_server import SmtpServer

pytestmark = pytest.mark.postgres


async def test_concurrent_claims_skip_each_others_rows(postgres: PostgresServer, tmp_path: Path,
                                                       clock: ManualClock) -> None:
    svc = open_services(make_settings(fresh_postgres_db(postgres), tmp_path / "var"), clock=clock)
    try:
        ids = await queue_rows(svc, 12)
        now = clock.now()
        async with svc.sessions() as first, svc.sessions() as second:
            async with first.begin():
                a = await outbox.claim_due(first, now, limit=5, lease=LEASE)
                # The first transaction still holds its row locks: the second must skip
                # them, not wait for them (a wait would hit this timeout).
                async with second.begin():
                    b = await asyncio.wait_for(outbox.claim_due(second, now, limit=5, lease=LEASE), 5)
            async with svc.sessions() as third, third.begin():
                c = await outbox.claim_due(third, now, limit=5, lease=LEASE)
        stored = await rows(svc)
    finally:
        await svc.close()
    assert [m.id for m in a] == ids[:5]  # the oldest due first
    assert [m.id for m in b] == ids[5:10]
    assert [m.id for m in c] == ids[10:]  # the leases taken by a and b hold
    assert {r.claimed_until for r in stored} == {now + LEASE}


async def test_two_senders_on_postgres_send_each_mail_once(postgres: PostgresServer, tmp_path: Path,
                                                           clock: ManualClock, smtp: SmtpServer) -> None:
    url = fresh_postgres_db(postgres)
    workers = [
        open_services(make_settings(url, tmp_path / f"var{n}", MAIL_FROM="support@ours.example"), clock=clock,
                      mail=SmtpTransport(smtp.url, timeout=1.0, tls_context=smtp.client_tls))
        for n in range(2)
    ]
    try:
        await queue_rows(workers[0], 60, to="p{n}@customer.example")
        done = await asyncio.gather(*(send_due(w, clock.now(), limit=7) for w in workers))
        stored = await rows(workers[0])
    finally:
        for w in workers:
            await w.close()
    assert sum(done) == 60 and min(done) > 0
    assert {r.status for r in stored} == {MailStatus.SENT}
    assert Counter(smtp.message_ids()) == Counter({r.message_id: 1 for r in stored})

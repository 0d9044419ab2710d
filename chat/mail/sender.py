"""The sender: delivers due outbox mails through ``svc.mail`` (a sweeper job).

Per mail, at most one resend: a batch is claimed (leased) in one short transaction, each
mail is sent outside any transaction and marked in a short transaction right after its
outcome (shared with the outcomes other lanes had at that moment: :func:`_record`), before
its lane sends anything else. A sender killed mid-send has marked everything it finished; what it was
sending keeps its lease until the lease expires, then goes again with the same
``Message-ID``. With ``concurrency`` sends in flight, that is at most ``concurrency`` mails,
each resent once.

A call is bounded: it stops taking new mails after :data:`CALL_BUDGET_SECONDS` (the other
sweeper jobs wait for it) and after :data:`GIVE_UP_AFTER_TEMPORARY` temporary failures in
a row (the relay is down or hanging: hammering it helps no one); the mails it claimed and
did not try are released at once, without counting an attempt.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from email.utils import parseaddr

from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncSession

from chat import metrics
from chat.mail import outbox
from chat.mail.models import MailStatus, OutboxMail
from chat.mail.transport import Envelope, Outcome, Result
from chat.services import Services

log = logging.getLogger("chat.mail.sender")

# How long a claim holds. It must outlast the longest a claimed mail can wait for its mark:
# the call's budget plus one send's timeout (SMTP_TIMEOUT_SECONDS, at most 10 min). A
# shorter lease would let a second sender resend a mail the first is still sending.
LEASE = timedelta(minutes=15)
# A call sends for at most this long before giving the sweeper back to its other jobs
# (SLA warnings must not wait for a 10 000-mail backlog); the next pass goes on.
CALL_BUDGET_SECONDS = 20.0
# Consecutive temporary failures after which the rest of the batch waits for the next
# pass: one greylisting recipient does not stop the others, a dead relay does.
GIVE_UP_AFTER_TEMPORARY = 3
# Sends in flight at once: a round trip to the relay is idle time for this process, and
# four connections fill it (bench/mail_bench.py). The SMTP transport opens as many.
SEND_CONCURRENCY = 4


def envelope_sender(mail_from: str) -> str:
    """MAIL FROM: the bare address of ``MAIL_FROM`` (settings checked its form)."""
    return parseaddr(mail_from)[1]


@dataclass
class _Mark:
    mail: OutboxMail
    outcome: Outcome | None
    done: asyncio.Future[MailStatus]


@dataclass
class _Run:
    """One call's progress, shared by its concurrent sends."""

    svc: Services
    now: datetime
    sender: str
    deadline: float
    temporary_in_a_row: int = 0
    marked: int = 0
    waiting: list[_Mark] = field(default_factory=list)
    """Outcomes waiting for the next group commit."""
    writing: asyncio.Lock = field(default_factory=asyncio.Lock)

    @property
    def stopping(self) -> bool:
        return time.monotonic() >= self.deadline or self.temporary_in_a_row >= GIVE_UP_AFTER_TEMPORARY


async def send_due(svc: Services, now: datetime, *, limit: int = 200, concurrency: int = SEND_CONCURRENCY) -> int:
    """Send what is due at ``now``, batch after batch of ``limit``, until nothing is due
    or the call's budget is spent; returns how many mails were marked (sent, retried,
    failed). A sweeper job (``escalation.worker.Job``)."""
    run = _Run(svc, now, envelope_sender(svc.settings.mail_from), time.monotonic() + CALL_BUDGET_SECONDS)
    while not run.stopping:
        async with svc.sessions() as db, db.begin():
            batch = await outbox.claim_due(db, now, limit=limit, lease=LEASE)
            suppressed = await outbox.suppressed_among(db, {m.to_addr for m in batch})
        if not batch:
            break
        untried = await _deliver(run, batch, suppressed, concurrency)
        if untried:
            async with svc.sessions() as db, db.begin():
                await outbox.release(db, untried, now)
        if len(batch) < limit:
            break
    return run.marked


async def _deliver(run: _Run, batch: list[OutboxMail], suppressed: set[str], concurrency: int) -> list[OutboxMail]:
    """Send ``batch`` with ``concurrency`` sends in flight; returns the mails not tried."""
    queue = iter(batch)
    untried: list[OutboxMail] = []

    async def lane(mails: Iterator[OutboxMail]) -> None:
        for mail in mails:
            if run.stopping:
                untried.append(mail)
                continue
            if outbox.normalize_address(mail.to_addr) in suppressed:
                await _record(run, mail, None)
                continue
            outcome = await run.svc.mail.send(Envelope(mail.id, run.sender, mail.to_addr, mail.raw))
            run.temporary_in_a_row = run.temporary_in_a_row + 1 if outcome.result is Result.TEMPORARY else 0
            await _record(run, mail, outcome)

    # The lanes share one iterator: each takes the next mail when its send is done.
    await asyncio.gather(*(lane(queue) for _ in range(max(1, concurrency))))
    return untried


async def _record(run: _Run, mail: OutboxMail, outcome: Outcome | None) -> None:
    """Mark one mail (``None``: its address is suppressed) and return once the mark is
    committed; only then does the lane send its next mail.

    Group commit: marks that arrive while another lane's transaction is being written wait
    for it, then go together in the next one. A lane still never has more than one mail
    unmarked, so the "at most ``concurrency`` mails resent" promise holds, while the
    database sees one short write transaction per wave of outcomes instead of per mail
    (on SQLite the single writer is what limits the rate).
    """
    done: asyncio.Future[MailStatus] = asyncio.get_running_loop().create_future()
    run.waiting.append(_Mark(mail, outcome, done))
    async with run.writing:
        if not done.done():
            wave, run.waiting = run.waiting, []
            try:
                async with run.svc.sessions() as db, db.begin():
                    statuses = [await _apply(run, db, m) for m in wave]
            except Exception as exc:  # noqa: BLE001 - handed to every lane of the wave
                # Nothing of the wave is marked: its mails keep their leases and go again
                # when the leases expire. Each lane re-raises it (the sweeper logs it once per job).
                for m in wave:
                    m.done.set_exception(exc)
            else:
                for m, status in zip(wave, statuses, strict=True):
                    m.done.set_result(status)
    status = await done
    run.marked += 1
    metrics.MAIL_SENT[_outcome_name(outcome, status)].inc()
    # One line per failure, no traceback: a refusal is the server's answer, not our bug.
    if outcome is None:
        log.info("mail %d (%s) to %s not sent: address suppressed", mail.id, mail.kind, mail.to_addr)
    elif outcome.result is Result.PERMANENT:
        log.warning("mail %d (%s) to %s refused for good, address suppressed: %s",
                    mail.id, mail.kind, mail.to_addr, outcome.detail)
    elif outcome.result is Result.TEMPORARY:
        gave_up = status is MailStatus.FAILED
        log.warning("mail %d (%s) to %s %s after attempt %d: %s", mail.id, mail.kind, mail.to_addr,
                    "failed, out of retries," if gave_up else "will be retried", mail.attempts + 1, outcome.detail)


def _outcome_name(outcome: Outcome | None, status: MailStatus) -> str:
    """The metric's outcome of one marked mail (chat.metrics.MAIL_OUTCOMES)."""
    if outcome is None:
        return "suppressed"
    if outcome.result is Result.DELIVERED:
        return "sent"
    return "failed" if status is MailStatus.FAILED else "deferred"


async def send_backlog(svc: Services, now: datetime) -> datetime | None:
    """The due time of the oldest mail the sender could take now (``mail.send``'s lag;
    an ``escalation.worker.Backlog``)."""
    async with svc.reads() as db:
        return await outbox.oldest_claimable(db, now)


async def outbox_depth(svc: Services) -> metrics.OutboxDepth | None:
    """The outbox's waiting rows now, for the metrics scrape; None when the database does
    not answer (the scrape still reports everything else)."""
    try:
        async with svc.reads() as db:
            held, pending, due = await outbox.count_waiting(db, svc.clock.now())
    except (SQLAlchemyError, OSError) as exc:
        log.warning("outbox depth not read for the metrics: %s", type(exc).__name__)
        return None
    return metrics.OutboxDepth(held=held, pending=pending, due=due)


async def _apply(run: _Run, db: AsyncSession, mark: _Mark) -> MailStatus:
    mail, outcome, now = mark.mail, mark.outcome, run.now
    if outcome is None:
        await outbox.mark_suppressed(db, mail, now)
        return MailStatus.FAILED
    if outcome.result is Result.DELIVERED:
        await outbox.mark_sent(db, mail, run.svc.mail.name, now)
        return MailStatus.SENT
    if outcome.result is Result.PERMANENT:
        await outbox.mark_failed_permanently(db, mail, now, outcome.detail)
        return MailStatus.FAILED
    return await outbox.mark_retry(db, mail, now, outcome.detail, retry_hours=run.svc.settings.mail_retry_hours)

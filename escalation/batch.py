"""Several tickets' units of work in one transaction, for the sweeper.

A sweep acts on hundreds of tickets that each need only a few statements. Run one by one
(:func:`escalation.unit_of_work.run_unit`), each paid for its own transaction (on SQLite a
``BEGIN IMMEDIATE`` and a commit), its own reading of the desk's dictionaries, plan tier
and SLA marks: the fixed costs were most of the work. :func:`run_batch` takes the locks of
a batch at once, reads what the batch shares once, then runs every ticket exactly as a
unit would (catch up, change, recompute) and commits them together. Each ticket's change
is still atomic with its history events (all of the batch's are), and its events are
published only after the commit.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, TypeVar

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from chat.models import Conversation
from chat.services import Services
from escalation.calendars import as_utc
from escalation.chat_reads import company_terms
from escalation.config import Desk, load_desk
from escalation.errors import EscalationError
from escalation.models import Ticket, TicketSlaMark
from escalation.unit_of_work import (
    Work,
    app_error,
    catch_up,
    publish_work,
    recompute,
    run_unit,
)

T = TypeVar("T")

# Tickets acted on in one transaction. Larger batches spread a transaction's fixed cost
# (BEGIN IMMEDIATE, locks, the shared reads, the commit) thinner but hold the write lock
# longer - on SQLite the whole database's, so chat sends wait for it. 25 gave most of the
# gain: about 25-45 ms a transaction measured on two busy cores (the sweeper's benchmark).
UNITS_PER_TRANSACTION = 25


async def lock_tickets(db: AsyncSession, ids: Sequence[int]) -> dict[int, tuple[Conversation, Ticket]]:
    """The tickets of ``ids`` whose conversations this transaction could lock at once,
    with them; conversations another transaction holds are left out (PostgreSQL ``SKIP
    LOCKED``; on SQLite the transaction's write lock covers them all). Locked in id order,
    so two batches never wait on each other crosswise."""
    # Lock first, read after, in two statements. One locking join would read the ticket
    # from the statement's snapshot: on PostgreSQL, a conversation another sweeper's batch
    # committed after that snapshot but before this lock was taken comes back current (the
    # locked row is re-read), its ticket row as it was before that commit — an auto-close
    # or an escalation step would then run a second time (seen as a rare double close in
    # tests/escalation/test_sweeper.py's two-worker test). The second statement's snapshot
    # is taken after the locks, so it sees every commit that released them.
    locked_ids = list(await db.scalars(
        select(Conversation.id)
        .where(Conversation.id.in_(ids))
        .order_by(Conversation.id)
        .with_for_update(skip_locked=True)
    ))
    if not locked_ids:
        return {}
    rows = await db.execute(
        select(Conversation, Ticket)
        .join(Ticket, Ticket.conversation_id == Conversation.id)
        .where(Conversation.id.in_(locked_ids))
        .execution_options(populate_existing=True)
    )
    return {conv.id: (conv, ticket) for conv, ticket in rows}


async def _marks(db: AsyncSession, ids: Sequence[int]) -> dict[int, set[str]]:
    found: dict[int, set[str]] = {i: set() for i in ids}
    rows = await db.execute(
        select(TicketSlaMark.conversation_id, TicketSlaMark.key).where(TicketSlaMark.conversation_id.in_(ids))
    )
    for conversation_id, key in rows:
        found[conversation_id].add(key)
    return found


async def run_batch(
    svc: Services, conversation_ids: Sequence[int], change: Callable[[Work], Awaitable[T]], *, desk: Desk | None = None
) -> list[tuple[T, Work]]:
    """Run ``change`` on the existing tickets of ``conversation_ids`` in one transaction,
    each as :func:`escalation.unit_of_work.run_unit` would; publish every ticket's events after
    the commit. Skipped: conversations another worker holds, and ids without a ticket row
    (the backfill creates those). ``desk``: the configuration a sweep pass already loaded
    (else it is read here). Any error rolls the whole batch back and is raised: the caller
    retries its tickets one unit each."""
    if not conversation_ids:
        return []
    done: list[tuple[T, Work]] = []
    async with svc.sessions.begin() as db:
        locked = await lock_tickets(db, conversation_ids)
        ids = [i for i in dict.fromkeys(conversation_ids) if i in locked]
        if not ids:
            return []
        desk = desk or await load_desk(db, svc.settings)
        terms = await company_terms(db, {o for conv, _ in locked.values() if (o := conv.organization_id) is not None})
        marks = await _marks(db, ids)
        now = as_utc(svc.clock.now())
        shared: dict[str, Any] = {}
        for i in ids:
            conv, ticket = locked[i]
            company = terms.get(conv.organization_id) if conv.organization_id is not None else None
            work = Work(svc, db, desk, now, conv, ticket, company.tier if company else None, _marks=marks[i],
                        deferred=True, shared=shared, company_auto_close=company.auto_close if company else None)
            await catch_up(work)
            try:
                result = await change(work)
            except EscalationError as exc:
                raise app_error(exc) from None
            await recompute(work)
            done.append((result, work))
        # Safe, as in finish_work: every conversation's lock is held, so nothing was
        # appended that is not ours or already caught up; and ours were numbered on the
        # loaded rows (Work.append), so their last_seq is the stored one. Checked after
        # the flush all the same: a mismatch would mark an unread event as processed.
        for _, work in done:
            work.ticket.processed_seq = work.conv.last_seq
        await db.flush()
        stored = dict((await db.execute(
            select(Conversation.id, Conversation.last_seq).where(Conversation.id.in_(ids))
        )).all())
        for _, work in done:
            if stored.get(work.conv.id) != work.ticket.processed_seq:
                raise RuntimeError(f"conversation {work.conv.id}: events appended outside the batch's own numbering")
            work.settle()
    for _, work in done:
        await publish_work(svc, work)
    return done


async def run_in_batches(
    svc: Services,
    ids: Sequence[int],
    change: Callable[[Work], Awaitable[T]],
    *,
    log: logging.Logger,
    what: str,
    then: str,
    desk: Desk | None = None,
    per_transaction: int = UNITS_PER_TRANSACTION,
    skip_locked: bool = False,
) -> dict[int, T]:
    """Run ``change`` on the existing tickets of ``ids``, ``per_transaction`` to a
    transaction (:func:`run_batch`); the results by conversation id. A batch that fails
    is rolled back and its tickets retried one unit each, so one bad ticket holds up only
    itself; a unit that fails is logged (``what`` failed; ``then``) and left out. A
    conversation another transaction holds: with ``skip_locked``, left out (a sweeper
    moves on; its next pass retries); else waited for, in a unit of its own."""
    results: dict[int, T] = {}
    for start in range(0, len(ids), per_transaction):
        chunk = list(ids[start:start + per_transaction])
        try:
            for result, work in await run_batch(svc, chunk, change, desk=desk):
                results[work.conv.id] = result
            alone = [] if skip_locked else [i for i in dict.fromkeys(chunk) if i not in results]
        except Exception:
            log.warning("%s failed on a batch of %d; retrying its tickets one by one", what, len(chunk),
                        exc_info=True)
            alone = list(dict.fromkeys(chunk))
        for conversation_id in alone:
            try:
                done = await run_unit(svc, conversation_id, change, create=False, skip_locked=skip_locked)
            except Exception:
                log.exception("ticket %s: %s failed; %s", conversation_id, what, then)
                continue
            if done is not None:
                results[conversation_id] = done[0]
    return results

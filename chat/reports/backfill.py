"""The report facts of tickets from before the reports (issue 17): the sweeper job
``reports.backfill`` completes the rows whose ``report_facts`` is below
:data:`escalation.report_facts.REPORT_FACTS_VERSION`.

Each such ticket goes through a unit of work that changes nothing
(:func:`escalation.batch.run_in_batches`): the unit's recompute derives every fact from
the row — times from ``created_at``/``first_replied_at`` and the SLA facts, the outcomes
from the deadlines and the SLA marks, the reopens from the SLA facts, which record each
return from proposed-to-close — exactly as for a live ticket. Only the rating is not on the
row: it is read from ``ticket_ratings`` (the latest round's). The rollup
(:mod:`chat.reports.rollup`), starting at the beginning of the log, fills the message
counts. Not in the migration: docs/operations.md, "Reports".
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select

from chat.services import Services
from escalation.batch import run_in_batches
from escalation.models import Ticket, TicketRating
from escalation.report_facts import REPORT_FACTS_VERSION
from escalation.unit_of_work import Work

log = logging.getLogger("chat.reports.backfill")

# Tickets per pass: a few of the sweeper's transactions (25 tickets each) — a pass stays
# about a second on a busy desk, and 100 000 tickets are done in some 500 passes (~45 min
# at a pass every 5 s).
BATCH = 200
# Once no row is left, look again this much later: only a raw insert (a bulk import) or a
# new REPORT_FACTS_VERSION (which comes with a restart) makes new ones, and the look is a
# scan of the tickets' primary key.
IDLE = timedelta(hours=1)


@dataclass
class ReportsBackfill:
    """One sweeper's progress through the backfill: the last ticket id done (each pass
    reads the next part of the primary key, not the whole table again) and when to look
    again once none was left. Nothing another process needs; after a restart it starts
    again from the bottom."""

    after: int = 0
    next_run: datetime | None = None

    async def job(self, svc: Services, now: datetime) -> int:
        """The sweeper job: complete up to :data:`BATCH` tickets; how many it did."""
        if self.next_run is not None and now < self.next_run:
            return 0
        ids, ratings = await pending(svc, self.after)
        if len(ids) < BATCH:
            # The end of the table: start at the bottom next time (tickets skipped because
            # another worker held them, or that failed, are met again then).
            self.after = 0
            if not ids:
                self.next_run = now + IDLE
                return 0
        else:
            self.after = ids[-1]
        return await complete(svc, ids, ratings)


async def pending(svc: Services, after: int) -> tuple[list[int], dict[int, str]]:
    """The next tickets after id ``after`` whose facts are behind, and their latest ratings."""
    async with svc.reads() as db:
        ids = list(await db.scalars(
            select(Ticket.conversation_id)
            .where(Ticket.conversation_id > after, Ticket.report_facts < REPORT_FACTS_VERSION)
            .order_by(Ticket.conversation_id)
            .limit(BATCH)
        ))
        ratings: dict[int, str] = {}
        if ids:
            rows = await db.execute(
                select(TicketRating.conversation_id, TicketRating.value)
                .where(TicketRating.conversation_id.in_(ids))
                .order_by(TicketRating.conversation_id, TicketRating.round)
            )
            ratings = dict(rows.all())  # the highest round's value is the last one kept
    return ids, ratings


async def complete(svc: Services, ids: list[int], ratings: dict[int, str]) -> int:
    """Run the no-op unit on ``ids``; the recompute at its end writes the facts."""

    async def backfill_facts(work: Work) -> int:
        t = work.ticket
        if t.report_facts >= REPORT_FACTS_VERSION:
            return 0  # done meanwhile (another worker)
        if t.rating is None:
            # A rating given since the upgrade is on the row already, and is the latest.
            t.rating = ratings.get(t.conversation_id)
        t.report_facts = REPORT_FACTS_VERSION
        return 1

    done = await run_in_batches(svc, ids, backfill_facts, log=log, what="report facts backfill",
                                then="retrying on a later pass", skip_locked=True)
    return sum(done.values())

"""Plain reads of the chat tables that a ticket's unit of work needs: the conversation under
its lock, the plan tier of its organization, and the turns of the messages stored since
the ticket's last unit. No rules: :mod:`escalation.unit_of_work` applies them.
"""

from __future__ import annotations

from datetime import datetime
from typing import NamedTuple

from sqlalchemy import func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from chat.events import EventKind
from chat.models import Conversation, Event, Organization, User
from escalation.autoclose import AutoCloseOverride
from escalation.errors import EscalationError
from escalation.policy_table import PlanTier


async def lock_conversation(db: AsyncSession, conversation_id: int, *, skip_locked: bool = False) -> Conversation | None:
    """The conversation, re-read under its row lock (PostgreSQL ``FOR UPDATE``; SQLite's
    write lock is the transaction's); ``None`` if missing, or held elsewhere with
    ``skip_locked``."""
    return await db.scalar(
        select(Conversation)
        .where(Conversation.id == conversation_id)
        .with_for_update(skip_locked=skip_locked)
        .execution_options(populate_existing=True)
    )


async def plan_tier(db: AsyncSession, organization_id: int | None) -> PlanTier | None:
    if organization_id is None:
        return None
    return await db.scalar(select(Organization.plan_tier).where(Organization.id == organization_id))


class CompanyTerms(NamedTuple):
    """What a ticket's unit needs of the customer's company: its plan (the SLA policy) and
    its own auto-close delays (``organizations.auto_close_*``; None: the policy's, else
    the desk's)."""

    tier: PlanTier
    auto_close: AutoCloseOverride | None


async def company_terms(db: AsyncSession, organization_ids: set[int]) -> dict[int, CompanyTerms]:
    """The terms of each company of ``organization_ids``, in one read (a unit reads one, a
    sweeper batch its tickets' companies)."""
    if not organization_ids:
        return {}
    rows = await db.execute(
        select(Organization.id, Organization.plan_tier, Organization.auto_close_waiting, Organization.auto_close_proposed)
        .where(Organization.id.in_(organization_ids))
    )
    terms: dict[int, CompanyTerms] = {}
    for org_id, tier, waiting, proposed in rows:
        try:
            auto_close = AutoCloseOverride.parse(waiting, proposed)
        except EscalationError:
            # Written around the company editor's check (by hand): the next level decides
            # rather than every unit of the company's tickets failing.
            auto_close = None
        terms[org_id] = CompanyTerms(tier, auto_close)
    return terms


async def reply_turns(db: AsyncSession, conversation_id: int, after_seq: int) -> list[tuple[datetime, User]]:
    """The public messages after ``after_seq`` that can change a ticket, oldest first, with
    their times and authors: the first of each run of one author's messages, and the last
    message.

    Only what a reply changes is read. The same author's next messages change nothing the
    first did not but the activity time, which the last one carries: a chat of thousands
    of lines, or a backfill of everything its reactions skipped, costs its turns, not its
    lines."""
    lines = (
        select(
            Event.seq, Event.created_at, Event.author_id,
            func.lag(Event.author_id).over(order_by=Event.seq).label("previous_author"),
            func.lead(Event.seq).over(order_by=Event.seq).label("next_seq"),
        )
        .where(Event.conversation_id == conversation_id, Event.seq > after_seq,
               Event.type == EventKind.MESSAGE.value, Event.internal.is_(False), Event.author_id.is_not(None))
        .subquery()
    )
    turns = (
        await db.execute(
            select(lines.c.created_at, lines.c.author_id)
            .where(or_(lines.c.previous_author.is_(None), lines.c.previous_author != lines.c.author_id,
                       lines.c.next_seq.is_(None)))
            .order_by(lines.c.seq)
        )
    ).all()
    authors = {user.id: user for user in await db.scalars(select(User).where(User.id.in_({a for _, a in turns})))}
    return [(created_at, authors[author_id]) for created_at, author_id in turns if author_id in authors]

"""The visitor's context beside each chat (issue 18): the page they are on, where they came
from, their language, local time and browser — what their widget reports, and what the
console's side panel shows next to it; and their earlier conversations and tickets.

The widget reports on every start (each page of a site loads it anew) and whenever the
host page changes without a reload; only the latest is kept, one row per person
(``desk_visitor_context``). A report rings the staff inbox for the person's open tickets,
so a console showing one re-reads it: the agent sees the page change live.

What a browser says is the visitor's to say: nothing here is trusted beyond being shown.
Addresses are http(s) only (the console makes links of them), every text is cut to its
column, a time zone must be one the server knows (the console computes the local time
from it)."""

from __future__ import annotations

import re
import unicodedata
from typing import Any
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import msgspec
from sqlalchemy import or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from chat import throttle
from chat.authz import Action, Principal, require
from chat.desk import user_agent
from chat.desk.models import VisitorContext
from chat.desk.scope import DeskScope
from chat.errors import ValidationFailed
from chat.events import ring_inbox
from chat.models import Conversation, User
from chat.people import person_json
from chat.services import Services
from escalation.lifecycle import TicketStatus
from escalation.models import Ticket

MAX_URL = 2000  # the column; longer addresses are cut, they are shown, not followed blindly
MAX_TITLE = 300
MAX_USER_AGENT = 500
# Enough earlier tickets for "has this happened before?"; the rest are a search away.
HISTORY = 10
# Open tickets rung per report: a visitor has one chat, rarely a few.
RING_AT_MOST = 5
# Reports per person per window: a page every 5 s on average is brisk browsing; more is a
# script, and each changed report rings every staff console.
REPORTS_PER_WINDOW = 120
REPORT_WINDOW_SECONDS = 600
_LANGUAGE_TAG = re.compile(r"[A-Za-z]{2,3}(?:-[A-Za-z0-9]{1,8}){0,4}")
_OPEN = (TicketStatus.NEW, TicketStatus.IN_PROGRESS, TicketStatus.WAITING_ON_CUSTOMER, TicketStatus.PROPOSED_TO_CLOSE)


class ContextReport(msgspec.Struct, forbid_unknown_fields=True):
    """``POST /api/widget/context``: every field optional (an absent one is stored empty)."""

    page_url: str | None = None
    page_title: str | None = None
    referrer: str | None = None
    language: str | None = None
    time_zone: str | None = None


def _printable(value: str, limit: int) -> str | None:
    # Control characters (a title's tabs and newlines included) are noise in a side panel.
    clean = "".join(" " if unicodedata.category(c).startswith("C") else c for c in value)
    clean = " ".join(clean.split())[:limit]
    return clean or None


def _address(value: str | None, field: str) -> str | None:
    if value is None or not value.strip():
        return None
    value = value.strip()
    try:
        parts = urlsplit(value)
    except ValueError:
        raise ValidationFailed(f"{field} must be an http(s) address") from None
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ValidationFailed(f"{field} must be an http(s) address")
    return _printable(value, MAX_URL)


def _time_zone(value: str | None) -> str | None:
    if value is None or not value.strip():
        return None
    value = value.strip()
    try:
        if len(value) > 64 or value.startswith(("/", ".")) or ".." in value:
            raise ValueError(value)
        ZoneInfo(value)
    except (ValueError, ZoneInfoNotFoundError):
        raise ValidationFailed("time_zone must be an IANA time zone such as Europe/Berlin") from None
    return value


def _language(value: str | None) -> str | None:
    if value is None or not value.strip():
        return None
    if not _LANGUAGE_TAG.fullmatch(value.strip()):
        raise ValidationFailed("language must be a language tag such as pt-BR")
    return value.strip()


def cleaned(report: ContextReport, agent: str | None) -> dict[str, str | None]:
    """The report as stored; raises :class:`ValidationFailed` (422) for a field that is
    not what it claims to be. Pure."""
    return {
        "page_url": _address(report.page_url, "page_url"),
        "page_title": _printable(report.page_title, MAX_TITLE) if report.page_title else None,
        "referrer": _address(report.referrer, "referrer"),
        "language": _language(report.language),
        "time_zone": _time_zone(report.time_zone),
        "user_agent": _printable(agent, MAX_USER_AGENT) if agent else None,
    }


async def report_context(svc: Services, actor: Principal, report: ContextReport, agent: str | None) -> None:
    """Store what ``actor``'s widget reports (their own context), then ring the inbox for
    their open tickets. A staff member impersonating them reports nothing: their browser
    is not the customer's."""
    require(actor, Action.UPDATE_PROFILE)
    values = cleaned(report, agent)
    if actor.impersonator_id is not None:
        return
    now = svc.clock.now()
    async with svc.sessions.begin() as db:
        await throttle.take(db, f"context:{actor.user_id}", limit=REPORTS_PER_WINDOW,
                            window_seconds=REPORT_WINDOW_SECONDS, now=now, code="too_many_reports",
                            message="too many context reports; the next one is taken when the window ends")
        row = await db.get(VisitorContext, actor.user_id)
        if row is None:
            row = VisitorContext(user_id=actor.user_id, updated_at=now)
            db.add(row)
        changed = any(getattr(row, name) != value for name, value in values.items())
        for name, value in values.items():
            setattr(row, name, value)
        row.updated_at = now
        if not changed:
            # The same page again (a reload, a repeated report): no console needs to hear it.
            return
        open_tickets = list(await db.scalars(
            select(Ticket.conversation_id).join(Conversation, Conversation.id == Ticket.conversation_id)
            .where(or_(Ticket.requester_id == actor.user_id, Conversation.created_by_id == actor.user_id),
                   Ticket.status.in_(_OPEN))
            .order_by(Ticket.conversation_id.desc()).limit(RING_AT_MOST)
        ))
    for conversation_id in open_tickets:
        await ring_inbox(svc, conversation_id, "context")


def context_json(row: VisitorContext | None) -> dict[str, Any] | None:
    """The side panel's facts (CONTEXT in docs/http.md); ``browser`` parsed from the
    User-Agent here, so every console reads it the same way."""
    if row is None:
        return None
    browser = user_agent.parse(row.user_agent)
    return {
        "page_url": row.page_url,
        "page_title": row.page_title,
        "referrer": row.referrer,
        "language": row.language,
        "time_zone": row.time_zone,
        "browser": None if browser is None else {
            "name": browser.name, "version": browser.version, "system": browser.system, "text": browser.text,
        },
        "updated_at": row.updated_at.isoformat(),
    }


async def history(
    db: AsyncSession, customer: User, conversation_id: int, scope: DeskScope
) -> list[dict[str, Any]]:
    """The customer's other tickets, newest first: their own, and for an identified
    customer (one with a company) all of their company's. Only those the reader's console
    covers (a partner's console: its own queue's)."""
    whose = [Ticket.requester_id == customer.id, Conversation.created_by_id == customer.id]
    if customer.organization_id is not None:
        whose.append(Conversation.organization_id == customer.organization_id)
    rows = await db.execute(
        select(Ticket, Conversation, User).join(Conversation, Conversation.id == Ticket.conversation_id)
        .outerjoin(User, User.id == Ticket.requester_id)
        .where(or_(*whose), Ticket.conversation_id != conversation_id,
               scope.where())
        .order_by(Ticket.created_at.desc(), Ticket.conversation_id.desc()).limit(HISTORY)
    )
    return [_past(ticket, conv, requester) for ticket, conv, requester in rows]


def _past(ticket: Ticket, conv: Conversation, requester: User | None) -> dict[str, Any]:
    return {
        "conversation_id": ticket.conversation_id,
        "subject": conv.subject,
        "status": ticket.status.value,
        "tracked": ticket.tracked,
        "created_at": ticket.created_at.isoformat(),
        "requester": None if requester is None else person_json(requester.id, requester.name, requester.role.value),
    }

"""The tickets behind a number: the drill-down list (``GET /api/reports/tickets``, keyset
pages of 100, newest ticket first) and the same list as CSV (``tickets.csv``: every ticket,
one row each, with its times in both clocks, its policy, breaches and rating).

A cell is a measure and its coordinates (:class:`chat.reports.selection.Cell`) on top of
the report's filters and the viewer's scope: the same conditions the report counted with,
so the list has exactly the tickets the number counts. The figures are the stored facts,
as on screen.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

from sqlalchemy import Select

from chat.authz import Principal
from chat.models import Conversation, Organization, User
from chat.reports import csvfile
from chat.reports import selection as sel
from chat.reports.filters import MAX_ID, ReportQuery, bad_filter
from chat.reports.scope import report_scope
from chat.services import Services
from chat.wire import View, iso
from escalation.models import Ticket

PAGE = 100
CSV_BATCH = 2000  # rows per statement while streaming the CSV: one read transaction, bounded memory


class ReportTicketView(View, frozen=True, kw_only=True):
    """A ticket as the reports list it: its facts in both clocks."""

    id: int
    subject: str
    company_id: int | None
    company: str | None
    status: str
    channel: str
    category: str | None
    severity: int | None
    assignee_id: int | None
    assignee: str | None
    created_at: str
    resolved_at: str | None
    closed_at: str | None
    first_response_wall_s: int | None
    first_response_business_s: int | None
    resolution_wall_s: int | None
    resolution_business_s: int | None
    calendar: str | None
    sla_policy: str | None
    sla_first_response: str | None
    sla_next_response: str | None
    sla_resolution: str | None
    reopened_count: int
    messages_count: int
    rating: str | None

    @classmethod
    def of(cls, t: Ticket, subject: str, company: str | None, assignee: str | None,
           company_id: int | None) -> ReportTicketView:
        return cls(
            id=t.conversation_id, subject=subject, company_id=company_id, company=company,
            status=t.status.value, channel=t.channel.value, category=t.category, severity=t.severity,
            assignee_id=t.assignee_id, assignee=assignee, created_at=iso(t.created_at),
            resolved_at=iso(t.resolved_at), closed_at=iso(t.closed_at),
            first_response_wall_s=t.first_response_wall_s, first_response_business_s=t.first_response_business_s,
            resolution_wall_s=t.resolution_wall_s, resolution_business_s=t.resolution_business_s,
            calendar=t.calendar_key, sla_policy=t.sla_policy, sla_first_response=t.sla_first_response,
            sla_next_response=t.sla_next_response, sla_resolution=t.sla_resolution,
            reopened_count=t.reopened_count, messages_count=t.messages_count, rating=t.rating,
        )


CSV_HEADER = (
    ("id", "Ticket"), ("subject", "Subject"), ("company_id", "Company id"), ("company", "Company"),
    ("status", "Status"), ("channel", "Channel"), ("category", "Category"), ("severity", "Severity"),
    ("assignee_id", "Assignee id"), ("assignee", "Assignee"), ("created_at", "Created at (UTC)"),
    ("resolved_at", "Resolved at (UTC)"), ("closed_at", "Closed at (UTC)"),
    ("first_response_wall_s", "First response, wall clock (s)"),
    ("first_response_business_s", "First response, business time (s)"),
    ("resolution_wall_s", "Resolution, wall clock (s)"), ("resolution_business_s", "Resolution, business time (s)"),
    ("calendar", "Business calendar"), ("sla_policy", "SLA policy"),
    ("sla_first_response", "SLA first response"), ("sla_next_response", "SLA next response"),
    ("sla_resolution", "SLA resolution"), ("reopened_count", "Reopened"), ("messages_count", "Messages"),
    ("rating", "Rating"),
)


def _statement(actor: Principal, query: ReportQuery, cell: sel.Cell) -> Select[Any]:
    return (
        sel.tickets_from(Ticket, Conversation.subject, Organization.name, User.name, Conversation.organization_id)
        .outerjoin(Organization, Organization.id == Conversation.organization_id)
        .outerjoin(User, User.id == Ticket.assignee_id)
        .where(*sel.base(query, report_scope(actor)), *sel.cell_conditions(query, cell))
        .order_by(Ticket.conversation_id.desc())
    )


def _after(cursor: str | None) -> int | None:
    if cursor is None or cursor == "":
        return None
    if not cursor.isascii() or not cursor.isdigit() or not 1 <= int(cursor) <= MAX_ID:
        raise bad_filter("cursor is not one this server gave out")
    return int(cursor)


async def drill_tickets(svc: Services, actor: Principal, query: ReportQuery, cell: sel.Cell,
                        cursor: str | None = None) -> dict[str, Any]:
    """One page of the tickets behind ``cell``: ``{"tickets": [...], "next": cursor | None}``."""
    statement = _statement(actor, query, cell)
    after = _after(cursor)
    if after is not None:
        statement = statement.where(Ticket.conversation_id < after)
    async with svc.reads() as db:
        rows = (await db.execute(statement.limit(PAGE + 1))).all()
    page = [ReportTicketView.of(t, subject, company, assignee, company_id)
            for t, subject, company, assignee, company_id in rows[:PAGE]]
    return {"tickets": page, "next": str(page[-1].id) if len(rows) > PAGE else None}


def ticket_csv_name(query: ReportQuery, cell: sel.Cell) -> str:
    return f"tickets-{cell.metric}-{query.first.isoformat()}-{query.last.isoformat()}.csv"


async def tickets_csv(svc: Services, actor: Principal, query: ReportQuery, cell: sel.Cell) -> AsyncIterator[str]:
    """Every ticket behind ``cell`` as CSV text, in chunks: the header first, then batches
    of :data:`CSV_BATCH` rows read by keyset in one read transaction. Authorization and
    the statement are settled before the first chunk, so a refusal is an error response,
    not a broken download."""
    statement = _statement(actor, query, cell)
    keys = [k for k, _ in CSV_HEADER]

    async def chunks() -> AsyncIterator[str]:
        yield csvfile.lines([[label for _, label in CSV_HEADER]])
        after: int | None = None
        async with svc.reads() as db:
            while True:
                batch = statement if after is None else statement.where(Ticket.conversation_id < after)
                rows = (await db.execute(batch.limit(CSV_BATCH))).all()
                if not rows:
                    return
                views = [ReportTicketView.of(t, s, c, a, ci) for t, s, c, a, ci in rows]
                yield csvfile.lines([[getattr(v, k) for k in keys] for v in views])
                if len(rows) < CSV_BATCH:
                    return
                after = views[-1].id

    return chunks()

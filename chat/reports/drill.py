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
from functools import reduce
from typing import Any

from sqlalchemy import ColumnElement, Select, String, case, cast, func, literal, select, text, type_coerce

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
CSV_BATCH = 2000  # rows per chunk of the CSV: bounded memory, few round trips


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
    def of(cls, row: Any) -> ReportTicketView:
        """From a row of :func:`_statement` (columns, not the ORM entity: a CSV of a year
        builds 100 000 of these)."""
        return cls(
            id=row.id, subject=row.subject, company_id=row.company_id, company=row.company,
            status=row.status.value, channel=row.channel.value, category=row.category, severity=row.severity,
            assignee_id=row.assignee_id, assignee=row.assignee, created_at=iso(row.created_at),
            resolved_at=iso(row.resolved_at), closed_at=iso(row.closed_at),
            first_response_wall_s=row.first_response_wall_s, first_response_business_s=row.first_response_business_s,
            resolution_wall_s=row.resolution_wall_s, resolution_business_s=row.resolution_business_s,
            calendar=row.calendar_key, sla_policy=row.sla_policy, sla_first_response=row.sla_first_response,
            sla_next_response=row.sla_next_response, sla_resolution=row.sla_resolution,
            reopened_count=row.reopened_count, messages_count=row.messages_count, rating=row.rating,
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


def _statement(actor: Principal, query: ReportQuery, cell: sel.Cell) -> Select[*tuple[Any, ...]]:
    statement: Select[*tuple[Any, ...]] = (
        select(
            Ticket.conversation_id.label("id"), Conversation.subject, Conversation.organization_id.label("company_id"),
            Organization.name.label("company"), Ticket.status, Ticket.channel, Ticket.category, Ticket.severity,
            Ticket.assignee_id, User.name.label("assignee"), Ticket.created_at, Ticket.resolved_at, Ticket.closed_at,
            Ticket.first_response_wall_s, Ticket.first_response_business_s, Ticket.resolution_wall_s,
            Ticket.resolution_business_s, Ticket.calendar_key, Ticket.sla_policy, Ticket.sla_first_response,
            Ticket.sla_next_response, Ticket.sla_resolution, Ticket.reopened_count, Ticket.messages_count,
            Ticket.rating,
        )
        .select_from(Ticket)
        .join(Conversation, Conversation.id == Ticket.conversation_id)
        .outerjoin(Organization, Organization.id == Conversation.organization_id)
        .outerjoin(User, User.id == Ticket.assignee_id)
        .where(*sel.base(query, report_scope(actor)), *sel.cell_conditions(query, cell))
        .order_by(Ticket.conversation_id.desc())
    )
    return statement


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
    async with sel.reading(svc) as db:
        rows = (await db.execute(statement.limit(PAGE + 1))).all()
    page = [ReportTicketView.of(row) for row in rows[:PAGE]]
    return {"tickets": page, "next": str(page[-1].id) if len(rows) > PAGE else None}


def ticket_csv_name(query: ReportQuery, cell: sel.Cell) -> str:
    return f"tickets-{cell.metric}-{query.first.isoformat()}-{query.last.isoformat()}.csv"


async def tickets_csv(svc: Services, actor: Principal, query: ReportQuery, cell: sel.Cell) -> AsyncIterator[str]:
    """Every ticket behind ``cell`` as CSV text, in chunks: the header first, then batches
    of :data:`CSV_BATCH` lines of one statement streamed in one read transaction (a
    server-side cursor on PostgreSQL). The database writes each line (:func:`_lines`):
    formatting 2.5 million cells in Python was most of a year's export (SQLite 3.7 s,
    PostgreSQL 2.9 s for 100 000 tickets). Authorization and the statement are settled
    before the first chunk, so a refusal is an error response, not a broken download."""
    statement = _lines(actor, query, cell, svc.read_engine.dialect.name).execution_options(yield_per=CSV_BATCH)

    async def chunks() -> AsyncIterator[str]:
        yield csvfile.lines([[label for _, label in CSV_HEADER]])
        async with sel.reading(svc) as db:
            if svc.read_engine.dialect.name == "postgresql":
                # A cursor is planned for its first tenth by default (nested loops by
                # the ticket's index); the whole export is read: plan for all of it.
                await db.execute(text("SET LOCAL cursor_tuple_fraction = 1.0"))
            result = await db.stream_scalars(statement)
            async for lines in result.partitions():
                yield "".join(lines)

    return chunks()


# How each column of _statement is written: "int" as its digits, "text" neutralised and
# quoted where needed, "time" as iso() writes it (isoformat of UTC).
_KINDS = ("int", "text", "int", "text", "text", "text", "text", "int", "int", "text", "time", "time", "time",
          "int", "int", "int", "int", "text", "text", "text", "text", "text", "int", "int", "text")


def _lines(actor: Principal, query: ReportQuery, cell: sel.Cell, dialect: str) -> Select[Any]:
    """:func:`_statement` with each row as its CSV line, as :func:`csvfile.lines` writes
    :func:`_csv_row` (the tests compare them): a text cell that starts like a formula
    gets a leading ``'``, a cell with a comma, a quote, CR or LF is quoted (quotes
    doubled), NULL is empty, lines end in CRLF."""
    plain = _statement(actor, query, cell)
    cells = [_cell(column, kind, dialect) for column, kind in zip(plain.selected_columns, _KINDS, strict=True)]
    comma = literal(",", String)
    line = reduce(lambda a, b: a.op("||")(comma).op("||")(b), cells).op("||")(literal("\r\n", String))
    return plain.with_only_columns(type_coerce(line, String))


def _has(value: ColumnElement[str], char: str, dialect: str) -> ColumnElement[bool]:
    found = func.instr(value, char) if dialect == "sqlite" else func.strpos(value, char)
    return found > 0


def _cell(column: Any, kind: str, dialect: str) -> ColumnElement[str]:
    if kind == "int":
        return func.coalesce(cast(column, String), "")
    if kind == "time":
        return func.coalesce(_iso(column, dialect), "")
    value = type_coerce(column, String)  # enums as their stored values
    # The prefix adds no character that needs quotes: the test is on the value itself,
    # and the value is written once (a CASE over the neutralised value repeated it in
    # every test: PostgreSQL spent ~2 s of CPU on a year's lines).
    prefix = case((func.substr(value, 1, 1).in_(csvfile.FORMULA_STARTS), "'"), else_="")
    quoted = case(
        (_has(value, ",", dialect) | _has(value, '"', dialect) | _has(value, "\r", dialect)
         | _has(value, "\n", dialect),
         literal('"', String).op("||")(prefix).op("||")(func.replace(value, '"', '""')).op("||")(literal('"', String))),
        else_=prefix.op("||")(value))
    return func.coalesce(quoted, "")


def _iso(column: Any, dialect: str) -> ColumnElement[str]:
    """``datetime.isoformat()`` of a UTC instant: ``2026-03-02T10:00:00+00:00``, with
    ``.ffffff`` only when there are microseconds. SQLite keeps ``2026-03-02 10:00:00.000000``."""
    if dialect == "sqlite":
        stored = type_coerce(column, String)
        fraction = func.substr(stored, 21, 6)
        whole = func.replace(func.substr(stored, 1, 19), " ", "T")
    else:
        utc = func.timezone("UTC", column)
        fraction = func.to_char(utc, "US")
        whole = func.to_char(utc, 'YYYY-MM-DD"T"HH24:MI:SS')
    return (whole.op("||")(case((fraction.in_(("", "000000")), ""), else_=literal(".", String).op("||")(fraction)))
            .op("||")(literal("+00:00", String)))


# The columns of _statement that are not written as they come: enums by value, times ISO.
_ENUMS = (4, 5)
_TIMES = (10, 11, 12)


def _csv_row(row: tuple[Any, ...]) -> list[Any]:
    """A row of :func:`_statement` as the CSV writes it (the columns of :data:`CSV_HEADER`,
    in the order of :class:`ReportTicketView`), without building the view."""
    out = list(row)
    for i in _ENUMS:
        out[i] = out[i].value
    for i in _TIMES:
        out[i] = iso(out[i])
    return out

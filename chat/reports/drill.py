"""The tickets behind a number: the drill-down list (``GET /api/reports/tickets``, keyset
pages of 100, newest ticket first) and the same list as CSV (``tickets.csv``: every ticket,
one row each, with its times in both clocks, its policy, breaches and rating).

A cell is a measure and its coordinates (:class:`chat.reports.selection.Cell`) on top of
the report's filters and the viewer's scope: the same conditions the report counted with,
so the list has exactly the tickets the number counts. The figures are the stored facts,
as on screen.
"""

from __future__ import annotations

import asyncio
import struct
from collections.abc import AsyncGenerator, AsyncIterator
from contextlib import aclosing, suppress
from enum import Enum
from typing import Any

from sqlalchemy import ColumnElement, Integer, Select, String, case, func, literal, select, type_coerce
from sqlalchemy.ext.asyncio import AsyncSession

from chat.authz import Principal
from chat.models import Conversation, Organization, User
from chat.reports import csvfile
from chat.reports import selection as sel
from chat.reports.filters import MAX_ID, ReportQuery, bad_filter
from chat.reports.scope import report_scope
from chat.reports.texts import tr
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
    of :data:`CSV_BATCH` lines of one statement read in one read transaction (by COPY on
    PostgreSQL, :func:`_copied`; through the cursor on SQLite, :func:`_streamed`). The
    database writes each line (:func:`_lines`): formatting 2.5 million cells in Python
    was most of a year's export (SQLite 3.7 s, PostgreSQL 2.9 s for 100 000 tickets).
    Authorization and the statement are settled before the first chunk, so a refusal is
    an error response, not a broken download."""
    dialect = svc.read_engine.dialect.name
    statement = _lines(actor, query, cell, dialect)

    async def chunks() -> AsyncIterator[str]:
        yield csvfile.lines([[tr(query.lang, label) for _, label in CSV_HEADER]])
        async with sel.reading(svc) as db:
            # Closed before the read transaction ends, also when the download is dropped.
            read = _copied if dialect == "postgresql" else _streamed
            async with aclosing(read(db, statement)) as batches:
                async for batch in batches:
                    yield batch

    return chunks()


async def _streamed(db: AsyncSession, statement: Select[Any]) -> AsyncGenerator[str, None]:
    """The lines through the driver's cursor, :data:`CSV_BATCH` at a time (SQLite). On
    the connection, not the ORM session: the ORM's row handling cost ~0.15 s a year."""
    connection = await db.connection()
    result = await connection.stream(statement.execution_options(yield_per=CSV_BATCH))
    async for lines in result.scalars().partitions():
        yield "".join(lines)


# A tuple of binary COPY: its number of fields (1, or -1 for the end) and the line's length.
_TUPLE = struct.Struct(">hi")
_COPY_SIGNATURE = b"PGCOPY\n\xff\r\n\x00"


async def _copied(db: AsyncSession, statement: Select[Any]) -> AsyncGenerator[str, None]:
    """The lines by ``COPY (statement) TO STDOUT (FORMAT binary)`` (PostgreSQL), in the
    read transaction, :data:`CSV_BATCH` to a chunk.

    Why not a cursor: a cursor's portal runs without parallel workers and returns no row
    before the whole year's lines are built and sorted (~0.6 s on one core), and only
    then do the rows travel; COPY may use the workers, and sends its rows as they come
    (100 000 tickets, to the last byte over HTTP: 0.85–1.0 s by the cursor, 0.6–0.65 s
    by COPY, 2 shared cores). Binary, because the text and CSV formats would escape or
    quote the lines themselves: a field is its bytes, after a 2-byte field count and a
    4-byte length. asyncpg hands the data to ``sink`` as it comes and reads no more
    while the queue is full."""
    connection = await db.connection()
    driver = (await connection.get_raw_connection()).driver_connection
    assert driver is not None  # an asyncpg connection, checked out for this transaction
    compiled = statement.compile(dialect=connection.dialect, compile_kwargs={"render_postcompile": True})
    # COPY takes no parameters: asyncpg quotes them into the text (quote_literal, by the
    # server). Enum members as their values, as SQLAlchemy binds them.
    arguments = [_bound(compiled.params[name]) for name in compiled.positiontup or ()]
    received: asyncio.Queue[bytes | None] = asyncio.Queue(maxsize=8)

    async def sink(data: bytes) -> None:
        await received.put(data)

    async def copy() -> None:
        try:
            await driver.copy_from_query(str(compiled), *arguments, output=sink, format="binary")
        finally:
            await received.put(None)

    copying = asyncio.create_task(copy())
    try:
        buffer, at = b"", None
        lines: list[bytes] = []
        while (more := await received.get()) is not None:
            buffer += more
            if at is None:  # the header: signature, flags, the extension's length, the extension
                if len(buffer) < 19:
                    continue
                if not buffer.startswith(_COPY_SIGNATURE):
                    raise RuntimeError("COPY did not answer in PostgreSQL's binary format")
                at = 19 + int(struct.unpack_from(">i", buffer, 15)[0])
            if at > len(buffer):
                continue
            at = _split(buffer, at, lines)
            buffer, at = buffer[at:], 0
            while len(lines) >= CSV_BATCH:
                yield b"".join(lines[:CSV_BATCH]).decode()
                del lines[:CSV_BATCH]
        await copying  # its error, if it failed
        if lines:
            yield b"".join(lines).decode()
    finally:
        if not copying.done():
            # The download was dropped half-way. asyncpg cannot end a COPY early and go on
            # (a cancelled COPY leaves its connection mid-protocol: the transaction's
            # rollback fails), so the connection goes: closed, which ends the COPY on the
            # server, and replaced in the pool.
            await connection.invalidate()
            while await received.get() is not None:  # until the COPY has ended, in error
                pass
            with suppress(Exception):
                await copying


def _split(data: bytes, at: int, lines: list[bytes]) -> int:
    """The whole tuples of ``data`` from ``at`` onto ``lines``; where the next one starts."""
    end = len(data)
    while at + 6 <= end:
        fields, size = _TUPLE.unpack_from(data, at)
        if fields != 1:  # -1: the end of the data
            return end
        stop = at + 6 + size
        if stop > end:
            break
        lines.append(data[at + 6:stop])
        at = stop
    return at


def _bound(value: Any) -> Any:
    return value.value if isinstance(value, Enum) else value


# How each column of _statement is written: "int" as its digits, "text" neutralised and
# quoted where needed, "enum" as stored when no value of its type needs either (the
# column's CHECK constraint allows only those), "time" as iso() writes it (isoformat of UTC).
_KINDS = ("int", "text", "int", "text", "enum", "enum", "text", "int", "int", "text", "time", "time", "time",
          "int", "int", "int", "int", "text", "text", "text", "text", "text", "int", "int", "text")
# The line of a row: one call writes it (printf on SQLite, format on PostgreSQL; both
# write NULL as nothing). A chain of || copies the line so far at each of its 49 steps.
_LINE = ",".join(["%s"] * len(_KINDS)) + "\r\n"


def _lines(actor: Principal, query: ReportQuery, cell: sel.Cell, dialect: str) -> Select[Any]:
    """:func:`_statement` with each row as its CSV line, as :func:`csvfile.lines` writes
    :func:`_csv_row` (the tests compare them): a text cell that starts like a formula
    gets a leading ``'``, a cell with a comma, a quote, CR or LF is quoted (quotes
    doubled), NULL is empty, lines end in CRLF."""
    plain = _statement(actor, query, cell)
    cells = [_cell(column, kind, dialect) for column, kind in zip(plain.selected_columns, _KINDS, strict=True)]
    write = func.printf if dialect == "sqlite" else func.format
    return plain.with_only_columns(write(_text(_LINE), *cells, type_=String))


def _text(value: str) -> ColumnElement[str]:
    """A constant of the line written into the SQL, not bound: bound, the line's ~190
    constants would be as many parameters, each quoted into the COPY's text by a query
    to the server (:func:`_copied`); only the filters' values are parameters."""
    return literal(value, String, literal_execute=True)


def _has(value: ColumnElement[str], char: str, dialect: str) -> ColumnElement[bool]:
    found = func.instr(value, _text(char)) if dialect == "sqlite" else func.strpos(value, _text(char))
    return found > 0


def _as_is(value: str) -> bool:
    """Whether the CSV writes ``value`` as it is: no formula start, nothing to quote."""
    return value[:1] not in csvfile.FORMULA_STARTS and not any(c in value for c in ',"\r\n')


def _cell(column: Any, kind: str, dialect: str) -> ColumnElement[Any]:
    """A column's cell, NULL for an empty one (the line's printf/format writes nothing)."""
    if kind == "int":
        return column  # type: ignore[no-any-return]
    if kind == "time":
        return _iso(column, dialect)
    value = type_coerce(column, String)  # enums as their stored values
    if kind == "enum" and all(_as_is(v) for v in column.type.enums):
        return value
    # The tests are on the value itself (the prefix adds no character that needs quotes),
    # the plain value — nearly every one — costs no concatenation, and the quoted branch
    # tests for the prefix again: it is rare. (A CASE over the neutralised value repeated
    # it in every test: PostgreSQL spent ~2 s of CPU on a year's lines.) The first
    # character is tested by its code point: no substring is made.
    first = func.unicode(value) if dialect == "sqlite" else func.ascii(value)
    formula = first.in_([literal(ord(c), Integer, literal_execute=True) for c in csvfile.FORMULA_STARTS])
    special = _has(value, ",", dialect) | _has(value, '"', dialect) | _has(value, "\r", dialect) \
        | _has(value, "\n", dialect)
    prefix = case((formula, _text("'")), else_=_text(""))
    quoted = _text('"').op("||")(prefix).op("||")(func.replace(value, _text('"'), _text('""'))).op("||")(_text('"'))
    return case((special, quoted), (formula, _text("'").op("||")(value)), else_=value)


def _iso(column: Any, dialect: str) -> ColumnElement[str]:
    """``datetime.isoformat()`` of a UTC instant: ``2026-03-02T10:00:00+00:00``, with
    ``.ffffff`` only when there are microseconds; NULL for NULL. Written with all six
    digits, then ``.000000+`` cut to ``+`` (one ``to_char`` on PostgreSQL, not two).
    SQLite keeps the instant as ``2026-03-02 10:00:00.000000`` (SQLAlchemy writes the
    six digits always)."""
    if dialect == "sqlite":
        written = func.replace(type_coerce(column, String), _text(" "), _text("T"))
    else:
        written = func.to_char(func.timezone(_text("UTC"), column), _text('YYYY-MM-DD"T"HH24:MI:SS.US'))
    return func.replace(written.op("||")(_text("+00:00")), _text(".000000+"), _text("+"))


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

"""Which tickets a report counts, in SQL: the filters, the measures, local days.

Every report and the drill-down build on the same pieces, so a number and the list of
tickets behind it can never disagree:

- :func:`base` — the filters of a :class:`~chat.reports.filters.ReportQuery` and the
  viewer's scope, as conditions over ``tickets JOIN conversations`` (:func:`tickets_from`);
  tickets marked as spam are never counted.
- :data:`MEASURES` — what a column counts ("created", "closed", "backlog", ...): one
  condition each over a time window (a local day, or the whole range); the drill-down's
  ``metric`` parameter names one (:func:`cell_conditions`).
- :func:`day_index` — which local day a UTC instant falls in, as a ``CASE`` that halves
  the range at each step (about 9 comparisons a row for a year): the day boundaries are
  computed in Python from zoneinfo, so a day may be 23 or 25 hours and SQLite (which has
  no time zones) counts exactly as PostgreSQL does.

The tickets a report counts are every ticket row: tickets opened directly and support
chats (a chat has its row from its first message; ``tracked`` once it became a ticket).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Collection, Iterable, Mapping, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Integer,
    Select,
    True_,
    and_,
    case,
    false,
    literal_column,
    or_,
    select,
    text,
    type_coerce,
)
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.orm import InstrumentedAttribute
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.visitors import InternalTraversal

from chat.models import Conversation, Organization, Site, User
from chat.reports.filters import (
    NONE,
    Day,
    ReportQuery,
    bad_filter,
    choice_param,
    date_param,
    int_param,
    parse_status,
    text_param,
)
from chat.reports.texts import DEFAULT as DEFAULT_LANG
from chat.reports.texts import tr
from chat.services import Services
from escalation.lifecycle import TicketStatus
from escalation.models import ReportHour, ReportReopen, SupportGroup, Ticket, TicketCategory, TicketChannel
from escalation.ratings import RatingValue

CHANNELS = tuple(c.value for c in TicketChannel)
TARGETS = ("first_response", "next_response", "resolution")
OUTCOMES = ("met", "breached")
WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
# The messages-per-resolution buckets (BX): key, lowest, highest (None: no limit). A
# ticket whose messages the rollup has not counted yet (0) is in the first bucket.
BUCKETS: tuple[tuple[str, int, int | None], ...] = (
    ("1", 0, 1), ("2", 2, 2), ("3", 3, 3), ("4", 4, 4), ("5", 5, 5),
    ("6-10", 6, 10), ("11-20", 11, 20), ("21+", 21, None),
)
TIMED = {
    "first_response_wall": ("responded", "first_response_wall_s"),
    "first_response_business": ("responded", "first_response_business_s"),
    "resolution_wall": ("resolved", "resolution_wall_s"),
    "resolution_business": ("resolved", "resolution_business_s"),
    "first_agent_join": ("joined", "first_agent_join_s"),
}
# The drill-down's cell coordinates, besides the filters (docs/http.md "Reports").
COORDINATES = ("metric", "day", "status", "rating", "policy", "target", "bucket", "weekday", "hour", "measure")

SLA_COLUMNS = {
    "first_response": Ticket.sla_first_response,
    "next_response": Ticket.sla_next_response,
    "resolution": Ticket.sla_resolution,
}


@asynccontextmanager
async def reading(svc: Services) -> AsyncIterator[AsyncSession]:
    """A report's one read transaction, a long read (:meth:`Services.long_read`: off the
    event loop on SQLite, so a year's report holds up no socket of the process). On
    PostgreSQL without JIT: a report's statement (a CASE of 365 days, a few windows) looks
    costly enough to the planner that it compiles it — half a second of compiling for a
    query that runs in a tenth of that (measured on 100 000 tickets)."""
    async with svc.long_read() as db:
        if svc.read_engine.dialect.name == "postgresql":
            await db.execute(text("SET LOCAL jit = off"))
        yield db


def tickets_from(*columns: Any, where: Iterable[ColumnElement[bool]] = ()) -> Select[Any]:
    """``SELECT columns FROM tickets [JOIN conversations] WHERE where``: the FROM every
    report uses. Conversations are joined only when a column or a condition needs them
    (site, company, subject, a reseller's scope): the join costs a lookup per ticket,
    a third of a year's scan on SQLite."""
    conditions = list(where)
    plain = select(*columns).select_from(Ticket).where(*conditions)
    if Conversation.__table__ not in plain.get_final_froms():
        return plain
    return (select(*columns).select_from(Ticket).join(Conversation, Conversation.id == Ticket.conversation_id)
            .where(*conditions))


def counted(column: InstrumentedAttribute[int], query: ReportQuery, scope: ColumnElement[bool]) -> ColumnElement[bool]:
    """``column`` (a ticket id in a rollup table: ``report_hours``, ``report_reopens``) is
    one of the tickets the report counts. Never a join: from a year of hours it would look
    a ticket up per hour (1.2 s for 600 000 hours on SQLite). Everything counted (staff, no
    filter): "not one of the few spam tickets", so the hours are read by their own index;
    otherwise "in the selected tickets", which the database walks once, probing the
    hours by their primary key."""
    if isinstance(scope, True_) and not query.filters_json():
        return column.not_in(select(Ticket.conversation_id).where(Ticket.spam_at.is_not(None)))
    return column.in_(tickets_from(Ticket.conversation_id, where=base(query, scope)))


def one_of(column: Any, values: Sequence[Any]) -> ColumnElement[bool]:
    """``column IN values``; a ``None`` among them also matches NULL ("none")."""
    given = [v for v in values if v is not None]
    parts = [column.in_(given)] if given else []
    if len(given) < len(values):
        parts.append(column.is_(None))
    return or_(*parts) if len(parts) > 1 else parts[0]


def base(query: ReportQuery, scope: ColumnElement[bool]) -> list[ColumnElement[bool]]:
    """The conditions of the query's filters and the viewer's scope (no time window)."""
    conditions: list[ColumnElement[bool]] = [scope, Ticket.spam_at.is_(None)]
    if query.sites:
        conditions.append(one_of(Conversation.site_id, query.sites))
    if query.companies:
        conditions.append(one_of(Conversation.organization_id, query.companies))
    if query.plans:
        tiers = [p for p in query.plans if p is not None]
        on_plan = Conversation.organization_id.in_(select(Organization.id).where(Organization.plan_tier.in_(tiers)))
        conditions.append(or_(on_plan, Conversation.organization_id.is_(None)) if None in query.plans else on_plan)
    if query.groups:
        conditions.append(one_of(Ticket.group_key, query.groups))
    if query.agents:
        conditions.append(one_of(Ticket.assignee_id, query.agents))
    if query.categories:
        conditions.append(one_of(Ticket.category, query.categories))
    if query.severities:
        conditions.append(one_of(Ticket.severity, query.severities))
    if query.channels:
        conditions.append(Ticket.channel.in_([TicketChannel(c) for c in query.channels]))
    return conditions


# -- local days -------------------------------------------------------------------------


def day_index(column: Any, days: Sequence[Day]) -> ColumnElement[int]:
    """The index in ``days`` of the day ``column`` (a UTC instant inside the range) falls
    in: a CASE that compares with the middle boundary and recurses into one half."""

    def within(low: int, high: int) -> ColumnElement[int]:
        if high - low == 1:
            return type_coerce(literal_column(str(low)), Integer)
        middle = (low + high) // 2
        return case((column < days[middle].start, within(low, middle)), else_=within(middle, high))

    return within(0, len(days))


# A window longer than this covers enough of the history that reading the table beats
# following the column's index row by row (SQLite, 100 000 tickets over a year: a 30-day
# window by index 0.5 ms against 24 ms scanned; a year 290 ms by index, 44 ms scanned).
WIDE = timedelta(days=92)


class Scanned(ColumnElement[Any]):
    """A column compared without its index: ``+column`` on SQLite (unary plus changes no
    value, it only keeps the planner, which has no statistics on a range's size, off the
    index); the column itself elsewhere (PostgreSQL's planner knows the sizes)."""

    inherit_cache = True
    _traverse_internals = [("column", InternalTraversal.dp_clauseelement)]  # noqa: RUF012 (SQLAlchemy reads it so)

    def __init__(self, column: Any) -> None:
        self.column = column.__clause_element__() if hasattr(column, "__clause_element__") else column
        self.type = self.column.type


@compiles(Scanned)
def _scanned(element: Scanned, compiler: SQLCompiler, **kw: Any) -> str:
    return str(compiler.process(element.column, **kw))


@compiles(Scanned, "sqlite")
def _scanned_sqlite(element: Scanned, compiler: SQLCompiler, **kw: Any) -> str:
    return "+" + str(compiler.process(element.column, **kw))


def in_window(column: Any, start: datetime, end: datetime) -> ColumnElement[bool]:
    """``start <= column < end``; over a wide window without the column's index."""
    if end - start > WIDE:
        column = Scanned(column)
    return and_(column >= start, column < end)


def local_hours(query: ReportQuery, weekday: int, hour: int) -> list[datetime]:
    """The UTC hours of the range whose local start is on ``weekday`` (0 = Monday) at
    ``hour``: the cell of the heatmap. An hour that starts at :30 local time (India) is
    the local hour it starts in."""
    out = []
    at = query.start.replace(minute=0, second=0, microsecond=0)
    while at < query.end:
        local = at.astimezone(query.tz)
        if local.weekday() == weekday and local.hour == hour and at >= query.start:
            out.append(at)
        at += timedelta(hours=1)
    return out


# -- measures ---------------------------------------------------------------------------


def _chats(start: datetime, end: datetime) -> ColumnElement[bool]:
    return and_(Ticket.channel == TicketChannel.CHAT, in_window(Ticket.created_at, start, end))


def _backlog(start: datetime, end: datetime) -> ColumnElement[bool]:
    """Open at ``end``: created before it and not closed by then (closing is final).
    Written as two ranges of ``closed_at`` so that its index finds the few open tickets;
    "created before the end" alone would walk the whole history by ``created_at``
    (SQLite: 20 ms against 270 ms for 100 000 tickets)."""
    return or_(and_(Ticket.closed_at.is_(None), Ticket.created_at < end),
               and_(Ticket.closed_at >= end, Ticket.created_at < end))


def _answered_live(start: datetime, end: datetime) -> ColumnElement[bool]:
    """A chat whose first staff answer came while it was a live chat (before it became
    a ticket, or it never did)."""
    return and_(
        _chats(start, end), Ticket.first_replied_at.is_not(None),
        or_(Ticket.tracked_at.is_(None), Ticket.first_replied_at <= Ticket.tracked_at),
    )


MEASURES: Mapping[str, Callable[[datetime, datetime], ColumnElement[bool]]] = {
    "created": lambda s, e: in_window(Ticket.created_at, s, e),
    "closed": lambda s, e: in_window(Ticket.closed_at, s, e),
    "resolved": lambda s, e: in_window(Ticket.resolved_at, s, e),
    # No index on the reply's time: the table is read, 25 ms for 100 000 tickets (SQLite).
    "responded": lambda s, e: in_window(Ticket.first_replied_at, s, e),
    "reopened": lambda s, e: Ticket.conversation_id.in_(
        select(ReportReopen.conversation_id).where(in_window(ReportReopen.at, s, e))),
    "backlog": _backlog,
    "chats": _chats,
    "answered_live": _answered_live,
    "converted": lambda s, e: and_(_chats(s, e), Ticket.tracked.is_(True)),
    "joined": lambda s, e: and_(_chats(s, e), Ticket.first_agent_join_s.is_not(None)),
    "messages": lambda s, e: Ticket.conversation_id.in_(
        select(ReportHour.conversation_id).where(in_window(ReportHour.hour, s, e), ReportHour.messages > 0)),
    "sla": lambda s, e: and_(in_window(Ticket.created_at, s, e), Ticket.sla_policy.is_not(None)),
    "met": lambda s, e: and_(in_window(Ticket.created_at, s, e), or_(*(c == "met" for c in SLA_COLUMNS.values()))),
    "breached": lambda s, e: and_(in_window(Ticket.created_at, s, e),
                                  or_(*(c == "breached" for c in SLA_COLUMNS.values()))),
}


def open_chats() -> ColumnElement[bool]:
    """Live chats going on now: a support chat not (yet) a ticket, not closed."""
    return and_(Ticket.channel == TicketChannel.CHAT, Ticket.tracked.is_(False), Ticket.status != TicketStatus.CLOSED)


def waiting() -> ColumnElement[bool]:
    """Live chats nobody of the staff has answered yet."""
    return and_(open_chats(), Ticket.first_replied_at.is_(None))


def open_tickets() -> ColumnElement[bool]:
    return and_(Ticket.tracked.is_(True), Ticket.status != TicketStatus.CLOSED)


LIVE: Mapping[str, Callable[[], ColumnElement[bool]]] = {
    "open_chats": open_chats, "waiting": waiting, "open_tickets": open_tickets,
}
METRICS = (*MEASURES, "timed", *LIVE)


def rating_is(value: str) -> ColumnElement[bool]:
    """The latest rating: good, bad, or none (the customer chose "No rating" or gave none)."""
    if value == RatingValue.NO_RATING:
        return or_(Ticket.rating.is_(None), Ticket.rating == RatingValue.NO_RATING.value)
    return Ticket.rating == value


def rating_key() -> ColumnElement[str]:
    """The rating as the reports group it: good, bad or none."""
    return case((Ticket.rating.in_([RatingValue.GOOD.value, RatingValue.BAD.value]), Ticket.rating),
                else_=RatingValue.NO_RATING.value)


def bucket_is(key: str) -> ColumnElement[bool]:
    _, low, high = next(b for b in BUCKETS if b[0] == key)
    if high is None:
        return Ticket.messages_count >= low
    return Ticket.messages_count.between(low, high)


def bucket_key() -> ColumnElement[str]:
    whens = [(Ticket.messages_count <= high, key) for key, _, high in BUCKETS if high is not None]
    return case(*whens, else_=BUCKETS[-1][0])


@dataclass(frozen=True)
class Cell:
    """What a drill-down asks for: a measure and the coordinates of the cell clicked."""

    metric: str
    day: date | None = None
    status: TicketStatus | None = None
    rating: str | None = None
    policy: str | None = None  # "none": no policy
    target: str | None = None
    bucket: str | None = None
    weekday: int | None = None
    hour: int | None = None
    measure: str | None = None


def parse_cell(extras: Mapping[str, str], *, default_metric: str = "created") -> Cell:
    """The drill-down's parameters besides the filters; ``bad_filter`` for a value out of
    its domain or a coordinate the metric does not take."""
    metric = choice_param(extras, "metric", METRICS) or default_metric
    status = extras.get("status")
    weekday = choice_param(extras, "weekday", WEEKDAYS)
    cell = Cell(
        metric=metric,
        day=date_param(extras, "day"),
        status=parse_status(status) if status else None,
        rating=choice_param(extras, "rating", [v.value for v in RatingValue]),
        policy=text_param(extras, "policy"),
        target=choice_param(extras, "target", TARGETS),
        bucket=choice_param(extras, "bucket", [b[0] for b in BUCKETS]),
        weekday=WEEKDAYS.index(weekday) if weekday is not None else None,
        hour=int_param(extras, "hour", 0, 23),
        measure=choice_param(extras, "measure", list(TIMED)),
    )
    if (cell.weekday is None) != (cell.hour is None) or (cell.weekday is not None and metric != "messages"):
        raise bad_filter("weekday and hour go together, with metric=messages (a heatmap cell)")
    if (metric == "timed") != (cell.measure is not None):
        raise bad_filter("measure goes with metric=timed, and metric=timed needs it")
    if cell.target is not None and metric not in ("sla", "met", "breached"):
        raise bad_filter("target goes with metric=sla, met or breached")
    if cell.day is not None and metric in LIVE:
        raise bad_filter(f"{metric} is live: it takes no day")
    return cell


def cell_conditions(query: ReportQuery, cell: Cell) -> list[ColumnElement[bool]]:
    """The conditions of ``cell`` on top of :func:`base`: the measure over the day given
    (or the whole range), narrowed by the other coordinates."""
    if cell.day is not None:
        day = query.day(cell.day)
        start, end = day.start, day.end
    else:
        start, end = query.start, query.end
    conditions: list[ColumnElement[bool]] = []
    if cell.metric in LIVE:
        conditions.append(LIVE[cell.metric]())
    elif cell.metric == "timed":
        assert cell.measure is not None
        metric, fact = TIMED[cell.measure]
        conditions += [MEASURES[metric](start, end), getattr(Ticket, fact).is_not(None)]
    elif cell.weekday is not None and cell.hour is not None:
        hours = local_hours(query, cell.weekday, cell.hour)
        conditions.append(Ticket.conversation_id.in_(
            select(ReportHour.conversation_id).where(ReportHour.hour.in_(hours), ReportHour.messages > 0))
            if hours else false())
    else:
        conditions.append(MEASURES[cell.metric](start, end))
    if cell.target is not None:
        outcome_column = SLA_COLUMNS[cell.target]
        outcome = {"met": "met", "breached": "breached"}.get(cell.metric)
        conditions.append(outcome_column == outcome if outcome else outcome_column.is_not(None))
    if cell.status is not None:
        conditions.append(Ticket.status == cell.status)
    if cell.rating is not None:
        conditions.append(rating_is(cell.rating))
    if cell.policy is not None:
        conditions.append(Ticket.sla_policy.is_(None) if cell.policy == NONE else Ticket.sla_policy == cell.policy)
    if cell.bucket is not None:
        conditions.append(bucket_is(cell.bucket))
    return conditions


# -- names ------------------------------------------------------------------------------

DIMENSIONS = ("agent", "status", "category", "severity", "channel", "rating", "site", "company", "group")


def dimension_column(name: str) -> Any:
    """The column a breakdown groups by (its key; names come from :func:`names`)."""
    return {
        "agent": Ticket.assignee_id, "status": Ticket.status, "category": Ticket.category,
        "severity": Ticket.severity, "channel": Ticket.channel, "rating": rating_key(),
        "site": Conversation.site_id, "company": Conversation.organization_id, "group": Ticket.group_key,
    }[name]


def key_text(value: Any) -> str:
    """A dimension's value as the drill-down takes it back: ``"none"`` for NULL."""
    if value is None:
        return NONE
    return str(getattr(value, "value", value))


async def names(db: AsyncSession, dimension: str, keys: Collection[Any]) -> dict[Any, str]:
    """Display names of a dimension's keys (users' names, categories', sites' ...); a key
    of no row (a deleted user) gets none and the caller shows the key."""
    wanted = [k for k in keys if k is not None]
    if not wanted:
        return {}
    lookups: dict[str, tuple[Any, Any]] = {
        "agent": (User.id, User.name), "category": (TicketCategory.key, TicketCategory.name),
        "site": (Site.id, Site.name), "company": (Organization.id, Organization.name),
        "group": (SupportGroup.key, SupportGroup.name),
    }
    if dimension not in lookups:
        return {}
    key_col, name_col = lookups[dimension]
    return dict((await db.execute(select(key_col, name_col).where(key_col.in_(wanted)))).all())


def label_of(dimension: str, key: Any, known: Mapping[Any, str], lang: str = DEFAULT_LANG) -> str:
    """What a row of a breakdown is called on screen, in ``lang`` where we make the name up
    (a stored name, a person's or a category's, is shown as it was given)."""
    if key is None:
        return tr(lang, {"agent": "Unassigned", "group": "First line", "category": "No category",
                         "severity": "No severity", "site": "No site", "company": "No company"}.get(dimension, "None"))
    if dimension == "rating":
        return tr(lang, {"good": "Good", "bad": "Bad", "none": "No rating"}.get(str(key), str(key)))
    if dimension in ("status", "channel"):
        return tr(lang, str(getattr(key, "value", key)).replace("_", " ").capitalize())
    if dimension == "severity":
        return tr(lang, "Severity {n}", n=key)
    return known.get(key) or f"#{key}"

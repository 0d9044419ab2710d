"""The volume report (BX's load graphs): per local day, tickets created, closed and
reopened, the backlog open at the end of the day; support chats started, answered live
and converted to tickets; public messages.

Five aggregate statements in one read transaction. Tickets and reopens are grouped by
day in the database (:func:`chat.reports.selection.day_index`); messages are summed per
UTC hour there (at most 8 784 rows for a year, as the heatmap does) and each hour goes to
the local day its start falls in here — the day ``CASE`` on each of a year's ~800 000
``report_hours`` rows took SQLite 0.7–0.9 s. The backlog is not counted per day: it is
the backlog when the range starts plus the days' created minus closed (closing is final,
so the sum is exact).
"""

from __future__ import annotations

from bisect import bisect_right
from typing import Any

from sqlalchemy import and_, func, select

from chat.authz import Principal
from chat.reports import selection as sel
from chat.reports.filters import ReportQuery
from chat.reports.scope import report_scope
from chat.reports.tables import Chart, Column, Table, document, drill
from chat.services import Services
from escalation.models import ReportHour, ReportReopen, Ticket, TicketChannel

COLUMNS = (
    Column("day", "Day", "date"),
    Column("created", "Created", "int", drill("created", "day")),
    Column("closed", "Closed", "int", drill("closed", "day")),
    Column("reopened", "Reopened", "int", drill("reopened", "day")),
    Column("backlog", "Open at day end", "int", drill("backlog", "day")),
    Column("chats", "Chats started", "int", drill("chats", "day")),
    Column("answered_live", "Answered live", "int", drill("answered_live", "day")),
    Column("converted", "Converted to tickets", "int", drill("converted", "day")),
    Column("messages", "Messages", "int", drill("messages", "day")),
)
COUNTED = ("created", "closed", "reopened", "chats", "answered_live", "converted", "messages")


async def volume_report(svc: Services, actor: Principal, query: ReportQuery) -> dict[str, Any]:
    """The volume report of ``query`` as ``actor`` may see it."""
    scope = report_scope(actor)
    where = sel.base(query, scope)
    days = query.days()
    counts: dict[str, list[int]] = {key: [0] * len(days) for key in COUNTED}

    def grouped(inner: Any, *sums: Any) -> Any:
        sub = inner.subquery()
        return select(sub.c.d, *(s(sub) for s in sums)).group_by(sub.c.d)

    created = grouped(
        sel.tickets_from(
            sel.day_index(Ticket.created_at, days).label("d"),
            (Ticket.channel == TicketChannel.CHAT).label("chat"),
            sel.MEASURES["answered_live"](query.start, query.end).label("live"),
            and_(Ticket.channel == TicketChannel.CHAT, Ticket.tracked.is_(True)).label("converted"),
            where=[*where, sel.in_window(Ticket.created_at, query.start, query.end)],
        ),
        lambda s: func.count(),
        lambda s: func.count().filter(s.c.chat),
        lambda s: func.count().filter(s.c.live),
        lambda s: func.count().filter(s.c.converted),
    )
    closed = grouped(
        sel.tickets_from(sel.day_index(Ticket.closed_at, days).label("d"),
                         where=[*where, sel.in_window(Ticket.closed_at, query.start, query.end)]),
        lambda s: func.count(),
    )
    reopened = grouped(
        select(sel.day_index(ReportReopen.at, days).label("d"))
        .where(sel.in_window(ReportReopen.at, query.start, query.end),
               sel.counted(ReportReopen.conversation_id, query, scope)),
        lambda s: func.count(),
    )
    messages = (
        select(ReportHour.hour, func.sum(ReportHour.messages))
        .where(sel.in_window(ReportHour.hour, query.start, query.end),
               sel.counted(ReportHour.conversation_id, query, scope))
        .group_by(ReportHour.hour)
    )
    starts = [day.start for day in days]
    open_at_start = sel.tickets_from(func.count(), where=[*where, sel.MEASURES["backlog"](query.start, query.start)])
    async with sel.reading(svc) as db:
        for d, n, chats, live, converted in (await db.execute(created)).all():
            counts["created"][d], counts["chats"][d] = int(n), int(chats)
            counts["answered_live"][d], counts["converted"][d] = int(live), int(converted)
        for key, statement in (("closed", closed), ("reopened", reopened)):
            for d, n in (await db.execute(statement)).all():
                counts[key][d] = int(n or 0)
        per_day = counts["messages"]
        for hour, n in (await db.execute(messages)).all():
            # The day whose start is the last one not after the hour's (as day_index).
            per_day[bisect_right(starts, hour) - 1] += int(n or 0)
        backlog = int(await db.scalar(open_at_start) or 0)

    rows = []
    for i, day in enumerate(days):
        backlog += counts["created"][i] - counts["closed"][i]
        rows.append({"day": day.day.isoformat(), **{key: counts[key][i] for key in COUNTED}, "backlog": backlog})
    totals = {"day": None, **{key: sum(counts[key]) for key in COUNTED}, "backlog": backlog}
    table = Table("per_day", "Per day", COLUMNS, [{c.key: r[c.key] for c in COLUMNS} for r in rows],
                  totals={c.key: totals[c.key] for c in COLUMNS},
                  note="Days are local days in the report's time zone; the totals' backlog is the last day's.")
    return document("volume", query, [table], [
        Chart("per_day", "bars", "day", ("created", "closed", "reopened"), "Tickets per day",
              roles={"closed": "good", "reopened": "bad"}),
        Chart("per_day", "lines", "day", ("backlog",), "Open tickets at the end of each day"),
        Chart("per_day", "bars", "day", ("chats", "answered_live", "converted"), "Support chats per day"),
        Chart("per_day", "bars", "day", ("messages",), "Messages per day"),
    ])

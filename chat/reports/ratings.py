"""The ratings report (SKAI/BX): Good / No rating / Bad shares by agent over the tickets
resolved in the range, with the reasons and comments customers gave.

The share uses each ticket's latest rating (``tickets.rating``); "No rating" is a
customer who chose it or gave none. The reasons and comments are the ``ticket_ratings``
rows of the same tickets that carry either.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, or_, select

from chat.authz import Principal
from chat.models import Conversation
from chat.reports import selection as sel
from chat.reports.filters import ReportQuery
from chat.reports.scope import report_scope
from chat.reports.tables import Chart, Column, Row, Table, document, drill, share
from chat.reports.texts import tr
from chat.services import Services
from chat.wire import iso
from escalation.models import Ticket, TicketRating

VALUES = (("good", "Good"), ("none", "No rating"), ("bad", "Bad"))
MAX_LISTED = 200  # the comments a lead reads; the ticket list (metric=resolved) has all

AGENT_COLUMNS = (
    Column("agent", "Agent id", "text"),
    Column("name", "Agent", "text"),
    Column("resolved", "Resolved", "int", drill("resolved", "agent")),
    *(Column(value, label, "int", drill("resolved", "agent", rating=value)) for value, label in VALUES),
    *(Column(f"{value}_share", f"{label} share", "percent") for value, label in VALUES),
)
COMMENT_COLUMNS = (
    Column("id", "Ticket", "id"), Column("subject", "Subject", "text"), Column("agent", "Agent", "text"),
    Column("rating", "Rating", "text"), Column("reason", "Reason", "text"), Column("comment", "Comment", "text"),
    Column("rated_at", "Rated at", "text"),
)


async def ratings_report(svc: Services, actor: Principal, query: ReportQuery) -> dict[str, Any]:
    """The ratings report of ``query`` as ``actor`` may see it."""
    where = [*sel.base(query, report_scope(actor)), sel.MEASURES["resolved"](query.start, query.end)]
    inner = sel.tickets_from(Ticket.assignee_id.label("a"), sel.rating_key().label("r"), where=where).subquery()
    by_agent = select(inner.c.a, *(func.count().filter(inner.c.r == v) for v, _ in VALUES)).group_by(inner.c.a)
    comments = (
        sel.tickets_from(Ticket.conversation_id, Conversation.subject, Ticket.assignee_id, TicketRating.value,
                         TicketRating.reason, TicketRating.comment, TicketRating.created_at,
                         where=[*where, Ticket.conversation_id == TicketRating.conversation_id,
                                or_(TicketRating.reason.is_not(None), TicketRating.comment.is_not(None))])
        .order_by(TicketRating.created_at.desc(), TicketRating.id.desc()).limit(MAX_LISTED)
    )
    async with sel.reading(svc) as db:
        counted = (await db.execute(by_agent)).all()
        comment_rows = (await db.execute(comments)).all()
        known = await sel.names(db, "agent", {r[0] for r in counted} | {r[2] for r in comment_rows})

    rows: list[Row] = []
    for agent, *numbers in counted:
        counts = dict(zip((v for v, _ in VALUES), (int(n) for n in numbers), strict=True))
        resolved = sum(counts.values())
        rows.append({"agent": sel.key_text(agent), "name": sel.label_of("agent", agent, known, query.lang), "resolved": resolved,
                     **counts, **{f"{v}_share": share(counts[v], resolved) for v, _ in VALUES}})
    rows.sort(key=lambda r: (-r["resolved"], r["name"]))
    sums = {v: sum(r[v] for r in rows) for v, _ in VALUES}
    resolved_total = sum(sums.values())
    totals = {"agent": None, "name": tr(query.lang, "Total"), "resolved": resolved_total, **sums,
              **{f"{v}_share": share(sums[v], resolved_total) for v, _ in VALUES}}
    listed = [
        {"id": ticket_id, "subject": subject, "agent": None if agent is None else sel.label_of("agent", agent, known, query.lang),
         "rating": value, "reason": reason, "comment": comment, "rated_at": iso(rated_at)}
        for ticket_id, subject, agent, value, reason, comment, rated_at in comment_rows
    ]
    return document("ratings", query, [
        Table("by_agent", "By agent", AGENT_COLUMNS, rows, totals=totals,
              note="Tickets resolved in the range, by their latest rating."),
        Table("comments", "Reasons and comments", COMMENT_COLUMNS, listed,
              note=tr(query.lang, "The newest {n} at most.", n=MAX_LISTED) if len(listed) == MAX_LISTED else None),
    ], [
        Chart("by_agent", "stacked", "agent", tuple(f"{v}_share" for v, _ in VALUES), "Ratings by agent",
              label="name", unit="percent", roles={"good_share": "good", "none_share": "neutral", "bad_share": "bad"}),
    ])

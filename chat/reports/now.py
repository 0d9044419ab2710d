"""The desk now: open live chats, those waiting for a first answer and the longest wait,
open tickets, and the agents online (the hub's presence) with their load — the live
chats and the tickets assigned to each. Live: the date range does not apply, the
filters and the viewer's scope do.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select

from chat.authz import Principal
from chat.models import Role
from chat.reports import selection as sel
from chat.reports.filters import ReportQuery
from chat.reports.scope import report_scope, sees_all_agents
from chat.reports.tables import Chart, Column, Row, Table, document, drill
from chat.reports.texts import tr
from chat.services import Services
from escalation.lifecycle import TicketStatus
from escalation.models import Ticket

SUMMARY_COLUMNS = (
    Column("open_chats", "Open live chats", "int", drill("open_chats")),
    Column("waiting", "Waiting for a first answer", "int", drill("waiting")),
    Column("longest_wait", "Longest wait", "duration"),
    Column("open_tickets", "Open tickets", "int", drill("open_tickets")),
    Column("agents_online", "Agents online", "int"),
)
AGENT_COLUMNS = (
    Column("agent", "Agent id", "text"),
    Column("name", "Agent", "text"),
    Column("status", "Status", "text"),
    Column("open_chats", "Live chats", "int", drill("open_chats", "agent")),
    Column("open_tickets", "Open tickets", "int", drill("open_tickets", "agent")),
)


async def now_report(svc: Services, actor: Principal, query: ReportQuery) -> dict[str, Any]:
    """The desk now, as ``actor`` may see it."""
    where = sel.base(query, report_scope(actor))
    now = svc.clock.now()
    statuses = svc.presence.agent_statuses()
    # Only what is open: the closed history (most rows) is not read; closing is final.
    live = [*where, Ticket.status != TicketStatus.CLOSED]
    summary = sel.tickets_from(
        func.count().filter(sel.open_chats()), func.count().filter(sel.waiting()),
        func.min(Ticket.created_at).filter(sel.waiting()), func.count().filter(sel.open_tickets()),
        where=live,
    )
    inner = sel.tickets_from(Ticket.assignee_id.label("a"), sel.open_chats().label("c"), sel.open_tickets().label("t"),
                             where=[*live, Ticket.assignee_id.is_not(None)]).subquery()
    load = select(inner.c.a, func.count().filter(inner.c.c), func.count().filter(inner.c.t)).where(
        inner.c.c | inner.c.t).group_by(inner.c.a)
    async with sel.reading(svc) as db:
        chats, waiting, oldest, tickets = (await db.execute(summary)).one()
        loads = {a: (int(c), int(t)) for a, c, t in (await db.execute(load)).all()}
        if sees_all_agents(actor):
            shown = set(statuses)
        elif actor.role is Role.AGENT:
            shown = {actor.user_id} & set(statuses)
        else:  # a reseller admin: the agents at work on its customers' tickets
            shown = set(statuses) & set(loads)
        if query.agents:
            shown &= {a for a in query.agents if a is not None}
        known = await sel.names(db, "agent", shown)
    agents: list[Row] = [
        {"agent": str(a), "name": sel.label_of("agent", a, known, query.lang), "status": statuses[a],
         "open_chats": loads.get(a, (0, 0))[0], "open_tickets": loads.get(a, (0, 0))[1]}
        for a in shown
    ]
    agents.sort(key=lambda r: (-(r["open_chats"] + r["open_tickets"]), r["name"]))
    summary_row: Row = {
        "open_chats": int(chats), "waiting": int(waiting),
        "longest_wait": round((now - oldest).total_seconds()) if oldest is not None else None,
        "open_tickets": int(tickets), "agents_online": sum(1 for a in shown if statuses[a] == "online"),
    }
    return document("now", query, [
        Table("summary", "Now", SUMMARY_COLUMNS, [summary_row], note=tr(query.lang, "Live, at {at}.", at=now.isoformat())),
        Table("agents", "Agents online", AGENT_COLUMNS, agents),
    ], [
        Chart("agents", "stacked", "agent", ("open_chats", "open_tickets"), "Load per agent", label="name"),
    ], at=now.isoformat())

"""The SLA report: per policy, how many tickets met each target (first response, next
response, resolution) and how many breached it; the breached tickets listed; and the FFC
overview of unresolved issues — open tickets ordered by the time left on their most
urgent running target, live.

Outcomes are the stored facts (``tickets.sla_*``: ``met``, ``breached`` — sticky — or
null while running, stopped or not applicable), over the tickets created in the range.
The met share of a target is met / (met + breached). The live list reads the deadlines
the ticket's unit of work stored (``tickets.deadlines``) against ``svc.clock.now()``.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import func, or_

from chat.authz import Principal
from chat.models import Conversation
from chat.reports import selection as sel
from chat.reports.filters import ReportQuery
from chat.reports.scope import report_scope
from chat.reports.tables import Chart, Column, Row, Table, document, drill, share
from chat.reports.texts import tr
from chat.services import Services
from escalation.lifecycle import TicketStatus
from escalation.models import Ticket

TARGET_LABELS = {"first_response": "First response", "next_response": "Next response", "resolution": "Resolution"}
# Lists are for reading, not exporting everything: the ticket list behind them has all.
MAX_LISTED = 200
MAX_OPEN_LISTED = 100


def policy_columns() -> tuple[Column, ...]:
    out = [Column("policy", "Policy", "text"), Column("tickets", "Tickets", "int", drill("sla", "policy"))]
    for target, label in TARGET_LABELS.items():
        out += [
            Column(f"{target}_met", f"{label}: met", "int", drill("met", "policy", target=target)),
            Column(f"{target}_breached", f"{label}: breached", "int", drill("breached", "policy", target=target)),
            Column(f"{target}_share", f"{label}: met share", "percent"),
        ]
    return tuple(out)


BREACH_COLUMNS = (
    Column("id", "Ticket", "id"), Column("subject", "Subject", "text"), Column("target", "Target", "text"),
    Column("policy", "Policy", "text"), Column("agent", "Agent", "text"),
)
OPEN_COLUMNS = (
    Column("id", "Ticket", "id"), Column("subject", "Subject", "text"), Column("status", "Status", "text"),
    Column("target", "Target", "text"), Column("policy", "Policy", "text"), Column("agent", "Agent", "text"),
    Column("due_at", "Due at", "text"), Column("time_left", "Time left", "duration"),
)


def most_urgent(deadlines: dict[str, Any], now: datetime) -> tuple[str, datetime] | None:
    """The target due first among those still running, or overdue and unmet; ``None``
    when nothing is running (all met, paused, stopped)."""
    due: list[tuple[datetime, str]] = []
    for target, d in (deadlines or {}).items():
        if not isinstance(d, dict) or not d.get("due_at"):
            continue
        if d.get("state") == "running" or (d.get("state") == "breached" and not d.get("met_at")):
            try:
                due.append((datetime.fromisoformat(str(d["due_at"])), target))
            except ValueError:
                continue
    if not due:
        return None
    at, target = min(due)
    return target, at


async def sla_report(svc: Services, actor: Principal, query: ReportQuery) -> dict[str, Any]:
    """The SLA report of ``query`` as ``actor`` may see it."""
    where = sel.base(query, report_scope(actor))
    created = sel.MEASURES["created"](query.start, query.end)
    counts: list[Any] = [func.count()]
    for column in sel.SLA_COLUMNS.values():
        counts += [func.count().filter(column == "met"), func.count().filter(column == "breached")]
    per_policy = sel.tickets_from(Ticket.sla_policy, *counts, where=[*where, created, Ticket.sla_policy.is_not(None)]
                                  ).group_by(Ticket.sla_policy)
    any_breach = or_(*(c == "breached" for c in sel.SLA_COLUMNS.values()))
    breached = (
        sel.tickets_from(Ticket.conversation_id, Conversation.subject, Ticket.sla_policy, Ticket.assignee_id,
                         *sel.SLA_COLUMNS.values(), where=[*where, created, any_breach])
        .order_by(Ticket.conversation_id.desc()).limit(MAX_LISTED)
    )
    breached_count = sel.tickets_from(func.count(), where=[*where, created, any_breach])
    open_deadlines = sel.tickets_from(Ticket.conversation_id, Ticket.deadlines, where=[
        *where, Ticket.status != TicketStatus.CLOSED, Ticket.sla_policy.is_not(None)])
    now = svc.clock.now()
    async with sel.reading(svc) as db:
        policy_rows = (await db.execute(per_policy)).all()
        breach_rows = (await db.execute(breached)).all()
        breaches_total = int(await db.scalar(breached_count) or 0)
        # Open tickets with a policy: the backlog, hundreds at a busy desk. Their most urgent
        # deadline is read from the stored JSON here, then only the first ones are loaded.
        urgent = []
        for ticket_id, deadlines in (await db.execute(open_deadlines)).all():
            found = most_urgent(deadlines, now)
            if found is not None:
                urgent.append((found[1], ticket_id, found[0]))
        urgent.sort()
        urgent = urgent[:MAX_OPEN_LISTED]
        details = {}
        if urgent:
            details = {r[0]: r for r in (await db.execute(
                sel.tickets_from(Ticket.conversation_id, Conversation.subject, Ticket.status, Ticket.sla_policy,
                                 Ticket.assignee_id, where=[Ticket.conversation_id.in_([u[1] for u in urgent])]))).all()}
        agents = {r[3] for r in breach_rows} | {r[4] for r in details.values()}
        known = await sel.names(db, "agent", agents)

    rows: list[Row] = []
    for policy, tickets, *outcomes in policy_rows:
        row: Row = {"policy": policy, "tickets": int(tickets)}
        for i, target in enumerate(TARGET_LABELS):
            met, missed = int(outcomes[2 * i]), int(outcomes[2 * i + 1])
            row.update({f"{target}_met": met, f"{target}_breached": missed, f"{target}_share": share(met, met + missed)})
        rows.append(row)
    rows.sort(key=lambda r: r["policy"])
    totals: Row = {"policy": None, "tickets": sum(r["tickets"] for r in rows)}
    for target in TARGET_LABELS:
        met, missed = sum(r[f"{target}_met"] for r in rows), sum(r[f"{target}_breached"] for r in rows)
        totals.update({f"{target}_met": met, f"{target}_breached": missed, f"{target}_share": share(met, met + missed)})

    def agent(user_id: int | None) -> str | None:
        return None if user_id is None else sel.label_of("agent", user_id, known, query.lang)

    breach_list: list[Row] = []
    for ticket_id, subject, policy, assignee, *outcomes in breach_rows:
        for target, outcome in zip(TARGET_LABELS, outcomes, strict=True):
            if outcome == "breached":
                breach_list.append({"id": ticket_id, "subject": subject, "target": target, "policy": policy,
                                    "agent": agent(assignee)})
    open_list: list[Row] = []
    for due_at, ticket_id, target in urgent:
        _, subject, status, policy, assignee = details[ticket_id]
        open_list.append({"id": ticket_id, "subject": subject, "status": str(status.value), "target": target,
                          "policy": policy, "agent": agent(assignee), "due_at": due_at.isoformat(),
                          "time_left": round((due_at - now).total_seconds())})
    more = breaches_total > MAX_LISTED
    tables = [
        Table("per_policy", "Per policy", policy_columns(), rows, totals=totals,
              note="Tickets created in the range; the met share of a target is met / (met + breached)."),
        Table("breaches", "Breached tickets", BREACH_COLUMNS, breach_list,
              note=(tr(query.lang, "The newest {n} of {total} tickets with a breach; the ticket list "
                       "(metric=breached) has them all.", n=MAX_LISTED, total=breaches_total) if more else None)),
        Table("open_by_time_left", "Open tickets by time left", OPEN_COLUMNS, open_list,
              note=tr(query.lang, "Live, at {at}; a negative time left is overdue. At most {n}.",
                      at=now.isoformat(), n=MAX_OPEN_LISTED)),
    ]
    return document("sla", query, tables, [
        Chart("per_policy", "bars", "policy", tuple(f"{t}_share" for t in TARGET_LABELS), "Met share per policy",
              unit="percent", horizontal=True),
    ], breached_tickets=breaches_total)

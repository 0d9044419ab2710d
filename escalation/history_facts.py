"""From the ticket's history to its SLA clock: which :class:`~escalation.sla.SlaFact` each
lifecycle history event implies. Pure; it keeps the state machine
(:mod:`escalation.lifecycle`) and the clock (:mod:`escalation.sla`) unaware of each other.
"""

from __future__ import annotations

from collections.abc import Iterable

from escalation.lifecycle import EventType, HistoryEvent, TicketStatus
from escalation.sla import FactKind, SlaFact


def sla_facts(events: Iterable[HistoryEvent]) -> list[SlaFact]:
    """The SLA facts implied by history events, in order (see :class:`escalation.sla.SlaClock`).

    Waiting on the customer pauses; proposing to close resolves; leaving waiting resumes;
    leaving proposed reopens; closing closes. Follow-ups, labels, transfers and ratings
    imply nothing.
    """
    facts: list[SlaFact] = []
    direct = {
        EventType.OPENED: FactKind.OPENED,
        EventType.CHAT_OPENED: FactKind.CHAT_OPENED,
        EventType.TRACKED: FactKind.TRACKED,
        EventType.AGENT_REPLY: FactKind.AGENT_REPLY,
        EventType.CUSTOMER_REPLY: FactKind.CUSTOMER_REPLY,
        EventType.STAGE_ONE_DONE: FactKind.STAGE_ONE_DONE,
    }
    for event in events:
        kind = direct.get(event.type)
        if event.type is EventType.STATUS_CHANGED:
            kind = _status_fact(event.before, event.after)
        if kind is not None:
            facts.append(SlaFact(kind, event.at))
    return facts


def _status_fact(before: str | None, after: str | None) -> FactKind | None:
    if after == TicketStatus.CLOSED:
        return FactKind.CLOSED
    if after == TicketStatus.WAITING_ON_CUSTOMER:
        return FactKind.PAUSED
    if after == TicketStatus.PROPOSED_TO_CLOSE:
        return FactKind.RESOLVED
    if before == TicketStatus.WAITING_ON_CUSTOMER:
        return FactKind.RESUMED
    if before == TicketStatus.PROPOSED_TO_CLOSE:
        return FactKind.REOPENED
    return None

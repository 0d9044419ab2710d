"""The after-commit reaction to conversation events (registered in ``build_services``).

It keeps each support chat's ticket in step with its conversation: creates the row when
the chat starts (tracked at once when no agent is online), and applies replies that
matter. Most chat messages change nothing on the ticket; a cheap read of the row's
``watch_*`` flags skips the write for them, so the message path pays one indexed read.
Idempotent: the unit applies the stored events after ``processed_seq`` whatever the
given events say, and the sweeper replays whatever a crash left unprocessed.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sqlalchemy import select

from chat.authz import Principal
from chat.hot_reads import hot_reads_of
from chat.models import ConversationKind, Role, User
from chat.services import NoPresence, Services
from escalation.lifecycle import Actor, track
from escalation.prechat import apply_committed
from escalation.unit_of_work import STAFF_WRITERS, Work, run_unit

_STAFF = {r.value for r in STAFF_WRITERS}


def _matters(event: dict[str, Any], watch_agent: bool, watch_customer: bool) -> bool:
    if event.get("kind") != "message" or event.get("internal"):
        return False
    author = event.get("author") or {}
    role = author.get("role")
    if role in _STAFF:
        return watch_agent
    if role == Role.RESELLER_ADMIN.value:
        # A partner answering its own first line, or speaking for its customer: the unit
        # tells which (it knows the ticket's partner).
        return watch_agent or watch_customer
    return role is not None and role != Role.READ_ONLY.value and watch_customer


async def _nobody_online(work: Work) -> bool:
    """Whether no agent is online right now, as this web process's hub knows it; ``False``
    where nobody can know (the worker has no hub)."""
    presence = work.svc.presence
    if isinstance(presence, NoPresence) or not work.desk.ticket_when_no_agent_online:
        return False
    online = [uid for uid, status in presence.agent_statuses().items() if status == "online"]
    if not online:
        return True
    agents = await work.db.scalar(
        select(User.id).where(User.id.in_(online), User.role.in_(list(STAFF_WRITERS)), User.disabled.is_(False)).limit(1)
    )
    return agents is None


async def _on_created(work: Work) -> None:
    """A chat started while no agent is online is a ticket from its start. Its
    ``conversation.created`` event is its opening: no separate ``ticket.opened``. The
    pre-chat answers committed with the start go on the row first: the tracking
    decision's deadlines and the assignment pass after this reaction use them."""
    if work.created:
        await apply_committed(work)
    if not work.created or work.ticket.tracked or not await _nobody_online(work):
        return
    moved = track(work.state(), work.conv.created_at, Actor.system())
    work.store_state(moved.state)
    work.record(moved.events)
    work.ticket.tracked_at, work.ticket.tracked_reason = work.conv.created_at, "no_agent_online"
    work.ring("ticket.opened")


async def _nothing(work: Work) -> None:
    return None


# Runs after every committed message: plain SQL through the hot reads (chat/hot_reads.py),
# a few µs on SQLite where a SQLAlchemy round trip cost ~0.3 ms of CPU.
_WATCHED = """
SELECT c.kind, t.processed_seq, t.watch_agent_reply, t.watch_customer_reply
FROM conversations AS c LEFT JOIN tickets AS t ON t.conversation_id = c.id
WHERE c.id = :id
"""


async def react_to_events(svc: Services, actor: Principal, events: list[dict[str, Any]]) -> None:
    """Bring the tickets of the conversations in ``events`` up to date."""
    by_conversation: dict[int, list[dict[str, Any]]] = {}
    for event in events:
        by_conversation.setdefault(int(event["conversation_id"]), []).append(event)
    reads = hot_reads_of(svc)
    for conv_id, mine in by_conversation.items():
        for kind, processed, watch_agent, watch_customer in await reads.rows(_WATCHED, {"id": conv_id}):
            if kind != ConversationKind.CHAT.value:
                continue
            if processed is None:
                await run_unit(svc, conv_id, _on_created if _starts(mine) else _nothing)
            elif any(_matters(e, bool(watch_agent), bool(watch_customer)) for e in mine if e["seq"] > processed):
                await run_unit(svc, conv_id, _nothing)


def _starts(events: Iterable[dict[str, Any]]) -> bool:
    return any((e.get("data") or {}).get("event") == "conversation.created" for e in events)

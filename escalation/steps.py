"""Steps shared by the ticket use cases, the closing ones and the sweeper: who acts, the
ticket as JSON, a staff note, and applying one status command inside a unit of work."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from chat import validation
from chat.authz import Principal
from chat.errors import Conflict
from chat.events import EventKind, append_event, attribution, event_json
from chat.models import User
from chat.secrets_mask import mask_secrets
from chat.services import Services
from escalation.errors import InvalidTransfer
from escalation.lifecycle import (
    EventType,
    HistoryEvent,
    SupportLevel,
    TicketStatus,
    close,
    propose_close,
    reopen,
    start,
    track,
    wait_on_customer,
)
from escalation.transfers import escalate
from escalation.unit_of_work import Work, run_unit
from escalation.views import desk_view, ticket_json

MAX_NOTE = 2000
STATUS_ACTIONS = ("start", "wait_on_customer", "propose_close", "reopen", "close", "stage_one_done")


async def actor_user(work: Work, actor: Principal | None) -> User | None:
    return None if actor is None else await work.db.get(User, actor.user_id)


async def as_json(work: Work, actor: Principal | None) -> dict[str, Any]:
    await work.db.flush()
    return await ticket_json(work.db, work.ticket, work.conv, staff=desk_view(actor, work.ticket))


async def add_note(work: Work, user: User | None, note: str | None) -> None:
    """A staff note that travels with an action: an internal note in the stream."""
    if note is None:
        return
    # Masked like every note sent in the chat (chat.conversations.submit_message).
    masked = mask_secrets(validation.text(note, "note", max_length=MAX_NOTE))
    stored = await append_event(work.db, work.conv.id, kind=EventKind.NOTE, now=work.now,
                                author_id=user.id if user else None, body=masked.text, internal=True,
                                data={"masked": list(masked.kinds)} if masked.found else None)
    work.events.append(event_json(stored, user))


COMMANDS = {"start": start, "wait_on_customer": wait_on_customer, "propose_close": propose_close,
             "reopen": reopen, "close": close}
CLOSE_MESSAGES = {
    "agent": "Support closed this conversation.",
    "customer": "The customer ended this conversation.",
    "auto": "Closed automatically: no reply within the waiting time.",
    "auto_proposed": "Closed automatically: the proposed solution was not disputed in time.",
}


async def apply_status(work: Work, user: User | None, action: str) -> None:
    """One status command inside a unit (shared with closing and the sweeper)."""
    before = work.state()
    if action == "stage_one_done":
        if before.stage_one_done_at is not None or before.status is TicketStatus.CLOSED:
            raise Conflict("stage one is already done", code="no_change")
        work.ticket.stage_one_done_at = work.now
        work.record([HistoryEvent(EventType.STAGE_ONE_DONE, work.now, work.actor(user))])
        await work.append("ticket.updated", user, internal=False,
                          changes={"stage_one_done_at": {"from": None, "to": work.now.isoformat()}})
        return
    moved = COMMANDS[action](before, work.now, work.actor(user))
    work.store_state(moved.state)
    work.record(moved.events)
    await work.append("ticket.status_changed", user, internal=False,
                      data={"from": before.status.value, "to": moved.state.status.value, "label": moved.state.label})
    if moved.state.status is TicketStatus.CLOSED:
        reason = work.ticket.close_reason or "agent"
        text = CLOSE_MESSAGES["auto_proposed" if reason == "auto" and before.status is TicketStatus.PROPOSED_TO_CLOSE
                              else reason]
        await work.append("conversation.closed", user, internal=False, body=text, reason=reason)


async def mark_tracked(work: Work, user: User | None, reason: str) -> None:
    """The chat becomes a ticket now (stage-one and resolution clocks start): ``ticket.opened``."""
    moved = track(work.state(), work.now, work.actor(user))
    work.store_state(moved.state)
    work.record(moved.events)
    work.ticket.tracked_at, work.ticket.tracked_reason = work.now, reason
    t = work.ticket
    await work.append("ticket.opened", user, internal=False, channel=t.channel.value, category=t.category,
                      severity=t.severity, level=t.level, group=t.group_key, reason=reason)


def transfer_target(work: Work, level: int | None, group: str | None) -> tuple[SupportLevel, str | None]:
    """Where a transfer goes: a group alone takes its own line; a line alone, no group."""
    if group is not None and group not in work.desk.groups:
        known = ", ".join(work.desk.groups)
        raise InvalidTransfer(f"unknown group {group!r}; known: {known}")
    if level is None:
        level = work.desk.groups[group].level if group is not None else work.ticket.level
    if isinstance(level, bool) or level not in (1, 2, 3):
        raise InvalidTransfer(f"support level must be 1, 2 or 3, got {level!r}")
    return SupportLevel(level), group


async def transfer(work: Work, user: User | None, level: int | None, group: str | None, note: str | None = None,
                    *, reason: str | None = None, extra: Mapping[str, Any] | None = None) -> None:
    target_level, target_group = transfer_target(work, level, group)
    before = work.state()
    moved = escalate(before, work.now, work.actor(user), level=target_level, group=target_group,
                     settings=work.desk.lifecycle)
    work.store_state(moved.state)
    data: dict[str, Any] = {"level": int(target_level), "group": target_group, "note": note,
                            "from": {"level": int(before.level), "group": before.group}, **(extra or {})}
    if reason is not None:
        data["reason"] = reason
    await work.append("ticket.transferred", user, internal=True, **data)


async def run_and_render(
    svc: Services, ticket_id: int, change: Callable[[Work], Awaitable[None]], actor: Principal | None
) -> dict[str, Any]:
    """Run a use case's change in a unit and return the ticket as ``actor`` sees it after it."""
    result = await run_unit(svc, ticket_id, change, render=lambda work: as_json(work, actor),
                            acting=attribution(actor) if actor is not None else None)
    assert result is not None
    rendered: dict[str, Any] = result[1].rendered
    return rendered

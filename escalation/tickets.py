"""Ticket use cases: one function each, one transaction each, published after the commit.

The Python API the console and group-chat code build on. Every function takes the acting
:class:`~chat.authz.Principal` (``None`` = the system: the sweeper, a conversion) and the
ticket's id, which is its conversation's id. A support chat whose ticket row is missing
gets it created on the way (see :func:`escalation.unit_of_work.run_unit`).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from chat import validation
from chat.access_changes import access_lost
from chat.authz import Action, Principal
from chat.errors import Conflict, ValidationFailed
from chat.events import EventKind, author_json
from chat.models import STAFF_ROLES, Conversation, Event, Participant, Role, User
from chat.secrets_mask import mask_secrets
from chat.services import Services
from escalation import fields
from escalation.access import require_on_ticket
from escalation.closing import close_conversation, rate_ticket, start_follow_up
from escalation.intake import TicketDraft, open_ticket
from escalation.models import Ticket
from escalation.steps import (
    STATUS_ACTIONS,
    actor_user,
    add_note,
    apply_status,
    mark_tracked,
    run_and_render,
    transfer,
)
from escalation.ticket_tasks import add_task, update_task
from escalation.transfers import set_label
from escalation.unit_of_work import STAFF_WRITERS, Work, is_partner
from escalation.views import desk_view, ticket_json

__all__ = [
    "TicketDraft", "add_task", "assign_ticket", "change_status", "close_conversation", "escalate_conversation",
    "get_ticket", "open_ticket", "rate_ticket", "start_follow_up", "ticket_json", "transfer_ticket",
    "update_task", "update_ticket",
]

MAX_NOTE = 2000


async def get_ticket(svc: Services, actor: Principal, ticket_id: int) -> dict[str, Any]:
    """The ticket as ``actor`` may see it (``not_found`` if they may not)."""

    async with svc.reads() as db:
        conv = await db.get(Conversation, ticket_id)
        ticket = await db.get(Ticket, ticket_id) if conv is not None else None
        if conv is not None and ticket is not None and not await _behind(db, ticket):
            await require_on_ticket(db, actor, conv, ticket, Action.VIEW_TICKET)
            return await ticket_json(db, ticket, conv, staff=desk_view(actor, ticket))

    async def read(work: Work) -> None:
        await require_on_ticket(work.db, actor, work.conv, work.ticket, Action.VIEW_TICKET)

    # Missing, or behind a reply that matters: a unit brings it up to date first, so
    # what is shown is never behind the conversation.
    return await run_and_render(svc, ticket_id, read, actor)


async def _behind(db: AsyncSession, ticket: Ticket) -> bool:
    """Whether a stored message the ticket has not applied yet would change it."""
    roles = await db.scalars(
        select(User.role)
        .join(Event, Event.author_id == User.id)
        .where(Event.conversation_id == ticket.conversation_id, Event.seq > ticket.processed_seq,
               Event.type == EventKind.MESSAGE.value, Event.internal.is_(False))
    )
    for role in roles:
        if role is Role.RESELLER_ADMIN and ticket.handled_by_org_id is not None:
            # The partner answering its own queue, or a customer of theirs: either side.
            if ticket.watch_agent_reply or ticket.watch_customer_reply:
                return True
            continue
        staff = role in STAFF_WRITERS
        if (staff and ticket.watch_agent_reply) or (not staff and role is not Role.READ_ONLY and ticket.watch_customer_reply):
            return True
    return False


def _not_in_partner_queue(work: Work) -> None:
    """Support lines and groups are the platform's: a partner's ticket goes there with
    ``to_platform`` (:func:`escalation.partner.transfer_to_platform`), not by a transfer."""
    if work.ticket.handled_by_org_id is not None:
        raise Conflict("this ticket is in a partner's own queue: transfer it to the platform first",
                       code="partner_ticket")


async def _recategorize(work: Work, user: User | None, category: str | None) -> None:
    clean = fields.category(work.desk, category, staff=True)
    if clean == work.ticket.category:
        return
    before, work.ticket.category = work.ticket.category, clean
    await work.append("ticket.recategorized", user, internal=False, data={"from": before, "to": clean})


async def escalate_conversation(
    svc: Services,
    actor: Principal | None,
    conversation_id: int,
    *,
    reason: str = "agent",
    level: int | None = None,
    group: str | None = None,
    category: str | None = None,
    severity: int | None = None,
    note: str | None = None,
) -> dict[str, Any]:
    """Chat -> ticket in the same thread: SLA clocks per policy start now; optionally
    transferred, categorized, rated for severity, with an internal note. ``actor=None``
    is the system (idle visitor, no answer, nobody online). Already a ticket and nothing
    else asked for: 409 ``already_tracked``."""
    severity = fields.severity(severity)

    async def change(work: Work) -> None:
        if actor is not None:
            await require_on_ticket(work.db, actor, work.conv, work.ticket, Action.WORK_TICKET)
        user = await actor_user(work, actor)
        nothing_else = level is None and group is None and category is None and severity is None
        if work.ticket.tracked and nothing_else:
            raise Conflict("this conversation is already a ticket", code="already_tracked")
        if category is not None:
            fields.category(work.desk, category, staff=True)  # refuse before anything is recorded
        if level is not None or group is not None:
            _not_in_partner_queue(work)
        if not work.ticket.tracked:
            await mark_tracked(work, user, reason)
        if category is not None:
            await _recategorize(work, user, category)
        if severity is not None and severity != work.ticket.severity:
            before, work.ticket.severity = work.ticket.severity, severity
            await work.append("ticket.updated", user, internal=False,
                              changes={"severity": {"from": before, "to": severity}})
        if level is not None or group is not None:
            await transfer(work, user, level, group, note)
        else:
            await add_note(work, user, note)

    return await run_and_render(svc, conversation_id, change, actor)


_UNSET_FIELDS = ("subject", "category", "severity", "assets", "cc", "happened_at", "label")


async def update_ticket(svc: Services, actor: Principal, ticket_id: int, changes: Mapping[str, Any]) -> dict[str, Any]:
    """Staff edit fields: ``subject``, ``category`` (recorded as a re-categorization),
    ``severity``, ``assets``, ``cc``, ``happened_at``, ``label``. Only the given keys change;
    nothing given, or nothing different, is 422 ``no_change``."""
    unknown = set(changes) - set(_UNSET_FIELDS)
    if unknown:
        raise ValidationFailed(f"unknown fields: {', '.join(sorted(unknown))}")
    if "severity" in changes:
        fields.severity(changes["severity"])

    async def change(work: Work) -> None:
        await require_on_ticket(work.db, actor, work.conv, work.ticket, Action.WORK_TICKET)
        user = await actor_user(work, actor)
        t = work.ticket
        diff: dict[str, Any] = {}
        if "subject" in changes:
            # A secret typed into the subject is masked before it is stored (chat.secrets_mask).
            subject_masked = mask_secrets(validation.text(changes["subject"], "subject", max_length=300))
            subject = subject_masked.text
            if subject != work.conv.subject:
                diff["subject"] = {"from": work.conv.subject, "to": subject}
                if subject_masked.found:
                    diff["subject"]["masked"] = list(subject_masked.kinds)
                work.conv.subject = subject
        if "severity" in changes and changes["severity"] != t.severity:
            diff["severity"] = {"from": t.severity, "to": changes["severity"]}
            t.severity = changes["severity"]
        if "assets" in changes:
            assets = fields.assets(changes["assets"])
            if assets != t.assets:
                diff["assets"] = {"from": t.assets, "to": assets}
                t.assets = assets
        if "cc" in changes:
            requester = await work.db.get(User, t.requester_id) if t.requester_id else None
            cc = await fields.cc_users(work.db, changes["cc"], requester=requester)
            if cc != t.cc:
                await sync_participants(work, added=set(cc) - set(t.cc), removed=set(t.cc) - set(cc))
                diff["cc"] = {"from": t.cc, "to": cc}
                t.cc = cc
        if "happened_at" in changes:
            happened = fields.happened_at(changes["happened_at"], work.now)
            if happened != t.happened_at:
                diff["happened_at"] = {"from": _iso(t.happened_at), "to": _iso(happened)}
                t.happened_at = happened
        if "label" in changes and changes["label"] != t.label:
            moved = set_label(work.state(), work.now, work.actor(user), changes["label"], work.desk.lifecycle)
            diff["label"] = {"from": t.label, "to": moved.state.label}
            work.store_state(moved.state)
        recategorize = "category" in changes and changes["category"] != t.category
        if not diff and not recategorize:
            raise ValidationFailed("nothing to change", code="no_change")
        if recategorize:
            await _recategorize(work, user, changes["category"])
        if diff:
            await work.append("ticket.updated", user, internal=False, changes=diff)

    return await run_and_render(svc, ticket_id, change, actor)


def _iso(at: datetime | None) -> str | None:
    return None if at is None else at.isoformat()


async def sync_participants(work: Work, *, added: set[int], removed: set[int]) -> None:
    """People copied on a ticket, and a partner's admin it is assigned to, follow its
    conversation (they read it; they may write); taken off, they leave it — and their open
    sockets leave its room after the commit, unless they may still read it another way
    (:mod:`chat.access_changes`)."""
    rows = {p.user_id: p for p in await work.db.scalars(
        select(Participant).where(Participant.conversation_id == work.conv.id,
                                  Participant.user_id.in_(added | removed))
    )}
    for user_id in added:
        if user_id in rows:
            rows[user_id].left_at = None
        else:
            work.db.add(Participant(conversation_id=work.conv.id, user_id=user_id, joined_at=work.now, last_read_seq=0))
    gone = (removed & set(rows)) - added
    for user_id in gone:
        rows[user_id].left_at = work.now
    message = await access_lost(work.db, work.conv, gone)
    if message is not None:
        work.access.append(message)


async def change_status(
    svc: Services, actor: Principal, ticket_id: int, action: str, *, note: str | None = None
) -> dict[str, Any]:
    """``start`` | ``wait_on_customer`` | ``propose_close`` (the console's "Resolve") |
    ``reopen`` | ``close`` | ``stage_one_done`` (SKAI: consultation given or ETA named).
    The lifecycle refuses what the status or the actor does not allow (409 / 403)."""
    if action not in STATUS_ACTIONS:
        raise ValidationFailed(f"action must be one of {', '.join(STATUS_ACTIONS)}")

    async def change(work: Work) -> None:
        await require_on_ticket(work.db, actor, work.conv, work.ticket, Action.CHANGE_TICKET_STATUS)
        if note is not None and actor.role not in STAFF_ROLES:
            raise ValidationFailed("note is for staff (it is internal)")
        user = await actor_user(work, actor)
        await apply_status(work, user, action)
        await add_note(work, user, note)

    return await run_and_render(svc, ticket_id, change, actor)


async def assign_ticket(svc: Services, actor: Principal, ticket_id: int, assignee_id: int | None) -> dict[str, Any]:
    """Assign to an agent or support admin (``None`` unassigns); a ticket in a partner's
    own queue to an admin of that partner, who then takes part in the conversation (to
    answer in it). Same assignee: 409 ``no_change``."""

    async def change(work: Work) -> None:
        await require_on_ticket(work.db, actor, work.conv, work.ticket, Action.WORK_TICKET)
        user = await actor_user(work, actor)
        partner = work.ticket.handled_by_org_id
        assignee = None
        if assignee_id is not None:
            assignee = await work.db.get(User, assignee_id)
            if partner is not None:
                if assignee is None or assignee.disabled or not is_partner(assignee, partner):
                    raise ValidationFailed(f"assignee_id: {assignee_id} is not an enabled admin of the partner "
                                           "whose queue holds this ticket")
            elif assignee is None or assignee.disabled or assignee.role not in (Role.AGENT, Role.SUPPORT_ADMIN):
                raise ValidationFailed(f"assignee_id: {assignee_id} is not an enabled agent or support admin")
        if assignee_id == work.ticket.assignee_id:
            raise Conflict("the ticket is already assigned so", code="no_change")
        previous = await work.db.get(User, work.ticket.assignee_id) if work.ticket.assignee_id else None
        if previous is not None and is_partner(previous, partner):
            await sync_participants(work, added=set(), removed={previous.id})
        if assignee is not None and partner is not None:
            await sync_participants(work, added={assignee.id}, removed=set())
        work.ticket.assignee_id = assignee_id
        await work.append("ticket.assigned", user, internal=True, assignee=author_json(assignee),
                          previous=author_json(previous))

    return await run_and_render(svc, ticket_id, change, actor)


async def _release_on_transfer(work: Work, user: User | None) -> None:
    """A transfer hands the ticket to another line: whoever answered it on the old line no
    longer does (it would stay "mine" for them, and look taken to the new line)."""
    if work.ticket.assignee_id is None:
        return
    previous = await work.db.get(User, work.ticket.assignee_id)
    work.ticket.assignee_id = None
    await work.append("ticket.assigned", user, internal=True, assignee=None, previous=author_json(previous),
                      released=True, reason="transferred")


async def transfer_ticket(
    svc: Services, actor: Principal, ticket_id: int, *, level: int | None = None, group: str | None = None,
    note: str | None = None,
) -> dict[str, Any]:
    """Move to another support line and/or group (``group`` alone takes the group's line);
    the ticket's assignee, if any, is released (it waits for the new line)."""
    if level is None and group is None:
        raise ValidationFailed("give level, group or both")
    if note is not None:
        note = validation.text(note, "note", max_length=MAX_NOTE)

    async def change(work: Work) -> None:
        await require_on_ticket(work.db, actor, work.conv, work.ticket, Action.WORK_TICKET)
        _not_in_partner_queue(work)
        user = await actor_user(work, actor)
        await transfer(work, user, level, group, note)
        await _release_on_transfer(work, user)

    return await run_and_render(svc, ticket_id, change, actor)

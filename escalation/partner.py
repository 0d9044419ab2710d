"""Partner first line, the tickets' side (PSD): a ticket of a customer whose reseller has
"own first line" on lands in that reseller's own queue (``tickets.handled_by_org_id``, set
when the row is created: :func:`escalation.unit_of_work.first_line_partner`). The reseller's
admins list and work it; platform agents do not, and platform queues leave it out
(:data:`PLATFORM_QUEUE`), until the partner hands it over with :func:`transfer_to_platform`.
Support admins keep oversight of both.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import ColumnElement, select

from chat import validation
from chat.authz import Action, Principal
from chat.errors import Conflict
from chat.models import Role, User
from chat.services import Services
from escalation.access import require_on_ticket
from escalation.models import Ticket
from escalation.steps import MAX_NOTE, actor_user, run_and_render, transfer
from escalation.tickets import sync_participants
from escalation.unit_of_work import Work, is_partner

PLATFORM_QUEUE: ColumnElement[bool] = Ticket.handled_by_org_id.is_(None)
"""Add to a query of platform staff's queues: leaves out what partners hold."""


async def partner_admins(work: Work) -> list[int]:
    """The enabled admins of the partner whose queue holds the ticket (whom its escalation
    ladder notifies instead of platform admins)."""
    if work.ticket.handled_by_org_id is None:
        return []
    rows = await work.db.scalars(
        select(User.id).where(User.role == Role.RESELLER_ADMIN, User.organization_id == work.ticket.handled_by_org_id,
                              User.disabled.is_(False)).order_by(User.id)
    )
    return list(rows)


async def transfer_to_platform(
    svc: Services, actor: Principal, ticket_id: int, *, level: int | None = None, group: str | None = None,
    note: str | None = None,
) -> dict[str, Any]:
    """The partner hands its ticket to platform staff: it leaves the partner's queue (and
    the partner's assignee lets go of it) and joins the platform's, optionally on a given
    support line and group. Recorded as ``ticket.transferred`` with ``to_platform: true``
    and the partner's id; staff consoles get the inbox doorbell. A ticket that is not in a
    partner's queue: 409 ``not_partner_ticket``."""
    if note is not None:
        note = validation.text(note, "note", max_length=MAX_NOTE)

    async def change(work: Work) -> None:
        await require_on_ticket(work.db, actor, work.conv, work.ticket, Action.TRANSFER_TO_PLATFORM)
        t = work.ticket
        partner = t.handled_by_org_id
        if partner is None:
            raise Conflict("this ticket is already with platform staff", code="not_partner_ticket")
        user = await actor_user(work, actor)
        extra = {"to_platform": True, "partner_id": partner}
        if level is not None or group is not None:
            # Moved while still the partner's, so the lifecycle sees the partner as support.
            await transfer(work, user, level, group, note, reason="partner", extra=extra)
        else:
            here = {"level": t.level, "group": t.group_key}
            await work.append("ticket.transferred", user, internal=True,
                              data={**here, "note": note, "from": here, "reason": "partner", **extra})
        t.handled_by_org_id = None
        assignee = await work.db.get(User, t.assignee_id) if t.assignee_id is not None else None
        if assignee is not None and is_partner(assignee, partner):
            t.assignee_id = None
            await sync_participants(work, added=set(), removed={assignee.id})

    return await run_and_render(svc, ticket_id, change, actor)


__all__ = ["PLATFORM_QUEUE", "partner_admins", "transfer_to_platform"]

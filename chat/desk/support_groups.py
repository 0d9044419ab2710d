"""The transfer groups (PSD: Second level, Marketing, Vendor, Incidents) as a support admin
edits them in the console. The table is the tickets' (``escalation.models.SupportGroup``,
read afresh by every ticket change); this module only edits its rows, and shows them as
the SLA settings do (``escalation.admin.SupportGroupView``)."""

from __future__ import annotations

import re

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from chat import validation
from chat.authz import Action, Principal, require
from chat.errors import Conflict, NotFound, ValidationFailed
from chat.services import Services
from escalation.admin import SupportGroupView
from escalation.lifecycle import TicketStatus
from escalation.models import SupportGroup, Ticket

_KEY = re.compile(r"^[a-z0-9][a-z0-9_-]{0,63}$")


def _level(value: int) -> int:
    if value not in (1, 2, 3):
        raise ValidationFailed("level must be 1, 2 or 3")
    return value


async def create_group(
    svc: Services, actor: Principal, *, key: str, name: str, level: int, position: int | None = None
) -> SupportGroupView:
    require(actor, Action.MANAGE_DESK)
    clean_key = key.strip().lower()
    if not _KEY.match(clean_key):
        raise ValidationFailed("key must be lower-case letters, digits, '-' or '_' (at most 64)")
    group = SupportGroup(key=clean_key, name=validation.text(name, "name", max_length=200), level=_level(level))
    try:
        async with svc.sessions.begin() as db:
            if position is None:
                position = int(await db.scalar(select(func.coalesce(func.max(SupportGroup.position), -1))) or 0) + 1
            group.position = position
            db.add(group)
    except IntegrityError:
        raise Conflict(f"a group {clean_key!r} exists already", code="group_exists") from None
    return SupportGroupView.of(group)


async def update_group(
    svc: Services, actor: Principal, key: str, *, name: str | None = None, level: int | None = None,
    position: int | None = None,
) -> SupportGroupView:
    """Rename, move to another line, or reorder. The key stays: tickets point at it."""
    require(actor, Action.MANAGE_DESK)
    async with svc.sessions.begin() as db:
        group = await db.get(SupportGroup, key)
        if group is None:
            raise NotFound("no such group")
        if name is not None:
            group.name = validation.text(name, "name", max_length=200)
        if level is not None:
            group.level = _level(level)
        if position is not None:
            group.position = position
        await db.flush()
    return SupportGroupView.of(group)


async def delete_group(svc: Services, actor: Principal, key: str) -> None:
    """Only an empty group goes: open tickets in it would silently lose their queue."""
    require(actor, Action.MANAGE_DESK)
    async with svc.sessions.begin() as db:
        group = await db.get(SupportGroup, key)
        if group is None:
            raise NotFound("no such group")
        in_use = await db.scalar(
            select(func.count()).select_from(Ticket)
            .where(Ticket.group_key == key, Ticket.status != TicketStatus.CLOSED)
        )
        if in_use:
            raise Conflict(f"{in_use} open ticket(s) are in this group; transfer them first", code="group_in_use")
        await db.delete(group)

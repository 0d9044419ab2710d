"""The transfer groups (PSD: Second level, Marketing, Vendor, Incidents) as a support admin
edits them in the console. The table is the tickets' (``escalation.models.SupportGroup``,
read afresh by every ticket change); this module only edits its rows, and shows them as
the SLA settings do (``escalation.admin.SupportGroupView``)."""

from __future__ import annotations

import re
from typing import Any

import msgspec
from msgspec import UNSET, UnsetType
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from chat import audit, validation
from chat.authz import Action, Principal, require
from chat.errors import Conflict, NotFound, ValidationFailed
from chat.models import Role, User
from chat.services import Services
from escalation.admin import SupportGroupView
from escalation.lifecycle import TicketStatus
from escalation.models import SupportGroup, Ticket

_KEY = re.compile(r"^[a-z0-9][a-z0-9_-]{0,63}$")


def _level(value: int) -> int:
    if value not in (1, 2, 3):
        raise ValidationFailed("level must be 1, 2 or 3", field="level")
    return value


async def _check_lead(db: AsyncSession, lead_id: int | None) -> int | None:
    """The group's lead (paged by the escalation ladder's notify_group_lead): an enabled
    agent or support admin, as escalation.admin.put_support_group checks it."""
    if lead_id is None:
        return None
    lead = await db.get(User, lead_id)
    if lead is None or lead.disabled or lead.role not in (Role.AGENT, Role.SUPPORT_ADMIN):
        raise ValidationFailed(f"lead_id: {lead_id} is not an enabled agent or support admin", field="lead_id")
    return lead_id


def _json(group: SupportGroup) -> dict[str, Any]:
    view: dict[str, Any] = msgspec.to_builtins(SupportGroupView.of(group))
    return view


async def _audit(db: AsyncSession, svc: Services, actor: Principal, verb: str, key: str,
                 before: dict[str, Any] | None, after: dict[str, Any] | None) -> None:
    await audit.record_change(db, actor, at=svc.clock.now(), action=f"config.group.{verb}", target_kind="group",
                              target_id=key, before=before, after=after)


async def create_group(
    svc: Services, actor: Principal, *, key: str, name: str, level: int, position: int | None = None,
    lead_id: int | None = None,
) -> SupportGroupView:
    require(actor, Action.MANAGE_DESK)
    clean_key = key.strip().lower()
    if not _KEY.match(clean_key):
        raise ValidationFailed("key must be lower-case letters, digits, '-' or '_' (at most 64)", field="key")
    group = SupportGroup(key=clean_key, name=validation.text(name, "name", max_length=200), level=_level(level))
    try:
        async with svc.sessions.begin() as db:
            group.lead_id = await _check_lead(db, lead_id)
            if position is None:
                position = int(await db.scalar(select(func.coalesce(func.max(SupportGroup.position), -1))) or 0) + 1
            group.position = position
            db.add(group)
            await db.flush()
            await _audit(db, svc, actor, "create", clean_key, None, _json(group))
    except IntegrityError:
        raise Conflict(f"a group {clean_key!r} exists already", code="group_exists") from None
    return SupportGroupView.of(group)


async def update_group(
    svc: Services, actor: Principal, key: str, *, name: str | None = None, level: int | None = None,
    position: int | None = None, lead_id: int | UnsetType | None = UNSET,
) -> SupportGroupView:
    """Rename, move to another line, reorder, or give it a lead (``lead_id`` None: no
    lead; unset: unchanged). The key stays: tickets point at it."""
    require(actor, Action.MANAGE_DESK)
    async with svc.sessions.begin() as db:
        group = await db.get(SupportGroup, key)
        if group is None:
            raise NotFound("no such group")
        before = _json(group)
        # Every check before the first change: a refusal leaves the row as it was.
        clean_name = validation.text(name, "name", max_length=200) if name is not None else group.name
        clean_level = _level(level) if level is not None else group.level
        clean_lead = await _check_lead(db, lead_id) if not isinstance(lead_id, UnsetType) else group.lead_id
        group.name, group.level, group.lead_id = clean_name, clean_level, clean_lead
        if position is not None:
            group.position = position
        await db.flush()
        after = _json(group)
        if after != before:
            await _audit(db, svc, actor, "update", key, before, after)
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
        await _audit(db, svc, actor, "delete", key, _json(group), None)
        await db.delete(group)

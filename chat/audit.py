"""The audit log: who did what, when, for whom, to what, and why.

One row per audited action, written by :func:`record` inside the transaction of the
change it records — an undone change leaves no row, and a committed one always has its
row. Rows are never updated or deleted by the product. General on purpose: impersonation
records its start and end here (:mod:`chat.impersonation`); configuration changes
(issue 19) record their state before and after.

Read by staff through ``GET /api/audit`` (:func:`list_entries`): support admins and
read-only staff, filtered by actor, action, target and time range, newest first, paged by
a cursor (the last id seen) so that rows written meanwhile neither repeat nor vanish.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import msgspec
from sqlalchemy import and_, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from chat.authz import Action, Principal, require
from chat.errors import ValidationFailed
from chat.models import AuditLog, User
from chat.people import person_json
from chat.services import Services

ACTION_MAX = 64  # audit_log.action is String(64)
TARGET_KIND_MAX = 40
TARGET_ID_MAX = 64
REASON_MAX = 500
PAGE_DEFAULT = 50
PAGE_MAX = 200


async def record(
    db: AsyncSession,
    *,
    at: datetime,
    actor_id: int | None,
    action: str,
    on_behalf_of_id: int | None = None,
    target_kind: str | None = None,
    target_id: int | str | None = None,
    reason: str | None = None,
    before: Mapping[str, Any] | None = None,
    after: Mapping[str, Any] | None = None,
) -> AuditLog:
    """Add one audit row in the caller's transaction (flushed, so its id is known).

    ``actor_id``: who did it (``None``: the system, e.g. a sweeper); ``on_behalf_of_id``:
    the user they acted as (impersonation). ``action`` is a dotted name
    (``impersonation.start``); ``before``/``after``: the changed state, JSON-able."""
    if not action or len(action) > ACTION_MAX:
        raise ValueError(f"an audit action is 1-{ACTION_MAX} characters")  # a programming error
    row = AuditLog(
        at=at,
        actor_id=actor_id,
        on_behalf_of_id=on_behalf_of_id,
        action=action,
        target_kind=target_kind[:TARGET_KIND_MAX] if target_kind else None,
        target_id=str(target_id)[:TARGET_ID_MAX] if target_id is not None else None,
        reason=reason[:REASON_MAX] if reason else None,
        before=dict(before) if before is not None else None,
        after=dict(after) if after is not None else None,
    )
    db.add(row)
    await db.flush()
    return row


CONFIG_PREFIX = "config."
"""Every configuration change's action starts so (issue 19): ``GET /api/audit?action=config.``."""


def as_json(view: Any) -> dict[str, Any]:
    """A view (a msgspec struct, what GET returns for the object) as the plain JSON object
    an audit row keeps in ``before``/``after``."""
    out = msgspec.to_builtins(view)
    assert isinstance(out, dict), "an audited state is a JSON object"
    return out


async def record_change(
    db: AsyncSession,
    principal: Principal | None,
    *,
    at: datetime,
    action: str,
    target_kind: str,
    target_id: int | str,
    before: Any = None,
    after: Any = None,
) -> AuditLog:
    """Audit one configuration change made by ``principal`` in the caller's transaction.

    ``before``/``after``: the object's view before and after (``None``: created / deleted),
    views or plain dicts. Inside an impersonated session the staff member behind it is the
    actor and the user they act as is ``on_behalf_of`` — as impersonation itself records.
    ``principal`` None: the system (the operator's command line), no person named."""
    assert action.startswith(CONFIG_PREFIX), "configuration changes are config.<thing>.<verb>"
    if principal is None:
        actor, behalf = None, None
    elif principal.impersonator_id is not None:
        actor, behalf = principal.impersonator_id, principal.user_id
    else:
        actor, behalf = principal.user_id, None
    return await record(
        db, at=at, actor_id=actor, on_behalf_of_id=behalf, action=action, target_kind=target_kind,
        target_id=target_id,
        before=None if before is None else (before if isinstance(before, dict) else as_json(before)),
        after=None if after is None else (after if isinstance(after, dict) else as_json(after)),
    )


@dataclass(frozen=True)
class AuditFilter:
    """What ``GET /api/audit`` asks for; every field optional."""

    actor_id: int | None = None
    on_behalf_of_id: int | None = None
    action: str | None = None
    """An exact action, or a prefix ending in a dot (``impersonation.``)."""
    target_kind: str | None = None
    target_id: str | None = None
    since: datetime | None = None
    """Inclusive."""
    until: datetime | None = None
    """Exclusive."""
    before_id: int | None = None
    """Paging: rows older than this id (the ``next`` of the previous page)."""
    limit: int = PAGE_DEFAULT


@dataclass(frozen=True)
class AuditPage:
    entries: list[dict[str, Any]]
    next_before_id: int | None
    """Pass as ``before`` for the next page; ``None``: this was the last one."""


def _person(user_id: int | None, name: str | None, role: Any) -> dict[str, Any] | None:
    if user_id is None:
        return None
    return person_json(user_id, name, role.value if role is not None else None)


async def list_entries(svc: Services, principal: Principal, wanted: AuditFilter) -> AuditPage:
    """Audit rows matching ``wanted``, newest first (403 unless support admin or read-only)."""
    require(principal, Action.VIEW_AUDIT)
    if not 1 <= wanted.limit <= PAGE_MAX:
        raise ValidationFailed(f"limit must be an integer from 1 to {PAGE_MAX}")
    if wanted.since is not None and wanted.until is not None and wanted.since >= wanted.until:
        raise ValidationFailed("since must be before until")
    actor, behalf = aliased(User), aliased(User)
    query = (
        select(AuditLog, actor.name, actor.role, behalf.name, behalf.role)
        .outerjoin(actor, actor.id == AuditLog.actor_id)
        .outerjoin(behalf, behalf.id == AuditLog.on_behalf_of_id)
    )
    conditions = []
    if wanted.actor_id is not None:
        conditions.append(AuditLog.actor_id == wanted.actor_id)
    if wanted.on_behalf_of_id is not None:
        conditions.append(AuditLog.on_behalf_of_id == wanted.on_behalf_of_id)
    if wanted.action:
        if wanted.action.endswith("."):
            conditions.append(AuditLog.action.startswith(wanted.action, autoescape=True))
        else:
            conditions.append(AuditLog.action == wanted.action)
    if wanted.target_kind:
        conditions.append(AuditLog.target_kind == wanted.target_kind)
    if wanted.target_id:
        conditions.append(AuditLog.target_id == wanted.target_id)
    if wanted.since is not None:
        conditions.append(AuditLog.at >= wanted.since)
    if wanted.until is not None:
        conditions.append(AuditLog.at < wanted.until)
    if wanted.before_id is not None:
        conditions.append(AuditLog.id < wanted.before_id)
    if conditions:
        query = query.where(and_(*conditions))
    # One more than asked: whether there is a next page, without counting.
    query = query.order_by(AuditLog.id.desc()).limit(wanted.limit + 1)
    async with svc.reads() as db:
        rows = (await db.execute(query)).all()
    entries = [
        {
            "id": row.id,
            "at": row.at.isoformat(),
            "actor": _person(row.actor_id, actor_name, actor_role),
            "on_behalf_of": _person(row.on_behalf_of_id, behalf_name, behalf_role),
            "action": row.action,
            "target": {"kind": row.target_kind, "id": row.target_id} if row.target_kind else None,
            "reason": row.reason,
            "before": row.before,
            "after": row.after,
        }
        for row, actor_name, actor_role, behalf_name, behalf_role in rows[: wanted.limit]
    ]
    more = len(rows) > wanted.limit
    last: int | None = rows[wanted.limit - 1][0].id if more else None
    return AuditPage(entries, last)

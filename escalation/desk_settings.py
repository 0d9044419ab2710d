"""The desk-wide ticket rules as a support admin reads and changes them
(``GET``/``PATCH /api/desk/settings``): the escalation ladder, the default auto-close
delays, the statuses' labels, the chat-to-ticket timers (:mod:`escalation.desk_rules`).

A stored row in ``desk_settings`` wins over the environment's first default; writing it
moves ``desk_version``, so every process builds its desk afresh at its next unit of work
(:func:`escalation.config.load_desk`) without a restart.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from chat import audit
from chat.authz import Action, Principal, require
from chat.desk.models import DeskSetting
from chat.errors import ValidationFailed
from chat.services import Services
from chat.settings import Settings
from chat.wire import View
from escalation import desk_rules
from escalation.config import desk_defaults
from escalation.lifecycle import TicketStatus
from escalation.unit_of_work import checked

AUDIT_ACTION = "config.desk.update"


class DeskSettingsView(View, frozen=True, kw_only=True):
    """What ``GET /api/desk/settings`` returns: the values in force, which of them are
    stored (the rest are the environment's first defaults), the environment's values (what
    a reset goes back to), and the choices a form offers."""

    settings: dict[str, Any]
    stored: list[str]
    defaults: dict[str, Any]
    actions: list[str]
    statuses: list[str]


async def _stored(db: AsyncSession) -> dict[str, Any]:
    rows = await db.scalars(select(DeskSetting).where(DeskSetting.key.in_(desk_rules.KEYS)))
    return {row.key: row.value for row in rows}


def _view(settings: Settings, stored: Mapping[str, Any]) -> DeskSettingsView:
    defaults = desk_defaults(settings)
    values, from_store = desk_rules.effective_values(defaults, stored)
    return DeskSettingsView(
        settings=values, stored=from_store, defaults=desk_rules.default_values(defaults),
        actions=list(desk_rules.STEP_ACTIONS), statuses=[s.value for s in TicketStatus],
    )


async def get_desk_settings(svc: Services, actor: Principal) -> DeskSettingsView:
    """Staff read them (support admins and read-only staff; agents too, who work by them)."""
    require(actor, Action.VIEW_DESK)
    async with svc.reads() as db:
        return _view(svc.settings, await _stored(db))


def checked_changes(changes: Mapping[str, Any]) -> dict[str, Any]:
    """Each key's canonical stored form (``None``: back to the environment's default), or
    the refusal naming the field. Raises before anything is written."""
    unknown = sorted(set(changes) - set(desk_rules.KEYS))
    if unknown:
        raise ValidationFailed(f"unknown settings: {', '.join(unknown)}", field=unknown[0])
    if not changes:
        raise ValidationFailed("nothing to change: send at least one setting")
    return checked(lambda: {key: None if value is None else desk_rules.check(key, value) for key, value in changes.items()})


async def write_settings(db: AsyncSession, svc: Services, actor: Principal | None, clean: Mapping[str, Any]) -> None:
    """Store ``clean`` (checked) in the caller's transaction, audited with the settings
    in force before and after. Shared with the presets, which set some of them
    (``actor`` None: the command line's, audited as the system)."""
    now = svc.clock.now()
    before = await _stored(db)
    for key, value in clean.items():
        row = await db.get(DeskSetting, key)
        if value is None:
            if row is not None:
                await db.delete(row)
        elif row is None:
            db.add(DeskSetting(key=key, value=value, updated_at=now))
        else:
            row.value, row.updated_at = value, now
    await db.flush()
    after = await _stored(db)
    if before == after:
        return
    await audit.record_change(
        db, actor, at=now, action=AUDIT_ACTION, target_kind="desk", target_id="settings",
        before=_audit_form(svc.settings, before), after=_audit_form(svc.settings, after),
    )


def _audit_form(settings: Settings, stored: Mapping[str, Any]) -> dict[str, Any]:
    view = _view(settings, stored)
    return {"settings": view.settings, "stored": view.stored}


async def update_desk_settings(svc: Services, actor: Principal, changes: Mapping[str, Any]) -> DeskSettingsView:
    """Support admins change some of the settings at once; ``null`` for a key removes its
    stored value (the environment's default applies again). One transaction: every value
    is checked with the core's own parsers first, and a refusal stores nothing."""
    require(actor, Action.MANAGE_SLA)
    clean = checked_changes(changes)
    async with svc.sessions.begin() as db:
        await write_settings(db, svc, actor, clean)
        return _view(svc.settings, await _stored(db))

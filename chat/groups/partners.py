"""Partner first line (PSD): a reseller flagged "own first line" answers its customers'
tickets itself; they reach platform agents only when the partner transfers them.

The flag lives in ``reseller_settings``. Ticket routing asks :func:`chat.groups.queries.partner_first_line`.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from chat import audit
from chat.authz import Action, OrgRef, Principal, require
from chat.directory import visible_organization
from chat.errors import ValidationFailed
from chat.groups.models import ResellerSettings
from chat.groups.queries import partner_first_line
from chat.models import Organization, OrgKind
from chat.services import Services
from chat.wire import View, iso


class ResellerSettingsView(View, frozen=True, kw_only=True):
    """A reseller's arrangements; a reseller without a row has the defaults (null ``updated_*``)."""

    organization_id: int
    own_first_line: bool
    updated_by_id: int | None
    updated_at: str | None

    @classmethod
    def of(cls, org: Organization, row: ResellerSettings | None) -> ResellerSettingsView:
        return cls(
            organization_id=org.id, own_first_line=bool(row and row.own_first_line),
            updated_by_id=row.updated_by_id if row else None, updated_at=iso(row.updated_at) if row else None,
        )


async def _reseller(db: AsyncSession, actor: Principal, ref: int | str) -> Organization:
    org = await visible_organization(db, actor, ref)
    if org.kind is not OrgKind.RESELLER:
        raise ValidationFailed(f"organization {org.slug!r} is not a reseller; only resellers have partner settings")
    return org


async def get_reseller_settings(svc: Services, actor: Principal, organization: int | str) -> ResellerSettingsView:
    async with svc.reads() as db:
        org = await _reseller(db, actor, organization)
        require(actor, Action.VIEW_ORGANIZATION, OrgRef(org.id, org.kind, org.parent_id))
        return ResellerSettingsView.of(org, await db.get(ResellerSettings, org.id))


async def set_reseller_settings(
    svc: Services, actor: Principal, organization: int | str, *, own_first_line: bool
) -> ResellerSettingsView:
    """Turn the partner's own first line on or off (a platform decision: support admins)."""
    # Who may set it on any reseller at all, checked before the lookup: everyone else gets
    # the same 403 whichever id they name.
    require(actor, Action.MANAGE_ORGANIZATION, OrgRef(None, OrgKind.RESELLER, None))
    async with svc.sessions.begin() as db:
        org = await _reseller(db, actor, organization)
        require(actor, Action.MANAGE_ORGANIZATION, OrgRef(org.id, org.kind, org.parent_id))
        row = await db.get(ResellerSettings, org.id)
        before = ResellerSettingsView.of(org, row)
        if row is None:
            row = ResellerSettings(organization_id=org.id)
            db.add(row)
        row.own_first_line = own_first_line
        row.updated_by_id = actor.user_id
        row.updated_at = svc.clock.now()
        await db.flush()
        view = ResellerSettingsView.of(org, row)
        await audit.record_change(db, actor, at=row.updated_at, action="config.reseller.update",
                                  target_kind="organization", target_id=org.id, before=before, after=view)
        return view


async def first_line_of(svc: Services, actor: Principal, organization: int | str) -> dict[str, Any]:
    """Who answers a customer company's tickets first: a partner reseller or the platform."""
    async with svc.reads() as db:
        org = await visible_organization(db, actor, organization)  # 404 alike: missing or not the actor's
        partner = await partner_first_line(db, org.id)
    return {"organization_id": org.id, "partner_id": partner, "first_line": "partner" if partner else "platform"}

"""Plain reads of the group-chat tables that lower layers need too (ticket routing asks
who answers a company's first line); no rules, no authorization: the callers have those."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from chat.groups.models import ResellerSettings
from chat.models import Organization, OrgKind


async def partner_first_line(db: AsyncSession, organization_id: int) -> int | None:
    """The reseller organization that handles first line for the customer company
    ``organization_id``: its parent reseller when that reseller has "own first line" on,
    else None (platform agents answer). None for resellers themselves and unknown ids."""
    partner: int | None = await db.scalar(
        select(Organization.parent_id)
        .join(ResellerSettings, ResellerSettings.organization_id == Organization.parent_id)
        .where(
            Organization.id == organization_id,
            Organization.kind == OrgKind.CUSTOMER,
            ResellerSettings.own_first_line.is_(True),
        )
    )
    return partner

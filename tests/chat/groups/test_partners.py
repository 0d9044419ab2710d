"""Partner first line: which reseller answers a customer company's tickets first."""

from __future__ import annotations

import pytest

from chat.errors import AppError
from chat.groups.partners import get_reseller_settings, set_reseller_settings
from chat.groups.queries import partner_first_line
from chat.services import Services
from tests.chat.groups.helpers import GroupWorld, make_group_world


async def test_partner_first_line_follows_the_reseller_flag(svc: Services) -> None:
    world: GroupWorld = await make_group_world(svc)

    async def first_lines() -> dict[str, int | None]:
        async with svc.reads() as db:
            return {
                name: await partner_first_line(db, org)
                for name, org in (("acme", world.acme), ("globex", world.globex), ("direct", world.direct),
                                  ("reseller1", world.reseller1), ("missing", 999_999))
            }

    assert await first_lines() == dict.fromkeys(("acme", "globex", "direct", "reseller1", "missing"))
    saved = await set_reseller_settings(svc, world.admin.principal, world.reseller1, own_first_line=True)
    assert saved.own_first_line is True and saved.updated_by_id == world.admin.id
    # Only reseller 1's customer goes to its partner; resellers themselves and direct
    # customers stay with the platform.
    assert await first_lines() == {"acme": world.reseller1, "globex": None, "direct": None, "reseller1": None,
                                   "missing": None}
    await set_reseller_settings(svc, world.admin.principal, world.reseller1, own_first_line=False)
    assert (await first_lines())["acme"] is None


async def test_only_support_admins_set_the_flag_and_only_on_resellers(svc: Services) -> None:
    world = await make_group_world(svc)
    for who in (world.agent, world.readonly, world.r1admin, world.alice):
        with pytest.raises(AppError) as caught:
            await set_reseller_settings(svc, who.principal, world.reseller1, own_first_line=True)
        assert caught.value.code == "forbidden"
    with pytest.raises(AppError) as caught:
        await set_reseller_settings(svc, world.admin.principal, world.acme, own_first_line=True)
    assert caught.value.code == "validation_failed"
    # The reseller's own admin reads it; another reseller's admin may not, and is told
    # nothing it may not know: the same 404 as for no such organization (issue 20).
    assert (await get_reseller_settings(svc, world.r1admin.principal, world.reseller1)).own_first_line is False
    with pytest.raises(AppError) as caught:
        await get_reseller_settings(svc, world.r2admin.principal, world.reseller1)
    assert caught.value.code == "organization_not_found"
    async with svc.reads() as db:
        assert await partner_first_line(db, world.acme) is None

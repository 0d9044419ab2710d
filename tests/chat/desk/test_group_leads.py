"""A support group's lead (paged by the ladder's notify_group_lead), set from the console's
"Team and routing" page over PATCH /api/desk/groups/{key}; every group change audited."""

from __future__ import annotations

from sqlalchemy import select

from chat.models import AuditLog
from escalation.models import SupportGroup
from tests.support.desk import Desk


async def _audit(desk: Desk) -> list[AuditLog]:
    async with desk.server.services.reads() as db:
        return list(await db.scalars(select(AuditLog).where(AuditLog.action.like("config.group.%")).order_by(AuditLog.id)))


async def test_a_group_gets_a_lead_and_every_change_is_audited(desk: Desk) -> None:
    agent_id = desk.agent.principal.user_id
    await desk.call(desk.admin, "POST", "/api/desk/groups", {"key": "billing", "name": "Billing", "level": 2}, expect=201)
    led = (await desk.call(desk.admin, "PATCH", "/api/desk/groups/billing", {"lead_id": agent_id}, expect=200))["group"]
    assert (led["lead_id"], led["name"]) == (agent_id, "Billing")
    # Absent: unchanged; null: no lead.
    renamed = (await desk.call(desk.admin, "PATCH", "/api/desk/groups/billing", {"name": "Bills"}, expect=200))["group"]
    assert renamed["lead_id"] == agent_id
    cleared = (await desk.call(desk.admin, "PATCH", "/api/desk/groups/billing", {"lead_id": None}, expect=200))["group"]
    assert cleared["lead_id"] is None
    await desk.call(desk.admin, "DELETE", "/api/desk/groups/billing", expect=204)
    rows = await _audit(desk)
    assert [r.action for r in rows] == ["config.group.create", "config.group.update", "config.group.update",
                                        "config.group.update", "config.group.delete"]
    assert all(r.actor_id == desk.admin.principal.user_id and r.target_id == "billing" for r in rows)
    assert rows[1].before is not None and rows[1].after is not None
    assert (rows[1].before["lead_id"], rows[1].after["lead_id"]) == (None, agent_id)
    assert rows[0].before is None and rows[4].after is None


async def test_a_lead_who_cannot_lead_is_refused_with_the_field_and_nothing_changes(desk: Desk) -> None:
    for who in (desk.readonly.principal.user_id, desk.chat.visitor.principal.user_id, 999_999):
        refused = await desk.call(desk.admin, "PATCH", "/api/desk/groups/vendor", {"lead_id": who, "name": "V"},
                                  expect=422)
        assert refused["error"]["field"] == "lead_id"
    await desk.call(desk.readonly, "PATCH", "/api/desk/groups/vendor", {"lead_id": desk.agent.principal.user_id},
                    expect=403)
    async with desk.server.services.reads() as db:
        vendor = await db.get(SupportGroup, "vendor")
        assert vendor is not None and (vendor.lead_id, vendor.name) == (None, "Vendor")
    assert await _audit(desk) == []

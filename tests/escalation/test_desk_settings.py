"""The desk-wide ticket rules in the database (escalation.desk_settings): the environment is
the first default, a stored value wins, a refusal names the field and stores nothing, every
change is audited, and another process's next unit of work builds its desk with it."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select

from chat.desk.models import DeskSetting
from chat.errors import AppError
from chat.models import AuditLog
from chat.services import Services
from chat.wiring import build_services
from escalation import desk_rules
from escalation.autoclose import Delay
from escalation.config import load_desk
from escalation.desk_settings import get_desk_settings, update_desk_settings
from escalation.ladder import LadderAction
from escalation.lifecycle import TicketStatus
from escalation.transfers import StatusLabel
from tests.escalation.world import Desk, make_desk


@pytest.fixture
async def desk(svc: Services) -> Desk:
    return await make_desk(svc)


async def _audit(svc: Services) -> list[AuditLog]:
    async with svc.reads() as db:
        return list(await db.scalars(select(AuditLog).where(AuditLog.action == "config.desk.update")
                                     .order_by(AuditLog.id)))


async def _stored(svc: Services) -> dict[str, Any]:
    async with svc.reads() as db:
        return {r.key: r.value for r in await db.scalars(select(DeskSetting).where(DeskSetting.key.in_(desk_rules.KEYS)))}


async def test_the_environment_is_the_first_default_and_a_stored_value_wins(desk: Desk) -> None:
    svc = desk.svc
    view = await get_desk_settings(svc, desk.readonly)
    assert view.stored == []
    assert view.settings["ladder"] == [
        {"action": "raise_level:2", "after_minutes": 0}, {"action": "notify_group_lead", "after_minutes": 60},
        {"action": "notify_admins", "after_minutes": 240}]
    assert (view.settings["auto_close_waiting"], view.settings["auto_close_proposed"]) == ("48h", "7d")
    assert view.settings["status_labels"][0] == {"label": "Re-check approved", "status": "in_progress"}
    assert view.settings["chat_idle_ticket_minutes"] == 30 and view.settings["ticket_when_no_agent_online"] is True

    changed = await update_desk_settings(svc, desk.admin, {
        "ladder": [{"action": "notify_admins", "after_minutes": 15}],
        "auto_close_proposed": "2BD",  # stored in its canonical form
        "status_labels": [{"label": " Waiting for parts ", "status": "waiting_on_customer"}],
        "chat_idle_ticket_minutes": 0,
        "ticket_when_no_agent_online": False,
    })
    assert sorted(changed.stored) == sorted(["ladder", "auto_close_proposed", "status_labels",
                                             "chat_idle_ticket_minutes", "ticket_when_no_agent_online"])
    assert changed.settings["auto_close_proposed"] == "2bd"
    assert changed.defaults["auto_close_proposed"] == "7d"  # what a reset goes back to
    async with svc.sessions.begin() as db:
        built = await load_desk(db, svc.settings)
    assert [(s.action, s.after) for s in built.ladder.steps] == [(LadderAction.NOTIFY_ADMINS, timedelta(minutes=15))]
    assert built.auto_close.proposed_delay == Delay.business_days(2)
    assert built.auto_close.waiting_timeout == Delay.parse("48h")  # not stored: still the environment's
    assert built.lifecycle.labels == (StatusLabel("Waiting for parts", TicketStatus.WAITING_ON_CUSTOMER),)
    assert built.idle_after is None and built.unanswered_after == timedelta(minutes=10)
    assert built.ticket_when_no_agent_online is False

    # null removes the stored value: the environment's default applies again.
    reset = await update_desk_settings(svc, desk.admin, {"auto_close_proposed": None})
    assert "auto_close_proposed" not in reset.stored and reset.settings["auto_close_proposed"] == "7d"
    async with svc.sessions.begin() as db:
        assert (await load_desk(db, svc.settings)).auto_close.proposed_delay == Delay.parse("7d")


async def test_every_change_is_audited_with_before_and_after(desk: Desk) -> None:
    await update_desk_settings(desk.svc, desk.admin, {"auto_close_waiting": "3d"})
    await update_desk_settings(desk.svc, desk.admin, {"auto_close_waiting": "3d"})  # no change: no row
    rows = await _audit(desk.svc)
    assert len(rows) == 1
    row = rows[0]
    assert (row.actor_id, row.target_kind, row.target_id) == (desk.admin.user_id, "desk", "settings")
    assert row.before is not None and row.after is not None
    assert (row.before["settings"]["auto_close_waiting"], row.after["settings"]["auto_close_waiting"]) == ("48h", "3d")
    assert (row.before["stored"], row.after["stored"]) == ([], ["auto_close_waiting"])


@pytest.mark.parametrize(("change", "field", "code"), [
    ({"ladder": [{"action": "notify_admins", "after_minutes": 60},
                 {"action": "raise_level:2", "after_minutes": 30}]}, "ladder.1.after_minutes", "invalid_policy"),
    ({"ladder": [{"action": "notify_admins", "after_minutes": -5}]}, "ladder.0.after_minutes", "invalid_policy"),
    ({"ladder": [{"action": "notify_admins", "after_minutes": 60 * 24 * 31}]}, "ladder.0.after_minutes",
     "invalid_policy"),
    ({"ladder": [{"action": "raise_level:1", "after_minutes": 0}]}, "ladder.0.action", "invalid_policy"),
    ({"ladder": [{"action": "page_everyone", "after_minutes": 0}]}, "ladder.0.action", "invalid_policy"),
    ({"ladder": "notify_admins@5"}, "ladder", "invalid_policy"),
    ({"auto_close_waiting": "0h"}, "auto_close_waiting", "invalid_policy"),
    ({"auto_close_proposed": "soon"}, "auto_close_proposed", "invalid_policy"),
    ({"status_labels": [{"label": "A", "status": "in_progress"}, {"label": "A", "status": "closed"}]},
     "status_labels.1.label", "invalid_label"),
    ({"status_labels": [{"label": "A", "status": "frozen"}]}, "status_labels.0.status", "invalid_label"),
    ({"chat_left_ticket_minutes": 1441}, "chat_left_ticket_minutes", "invalid_policy"),
    ({"chat_idle_ticket_minutes": True}, "chat_idle_ticket_minutes", "invalid_policy"),
    ({"ticket_when_no_agent_online": "yes"}, "ticket_when_no_agent_online", "invalid_policy"),
    ({"colour": "red"}, "colour", "validation_failed"),
])
async def test_bad_input_names_the_field_and_stores_nothing(
    desk: Desk, change: dict[str, Any], field: str, code: str
) -> None:
    # A good value beside the bad one is not stored either: one transaction.
    with pytest.raises(AppError) as info:
        await update_desk_settings(desk.svc, desk.admin, {"auto_close_waiting": "3d", **change})
    assert (info.value.status, info.value.code, info.value.field) == (422, code, field)
    assert await _stored(desk.svc) == {}
    assert await _audit(desk.svc) == []


async def test_staff_read_and_only_support_admins_change(desk: Desk) -> None:
    for who in (desk.readonly, desk.agent):
        assert (await get_desk_settings(desk.svc, who)).settings["auto_close_waiting"] == "48h"
    for who in (desk.readonly, desk.agent, desk.customer):
        with pytest.raises(AppError) as info:
            await update_desk_settings(desk.svc, who, {"auto_close_waiting": "3d"})
        assert info.value.status == 403
    with pytest.raises(AppError) as info:
        await get_desk_settings(desk.svc, desk.customer)
    assert info.value.status == 403
    assert await _stored(desk.svc) == {}


async def test_a_hand_edited_bad_row_falls_back_to_the_environment(desk: Desk) -> None:
    async with desk.svc.sessions.begin() as db:
        db.add(DeskSetting(key="auto_close_waiting", value="forever", updated_at=desk.svc.clock.now()))
    view = await get_desk_settings(desk.svc, desk.admin)
    assert view.settings["auto_close_waiting"] == "48h" and view.stored == []
    async with desk.svc.sessions.begin() as db:
        assert (await load_desk(db, desk.svc.settings)).auto_close.waiting_timeout == Delay.parse("48h")


async def test_another_process_picks_a_stored_change_up_without_a_restart(desk: Desk) -> None:
    # A second bundle of engines on the same database, as another process: it built and
    # kept its desk before the change, and its next unit of work sees the change.
    other = build_services(replace(desk.svc.settings), clock=desk.svc.clock)
    try:
        async with other.sessions.begin() as db:
            assert (await load_desk(db, other.settings)).unanswered_after == timedelta(minutes=10)
        await update_desk_settings(desk.svc, desk.admin, {"chat_unanswered_ticket_minutes": 25,
                                                          "auto_close_waiting": "5bd"})
        async with other.sessions.begin() as db:
            built = await load_desk(db, other.settings)
        assert built.unanswered_after == timedelta(minutes=25)
        assert built.auto_close.waiting_timeout == Delay.business_days(5)
    finally:
        await other.close()

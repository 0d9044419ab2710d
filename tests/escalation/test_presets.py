"""The source desks' presets (escalation.presets, escalation.preset_apply): applied in one
step, they add their calendars, categories and rules to the desk (same keys replaced,
everything else kept) and set the desk settings they state; audited; idempotent."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import func, select

from chat.cli import main
from chat.clock import ManualClock
from chat.errors import AppError
from chat.models import AuditLog
from chat.services import Services
from escalation import tickets
from escalation.desk_settings import get_desk_settings
from escalation.models import SlaPolicyRow, TicketCategory
from escalation.preset_apply import apply_preset, list_presets
from escalation.seeds import SKAI_TOPICS
from tests.escalation.world import Desk, make_desk


@pytest.fixture
async def desk(svc: Services) -> Desk:
    return await make_desk(svc)


async def _policies(svc: Services) -> dict[tuple[Any, ...], SlaPolicyRow]:
    async with svc.reads() as db:
        return {(r.tier, r.category, r.severity): r for r in await db.scalars(select(SlaPolicyRow))}


async def _ticket(desk: Desk, category: str) -> dict[str, Any]:
    opened = await tickets.open_ticket(desk.svc, desk.customer, tickets.TicketDraft("Help", "Please", category=category))
    return await tickets.get_ticket(desk.svc, desk.agent, opened["id"])


async def test_after_skai_a_skai_topic_ticket_is_measured_on_the_moscow_calendar(
    desk: Desk, clock: ManualClock
) -> None:
    with pytest.raises(AppError):  # a fresh install knows no SKAI topic
        await _ticket(desk, "server_failure")
    applied = await apply_preset(desk.svc, desk.admin, "SKAI")
    assert applied.categories["created"] == [t.key for t in SKAI_TOPICS]
    assert applied.calendars == {"created": [], "updated": []}  # migration 0004 seeded Moscow already
    assert len(applied.policies["created"]) == len(SKAI_TOPICS)
    # Saturday 14 March 2026, 10:00 UTC: the Moscow office is closed until Monday 09:30
    # (06:30 UTC); stage one and resolution (1 working day) are due at Monday's close,
    # 18:00 Moscow = 15:00 UTC, whichever day rule (whole days or working-day hours).
    clock.set(datetime(2026, 3, 14, 10, 0, tzinfo=UTC))
    ticket = await _ticket(desk, "server_failure")
    assert ticket["sla_policy"] == "SKAI server_failure"
    assert ticket["deadlines"]["stage_one"]["due_at"] == "2026-03-16T15:00:00+00:00"
    assert ticket["deadlines"]["resolution"]["due_at"] == "2026-03-16T15:00:00+00:00"
    rule = (await _policies(desk.svc))[(None, "server_failure", None)]
    assert (rule.calendar_key, rule.day_rule, rule.auto_close_proposed) == ("moscow", "working_hours", "2bd")
    # Everything else stays: the company's plan still answers its other tickets, around the clock.
    other = await _ticket(desk, "data_accuracy")
    assert other["sla_policy"] == "regular plan / data_accuracy"
    async with desk.svc.reads() as db:
        titles = (await db.get(TicketCategory, "stolen_vehicle"))
        assert titles is not None and titles.titles["ru"].startswith("Отслеживание")


async def test_after_skai_a_day_is_a_working_day_of_hours_as_skai_reads_it(desk: Desk, clock: ManualClock) -> None:
    """SKAI's "1 working day" asked on Friday 17:45 Moscow is due on Monday at 17:45 (8.5
    working hours later: 15 min on Friday, 8 h 15 min on Monday), not at Monday's close as
    a whole business day would be; stage one follows the same rule."""
    await apply_preset(desk.svc, desk.admin, "SKAI")
    clock.set(datetime(2026, 3, 13, 14, 45, tzinfo=UTC))  # Friday 17:45 Moscow (UTC+3)
    ticket = await _ticket(desk, "server_failure")
    assert ticket["deadlines"]["stage_one"]["due_at"] == "2026-03-16T14:45:00+00:00"
    assert ticket["deadlines"]["resolution"]["due_at"] == "2026-03-16T14:45:00+00:00"
    two_days = await _ticket(desk, "accounts_and_access")  # 2 working days: Tuesday 17:45 Moscow
    assert two_days["deadlines"]["resolution"]["due_at"] == "2026-03-17T14:45:00+00:00"


async def test_applying_is_audited_and_twice_changes_nothing(desk: Desk) -> None:
    first = await apply_preset(desk.svc, desk.admin, "FFC")
    # The seeded desk is FFC's already (migration 0004): only the desk setting is stored.
    assert first.categories == {"created": [], "updated": []} and first.settings == ["auto_close_proposed"]
    assert (await get_desk_settings(desk.svc, desk.admin)).stored == ["auto_close_proposed"]
    await apply_preset(desk.svc, desk.admin, "SKAI")
    again = await apply_preset(desk.svc, desk.admin, "SKAI")
    assert again.categories == again.policies == again.calendars == {"created": [], "updated": []}
    async with desk.svc.reads() as db:
        rows = list(await db.scalars(select(AuditLog).where(AuditLog.action == "config.preset.apply")
                                     .order_by(AuditLog.id)))
        categories = int(await db.scalar(select(func.count()).select_from(TicketCategory)) or 0)
    assert [r.target_id for r in rows] == ["FFC", "SKAI", "SKAI"]
    assert all(r.actor_id == desk.admin.user_id for r in rows)
    assert rows[1].before == {"counts": {"calendars": 2, "categories": 9, "policies": 3}}
    assert rows[1].after is not None and rows[1].after["counts"] == {"calendars": 2, "categories": categories,
                                                                     "policies": 3 + len(SKAI_TOPICS)}


async def test_360_keeps_its_plans_and_states_its_48_hours(desk: Desk) -> None:
    applied = await apply_preset(desk.svc, desk.admin, "360")
    assert applied.policies["created"] == [] and sorted(applied.policies["updated"]) == [
        "basic plan", "premium plan", "regular plan"]  # the same rules, now with 360's waiting delay
    assert {r.auto_close_waiting for r in (await _policies(desk.svc)).values()} == {"48h"}
    ticket = await _ticket(desk, "technical_question")
    assert ticket["sla_policy"] == "regular plan / technical_question"


async def test_only_support_admins_apply_and_an_unknown_preset_is_404(desk: Desk) -> None:
    for who in (desk.readonly, desk.agent, desk.customer):
        with pytest.raises(AppError) as info:
            await apply_preset(desk.svc, who, "SKAI")
        assert info.value.status == 403
    with pytest.raises(AppError) as info:
        await apply_preset(desk.svc, desk.admin, "Zendesk")
    assert (info.value.status, info.value.code) == (404, "unknown_preset")
    assert [p.name for p in list_presets(desk.readonly)] == ["360", "FFC", "SKAI"]
    async with desk.svc.reads() as db:
        assert await db.get(TicketCategory, "server_failure") is None


def test_the_command_line_applies_a_preset(sqlite_url: str, monkeypatch: pytest.MonkeyPatch,
                                           capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("DATABASE_URL", sqlite_url)
    assert main(["apply-preset", "SKAI"]) == 0
    assert "categories: created server_failure" in capsys.readouterr().out

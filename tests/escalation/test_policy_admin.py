"""SLA policies as a support admin edits them (issue 19), on real databases: the day rule
and auto-close fields, refusals that name the field and store nothing, every change in
the audit log, auto-close delays per company and per policy, and a change reaching open
tickets' deadlines through the sweeper without any unit of theirs."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select, update

from chat import directory_admin
from chat.audit import AuditFilter, list_entries
from chat.clock import ManualClock
from chat.errors import AppError
from chat.models import Conversation, Organization
from chat.services import Services
from escalation import admin, tickets
from escalation.models import Ticket, TicketCategory
from escalation.policy_table import PlanTier
from tests.escalation.world import Desk, make_desk, system_events

H = timedelta(hours=1)


@pytest.fixture
async def desk(svc: Services) -> Desk:
    return await make_desk(svc, tier=PlanTier.REGULAR)


async def _ticket(desk: Desk, *, category: str | None = "technical_question", who: Any = None) -> int:
    opened = await tickets.open_ticket(desk.svc, who or desk.customer,
                                       tickets.TicketDraft("VPN down", "All sites offline", category=category))
    return int(opened["id"])


async def _row(desk: Desk, ticket_id: int) -> Ticket:
    async with desk.svc.reads() as db:
        row = await db.get(Ticket, ticket_id)
        assert row is not None
        return row


def _due(row: Ticket, target: str = "resolution") -> datetime:
    return datetime.fromisoformat(row.deadlines[target]["due_at"])


TECH = {"name": "Technical, Moscow", "category": "technical_question", "calendar": "moscow",
        "first_response": {"hours": 4}, "resolution": {"business_days": 1}}


async def test_fields_round_trip_and_every_change_is_audited(desk: Desk) -> None:
    created = await admin.create_policy(desk.svc, desk.admin, {**TECH, "day_rule": "working_hours",
                                                               "auto_close_proposed": "2BD"})
    assert (created.day_rule, created.auto_close_waiting, created.auto_close_proposed) == ("working_hours", None, "2bd")
    listed = {p.id: p for p in await admin.list_policies(desk.svc, desk.readonly)}
    assert listed[created.id] == created
    plain = await admin.update_policy(desk.svc, desk.admin, created.id, TECH)
    assert (plain.day_rule, plain.auto_close_proposed) == ("whole_days", None)  # the defaults
    await admin.delete_policy(desk.svc, desk.admin, created.id)
    entries = (await list_entries(desk.svc, desk.admin, AuditFilter(target_kind="policy"))).entries
    rows = [(e["action"], e["before"], e["after"]) for e in reversed(entries)]  # newest first: oldest first
    assert [r[0] for r in rows] == ["config.policy.create", "config.policy.update", "config.policy.delete"]
    assert rows[0][1] is None and rows[0][2]["day_rule"] == "working_hours" and rows[0][2]["id"] == created.id
    assert rows[1][1]["auto_close_proposed"] == "2bd" and rows[1][2]["auto_close_proposed"] is None
    assert rows[2][1]["name"] == "Technical, Moscow" and rows[2][2] is None
    assert all(e["actor"]["id"] == desk.admin.user_id for e in entries)


@pytest.mark.parametrize(
    ("change", "code", "field"),
    [
        ({"resolution": {"hours": 0}}, "invalid_policy", "resolution"),
        ({"first_response": {"minutes": -5}}, "invalid_policy", "first_response"),
        ({"resolution": {"business_days": 0}}, "invalid_policy", "resolution"),
        ({"calendar": "mars"}, "invalid_calendar", "calendar"),
        ({"category": "no_such_thing"}, "unknown_category", "category"),
        ({"category": "business_request"}, "unmatchable_policy", "category"),  # handled by e-mail
        ({"day_rule": "calendar_days"}, "validation_failed", "day_rule"),
        ({"auto_close_waiting": "soon"}, "invalid_policy", "auto_close_waiting"),
        ({"warning_share": 1.5}, "invalid_policy", "warning_share"),
        ({"tier": "gold"}, "validation_failed", "tier"),
        ({"severity": 7}, "invalid_policy", "severity"),
        ({"name": " "}, "validation_failed", "name"),
        ({"category": None, "tier": "regular"}, "invalid_policy", "category"),  # the regular plan's keys again
    ],
)
async def test_bad_input_names_the_field_and_stores_nothing(
    desk: Desk, change: dict[str, Any], code: str, field: str
) -> None:
    ticket = await _ticket(desk)
    before = (await _row(desk, ticket)).deadlines
    policies = await admin.list_policies(desk.svc, desk.admin)
    with pytest.raises(AppError) as info:
        await admin.create_policy(desk.svc, desk.admin, {**TECH, **change})
    assert (info.value.code, info.value.field) == (code, field)
    with pytest.raises(AppError) as again:
        await admin.update_policy(desk.svc, desk.admin, policies[0].id, {**TECH, **change})
    assert again.value.field == field
    assert await admin.list_policies(desk.svc, desk.admin) == policies
    assert (await _row(desk, ticket)).deadlines == before
    assert (await list_entries(desk.svc, desk.admin, AuditFilter(target_kind="policy"))).entries == []


async def test_a_rule_no_ticket_could_get_is_refused(desk: Desk) -> None:
    # The three seeded plan rules cover every ticket: a catch-all could never be chosen.
    with pytest.raises(AppError) as info:
        await admin.create_policy(desk.svc, desk.admin, {"name": "Everyone", "first_response": {"hours": 1}})
    assert (info.value.code, info.value.field) == ("unmatchable_policy", "category")
    # A retired category: no ticket can be given it.
    async with desk.svc.sessions.begin() as db:
        await db.execute(update(TicketCategory).where(TicketCategory.key == "training_request").values(active=False))
    with pytest.raises(AppError) as retired:
        await admin.create_policy(desk.svc, desk.admin, {**TECH, "category": "training_request"})
    assert retired.value.code == "unmatchable_policy"
    # A rule that would leave another matching no ticket: with the basic plan's rule gone a
    # catch-all serves basic tickets; bringing the basic rule back would shadow it entirely.
    policies = await admin.list_policies(desk.svc, desk.admin)
    basic = next(p for p in policies if p.tier == "basic")
    await admin.delete_policy(desk.svc, desk.admin, basic.id)
    fallback = await admin.create_policy(desk.svc, desk.admin, {"name": "Fallback", "first_response": {"hours": 8}})
    with pytest.raises(AppError) as shadowing:
        await admin.create_policy(desk.svc, desk.admin, {"name": "basic plan", "tier": "basic",
                                                         "first_response": {"hours": 24}})
    assert shadowing.value.code == "unmatchable_policy" and "Fallback" in shadowing.value.message
    # Editing the catch-all itself stays possible (it is matchable), and so is editing a
    # rule while another was already unmatchable before.
    await admin.update_policy(desk.svc, desk.admin, fallback.id, {"name": "Fallback", "first_response": {"hours": 6}})
    # The last policy's delete is refused as before, now naming what it is about.
    for policy in (await admin.list_policies(desk.svc, desk.admin))[1:]:
        await admin.delete_policy(desk.svc, desk.admin, policy.id)
    last = (await admin.list_policies(desk.svc, desk.admin))[0]
    with pytest.raises(AppError) as refused:
        await admin.delete_policy(desk.svc, desk.admin, last.id)
    assert (refused.value.code, refused.value.field) == ("last_policy", "id")


async def test_auto_close_delays_per_company_and_per_policy_coexist(desk: Desk, clock: ManualClock) -> None:
    """SKAI's 2 business days (its policy) and FFC's 7 days (its company) at once."""
    regular = next(p for p in await admin.list_policies(desk.svc, desk.admin) if p.tier == "regular")
    basic = next(p for p in await admin.list_policies(desk.svc, desk.admin) if p.tier == "basic")
    skai = {"name": "regular plan", "tier": "regular", "calendar": "moscow", "first_response": {"hours": 4},
            "auto_close_proposed": "2bd"}
    await admin.update_policy(desk.svc, desk.admin, regular.id, skai)
    await admin.update_policy(desk.svc, desk.admin, basic.id, {"name": "basic plan", "tier": "basic",
                                                               "first_response": {"hours": 24},
                                                               "auto_close_proposed": "2bd"})
    async with desk.svc.sessions.begin() as db:  # the company editor is another helper's: the columns directly
        other = await db.scalar(select(Organization).where(Organization.name == "Other"))
        assert other is not None
        other.auto_close_proposed = "7d"
    skai_ticket = await _ticket(desk, category=None)
    ffc_ticket = await _ticket(desk, category=None, who=desk.stranger)
    for ticket in (skai_ticket, ffc_ticket):
        await tickets.change_status(desk.svc, desk.agent, ticket, "start")
        await tickets.change_status(desk.svc, desk.agent, ticket, "propose_close")
    now = clock.now()  # Monday 2026-03-02 09:00 UTC, 12:00 in Moscow
    # Two whole Moscow business days: Tuesday and Wednesday, to Wednesday's 18:00 MSK.
    assert (await _row(desk, skai_ticket)).auto_close_at == datetime(2026, 3, 4, 15, 0, tzinfo=UTC)
    # The company's 7 days beat its plan's 2 business days.
    assert (await _row(desk, ffc_ticket)).auto_close_at == now + 7 * 24 * H
    # Waiting on the customer: neither level sets it, the desk's default (48 h) applies.
    await tickets.change_status(desk.svc, desk.agent, skai_ticket, "reopen")
    await tickets.change_status(desk.svc, desk.agent, skai_ticket, "wait_on_customer")
    assert (await _row(desk, skai_ticket)).auto_close_at == now + 48 * H
    # The sweeper closes each on its own delay.
    clock.advance(2 * 24 * H + H)
    assert (await desk.sweeper.run_once())["tickets.auto_close"] == 1
    assert (await _row(desk, skai_ticket)).status == "closed"
    assert (await _row(desk, ffc_ticket)).status == "proposed_to_close"


async def test_a_policy_change_reaches_open_tickets_without_their_own_unit(desk: Desk, clock: ManualClock) -> None:
    await desk.sweeper.run_once()  # the sweeper starts at the current configuration
    ticket = await _ticket(desk)
    # "Technical question": 1 business day on the around-the-clock calendar = 24 h.
    assert _due(await _row(desk, ticket)) == clock.now() + 24 * H
    seen = len(await system_events(desk, ticket))
    created = await admin.create_policy(desk.svc, desk.admin, TECH)
    assert _due(await _row(desk, ticket)) == clock.now() + 24 * H  # nothing moved it yet
    done = await desk.sweeper.run_once()
    assert done["tickets.follow_desk"] >= 1
    # Monday 12:00 in Moscow + 1 whole business day: Tuesday's close, 18:00 MSK.
    assert _due(await _row(desk, ticket)) == datetime(2026, 3, 3, 15, 0, tzinfo=UTC)
    assert (await system_events(desk, ticket))[seen:] == ["ticket.deadlines"]
    await admin.update_policy(desk.svc, desk.admin, created.id, {**TECH, "day_rule": "working_hours"})
    await desk.sweeper.run_once()
    # 6 h on Monday (12:00-18:00) + 2 h 30 on Tuesday from 09:30: Tuesday 12:00 MSK.
    assert _due(await _row(desk, ticket)) == datetime(2026, 3, 3, 9, 0, tzinfo=UTC)
    # Idempotent: another pass with nothing changed moves nothing and says nothing.
    events = await system_events(desk, ticket)
    assert (await desk.sweeper.run_once())["tickets.follow_desk"] == 0
    assert await system_events(desk, ticket) == events


async def test_a_companys_new_terms_reach_its_open_tickets_without_their_own_unit(
    desk: Desk, clock: ManualClock
) -> None:
    """A company's plan and its own auto-close delays decide its tickets' deadlines: an
    admin's change to them reaches the open tickets at the sweeper's next pass, as a
    policy change does (the change moves the desk's version counter)."""
    await desk.sweeper.run_once()  # the sweeper starts at the current configuration
    ticket = await _ticket(desk, category=None, who=desk.stranger)  # the "Other" company's
    await tickets.change_status(desk.svc, desk.agent, ticket, "start")
    await tickets.change_status(desk.svc, desk.agent, ticket, "propose_close")
    assert (await _row(desk, ticket)).auto_close_at == clock.now() + 7 * 24 * H  # the desk's default
    async with desk.svc.reads() as db:
        other = await db.scalar(select(Organization).where(Organization.name == "Other"))
    assert other is not None
    await directory_admin.update_organization(desk.svc, desk.admin, other.id, auto_close_proposed="1d")
    assert (await desk.sweeper.run_once())["tickets.follow_desk"] >= 1
    assert (await _row(desk, ticket)).auto_close_at == clock.now() + 24 * H
    # The company's plan too: premium answers first within 30 minutes.
    opened = await _ticket(desk, category=None, who=desk.stranger)

    async def first_response_due() -> str:
        return str((await tickets.get_ticket(desk.svc, desk.agent, opened))["deadlines"]["first_response"]["due_at"])

    assert await first_response_due() == (clock.now() + 24 * H).isoformat()  # the basic plan's 24 h
    await directory_admin.update_organization(desk.svc, desk.admin, other.id, plan_tier=PlanTier.PREMIUM)
    await desk.sweeper.run_once()
    assert await first_response_due() == (clock.now() + timedelta(minutes=30)).isoformat()



async def test_a_change_made_while_no_sweeper_ran_reaches_open_tickets_when_one_starts(
    desk: Desk, clock: ManualClock
) -> None:
    """The follower keeps what it brought in memory: a sweeper that starts walks the open
    tickets once, so a change made while none ran (or a walk a restart cut short) is not
    left for each ticket's next unit."""
    ticket = await _ticket(desk)
    assert _due(await _row(desk, ticket)) == clock.now() + 24 * H
    await admin.create_policy(desk.svc, desk.admin, TECH)  # no sweeper has run yet
    assert (await desk.sweeper.run_once())["tickets.follow_desk"] >= 1
    assert _due(await _row(desk, ticket)) == datetime(2026, 3, 3, 15, 0, tzinfo=UTC)


@pytest.mark.parametrize("db_url", ["postgres"], indirect=True)  # SQLite has no row locks to skip
async def test_a_ticket_held_when_the_walk_reaches_it_is_brought_at_a_later_pass(
    desk: Desk, clock: ManualClock
) -> None:
    """The walk skips a ticket another transaction holds (``SKIP LOCKED``), and that
    transaction may have read the desk before the change: the walk keeps the ticket and
    ends only when it has brought it (before, it ended at once and the ticket kept its
    old deadline until a unit of its own)."""
    follow = dict(desk.sweeper.jobs)["tickets.follow_desk"]
    await follow(desk.svc, clock.now())  # the sweeper starts at the current configuration
    ticket = await _ticket(desk)
    await admin.create_policy(desk.svc, desk.admin, TECH)
    async with desk.svc.sessions.begin() as db:
        await db.execute(select(Conversation.id).where(Conversation.id == ticket).with_for_update())
        assert await follow(desk.svc, clock.now()) == 0
    assert _due(await _row(desk, ticket)) == clock.now() + 24 * H  # skipped, not brought
    assert await follow(desk.svc, clock.now()) == 1
    assert _due(await _row(desk, ticket)) == datetime(2026, 3, 3, 15, 0, tzinfo=UTC)
    assert await follow(desk.svc, clock.now()) == 0  # the walk has ended

"""The configured desk: dictionaries from the database plus timings from the settings.

Read once per use case or sweep pass and turned into the pure core's objects. What was
built is kept per process until the desk's version counter moves
(:class:`escalation.models.DeskVersion`, moved by every write to the four tables in the
writing transaction): a use case reads one row instead of four tables, and an admin's
change takes effect on every process at its next unit of work.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import lru_cache
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from chat.desk.models import DeskSetting
from chat.services import Services
from chat.settings import Settings
from escalation import desk_rules
from escalation.autoclose import AutoCloseOverride, AutoCloseSettings
from escalation.calendars import BusinessCalendar, always_open
from escalation.errors import InvalidPolicy
from escalation.ladder import Ladder
from escalation.models import DESK_WRITTEN, BusinessCalendarRow, DeskVersion, SlaPolicyRow, SupportGroup, TicketCategory
from escalation.policies import Category, calendar_from_json, effective_policy, severity_of, spec_from_json
from escalation.policy_table import PlanTier, PolicyRule, PolicyTable, Severity
from escalation.sla_targets import DayRule, SlaPolicy
from escalation.transfers import LifecycleSettings

# A policy naming a calendar that was never defined falls back to this; the admin API
# refuses to create such a policy, so only a hand-edited database gets here.
FALLBACK_CALENDAR = always_open("24x7")


@lru_cache(maxsize=64)
def _calendar(key: str, definition: str) -> BusinessCalendar:
    return calendar_from_json(key, json.loads(definition))


def build_calendar(key: str, definition: dict[str, Any]) -> BusinessCalendar:
    """The calendar of a stored definition (memoised: its day table is reused)."""
    return _calendar(key, json.dumps(definition, sort_keys=True))


def category_of(row: TicketCategory) -> Category:
    """The core's category of a stored (or about to be stored) row; a refusal names the
    field of the admin API's body it is about (``resolution``, ``default_severity``...)."""
    try:
        severity = severity_of(row.default_severity) if row.default_severity is not None else None
    except InvalidPolicy as exc:
        raise InvalidPolicy(exc.message, field="default_severity") from None
    return Category(
        key=row.key,
        title=row.name,
        resolution=spec_from_json(row.resolution, "resolution", field="resolution"),
        availability=row.availability,
        stage_one=spec_from_json(row.stage_one, "stage_one", field="stage_one"),
        default_severity=severity,
    )


def policy_rule_of(row: SlaPolicyRow) -> PolicyRule:
    policy = SlaPolicy(
        name=row.name,
        calendar_key=row.calendar_key,
        first_response=spec_from_json(row.first_response, "first_response"),
        next_response=spec_from_json(row.next_response, "next_response"),
        stage_one=spec_from_json(row.stage_one, "stage_one"),
        resolution=spec_from_json(row.resolution, "resolution"),
        warning_share=row.warning_share,
        day_rule=DayRule(row.day_rule or DayRule.WHOLE_DAYS),
    )
    severity = severity_of(row.severity) if row.severity is not None else None
    auto_close = AutoCloseOverride.parse(row.auto_close_waiting, row.auto_close_proposed)
    return PolicyRule(policy, tier=row.tier, category=row.category, severity=severity, auto_close=auto_close)


@dataclass(frozen=True)
class Group:
    key: str
    name: str
    level: int
    lead_id: int | None


@dataclass(frozen=True)
class Desk:
    calendars: dict[str, BusinessCalendar]
    categories: dict[str, Category]
    active_categories: frozenset[str]
    policies: PolicyTable
    groups: dict[str, Group]
    ladder: Ladder
    auto_close: AutoCloseSettings
    lifecycle: LifecycleSettings
    idle_after: timedelta | None
    unanswered_after: timedelta | None
    left_after: timedelta | None = None
    # TICKET_WHEN_NO_AGENT_ONLINE, or its stored value (escalation.desk_rules).
    ticket_when_no_agent_online: bool = True

    def policy_for(
        self, tier: PlanTier | None, category: str | None, severity: int | None
    ) -> tuple[SlaPolicy | None, BusinessCalendar]:
        """The ticket's SLA policy and the calendar it is measured on. A customer without
        an organization (an anonymous visitor) is treated as the basic plan."""
        policy = effective_policy(
            self.policies,
            self.categories,
            tier or PlanTier.BASIC,
            category,
            Severity(severity) if severity is not None else None,
        )
        if policy is None:
            return None, FALLBACK_CALENDAR
        calendar = self.calendars.get(policy.calendar_key)
        if calendar is None:
            return None, FALLBACK_CALENDAR
        return policy, calendar

    def convert_due(self, *, answered: bool, since: datetime) -> datetime | None:
        after = self.idle_after if answered else self.unanswered_after
        return None if after is None else since + after

    def left_due(self, customer_left_at: datetime | None) -> datetime | None:
        """When a live chat whose customer left at ``customer_left_at`` becomes a ticket."""
        if customer_left_at is None or self.left_after is None:
            return None
        return customer_left_at + self.left_after


async def warm_up(svc: Services) -> None:
    """Build the stored calendars once at start. The first calendar with public holidays
    imports the holiday tables (~0.1 s of CPU); paid inside a ticket unit, that would
    hold every socket of the process for as long."""
    async with svc.reads() as db:
        await load_desk(db, svc.settings)


_Key = tuple[str, desk_rules.Defaults]


def desk_defaults(settings: Settings) -> desk_rules.Defaults:
    """The environment's first defaults of the desk-wide rules (a stored row wins)."""
    return desk_rules.Defaults(
        ladder=settings.escalation_ladder,
        auto_close_waiting=settings.auto_close_waiting_after,
        auto_close_proposed=settings.auto_close_proposed_after,
        status_labels=settings.ticket_status_labels,
        chat_idle_ticket_minutes=settings.chat_idle_ticket_minutes,
        chat_unanswered_ticket_minutes=settings.chat_unanswered_ticket_minutes,
        chat_left_ticket_minutes=settings.chat_left_ticket_minutes,
        ticket_when_no_agent_online=settings.ticket_when_no_agent_online,
    )


def _key(settings: Settings) -> _Key:
    """The database and what of the settings goes into a desk: the environment's defaults
    of the desk-wide rules (their stored rows, like the other tables, are covered by the
    version counter: every desk_settings write moves it)."""
    return (settings.database_url, desk_defaults(settings))


# The desk each process built last, by its database and settings (a process has one; the
# test suite many, hence the bound), with the version counter it was read at.
_kept: dict[_Key, tuple[int, Desk]] = {}
_KEEP_AT_MOST = 16


async def load_desk(db: AsyncSession, settings: Settings) -> Desk:
    """The desk as ``db``'s transaction sees it: the one built before if the version
    counter has not moved since, else read and built (and kept when nothing in this
    transaction wrote the configuration: an uncommitted change is not everyone's)."""
    if db.info.get(DESK_WRITTEN):
        return await _read_desk(db, settings)
    version = await db.scalar(select(DeskVersion.version).where(DeskVersion.id == 1))
    key = _key(settings)
    kept = _kept.get(key)
    if kept is not None and kept[0] == version:
        return kept[1]
    desk = await _read_desk(db, settings)
    # Not if the reads wrote (an autoflush of pending configuration rows moved the counter
    # in this transaction) or the counter is missing (a schema without migration 0009).
    if version is not None and not db.info.get(DESK_WRITTEN):
        if len(_kept) >= _KEEP_AT_MOST and key not in _kept:
            _kept.clear()
        _kept[key] = (version, desk)
    return desk


async def _read_desk(db: AsyncSession, settings: Settings) -> Desk:
    calendars = {
        row.key: build_calendar(row.key, row.definition) for row in await db.scalars(select(BusinessCalendarRow))
    }
    category_rows = list(await db.scalars(select(TicketCategory).order_by(TicketCategory.position, TicketCategory.key)))
    policy_rows = list(await db.scalars(select(SlaPolicyRow).order_by(SlaPolicyRow.id)))
    group_rows = list(await db.scalars(select(SupportGroup).order_by(SupportGroup.position, SupportGroup.key)))
    groups = {g.key: Group(g.key, g.name, g.level, g.lead_id) for g in group_rows}
    stored = {row.key: row.value for row in await db.scalars(select(DeskSetting).where(DeskSetting.key.in_(desk_rules.KEYS)))}
    rules = desk_rules.rules_of(desk_rules.effective_values(desk_defaults(settings), stored)[0])
    return Desk(
        calendars=calendars,
        categories={row.key: category_of(row) for row in category_rows},
        active_categories=frozenset(row.key for row in category_rows if row.active),
        policies=PolicyTable(tuple(policy_rule_of(row) for row in policy_rows)),
        groups=groups,
        ladder=rules.ladder,
        auto_close=rules.auto_close,
        lifecycle=LifecycleSettings(groups=tuple(groups), labels=rules.labels),
        idle_after=rules.idle_after,
        unanswered_after=rules.unanswered_after,
        left_after=rules.left_after,
        ticket_when_no_agent_online=rules.ticket_when_no_agent_online,
    )

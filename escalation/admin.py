"""The desk's dictionaries, edited by support admins: categories, support groups, business
calendars and SLA policies. Every write is checked by building the core objects it feeds
(a calendar with overlapping periods, a negative target, two rules for the same keys...
are refused with the domain's error, and nothing is stored)."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from typing import Any, TypeVar
from zoneinfo import ZoneInfo

import msgspec
from msgspec import UNSET, UnsetType
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from chat import audit, validation
from chat.authz import Action, Principal, require
from chat.errors import Conflict, NotFound, ValidationFailed
from chat.models import Role, User
from chat.services import Services
from chat.validation import LANGUAGES
from chat.wire import View
from escalation.autoclose import Delay
from escalation.config import build_calendar, category_of, policy_rule_of
from escalation.errors import EscalationError
from escalation.models import BusinessCalendarRow, SlaPolicyRow, SupportGroup, Ticket, TicketCategory
from escalation.policies import (
    Availability,
    calendar_from_json,
    calendar_preview,
    calendar_to_json,
    check_key,
    holiday_countries,
    severity_of,
    spec_from_json,
    spec_to_json,
)
from escalation.policy_table import PlanTier, PolicyRule, PolicyTable, never_selected
from escalation.sla_targets import DayRule
from escalation.unit_of_work import checked

LEVELS = (1, 2, 3)
T = TypeVar("T")


class CategorySlaView(View, frozen=True, kw_only=True):
    """A category's own targets (``{"minutes": n}`` / ``{"business_days": n}``, or null)."""

    resolution: dict[str, Any] | None
    stage_one: dict[str, Any] | None


class CategoryView(View, frozen=True, kw_only=True):
    """A ticket category; ``availability``, ``position`` and ``active`` for staff only."""

    key: str
    name: str
    # The title per language ({"ru": "…"}); ``name`` for a language without one.
    titles: dict[str, str]
    sla: CategorySlaView
    customer_selectable: bool
    default_severity: int | None
    availability: str | UnsetType = UNSET
    position: int | UnsetType = UNSET
    active: bool | UnsetType = UNSET

    @classmethod
    def of(cls, row: TicketCategory, *, staff: bool) -> CategoryView:
        return cls(
            key=row.key, name=row.name, titles=dict(row.titles or {}), sla=CategorySlaView(resolution=row.resolution, stage_one=row.stage_one),
            customer_selectable=row.availability is Availability.CUSTOMER, default_severity=row.default_severity,
            availability=row.availability.value if staff else UNSET, position=row.position if staff else UNSET,
            active=row.active if staff else UNSET,
        )


async def list_categories(svc: Services, actor: Principal) -> list[CategoryView]:
    """Staff see every category (with ``availability``, ``active``); everyone else only the
    active ones a customer may choose."""
    staff = actor.is_staff
    async with svc.reads() as db:
        rows = list(await db.scalars(select(TicketCategory).order_by(TicketCategory.position, TicketCategory.key)))
    return [
        CategoryView.of(row, staff=staff)
        for row in rows
        if staff or (row.active and row.availability is Availability.CUSTOMER)
    ]


async def _audit(svc: Services, db: AsyncSession, actor: Principal, action: str, kind: str, key: str | int,
                 before: Any, after: Any) -> None:
    """One audit row in the writing transaction; ``before``/``after`` are the views GET returns."""
    await audit.record_change(db, actor, at=svc.clock.now(), action=action, target_kind=kind, target_id=key,
                              before=before, after=after)


def _name(value: object) -> str:
    if not isinstance(value, str):
        raise ValidationFailed("name must be text", field="name")
    try:
        return validation.text(value, "name", max_length=200)
    except ValidationFailed as exc:
        raise ValidationFailed(exc.message, field="name") from None


def category_titles(value: object) -> dict[str, str]:
    """``{"ru": "…", ...}`` for the UI's languages (chat.validation.LANGUAGES); blank
    titles are dropped (the language falls back to ``name``)."""
    if not isinstance(value, Mapping):
        raise ValidationFailed("titles maps a language to a title", field="titles")
    titles: dict[str, str] = {}
    for lang, title in value.items():
        if lang not in LANGUAGES:
            raise ValidationFailed(f"titles: unknown language {lang!r} ({', '.join(LANGUAGES)})",
                                   field=f"titles.{lang}")
        if not isinstance(title, str) or len(title.strip()) > 200:
            raise ValidationFailed(f"titles.{lang}: a title is text of at most 200 characters", field=f"titles.{lang}")
        if title.strip():
            titles[lang] = title.strip()
    return titles


async def put_category(svc: Services, actor: Principal, key: str, body: Mapping[str, Any]) -> CategoryView:
    """Create or replace a category (``name``, ``titles``, ``availability``, ``resolution``,
    ``stage_one``, ``default_severity``, ``position``, ``active``); ``titles`` left out
    (``None``) keeps the stored ones."""
    require(actor, Action.MANAGE_SLA)
    checked(lambda: check_key(key, "category key", field="key"))
    position = body.get("position", 0)
    if isinstance(position, bool) or not isinstance(position, int):
        raise ValidationFailed("position is an integer", field="position")
    if not isinstance(body.get("active", True), bool):
        raise ValidationFailed("active is a boolean", field="active")
    titles = category_titles(body["titles"]) if body.get("titles") is not None else None
    row = TicketCategory(
        key=key, name=_name(body.get("name", "")),
        availability=body.get("availability", "customer"), resolution=body.get("resolution"),
        stage_one=body.get("stage_one"), default_severity=body.get("default_severity"),
        position=body.get("position", 0), active=body.get("active", True),
    )
    category = checked(lambda: category_of(row))
    async with svc.sessions.begin() as db:
        existing = await db.get(TicketCategory, key)
        before = CategoryView.of(existing, staff=True) if existing is not None else None
        target = existing or TicketCategory(key=key, titles={})
        target.name, target.availability = category.title, category.availability
        target.resolution, target.stage_one = spec_to_json(category.resolution), spec_to_json(category.stage_one)
        target.default_severity = int(category.default_severity) if category.default_severity is not None else None
        target.position, target.active = int(row.position), bool(row.active)
        if titles is not None:
            target.titles = titles
        if existing is None:
            db.add(target)
        await db.flush()
        after = CategoryView.of(target, staff=True)
        verb = "create" if existing is None else "update"
        await _audit(svc, db, actor, f"config.category.{verb}", "category", key, before, after)
        return after


async def delete_category(svc: Services, actor: Principal, key: str) -> None:
    """Delete a category no ticket and no policy uses; one in use is retired instead
    (``active: false``): old tickets keep their category."""
    require(actor, Action.MANAGE_SLA)
    async with svc.sessions.begin() as db:
        row = await db.get(TicketCategory, key)
        if row is None:
            raise NotFound("no such category", code="not_found")
        tickets = await db.scalar(select(func.count()).select_from(Ticket).where(Ticket.category == key))
        policies = await db.scalar(select(func.count()).select_from(SlaPolicyRow).where(SlaPolicyRow.category == key))
        if tickets or policies:
            raise Conflict(
                f"category {key!r} is used by {tickets} ticket(s) and {policies} SLA policy(ies): "
                "retire it instead (make it inactive), so old tickets keep it",
                code="category_in_use",
            )
        before = CategoryView.of(row, staff=True)
        await db.delete(row)
        await db.flush()
        await _audit(svc, db, actor, "config.category.delete", "category", key, before, None)


class SupportGroupView(View, frozen=True, kw_only=True):
    """A transfer group, as both its editors show it (here and ``chat.desk.support_groups``)."""

    key: str
    name: str
    level: int
    lead_id: int | None
    position: int

    @classmethod
    def of(cls, row: SupportGroup) -> SupportGroupView:
        return cls(key=row.key, name=row.name, level=row.level, lead_id=row.lead_id, position=row.position)


async def list_support_groups(svc: Services, actor: Principal) -> dict[str, Any]:
    require(actor, Action.VIEW_DESK)  # the platform's own lines: staff only (docs/http.md)
    async with svc.reads() as db:
        rows = list(await db.scalars(select(SupportGroup).order_by(SupportGroup.position, SupportGroup.key)))
    return {"levels": list(LEVELS), "groups": [SupportGroupView.of(row) for row in rows]}


async def put_support_group(svc: Services, actor: Principal, key: str, body: Mapping[str, Any]) -> SupportGroupView:
    """Create or replace a transfer group: ``name``, ``level`` (1-3), ``lead_id``, ``position``."""
    require(actor, Action.MANAGE_SLA)
    checked(lambda: check_key(key, "group key"))
    name = validation.text(body.get("name", ""), "name", max_length=200)
    level = body.get("level")
    if isinstance(level, bool) or level not in LEVELS:
        raise ValidationFailed("level must be 1, 2 or 3")
    lead_id = body.get("lead_id")
    async with svc.sessions.begin() as db:
        if lead_id is not None:
            lead = await db.get(User, lead_id)
            if lead is None or lead.disabled or lead.role not in (Role.AGENT, Role.SUPPORT_ADMIN):
                raise ValidationFailed(f"lead_id: {lead_id} is not an enabled agent or support admin")
        row = await db.get(SupportGroup, key)
        before = SupportGroupView.of(row) if row is not None else None
        if row is None:
            row = SupportGroup(key=key)
            db.add(row)
        position = body.get("position", 0)
        if isinstance(position, bool) or not isinstance(position, int):
            raise ValidationFailed("position is an integer")
        row.name, row.level, row.lead_id, row.position = name, level, lead_id, position
        await db.flush()
        view = SupportGroupView.of(row)
        verb = "update" if before is not None else "create"
        await audit.record_change(db, actor, at=svc.clock.now(), action=f"config.group.{verb}", target_kind="group",
                                  target_id=key, before=before, after=view)
        return view


class CalendarView(View, frozen=True, kw_only=True):
    key: str
    name: str
    definition: dict[str, Any]  # escalation.policies.calendar_to_json's form

    @classmethod
    def of(cls, row: BusinessCalendarRow) -> CalendarView:
        return cls(key=row.key, name=row.name, definition=row.definition)


async def list_calendars(svc: Services, actor: Principal) -> list[CalendarView]:
    require(actor, Action.VIEW_SLA)
    async with svc.reads() as db:
        return [CalendarView.of(r) for r in await db.scalars(select(BusinessCalendarRow).order_by(BusinessCalendarRow.key))]


async def put_calendar(svc: Services, actor: Principal, key: str, name: str, definition: Mapping[str, Any]) -> CalendarView:
    """Create or replace a business calendar; its definition is stored normalized. A
    refusal names the input (``key``, ``name``, ``definition.…``: calendar_from_json)."""
    require(actor, Action.MANAGE_SLA)
    try:
        check_key(key, "calendar key", field="key")
    except EscalationError as exc:
        raise ValidationFailed(exc.message, code="invalid_calendar", field="key") from None
    clean_name = _name(name)
    calendar = checked(lambda: calendar_from_json(key, definition))
    async with svc.sessions.begin() as db:
        row = await db.get(BusinessCalendarRow, key)
        before = CalendarView.of(row) if row is not None else None
        if row is None:
            row = BusinessCalendarRow(key=key)
            db.add(row)
        row.name, row.definition = clean_name, calendar_to_json(calendar)
        await db.flush()
        after = CalendarView.of(row)
        verb = "create" if before is None else "update"
        await _audit(svc, db, actor, f"config.calendar.{verb}", "calendar", key, before, after)
        return after


async def delete_calendar(svc: Services, actor: Principal, key: str) -> None:
    """Delete a calendar no SLA policy names (409 ``calendar_in_use`` otherwise)."""
    require(actor, Action.MANAGE_SLA)
    async with svc.sessions.begin() as db:
        row = await db.get(BusinessCalendarRow, key)
        if row is None:
            raise NotFound("no such calendar", code="not_found")
        names = list(await db.scalars(select(SlaPolicyRow.name).where(SlaPolicyRow.calendar_key == key)))
        if names:
            raise Conflict(f"calendar {key!r} is used by the SLA policies {', '.join(sorted(names))}: "
                           "move them to another calendar first", code="calendar_in_use")
        before = CalendarView.of(row)
        await db.delete(row)
        await db.flush()
        await _audit(svc, db, actor, "config.calendar.delete", "calendar", key, before, None)


async def preview_calendar(svc: Services, actor: Principal, key: str, start: date | None,
                           days: int) -> list[dict[str, Any]]:
    """The next ``days`` days of a stored calendar from ``start`` (default: today in the
    calendar's zone): open periods, closed days and holidays by name."""
    require(actor, Action.VIEW_SLA)
    async with svc.reads() as db:
        row = await db.get(BusinessCalendarRow, key)
    if row is None:
        raise NotFound("no such calendar", code="not_found")
    calendar = checked(lambda: build_calendar(row.key, row.definition))
    first = start or svc.clock.now().astimezone(ZoneInfo(calendar.timezone)).date()
    return list(checked(lambda: calendar_preview(calendar, first, days)))


def list_holiday_countries(actor: Principal) -> list[dict[str, Any]]:
    require(actor, Action.VIEW_SLA)
    return holiday_countries()


POLICY_FIELDS = ("name", "tier", "category", "severity", "calendar", "first_response", "next_response",
                 "stage_one", "resolution", "warning_share", "day_rule", "auto_close_waiting", "auto_close_proposed")
TARGETS = ("first_response", "next_response", "stage_one", "resolution")


class SlaPolicyView(View, frozen=True, kw_only=True):
    """One rule of the policy table; null keys match anything, null targets are not timed.
    ``day_rule``: what its day targets mean (``whole_days`` / ``working_hours``);
    ``auto_close_*``: its own delays (``"7d"``, ``"2bd"``...), null = the desk's default."""

    id: int
    name: str
    tier: str | None
    category: str | None
    severity: int | None
    calendar: str
    first_response: dict[str, Any] | None
    next_response: dict[str, Any] | None
    stage_one: dict[str, Any] | None
    resolution: dict[str, Any] | None
    warning_share: float
    day_rule: str
    auto_close_waiting: str | None
    auto_close_proposed: str | None

    @classmethod
    def of(cls, row: SlaPolicyRow) -> SlaPolicyView:
        return cls(
            id=row.id, name=row.name, tier=row.tier.value if row.tier else None, category=row.category,
            severity=row.severity, calendar=row.calendar_key, first_response=row.first_response,
            next_response=row.next_response, stage_one=row.stage_one, resolution=row.resolution,
            warning_share=row.warning_share, day_rule=row.day_rule or DayRule.WHOLE_DAYS.value,
            auto_close_waiting=row.auto_close_waiting, auto_close_proposed=row.auto_close_proposed,
        )


async def list_policies(svc: Services, actor: Principal) -> list[SlaPolicyView]:
    require(actor, Action.VIEW_SLA)
    async with svc.reads() as db:
        return [SlaPolicyView.of(r) for r in await db.scalars(select(SlaPolicyRow).order_by(SlaPolicyRow.id))]


_POLICY_COLUMNS = ("name", "tier", "category", "severity", "calendar_key", "first_response", "next_response",
                   "stage_one", "resolution", "warning_share", "day_rule", "auto_close_waiting", "auto_close_proposed")


def _policy_row(body: Mapping[str, Any], policy_id: int | None) -> SlaPolicyRow:
    """The row ``body`` describes, every value checked on its own (each refusal names its
    field); the row is outside any session."""
    unknown = sorted(set(body) - set(POLICY_FIELDS))
    if unknown:
        raise ValidationFailed(f"unknown fields: {', '.join(unknown)}", field=unknown[0])
    row = SlaPolicyRow(id=policy_id)
    name = body.get("name", "")
    if not isinstance(name, str) or not name.strip() or len(name.strip()) > 200:
        raise ValidationFailed("name must be 1-200 characters", field="name")
    row.name = name.strip()
    tier = body.get("tier")
    if tier is not None and (not isinstance(tier, str) or tier not in {t.value for t in PlanTier}):
        raise ValidationFailed(f"tier must be one of {', '.join(t.value for t in PlanTier)} or null", field="tier")
    row.tier = PlanTier(tier) if tier is not None else None
    row.category, row.severity = body.get("category"), body.get("severity")
    if row.severity is not None:
        checked(field="severity", build=lambda: severity_of(row.severity))
    calendar = body.get("calendar", "24x7")
    if not isinstance(calendar, str) or not calendar.strip():
        raise ValidationFailed("calendar: name a business calendar", field="calendar")
    row.calendar_key = calendar
    for target in TARGETS:
        # One at a time, so a zero or negative target is refused naming that target.
        spec = checked(field=target, build=lambda target=target: spec_from_json(body.get(target), target))  # type: ignore[misc]
        setattr(row, target, spec_to_json(spec))
    row.warning_share = body.get("warning_share", 0.8)
    row.day_rule = body.get("day_rule", DayRule.WHOLE_DAYS.value)
    if not isinstance(row.day_rule, str) or row.day_rule not in {r.value for r in DayRule}:
        raise ValidationFailed("day_rule must be whole_days or working_hours", field="day_rule")
    row.auto_close_waiting = _delay_text(body.get("auto_close_waiting"), "auto_close_waiting")
    row.auto_close_proposed = _delay_text(body.get("auto_close_proposed"), "auto_close_proposed")
    return row


def _delay_text(value: object, field: str) -> str | None:
    """An auto-close delay as stored (``Delay.parse``'s normal form), or null; an empty
    string is null too (the form's "desk default")."""
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise ValidationFailed(f"{field} is a delay such as 48h, 7d or 2bd, or null", field=field)
    return str(checked(field=field, build=lambda: Delay.parse(value)))


async def _checked_policy(db: AsyncSession, body: Mapping[str, Any], policy_id: int | None) -> SlaPolicyRow:
    """The policy ``body`` describes, validated, as a row outside the session; ``POST`` and
    ``PUT`` share it. Nothing is set on a row the session holds before every check passed:
    a lookup autoflushes, and a half-checked row (an unknown calendar, a share of 2**31) would
    reach the database's constraints first — an IntegrityError, a 500, instead of the 422
    naming the field. Every refusal names the field a form should mark."""
    row = _policy_row(body, policy_id)
    rule = checked(field="warning_share", build=lambda: policy_rule_of(row))
    if row.category is not None and (not isinstance(row.category, str) or await db.get(TicketCategory, row.category) is None):
        raise ValidationFailed(f"category: no such category {row.category!r}", code="unknown_category", field="category")
    if await db.get(BusinessCalendarRow, row.calendar_key) is None:
        raise ValidationFailed(f"calendar: no such calendar {row.calendar_key!r}", code="invalid_calendar",
                               field="calendar")
    stored = list(await db.scalars(select(SlaPolicyRow).order_by(SlaPolicyRow.id)))
    others = [r for r in stored if r.id != policy_id]
    before_rules = [policy_rule_of(r) for r in others]
    # The keys as a whole repeat another rule's: marked on the category, the key a desk
    # most often means to differ by.
    table = checked(field="category", build=lambda: PolicyTable((*before_rules, rule)))
    await _refuse_unmatchable(db, table, rule, others, stored)
    return row


async def _refuse_unmatchable(
    db: AsyncSession, table: PolicyTable, rule: PolicyRule, others: list[SlaPolicyRow], stored: list[SlaPolicyRow]
) -> None:
    """Refuse a rule no ticket could get (:func:`escalation.policy_table.never_selected`),
    and a change that makes another rule so (it would shadow it for every ticket). Rules
    already unmatchable before the change are left alone: a desk that has one can still
    edit its other rules."""
    categories = frozenset(
        (await db.scalars(
            select(TicketCategory.key).where(TicketCategory.active.is_(True),
                                             TicketCategory.availability != Availability.EMAIL)
        )).all()
    )
    dead = {id(r) for r in never_selected(table, categories)}
    if id(rule) in dead:
        if rule.category is not None and rule.category not in categories:
            raise ValidationFailed(f"category {rule.category!r} is retired or handled by e-mail: no ticket can "
                                   f"have it", code="unmatchable_policy", field="category")
        raise ValidationFailed("no ticket could ever get this policy: more specific rules match every ticket it "
                               "matches", code="unmatchable_policy", field="category")
    # The table as stored (with the edited rule as it was), by row id.
    old = PolicyTable(tuple(policy_rule_of(r) for r in stored))
    old_dead = {id(r) for r in never_selected(old, categories)}
    was_dead = {row.id for row, r in zip(stored, old.rules, strict=True) if id(r) in old_dead}
    for victim, row in zip(table.rules[:-1], others, strict=True):
        if id(victim) in dead and row.id not in was_dead:
            raise ValidationFailed(f"this rule would leave {row.name!r} matching no ticket: more specific rules "
                                   f"would cover every ticket it matches", code="unmatchable_policy", field="category")


def _audit_json(row: SlaPolicyRow) -> dict[str, Any]:
    return msgspec.to_builtins(SlaPolicyView.of(row))  # type: ignore[no-any-return]


async def create_policy(svc: Services, actor: Principal, body: Mapping[str, Any]) -> SlaPolicyView:
    require(actor, Action.MANAGE_SLA)
    async with svc.sessions.begin() as db:
        row = await _checked_policy(db, body, None)
        db.add(row)
        await db.flush()
        await _audit(svc, db, actor, "config.policy.create", "policy", row.id, None, _audit_json(row))
        return SlaPolicyView.of(row)


async def update_policy(svc: Services, actor: Principal, policy_id: int, body: Mapping[str, Any]) -> SlaPolicyView:
    require(actor, Action.MANAGE_SLA)
    async with svc.sessions.begin() as db:
        row = await db.get(SlaPolicyRow, policy_id)
        if row is None:
            raise NotFound("no such policy", code="not_found", field="id")
        before = _audit_json(row)
        checked = await _checked_policy(db, body, policy_id)
        for column in _POLICY_COLUMNS:
            setattr(row, column, getattr(checked, column))
        await db.flush()
        await _audit(svc, db, actor, "config.policy.update", "policy", row.id, before, _audit_json(row))
        return SlaPolicyView.of(row)


async def delete_policy(svc: Services, actor: Principal, policy_id: int) -> None:
    require(actor, Action.MANAGE_SLA)
    async with svc.sessions.begin() as db:
        row = await db.get(SlaPolicyRow, policy_id)
        if row is None:
            raise NotFound("no such policy", code="not_found", field="id")
        if await db.scalar(select(SlaPolicyRow.id).where(SlaPolicyRow.id != policy_id).limit(1)) is None:
            raise Conflict("the last SLA policy cannot be deleted: tickets would have no SLA", code="last_policy",
                           field="id")
        before = _audit_json(row)
        await db.delete(row)
        await _audit(svc, db, actor, "config.policy.delete", "policy", policy_id, before, None)

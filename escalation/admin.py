"""The desk's dictionaries, edited by support admins: categories, support groups, business
calendars and SLA policies. Every write is checked by building the core objects it feeds
(a calendar with overlapping periods, a negative target, two rules for the same keys...
are refused with the domain's error, and nothing is stored)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from msgspec import UNSET, UnsetType
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from chat import audit, validation
from chat.authz import Action, Principal, require
from chat.errors import Conflict, NotFound, ValidationFailed
from chat.models import Role, User
from chat.services import Services
from chat.wire import View
from escalation.config import category_of, policy_rule_of
from escalation.errors import EscalationError
from escalation.models import BusinessCalendarRow, SlaPolicyRow, SupportGroup, TicketCategory
from escalation.policies import Availability, calendar_from_json, calendar_to_json, check_key, spec_to_json
from escalation.policy_table import PlanTier, PolicyTable
from escalation.unit_of_work import app_error

LEVELS = (1, 2, 3)


class CategorySlaView(View, frozen=True, kw_only=True):
    """A category's own targets (``{"minutes": n}`` / ``{"business_days": n}``, or null)."""

    resolution: dict[str, Any] | None
    stage_one: dict[str, Any] | None


class CategoryView(View, frozen=True, kw_only=True):
    """A ticket category; ``availability``, ``position`` and ``active`` for staff only."""

    key: str
    name: str
    sla: CategorySlaView
    customer_selectable: bool
    default_severity: int | None
    availability: str | UnsetType = UNSET
    position: int | UnsetType = UNSET
    active: bool | UnsetType = UNSET

    @classmethod
    def of(cls, row: TicketCategory, *, staff: bool) -> CategoryView:
        return cls(
            key=row.key, name=row.name, sla=CategorySlaView(resolution=row.resolution, stage_one=row.stage_one),
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


def _checked(build: Any) -> Any:
    try:
        return build()
    except EscalationError as exc:
        raise app_error(exc) from None


async def put_category(svc: Services, actor: Principal, key: str, body: Mapping[str, Any]) -> CategoryView:
    """Create or replace a category (``name``, ``availability``, ``resolution``,
    ``stage_one``, ``default_severity``, ``position``, ``active``)."""
    require(actor, Action.MANAGE_SLA)
    position = body.get("position", 0)
    if isinstance(position, bool) or not isinstance(position, int) or not isinstance(body.get("active", True), bool):
        raise ValidationFailed("position is an integer and active a boolean")
    row = TicketCategory(
        key=key, name=validation.text(body.get("name", ""), "name", max_length=200),
        availability=body.get("availability", "customer"), resolution=body.get("resolution"),
        stage_one=body.get("stage_one"), default_severity=body.get("default_severity"),
        position=body.get("position", 0), active=body.get("active", True),
    )
    category = _checked(lambda: (check_key(key, "category key"), category_of(row))[1])
    async with svc.sessions.begin() as db:
        existing = await db.get(TicketCategory, key)
        target = existing or TicketCategory(key=key)
        target.name, target.availability = category.title, category.availability
        target.resolution, target.stage_one = spec_to_json(category.resolution), spec_to_json(category.stage_one)
        target.default_severity = int(category.default_severity) if category.default_severity is not None else None
        target.position, target.active = int(row.position), bool(row.active)
        if existing is None:
            db.add(target)
        await db.flush()
        return CategoryView.of(target, staff=True)


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
    _checked(lambda: check_key(key, "group key"))
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
    """Create or replace a business calendar; its definition is stored normalized."""
    require(actor, Action.MANAGE_SLA)
    calendar = _checked(lambda: calendar_from_json(check_key(key, "calendar key"), definition))
    clean_name = validation.text(name, "name", max_length=200)
    async with svc.sessions.begin() as db:
        row = await db.get(BusinessCalendarRow, key)
        if row is None:
            row = BusinessCalendarRow(key=key)
            db.add(row)
        row.name, row.definition = clean_name, calendar_to_json(calendar)
        await db.flush()
        return CalendarView.of(row)


POLICY_FIELDS = ("name", "tier", "category", "severity", "calendar", "first_response", "next_response",
                 "stage_one", "resolution", "warning_share")


class SlaPolicyView(View, frozen=True, kw_only=True):
    """One rule of the policy table; null keys match anything, null targets are not timed."""

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

    @classmethod
    def of(cls, row: SlaPolicyRow) -> SlaPolicyView:
        return cls(
            id=row.id, name=row.name, tier=row.tier.value if row.tier else None, category=row.category,
            severity=row.severity, calendar=row.calendar_key, first_response=row.first_response,
            next_response=row.next_response, stage_one=row.stage_one, resolution=row.resolution,
            warning_share=row.warning_share,
        )


async def list_policies(svc: Services, actor: Principal) -> list[SlaPolicyView]:
    require(actor, Action.VIEW_SLA)
    async with svc.reads() as db:
        return [SlaPolicyView.of(r) for r in await db.scalars(select(SlaPolicyRow).order_by(SlaPolicyRow.id))]


_POLICY_COLUMNS = ("name", "tier", "category", "severity", "calendar_key", "first_response", "next_response",
                   "stage_one", "resolution", "warning_share")


async def _checked_policy(db: AsyncSession, body: Mapping[str, Any], policy_id: int | None) -> SlaPolicyRow:
    """The policy ``body`` describes, validated, as a row outside the session; ``POST`` and
    ``PUT`` share it. Nothing is set on a row the session holds before every check passed:
    a lookup autoflushes, and a half-checked row (an unknown calendar, a share of 2**31) would
    reach the database's constraints first — an IntegrityError, a 500, instead of the 422
    naming the field."""
    unknown = set(body) - set(POLICY_FIELDS)
    if unknown:
        raise ValidationFailed(f"unknown fields: {', '.join(sorted(unknown))}")
    row = SlaPolicyRow(id=policy_id)
    row.name = validation.text(body.get("name", ""), "name", max_length=200)
    tier = body.get("tier")
    if tier is not None and tier not in {t.value for t in PlanTier}:
        raise ValidationFailed(f"tier must be one of {', '.join(t.value for t in PlanTier)} or null")
    row.tier = PlanTier(tier) if tier is not None else None
    row.category, row.severity = body.get("category"), body.get("severity")
    row.calendar_key = body.get("calendar", "24x7")
    for target in ("first_response", "next_response", "stage_one", "resolution"):
        setattr(row, target, body.get(target))
    row.warning_share = body.get("warning_share", 0.8)
    rule = _checked(lambda: policy_rule_of(row))
    if row.category is not None and await db.get(TicketCategory, row.category) is None:
        raise ValidationFailed(f"category: no such category {row.category!r}", code="unknown_category")
    if await db.get(BusinessCalendarRow, row.calendar_key) is None:
        raise ValidationFailed(f"calendar: no such calendar {row.calendar_key!r}", code="invalid_calendar")
    for target in ("first_response", "next_response", "stage_one", "resolution"):
        setattr(row, target, spec_to_json(getattr(rule.policy, target)))
    others = [r for r in await db.scalars(select(SlaPolicyRow)) if r.id != policy_id]
    _checked(lambda: PolicyTable((*(policy_rule_of(r) for r in others), rule)))
    return row


async def create_policy(svc: Services, actor: Principal, body: Mapping[str, Any]) -> SlaPolicyView:
    require(actor, Action.MANAGE_SLA)
    async with svc.sessions.begin() as db:
        row = await _checked_policy(db, body, None)
        db.add(row)
        await db.flush()
        return SlaPolicyView.of(row)


async def update_policy(svc: Services, actor: Principal, policy_id: int, body: Mapping[str, Any]) -> SlaPolicyView:
    require(actor, Action.MANAGE_SLA)
    async with svc.sessions.begin() as db:
        row = await db.get(SlaPolicyRow, policy_id)
        if row is None:
            raise NotFound("no such policy", code="not_found")
        checked = await _checked_policy(db, body, policy_id)
        for column in _POLICY_COLUMNS:
            setattr(row, column, getattr(checked, column))
        await db.flush()
        return SlaPolicyView.of(row)


async def delete_policy(svc: Services, actor: Principal, policy_id: int) -> None:
    require(actor, Action.MANAGE_SLA)
    async with svc.sessions.begin() as db:
        row = await db.get(SlaPolicyRow, policy_id)
        if row is None:
            raise NotFound("no such policy", code="not_found")
        if await db.scalar(select(SlaPolicyRow.id).where(SlaPolicyRow.id != policy_id).limit(1)) is None:
            raise Conflict("the last SLA policy cannot be deleted: tickets would have no SLA", code="last_policy")
        await db.delete(row)


"""Assignment rules and the default assignee, as support admins edit them in the console."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from chat import audit, validation
from chat.authz import Action, Principal, require
from chat.desk.assignment import Rule
from chat.desk.models import AssignmentRule, DeskSetting
from chat.errors import NotFound, ValidationFailed
from chat.models import Role, User
from chat.services import Services
from chat.wire import View, iso

DEFAULT_ASSIGNEE_KEY = "default_assignee_id"
ASSIGNABLE_ROLES = frozenset({Role.AGENT, Role.SUPPORT_ADMIN})
MAX_RULES = 500  # a desk with more rules than this has a data problem, not a routing one
_UNSET: Any = object()


class AssignmentRuleView(View, frozen=True, kw_only=True):
    id: int
    position: int
    name: str
    category: str | None
    severity: int | None
    source: str | None
    assignee_id: int
    enabled: bool
    created_at: str
    updated_at: str

    @classmethod
    def of(cls, rule: AssignmentRule) -> AssignmentRuleView:
        return cls(
            id=rule.id, position=rule.position, name=rule.name, category=rule.category, severity=rule.severity,
            source=rule.source, assignee_id=rule.assignee_id, enabled=rule.enabled, created_at=iso(rule.created_at),
            updated_at=iso(rule.updated_at),
        )


def as_rule(row: AssignmentRule) -> Rule:
    return Rule(row.id, row.assignee_id, row.category, row.severity, row.source, row.enabled)


async def load_rules(db: AsyncSession) -> list[AssignmentRule]:
    return list(await db.scalars(select(AssignmentRule).order_by(AssignmentRule.position, AssignmentRule.id)))


async def default_assignee(db: AsyncSession) -> int | None:
    setting = await db.get(DeskSetting, DEFAULT_ASSIGNEE_KEY)
    return int(setting.value) if setting is not None and setting.value is not None else None


async def _assignable(db: AsyncSession, user_id: int, field: str) -> int:
    user = await db.get(User, user_id)
    if user is None or user.disabled or user.role not in ASSIGNABLE_ROLES:
        raise ValidationFailed(f"{field}: user {user_id} is not an enabled agent or support admin", field=field)
    return user_id


def _key(value: str | None, field: str, max_length: int) -> str | None:
    if value is None or not value.strip():
        return None
    clean = value.strip()
    if len(clean) > max_length or not all(ch.isalnum() or ch in "-_." for ch in clean):
        raise ValidationFailed(
            f"{field} must be a key of at most {max_length} letters, digits, '-', '_' or '.'", field=field
        )
    return clean


def _name(value: str) -> str:
    try:
        return validation.text(value, "name", max_length=200)
    except ValidationFailed as exc:
        raise ValidationFailed(exc.message, field="name") from None


def _severity(value: int | None) -> int | None:
    if value is not None and value not in (1, 2, 3):
        raise ValidationFailed("severity must be 1 (critical), 2 (major) or 3 (minor)", field="severity")
    return value


async def list_rules(svc: Services, actor: Principal) -> dict[str, Any]:
    require(actor, Action.VIEW_DESK)
    async with svc.reads() as db:
        return {"rules": [AssignmentRuleView.of(r) for r in await load_rules(db)], "default_assignee_id": await default_assignee(db)}


async def create_rule(
    svc: Services,
    actor: Principal,
    *,
    name: str,
    assignee_id: int,
    category: str | None = None,
    severity: int | None = None,
    source: str | None = None,
    enabled: bool = True,
    position: int | None = None,
) -> AssignmentRuleView:
    require(actor, Action.MANAGE_DESK)
    now = svc.clock.now()
    clean_name = _name(name)
    fields = {"category": _key(category, "category", 64), "severity": _severity(severity), "source": _key(source, "source", 32)}
    async with svc.sessions.begin() as db:
        await _assignable(db, assignee_id, "assignee_id")
        count = await db.scalar(select(func.count()).select_from(AssignmentRule))
        if (count or 0) >= MAX_RULES:
            raise ValidationFailed(f"at most {MAX_RULES} rules")
        if position is None:
            position = int(await db.scalar(select(func.coalesce(func.max(AssignmentRule.position), 0))) or 0) + 1
        rule = AssignmentRule(position=position, name=clean_name, assignee_id=assignee_id, enabled=enabled,
                              created_at=now, updated_at=now, **fields)
        db.add(rule)
        await db.flush()
        view = AssignmentRuleView.of(rule)
        await audit.record_change(db, actor, at=now, action="config.rule.create", target_kind="rule",
                                  target_id=rule.id, after=view)
    return view


async def update_rule(
    svc: Services,
    actor: Principal,
    rule_id: int,
    *,
    name: str | None = None,
    assignee_id: int | None = None,
    category: str | None = _UNSET,
    severity: int | None = _UNSET,
    source: str | None = _UNSET,
    enabled: bool | None = None,
    position: int | None = None,
) -> AssignmentRuleView:
    """Change the given fields; a condition set to None matches anything again."""
    require(actor, Action.MANAGE_DESK)
    changes: dict[str, Any] = {}
    if name is not None:
        changes["name"] = _name(name)
    if category is not _UNSET:
        changes["category"] = _key(category, "category", 64)
    if severity is not _UNSET:
        changes["severity"] = _severity(severity)
    if source is not _UNSET:
        changes["source"] = _key(source, "source", 32)
    if enabled is not None:
        changes["enabled"] = enabled
    if position is not None:
        changes["position"] = position
    async with svc.sessions.begin() as db:
        rule = await db.get(AssignmentRule, rule_id)
        if rule is None:
            raise NotFound("no such rule")
        before = AssignmentRuleView.of(rule)
        if assignee_id is not None:
            changes["assignee_id"] = await _assignable(db, assignee_id, "assignee_id")
        for field, value in changes.items():
            setattr(rule, field, value)
        rule.updated_at = svc.clock.now()
        await db.flush()
        view = AssignmentRuleView.of(rule)
        await audit.record_change(db, actor, at=rule.updated_at, action="config.rule.update", target_kind="rule",
                                  target_id=rule.id, before=before, after=view)
    return view


async def delete_rule(svc: Services, actor: Principal, rule_id: int) -> None:
    require(actor, Action.MANAGE_DESK)
    async with svc.sessions.begin() as db:
        rule = await db.get(AssignmentRule, rule_id)
        if rule is None:
            raise NotFound("no such rule")
        await audit.record_change(db, actor, at=svc.clock.now(), action="config.rule.delete", target_kind="rule",
                                  target_id=rule.id, before=AssignmentRuleView.of(rule))
        await db.delete(rule)


async def set_default_assignee(svc: Services, actor: Principal, user_id: int | None) -> int | None:
    """The agent who gets new chats no rule routes (when free); None: round-robin only."""
    require(actor, Action.MANAGE_DESK)
    now = svc.clock.now()
    async with svc.sessions.begin() as db:
        if user_id is not None:
            await _assignable(db, user_id, "user_id")
        setting = await db.get(DeskSetting, DEFAULT_ASSIGNEE_KEY)
        before = await default_assignee(db)
        if setting is None:
            db.add(DeskSetting(key=DEFAULT_ASSIGNEE_KEY, value=user_id, updated_at=now))
        else:
            setting.value = user_id
            setting.updated_at = now
        await audit.record_change(db, actor, at=now, action="config.rule.default_assignee", target_kind="desk",
                                  target_id=DEFAULT_ASSIGNEE_KEY, before={"default_assignee_id": before},
                                  after={"default_assignee_id": user_id})
    return user_id

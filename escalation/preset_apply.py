"""Apply one of the source desks' presets (:mod:`escalation.presets`) in one transaction:
its calendars and categories upserted by key, its SLA rules replacing the rules of the same
(plan, category, severity) keys, its desk settings stored; everything else stays. Checked
as the admin API checks each (the core objects are built, the whole policy table too)
before the commit; audited ``config.preset.apply`` with the counts before and the keys
changed after."""

from __future__ import annotations

from typing import Any, TypeVar

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from chat import audit
from chat.authz import Action, Principal, require
from chat.errors import NotFound
from chat.services import Services
from chat.wire import View
from escalation import desk_settings
from escalation.autoclose import Delay
from escalation.config import category_of, policy_rule_of
from escalation.errors import InvalidPolicy
from escalation.models import BusinessCalendarRow, SlaPolicyRow, TicketCategory
from escalation.policies import Availability, calendar_from_json, calendar_to_json
from escalation.policy_table import PlanTier, PolicyTable
from escalation.presets import PRESETS, WHOLE_DAYS, WORKING_HOURS, Preset
from escalation.unit_of_work import checked

AUDIT_ACTION = "config.preset.apply"
T = TypeVar("T")


class PresetView(View, frozen=True, kw_only=True):
    """A preset as ``GET /api/sla/presets`` lists it: its name (the console translates its
    description by it) and what applying it changes, by key."""

    name: str
    changes: dict[str, Any]


class AppliedView(View, frozen=True, kw_only=True):
    """What applying did: the keys created and updated per kind."""

    name: str
    calendars: dict[str, list[str]]
    categories: dict[str, list[str]]
    policies: dict[str, list[str]]
    settings: list[str]


def list_presets(actor: Principal) -> list[PresetView]:
    require(actor, Action.VIEW_SLA)
    return [PresetView(name=p.name, changes=p.summary()) for p in PRESETS.values()]


def _rule_key(tier: Any, category: str | None, severity: int | None) -> tuple[str | None, str | None, int | None]:
    return (tier.value if isinstance(tier, PlanTier) else tier, category, severity)


async def _counts(db: AsyncSession) -> dict[str, int]:
    async def count(model: Any) -> int:
        return int(await db.scalar(select(func.count()).select_from(model)) or 0)

    return {"calendars": await count(BusinessCalendarRow), "categories": await count(TicketCategory),
            "policies": await count(SlaPolicyRow)}


def _check_policy_extras(row: dict[str, Any]) -> None:
    # Programming errors in the preset data, refused before anything is written.
    if row["day_rule"] not in (WHOLE_DAYS, WORKING_HOURS):
        raise InvalidPolicy(f"unknown day rule {row['day_rule']!r}", field="day_rule")
    for column in ("auto_close_waiting", "auto_close_proposed"):
        if row[column] is not None:
            Delay.parse(row[column])


async def apply_preset(svc: Services, actor: Principal | None, name: str) -> AppliedView:
    """``actor`` None: the operator at the command line (``supportchat apply-preset``),
    audited as the system."""
    if actor is not None:
        require(actor, Action.MANAGE_SLA)
    preset = PRESETS.get(name)
    if preset is None:
        raise NotFound(f"no preset {name!r}; known: {', '.join(PRESETS)}", code="unknown_preset")
    settings = desk_settings.checked_changes(preset.settings) if preset.settings else {}
    now = svc.clock.now()
    async with svc.sessions.begin() as db:
        before = await _counts(db)
        applied = await _write(db, preset)
        if settings:
            await desk_settings.write_settings(db, svc, actor, settings)
        await db.flush()
        result = AppliedView(name=preset.name, settings=sorted(settings), **applied)
        await audit.record_change(
            db, actor, at=now, action=AUDIT_ACTION, target_kind="preset", target_id=preset.name,
            before={"counts": before},
            after={"counts": await _counts(db), "calendars": applied["calendars"],
                   "categories": applied["categories"], "policies": applied["policies"],
                   "settings": preset.settings},
        )
        return result


async def _write(db: AsyncSession, preset: Preset) -> dict[str, dict[str, list[str]]]:
    calendars: dict[str, list[str]] = {"created": [], "updated": []}
    for spec in preset.calendars:
        calendar = checked(lambda spec=spec: calendar_from_json(spec["key"], spec["definition"]))  # type: ignore[misc]
        row = await db.get(BusinessCalendarRow, spec["key"])
        if row is None:
            db.add(BusinessCalendarRow(key=spec["key"], name=spec["name"], definition=calendar_to_json(calendar)))
            calendars["created"].append(spec["key"])
        elif row.definition != calendar_to_json(calendar) or row.name != spec["name"]:
            row.name, row.definition = spec["name"], calendar_to_json(calendar)
            calendars["updated"].append(spec["key"])
    categories: dict[str, list[str]] = {"created": [], "updated": []}
    for spec in preset.categories:
        probe = TicketCategory(key=spec["key"], name=spec["name"], availability=spec["availability"],
                               resolution=spec["resolution"], stage_one=spec["stage_one"], default_severity=None)
        checked(lambda probe=probe: category_of(probe))  # type: ignore[misc]
        cat = await db.get(TicketCategory, spec["key"])
        if cat is None:
            db.add(TicketCategory(key=spec["key"], name=spec["name"], availability=Availability(spec["availability"]),
                                  resolution=spec["resolution"], stage_one=spec["stage_one"], default_severity=None,
                                  position=spec["position"], active=True, titles=dict(spec["titles"])))
            categories["created"].append(spec["key"])
            continue
        wanted = (spec["name"], Availability(spec["availability"]), spec["resolution"], spec["stage_one"], True,
                  {**(cat.titles or {}), **spec["titles"]})
        current = (cat.name, cat.availability, cat.resolution, cat.stage_one,
                   cat.active, cat.titles or {})
        if current != wanted:
            cat.name, cat.availability, cat.resolution, cat.stage_one, cat.active, cat.titles = wanted
            categories["updated"].append(spec["key"])
    await db.flush()  # the policies' foreign keys need the calendars and categories
    policies: dict[str, list[str]] = {"created": [], "updated": []}
    existing = {_rule_key(r.tier, r.category, r.severity): r for r in await db.scalars(select(SlaPolicyRow))}
    columns = ("name", "calendar_key", "first_response", "next_response", "stage_one", "resolution",
               "warning_share", "day_rule", "auto_close_waiting", "auto_close_proposed")
    for spec in preset.policies:
        checked(lambda spec=spec: _check_policy_extras(spec))  # type: ignore[misc]
        key = _rule_key(spec["tier"], spec["category"], spec["severity"])
        policy = existing.get(key)
        if policy is None:
            policy = SlaPolicyRow(tier=PlanTier(spec["tier"]) if spec["tier"] else None, category=spec["category"],
                               severity=spec["severity"])
            for column in columns:
                setattr(policy, column, spec[column])
            checked(lambda policy=policy: policy_rule_of(policy))  # type: ignore[misc]
            db.add(policy)
            existing[key] = policy
            policies["created"].append(spec["name"])
        elif any(getattr(policy, column) != spec[column] for column in columns):
            for column in columns:
                setattr(policy, column, spec[column])
            checked(lambda policy=policy: policy_rule_of(policy))  # type: ignore[misc]
            policies["updated"].append(spec["name"])
    # The table as a whole (two rules for the same keys cannot arise: upserted by key).
    checked(lambda: PolicyTable(tuple(policy_rule_of(r) for r in existing.values())))
    return {"calendars": calendars, "categories": categories, "policies": policies}

"""The three source desks as presets an admin applies in one step (``POST
/api/sla/presets/{name}/apply``, ``supportchat apply-preset``): what 360, FFC and SKAI
state about calendars, categories, SLA rules and auto-close, built from
:mod:`escalation.seeds`. Pure data; :mod:`escalation.preset_apply` writes it.

Applying a preset *adds to* the desk: its calendars and categories replace those of the
same key, its SLA rules replace the rules of the same (plan, category, severity) keys, and
every other calendar, category and rule stays as it was. So SKAI's topics can join a desk
running 360's plans, and applying a preset twice changes nothing the second time.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from escalation import desk_rules
from escalation.policies import spec_to_json
from escalation.seeds import (
    ALWAYS_OPEN_KEY,
    DEFAULT_WARNING_SHARE,
    FFC_CATEGORIES,
    MOSCOW_KEY,
    RESOLUTION_360,
    SKAI_TOPICS,
    TIER_FIRST_RESPONSE,
    seed_calendar_rows,
)

WHOLE_DAYS = "whole_days"
WORKING_HOURS = "working_hours"

# SKAI's regulation is Russian: its topics carry their Russian titles beside the English
# name (ticket_categories.titles), so a Russian-speaking customer sees the regulation's words.
_SKAI_RU = {
    "server_failure": "Диагностика критических сбоев сервера",
    "stolen_vehicle": "Отслеживание угнанного транспортного средства",
    "accounts_and_access": "Учётные записи и права доступа",
    "data_update": "Обновление данных в системе",
    "system_reports": "Построение отчётов системы",
    "scheduled_reports": "Отчёты и уведомления по расписанию",
    "consultation": "Консультации по оборудованию и программному обеспечению",
    "remote_diagnostics": "Удалённая диагностика и настройка оборудования",
    "violations_check": "Проверка зафиксированных нарушений или уведомлений",
}


@dataclass(frozen=True)
class Preset:
    """One desk's set-up. Rows are in the admin tables' JSON forms (the columns' names)."""

    name: str
    calendars: tuple[dict[str, Any], ...] = ()
    categories: tuple[dict[str, Any], ...] = ()
    policies: tuple[dict[str, Any], ...] = ()
    settings: dict[str, Any] = field(default_factory=dict)  # escalation.desk_rules keys

    def summary(self) -> dict[str, Any]:
        """What applying it changes, by key: the console lists it before the confirm."""
        return {
            "calendars": [c["key"] for c in self.calendars],
            "categories": [c["key"] for c in self.categories],
            "policies": [
                {"name": p["name"], "tier": p["tier"], "category": p["category"], "severity": p["severity"],
                 "calendar": p["calendar_key"], "day_rule": p["day_rule"]}
                for p in self.policies
            ],
            "settings": dict(self.settings),
        }


def _calendar(key: str) -> dict[str, Any]:
    return next(row for row in seed_calendar_rows() if row["key"] == key)


def _policy(name: str, calendar: str, *, tier: str | None = None, category: str | None = None,
            day_rule: str = WHOLE_DAYS, auto_close_waiting: str | None = None,
            auto_close_proposed: str | None = None, **targets: dict[str, Any] | None) -> dict[str, Any]:
    row: dict[str, Any] = {
        "name": name, "tier": tier, "category": category, "severity": None, "calendar_key": calendar,
        "first_response": None, "next_response": None, "stage_one": None, "resolution": None,
        "warning_share": DEFAULT_WARNING_SHARE, "day_rule": day_rule,
        "auto_close_waiting": auto_close_waiting, "auto_close_proposed": auto_close_proposed,
    }
    row.update(targets)
    return row


def _category(position: int, key: str, name: str, availability: str, resolution: dict[str, Any] | None,
              stage_one: dict[str, Any] | None, titles: dict[str, str] | None = None) -> dict[str, Any]:
    return {"key": key, "name": name, "availability": availability, "resolution": resolution,
            "stage_one": stage_one, "position": position, "titles": titles or {}}


# 360: first response by plan (24 h / 4 h / 30 min), every issue resolved in 48 h, around
# the clock; waiting on the customer for 48 h closes the ticket.
P360 = Preset(
    name="360",
    calendars=(_calendar(ALWAYS_OPEN_KEY),),
    policies=tuple(
        _policy(f"{tier.value} plan", ALWAYS_OPEN_KEY, tier=tier.value, auto_close_waiting="48h",
                first_response=spec_to_json(first), resolution=spec_to_json(RESOLUTION_360))
        for tier, first in TIER_FIRST_RESPONSE.items()
    ),
    settings={desk_rules.AUTO_CLOSE_WAITING: "48h"},
)

# FFC: its categories with their 1-day / 3-day targets (who may choose each), measured
# around the clock; a ticket proposed to close closes after 7 days.
FFC = Preset(
    name="FFC",
    calendars=(_calendar(ALWAYS_OPEN_KEY),),
    categories=tuple(
        _category(i, c.key, c.title, c.availability.value, spec_to_json(c.resolution), spec_to_json(c.stage_one))
        for i, c in enumerate(FFC_CATEGORIES)
    ),
    settings={desk_rules.AUTO_CLOSE_PROPOSED: "7d"},
)

# SKAI: the Moscow calendar (Mon-Fri 09:30-18:00, Russian holidays); its topics as
# categories; stage one within 1 working day, resolution in 1, 2 or 5 working days counted
# as working-day hours (Fri 17:45 + 1 day -> Mon 17:45); proposed to close closes after 2
# business days, on SKAI's rules only (other tickets keep the desk's delay).
SKAI = Preset(
    name="SKAI",
    calendars=(_calendar(MOSCOW_KEY),),
    categories=tuple(
        _category(100 + i, t.key, t.title, t.availability.value, spec_to_json(t.resolution),
                  spec_to_json(t.stage_one), {"ru": _SKAI_RU[t.key]})
        for i, t in enumerate(SKAI_TOPICS)
    ),
    policies=tuple(
        _policy(f"SKAI {t.key}", MOSCOW_KEY, category=t.key, day_rule=WORKING_HOURS, auto_close_proposed="2bd",
                stage_one=spec_to_json(t.stage_one), resolution=spec_to_json(t.resolution))
        for t in SKAI_TOPICS
    ),
)

PRESETS: dict[str, Preset] = {p.name: p for p in (P360, FFC, SKAI)}

"""Seed data from the source documents' SLA tables and desk set-up: response and resolution
targets per plan (360), ticket categories (FFC) and topics (SKAI), business hours, transfer
queues (PSD).

Two forms: core objects (``FFC_CATEGORIES``, :func:`default_policy_table`, ...) for pure
tests and callers, and the rows migration 0004 writes into the admin-editable tables
(``SEED_*``). The rows describe the same desk as :func:`default_policy_table`: tier rules
carry first response and the 48 h default, categories carry their own resolution target
(see :func:`escalation.policies.effective_policy`). Migration 0004 holds a literal copy
of these rows, frozen when it was written; tests/escalation/test_seed_migration.py checks
that the two agree, so changing the seeds here needs a new migration as well.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from escalation.calendars import BusinessCalendar, always_open, moscow_business_calendar
from escalation.policies import Availability, Category, calendar_to_json, spec_to_json
from escalation.policy_table import PlanTier, PolicyRule, PolicyTable
from escalation.sla_targets import SlaPolicy, TargetSpec

# 360: "first response = first investigation carried out, not an auto-reply".
TIER_FIRST_RESPONSE: Mapping[PlanTier, TargetSpec] = {
    PlanTier.BASIC: TargetSpec.hours(24),
    PlanTier.REGULAR: TargetSpec.hours(4),
    PlanTier.PREMIUM: TargetSpec.minutes(30),
}
RESOLUTION_360 = TargetSpec.hours(48)  # 360: "all issues: 48 hours"

# FFC ticket categories. The source states "1-day"/"3-day" SLAs without hours, so they are
# kept in their own unit (business days) and follow whatever calendar the policy uses.
FFC_CATEGORIES: tuple[Category, ...] = (
    Category("data_accuracy", "Data accuracy issue", TargetSpec.business_days(3)),
    Category("technical_question", "Technical question", TargetSpec.business_days(1)),
    Category("training_request", "Training request", TargetSpec.business_days(1)),
    Category("configuration_request", "Configuration request", TargetSpec.business_days(3)),
    Category("service_request", "Service request", TargetSpec.business_days(1)),
    Category("device_error", "Device error", TargetSpec.business_days(3), Availability.STAFF),
    Category("software_error", "Software error", TargetSpec.business_days(3), Availability.STAFF),
    Category("business_request", "Business request", None, Availability.EMAIL),
    Category("audit_blockade", "Accuracy audit blockade", None, Availability.SPECIALIST),
)

# SKAI topics: stage one within 1 business day, full resolution within N business days,
# Mon-Fri 09:30-18:00 Moscow minus Russian holidays.
_SKAI_STAGE_ONE = TargetSpec.business_days(1)
SKAI_TOPICS: tuple[Category, ...] = tuple(
    Category(key, title, TargetSpec.business_days(days), Availability.CUSTOMER, _SKAI_STAGE_ONE)
    for key, title, days in (
        ("server_failure", "Critical server failure diagnostics", 1),
        ("stolen_vehicle", "Tracking a stolen vehicle", 1),
        ("accounts_and_access", "User accounts and access rights", 2),
        ("data_update", "Updating data in the system", 2),
        ("system_reports", "Building system reports", 2),
        ("scheduled_reports", "Scheduled reports and notifications", 2),
        ("consultation", "Equipment and software consultation", 5),
        ("remote_diagnostics", "Remote equipment diagnostics and setup", 5),
        ("violations_check", "Checking recorded violations or notifications", 5),
    )
)

ALWAYS_OPEN_KEY = "24x7"
MOSCOW_KEY = "moscow"


def seed_calendars() -> dict[str, BusinessCalendar]:
    """The calendars the seed policies refer to, by key."""
    return {ALWAYS_OPEN_KEY: always_open(ALWAYS_OPEN_KEY), MOSCOW_KEY: moscow_business_calendar(MOSCOW_KEY)}


def _tier_rules(categories: Iterable[Category]) -> Iterable[PolicyRule]:
    for tier, first_response in TIER_FIRST_RESPONSE.items():
        yield PolicyRule(
            SlaPolicy(f"{tier} default", ALWAYS_OPEN_KEY, first_response=first_response, resolution=RESOLUTION_360),
            tier=tier,
        )
        for category in categories:
            if category.resolution is not None:
                policy = SlaPolicy(
                    f"{tier} / {category.key}",
                    ALWAYS_OPEN_KEY,
                    first_response=first_response,
                    resolution=category.resolution,
                )
                yield PolicyRule(policy, tier=tier, category=category.key)


def default_policy_table() -> PolicyTable:
    """The 24/7 desk: first response by plan (360), resolution 48 h (360) unless the
    category has its own SLA (FFC). Sources give no next-response figure; none is set."""
    return PolicyTable(tuple(_tier_rules(FFC_CATEGORIES)))


def skai_policy_table() -> PolicyTable:
    """SKAI's two-stage targets on the Moscow calendar; unknown topics get stage one only."""
    rules = [PolicyRule(SlaPolicy("SKAI default", MOSCOW_KEY, stage_one=_SKAI_STAGE_ONE))]
    for topic in SKAI_TOPICS:
        policy = SlaPolicy(f"SKAI {topic.key}", MOSCOW_KEY, stage_one=topic.stage_one, resolution=topic.resolution)
        rules.append(PolicyRule(policy, category=topic.key))
    return PolicyTable(tuple(rules))


# -- rows for the admin-editable tables (migration 0004) -------------------------------------

DEFAULT_WARNING_SHARE = 0.8  # warn when 80 % of a target's business time is used


def seed_calendar_rows() -> list[dict[str, Any]]:
    names = {ALWAYS_OPEN_KEY: "Around the clock", MOSCOW_KEY: "Moscow office hours (SKAI)"}
    return [
        {"key": key, "name": names[key], "definition": calendar_to_json(calendar)}
        for key, calendar in seed_calendars().items()
    ]


def seed_category_rows() -> list[dict[str, Any]]:
    return [
        {
            "key": c.key,
            "name": c.title,
            "availability": c.availability.value,
            "resolution": spec_to_json(c.resolution),
            "stage_one": spec_to_json(c.stage_one),
            "default_severity": None,
            "position": i,
        }
        for i, c in enumerate(FFC_CATEGORIES)
    ]


def seed_policy_rows() -> list[dict[str, Any]]:
    return [
        {
            "name": f"{tier.value} plan",
            "tier": tier.value,
            "category": None,
            "severity": None,
            "calendar_key": ALWAYS_OPEN_KEY,
            "first_response": spec_to_json(first_response),
            "next_response": None,
            "stage_one": None,
            "resolution": spec_to_json(RESOLUTION_360),
            "warning_share": DEFAULT_WARNING_SHARE,
        }
        for tier, first_response in TIER_FIRST_RESPONSE.items()
    ]


# PSD's transfer queues, with the support line each belongs to.
SEED_GROUPS: tuple[tuple[str, str, int], ...] = (
    ("second_level", "Second level", 2),
    ("marketing", "Marketing", 2),
    ("vendor", "Vendor", 3),
    ("incidents", "Incidents", 2),
)


def seed_group_rows() -> list[dict[str, Any]]:
    return [{"key": k, "name": n, "level": lvl, "lead_id": None, "position": i} for i, (k, n, lvl) in enumerate(SEED_GROUPS)]

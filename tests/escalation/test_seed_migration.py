"""Migration 0004's literal seed rows equal what ``escalation.seeds`` produces today.

The migration keeps its own copy so that it never changes meaning; this test notices when
the two drift apart, which means a new migration is due (and this test's expectation with it).
"""

from __future__ import annotations

import enum
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import async_sessionmaker

from chat.db import create_engine
from escalation import seeds
from escalation.models import BusinessCalendarRow, SlaPolicyRow, SupportGroup, TicketCategory


def _plain(value: Any) -> Any:
    return value.value if isinstance(value, enum.Enum) else value


def _rows(objects: list[Any], columns: list[str]) -> list[dict[str, Any]]:
    return [{c: _plain(getattr(o, c)) for c in columns} for o in objects]


async def test_the_migrated_seed_rows_are_what_the_seeds_module_produces(db_url: str) -> None:
    engine = create_engine(db_url)
    try:
        async with async_sessionmaker(engine)() as db:
            calendars = list(await db.scalars(select(BusinessCalendarRow).order_by(BusinessCalendarRow.key)))
            categories = list(await db.scalars(select(TicketCategory).order_by(TicketCategory.position)))
            policies = list(await db.scalars(select(SlaPolicyRow).order_by(SlaPolicyRow.id)))
            groups = list(await db.scalars(select(SupportGroup).order_by(SupportGroup.position)))
    finally:
        await engine.dispose()

    expected_calendars = sorted(seeds.seed_calendar_rows(), key=lambda r: r["key"])
    assert _rows(calendars, ["key", "name", "definition"]) == expected_calendars
    expected_categories = [{**row, "active": True} for row in seeds.seed_category_rows()]
    assert _rows(categories, list(expected_categories[0])) == expected_categories
    expected_policies = seeds.seed_policy_rows()
    assert _rows(policies, list(expected_policies[0])) == expected_policies
    expected_groups = seeds.seed_group_rows()
    assert _rows(groups, list(expected_groups[0])) == expected_groups
    # Every seed row is there and nothing else: the lists above compare whole tables.
    assert len(calendars) == 2 and len(categories) == len(seeds.FFC_CATEGORIES) and len(groups) == len(seeds.SEED_GROUPS)

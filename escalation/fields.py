"""Checking the ticket fields people type: category, severity, assets, "when did it
happen", CC users. Each returns the clean value or raises ``ValidationFailed`` naming the
field, before anything is stored."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from chat.errors import ValidationFailed
from chat.models import STAFF_ROLES, User
from escalation.config import Desk
from escalation.policies import Availability

MAX_ASSETS = 50  # devices or vehicles named on one ticket; more is a fleet, not a ticket
MAX_ASSET_CHARS = 100
MAX_CC = 20
# A reported time a little ahead of our clock is a skewed device clock, not a prophecy.
FUTURE_SLACK = timedelta(hours=1)


def category(desk: Desk, key: str | None, *, staff: bool) -> str | None:
    """A known, active category; customers may pick only the ones marked for them."""
    if key is None:
        return None
    found = desk.categories.get(key)
    if found is None or key not in desk.active_categories:
        known = ", ".join(sorted(desk.active_categories))
        raise ValidationFailed(f"category: no such category {key!r}; known: {known}", code="unknown_category")
    if found.availability is Availability.EMAIL:
        raise ValidationFailed(f"category: {found.title!r} is handled by e-mail, not as a ticket",
                               code="category_not_allowed")
    if not staff and not found.customer_may_choose:
        raise ValidationFailed(f"category: {found.title!r} is set by support, not by customers",
                               code="category_not_allowed")
    return key


def severity(value: int | None) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= 3:
        raise ValidationFailed("severity must be 1 (critical), 2 (major) or 3 (minor)")
    return value


def default_severity(desk: Desk, category_key: str | None, given: int | None) -> int | None:
    if given is not None or category_key is None:
        return given
    found = desk.categories.get(category_key)
    return int(found.default_severity) if found is not None and found.default_severity is not None else None


def assets(values: Sequence[str]) -> list[str]:
    clean: list[str] = []
    for value in values:
        item = value.strip()
        if not item or len(item) > MAX_ASSET_CHARS:
            raise ValidationFailed(f"assets: each is 1-{MAX_ASSET_CHARS} characters, got {value!r}")
        if item not in clean:
            clean.append(item)
    if len(clean) > MAX_ASSETS:
        raise ValidationFailed(f"assets: at most {MAX_ASSETS}")
    return clean


def happened_at(value: datetime | None, now: datetime) -> datetime | None:
    if value is None:
        return None
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValidationFailed("happened_at needs a time zone, e.g. 2026-03-02T09:00:00Z")
    if value > now + FUTURE_SLACK:
        raise ValidationFailed("happened_at is in the future")
    return value


async def cc_users(db: AsyncSession, ids: Sequence[int], *, requester: User | None) -> list[int]:
    """CC: other enabled people of the requester's own organization (not staff: staff see
    every ticket anyway)."""
    clean = list(dict.fromkeys(ids))
    if not clean:
        return []
    if len(clean) > MAX_CC:
        raise ValidationFailed(f"cc: at most {MAX_CC} people")
    if requester is None or requester.organization_id is None:
        raise ValidationFailed("cc: only a ticket of an organization's customer can copy colleagues")
    found = {u.id: u for u in await db.scalars(select(User).where(User.id.in_(clean)))}
    for user_id in clean:
        user = found.get(user_id)
        if user is None or user.disabled:
            raise ValidationFailed(f"cc: no such user {user_id}")
        if user.role in STAFF_ROLES or user.organization_id != requester.organization_id:
            raise ValidationFailed(f"cc: user {user_id} is not a colleague of the requester")
        if user.id == requester.id:
            raise ValidationFailed("cc: the requester is not copied on their own ticket")
    return clean

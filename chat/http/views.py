"""JSON shapes of the directory's records, as documented in docs/http.md."""

from __future__ import annotations

from typing import Any

from msgspec import UNSET, UnsetType

from chat.models import Organization, Site, User
from chat.wire import View, iso


class UserView(View, frozen=True, kw_only=True):
    id: int
    email: str | None
    name: str
    role: str
    organization_id: int | None
    site_id: int | None
    language: str
    # False: the person never picked one; the console and portal follow the browser.
    language_chosen: bool
    time_zone: str | None
    notification_prefs: dict[str, Any]
    ui_prefs: dict[str, Any]
    disabled: bool
    created_at: str

    @classmethod
    def of(cls, user: User) -> UserView:
        return cls(
            id=user.id, email=user.email, name=user.name, role=user.role.value, organization_id=user.organization_id,
            site_id=user.site_id, language=user.language, language_chosen=bool(user.language_chosen),
            time_zone=user.time_zone, notification_prefs=user.notification_prefs, ui_prefs=user.ui_prefs or {},
            disabled=user.disabled, created_at=iso(user.created_at),
        )


class OrganizationView(View, frozen=True, kw_only=True):
    id: int
    slug: str
    name: str
    kind: str
    parent_id: int | None
    plan_tier: str
    domains: list[str]
    created_by_id: int | None
    created_at: str

    @classmethod
    def of(cls, org: Organization, domains: list[str]) -> OrganizationView:
        return cls(
            id=org.id, slug=org.slug, name=org.name, kind=org.kind.value, parent_id=org.parent_id,
            plan_tier=org.plan_tier.value, domains=domains, created_by_id=org.created_by_id,
            created_at=iso(org.created_at),
        )


class SiteView(View, frozen=True, kw_only=True):
    """A widget installation; ``identity_secret`` only for those who manage the site."""

    id: int
    public_key: str
    name: str
    organization_id: int | None
    allowed_origins: list[str]
    default_language: str
    created_at: str
    identity_secret: str | UnsetType = UNSET

    @classmethod
    def of(cls, site: Site, *, with_secret: bool) -> SiteView:
        return cls(
            id=site.id, public_key=site.public_key, name=site.name, organization_id=site.organization_id,
            allowed_origins=site.allowed_origins, default_language=site.default_language,
            created_at=iso(site.created_at), identity_secret=site.identity_secret if with_secret else UNSET,
        )

"""JSON shapes of the directory's records, as documented in docs/http.md.

Below the use cases (not in chat.http) because the audit log stores the same shapes as a
change's before and after (issue 19): what GET returns is what the audit screen diffs."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from msgspec import UNSET, UnsetType

from chat.models import Organization, Site, User
from chat.widget import stored_settings
from chat.wire import View, as_data, iso


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
    # Only in the people list (GET /api/users): the newest sign-in of their own (a support
    # session acting as them is not theirs), null for never.
    last_sign_in_at: str | UnsetType | None = UNSET

    @classmethod
    def of(cls, user: User, *, last_sign_in_at: datetime | UnsetType | None = UNSET) -> UserView:
        return cls(
            id=user.id, email=user.email, name=user.name, role=user.role.value, organization_id=user.organization_id,
            site_id=user.site_id, language=user.language, language_chosen=bool(user.language_chosen),
            time_zone=user.time_zone, notification_prefs=user.notification_prefs, ui_prefs=user.ui_prefs or {},
            disabled=user.disabled, created_at=iso(user.created_at),
            last_sign_in_at=last_sign_in_at if isinstance(last_sign_in_at, UnsetType) else iso(last_sign_in_at),
        )


class OrganizationView(View, frozen=True, kw_only=True):
    id: int
    slug: str
    name: str
    kind: str
    parent_id: int | None
    plan_tier: str
    domains: list[str]
    # The company's own auto-close delays (escalation.autoclose.Delay's form, "2bd");
    # null: the policy's, else the desk's.
    auto_close_waiting: str | None
    auto_close_proposed: str | None
    created_by_id: int | None
    created_at: str

    @classmethod
    def of(cls, org: Organization, domains: list[str]) -> OrganizationView:
        return cls(
            id=org.id, slug=org.slug, name=org.name, kind=org.kind.value, parent_id=org.parent_id,
            plan_tier=org.plan_tier.value, domains=domains, auto_close_waiting=org.auto_close_waiting,
            auto_close_proposed=org.auto_close_proposed, created_by_id=org.created_by_id,
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
    # After a rotation: until when the secret before it still vouches for visitors
    # (null: no older secret works). The secrets themselves are never in it.
    previous_secret_until: str | None = None
    identity_secret: str | UnsetType = UNSET

    @classmethod
    def of(cls, site: Site, *, with_secret: bool) -> SiteView:
        return cls(
            id=site.id, public_key=site.public_key, name=site.name, organization_id=site.organization_id,
            allowed_origins=site.allowed_origins, default_language=site.default_language,
            created_at=iso(site.created_at), previous_secret_until=iso(site.previous_secret_until),
            identity_secret=site.identity_secret if with_secret else UNSET,
        )


def audit_user(user: User) -> dict[str, Any]:
    return as_data(UserView.of(user))


def audit_organization(org: Organization, domains: list[str]) -> dict[str, Any]:
    return as_data(OrganizationView.of(org, domains))


def audit_site(site: Site) -> dict[str, Any]:
    """The site without its secret (the audit log is read by read-only staff too); the
    widget settings beside it, so one row shows a change of either."""
    return {**as_data(SiteView.of(site, with_secret=False)), "widget": stored_settings(site.settings, site.id).stored()}

"""JSON shapes of the directory's records, as documented in docs/http.md."""

from __future__ import annotations

from typing import Any

from chat.models import Organization, Site, User


def user_json(user: User) -> dict[str, Any]:
    return {
        "id": user.id,
        "email": user.email,
        "name": user.name,
        "role": user.role.value,
        "organization_id": user.organization_id,
        "site_id": user.site_id,
        "language": user.language,
        "notification_prefs": user.notification_prefs,
        "disabled": user.disabled,
        "created_at": user.created_at.isoformat(),
    }


def organization_json(org: Organization, domains: list[str]) -> dict[str, Any]:
    return {
        "id": org.id,
        "slug": org.slug,
        "name": org.name,
        "kind": org.kind.value,
        "parent_id": org.parent_id,
        "plan_tier": org.plan_tier.value,
        "domains": domains,
        "created_by_id": org.created_by_id,
        "created_at": org.created_at.isoformat(),
    }


def site_json(site: Site, *, with_secret: bool) -> dict[str, Any]:
    body: dict[str, Any] = {
        "id": site.id,
        "public_key": site.public_key,
        "name": site.name,
        "organization_id": site.organization_id,
        "allowed_origins": site.allowed_origins,
        "default_language": site.default_language,
        "created_at": site.created_at.isoformat(),
    }
    if with_secret:
        body["identity_secret"] = site.identity_secret
    return body

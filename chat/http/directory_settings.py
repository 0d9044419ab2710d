"""The console's settings screens for sites, people and companies over HTTP (issue 19):
``PATCH /api/sites/{id}``, ``POST /api/sites/{id}/rotate-secret``, ``GET /api/users``,
``PATCH /api/users/{id}``, ``POST /api/users/{id}/reset-password``,
``PATCH /api/organizations/{id}``. The use cases in :mod:`chat.directory_admin`
authorize and audit; these handlers only translate (docs/http.md)."""

from __future__ import annotations

from msgspec import UNSET, UnsetType
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from chat import directory_admin
from chat.errors import ValidationFailed
from chat.http.common import JSON, Strict, current, int_query, path_id, read_json, services
from chat.http.views import OrganizationView, SiteView, UserView
from chat.models import Role
from chat.validation import MAX_ID, Id
from escalation.policy_table import PlanTier


class SitePatch(Strict):
    name: str | UnsetType = UNSET
    allowed_origins: list[str] | UnsetType = UNSET
    default_language: str | UnsetType = UNSET
    organization: Id | str | UnsetType | None = UNSET


async def patch_site(request: Request) -> Response:
    principal, _ = await current(request)
    body = await read_json(request, SitePatch)
    site = await directory_admin.update_site(
        services(request), principal, path_id(request, "site_id"), name=body.name,
        allowed_origins=body.allowed_origins, default_language=body.default_language, organization=body.organization,
    )
    return JSON({"site": SiteView.of(site, with_secret=False)})


class RotateBody(Strict):
    grace_hours: int = directory_admin.GRACE_HOURS_DEFAULT


async def rotate_secret(request: Request) -> Response:
    """The new secret is in this answer only (with the site); the console shows it once."""
    principal, _ = await current(request)
    body = await read_json(request, RotateBody)
    site = await directory_admin.rotate_site_secret(
        services(request), principal, path_id(request, "site_id"), grace_hours=body.grace_hours
    )
    return JSON({"site": SiteView.of(site, with_secret=True), "identity_secret": site.identity_secret})


def _flag(request: Request, name: str) -> bool | None:
    raw = request.query_params.get(name)
    if raw in (None, ""):
        return None
    if raw not in ("true", "false"):
        raise ValidationFailed(f"{name} must be true or false", field=name)
    return raw == "true"


async def list_users(request: Request) -> Response:
    """``GET /api/users?role=&organization=&disabled=&q=&after=&limit=``."""
    principal, _ = await current(request)
    raw_role = request.query_params.get("role") or None
    try:
        role = Role(raw_role) if raw_role is not None else None
    except ValueError:
        raise ValidationFailed(f"role must be one of {', '.join(r.value for r in Role)}", field="role") from None
    wanted = directory_admin.PeopleFilter(
        role=role,
        organization_id=int_query(request, "organization", 1, MAX_ID),
        disabled=_flag(request, "disabled"),
        text=request.query_params.get("q") or None,
        after_id=int_query(request, "after", 1, MAX_ID),
        limit=int_query(request, "limit", 1, directory_admin.PAGE_MAX) or directory_admin.PAGE_DEFAULT,
    )
    page = await directory_admin.list_people(services(request), principal, wanted)
    return JSON({
        "users": [UserView.of(p.user, last_sign_in_at=p.last_sign_in_at) for p in page.people],
        "next_after": page.next_after_id,
    })


class UserPatch(Strict):
    role: Role | UnsetType = UNSET
    organization: Id | str | UnsetType | None = UNSET
    name: str | UnsetType = UNSET
    language: str | UnsetType = UNSET


async def patch_user(request: Request) -> Response:
    principal, _ = await current(request)
    body = await read_json(request, UserPatch)
    user = await directory_admin.update_user(
        services(request), principal, path_id(request, "user_id"), role=body.role, organization=body.organization,
        name=body.name, language=body.language,
    )
    return JSON({"user": UserView.of(user)})


async def reset_password(request: Request) -> Response:
    """Mails the person a reset link; no password is ever in an answer."""
    principal, _ = await current(request)
    queued = await directory_admin.send_password_reset(services(request), principal, path_id(request, "user_id"))
    return JSON({"queued": queued})


class OrganizationPatch(Strict):
    name: str | UnsetType = UNSET
    plan_tier: PlanTier | UnsetType = UNSET
    domains: list[str] | UnsetType = UNSET
    auto_close_waiting: str | UnsetType | None = UNSET
    auto_close_proposed: str | UnsetType | None = UNSET


async def patch_organization(request: Request) -> Response:
    principal, _ = await current(request)
    body = await read_json(request, OrganizationPatch)
    changed = await directory_admin.update_organization(
        services(request), principal, path_id(request, "organization_id"), name=body.name, plan_tier=body.plan_tier,
        domains=body.domains, auto_close_waiting=body.auto_close_waiting, auto_close_proposed=body.auto_close_proposed,
    )
    return JSON({"organization": OrganizationView.of(changed.organization, changed.domains)})


ROUTES: list[BaseRoute] = [
    Route("/api/sites/{site_id}", patch_site, methods=["PATCH"]),
    Route("/api/sites/{site_id}/rotate-secret", rotate_secret, methods=["POST"]),
    Route("/api/users", list_users, methods=["GET"]),
    Route("/api/users/{user_id}", patch_user, methods=["PATCH"]),
    Route("/api/users/{user_id}/reset-password", reset_password, methods=["POST"]),
    Route("/api/organizations/{organization_id}", patch_organization, methods=["PATCH"]),
]

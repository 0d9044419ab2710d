"""Directory administration over HTTP: organizations, users, sites.

The use cases in :mod:`chat.directory` authorize; these handlers only translate.
"""

from __future__ import annotations

import msgspec
from starlette.requests import Request
from starlette.responses import Response

from chat import directory
from chat.authz import Action, can
from chat.errors import ValidationFailed
from chat.http.common import JSON, Strict, current, path_id, read_json, services
from chat.http.views import OrganizationView, SiteView, UserView
from chat.mail import accounts
from chat.models import OrgKind, Role
from chat.validation import Id
from escalation.policy_table import PlanTier


class OrganizationBody(Strict):
    name: str
    kind: OrgKind
    plan_tier: PlanTier = PlanTier.BASIC
    domains: list[str] = msgspec.field(default_factory=list)
    parent: Id | str | None = None
    slug: str | None = None


async def create_organization(request: Request) -> Response:
    principal, _ = await current(request)
    body = await read_json(request, OrganizationBody)
    created = await directory.create_organization(
        services(request),
        principal,
        name=body.name,
        kind=body.kind,
        plan_tier=body.plan_tier,
        domains=body.domains,
        parent=body.parent,
        slug=body.slug,
    )
    return JSON({"organization": OrganizationView.of(created.organization, created.domains)}, status_code=201)


async def list_organizations(request: Request) -> Response:
    principal, _ = await current(request)
    visible = await directory.list_organizations(services(request), principal)
    return JSON({"organizations": [OrganizationView.of(v.organization, v.domains) for v in visible]})


class UserBody(Strict):
    email: str
    role: Role
    organization: Id | str | None = None
    password: str | None = None
    name: str = ""
    language: str | None = None
    """Given: the person's language, chosen for them (the console and portal use it). Absent:
    English for mail until they pick one; their screens follow their browser meanwhile."""
    invite: bool = False
    """Create the user without a password and mail them an invitation to set one."""


async def create_user(request: Request) -> Response:
    principal, _ = await current(request)
    body = await read_json(request, UserBody)
    if body.invite:
        if body.password is not None:
            # An invited person chooses their own password; a second one set here would
            # make the invitation link dead on arrival.
            raise ValidationFailed("password: an invited user sets their own password; leave it out")
        invited = await accounts.invite_user(
            services(request),
            principal,
            email=body.email,
            role=body.role,
            organization=body.organization,
            name=body.name,
            language=body.language or "en",
            language_chosen=body.language is not None,
        )
        return JSON({"user": UserView.of(invited.user), "invitation_queued": invited.queued}, status_code=201)
    user = await directory.create_user(
        services(request),
        principal,
        email=body.email,
        role=body.role,
        organization=body.organization,
        password=body.password,
        name=body.name,
        language=body.language or "en",
        language_chosen=body.language is not None,
    )
    return JSON({"user": UserView.of(user)}, status_code=201)


async def get_user(request: Request) -> Response:
    principal, _ = await current(request)
    user = await directory.get_user(services(request), principal, path_id(request, "user_id"))
    return JSON({"user": UserView.of(user)})


async def disable_user(request: Request) -> Response:
    principal, _ = await current(request)
    user = await directory.set_user_disabled(services(request), principal, path_id(request, "user_id"), disabled=True)
    return JSON({"user": UserView.of(user)})


async def enable_user(request: Request) -> Response:
    principal, _ = await current(request)
    user = await directory.set_user_disabled(services(request), principal, path_id(request, "user_id"), disabled=False)
    return JSON({"user": UserView.of(user)})


class SiteBody(Strict):
    name: str
    allowed_origins: list[str]
    organization: Id | str | None = None
    default_language: str = "en"


async def create_site(request: Request) -> Response:
    principal, _ = await current(request)
    body = await read_json(request, SiteBody)
    created = await directory.create_site(
        services(request),
        principal,
        name=body.name,
        allowed_origins=body.allowed_origins,
        organization=body.organization,
        default_language=body.default_language,
    )
    return JSON({"site": SiteView.of(created.site, with_secret=True), "snippet": created.snippet}, status_code=201)


async def list_sites(request: Request) -> Response:
    principal, _ = await current(request)
    sites = await directory.list_sites(services(request), principal)
    manager = can(principal, Action.MANAGE_SITES)
    return JSON({
        "sites": [SiteView.of(s, with_secret=manager) for s in sites],
        # The embed snippet of each, for the console's copy button.
        "snippets": {str(s.id): directory.embed_snippet(services(request).settings.public_url, s) for s in sites},
    })

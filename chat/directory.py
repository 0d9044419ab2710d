"""Use cases for the directory: organizations, users and widget sites.

Each public function is one use case in one transaction, authorizes through
:mod:`chat.authz` (``actor=None`` means the operator at the command line, who may do
anything), and publishes only after the commit.
"""

from __future__ import annotations

import ipaddress
import re
import secrets
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypeVar
from urllib.parse import urlsplit

from msgspec import UNSET, UnsetType
from sqlalchemy import ColumnElement, Select, false, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from chat import audit, validation
from chat import ui_prefs as ui_prefs_rules
from chat.authz import Action, OrgRef, Principal, UserRef, can, require
from chat.directory_views import audit_site, audit_user
from chat.errors import Conflict, Forbidden, ImpersonationActive, NotFound, Unauthenticated, ValidationFailed
from chat.events import user_channel as user_channel  # re-exported: chat.groups and the hub import it from here
from chat.mail import preferences
from chat.models import STAFF_ROLES, AuthSession, Organization, OrganizationDomain, OrgKind, Role, Site, User
from chat.passwords import hash_new_password, verify_password
from chat.services import Services
from escalation.policy_table import PlanTier

_T = TypeVar("_T")


async def find_organization(db: AsyncSession, ref: int | str) -> Organization:
    """An organization by id or slug."""
    number = ref if isinstance(ref, int) else validation.ascii_int(ref)
    if number is not None:
        # Out of the storage's range: no such row (the driver would raise, not answer None).
        org = await db.get(Organization, number) if 1 <= number <= validation.MAX_ID else None
    else:
        org = await db.scalar(select(Organization).where(Organization.slug == str(ref).strip().lower()))
    if org is None:
        raise NotFound(f"no organization {ref!r}", code="organization_not_found")
    return org


async def domains_by_organization(db: AsyncSession, org_ids: Sequence[int]) -> dict[int, list[str]]:
    """Each organization's e-mail domains, sorted, in one query."""
    found: dict[int, list[str]] = {org_id: [] for org_id in org_ids}
    rows = await db.execute(
        select(OrganizationDomain.organization_id, OrganizationDomain.domain)
        .where(OrganizationDomain.organization_id.in_(list(org_ids)))
        .order_by(OrganizationDomain.domain)
    )
    for org_id, domain_name in rows:
        found[org_id].append(domain_name)
    return found


async def organization_domains(db: AsyncSession, org_id: int) -> list[str]:
    return (await domains_by_organization(db, [org_id]))[org_id]


async def _unique_slug(db: AsyncSession, wanted: str) -> str:
    candidate, n = wanted, 1
    while await db.scalar(select(Organization.id).where(Organization.slug == candidate)) is not None:
        n += 1
        suffix = f"-{n}"
        candidate = wanted[: 64 - len(suffix)] + suffix
    return candidate


@dataclass(frozen=True)
class OrganizationView:
    """An organization with its e-mail domains (sorted), as the API shows it."""

    organization: Organization
    domains: list[str]


async def create_organization(
    svc: Services,
    actor: Principal | None,
    *,
    name: str,
    kind: OrgKind,
    plan_tier: PlanTier = PlanTier.BASIC,
    domains: Sequence[str] = (),
    parent: int | str | None = None,
    slug: str | None = None,
) -> OrganizationView:
    """Create an organization with its e-mail domains; returns it with the domains as stored."""
    name = validation.text(name, "name", max_length=200)
    clean_domains = sorted({validation.domain(d, "domains") for d in domains})
    async with svc.sessions.begin() as db:
        parent_org = await visible_organization(db, actor, parent) if parent is not None else None
        if kind is OrgKind.RESELLER and parent_org is not None:
            raise ValidationFailed("a reseller has no parent organization")
        if parent_org is not None and parent_org.kind is not OrgKind.RESELLER:
            raise ValidationFailed(f"the parent {parent_org.slug!r} is not a reseller")
        if actor is not None:
            require(actor, Action.MANAGE_ORGANIZATION, OrgRef(None, kind, parent_org.id if parent_org else None))
        if clean_domains:
            taken = list(await db.scalars(select(OrganizationDomain.domain).where(OrganizationDomain.domain.in_(clean_domains))))
            if taken:
                raise Conflict(f"domain already belongs to another organization: {', '.join(taken)}", code="domain_taken")
        if slug is not None:
            final_slug = validation.slug(slug)
            if await db.scalar(select(Organization.id).where(Organization.slug == final_slug)) is not None:
                raise Conflict(f"slug {final_slug!r} is taken", code="slug_taken")
        else:
            final_slug = await _unique_slug(db, validation.slugify(name))
        org = Organization(
            slug=final_slug,
            name=name,
            kind=kind,
            parent_id=parent_org.id if parent_org else None,
            plan_tier=plan_tier,
            created_by_id=actor.user_id if actor else None,
            created_at=svc.clock.now(),
        )
        db.add(org)
        await db.flush()
        db.add_all(OrganizationDomain(domain=d, organization_id=org.id) for d in clean_domains)
        try:
            await db.flush()
        except IntegrityError:
            raise Conflict("the organization's slug or a domain was taken meanwhile", code="conflict") from None
        stored_domains = await organization_domains(db, org.id)
    return OrganizationView(org, stored_domains)


def _visible_organizations(actor: Principal) -> ColumnElement[bool] | None:
    """The SQL side of ``Action.VIEW_ORGANIZATION`` (chat.authz ``_view_org``): staff see
    every organization (``None``: no condition), a reseller admin its own and its customers,
    anyone else their own. It only narrows what is loaded; :func:`list_organizations` still
    asks ``can`` about each row, so chat.authz stays the one place that decides."""
    if actor.is_staff:
        return None
    if actor.organization_id is None:
        return false()
    if actor.role is Role.RESELLER_ADMIN:
        return or_(Organization.id == actor.organization_id, Organization.parent_id == actor.organization_id)
    return Organization.id == actor.organization_id


def visible_organizations_query(actor: Principal) -> Select[Organization]:
    """The organizations ``actor`` may see, by id: filtered in SQL, so a reseller's or a
    customer's list does not load every other company's row."""
    query = select(Organization).order_by(Organization.id)
    condition = _visible_organizations(actor)
    return query if condition is None else query.where(condition)


async def list_organizations(svc: Services, actor: Principal) -> list[OrganizationView]:
    """The organizations ``actor`` may see, by id, each with its domains."""
    async with svc.sessions() as db:
        orgs = await db.scalars(visible_organizations_query(actor))
        visible = [o for o in orgs if can(actor, Action.VIEW_ORGANIZATION, OrgRef(o.id, o.kind, o.parent_id))]
        domains = await domains_by_organization(db, [o.id for o in visible])
    return [OrganizationView(o, domains[o.id]) for o in visible]


async def own_organization(svc: Services, actor: Principal) -> OrganizationView | None:
    """The actor's own organization with its domains (their profile); ``None`` for staff
    and anyone else outside one."""
    require(actor, Action.READ_PROFILE)
    if actor.organization_id is None:
        return None
    async with svc.sessions() as db:
        org = await db.get(Organization, actor.organization_id)
        if org is None:
            return None
        return OrganizationView(org, await organization_domains(db, org.id))


async def user_ref(db: AsyncSession, user: User) -> UserRef:
    parent_id = None
    if user.organization_id is not None:
        parent_id = await db.scalar(select(Organization.parent_id).where(Organization.id == user.organization_id))
    return UserRef(user.id, user.role, user.organization_id, parent_id)


async def find_user(db: AsyncSession, ref: int | str) -> User:
    """A user by id or e-mail."""
    number = ref if isinstance(ref, int) else validation.ascii_int(ref)
    if number is not None:
        user = await db.get(User, number) if 1 <= number <= validation.MAX_ID else None
    else:
        user = await db.scalar(select(User).where(User.email == str(ref).strip().lower()))
    if user is None:
        raise NotFound(f"no user {ref!r}", code="user_not_found")
    return user


# Who may administer people at all (create, disable, invite): checked before any lookup,
# so that the refusal of everyone else says nothing about the id they asked for.
USER_ADMINS = frozenset({Role.SUPPORT_ADMIN, Role.RESELLER_ADMIN})


def require_user_admin(actor: Principal | None) -> None:
    """403 before any lookup for a caller who may administer nobody (Action.CREATE_USER /
    DISABLE_USER allow only support and reseller admins)."""
    if actor is not None and actor.role not in USER_ADMINS:
        raise Forbidden("only support admins and reseller admins administer users")


async def visible_user(db: AsyncSession, actor: Principal | None, ref: int | str) -> User:
    """A user by id or e-mail as ``actor`` may know of them: one that does not exist and
    one ``actor`` may not see (Action.VIEW_USER) get the same 404 ``user_not_found`` — a
    403 for the second would tell a stranger which ids and addresses exist."""
    try:
        user = await find_user(db, ref)
    except NotFound:
        user = None
    if user is None or (actor is not None and not can(actor, Action.VIEW_USER, await user_ref(db, user))):
        raise NotFound(f"no user {ref!r}", code="user_not_found")
    return user


async def visible_organization(db: AsyncSession, actor: Principal | None, ref: int | str) -> Organization:
    """An organization by id or slug as ``actor`` may know of it (Action.VIEW_ORGANIZATION);
    otherwise the same 404 ``organization_not_found`` as for one that does not exist."""
    try:
        org = await find_organization(db, ref)
    except NotFound:
        org = None
    if org is None or (actor is not None and not can(actor, Action.VIEW_ORGANIZATION, OrgRef(org.id, org.kind, org.parent_id))):
        raise NotFound(f"no organization {ref!r}", code="organization_not_found")
    return org


async def get_user(svc: Services, actor: Principal, user_id: int) -> User:
    """One user, if ``actor`` may see them (404 alike when not, and when there is none)."""
    async with svc.sessions() as db:
        return await visible_user(db, actor, user_id)


@dataclass(frozen=True)
class NewUserFields:
    """What a new user's own fields are once checked (no I/O)."""

    email: str
    name: str
    language: str


def check_new_user(*, email: str, role: Role, name: str, language: str) -> NewUserFields:
    """The checks of a new user's own fields that need no database (422
    ``validation_failed``); idempotent, so checking cleaned fields again changes nothing."""
    clean = NewUserFields(
        email=validation.email(email),
        name=validation.text(name, "name", max_length=200, required=False),
        language=validation.language(language),
    )
    if role is Role.VISITOR:
        raise ValidationFailed("visitors are created by the widget, not by hand")
    return clean


def check_membership(role: Role, org: Organization | None) -> None:
    """Who may belong where (422, ``field`` naming the input to change): staff to no
    organization, a reseller admin to a reseller, a customer user to a customer company or
    none. The same rule for a new user and a changed one (chat.directory_admin)."""
    if role in STAFF_ROLES and org is not None:
        raise ValidationFailed(f"{role.value} is platform staff and belongs to no organization", field="organization")
    if role is Role.RESELLER_ADMIN and (org is None or org.kind is not OrgKind.RESELLER):
        raise ValidationFailed("a reseller_admin needs --org naming a reseller organization", field="organization")
    if role is Role.CUSTOMER and org is not None and org.kind is not OrgKind.CUSTOMER:
        raise ValidationFailed(
            f"a customer belongs to a customer organization, not to reseller {org.slug!r}", field="organization"
        )


async def audited(
    db: AsyncSession,
    actor: Principal | None,
    *,
    at: datetime,
    action: str,
    target_kind: str,
    target_id: int | str,
    before: dict[str, Any] | None = None,
    after: dict[str, Any] | None = None,
) -> None:
    """Record a change made through the product in the audit log
    (:func:`chat.audit.record_change`), in the caller's transaction. The operator's command
    line (``actor`` None) is not recorded for the directory: there is no person to name,
    and whoever runs it holds the database itself (test seeds create people that way)."""
    if actor is None:
        return
    await audit.record_change(db, actor, at=at, action=action, target_kind=target_kind, target_id=target_id,
                              before=before, after=after)


async def add_user(
    db: AsyncSession,
    svc: Services,
    actor: Principal | None,
    *,
    email: str,
    role: Role,
    organization: int | str | None,
    password_hash: str | None,
    name: str,
    language: str,
    language_chosen: bool = False,
    audit_action: str = "config.user.create",
) -> User:
    """Add a login inside the caller's transaction (flushed, so it has its id), with every
    rule and error of :func:`create_user`. A caller that must do more in the same
    transaction (an invitation mail: :func:`chat.mail.accounts.invite_user`) uses this, so
    the user and what follows from it commit together or not at all. The password, if any,
    comes hashed: hashing inside the transaction would hold SQLite's write lock ~50 ms.
    ``language_chosen``: whoever adds the person picked their language (the console and
    portal then use it rather than the browser's)."""
    clean = check_new_user(email=email, role=role, name=name, language=language)
    require_user_admin(actor)
    org = await visible_organization(db, actor, organization) if organization is not None else None
    check_membership(role, org)
    if actor is not None:
        require(
            actor,
            Action.CREATE_USER,
            UserRef(None, role, org.id if org else None, org.parent_id if org else None),
        )
    if await db.scalar(select(User.id).where(User.email == clean.email)) is not None:
        raise Conflict(f"a user with e-mail {clean.email} already exists", code="email_taken")
    user = User(
        email=clean.email,
        name=clean.name,
        role=role,
        organization_id=org.id if org else None,
        password_hash=password_hash,
        language=clean.language,
        language_chosen=language_chosen,
        notification_prefs={},
        disabled=False,
        created_by_id=actor.user_id if actor else None,
        created_at=svc.clock.now(),
    )
    db.add(user)
    try:
        await db.flush()
    except IntegrityError:
        # The same address added at once by another request: its transaction won.
        raise Conflict(f"a user with e-mail {clean.email} already exists", code="email_taken") from None
    await audited(db, actor, at=user.created_at, action=audit_action, target_kind="user", target_id=user.id,
                  after=audit_user(user))
    return user


async def create_user(
    svc: Services,
    actor: Principal | None,
    *,
    email: str,
    role: Role,
    organization: int | str | None = None,
    password: str | None = None,
    name: str = "",
    language: str = "en",
    language_chosen: bool = False,
) -> User:
    """Create a login. ``password=None`` leaves the account without one (it cannot sign in
    until a password is set)."""
    # Checked before the hash, so a bad address costs no Argon2 round.
    clean = check_new_user(email=email, role=role, name=name, language=language)
    password_hash = (
        await hash_new_password(password, [clean.email, clean.name]) if password is not None else None
    )
    async with svc.sessions.begin() as db:
        return await add_user(
            db, svc, actor, email=clean.email, role=role, organization=organization, password_hash=password_hash,
            name=clean.name, language=clean.language, language_chosen=language_chosen,
        )


async def set_user_disabled(svc: Services, actor: Principal | None, user: int | str, *, disabled: bool) -> User:
    """Disable (or re-enable) a user. Disabling revokes every session at once and tells
    every process, so open sockets are closed too."""
    now = svc.clock.now()
    require_user_admin(actor)
    async with svc.sessions.begin() as db:
        target = await visible_user(db, actor, user)
        if actor is not None:
            require(actor, Action.DISABLE_USER, await user_ref(db, target))
        before = audit_user(target)
        target.disabled = disabled
        target.disabled_at = now if disabled else None
        await audited(db, actor, at=now, action="config.user.disable" if disabled else "config.user.enable",
                      target_kind="user", target_id=target.id, before=before, after=audit_user(target))
        if disabled:
            await db.execute(
                update(AuthSession)
                .where(AuthSession.user_id == target.id, AuthSession.revoked_at.is_(None))
                .values(revoked_at=now)
            )
    if disabled:
        await svc.publish(user_channel(target.id), {"type": "user.disabled", "user_id": target.id})
    return target


async def set_password(svc: Services, user: int | str, password: str) -> None:
    """Operator use case (CLI): set or reset a password. Every session of the user ends
    (their open sockets close): whoever knew the old password is signed out."""
    async with svc.reads() as db:
        found = await find_user(db, user)
    if found.role is Role.VISITOR:
        raise ValidationFailed("visitors have no password")
    # Argon2 outside the transaction: on SQLite it would hold the one write lock ~50 ms.
    password_hash = await hash_new_password(password, [found.email, found.name])
    now = svc.clock.now()
    async with svc.sessions.begin() as db:
        target = await find_user(db, found.id)
        target.password_hash = password_hash
        revoked = await revoke_sessions(db, target.id, now)
    await publish_revoked(svc, target.id, revoked)


async def change_password(svc: Services, actor: Principal, current_password: str, new_password: str) -> None:
    """The caller changes its own password (``POST /api/me/password``): the current one
    must match (403 ``wrong_password``), the new one meet the policy (422). Every other
    session of the caller ends and its sockets close; the session making the change stays."""
    require(actor, Action.UPDATE_PROFILE)
    if actor.session_id is None:
        raise Unauthenticated("only a signed-in session has a password to change", code="not_a_session")
    if actor.impersonated:
        # Support diagnoses with the user's rights; it never takes over their credentials.
        raise ImpersonationActive("a support session cannot change the user's password")
    async with svc.reads() as db:
        found = await find_user(db, actor.user_id)
    if not await verify_password(found.password_hash, current_password):
        raise Forbidden("the current password is wrong", code="wrong_password")
    password_hash = await hash_new_password(new_password, [found.email, found.name])
    now = svc.clock.now()
    async with svc.sessions.begin() as db:
        target = await find_user(db, actor.user_id)
        if target.password_hash != found.password_hash:
            # Changed meanwhile by another session: the password checked is no longer the one.
            raise Conflict("the password was changed meanwhile; sign in again", code="password_changed")
        target.password_hash = password_hash
        revoked = await revoke_sessions(db, target.id, now, keep=actor.session_id)
    await publish_revoked(svc, target.id, revoked)


async def revoke_sessions(db: AsyncSession, user_id: int, now: datetime, *, keep: str | None = None) -> list[str]:
    """End the user's live sessions (but ``keep``) in the caller's transaction; the ids
    ended, for :func:`publish_revoked` after the commit."""
    query = select(AuthSession.id).where(AuthSession.user_id == user_id, AuthSession.revoked_at.is_(None))
    if keep is not None:
        query = query.where(AuthSession.id != keep)
    ids = list(await db.scalars(query))
    if ids:
        await db.execute(update(AuthSession).where(AuthSession.id.in_(ids)).values(revoked_at=now))
    return ids


async def publish_revoked(svc: Services, user_id: int, session_ids: Sequence[str]) -> None:
    # After the commit: every process's hub closes that session's sockets (Hub._cut).
    for session_id in session_ids:
        await svc.publish(user_channel(user_id), {"type": "session.revoked", "user_id": user_id, "session_id": session_id})


@dataclass(frozen=True)
class NewSite:
    site: Site
    snippet: str


def require_site_reader(actor: Principal) -> None:
    """Who reads the sites and their widget settings: who manages them
    (``Action.MANAGE_SITES``), and read-only staff acting as themselves (the console's
    settings screens, with their controls disabled; never a secret)."""
    if actor.role is not Role.READ_ONLY or actor.impersonated:
        require(actor, Action.MANAGE_SITES)


async def list_sites(svc: Services, actor: Principal) -> list[Site]:
    """Every widget site, by id: for support admins (the handler adds the identity
    secrets for them only, ``Action.MANAGE_SITES``) and read-only staff, who see the
    console's settings screens with their controls disabled."""
    require_site_reader(actor)
    async with svc.sessions() as db:
        return list(await db.scalars(select(Site).order_by(Site.id)))


def checked(rule: Callable[..., _T], value: Any, field: str, **options: Any) -> _T:
    """``rule(value, field, **options)`` (a :mod:`chat.validation` check) whose refusal
    names ``field``, so a settings form marks that input."""
    try:
        return rule(value, field, **options)
    except ValidationFailed as exc:
        raise ValidationFailed(exc.message, field=field) from None


# A host as browsers send it in Origin: DNS labels or an IP. No wildcard: the frame's
# check (chat.http.widget_routes.frame) compares origins exactly, so "*.shop.example"
# would be stored and never match.
_ORIGIN_HOST = re.compile(r"^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)*$")


def _plain_host(host: str) -> bool:
    if ":" in host:  # IPv6, unbracketed by urlsplit
        try:
            ipaddress.IPv6Address(host)
        except ValueError:
            return False
        return True
    return _ORIGIN_HOST.match(host) is not None


def clean_origins(values: Sequence[str]) -> list[str]:
    """A site's allowed origins, normalized, sorted, without repeats. The first that is
    not an origin (scheme and host, an optional port; no path, query or wildcard) is
    refused with ``field`` ``allowed_origins.<its index>``; none at all with
    ``allowed_origins``."""
    origins: set[str] = set()
    for index, value in enumerate(values):
        where = f"allowed_origins.{index}"
        clean = checked(validation.origin, value, where)
        if not _plain_host(urlsplit(clean).hostname or ""):
            raise ValidationFailed(f"{where}: {value!r} is not an origin like https://shop.example.com", field=where)
        origins.add(clean)
    if not origins:
        raise ValidationFailed("allowed_origins: give at least one origin the widget may be embedded on",
                               field="allowed_origins")
    return sorted(origins)


def embed_snippet(public_url: str, site: Site) -> str:
    return f'<script src="{public_url}/widget/loader.js" data-site="{site.public_key}" async></script>'


async def create_site(
    svc: Services,
    actor: Principal | None,
    *,
    name: str,
    allowed_origins: Sequence[str],
    organization: int | str | None = None,
    default_language: str = "en",
) -> NewSite:
    clean_name = checked(validation.text, name, "name", max_length=200)
    origins = clean_origins(allowed_origins)
    clean_language = checked(validation.language, default_language, "default_language")
    if actor is not None:
        require(actor, Action.MANAGE_SITES)
    async with svc.sessions.begin() as db:
        org = await find_organization(db, organization) if organization is not None else None
        site = Site(
            public_key="st_" + secrets.token_urlsafe(18),
            name=clean_name,
            organization_id=org.id if org else None,
            allowed_origins=origins,
            identity_secret=secrets.token_urlsafe(32),
            default_language=clean_language,
            settings={},
            created_at=svc.clock.now(),
        )
        db.add(site)
        await db.flush()
        await audited(db, actor, at=site.created_at, action="config.site.create", target_kind="site",
                      target_id=site.id, after=audit_site(site))
    return NewSite(site, embed_snippet(svc.settings.public_url, site))


async def update_profile(
    svc: Services,
    actor: Principal,
    *,
    name: str | None = None,
    language: str | UnsetType | None = UNSET,
    notification_prefs: dict[str, bool] | None = None,
    time_zone: str | UnsetType | None = UNSET,
    ui_prefs: dict[str, Any] | None = None,
) -> User:
    """Change the caller's own name, language, mail switches (FFC/SKAI/BX: "My profile"),
    time zone and console/portal switches (:mod:`chat.ui_prefs`); ``None``/``UNSET`` leaves
    a field as it is, ``time_zone=None`` clears it. Setting the language marks it chosen:
    from then on it wins over the browser's; ``language=None`` un-chooses it (the browser's
    decides again in the console and portal; mails keep the stored language).
    The switches are the kinds of :mod:`chat.mail.kinds` for the caller's audience, checked
    by :func:`chat.mail.preferences.clean_switches` (422 for an unknown kind, another
    audience's, or an essential one switched off; the three pre-mail keys still expand);
    the time zone must be an IANA name. Nothing is stored when anything is refused."""
    require(actor, Action.UPDATE_PROFILE)
    clean_name = validation.text(name, "name", max_length=200, required=False) if name is not None else None
    clean_language = validation.language(language) if isinstance(language, str) else language
    switches = preferences.clean_switches(notification_prefs, actor.role) if notification_prefs is not None else None
    clean_zone = preferences.clean_time_zone(time_zone) if not isinstance(time_zone, UnsetType) else UNSET
    clean_prefs = ui_prefs_rules.clean(ui_prefs) if ui_prefs is not None else None
    async with svc.sessions.begin() as db:
        user = await find_user(db, actor.user_id)
        if clean_prefs is not None:
            user.ui_prefs = ui_prefs_rules.merged(user.ui_prefs or {}, clean_prefs)
        if clean_name is not None:
            user.name = clean_name
        if isinstance(clean_language, str):
            user.language = clean_language
            user.language_chosen = True
        elif clean_language is None:
            user.language_chosen = False
        if switches is not None:
            user.notification_prefs = preferences.merged_switches(user.notification_prefs or {}, switches, user.role)
        if not isinstance(clean_zone, UnsetType):
            user.time_zone = clean_zone
    return user

"""Use cases of the console's settings screens for the directory (issue 19): edit a
widget site and rotate its identity secret, list and edit people, send one a password
reset, edit a company.

Each public function is one use case in one transaction that authorizes through
:mod:`chat.authz`, refuses bad input with the ``field`` a form marks (nothing stored),
and records the change in the audit log inside that transaction (before → after as the
API shows the object, :mod:`chat.directory_views`). ``actor=None``: the operator's
command line.
"""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from msgspec import UNSET, UnsetType
from sqlalchemy import Select, func, or_, select
from sqlalchemy.exc import IntegrityError

from chat import validation
from chat.authz import Action, OrgRef, Principal, UserRef, require
from chat.directory import (
    audited,
    check_membership,
    checked,
    clean_origins,
    domains_by_organization,
    find_organization,
    require_user_admin,
    user_channel,
    user_ref,
    visible_organization,
    visible_user,
)
from chat.directory_views import audit_organization, audit_site, audit_user
from chat.errors import Conflict, Forbidden, NotFound, ValidationFailed
from chat.mail.accounts import PASSWORD_ROLES, queue_password_reset
from chat.models import AuthSession, Organization, OrganizationDomain, Role, Site, User
from chat.services import Services
from escalation.autoclose import Delay
from escalation.errors import InvalidPolicy
from escalation.policy_table import PlanTier

# A rotated secret keeps working this long by default: a day to redeploy the site's
# backend with the new one. At most a week: an old secret that may have leaked (the usual
# reason to rotate) must not stay good for long.
GRACE_HOURS_DEFAULT = 24
GRACE_HOURS_MAX = 168


# -- sites -------------------------------------------------------------------------------


async def update_site(
    svc: Services,
    actor: Principal | None,
    site_id: int,
    *,
    name: str | UnsetType = UNSET,
    allowed_origins: Sequence[str] | UnsetType = UNSET,
    default_language: str | UnsetType = UNSET,
    organization: int | str | UnsetType | None = UNSET,
) -> Site:
    """Change a site's name, allowed origins, default language or company (``None``: no
    company); absent fields stay. The origins are replaced as a whole (a bad one: 422 with
    ``field`` ``allowed_origins.<index>``); the widget is refused on a removed origin from
    the next page load (the frame reads the site each time)."""
    if actor is not None:
        require(actor, Action.MANAGE_SITES)
    clean_name = checked(validation.text, name, "name", max_length=200) if isinstance(name, str) else UNSET
    origins = clean_origins(allowed_origins) if not isinstance(allowed_origins, UnsetType) else UNSET
    clean_language = (
        checked(validation.language, default_language, "default_language") if isinstance(default_language, str) else UNSET
    )
    now = svc.clock.now()
    async with svc.sessions.begin() as db:
        site = await db.get(Site, site_id)
        if site is None:
            raise NotFound("no such site", code="site_not_found")
        before = audit_site(site)
        if not isinstance(organization, UnsetType):
            if organization is None:
                site.organization_id = None
            else:
                try:
                    site.organization_id = (await find_organization(db, organization)).id
                except NotFound as exc:
                    raise NotFound(exc.message, code="organization_not_found", field="organization") from None
        if not isinstance(clean_name, UnsetType):
            site.name = clean_name
        if not isinstance(origins, UnsetType):
            site.allowed_origins = origins
        if not isinstance(clean_language, UnsetType):
            site.default_language = clean_language
        await audited(db, actor, at=now, action="config.site.update", target_kind="site", target_id=site.id,
                      before=before, after=audit_site(site))
    return site


async def rotate_site_secret(
    svc: Services, actor: Principal | None, site_id: int, *, grace_hours: int = GRACE_HOURS_DEFAULT
) -> Site:
    """Give the site a new identity secret (in the returned site: shown once). The one it
    replaces keeps vouching for visitors until now + ``grace_hours`` (0..168; 0: it stops
    at once); a secret older than that one stops now. Audited without either secret."""
    if actor is not None:
        require(actor, Action.MANAGE_SITES)
    if isinstance(grace_hours, bool) or not 0 <= grace_hours <= GRACE_HOURS_MAX:
        raise ValidationFailed(f"grace_hours must be a whole number from 0 to {GRACE_HOURS_MAX}", field="grace_hours")
    now = svc.clock.now()
    async with svc.sessions.begin() as db:
        site = await db.get(Site, site_id)
        if site is None:
            raise NotFound("no such site", code="site_not_found")
        before = audit_site(site)
        site.previous_identity_secret = site.identity_secret if grace_hours else None
        site.previous_secret_until = now + timedelta(hours=grace_hours) if grace_hours else None
        site.identity_secret = secrets.token_urlsafe(32)
        await audited(db, actor, at=now, action="config.site.rotate_secret", target_kind="site", target_id=site.id,
                      before=before, after=audit_site(site))
    return site


# -- people ------------------------------------------------------------------------------

# Who reads the people list: the desk's administrators and its auditors (read-only
# staff see every screen of the admin page, with its controls disabled).
PEOPLE_READERS = frozenset({Role.SUPPORT_ADMIN, Role.READ_ONLY})
PAGE_DEFAULT = 50
PAGE_MAX = 200


@dataclass(frozen=True)
class PeopleFilter:
    role: Role | None = None
    """None: everyone but anonymous widget visitors (there are many, and nobody edits them)."""
    organization_id: int | None = None
    disabled: bool | None = None
    text: str | None = None
    """Part of the name or the e-mail address, any case."""
    after_id: int | None = None
    """Paging: people with a greater id (the ``next`` of the previous page)."""
    limit: int = PAGE_DEFAULT


@dataclass(frozen=True)
class Person:
    user: User
    last_sign_in_at: datetime | None


@dataclass(frozen=True)
class PeoplePage:
    people: list[Person]
    next_after_id: int | None


def _escaped(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def people_query(wanted: PeopleFilter) -> Select[User]:
    query = select(User).order_by(User.id)
    if wanted.role is not None:
        query = query.where(User.role == wanted.role)
    else:
        query = query.where(User.role != Role.VISITOR)
    if wanted.organization_id is not None:
        query = query.where(User.organization_id == wanted.organization_id)
    if wanted.disabled is not None:
        query = query.where(User.disabled.is_(wanted.disabled))
    if wanted.text:
        pattern = f"%{_escaped(wanted.text.strip().lower())}%"
        query = query.where(or_(func.lower(User.name).like(pattern, escape="\\"),
                                func.lower(User.email).like(pattern, escape="\\")))
    if wanted.after_id is not None:
        query = query.where(User.id > wanted.after_id)
    return query.limit(wanted.limit + 1)


async def list_people(svc: Services, actor: Principal, wanted: PeopleFilter) -> PeoplePage:
    """``GET /api/users``: people by id, filtered, a page at a time, each with their last
    sign-in (their own sessions only: a support session acting as them is not theirs)."""
    if actor.role not in PEOPLE_READERS:
        raise Forbidden("only support admins and read-only staff list people")
    if not 1 <= wanted.limit <= PAGE_MAX:
        raise ValidationFailed(f"limit must be an integer from 1 to {PAGE_MAX}", field="limit")
    if wanted.text is not None and len(wanted.text) > 200:
        raise ValidationFailed("q must be at most 200 characters", field="q")
    async with svc.reads() as db:
        users = list(await db.scalars(people_query(wanted)))
        page = users[: wanted.limit]
        signed: dict[int, datetime] = {}
        if page:
            rows = await db.execute(
                select(AuthSession.user_id, func.max(AuthSession.created_at))
                .where(AuthSession.user_id.in_([u.id for u in page]), AuthSession.impersonator_id.is_(None))
                .group_by(AuthSession.user_id)
            )
            signed = {int(uid): at for uid, at in rows}
    more = len(users) > wanted.limit
    return PeoplePage([Person(u, signed.get(u.id)) for u in page], page[-1].id if more else None)


async def update_user(
    svc: Services,
    actor: Principal | None,
    user: int | str,
    *,
    role: Role | UnsetType = UNSET,
    organization: int | str | UnsetType | None = UNSET,
    name: str | UnsetType = UNSET,
    language: str | UnsetType = UNSET,
) -> User:
    """Change a person's role, company (``None``: none), name or language; absent fields
    stay. The person as changed must be someone the actor may create
    (``Action.CREATE_USER``, as the person was too) and belong where their role may
    (:func:`chat.directory.check_membership`, 422 ``field`` ``organization``). Nobody
    changes their own role (an admin demoting themselves by mistake has no way back), and
    anonymous visitors are the widget's. A new role or company takes effect on the person's
    next request at once; their open sockets, which act with what they signed in as, are
    closed on every process after the commit (``user.changed``, 4409: sign in again) — the
    hubs' periodic revalidation is only the net for a lost broker message. No session is
    revoked."""
    require_user_admin(actor)
    clean_name = checked(validation.text, name, "name", max_length=200, required=False) if isinstance(name, str) else UNSET
    clean_language = checked(validation.language, language, "language") if isinstance(language, str) else UNSET
    if role is Role.VISITOR:
        raise ValidationFailed("visitors are created by the widget, not by hand", field="role")
    now = svc.clock.now()
    async with svc.sessions.begin() as db:
        target = await visible_user(db, actor, user)
        if actor is not None:
            require(actor, Action.CREATE_USER, await user_ref(db, target))
        if target.role is Role.VISITOR:
            raise ValidationFailed("an anonymous widget visitor is not edited by hand", field="role")
        new_role = target.role if isinstance(role, UnsetType) else role
        if actor is not None and target.id == actor.user_id and new_role is not target.role:
            raise Forbidden("nobody changes their own role; ask another support admin", code="own_role")
        if isinstance(organization, UnsetType):
            org = await db.get(Organization, target.organization_id) if target.organization_id is not None else None
        elif organization is None:
            org = None
        else:
            try:
                org = await visible_organization(db, actor, organization)
            except NotFound as exc:
                raise NotFound(exc.message, code="organization_not_found", field="organization") from None
        check_membership(new_role, org)
        if actor is not None:
            require(actor, Action.CREATE_USER,
                    UserRef(target.id, new_role, org.id if org else None, org.parent_id if org else None))
        before = audit_user(target)
        target.role = new_role
        target.organization_id = org.id if org else None
        if not isinstance(clean_name, UnsetType):
            target.name = clean_name
        if not isinstance(clean_language, UnsetType):
            target.language = clean_language
            target.language_chosen = True
        after = audit_user(target)
        if after != before:
            await audited(db, actor, at=now, action="config.user.update", target_kind="user", target_id=target.id,
                          before=before, after=after)
        standing_changed = (before.get("role"), before.get("organization_id")) != (
            after.get("role"), after.get("organization_id"))
    if standing_changed:
        await svc.publish(user_channel(target.id), {"type": "user.changed", "user_id": target.id})
    return target


async def send_password_reset(svc: Services, actor: Principal | None, user: int | str) -> bool:
    """Mail the person the "forgot password" link (:func:`chat.mail.accounts.queue_password_reset`):
    they choose a new password themselves; nobody else ever sees one. Who may do it is who
    may disable them (``Action.DISABLE_USER``: not oneself — one's own is changed on the
    profile). Refused (409) for a disabled person and for one without an address or a
    password sign-in. Returns whether the mail was queued (not when the address is
    suppressed); audited either way."""
    require_user_admin(actor)
    now = svc.clock.now()
    async with svc.sessions.begin() as db:
        target = await visible_user(db, actor, user)
        if actor is not None:
            require(actor, Action.DISABLE_USER, await user_ref(db, target))
        if target.disabled:
            raise Conflict("this person is disabled; enable them first", code="user_disabled")
        if not target.email or target.role not in PASSWORD_ROLES:
            raise Conflict("this person has no e-mail address to sign in with", code="no_password_sign_in")
        queued = await queue_password_reset(db, svc, target, now)
        await audited(db, actor, at=now, action="config.user.reset_password", target_kind="user",
                      target_id=target.id, after={"email": target.email, "queued": queued})
    return queued


# -- companies ---------------------------------------------------------------------------


def _delay(value: str | None, field: str) -> str | None:
    """A stored auto-close delay: escalation.autoclose.Delay's own spelling, or None."""
    if value is None or not value.strip():
        return None
    try:
        return str(Delay.parse(value))
    except InvalidPolicy as exc:
        raise ValidationFailed(f"{field}: {exc}", field=field) from None


@dataclass(frozen=True)
class ChangedOrganization:
    organization: Organization
    domains: list[str]


async def update_organization(
    svc: Services,
    actor: Principal | None,
    org_ref: int | str,
    *,
    name: str | UnsetType = UNSET,
    plan_tier: PlanTier | UnsetType = UNSET,
    domains: Sequence[str] | UnsetType = UNSET,
    auto_close_waiting: str | UnsetType | None = UNSET,
    auto_close_proposed: str | UnsetType | None = UNSET,
) -> ChangedOrganization:
    """Change a company's name, plan, e-mail domains (replaced as a whole; one another
    company has: 409 ``domain_taken``, ``field`` ``domains``) or its own auto-close delays
    (``"2bd"``, ``"7d"``...; ``None``: the policy's, else the desk's). Who may: who may
    manage it (``Action.MANAGE_ORGANIZATION``)."""
    clean_name = checked(validation.text, name, "name", max_length=200) if isinstance(name, str) else UNSET
    clean_domains: list[str] | UnsetType = UNSET
    if not isinstance(domains, UnsetType):
        found: set[str] = set()
        for index, value in enumerate(domains):
            found.add(checked(validation.domain, value, f"domains.{index}"))
        clean_domains = sorted(found)
    waiting = _delay(auto_close_waiting, "auto_close_waiting") if not isinstance(auto_close_waiting, UnsetType) else UNSET
    proposed = (
        _delay(auto_close_proposed, "auto_close_proposed") if not isinstance(auto_close_proposed, UnsetType) else UNSET
    )
    now = svc.clock.now()
    async with svc.sessions.begin() as db:
        org = await visible_organization(db, actor, org_ref)
        if actor is not None:
            require(actor, Action.MANAGE_ORGANIZATION, OrgRef(org.id, org.kind, org.parent_id))
        before = audit_organization(org, (await domains_by_organization(db, [org.id]))[org.id])
        if not isinstance(clean_name, UnsetType):
            org.name = clean_name
        if not isinstance(plan_tier, UnsetType):
            org.plan_tier = plan_tier
        if not isinstance(waiting, UnsetType):
            org.auto_close_waiting = waiting
        if not isinstance(proposed, UnsetType):
            org.auto_close_proposed = proposed
        if not isinstance(clean_domains, UnsetType):
            taken = list(await db.scalars(select(OrganizationDomain.domain).where(
                OrganizationDomain.domain.in_(clean_domains), OrganizationDomain.organization_id != org.id)))
            if taken:
                raise Conflict(f"domain already belongs to another organization: {', '.join(taken)}",
                               code="domain_taken", field="domains")
            current = set(before["domains"])
            for gone in current - set(clean_domains):
                row = await db.get(OrganizationDomain, gone)
                if row is not None:
                    await db.delete(row)
            db.add_all(OrganizationDomain(domain=d, organization_id=org.id) for d in clean_domains if d not in current)
            try:
                await db.flush()
            except IntegrityError:
                raise Conflict("a domain was taken meanwhile", code="domain_taken", field="domains") from None
        stored_domains = (await domains_by_organization(db, [org.id]))[org.id]
        after = audit_organization(org, stored_domains)
        if after != before:
            await audited(db, actor, at=now, action="config.organization.update", target_kind="organization",
                          target_id=org.id, before=before, after=after)
    return ChangedOrganization(org, stored_domains)

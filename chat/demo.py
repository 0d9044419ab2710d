"""Demo data for the embedded default: a reseller, its customer company, a widget site, one
user of each kind, and the company's support chat group (with one approved member, while
the demo customer may still ask to join) and a system alert — so the widget, the customer
area (``/portal/``) and the console (``/console/``) can be tried at once.

Safe to run again: it reuses what exists and sets fresh passwords, so the printed logins
always work (no password is ever kept in the code)."""

from __future__ import annotations

import secrets
from urllib.parse import urlsplit

from sqlalchemy import select

from chat import directory, validation
from chat.auth import principal_of
from chat.errors import Conflict, NotFound
from chat.groups import alerts, requests, service
from chat.groups.models import AlertType, ChatGroup, ChatGroupJoinRequest, RequestStatus, SystemAlert
from chat.models import Organization, OrgKind, Role, Site, User
from chat.services import Services
from escalation.policy_table import PlanTier

ADMIN = "admin@demo.example"
RESELLER_ADMIN = "reseller@demo-reseller.example"
CUSTOMER = "customer@demo-customer.example"  # not in the group: may ask to join it
MEMBER = "member@demo-customer.example"  # already in the group
DEMO_USERS = (
    (ADMIN, Role.SUPPORT_ADMIN, None, "Ada Admin"),
    ("agent@demo.example", Role.AGENT, None, "Alex Agent"),
    ("readonly@demo.example", Role.READ_ONLY, None, "Rita Readonly"),
    (RESELLER_ADMIN, Role.RESELLER_ADMIN, "demo-reseller", "Ravi Reseller"),
    (CUSTOMER, Role.CUSTOMER, "demo-customer", "Carla Customer"),
    (MEMBER, Role.CUSTOMER, "demo-customer", "Max Member"),
)
DEMO_GROUP = "Demo Customer Co support"
DEMO_ALERT = "Welcome to the demo"
# The demo site's signed-in user, whom the demo page vouches for at ``/?as=customer``
# the way a customer's backend does (docs/widget.md, identity verification).
DEMO_WIDGET_USER = ("demo-customer-1", "Dana Demo")


async def _organization(svc: Services, slug: str, **fields: object) -> Organization:
    async with svc.sessions() as db:
        try:
            return await directory.find_organization(db, slug)
        except NotFound:
            pass
    return (await directory.create_organization(svc, None, slug=slug, **fields)).organization  # type: ignore[arg-type]


DEMO_SITE_NAME = "Demo site"
_LOOPBACK_TWINS = {"127.0.0.1": "localhost", "localhost": "127.0.0.1"}


def demo_origins(public_url: str) -> list[str]:
    """Where the demo page may embed the widget: the public URL's origin and, for a
    loopback address, its twin (``localhost`` and ``127.0.0.1`` are different origins to a
    browser, and people type either)."""
    origin = validation.origin(public_url, "PUBLIC_URL")
    parts = urlsplit(origin)
    twin = _LOOPBACK_TWINS.get(parts.hostname or "")
    if twin is None:
        return [origin]
    return sorted({origin, origin.replace(f"//{parts.hostname}", f"//{twin}", 1)})


async def demo_site(svc: Services) -> Site | None:
    """The demo page's widget site; ``None`` until ``python -m chat demo`` has run. Public:
    the page shows its key to anyone, as any website that embeds the widget does."""
    async with svc.reads() as db:
        return await db.scalar(select(Site).where(Site.name == DEMO_SITE_NAME))


async def seed_demo(svc: Services) -> str:
    """Seed (or refresh) the demo; return what to show its user: the URLs and the fresh logins."""
    public_url = svc.settings.public_url
    await _organization(svc, "demo-reseller", name="Demo Reseller", kind=OrgKind.RESELLER, domains=["demo-reseller.example"])
    await _organization(
        svc, "demo-customer", name="Demo Customer Co", kind=OrgKind.CUSTOMER, plan_tier=PlanTier.REGULAR,
        domains=["demo-customer.example"], parent="demo-reseller",
    )
    origins = demo_origins(public_url)
    async with svc.sessions.begin() as db:
        site = await db.scalar(select(Site).where(Site.name == DEMO_SITE_NAME))
        if site is not None and not set(origins) <= set(site.allowed_origins):
            # PUBLIC_URL changed since the last seeding: the demo page must still embed it.
            site.allowed_origins = sorted(set(site.allowed_origins) | set(origins))
    if site is None:
        site = (await directory.create_site(
            svc, None, name=DEMO_SITE_NAME, allowed_origins=origins, organization="demo-customer"
        )).site

    lines = [
        f"Demo ready at {public_url}/",
        f"  widget site key: {site.public_key}",
        f"  embed snippet:   {directory.embed_snippet(public_url, site)}",
        "  logins (e-mail / password):",
    ]
    for email, role, org, name in DEMO_USERS:
        password = secrets.token_urlsafe(9)
        try:
            await directory.create_user(svc, None, email=email, role=role, organization=org, password=password, name=name)
        except Conflict:
            await directory.set_password(svc, email, password)
        lines.append(f"    {role.value:<15} {email:<32} {password}")
    await _seed_group_and_alert(svc)
    lines += [
        f"  group chat:      {DEMO_GROUP!r} of Demo Customer Co, {MEMBER} in it",
        f"  customer area:   {public_url}/portal/ — {CUSTOMER} asks to join, {RESELLER_ADMIN} approves",
        f"  agent console:   {public_url}/console/ — admin, agent, read-only",
        f"  signed-in widget: {public_url}/?as=customer — a user of Demo Customer Co: sees its alerts",
    ]
    return "\n".join(lines)


async def _user(svc: Services, email: str) -> User:
    async with svc.sessions() as db:
        return await directory.find_user(db, email)


async def _seed_group_and_alert(svc: Services) -> None:
    """The customer company's group, its first member admitted the way every member is
    (asked, approved by the reseller admin), and one alert; each only once."""
    admin = principal_of(await _user(svc, ADMIN))
    reseller = principal_of(await _user(svc, RESELLER_ADMIN))
    member = principal_of(await _user(svc, MEMBER))
    pending: int | None = None
    async with svc.sessions() as db:
        group = await db.scalar(select(ChatGroup).where(ChatGroup.name == DEMO_GROUP))
        alerted = await db.scalar(select(SystemAlert.id).where(SystemAlert.title == DEMO_ALERT))
        is_member = group is not None and await service.active_member(db, group.id, member.user_id) is not None
        if group is not None:
            pending = await db.scalar(select(ChatGroupJoinRequest.id).where(
                ChatGroupJoinRequest.group_id == group.id, ChatGroupJoinRequest.user_id == member.user_id,
                ChatGroupJoinRequest.status == RequestStatus.PENDING,
            ))
    if group is None:
        group = await service.create_group(svc, admin, organization="demo-customer", name=DEMO_GROUP)
    if not is_member:
        if pending is None:  # else left by an earlier, interrupted run
            pending = (await requests.request_join(svc, member, group=group.id, note="Demo: the first member")).id
        await requests.decide(svc, reseller, pending, approve=True)
    if alerted is None:
        await alerts.open_alert(
            svc, admin, organization="demo-customer", type=AlertType.INFORMATION, title=DEMO_ALERT,
            body="System alerts from support show here, in the customer area and in the widget of the company's users.",
        )

"""Demo data for the embedded default: a reseller, its customer company, a widget site and
one user of each kind. Safe to run again: it reuses what exists and sets fresh passwords,
so the printed logins always work (no password is ever kept in the code)."""

from __future__ import annotations

import secrets
from urllib.parse import urlsplit

from sqlalchemy import select

from chat import directory, validation
from chat.errors import Conflict, NotFound
from chat.models import Organization, OrgKind, PlanTier, Role, Site
from chat.services import Services

DEMO_USERS = (
    ("admin@demo.example", Role.SUPPORT_ADMIN, None, "Ada Admin"),
    ("agent@demo.example", Role.AGENT, None, "Alex Agent"),
    ("readonly@demo.example", Role.READ_ONLY, None, "Rita Readonly"),
    ("reseller@demo-reseller.example", Role.RESELLER_ADMIN, "demo-reseller", "Ravi Reseller"),
    ("customer@demo-customer.example", Role.CUSTOMER, "demo-customer", "Carla Customer"),
)


async def _organization(svc: Services, slug: str, **fields: object) -> Organization:
    async with svc.sessions() as db:
        try:
            return await directory.find_organization(db, slug)
        except NotFound:
            pass
    return await directory.create_organization(svc, None, slug=slug, **fields)  # type: ignore[arg-type]


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


async def seed_demo(svc: Services) -> None:
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

    print(f"Demo ready at {public_url}/")
    print(f"  widget site key: {site.public_key}")
    print(f"  embed snippet:   {directory.embed_snippet(public_url, site)}")
    print("  logins (e-mail / password):")
    for email, role, org, name in DEMO_USERS:
        password = secrets.token_urlsafe(9)
        try:
            await directory.create_user(svc, None, email=email, role=role, organization=org, password=password, name=name)
        except Conflict:
            await directory.set_password(svc, email, password)
        print(f"    {role.value:<15} {email:<32} {password}")

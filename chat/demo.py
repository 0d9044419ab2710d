"""Demo data for the embedded default: a reseller, its customer company, a widget site and
one user of each kind. Safe to run again: it reuses what exists and sets fresh passwords,
so the printed logins always work (no password is ever kept in the code)."""

from __future__ import annotations

import secrets

from sqlalchemy import select

from chat import directory
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


async def seed_demo(svc: Services) -> None:
    public_url = svc.settings.public_url
    await _organization(svc, "demo-reseller", name="Demo Reseller", kind=OrgKind.RESELLER, domains=["demo-reseller.example"])
    await _organization(
        svc, "demo-customer", name="Demo Customer Co", kind=OrgKind.CUSTOMER, plan_tier=PlanTier.REGULAR,
        domains=["demo-customer.example"], parent="demo-reseller",
    )
    async with svc.sessions() as db:
        site = await db.scalar(select(Site).where(Site.name == "Demo site"))
    if site is None:
        site = (await directory.create_site(
            svc, None, name="Demo site", allowed_origins=[public_url], organization="demo-customer"
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

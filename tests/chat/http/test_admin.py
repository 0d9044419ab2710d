"""Directory administration over HTTP: who may create what, and bad input changes nothing."""

from __future__ import annotations

import re
from typing import Any

import httpx
from sqlalchemy import event, func, select

from chat import directory
from chat.auth import principal_of
from chat.authz import Action, OrgRef, Principal, can
from chat.models import Organization, OrganizationDomain, OrgKind, Role, Site, User
from tests.chat.http.test_account import PASSWORD, count, sign_in
from tests.support.live import LiveServer


async def seed(server: LiveServer) -> dict[str, int]:
    svc = server.services
    r20 = (await directory.create_organization(svc, None, name="Reseller Twenty", kind=OrgKind.RESELLER, slug="r20")).organization
    r21 = (await directory.create_organization(svc, None, name="Reseller TwentyOne", kind=OrgKind.RESELLER, slug="r21")).organization
    c10 = (await directory.create_organization(svc, None, name="Customer Ten", kind=OrgKind.CUSTOMER, parent="r20",
                                              domains=["ten.example"], slug="c10")).organization
    c11 = (await directory.create_organization(svc, None, name="Customer Eleven", kind=OrgKind.CUSTOMER, parent="r21",
                                              slug="c11")).organization
    for email, role, org in [
        ("admin@x.example", Role.SUPPORT_ADMIN, None),
        ("agent@x.example", Role.AGENT, None),
        ("ro@x.example", Role.READ_ONLY, None),
        ("reseller@r20.example", Role.RESELLER_ADMIN, "r20"),
        ("cust@ten.example", Role.CUSTOMER, "c10"),
        ("cust@eleven.example", Role.CUSTOMER, "c11"),
    ]:
        await directory.create_user(svc, None, email=email, role=role, organization=org, password=PASSWORD)
    return {"r20": r20.id, "r21": r21.id, "c10": c10.id, "c11": c11.id}


async def test_support_admin_creates_orgs_users_sites(server: LiveServer, http: httpx.AsyncClient) -> None:
    await seed(server)
    await sign_in(http, "admin@x.example")
    r = await http.post("/api/organizations", json={"name": "New Co", "kind": "customer", "plan_tier": "premium",
                                                     "parent": "r20", "domains": ["NewCo.example"]})
    assert r.status_code == 201, r.text
    org = r.json()["organization"]
    assert org["slug"] == "new-co" and org["plan_tier"] == "premium" and org["domains"] == ["newco.example"]
    r = await http.post("/api/users", json={"email": "x@newco.example", "role": "customer", "organization": "new-co",
                                             "password": PASSWORD})
    assert r.status_code == 201 and r.json()["user"]["organization_id"] == org["id"]
    r = await http.post("/api/sites", json={"name": "Shop", "allowed_origins": ["https://Shop.Example:443/"]})
    assert r.status_code == 201
    assert r.json()["site"]["allowed_origins"] == ["https://shop.example"]
    assert r.json()["snippet"].startswith("<script src=")


async def test_reseller_admin_is_scoped_to_its_customers(server: LiveServer, http: httpx.AsyncClient) -> None:
    ids = await seed(server)
    await sign_in(http, "reseller@r20.example")
    ok = await http.post("/api/users", json={"email": "new@ten.example", "role": "customer", "organization": "c10",
                                              "password": PASSWORD})
    assert ok.status_code == 201
    other = await http.post("/api/users", json={"email": "new@eleven.example", "role": "customer",
                                                 "organization": "c11", "password": PASSWORD})
    # Not its customer: the same 404 as a company that does not exist (no existence leak).
    assert other.status_code == 404 and other.json()["error"]["code"] == "organization_not_found"
    staff = await http.post("/api/users", json={"email": "evil@x.example", "role": "support_admin", "password": PASSWORD})
    assert staff.status_code == 403
    own_org = await http.post("/api/organizations", json={"name": "Sub", "kind": "customer", "parent": "r20"})
    assert own_org.status_code == 201
    foreign_org = await http.post("/api/organizations", json={"name": "Sub2", "kind": "customer", "parent": "r21"})
    assert foreign_org.status_code == 404
    listed = {o["slug"] for o in (await http.get("/api/organizations")).json()["organizations"]}
    assert listed == {"r20", "c10", "sub"}
    async with server.services.sessions() as db:
        eleven = await db.scalar(select(User).where(User.email == "cust@eleven.example"))
        ten = await db.scalar(select(User).where(User.email == "cust@ten.example"))
    assert eleven is not None and ten is not None
    assert (await http.post(f"/api/users/{eleven.id}/disable")).status_code == 404
    assert (await http.get(f"/api/users/{eleven.id}")).status_code == 404
    disabled = await http.post(f"/api/users/{ten.id}/disable")
    assert disabled.status_code == 200 and disabled.json()["user"]["disabled"] is True
    assert ids["c10"]


async def test_agents_customers_and_read_only_cannot_administer(server: LiveServer, http: httpx.AsyncClient) -> None:
    await seed(server)
    for email in ("agent@x.example", "ro@x.example", "cust@ten.example"):
        http.cookies.clear()
        await sign_in(http, email)
        assert (await http.post("/api/users", json={"email": "z@ten.example", "role": "customer",
                                                     "organization": "c10"})).status_code == 403
        assert (await http.post("/api/sites", json={"name": "S", "allowed_origins": ["https://s.example"]})).status_code == 403
        listed = await http.get("/api/sites")
        # Read-only staff read the sites (the console's settings screens, disabled), never
        # a secret; agents and customers not at all.
        if email == "ro@x.example":
            assert listed.status_code == 200 and listed.json()["sites"] == []
        else:
            assert listed.status_code == 403
    assert await count(server, Site) == 0


async def test_bad_directory_input_changes_nothing(server: LiveServer, http: httpx.AsyncClient) -> None:
    await seed(server)
    await sign_in(http, "admin@x.example")
    users, orgs, domains = await count(server, User), await count(server, Organization), await count(server, OrganizationDomain)
    cases = [
        ("/api/users", {"email": "agent@x.example", "role": "agent", "password": PASSWORD}, 409, "email_taken"),
        ("/api/users", {"email": "AGENT@x.example", "role": "agent"}, 409, "email_taken"),
        ("/api/users", {"email": "n@x.example", "role": "wizard"}, 422, "validation_failed"),
        ("/api/users", {"email": "not-an-email", "role": "agent"}, 422, "validation_failed"),
        ("/api/users", {"email": "n@x.example", "role": "agent", "password": "short"}, 422, "validation_failed"),
        ("/api/users", {"email": "n@x.example", "role": "agent", "organization": "c10"}, 422, "validation_failed"),
        ("/api/users", {"email": "n@x.example", "role": "customer", "organization": "r20"}, 422, "validation_failed"),
        ("/api/users", {"email": "n@x.example", "role": "reseller_admin"}, 422, "validation_failed"),
        ("/api/users", {"email": "n@x.example", "role": "customer", "organization": "nope"}, 404, "organization_not_found"),
        ("/api/users", {"email": "n@x.example", "role": "visitor"}, 422, "validation_failed"),
        ("/api/organizations", {"name": "Dup", "kind": "customer", "domains": ["ten.example"]}, 409, "domain_taken"),
        ("/api/organizations", {"name": "Dup", "kind": "customer", "slug": "c10"}, 409, "slug_taken"),
        ("/api/organizations", {"name": "Bad", "kind": "customer", "parent": "c10"}, 422, "validation_failed"),
        ("/api/organizations", {"name": "Bad", "kind": "reseller", "parent": "r20"}, 422, "validation_failed"),
        ("/api/organizations", {"name": "Bad", "kind": "customer", "plan_tier": "gold"}, 422, "validation_failed"),
        ("/api/organizations", {"name": "Bad", "kind": "customer", "domains": ["not a domain"]}, 422, "validation_failed"),
        ("/api/organizations", {"name": "  ", "kind": "customer"}, 422, "validation_failed"),
        ("/api/sites", {"name": "S", "allowed_origins": []}, 422, "validation_failed"),
        ("/api/sites", {"name": "S", "allowed_origins": ["https://s.example/path"]}, 422, "validation_failed"),
        ("/api/sites", {"name": "S", "allowed_origins": ["javascript:alert(1)"]}, 422, "validation_failed"),
        ("/api/sites", {"name": "S", "allowed_origins": ["https://s.example"], "default_language": "xx"}, 422,
         "validation_failed"),
    ]
    for path, body, status, code in cases:
        r = await http.post(path, json=body)
        assert (r.status_code, r.json()["error"]["code"]) == (status, code), (path, body, r.text)
    assert (await count(server, User), await count(server, Organization), await count(server, OrganizationDomain)) == (
        users, orgs, domains)
    assert await count(server, Site) == 0
    assert (await http.get("/api/users/abc")).status_code == 422
    assert (await http.get("/api/users/999999")).json()["error"]["code"] == "user_not_found"


async def test_nobody_disables_themselves(server: LiveServer, http: httpx.AsyncClient) -> None:
    await seed(server)
    me = (await http.post("/api/auth/login", json={"email": "admin@x.example", "password": PASSWORD})).json()["user"]
    r = await http.post(f"/api/users/{me['id']}/disable")
    assert r.status_code == 403
    async with server.services.sessions() as db:
        assert await db.scalar(select(func.count()).select_from(User).where(User.disabled.is_(True))) == 0


# Who sees which organizations of seed(), in id order: staff all, a reseller admin its own
# and its customers, a customer its own company.
VISIBLE_ORGANIZATIONS = {
    "admin@x.example": ["r20", "r21", "c10", "c11"],
    "agent@x.example": ["r20", "r21", "c10", "c11"],
    "ro@x.example": ["r20", "r21", "c10", "c11"],
    "reseller@r20.example": ["r20", "c10"],
    "cust@ten.example": ["c10"],
    "cust@eleven.example": ["c11"],
}


async def test_organizations_are_filtered_in_sql_to_what_each_caller_may_see(
    server: LiveServer, http: httpx.AsyncClient
) -> None:
    await seed(server)
    async with server.services.sessions() as db:
        principals = {u.email: principal_of(u) for u in await db.scalars(select(User))}
        every_org = list(await db.scalars(select(Organization).order_by(Organization.id)))
    statements: list[str] = []

    def record(conn: Any, cursor: Any, statement: str, *rest: Any) -> None:
        statements.append(statement)

    for email, expected in VISIBLE_ORGANIZATIONS.items():
        principal = principals[email]
        # What the handler answered when it loaded every row and asked chat.authz about each.
        by_rule = [o.slug for o in every_org if can(principal, Action.VIEW_ORGANIZATION, OrgRef(o.id, o.kind, o.parent_id))]
        assert by_rule == expected, email
        token = await sign_in(http, email)
        statements.clear()
        event.listen(server.services.engine.sync_engine, "before_cursor_execute", record)
        try:
            r = await http.get("/api/organizations", headers={"Authorization": f"Bearer {token}"})
        finally:
            event.remove(server.services.engine.sync_engine, "before_cursor_execute", record)
        assert r.status_code == 200, r.text
        listed = r.json()["organizations"]
        assert [o["slug"] for o in listed] == expected, email
        assert all(o["domains"] == (["ten.example"] if o["slug"] == "c10" else []) for o in listed), listed
        # The route's one read of the organizations table filters in SQL (staff: no filter) ...
        [org_select] = [s for s in statements if re.search(r"\bFROM organizations\b", s)]
        assert ("WHERE" in org_select) is not principal.is_staff, org_select
        # ... and that statement returns no other company's row.
        async with server.services.sessions() as db:
            loaded = [o.slug for o in await db.scalars(directory.visible_organizations_query(principal))]
        assert loaded == expected, email


def test_nobody_outside_an_organization_sees_one() -> None:
    for role in (Role.VISITOR, Role.CUSTOMER, Role.RESELLER_ADMIN):
        query = directory.visible_organizations_query(Principal(user_id=1, role=role, organization_id=None))
        assert "WHERE false" in str(query), (role, str(query))

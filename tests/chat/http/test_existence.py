"""Refusals must not reveal existence (issue 20): for a caller who may not know a thing
exists, "it exists but is not yours" and "there is none" get the same answer.

Table-driven over the app's router: every route with one id in its path is asked, by a
visitor, a customer and a reseller admin of other companies, for a row that exists (id 1:
a bystander company's) and for one that does not; the two answers (status and code) must
be equal. Plus ``POST /api/users`` naming an organization by slug.
"""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
from starlette.routing import Route

from chat import directory
from chat.app import create_app
from chat.auth import principal_of
from chat.conversations import start_conversation
from chat.groups import alerts, service
from chat.groups.models import AlertType
from chat.models import OrgKind, Role
from tests.chat.http.test_account import PASSWORD, sign_in
from tests.chat.http.test_fuzz_edges import _walk
from tests.conftest import make_settings
from tests.support.live import LiveServer

MISSING = "4611686018427387904"  # 2**62: in range, and no row has it


def id_routes(scratch: Path) -> list[tuple[str, str]]:
    app = create_app(make_settings(f"sqlite+aiosqlite:///{scratch / 'routes.db'}", scratch / "var"))
    found = []
    for path, route in _walk(app.routes):
        assert isinstance(route, Route)
        params = list(route.param_convertors)
        if len(params) == 1 and params[0].endswith("_id"):
            found += [(m, path.replace("{" + params[0] + "}", "{}")) for m in sorted((route.methods or set()) - {"HEAD"})]
    return found


async def seed(server: LiveServer, http: httpx.AsyncClient) -> dict[str, str]:
    """Row 1 of each table belongs to a bystander; the callers belong elsewhere."""
    svc = server.services
    await directory.create_organization(svc, None, name="Bystander", kind=OrgKind.CUSTOMER, slug="bystander")
    bystander = await directory.create_user(svc, None, email="by@stander.example", role=Role.CUSTOMER,
                                            organization="bystander", password=PASSWORD)
    await start_conversation(svc, principal_of(bystander), subject="Mine", body="private", client_msg_id="b-1")
    admin = await directory.create_user(svc, None, email="admin@x.example", role=Role.SUPPORT_ADMIN, password=PASSWORD)
    await service.create_group(svc, principal_of(admin), organization="bystander", name="Bystanders")
    await alerts.open_alert(svc, principal_of(admin), organization="bystander", type=next(iter(AlertType)),
                            title="Hello", body="To the bystanders")
    await directory.create_organization(svc, None, name="Reseller", kind=OrgKind.RESELLER, slug="res")
    await directory.create_organization(svc, None, name="Other Co", kind=OrgKind.CUSTOMER, slug="other", parent="res")
    await directory.create_user(svc, None, email="cust@other.example", role=Role.CUSTOMER, organization="other",
                                password=PASSWORD)
    await directory.create_user(svc, None, email="admin@res.example", role=Role.RESELLER_ADMIN, organization="res",
                                password=PASSWORD)
    site = (await directory.create_site(svc, None, name="Shop", allowed_origins=["https://shop.example"],
                                        organization="other")).site
    visitor = (await http.post("/api/widget/session", json={"site": site.public_key})).json()["token"]
    return {"visitor": visitor, "customer": await sign_in(http, "cust@other.example"),
            "reseller": await sign_in(http, "admin@res.example")}


def answer(r: httpx.Response) -> tuple[int, str | None]:
    body = r.json() if r.headers.get("content-type", "").startswith("application/json") else None
    return r.status_code, body["error"]["code"] if isinstance(body, dict) and "error" in body else None


async def test_a_refusal_is_the_same_for_a_stranger_s_row_and_a_missing_one(
    server: LiveServer, http: httpx.AsyncClient, tmp_path: Path
) -> None:
    tokens = await seed(server, http)
    leaks = []
    routes = id_routes(tmp_path)
    assert ("GET", "/api/users/{}") in routes and ("POST", "/api/users/{}/disable") in routes
    for who, token in tokens.items():
        headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
        for method, path in routes:
            existing = await http.request(method, path.format(1), headers=headers, content=b"{}")
            missing = await http.request(method, path.format(MISSING), headers=headers, content=b"{}")
            if answer(existing) != answer(missing) and existing.status_code >= 400:
                leaks.append(f"{who} {method} {path}: exists → {answer(existing)}, missing → {answer(missing)}")
    assert not leaks, "\n".join(leaks)


@pytest.mark.parametrize("who", ["customer", "reseller"])
async def test_creating_a_user_in_a_stranger_s_organization_reads_as_missing(
    server: LiveServer, http: httpx.AsyncClient, who: str
) -> None:
    tokens = await seed(server, http)
    headers = {"Authorization": f"Bearer {tokens[who]}"}
    answers = set()
    for slug in ("bystander", "no-such-company", "1", MISSING):
        r = await http.post("/api/users", headers=headers, json={"email": f"new-{who}@bystander.example",
                                                                  "role": "customer", "organization": slug})
        answers.add(answer(r))
    assert len(answers) == 1, answers
    assert answers == {(403, "forbidden")} if who == "customer" else {(404, "organization_not_found")}

"""The probe's standard kept in the suite: every route of the app, whatever a client sends
(huge and odd integers, unicode digits, wrong types, deep nesting, empty and huge bodies),
with the token of a visitor, a customer, an agent or an admin, answers a documented 4xx
(``{"error": {"code", "message"}}``) or a success — never a 500, never a traceback or an
ERROR record in the server's log.

The routes are read from the app's router, their query parameters and body schemas from
the handlers' source, so a new route is fuzzed without anyone adding it here.
"""

from __future__ import annotations

import inspect
import itertools
import logging
import re
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import msgspec
import pytest
from starlette.routing import BaseRoute, Mount, Route

from chat import directory
from chat.app import create_app
from chat.models import OrgKind, Role
from tests.chat.http.test_account import PASSWORD, sign_in
from tests.conftest import make_settings
from tests.support.live import LiveServer

# Odd numbers as they appear in a path or a query: past BIGINT, negative, zero, unicode
# digits (``str.isdigit`` accepts them, ``int()`` reads or refuses them), exponents, NUL.
TEXT_NUMBERS = ["9223372036854775808", "99999999999999999999999", "-1", "0", "²", "١٢", "1e309", "%00", "9" * 400]
# Odd JSON values for one field of an otherwise plausible body.
JSON_VALUES: list[Any] = [2**63, 2**31, -1, 0, "²", "a\u0000b", None, [1], {"a": 1}]
# Whole bodies that are not the object a handler expects.
RAW_BODIES = [b"", b"null", b"[]", b'"x"', b"1e309", b"9223372036854775808", b"{", b"[" * 5000 + b"]" * 5000,
              b'{"a":' * 3000 + b"1" + b"}" * 3000, b"\xff\xfe", b'{"x": "' + b"a" * 70_000 + b'"}']
PRINCIPALS = ("visitor", "customer", "agent", "admin")
EMAILS = {"customer": "cust@fuzz.example", "agent": "agent@fuzz.example", "admin": "admin@fuzz.example"}

_QUERY = re.compile(r"""(?:int_query|_int_param|_bool_param)\(request,\s*"(\w+)"|(?:params|query_params)(?:\.get\(|\[)"(\w+)"\s*[,)\]]""")
_SCHEMA = re.compile(r"read_json\(request,\s*(\w+)\)")


@dataclass(frozen=True)
class Endpoint:
    method: str
    path: str
    params: tuple[str, ...]
    queries: tuple[str, ...]
    schema: type[msgspec.Struct] | None


def _walk(routes: list[BaseRoute], prefix: str = "") -> Iterator[tuple[str, Route]]:
    for route in routes:
        if isinstance(route, Route):
            yield prefix + route.path, route
        elif isinstance(route, Mount) and route.routes:
            yield from _walk(route.routes, prefix + route.path)


def endpoints(scratch: Path) -> list[Endpoint]:
    """Every HTTP route of the app as built (its settings do not change the route set)."""
    found: list[Endpoint] = []
    app = create_app(make_settings(f"sqlite+aiosqlite:///{scratch / 'routes.db'}", scratch / "var"))
    for path, route in _walk(app.routes):
        source = inspect.getsource(route.endpoint)
        module = inspect.getmodule(route.endpoint)
        queries = tuple(sorted({a or b for a, b in _QUERY.findall(source)}))
        match = _SCHEMA.search(source)
        schema = getattr(module, match.group(1)) if match else None
        for method in sorted((route.methods or set()) - {"HEAD"}):
            found.append(Endpoint(method, path, tuple(route.param_convertors), queries, schema))
    return found


def _sample(kind: msgspec.inspect.Type) -> Any:
    """A plausible value of ``kind``, so that the fuzzed field is the only thing wrong."""
    t = msgspec.inspect
    if isinstance(kind, t.UnionType):
        kinds = [k for k in kind.types if not isinstance(k, t.NoneType) and type(k).__name__ not in {"UnsetType", "CustomType"}]
        return _sample(kinds[0]) if kinds else None
    if isinstance(kind, t.LiteralType):
        return kind.values[0]
    if isinstance(kind, t.EnumType):
        return next(iter(kind.cls)).value  # type: ignore[attr-defined]
    if isinstance(kind, t.IntType):
        return 1
    if isinstance(kind, t.FloatType):
        return 0.5
    if isinstance(kind, t.BoolType):
        return False
    if isinstance(kind, t.DateTimeType):
        return "2026-01-01T00:00:00Z"
    if isinstance(kind, t.ListType | t.SetType | t.VarTupleType):
        return []
    if isinstance(kind, t.DictType):
        return {}
    if isinstance(kind, t.StructType):
        return {f.encode_name: _sample(f.type) for f in kind.fields if f.required}
    return "fuzz"


def bodies(schema: type[msgspec.Struct]) -> Iterator[Any]:
    """A plausible body with one field replaced by each odd value, in turn."""
    info = msgspec.inspect.type_info(schema)
    assert isinstance(info, msgspec.inspect.StructType)
    base = {f.encode_name: _sample(f.type) for f in info.fields if f.required}
    for field in info.fields:
        for value in JSON_VALUES:
            yield {**base, field.encode_name: value}
        if isinstance(_sample(field.type), list):
            yield {**base, field.encode_name: [2**63]}


def cases(endpoint: Endpoint) -> Iterator[tuple[str, dict[str, str], bytes | None]]:
    """(path, query, body) of each fuzz request for one endpoint."""
    plain = endpoint.path
    for name in endpoint.params:
        plain = plain.replace("{" + name + "}", "1")
    for name in endpoint.params:
        for value in TEXT_NUMBERS:
            yield endpoint.path.replace("{" + name + "}", value), {}, None
    for name in endpoint.queries:
        for value in TEXT_NUMBERS:
            yield plain, {name: value}, None
    if endpoint.method in {"POST", "PUT", "PATCH", "DELETE"}:
        for raw in RAW_BODIES:
            yield plain, {}, raw
        if endpoint.schema is not None:
            for body in bodies(endpoint.schema):
                yield plain, {}, msgspec.json.encode(body)


async def tokens(server: LiveServer, http: httpx.AsyncClient) -> dict[str, str]:
    svc = server.services
    # Id 1 of each table is a bystander: a fuzzed body aimed at ``/…/1/disable`` hits it, not
    # the principals the test signs in as.
    await directory.create_organization(svc, None, name="Bystander", kind=OrgKind.CUSTOMER, slug="bystander")
    await directory.create_user(svc, None, email="bystander@fuzz.example", role=Role.CUSTOMER, organization="bystander",
                                password=PASSWORD)
    await directory.create_organization(svc, None, name="Fuzz Co", kind=OrgKind.CUSTOMER, slug="fuzz", domains=["fuzz.example"])
    for email, role, org in [("admin@fuzz.example", Role.SUPPORT_ADMIN, None), ("agent@fuzz.example", Role.AGENT, None),
                             ("cust@fuzz.example", Role.CUSTOMER, "fuzz")]:
        await directory.create_user(svc, None, email=email, role=role, organization=org, password=PASSWORD)
    site = (await directory.create_site(svc, None, name="Shop", allowed_origins=["https://shop.example"])).site
    visitor = (await http.post("/api/widget/session", json={"site": site.public_key})).json()["token"]
    return {"visitor": visitor} | {name: await sign_in(http, email) for name, email in EMAILS.items()}


def test_every_route_is_enumerated(tmp_path: Path) -> None:
    """The enumeration sees the routes (a broken walk would make the fuzz test vacuous)."""
    found = {(e.method, e.path) for e in endpoints(tmp_path)}
    assert ("GET", "/api/users/{user_id}") in found and ("PUT", "/api/sla/policies/{policy_id}") in found
    assert len(found) > 100
    by_path = {(e.method, e.path): e for e in endpoints(tmp_path)}
    assert by_path["POST", "/api/conversations"].schema is not None
    assert "limit" in by_path["GET", "/api/tickets"].queries


async def test_fuzzed_requests_get_a_documented_4xx(
    server: LiveServer, http: httpx.AsyncClient, caplog: pytest.LogCaptureFixture, tmp_path: Path
) -> None:
    caplog.set_level(logging.WARNING)
    who = await tokens(server, http)
    principals = itertools.cycle(PRINCIPALS)
    failures: list[str] = []
    sent = 0
    statuses: Counter[str] = Counter()
    for endpoint in endpoints(tmp_path / "routes"):
        for path, query, body in cases(endpoint):
            principal = next(principals)
            headers = {"Authorization": f"Bearer {who[principal]}"}
            if body is not None:
                headers["Content-Type"] = "application/json"
            r = await http.request(endpoint.method, path, params=query, content=body, headers=headers)
            sent += 1
            if r.status_code != 401:
                statuses[principal] += 1
            if endpoint.path == "/api/auth/logout" and principal != "visitor" and r.status_code < 300:
                # The fuzzed logout worked (it takes no body): sign in again.
                who[principal] = await sign_in(http, EMAILS[principal])
            case = f"{principal} {endpoint.method} {path[:80]} {query} {(body or b'')[:80]!r} -> {r.status_code}"
            if r.status_code >= 500:
                failures.append(case + " " + r.text[:200])
            elif r.status_code >= 400 and r.headers.get("content-type", "").startswith("application/json"):
                error = r.json().get("error") if isinstance(r.json(), dict) else None
                if not (isinstance(error, dict) and isinstance(error.get("code"), str) and isinstance(error.get("message"), str)):
                    failures.append(case + " undocumented body " + r.text[:200])
    errors = [f"{rec.name}: {rec.getMessage()[:200]}" for rec in caplog.records if rec.levelno >= logging.ERROR or rec.exc_info]
    assert not failures, f"{len(failures)} of {sent} fuzzed requests failed:\n" + "\n".join(failures[:60])
    assert not errors, "\n".join(errors[:30])
    assert sent > 2000
    # The principals stayed signed in: the fuzz reached past authentication for each of them.
    assert all(statuses[p] > 0.5 * sum(statuses.values()) / len(PRINCIPALS) for p in PRINCIPALS), statuses


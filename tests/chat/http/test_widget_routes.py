"""The widget over HTTP: loader and iframe files with their caching, the iframe page's
frame-ancestors policy chosen by the site key, the public config, a site's widget
settings — and the size budgets of everything the widget sends to browsers."""

from __future__ import annotations

import gzip
import re
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from chat import directory, widget
from chat.auth import login
from chat.client import ChatClient
from chat.demo import (
    CUSTOMER,
    DEMO_ALERT,
    DEMO_GROUP,
    DEMO_SITE_NAME,
    DEMO_WIDGET_USER,
    MEMBER,
    RESELLER_ADMIN,
    demo_origins,
    seed_demo,
)
from chat.errors import ValidationFailed
from chat.groups.models import ChatGroup, SystemAlert
from chat.groups.service import active_member
from chat.http.widget_routes import WIDGET_DIR, bundle
from chat.models import OrgKind, Role, Site
from tests.conftest import make_settings
from tests.support.live import LiveServer, live_server

PASSWORD = "correct horse battery"
SHOP = "https://shop.example"
LOADER_BUDGET = 3 * 1024
# 33 KB: 30 until the composer's secret warning (issue 20: a handful of regexes, Luhn and
# its sentence in five languages, ~0.5 KB gzipped); 31 until issue 18 (the language switch
# with each language's own name, the "new messages" pill, the scroll and focus rules,
# ~0.9 KB gzipped, and the few lines that send the visitor's page to the agent).
TOTAL_BUDGET = 33 * 1024


async def make_site(server: LiveServer, **settings: Any) -> Site:
    svc = server.services
    org = (await directory.create_organization(svc, None, name="Acme", kind=OrgKind.CUSTOMER)).organization
    site = (await directory.create_site(svc, None, name="Acme <shop>", allowed_origins=[SHOP, "http://localhost:8001"],
                                        organization=org.id, default_language="de")).site
    if settings:
        async with svc.sessions.begin() as db:
            row = await db.get(Site, site.id)
            assert row is not None
            row.settings = settings
    return site


async def staff_token(server: LiveServer, email: str, role: Role) -> str:
    await directory.create_user(server.services, None, email=email, role=role, password=PASSWORD, name=email)
    return (await login(server.services, email, PASSWORD, address="127.0.0.1", user_agent="test")).token


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def csp(response: httpx.Response) -> dict[str, str]:
    policy = response.headers["content-security-policy"]
    return {part.split(" ", 1)[0]: part.split(" ", 1)[1] if " " in part else "" for part in policy.split("; ")}


# -- budgets --------------------------------------------------------------------------


def test_the_widget_fits_its_size_budgets() -> None:
    """Loader ≤ 3 KB gzipped; loader, page, scripts and styles together ≤ 33 KB gzipped."""
    files = sorted(p for p in WIDGET_DIR.iterdir() if p.suffix in {".js", ".css", ".html"})
    sizes = {p.name: len(gzip.compress(p.read_bytes(), 9)) for p in files}
    assert {"loader.js", "frame.html", "app.js", "widget.css"} <= set(sizes)
    assert sizes["loader.js"] <= LOADER_BUDGET, sizes
    assert sum(sizes.values()) <= TOTAL_BUDGET, sizes


# -- files ----------------------------------------------------------------------------


async def test_loader_is_served_small_cached_and_revalidated(server: LiveServer, http: httpx.AsyncClient) -> None:
    r = await http.get("/widget/loader.js", headers={"Accept-Encoding": "gzip"})
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("text/javascript")
    assert r.headers["content-encoding"] == "gzip" and int(r.headers["content-length"]) <= LOADER_BUDGET
    assert r.headers["cache-control"] == "public, max-age=300"
    assert r.headers["x-content-type-options"] == "nosniff"
    assert r.text == (WIDGET_DIR / "loader.js").read_text(encoding="utf-8")
    again = await http.get("/widget/loader.js", headers={"If-None-Match": r.headers["etag"]})
    assert again.status_code == 304 and again.content == b""
    plain = await http.get("/widget/loader.js", headers={"Accept-Encoding": "identity"})
    assert "content-encoding" not in plain.headers and plain.text == r.text


async def test_frame_page_is_framed_only_by_the_sites_origins(server: LiveServer, http: httpx.AsyncClient) -> None:
    site = await make_site(server)
    r = await http.get("/widget/frame", params={"site": site.public_key, "host": SHOP})
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/html")
    policy = csp(r)
    assert policy["frame-ancestors"] == f"http://localhost:8001 {SHOP}"
    assert policy["script-src"] == "'self'" and policy["default-src"] == "'none'"
    assert policy["connect-src"] == "'self' ws://127.0.0.1:8000"  # PUBLIC_URL's websocket origin
    assert "x-frame-options" not in r.headers
    assert r.headers["cache-control"] == "no-cache"
    # Normalized on the way in, as browsers send it.
    same = await http.get("/widget/frame", params={"site": site.public_key, "host": "HTTPS://Shop.Example:443"})
    assert same.status_code == 200

    for params, status in [
        ({"site": site.public_key, "host": "https://evil.example"}, 403),
        ({"site": site.public_key}, 422),
        ({"site": site.public_key, "host": "javascript:alert(1)"}, 422),
        ({"site": "st_nope", "host": SHOP}, 404),
        ({"host": SHOP}, 422),
    ]:
        refused = await http.get("/widget/frame", params=params)
        assert refused.status_code == status, (params, refused.text)
        assert csp(refused)["frame-ancestors"] == "'none'"
        assert "app.js" not in refused.text


async def test_iframe_files_live_under_their_build_and_are_cached_for_a_year(
    server: LiveServer, http: httpx.AsyncClient
) -> None:
    site = await make_site(server)
    page = (await http.get("/widget/frame", params={"site": site.public_key, "host": SHOP})).text
    paths = re.findall(r'(?:src|href)="(/widget/a/[^"]+)"', page)
    assert {p.rsplit("/", 1)[1] for p in paths} == {"app.js", "widget.css"}
    assert all(p.split("/")[3] == bundle().build for p in paths)
    for path in paths:
        r = await http.get(path)
        assert r.status_code == 200 and r.headers["cache-control"] == "public, max-age=31536000, immutable"
    # The modules app.js imports resolve next to it.
    for name in ("protocol.js", "chat.js", "forms.js", "dom.js", "i18n.js", "alerts.js"):
        r = await http.get(f"/widget/a/{bundle().build}/{name}")
        assert r.status_code == 200 and r.headers["content-type"].startswith("text/javascript")
    old = await http.get("/widget/a/0123456789ab/app.js")
    assert old.status_code == 200 and old.headers["cache-control"] == "no-cache"
    for name in ("frame.html", "README.md", "loader.js", "..%2Fchat%2Fsettings.py", "nope.js"):
        assert (await http.get(f"/widget/a/{bundle().build}/{name}")).status_code == 404, name


# -- config ---------------------------------------------------------------------------


async def test_config_has_defaults_and_refuses_unknown_sites(server: LiveServer, http: httpx.AsyncClient) -> None:
    site = await make_site(server)
    r = await http.get("/api/widget/config", params={"site": site.public_key})
    assert r.status_code == 200 and r.headers["cache-control"] == "no-store"
    body = r.json()
    assert body["site"] == {"name": "Acme <shop>", "default_language": "de"}
    assert body["language"] == "auto" and body["languages"] == ["en", "pt-BR", "de", "es", "ru"]
    assert body["prechat"]["enabled"] is True
    assert [f["name"] for f in body["prechat"]["fields"]] == list(widget.PRECHAT_FIELDS)
    assert {f["name"]: f["mode"] for f in body["prechat"]["fields"]}["description"] == "required"
    assert body["prechat"]["object_kinds"] == ["site", "device", "vehicle"]
    assert body["offline_form"] is True
    assert body["uploads"]["max_bytes"] == server.services.settings.max_upload_bytes
    assert "image/png" in body["uploads"]["types"] and "text/html" not in body["uploads"]["types"]
    assert body["max_message_chars"] == server.services.settings.max_message_chars
    assert body["agents_online"] is False

    missing = await http.get("/api/widget/config")
    assert missing.status_code == 422 and missing.json()["error"]["code"] == "validation_failed"
    unknown = await http.get("/api/widget/config", params={"site": "st_nope"})
    assert unknown.status_code == 404 and unknown.json()["error"]["code"] == "site_not_found"


async def test_agents_online_counts_connected_answering_staff(server: LiveServer, http: httpx.AsyncClient) -> None:
    site = await make_site(server)

    async def online() -> bool:
        r = await http.get("/api/widget/config", params={"site": site.public_key})
        return bool(r.json()["agents_online"])

    ws = server.ws_url + "/ws"
    readonly = await staff_token(server, "ro@x.example", Role.READ_ONLY)
    agent = await staff_token(server, "agent@x.example", Role.AGENT)
    async with ChatClient(ws, readonly):
        assert await online() is False  # read-only staff answer nobody
        async with ChatClient(ws, agent) as client:
            assert await online() is True
            await client.presence("away")
            await client.ping()  # the presence frame was handled
            assert await online() is False
            await client.presence("online")
            await client.ping()
            assert await online() is True


async def test_stored_settings_shape_the_config(server: LiveServer, http: httpx.AsyncClient) -> None:
    site = await make_site(server, widget={
        "language": "ru", "offline_form": False,
        "prechat": {"enabled": False, "fields": {"email": "required", "severity": "hidden"}, "object_kinds": ["vehicle"]},
    })
    body = (await http.get("/api/widget/config", params={"site": site.public_key})).json()
    modes = {f["name"]: f["mode"] for f in body["prechat"]["fields"]}
    assert body["language"] == "ru" and body["offline_form"] is False and body["prechat"]["enabled"] is False
    assert modes["email"] == "required" and modes["severity"] == "hidden" and modes["name"] == "optional"
    assert body["prechat"]["object_kinds"] == ["vehicle"]


async def test_broken_stored_settings_fall_back_to_defaults(server: LiveServer, http: httpx.AsyncClient) -> None:
    site = await make_site(server, widget={"language": "klingon"})
    r = await http.get("/api/widget/config", params={"site": site.public_key})
    assert r.status_code == 200 and r.json()["language"] == "auto"


# -- a site's widget settings ---------------------------------------------------------


async def test_support_admin_replaces_widget_settings(server: LiveServer, http: httpx.AsyncClient) -> None:
    site = await make_site(server)
    admin = bearer(await staff_token(server, "admin@x.example", Role.SUPPORT_ADMIN))
    url = f"/api/sites/{site.id}/widget"
    r = await http.get(url, headers=admin)
    assert r.status_code == 200 and r.json()["widget"] == widget.WidgetSettings().stored()
    wanted = {"language": "es", "prechat": {"fields": {"email": "required"}}}
    r = await http.put(url, json=wanted, headers=admin)
    assert r.status_code == 200, r.text
    assert r.json()["widget"]["language"] == "es" and r.json()["widget"]["prechat"]["fields"]["email"] == "required"
    config = (await http.get("/api/widget/config", params={"site": site.public_key})).json()
    assert config["language"] == "es"
    async with server.services.sessions() as db:
        stored = await db.scalar(select(Site.settings).where(Site.id == site.id))
    assert stored["widget"]["language"] == "es"

    for bad, words in [
        ({"language": "xx"}, "widget.language"),
        ({"colour": "red"}, "unknown key"),
        ({"prechat": {"fields": {"description": "hidden"}}}, "description"),
        ({"prechat": {"fields": {"shoe_size": "required"}}}, "shoe_size"),
        ({"prechat": {"fields": {"email": "sometimes"}}}, "email"),
        ({"prechat": {"object_kinds": ["planet"]}}, "planet"),
        ({"prechat": {"enabled": "yes"}}, "enabled"),
        ({"offline_form": 1}, "offline_form"),
    ]:
        refused = await http.put(url, json=bad, headers=admin)
        assert refused.status_code == 422, bad
        assert words in refused.json()["error"]["message"], (bad, refused.text)
    assert (await http.get(url, headers=admin)).json()["widget"]["language"] == "es"  # unchanged

    assert (await http.put("/api/sites/999999/widget", json={}, headers=admin)).status_code == 404
    agent = bearer(await staff_token(server, "agent@x.example", Role.AGENT))
    assert (await http.put(url, json={}, headers=agent)).status_code == 403
    assert (await http.get(url, headers=agent)).status_code == 403
    visitor = await http.post("/api/widget/session", json={"site": site.public_key})
    assert (await http.put(url, json={}, headers=bearer(visitor.json()["token"]))).status_code == 403
    assert (await http.put(url, json={})).status_code == 401


async def test_the_default_prechat_form_is_short(server: LiveServer, http: httpx.AsyncClient) -> None:
    """Issue 18: name, e-mail, category and the question; the rest is there for a site to turn on."""
    site = await make_site(server)
    body = (await http.get("/api/widget/config", params={"site": site.public_key})).json()
    shown = {f["name"]: f["mode"] for f in body["prechat"]["fields"] if f["mode"] != "hidden"}
    assert shown == {"name": "optional", "email": "optional", "category": "optional", "description": "required"}


async def test_support_admin_patches_some_widget_settings(server: LiveServer, http: httpx.AsyncClient) -> None:
    site = await make_site(server, widget={"language": "de", "prechat": {"fields": {"email": "required"}}})
    admin = bearer(await staff_token(server, "admin@x.example", Role.SUPPORT_ADMIN))
    url = f"/api/sites/{site.id}/widget"
    r = await http.patch(url, json={"prechat": {"fields": {"severity": "required", "affected_object": "optional"},
                                                "object_kinds": ["vehicle"]}}, headers=admin)
    assert r.status_code == 200, r.text
    saved = r.json()["widget"]
    # What the patch leaves out is kept (a PUT would have reset it to the defaults).
    assert saved["language"] == "de" and saved["prechat"]["fields"]["email"] == "required"
    assert saved["prechat"]["fields"]["severity"] == "required" and saved["prechat"]["object_kinds"] == ["vehicle"]
    config = (await http.get("/api/widget/config", params={"site": site.public_key})).json()
    modes = {f["name"]: f["mode"] for f in config["prechat"]["fields"]}
    assert modes == {"name": "optional", "email": "required", "category": "optional", "severity": "required",
                     "affected_object": "optional", "happened_at": "hidden", "description": "required"}

    for bad, words in [
        ({"prechat": {"fields": {"description": "hidden"}}}, "description"),
        ({"prechat": {"fields": {"shoe_size": "required"}}}, "shoe_size"),
        ({"prechat": {"fields": {"email": None}}}, "email"),
        ({"prechat": {"fields": ["email"]}}, "fields"),
        ({"prechat": "short"}, "prechat"),
        ({"prechat": {"object_kinds": [], "fields": {"affected_object": "optional"}}}, "object_kinds"),
        ({"language": "xx"}, "widget.language"),
        ({"colour": "red"}, "unknown key"),
    ]:
        refused = await http.patch(url, json=bad, headers=admin)
        assert refused.status_code == 422, bad
        assert refused.json()["error"]["code"] == "validation_failed"
        assert words in refused.json()["error"]["message"], (bad, refused.text)
    assert (await http.get(url, headers=admin)).json()["widget"] == saved  # nothing changed

    assert (await http.patch("/api/sites/999999/widget", json={}, headers=admin)).status_code == 404
    agent = bearer(await staff_token(server, "agent@x.example", Role.AGENT))
    assert (await http.patch(url, json={}, headers=agent)).status_code == 403
    assert (await http.patch(url, json={})).status_code == 401


async def test_widget_session_tells_the_users_chosen_language(server: LiveServer, http: httpx.AsyncClient) -> None:
    site = await make_site(server)
    visitor = (await http.post("/api/widget/session", json={"site": site.public_key})).json()
    assert visitor["user"]["language_chosen"] is False and "language" in visitor["user"]
    token = bearer(visitor["token"])
    assert (await http.get("/api/me", headers=token)).status_code == 200


# -- the pure settings parser ---------------------------------------------------------


def test_settings_parser_keeps_defaults_for_what_is_absent() -> None:
    parsed = widget.parse_settings({"prechat": {"fields": {"name": "required"}, "object_kinds": ["device", "device"]}})
    assert parsed.fields["name"] == "required" and parsed.fields["description"] == "required"
    assert parsed.object_kinds == ("device",)
    assert widget.parse_settings(None) == widget.WidgetSettings()
    assert widget.parse_settings(parsed.stored()) == parsed
    with pytest.raises(ValidationFailed, match="object_kinds"):
        widget.parse_settings({"prechat": {"object_kinds": [], "fields": {"affected_object": "optional"}}})
    assert widget.parse_settings({"prechat": {"object_kinds": []}}).object_kinds == ()  # hidden by default
    with pytest.raises(ValidationFailed, match="wrong type"):
        widget.parse_settings(["language"])


# -- the demo page --------------------------------------------------------------------


async def test_demo_page_embeds_the_widget_with_the_sites_one_line_snippet(db_url: str, tmp_path: Path) -> None:
    settings = make_settings(db_url, tmp_path / "var", DEMO_PAGE="true")
    async with live_server(settings) as server, httpx.AsyncClient(base_url=server.base_url) as http:
        await check_demo_page(server, http)


async def check_demo_page(server: LiveServer, http: httpx.AsyncClient) -> None:
    bare = await http.get("/")
    assert bare.status_code == 200 and "python -m chat demo" in bare.text and "loader.js\"" not in bare.text
    await seed_demo(server.services)
    async with server.services.sessions() as db:
        sites = list(await db.scalars(select(Site).where(Site.name == DEMO_SITE_NAME)))
    assert len(sites) == 1
    assert sites[0].allowed_origins == ["http://127.0.0.1:8000", "http://localhost:8000"]
    page = await http.get("/")
    tags = re.findall(r"<script\b[^>]*>", page.text)
    assert tags.count(directory.embed_snippet("http://127.0.0.1:8000", sites[0]).removesuffix("</script>")) == 1
    assert csp(page)["frame-src"] == "'self' http://127.0.0.1:8000"


async def test_demo_seeds_a_group_to_join_and_an_alert_once(db_url: str, tmp_path: Path) -> None:
    """Right after the run command: a group of the demo customer company with one member,
    a customer who may ask to join (and the reseller admin who approves), an alert — and
    the demo page's signed-in customer, who sees that alert in the widget."""
    settings = make_settings(db_url, tmp_path / "var", DEMO_PAGE="true")
    async with live_server(settings) as server, httpx.AsyncClient(base_url=server.base_url) as http:
        svc = server.services
        await seed_demo(svc)
        printed = await seed_demo(svc)  # again: nothing doubles, the member stays in; fresh passwords
        assert f"{DEMO_GROUP!r}" in printed and "/portal/" in printed and "/console/" in printed
        async with svc.sessions() as db:
            groups = list(await db.scalars(select(ChatGroup).where(ChatGroup.name == DEMO_GROUP)))
            alerts = list(await db.scalars(select(SystemAlert).where(SystemAlert.title == DEMO_ALERT)))
            assert len(groups) == 1 and len(alerts) == 1
            org = await directory.find_organization(db, "demo-customer")
            assert groups[0].organization_id == org.id and org.parent_id is not None
            member = await directory.find_user(db, MEMBER)
            customer = await directory.find_user(db, CUSTOMER)
            assert await active_member(db, groups[0].id, member.id) is not None
            assert await active_member(db, groups[0].id, customer.id) is None

        # Through the HTTP API with the printed logins' accounts: ask, approve, chat.
        def password_of(email: str) -> str:
            line = [row for row in printed.splitlines() if row.split()[1:2] == [email]][-1]  # role, e-mail, password
            return line.split()[-1]

        async def sign_in(email: str) -> dict[str, str]:
            r = await http.post("/api/auth/login", json={"email": email, "password": password_of(email)})
            assert r.status_code == 200, r.text
            return bearer(r.json()["token"])

        carla, ravi = await sign_in(CUSTOMER), await sign_in(RESELLER_ADMIN)
        asked = await http.post("/api/group-join-requests", json={"group": DEMO_GROUP}, headers=carla)
        assert asked.status_code == 201, asked.text
        decided = await http.post(f"/api/group-join-requests/{asked.json()['request']['id']}/approve", json={},
                                  headers=ravi)
        assert decided.status_code == 200 and decided.json()["request"]["status"] == "approved"
        listed = (await http.get("/api/alerts", headers=carla)).json()["alerts"]
        assert [a["title"] for a in listed] == [DEMO_ALERT]

        # The demo page as the site's signed-in customer: the snippet carries a valid hash.
        page = await http.get("/", params={"as": "customer"})
        user_id = re.search(r'<script [^>]*data-user-id="([^"]+)"', page.text)
        user_hash = re.search(r'<script [^>]*data-user-hash="([0-9a-f]{64})"', page.text)
        key = re.search(r'<script [^>]*data-site="([^"]+)"', page.text)
        assert user_id and user_hash and key and user_id.group(1) == DEMO_WIDGET_USER[0]
        session = await http.post("/api/widget/session", json={"site": key.group(1), "user_id": user_id.group(1),
                                                               "user_hash": user_hash.group(1)})
        assert session.status_code == 200 and session.json()["identified"] is True
        seen = (await http.get("/api/alerts", headers=bearer(session.json()["token"]))).json()["alerts"]
        assert [a["title"] for a in seen] == [DEMO_ALERT]
        anonymous = await http.get("/")
        assert "data-user-hash" not in anonymous.text and 'href="/?as=customer"' in anonymous.text


def test_demo_origins_add_the_loopback_twin_only() -> None:
    assert demo_origins("http://127.0.0.1:8000") == ["http://127.0.0.1:8000", "http://localhost:8000"]
    assert demo_origins("http://localhost") == ["http://127.0.0.1", "http://localhost"]
    assert demo_origins("https://chat.example.com/") == ["https://chat.example.com"]

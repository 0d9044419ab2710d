"""A world for the widget's browser tests: the product on its real address (PUBLIC_URL
names its port, as in production, so the iframe's websocket comes from the server's own
origin), and a second server on another port that plays the customer's website.

``localhost`` and ``127.0.0.1`` are different origins to a browser, so one host server
gives both an allowed page (``http://localhost:P``) and a foreign one (``http://127.0.0.1:P``).
"""

from __future__ import annotations

import html
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import httpx
from playwright.async_api import BrowserContext, FrameLocator, Page, expect
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import Route

from chat import directory, widget_sites
from chat.auth import login
from chat.client import ChatClient
from chat.clock import Clock, SystemClock
from chat.hub.hub import Hub
from chat.models import OrgKind, Role
from chat.services import Services
from tests.conftest import make_settings
from tests.support.live import live_server, serve
from tests.support.processes import free_port

PASSWORD = "correct horse battery"
TIMEOUT_MS = 10_000

# A message the server stored (not one still waiting in the outbox), as the widget shows it.
MESSAGES = "ol.log:not(.pending) > li.msg .bubble > p"

def host_site(widget_url: str) -> Starlette:
    """The customer's website: a page that embeds the widget with the one-line snippet,
    under a strict CSP of its own (the loader must not need inline styles or scripts)."""

    async def page(request: Request) -> Response:
        attrs = "".join(
            f' data-{name}="{html.escape(value)}"' for name, value in request.query_params.items()
        )
        body = (
            "<!doctype html><html><head><meta charset='utf-8'>"
            "<meta name='viewport' content='width=device-width, initial-scale=1'><title>Shop</title></head>"
            "<body><h1>Shop</h1>"
            f'<script src="{widget_url}/widget/loader.js"{attrs} async></script>'
            "</body></html>"
        )
        policy = f"default-src 'self'; script-src 'self' {widget_url}; frame-src {widget_url}; style-src 'self'"
        return HTMLResponse(body, headers={"Content-Security-Policy": policy})

    async def raw_frame(request: Request) -> Response:
        """A page that frames a widget URL directly, without the loader."""
        src = html.escape(request.query_params["src"])
        return HTMLResponse(f"<!doctype html><title>Framer</title><iframe id='raw' src='{src}'></iframe>")

    return Starlette(routes=[Route("/", page), Route("/iframe", raw_frame)])


@dataclass
class WidgetWorld:
    base_url: str
    ws_url: str
    services: Services
    hub: Hub
    site_key: str
    site_id: int
    shop: str  # the allowed customer site
    foreign: str  # the same pages on an origin the site does not allow

    def page_url(self, origin: str | None = None, **attrs: str) -> str:
        return (origin or self.shop) + "/?" + urlencode({"site": self.site_key, **attrs})

    async def staff(self, email: str, name: str, role: Role = Role.AGENT) -> str:
        await directory.create_user(self.services, None, email=email, role=role, password=PASSWORD, name=name)
        return (await login(self.services, email, PASSWORD, address="127.0.0.1", user_agent="test")).token

    def client(self, token: str) -> ChatClient:
        return ChatClient(self.ws_url + "/ws", token, timeout=10)

    async def api(self, token: str, method: str, path: str, body: object = None, status: int = 200) -> Any:
        """Call the HTTP API as ``token``; the decoded answer, which must have ``status``."""
        async with httpx.AsyncClient(base_url=self.base_url, timeout=10) as http:
            r = await http.request(method, path, json=body, headers={"Authorization": f"Bearer {token}"})
        assert r.status_code == status, r.text
        return r.json()

    async def prechat_fields(self, **modes: str) -> None:
        """Change the site's pre-chat fields (``severity="optional"``), as an operator would."""
        await widget_sites.patch_widget_settings(self.services, None, self.site_id, {"prechat": {"fields": modes}})

    async def newest_conversation(self, token: str) -> dict[str, Any]:
        found = (await self.api(token, "GET", "/api/conversations?limit=1"))["conversations"]
        assert found, "no conversation yet"
        return dict(found[0])


@asynccontextmanager
async def widget_world(sqlite_url: str, var_dir: Path, clock: Clock | None = None) -> AsyncIterator[WidgetWorld]:
    """``clock``: the server's (a ManualClock the test moves); the real one by default."""
    port, shop_port = free_port(), free_port()
    base = f"http://127.0.0.1:{port}"
    settings = make_settings(sqlite_url, var_dir, PUBLIC_URL=base)
    async with live_server(settings, clock or SystemClock(), port=port, collect_garbage=True) as live, \
            serve(host_site(base), shop_port):
        svc = live.services
        shop = f"http://localhost:{shop_port}"
        org = (await directory.create_organization(svc, None, name="Acme", kind=OrgKind.CUSTOMER)).organization
        site = (await directory.create_site(svc, None, name="Acme shop", allowed_origins=[shop], organization=org.id)).site
        yield WidgetWorld(
            base_url=base, ws_url=live.ws_url, services=svc, hub=live.hub, site_key=site.public_key,
            site_id=site.id, shop=shop, foreign=f"http://127.0.0.1:{shop_port}",
        )


async def open_widget(page: Page) -> FrameLocator:
    """Click the launcher and wait for the chat to be up; the iframe's locator."""
    await page.locator("#supportchat button").first.click()
    frame = page.frame_locator("#supportchat iframe")
    await frame.locator(".head").wait_for(timeout=TIMEOUT_MS)
    return frame


async def new_page(context: BrowserContext) -> Page:
    page = await context.new_page()
    page.set_default_timeout(TIMEOUT_MS)
    return page


async def start_chat(frame: FrameLocator, description: str) -> None:
    """Fill the pre-chat form's description and start; returns once it shows as stored."""
    await frame.locator("#f-description").fill(description)
    await frame.get_by_role("button", name="Start the chat").click()
    await expect(frame.locator(MESSAGES).first).to_contain_text(description)

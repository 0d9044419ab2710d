"""The demo page served at ``/`` on the embedded default. It embeds the chat widget
exactly as a customer's website would: the one ``<script>`` tag of the demo site's
snippet, nothing else."""

from __future__ import annotations

import html
from pathlib import Path

from sqlalchemy import select
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response

from chat.demo import DEMO_SITE_NAME
from chat.directory import embed_snippet
from chat.http.common import services
from chat.models import Site
from chat.validation import origin

_TEMPLATE = (Path(__file__).parent.parent / "templates" / "demo.html").read_text(encoding="utf-8")


async def demo_page(request: Request) -> Response:
    svc = services(request)
    public_url = svc.settings.public_url
    async with svc.reads() as db:
        site = await db.scalar(select(Site).where(Site.name == DEMO_SITE_NAME))
    if site is not None:
        snippet = embed_snippet(public_url, site)
        shown = f"<pre><code>{html.escape(snippet)}</code></pre>\n{snippet}"
    else:
        shown = "<p>No demo site yet: run <code>python -m chat demo</code> and reload this page.</p>"
    page = _TEMPLATE.replace("{{public_url}}", html.escape(public_url)).replace("{{widget}}", shown)
    server = origin(public_url, "PUBLIC_URL")
    # Reached as localhost while PUBLIC_URL says 127.0.0.1 (or the reverse), the widget's
    # files still come from PUBLIC_URL, so it is named next to 'self'.
    policy = (
        f"default-src 'self'; script-src 'self' 'unsafe-inline' {server}; style-src 'self' 'unsafe-inline'; "
        f"frame-src 'self' {server}; connect-src 'self'"
    )
    return HTMLResponse(page, headers={"Content-Security-Policy": policy})

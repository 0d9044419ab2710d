"""The demo page served at ``/`` on the embedded default. It embeds the chat widget
exactly as a customer's website would: the one ``<script>`` tag of the demo site's
snippet, nothing else — at ``/?as=customer`` with the demo site's signed-in user, signed
by this server as a customer's backend signs its users (docs/widget.md)."""

from __future__ import annotations

import html
from pathlib import Path

from starlette.requests import Request
from starlette.responses import HTMLResponse, Response

from chat.auth import identity_hash
from chat.demo import DEMO_WIDGET_USER, demo_site
from chat.directory import embed_snippet
from chat.http.common import services
from chat.models import Site
from chat.validation import origin

_TEMPLATE = (Path(__file__).parent.parent / "templates" / "demo.html").read_text(encoding="utf-8")


async def demo_page(request: Request) -> Response:
    svc = services(request)
    public_url = svc.settings.public_url
    site = await demo_site(svc)
    if site is not None:
        identified = request.query_params.get("as") == "customer"
        snippet = _identified_snippet(public_url, site) if identified else embed_snippet(public_url, site)
        shown = f"{_ABOUT[identified]}\n<pre><code>{html.escape(snippet)}</code></pre>\n{snippet}"
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


_ABOUT = {
    False: '<p>You are an anonymous visitor. <a href="/?as=customer">Be the site\'s signed-in customer</a> '
           "(a user of Demo Customer Co: the widget also shows the company's system alerts).</p>",
    True: f"<p>You are {html.escape(DEMO_WIDGET_USER[1])}, signed in to the demo site: a user of Demo Customer Co, "
          'who also sees the company\'s system alerts (the bell in the widget). <a href="/">Be anonymous</a>.</p>',
}


def _identified_snippet(public_url: str, site: Site) -> str:
    """The snippet with the site's signed-in user, their id signed with the site's identity
    secret — what a customer's backend computes; the secret never reaches the page."""
    user_id, name = DEMO_WIDGET_USER
    signed = identity_hash(site.identity_secret, user_id)
    return (f'<script src="{public_url}/widget/loader.js" data-site="{site.public_key}" '
            f'data-user-id="{html.escape(user_id)}" data-user-hash="{signed}" data-user-name="{html.escape(name)}" '
            "async></script>")

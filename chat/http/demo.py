"""The demo page served at ``/`` on the embedded default."""

from __future__ import annotations

from pathlib import Path

from starlette.requests import Request
from starlette.responses import HTMLResponse, Response

from chat.http.common import services

_TEMPLATE = (Path(__file__).parent.parent / "templates" / "demo.html").read_text(encoding="utf-8")


async def demo_page(request: Request) -> Response:
    settings = services(request).settings
    html = _TEMPLATE.replace("{{public_url}}", settings.public_url)
    return HTMLResponse(html, headers={"Content-Security-Policy": "default-src 'self'; script-src 'self' 'unsafe-inline'; style-src 'self' 'unsafe-inline'"})

"""The widget over HTTP: the loader script, the iframe page (which only the site's allowed
origins may frame), the iframe app's static files, the public widget configuration, and
the support admin's widget settings of a site."""

from __future__ import annotations

import gzip
import hashlib
import html
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import BaseRoute, Route

from chat import validation, widget_sites
from chat.desk import visitor_context
from chat.errors import AppError
from chat.http.common import JSON, current, path_id, read_json, services

WIDGET_DIR = Path(__file__).resolve().parents[2] / "static" / "widget"
LOADER = "loader.js"
FRAME = "frame.html"
_TYPES = {".js": "text/javascript; charset=utf-8", ".css": "text/css; charset=utf-8"}

# The loader's URL is pasted into customers' pages and never changes, so it is cached
# briefly: a release reaches every page within minutes. The iframe app's files live under
# a path named after their content, so they can be cached for a year.
LOADER_CACHE = "public, max-age=300"
ASSET_CACHE = "public, max-age=31536000, immutable"


@dataclass(frozen=True)
class Asset:
    body: bytes
    gzipped: bytes
    content_type: str
    etag: str


def _asset(body: bytes, content_type: str) -> Asset:
    digest = hashlib.sha256(body).hexdigest()[:20]
    return Asset(body, gzip.compress(body, 9, mtime=0), content_type, f'"{digest}"')


@dataclass(frozen=True)
class Bundle:
    loader: Asset
    frame_template: str
    files: dict[str, Asset]
    build: str
    """A digest of every iframe file: the path segment that makes year-long caching safe."""


@cache
def bundle() -> Bundle:
    """The widget's files, read once per process (they change only with a release)."""
    files = {
        path.name: _asset(path.read_bytes(), _TYPES[path.suffix])
        for path in sorted(WIDGET_DIR.iterdir())
        if path.suffix in _TYPES and path.name != LOADER
    }
    build = hashlib.sha256(b"".join(name.encode() + a.body for name, a in sorted(files.items()))).hexdigest()[:12]
    return Bundle(
        loader=_asset((WIDGET_DIR / LOADER).read_bytes(), _TYPES[".js"]),
        frame_template=(WIDGET_DIR / FRAME).read_text(encoding="utf-8"),
        files=files,
        build=build,
    )


def _serve(request: Request, asset: Asset, cache_control: str) -> Response:
    headers = {
        "Cache-Control": cache_control,
        "ETag": asset.etag,
        "Vary": "Accept-Encoding",
        "X-Content-Type-Options": "nosniff",
        # The loader runs on customers' pages, some of which isolate themselves (COEP).
        "Cross-Origin-Resource-Policy": "cross-origin",
    }
    if asset.etag in request.headers.get("if-none-match", ""):
        return Response(status_code=304, headers=headers)
    if "gzip" in request.headers.get("accept-encoding", ""):
        return Response(asset.gzipped, media_type=asset.content_type, headers={**headers, "Content-Encoding": "gzip"})
    return Response(asset.body, media_type=asset.content_type, headers=headers)


async def loader(request: Request) -> Response:
    return _serve(request, bundle().loader, LOADER_CACHE)


async def asset(request: Request) -> Response:
    found = bundle().files.get(request.path_params["name"])
    if found is None:
        return JSON({"error": {"code": "not_found", "message": "no such widget file"}}, status_code=404)
    # A page of an older release may still ask for its build: it gets today's files,
    # but not cached for a year under the old name.
    current_build = request.path_params["build"] == bundle().build
    return _serve(request, found, ASSET_CACHE if current_build else "no-cache")


def _socket_origin(public_url: str) -> str:
    """``ws://host[:port]`` (or ``wss://``) of the server: CSP's 'self' covers websockets
    only in newer browsers."""
    parts = urlsplit(public_url)
    return ("wss" if parts.scheme == "https" else "ws") + "://" + parts.netloc


def _frame_policy(public_url: str, ancestors: list[str]) -> str:
    return "; ".join([
        "default-src 'none'",
        "script-src 'self'",
        "style-src 'self'",
        # Attachments are fetched with the visitor's token and shown as blob: URLs.
        "img-src 'self' blob:",
        "media-src 'self' blob:",
        f"connect-src 'self' {_socket_origin(public_url)}",
        "base-uri 'none'",
        "form-action 'none'",
        "frame-ancestors " + (" ".join(ancestors) if ancestors else "'none'"),
    ])


def _refusal(status: int, message: str) -> HTMLResponse:
    body = (
        '<!doctype html><meta charset="utf-8"><title>Support chat</title>'
        f"<p>{html.escape(message)}</p>"
    )
    return HTMLResponse(body, status_code=status, headers={
        "Content-Security-Policy": "default-src 'none'; frame-ancestors 'none'",
        "Cache-Control": "no-store",
    })


async def frame(request: Request) -> Response:
    """``GET /widget/frame?site=KEY&host=ORIGIN`` — the iframe app's page.

    ``host`` is the embedding page's origin, the only one the app will talk to with
    ``postMessage``. It must be one of the site's allowed origins, and the page's
    ``frame-ancestors`` lists exactly those, so a page elsewhere cannot frame the widget
    (and lying about ``host`` would only aim the app's messages at a window that is not
    its parent)."""
    svc = services(request)
    try:
        site = await widget_sites.site_by_key(svc, request.query_params.get("site"))
    except AppError as exc:
        return _refusal(exc.status, "This chat widget is not set up for this site.")
    allowed = [o for o in site.allowed_origins if _is_clean_origin(o)]
    try:
        host = validation.origin(request.query_params.get("host") or "", "host")
    except AppError:
        return _refusal(422, "The chat widget needs the embedding page's origin.")
    if host not in allowed:
        return _refusal(403, "The chat widget is not allowed on this site.")
    page = bundle().frame_template.replace("{{assets}}", f"/widget/a/{bundle().build}")
    return HTMLResponse(page, headers={
        "Content-Security-Policy": _frame_policy(svc.settings.public_url, allowed),
        "Cache-Control": "no-cache",
        "Referrer-Policy": "no-referrer",
        "X-Content-Type-Options": "nosniff",
    })


def _is_clean_origin(value: str) -> bool:
    # Stored origins were normalized on the way in; anything else must never reach a
    # header where a space or a semicolon would widen the policy.
    try:
        return validation.origin(value) == value
    except AppError:
        return False


async def config(request: Request) -> Response:
    """``GET /api/widget/config?site=KEY`` — public: everything the widget needs before
    the visitor has a token."""
    svc = services(request)
    site = await widget_sites.site_by_key(svc, request.query_params.get("site"))
    return JSON(await widget_sites.public_config(svc, site), headers={"Cache-Control": "no-store"})


async def get_settings(request: Request) -> Response:
    principal, _ = await current(request)
    found = await widget_sites.widget_settings(services(request), principal, path_id(request, "site_id"))
    return JSON({"widget": found.stored()})


async def put_settings(request: Request) -> Response:
    principal, _ = await current(request)
    raw: dict[str, Any] = await read_json(request, dict[str, Any])
    saved = await widget_sites.replace_widget_settings(services(request), principal, path_id(request, "site_id"), raw)
    return JSON({"widget": saved.stored()})


async def patch_settings(request: Request) -> Response:
    principal, _ = await current(request)
    raw: dict[str, Any] = await read_json(request, dict[str, Any])
    saved = await widget_sites.patch_widget_settings(services(request), principal, path_id(request, "site_id"), raw)
    return JSON({"widget": saved.stored()})


async def report_context(request: Request) -> Response:
    """``POST /api/widget/context`` — the visitor's widget says where they are
    (chat.desk.visitor_context); the browser is read from the User-Agent header."""
    principal, _ = await current(request)
    report = await read_json(request, visitor_context.ContextReport)
    await visitor_context.report_context(services(request), principal, report, request.headers.get("user-agent"))
    return Response(status_code=204)


ROUTES: list[BaseRoute] = [
    Route("/widget/loader.js", loader, methods=["GET"]),
    Route("/widget/frame", frame, methods=["GET"]),
    Route("/widget/a/{build}/{name}", asset, methods=["GET"]),
    Route("/api/widget/config", config, methods=["GET"]),
    Route("/api/widget/context", report_context, methods=["POST"]),
    Route("/api/sites/{site_id}/widget", get_settings, methods=["GET"]),
    Route("/api/sites/{site_id}/widget", put_settings, methods=["PUT"]),
    Route("/api/sites/{site_id}/widget", patch_settings, methods=["PATCH"]),
]

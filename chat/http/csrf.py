"""Cross-site request forgery defence for requests the session cookie authenticates.

The console's session cookie is ``SameSite=Strict``: a cross-*site* page cannot make the
browser send it. A *same-site* page on another origin (a sibling subdomain, another port
of the same host) can: the probe of issue 20 auto-submitted a form from one and disabled
a user with the admin's cookie. Handlers that read no JSON body (disable, enable, logout,
close, uploads as ``text/plain``) had no other guard.

So every unsafe request (POST, PUT, PATCH, DELETE) that carries the cookie and no
``Authorization`` header — the cookie is what would authenticate it — must:

* carry ``X-Requested-With: supportchat``. An HTML form cannot set a header, and a
  cross-origin ``fetch`` with one needs a CORS preflight this server never grants;
* not come from another origin: ``Sec-Fetch-Site`` (set by the browser, not by page
  scripts) must not be ``cross-site`` or ``same-site``, and an ``Origin`` header, when
  present, must be this server's own.

Refused with 403 ``csrf_failed`` before any handler runs. Bearer requests (the widget on
its sites, API clients) are not ambient credentials and pass. Endpoints that never read
the cookie — they act on a password, or on a signed token in the body or the URL — pass
too (:data:`NOT_BY_COOKIE`): the two posted by plain HTML forms on the pages e-mail links
open must, and a client signing in again must not trip over its old cookie.
"""

from __future__ import annotations

from http.cookies import CookieError, SimpleCookie
from urllib.parse import urlsplit

from starlette.datastructures import Headers
from starlette.types import ASGIApp, Receive, Scope, Send

from chat.http.common import SESSION_COOKIE, error_response

CSRF_HEADER = "x-requested-with"
CSRF_HEADER_VALUE = "supportchat"
UNSAFE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
NOT_BY_COOKIE = frozenset({
    # The token in the query string; posted by a plain <form> (and by mail clients'
    # one-click unsubscribe): chat.http.mail_pages, chat.http.mail_routes.
    "/mail/rate", "/mail/unsubscribe",
    # A password or a signed link in a JSON body (a cross-origin JSON post needs a preflight).
    "/api/auth/login", "/api/auth/password/forgot", "/api/auth/password/reset", "/api/auth/invitation/accept",
    "/api/widget/session",
})
# The browser's own word on where a request comes from; page scripts cannot set it.
_FOREIGN_FETCH_SITES = frozenset({"cross-site", "same-site"})


def _origin_of(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}".lower()


def _has_session_cookie(headers: Headers) -> bool:
    for value in headers.getlist("cookie"):
        jar: SimpleCookie = SimpleCookie()
        try:
            jar.load(value)
        except CookieError:
            # Unparseable: treat as carrying it (refusing a forged request beats passing one).
            return SESSION_COOKIE in value
        if SESSION_COOKIE in jar:
            return True
    return False


class CsrfMiddleware:
    """Pure ASGI (no body buffering): refuses a cookie-authenticated unsafe request that
    lacks the header or comes from a foreign origin; everything else passes untouched."""

    def __init__(self, app: ASGIApp, *, public_url: str) -> None:
        self.app = app
        self.public_origin = _origin_of(public_url)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["method"] in UNSAFE_METHODS and scope["path"] not in NOT_BY_COOKIE:
            reason = self.refusal(scope)
            if reason is not None:
                await error_response("csrf_failed", reason, 403)(scope, receive, send)
                return
        await self.app(scope, receive, send)

    def refusal(self, scope: Scope) -> str | None:
        headers = Headers(scope=scope)
        if "authorization" in headers or not _has_session_cookie(headers):
            return None  # not the cookie that authenticates this request
        if headers.get(CSRF_HEADER, "").strip().lower() != CSRF_HEADER_VALUE:
            return f"a request signed in by cookie must carry the header X-Requested-With: {CSRF_HEADER_VALUE}"
        if headers.get("sec-fetch-site", "").strip().lower() in _FOREIGN_FETCH_SITES:
            return "a request signed in by cookie must come from this server's own pages"
        origin = headers.get("origin")
        if origin is not None and origin.strip().lower() not in self._own_origins(scope, headers):
            return "a request signed in by cookie must come from this server's own pages"
        return None

    def _own_origins(self, scope: Scope, headers: Headers) -> set[str]:
        # PUBLIC_URL, and the host the request was sent to (uvicorn has applied a trusted
        # proxy's X-Forwarded-Proto to the scheme): one deployment may answer on both.
        own = {self.public_origin}
        host = headers.get("host")
        if host:
            own.add(f"{scope.get('scheme', 'http')}://{host}".lower())
        return own

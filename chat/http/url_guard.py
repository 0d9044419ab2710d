"""Refuse URLs that carry control characters, before any handler reads them.

A path or query value is text that may reach the database (a support group's key, a
block-list pattern, a search). PostgreSQL cannot store or compare a NUL character at all
and answers such a statement with an error — which surfaced as a 500 for ``%00`` in a
path (found by tests/chat/http/test_fuzz_edges.py). No legitimate URL of this API holds a
control character, so one guard at the edge answers them all with a documented 400.
"""

from __future__ import annotations

import re
from urllib.parse import unquote_plus

from starlette.types import ASGIApp, Receive, Scope, Send

from chat.http.common import error_response

# C0 controls and DEL; a tab or newline has no business in a URL either.
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def has_control_characters(scope: Scope) -> bool:
    query = scope.get("query_string", b"").decode("latin-1")
    return bool(_CONTROL.search(scope.get("path", "")) or _CONTROL.search(unquote_plus(query)))


class UrlGuardMiddleware:
    """Pure ASGI: 400 ``bad_request`` for an HTTP request whose decoded path or query
    holds a control character; everything else passes untouched."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and has_control_characters(scope):
            response = error_response("bad_request", "the URL must not contain control characters (such as %00)", 400)
            await response(scope, receive, send)
            return
        await self.app(scope, receive, send)

"""Impersonation and the audit log over HTTP (issue 20, item 2).

``POST /api/users/{id}/impersonate`` answers the customer's session token. The console
(a bearer client) hands it to the portal tab; a client signed in by the cookie alone gets
it as its session cookie, its own kept in a second HttpOnly cookie that
``POST /api/impersonation/end`` puts back. The use cases (:mod:`chat.impersonation`,
:mod:`chat.audit`) authorize.
"""

from __future__ import annotations

from datetime import UTC, datetime

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from chat import audit, impersonation, validation
from chat.auth import authenticate
from chat.errors import AppError, ValidationFailed
from chat.http.common import (
    JSON,
    SESSION_COOKIE,
    Strict,
    client_address,
    current,
    int_query,
    path_id,
    read_json,
    services,
)
from chat.http.views import UserView

# The admin's own session while their browser is signed in as a customer: HttpOnly like
# the session cookie, and only ever read by ``end`` to put it back.
IMPERSONATOR_COOKIE = "sc_impersonator"
# Ids in queries are checked against the storage's range before they reach SQL.


class ImpersonateBody(Strict):
    reason: str


def _set_cookie(request: Request, response: Response, name: str, value: str, max_age: int) -> None:
    response.set_cookie(name, value, max_age=max_age, httponly=True, samesite="strict",
                        secure=services(request).settings.cookie_secure, path="/")


async def start(request: Request) -> Response:
    principal, _ = await current(request)
    user_id = path_id(request, "user_id")
    body = await read_json(request, ImpersonateBody)
    started = await impersonation.start(
        services(request), principal, user_id, body.reason, address=client_address(request),
        user_agent=request.headers.get("user-agent"),
    )
    response = JSON(
        {
            "token": started.token,
            "expires_at": started.session.expires_at.isoformat(),
            "user": UserView.of(started.target),
            "impersonator": {"id": started.impersonator.id, "name": started.impersonator.name},
            "reason": started.session.impersonation_reason,
        },
        status_code=201,
    )
    own = request.cookies.get(SESSION_COOKIE)
    if own and "authorization" not in request.headers:
        # Only a client signed in by the cookie alone switches its cookie (and gets its own
        # back at the end). A bearer client — the console keeps its token per tab — keeps its
        # session as it is and uses the answered token where it acts as the customer.
        ttl = impersonation.IMPERSONATION_MINUTES * 60
        _set_cookie(request, response, IMPERSONATOR_COOKIE, own, services(request).settings.session_ttl_seconds)
        _set_cookie(request, response, SESSION_COOKIE, started.token, ttl)
    return response


async def end(request: Request) -> Response:
    principal, _ = await current(request)
    ended = await impersonation.end(services(request), principal)
    if "authorization" in request.headers:
        # A bearer client (the portal tab): the browser's cookies are the admin's own
        # business (the console's sign-in set one) and stay as they are.
        return JSON({"ended": True, "restored": False})
    own = request.cookies.get(IMPERSONATOR_COOKIE)
    restored = False
    if own:
        try:
            mine, _ = await authenticate(services(request), own)
            restored = mine.user_id == ended.impersonator_id and not mine.impersonated
        except AppError:
            restored = False  # the admin's own session ended meanwhile: they sign in again
    response = JSON({"ended": True, "restored": restored})
    response.delete_cookie(IMPERSONATOR_COOKIE, path="/")
    if restored and own:
        _set_cookie(request, response, SESSION_COOKIE, own, services(request).settings.session_ttl_seconds)
    else:
        response.delete_cookie(SESSION_COOKIE, path="/")
    return response


async def status(request: Request) -> Response:
    principal, _ = await current(request)
    return JSON({
        "impersonation": await impersonation.current(services(request), principal),
        "may_impersonate": impersonation.may_impersonate(services(request), principal),
    })


async def access_log(request: Request) -> Response:
    principal, _ = await current(request)
    return JSON({"sessions": await impersonation.access_log(services(request), principal)})


def _id_query(request: Request, name: str) -> int | None:
    return int_query(request, name, 1, validation.MAX_ID)


def _time_query(request: Request, name: str) -> datetime | None:
    raw = request.query_params.get(name)
    if raw is None or raw == "":
        return None
    try:
        value = datetime.fromisoformat(raw)
    except ValueError:
        raise ValidationFailed(f"{name} must be an ISO 8601 date or instant") from None
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


def _text_query(request: Request, name: str, max_length: int) -> str | None:
    raw = request.query_params.get(name)
    if raw is None or raw == "":
        return None
    if len(raw) > max_length:
        raise ValidationFailed(f"{name} must be at most {max_length} characters")
    return raw


async def list_audit(request: Request) -> Response:
    principal, _ = await current(request)
    limit = request.query_params.get("limit")
    if limit is not None and not (limit.isascii() and limit.isdigit() and 1 <= int(limit) <= audit.PAGE_MAX):
        raise ValidationFailed(f"limit must be an integer from 1 to {audit.PAGE_MAX}")
    wanted = audit.AuditFilter(
        actor_id=_id_query(request, "actor"),
        on_behalf_of_id=_id_query(request, "on_behalf_of"),
        action=_text_query(request, "action", audit.ACTION_MAX),
        target_kind=_text_query(request, "target_kind", audit.TARGET_KIND_MAX),
        target_id=_text_query(request, "target_id", audit.TARGET_ID_MAX),
        since=_time_query(request, "since"),
        until=_time_query(request, "until"),
        before_id=_id_query(request, "before"),
        limit=int(limit) if limit else audit.PAGE_DEFAULT,
    )
    page = await audit.list_entries(services(request), principal, wanted)
    return JSON({"entries": page.entries, "next_before": page.next_before_id})


ROUTES = [
    Route("/api/users/{user_id}/impersonate", start, methods=["POST"]),
    Route("/api/impersonation", status, methods=["GET"]),
    Route("/api/impersonation/end", end, methods=["POST"]),
    Route("/api/account/access-log", access_log, methods=["GET"]),
    Route("/api/audit", list_audit, methods=["GET"]),
]

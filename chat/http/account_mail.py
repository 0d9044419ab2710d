"""Accounts by e-mail over HTTP (issue 15, item 6): "forgot password", the reset and
invitation links' pages, and their JSON API (docs/http.md, "Accounts by e-mail").

The pages come from the mail-link kit (:mod:`chat.http.pages`), speak the language of the
user a link names (else the browser's), and post through the JSON API with one small
script (``/console/js/password.js``). A link that cannot be used is a human page with its
4xx status, never a JSON error or a 500.
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import BaseRoute, Route

from chat.http.common import JSON, SESSION_COOKIE, Strict, client_address, current, path_id, read_json, services
from chat.http.pages import PageSet, pick_language
from chat.http.views import UserView
from chat.mail import accounts
from chat.passwords import MAX_PASSWORD_LENGTH, MIN_PASSWORD_LENGTH
from chat.tokens import Purpose

# The page's own script (same origin) and its calls to the API; nothing else.
ACCOUNT_PAGES = PageSet("account_pages", scripts=True)


def _page(template: str, language: str, status: int = 200, **context: Any) -> HTMLResponse:
    return ACCOUNT_PAGES.render(
        template, language, status, min_length=MIN_PASSWORD_LENGTH, max_length=MAX_PASSWORD_LENGTH, **context
    )


def _language(request: Request, preferred: str | None = None) -> str:
    return pick_language(preferred, request.headers.get("accept-language"))


# -- pages -------------------------------------------------------------------------------


async def forgot_page(request: Request) -> Response:
    """``GET /account/forgot[?email=…]``: the form, in the browser's language."""
    language = _language(request)
    email = request.query_params.get("email", "")[:320]
    s = ACCOUNT_PAGES.strings[language]
    return _page("forgot.html", language, title=s["forgot_title"], action="forgot", submit=s["forgot_submit"],
                 token="", email=email)


async def _link_page(request: Request, purpose: Purpose) -> Response:
    """The form a reset or invitation link opens, in the language of the user it names
    (else the browser's), or why the link cannot be used with the refusal's status."""
    token = request.query_params.get("t", "")
    action = "reset" if purpose is Purpose.PASSWORD_RESET else "invitation"
    try:
        target = await accounts.inspect_link(services(request), purpose, token)
    except accounts.LinkRefusal as exc:
        return _page("refused.html", _language(request, exc.language), exc.status, code=exc.code, action=action,
                     again=action == "reset")
    language = _language(request, target.language)
    s = ACCOUNT_PAGES.strings[language]
    return _page(f"{action}.html", language, title=s[f"{action}_title"], action=action, submit=s[f"{action}_submit"],
                 token=token, email=target.email or "", name=target.name)


async def reset_page(request: Request) -> Response:
    """``GET /account/reset?t=…``: the form, or why the link cannot be used. Spends nothing."""
    return await _link_page(request, Purpose.PASSWORD_RESET)


async def invitation_page(request: Request) -> Response:
    """``GET /account/invitation?t=…``: the form, or why the link cannot be used. Spends nothing."""
    return await _link_page(request, Purpose.INVITATION)


# -- API -----------------------------------------------------------------------------------


class ForgotBody(Strict):
    email: str


async def forgot(request: Request) -> Response:
    body = await read_json(request, ForgotBody)
    await accounts.request_password_reset(services(request), body.email, address=client_address(request))
    # The same answer for an account, a disabled one, a visitor and no account at all.
    return JSON({"status": "sent"}, status_code=202)


class ResetBody(Strict):
    token: str
    password: str


async def reset(request: Request) -> Response:
    body = await read_json(request, ResetBody)
    user = await accounts.reset_password(services(request), body.token, body.password)
    return JSON({"status": "password_set", "sign_in_url": accounts.sign_in_path(user.role)})


class AcceptBody(Strict):
    token: str
    password: str
    name: str | None = None


async def accept_invitation(request: Request) -> Response:
    body = await read_json(request, AcceptBody)
    svc = services(request)
    result = await accounts.accept_invitation(
        svc, body.token, body.password, name=body.name, address=client_address(request),
        user_agent=request.headers.get("user-agent"),
    )
    # What POST /api/auth/login answers, cookie included, plus where to go next.
    response = JSON({
        "token": result.token, "expires_at": result.session.expires_at.isoformat(), "user": UserView.of(result.user),
        "sign_in_url": accounts.sign_in_path(result.user.role),
    })
    response.set_cookie(
        SESSION_COOKIE, result.token, max_age=svc.settings.session_ttl_seconds, httponly=True, samesite="strict",
        secure=svc.settings.cookie_secure, path="/",
    )
    return response


async def resend_invitation(request: Request) -> Response:
    principal, _ = await current(request)
    queued = await accounts.send_invitation(services(request), principal, path_id(request, "user_id"))
    return JSON({"queued": queued}, status_code=202)


ROUTES: list[BaseRoute] = [
    Route("/account/forgot", forgot_page, methods=["GET"]),
    Route("/account/reset", reset_page, methods=["GET"]),
    Route("/account/invitation", invitation_page, methods=["GET"]),
    Route("/api/auth/password/forgot", forgot, methods=["POST"]),
    Route("/api/auth/password/reset", reset, methods=["POST"]),
    Route("/api/auth/invitation/accept", accept_invitation, methods=["POST"]),
    Route("/api/users/{user_id}/invite", resend_invitation, methods=["POST"]),
]

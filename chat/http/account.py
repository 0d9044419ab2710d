"""Sign-in, sign-out, the caller's own profile, and widget visitor sessions."""

from __future__ import annotations

from typing import Any

from msgspec import UNSET, UnsetType
from starlette.requests import Request
from starlette.responses import Response

from chat import auth, directory, visitor_limits
from chat.errors import Unauthenticated
from chat.http.common import JSON, SESSION_COOKIE, Strict, client_address, current, read_json, services
from chat.http.views import OrganizationView, UserView


class LoginBody(Strict):
    email: str
    password: str


async def login(request: Request) -> Response:
    body = await read_json(request, LoginBody)
    svc = services(request)
    result = await auth.login(
        svc, body.email, body.password, address=client_address(request), user_agent=request.headers.get("user-agent")
    )
    response = JSON(
        {"token": result.token, "expires_at": result.session.expires_at.isoformat(), "user": UserView.of(result.user)}
    )
    # The console uses the cookie (HttpOnly: page scripts never see it); API clients use
    # the token from the body as a Bearer header.
    response.set_cookie(
        SESSION_COOKIE,
        result.token,
        max_age=svc.settings.session_ttl_seconds,
        httponly=True,
        samesite="strict",
        secure=svc.settings.cookie_secure,
        path="/",
    )
    return response


async def logout(request: Request) -> Response:
    principal, _ = await current(request)
    if principal.session_id is None:
        raise Unauthenticated("only a signed-in session can sign out; widget visitors just forget their token",
                              code="not_a_session")
    await auth.logout(services(request), principal)
    response = Response(status_code=204)
    response.delete_cookie(SESSION_COOKIE, path="/")
    return response


async def me(request: Request) -> Response:
    principal, user = await current(request)
    org = await directory.own_organization(services(request), principal)
    org_body = OrganizationView.of(org.organization, org.domains) if org is not None else None
    return JSON({"user": UserView.of(user), "organization": org_body})


class ProfileBody(Strict):
    name: str | None = None
    # Absent: unchanged; null: not chosen, the browser's language decides again.
    language: str | UnsetType | None = UNSET
    notification_prefs: dict[str, bool] | None = None
    # Absent: unchanged; null: not set (mails use UTC).
    time_zone: str | UnsetType | None = UNSET
    # The console's and portal's switches (chat.ui_prefs): merged; a null value unsets.
    ui_prefs: dict[str, Any] | None = None


async def update_me(request: Request) -> Response:
    principal, _ = await current(request)
    body = await read_json(request, ProfileBody)
    user = await directory.update_profile(
        services(request), principal, name=body.name, language=body.language, notification_prefs=body.notification_prefs,
        time_zone=body.time_zone, ui_prefs=body.ui_prefs,
    )
    return JSON({"user": UserView.of(user)})


class PasswordBody(Strict):
    current_password: str
    new_password: str


async def change_password(request: Request) -> Response:
    principal, _ = await current(request)
    body = await read_json(request, PasswordBody)
    await directory.change_password(services(request), principal, body.current_password, body.new_password)
    return Response(status_code=204)


class WidgetSessionBody(Strict):
    site: str
    visitor_token: str | None = None
    user_id: str | None = None
    user_hash: str | None = None
    name: str | None = None


async def widget_session(request: Request) -> Response:
    body = await read_json(request, WidgetSessionBody)
    await visitor_limits.admit_visitor_session(
        services(request), site_key=body.site, visitor_token=body.visitor_token, identified=body.user_id is not None,
        address=client_address(request),
    )
    result = await auth.visitor_session(
        services(request),
        site_key=body.site,
        visitor_token=body.visitor_token,
        external_id=body.user_id,
        external_hash=body.user_hash,
        name=body.name,
    )
    return JSON(
        {
            "token": result.token,
            "identified": result.identified,
            # The language the person picked (console, portal, another widget) is the
            # widget's too, unless the page says otherwise (docs/widget.md, Languages).
            "user": {"id": result.user.id, "name": result.user.name, "role": result.user.role.value,
                     "language": result.user.language, "language_chosen": bool(result.user.language_chosen)},
            "site": {"name": result.site.name, "default_language": result.site.default_language},
        }
    )

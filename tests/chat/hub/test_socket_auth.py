"""The socket's authentication (chat.hub.socket_auth) answers as chat.auth.authenticate
does, on SQLite and PostgreSQL: the same principal and user facts, or the same error."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlalchemy import update

from chat import directory
from chat.auth import authenticate, login, logout, principal_of, visitor_session
from chat.errors import AppError
from chat.hub.socket_auth import authenticate_socket
from chat.models import AuthSession, OrgKind, Role, User
from chat.services import Services

PASSWORD = "socket-auth-password-1"


async def both(svc: Services, token: str) -> tuple[Any, Any]:
    """What each function answers: (principal, id, name, role, site) or (error class, code)."""
    answers: list[Any] = []
    for function in (authenticate, authenticate_socket):
        try:
            principal, user = await function(svc, token)
        except AppError as exc:
            answers.append((type(exc), exc.code))
        else:
            answers.append((principal, user.id, user.name, user.role, user.site_id))
    return answers[0], answers[1]


async def set_user(svc: Services, user_id: int, **values: Any) -> None:
    async with svc.sessions.begin() as db:
        await db.execute(update(User).where(User.id == user_id).values(**values))


async def set_session(svc: Services, session_id: str, **values: Any) -> None:
    async with svc.sessions.begin() as db:
        await db.execute(update(AuthSession).where(AuthSession.id == session_id).values(**values))


async def test_the_socket_authenticates_as_the_http_api_does(svc: Services) -> None:
    org = (await directory.create_organization(svc, None, name="Shop Co", kind=OrgKind.CUSTOMER)).organization
    site = (await directory.create_site(svc, None, name="Shop", allowed_origins=["https://shop.example"],
                                        organization=org.id)).site
    await directory.create_user(svc, None, email="agent@example.com", role=Role.AGENT, password=PASSWORD, name="Ann")
    await directory.create_user(svc, None, email="admin@example.com", role=Role.SUPPORT_ADMIN, password=PASSWORD, name="Al")
    agent = await login(svc, "agent@example.com", PASSWORD, address=None, user_agent=None)
    admin = await login(svc, "admin@example.com", PASSWORD, address=None, user_agent=None)
    visitor = await visitor_session(svc, site_key=site.public_key, name="Vic")

    cases: list[tuple[str, str]] = []

    async def check(label: str, token: str, expect_ok: bool) -> None:
        http, socket = await both(svc, token)
        assert http == socket, label
        assert isinstance(http[0], type) is not expect_ok, (label, http)
        cases.append((label, token))

    await check("a session", agent.token, True)
    await check("a visitor", visitor.token, True)
    http, _ = await both(svc, visitor.token)
    assert http[0] == principal_of(visitor.user) and http[4] == site.id
    await check("no kind", "x:" + agent.token[2:], False)
    await check("a forged session", agent.token[:-3] + "abc", False)
    await check("a forged visitor", visitor.token[:-3] + "abc", False)

    # An impersonation ends when its impersonator is gone or disabled.
    await set_session(svc, agent.session.id, impersonator_id=admin.user.id)
    await check("an impersonation", agent.token, True)
    await set_user(svc, admin.user.id, disabled=True)
    await check("an impersonation by a disabled admin", agent.token, False)
    await set_session(svc, agent.session.id, impersonator_id=None)

    await set_session(svc, agent.session.id, expires_at=svc.clock.now() - timedelta(seconds=1))
    await check("an expired session", agent.token, False)
    await set_session(svc, agent.session.id, expires_at=svc.clock.now() + timedelta(days=1))
    await set_user(svc, agent.user.id, disabled=True)
    await check("a disabled agent", agent.token, False)
    await set_user(svc, agent.user.id, disabled=False)
    await logout(svc, principal_of(agent.user, agent.session.id))
    await check("a revoked session", agent.token, False)
    await set_user(svc, visitor.user.id, disabled=True)
    await check("a disabled visitor", visitor.token, False)
    assert len(cases) == 11

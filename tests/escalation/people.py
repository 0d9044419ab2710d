"""People signed in to a live server (SQLite, manual clock, no in-process sweeper), for the
ticket tests over HTTP and websockets."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from chat import directory
from chat.auth import session_token, visitor_session
from chat.client import ChatClient
from chat.clock import ManualClock
from chat.models import AuthSession, OrgKind, Role, User
from chat.services import Services
from chat.tokens import Purpose
from escalation.policy_table import PlanTier
from tests.conftest import make_settings
from tests.support.live import LiveServer, live_server


async def signed_in(svc: Services, user: User) -> str:
    """A real session for ``user``, as a login would open it, without the password hash
    (argon2 costs ~0.5 s a login on a shared test machine; login has its own tests)."""
    now = svc.clock.now()
    async with svc.sessions.begin() as db:
        db.add(AuthSession(id=f"t-{user.id}", user_id=user.id, created_at=now, expires_at=now + timedelta(days=1)))
    return session_token(svc.tokens.issue(Purpose.SESSION, {"sid": f"t-{user.id}"}))


@dataclass
class People:
    http: httpx.AsyncClient
    tokens: dict[str, str]
    ids: dict[str, int]
    server: LiveServer

    def client(self, who: str) -> ChatClient:
        return ChatClient(self.server.ws_url + "/ws", self.tokens[who], timeout=10)

    async def call(self, who: str, method: str, path: str, json: Any = None, expect: int = 200) -> Any:
        headers = {"Authorization": f"Bearer {self.tokens[who]}"} if who != "nobody" else {}
        r = await self.http.request(method, path, json=json, headers=headers)
        assert r.status_code == expect, f"{method} {path} as {who}: {r.status_code} {r.text}"
        return r.json() if r.content else None

    async def error(self, who: str, method: str, path: str, json: Any, status: int, code: str) -> None:
        body = await self.call(who, method, path, json, expect=status)
        assert body["error"]["code"] == code, body


@pytest.fixture
async def live(sqlite_url: str, tmp_path: Path, clock: ManualClock) -> AsyncIterator[LiveServer]:
    settings = make_settings(sqlite_url, tmp_path / "var", SWEEPER_IN_PROCESS="false")
    async with live_server(settings, clock) as server:
        yield server


@pytest.fixture
async def people(live: LiveServer) -> AsyncIterator[People]:
    svc = live.services
    org = (await directory.create_organization(svc, None, name="Acme", kind=OrgKind.CUSTOMER, plan_tier=PlanTier.REGULAR)).organization
    other = (await directory.create_organization(svc, None, name="Other", kind=OrgKind.CUSTOMER)).organization
    site = (await directory.create_site(svc, None, name="Shop", allowed_origins=["https://shop.example"],
                                        organization=org.id)).site
    tokens, ids = {}, {}
    for name, role, org_id in (("customer", Role.CUSTOMER, org.id), ("colleague", Role.CUSTOMER, org.id),
                               ("stranger", Role.CUSTOMER, other.id), ("agent", Role.AGENT, None),
                               ("agent2", Role.AGENT, None), ("admin", Role.SUPPORT_ADMIN, None),
                               ("readonly", Role.READ_ONLY, None)):
        user = await directory.create_user(svc, None, email=f"{name}@x.example", role=role, organization=org_id,
                                           name=name.title())
        tokens[name] = await signed_in(svc, user)
        ids[name] = user.id
    visitor = await visitor_session(svc, site_key=site.public_key, name="Vera")
    tokens["visitor"], ids["visitor"] = visitor.token, visitor.user.id
    async with httpx.AsyncClient(base_url=live.base_url, timeout=10) as http:
        yield People(http, tokens, ids, live)

"""A live server with a support chat and one staff member of each desk role: the ``desk``
fixture of the desk's tests and of the pre-chat tests (registered in tests/conftest.py)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from chat.models import Role
from tests.support.chatlog import Person, SupportChat, new_staff, seed_support_chat
from tests.support.live import LiveServer


@dataclass
class Desk:
    server: LiveServer
    http: httpx.AsyncClient
    chat: SupportChat
    admin: Person
    readonly: Person

    @property
    def agent(self) -> Person:
        return self.chat.agent

    async def call(self, who: Person, method: str, path: str, body: Any = None, expect: int | None = None) -> Any:
        response = await self.http.request(
            method, path, json=body, headers={"Authorization": f"Bearer {who.token}"},
        )
        if expect is not None:
            assert response.status_code == expect, f"{method} {path}: {response.status_code} {response.text}"
        if response.status_code == 204 or not response.content:
            return None
        return response.json()


@pytest.fixture
async def desk(server: LiveServer, http: httpx.AsyncClient) -> AsyncIterator[Desk]:
    svc = server.services
    chat = await seed_support_chat(svc)
    admin = await new_staff(svc, "admin@x.example", Role.SUPPORT_ADMIN)
    readonly = await new_staff(svc, "ro@x.example", Role.READ_ONLY)
    yield Desk(server, http, chat, admin, readonly)

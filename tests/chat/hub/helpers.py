"""A world for tests that run the server in their own process: people, a conversation,
connected clients. Built from the same seeders as tests/support/chatlog.py."""

from __future__ import annotations

from dataclasses import dataclass

import httpx
from sqlalchemy import select

from chat.authz import Principal
from chat.client import ChatClient
from chat.models import Role, Site
from tests.support.chatlog import SITE_ORIGIN, new_staff, new_visitor, seed_support_chat
from tests.support.live import LiveServer

__all__ = ["SITE_ORIGIN", "World", "make_world", "stored_log"]


@dataclass
class World:
    server: LiveServer
    site: Site
    agent_token: str
    agent2_token: str
    readonly_token: str
    customer_token: str
    other_customer_token: str
    customer: Principal
    conversation_id: int

    def client(self, token: str, origin: str | None = None) -> ChatClient:
        return ChatClient(self.server.ws_url + "/ws", token, origin=origin, timeout=10)


async def make_world(server: LiveServer) -> World:
    svc = server.services
    chat = await seed_support_chat(svc)
    async with svc.sessions() as db:
        site = await db.scalar(select(Site).where(Site.public_key == chat.site_key))
    assert site is not None
    other = await new_visitor(svc, chat.site_key, "Oscar Other")
    readonly = await new_staff(svc, "ro@x.example", Role.READ_ONLY)
    return World(
        server=server,
        site=site,
        agent_token=chat.agent.token,
        agent2_token=chat.agent2.token,
        readonly_token=readonly.token,
        customer_token=chat.visitor.token,
        other_customer_token=other.token,
        customer=chat.visitor.principal,
        conversation_id=chat.conversation_id,
    )


async def stored_log(server: LiveServer, conversation_id: int, token: str) -> list[dict[str, object]]:
    """The conversation's events as the HTTP history endpoint returns them to ``token``."""
    async with httpx.AsyncClient(base_url=server.base_url) as http:
        r = await http.get(f"/api/conversations/{conversation_id}/events?limit=500",
                           headers={"Authorization": f"Bearer {token}"})
        assert r.status_code == 200, r.text
        return list(r.json()["events"])

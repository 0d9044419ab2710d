"""Shared set-up for hub tests: people, a conversation, connected clients."""

from __future__ import annotations

from dataclasses import dataclass

import httpx

from chat import directory
from chat.auth import login, visitor_session
from chat.authz import Principal
from chat.client import ChatClient
from chat.conversations import start_conversation
from chat.models import OrgKind, Role, Site
from tests.support.live import LiveServer

PASSWORD = "correct horse battery"
SITE_ORIGIN = "https://shop.example"


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


async def staff_token(server: LiveServer, email: str, role: Role) -> str:
    await directory.create_user(server.services, None, email=email, role=role, password=PASSWORD, name=email.split("@")[0])
    return (await login(server.services, email, PASSWORD, address="127.0.0.1", user_agent="test")).token


async def make_world(server: LiveServer) -> World:
    svc = server.services
    org = await directory.create_organization(svc, None, name="Acme", kind=OrgKind.CUSTOMER)
    site = (await directory.create_site(svc, None, name="Shop", allowed_origins=[SITE_ORIGIN], organization=org.id)).site
    customer = await visitor_session(svc, site_key=site.public_key, name="Vera Visitor")
    other = await visitor_session(svc, site_key=site.public_key, name="Oscar Other")
    from chat.auth import principal_of

    principal = principal_of(customer.user)
    conv = await start_conversation(svc, principal, subject="Printer on fire")
    return World(
        server=server,
        site=site,
        agent_token=await staff_token(server, "agent@x.example", Role.AGENT),
        agent2_token=await staff_token(server, "agent2@x.example", Role.AGENT),
        readonly_token=await staff_token(server, "ro@x.example", Role.READ_ONLY),
        customer_token=customer.token,
        other_customer_token=other.token,
        customer=principal,
        conversation_id=conv.conversation.id,
    )


async def stored_log(server: LiveServer, conversation_id: int, token: str) -> list[dict[str, object]]:
    async with httpx.AsyncClient(base_url=server.base_url) as http:
        r = await http.get(f"/api/conversations/{conversation_id}/events?limit=500",
                           headers={"Authorization": f"Bearer {token}"})
        assert r.status_code == 200, r.text
        return list(r.json()["events"])

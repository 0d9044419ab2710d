"""A support desk seeded through the use cases, for the ticket tests: a customer company on
a plan, its customer and a colleague, a widget visitor, agents, a support admin, a
read-only user; and helpers to talk in a conversation the way the websocket endpoint
does (store, publish, react)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

from chat import directory
from chat.auth import principal_of, visitor_session
from chat.authz import Principal
from chat.conversations import post_message, start_conversation
from chat.events import publish_events
from chat.models import OrgKind, Role
from chat.services import Services
from chat.wiring import build_sweeper
from escalation.policy_table import PlanTier
from escalation.worker import Sweeper
from tests.support.chatlog import stored_log


@dataclass(frozen=True)
class Desk:
    svc: Services
    org_id: int
    customer: Principal
    colleague: Principal
    visitor: Principal
    agent: Principal
    agent2: Principal
    admin: Principal
    readonly: Principal
    stranger: Principal  # a customer of another company
    sweeper: Sweeper  # this process's sweeper over ``svc`` (its jobs keep their progress)


async def make_desk(svc: Services, *, tier: PlanTier = PlanTier.REGULAR) -> Desk:
    org = (await directory.create_organization(svc, None, name="Acme", kind=OrgKind.CUSTOMER, plan_tier=tier,
                                              domains=["acme.example"])).organization
    other = (await directory.create_organization(svc, None, name="Other", kind=OrgKind.CUSTOMER)).organization
    site = (await directory.create_site(svc, None, name="Shop", allowed_origins=["https://shop.example"],
                                        organization=org.id)).site

    async def user(email: str, role: Role, org_id: int | None = None) -> Principal:
        created = await directory.create_user(svc, None, email=email, role=role, organization=org_id,
                                              name=email.split("@")[0].title())
        return principal_of(created)

    visitor = await visitor_session(svc, site_key=site.public_key, name="Vera Visitor")
    return Desk(
        svc=svc,
        org_id=org.id,
        customer=await user("cat@acme.example", Role.CUSTOMER, org.id),
        colleague=await user("colin@acme.example", Role.CUSTOMER, org.id),
        visitor=principal_of(visitor.user),
        agent=await user("ann@support.example", Role.AGENT),
        agent2=await user("bob@support.example", Role.AGENT),
        admin=await user("sam@support.example", Role.SUPPORT_ADMIN),
        readonly=await user("ro@support.example", Role.READ_ONLY),
        stranger=await user("sid@other.example", Role.CUSTOMER, other.id),
        sweeper=build_sweeper(svc),
    )


async def chat(desk: Desk, who: Principal | None = None, *, subject: str = "Printer on fire",
               body: str | None = "It is on fire") -> int:
    created = await start_conversation(desk.svc, who or desk.customer, subject=subject, body=body)
    return created.conversation.id


async def say(desk: Desk, who: Principal, conversation_id: int, body: str, *, internal: bool = False,
              react: bool = True) -> list[dict[str, Any]]:
    """Send like the websocket endpoint: store, publish, then the after-commit reactions
    (``react=False``: a process that died right after the commit)."""
    _, events = await post_message(desk.svc, who, conversation_id, client_msg_id=uuid.uuid4().hex, body=body,
                                   internal=internal)
    await publish_events(desk.svc, events)
    if react:
        await desk.svc.react(who, events)
    return events


async def system_events(desk: Desk, conversation_id: int, *, after: int = 0, as_: Principal | None = None) -> list[str]:
    """Names of the system events (``data.event``) after seq ``after``, as staff see them
    (or as ``as_`` sees them)."""
    log = await stored_log(desk.svc, as_ or desk.agent, conversation_id)
    return [e["data"]["event"] for e in log if e["kind"] == "system" and e["seq"] > after]


async def last_seq(desk: Desk, conversation_id: int) -> int:
    log = await stored_log(desk.svc, desk.agent, conversation_id)
    return int(log[-1]["seq"]) if log else 0

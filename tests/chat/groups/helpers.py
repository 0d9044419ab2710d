"""A world for group chat tests: two resellers with a customer company each, a direct
customer, their people, and platform staff — all made through the use cases."""

from __future__ import annotations

import asyncio
import contextlib
import secrets
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import msgspec

from chat import directory
from chat.auth import login, principal_of, session_token
from chat.authz import Principal
from chat.broker import Subscription
from chat.groups import service
from chat.groups.models import ChatGroup, HistoryVisibility
from chat.models import AuthSession, OrgKind, Role
from chat.services import Services
from chat.tokens import Purpose

PASSWORD = "correct horse battery"


@dataclass(frozen=True)
class Person:
    principal: Principal
    token: str
    name: str
    email: str

    @property
    def id(self) -> int:
        return self.principal.user_id


@dataclass
class GroupWorld:
    reseller1: int
    reseller2: int
    acme: int  # customer of reseller 1
    globex: int  # customer of reseller 2
    direct: int  # a customer without a reseller
    alice: Person  # acme
    bob: Person  # acme
    erin: Person  # acme
    carol: Person  # globex
    dave: Person  # direct
    r1admin: Person
    r2admin: Person
    agent: Person
    admin: Person
    readonly: Person
    ops: ChatGroup  # acme's group
    direct_group: ChatGroup  # the direct customer's group


async def person(svc: Services, email: str, role: Role, org: int | None = None, *, password: bool = False) -> Person:
    """A user with a signed-in session. ``password=True`` signs in through the real login
    (for browser tests that use the form); otherwise the session is opened directly, which
    skips two memory-hard hashes per person (seconds per world on a busy machine)."""
    name = email.split("@")[0].capitalize()
    user = await directory.create_user(svc, None, email=email, role=role, organization=org,
                                       password=PASSWORD if password else None, name=name)
    if password:
        session = await login(svc, email, PASSWORD, address="127.0.0.1", user_agent="test")
        return Person(principal_of(user, session.session.id), session.token, name, email)
    now = svc.clock.now()
    sid = secrets.token_urlsafe(24)
    async with svc.sessions.begin() as db:
        db.add(AuthSession(id=sid, user_id=user.id, created_at=now,
                           expires_at=now + timedelta(seconds=svc.settings.session_ttl_seconds)))
    token = session_token(svc.tokens.issue(Purpose.SESSION, {"sid": sid}))
    return Person(principal_of(user, sid), token, name, email)


async def make_group_world(svc: Services, *, history: HistoryVisibility = HistoryVisibility.FULL) -> GroupWorld:
    r1 = (await directory.create_organization(svc, None, name="Partner One", kind=OrgKind.RESELLER)).organization
    r2 = (await directory.create_organization(svc, None, name="Partner Two", kind=OrgKind.RESELLER)).organization
    acme = (await directory.create_organization(svc, None, name="Acme", kind=OrgKind.CUSTOMER, parent=r1.id)).organization
    globex = (await directory.create_organization(svc, None, name="Globex", kind=OrgKind.CUSTOMER, parent=r2.id)).organization
    direct = (await directory.create_organization(svc, None, name="Direct Co", kind=OrgKind.CUSTOMER)).organization
    agent = await person(svc, "agent@support.example", Role.AGENT)
    world = GroupWorld(
        reseller1=r1.id, reseller2=r2.id, acme=acme.id, globex=globex.id, direct=direct.id,
        alice=await person(svc, "alice@acme.example", Role.CUSTOMER, acme.id),
        bob=await person(svc, "bob@acme.example", Role.CUSTOMER, acme.id),
        erin=await person(svc, "erin@acme.example", Role.CUSTOMER, acme.id),
        carol=await person(svc, "carol@globex.example", Role.CUSTOMER, globex.id),
        dave=await person(svc, "dave@direct.example", Role.CUSTOMER, direct.id),
        r1admin=await person(svc, "admin@partner1.example", Role.RESELLER_ADMIN, r1.id),
        r2admin=await person(svc, "admin@partner2.example", Role.RESELLER_ADMIN, r2.id),
        agent=agent,
        admin=await person(svc, "boss@support.example", Role.SUPPORT_ADMIN),
        readonly=await person(svc, "demo@support.example", Role.READ_ONLY),
        ops=await service.create_group(svc, agent.principal, organization=acme.id, name="Ops", history=history),
        direct_group=await service.create_group(svc, agent.principal, organization=direct.id, name="Ops"),
    )
    return world


async def drain(sub: Subscription, settle: float = 0.05) -> list[tuple[str, dict[str, Any]]]:
    """Everything published on the subscription's channels so far (in-memory broker:
    publishing is synchronous, so a short settle is enough)."""
    got: list[tuple[str, dict[str, Any]]] = []
    iterator = sub.__aiter__()
    while True:
        try:
            channel, data = await asyncio.wait_for(anext(iterator), settle)
        except TimeoutError:
            break
        got.append((channel, msgspec.json.decode(data)))
    with contextlib.suppress(Exception):
        await iterator.aclose()  # type: ignore[attr-defined]
    return got

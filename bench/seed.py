"""Seed the benchmark's people and conversations through the product's own use cases.

Runs in the harness process against the same ``DATABASE_URL`` the server under test uses
(SQLite allows both; the server is started after seeding). Everything the load generator
needs comes back as plain JSON: tokens and conversation ids, for ours and for the baseline.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field
from typing import Any

from chat import directory
from chat.auth import login, principal_of, visitor_session
from chat.conversations import start_conversation
from chat.models import OrgKind, Role
from chat.settings import load_settings
from chat.wiring import build_services

PASSWORD = "benchmark-password-1"
SITE_ORIGIN = "https://shop.example"


@dataclass
class Room:
    conversation_id: int
    owner_token: str
    """The visitor who opened the conversation (ours) or a made-up token (baseline)."""


@dataclass
class Seed:
    agents: list[str] = field(default_factory=list)
    """Staff session tokens: staff may join and post in every conversation."""
    hot: list[Room] = field(default_factory=list)
    """One fresh conversation per throughput/fan-out run, so no run replays another's backlog."""
    crowd: list[Room] = field(default_factory=list)
    """Conversations shared by the idle-socket and reconnect-storm crowds."""
    seconds: float = 0.0

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @staticmethod
    def from_json(data: dict[str, Any]) -> Seed:
        return Seed(
            agents=list(data["agents"]),
            hot=[Room(**r) for r in data["hot"]],
            crowd=[Room(**r) for r in data["crowd"]],
            seconds=float(data.get("seconds", 0.0)),
        )


async def seed_ours(env: dict[str, str], *, agents: int, hot: int, crowd: int) -> Seed:
    """Create one customer organization with a widget site, ``agents`` agents (logged in),
    and ``hot + crowd`` visitors, each with an open conversation."""
    started = time.monotonic()
    svc = build_services(load_settings(env))
    try:
        org = (await directory.create_organization(svc, None, name="Bench Co", kind=OrgKind.CUSTOMER)).organization
        site = (await directory.create_site(svc, None, name="Bench shop", allowed_origins=[SITE_ORIGIN],
                                            organization=org.id)).site
        seed = Seed()
        for i in range(agents):
            email = f"agent{i}@bench.example"
            await directory.create_user(svc, None, email=email, role=Role.AGENT, password=PASSWORD, name=f"Agent {i}")
            seed.agents.append((await login(svc, email, PASSWORD, address="127.0.0.1", user_agent="bench")).token)
        for i in range(hot + crowd):
            visitor = await visitor_session(svc, site_key=site.public_key, name=f"Visitor {i}")
            conv = await start_conversation(svc, principal_of(visitor.user), subject=f"bench {i}")
            room = Room(conv.conversation.id, visitor.token)
            (seed.hot if i < hot else seed.crowd).append(room)
        seed.seconds = time.monotonic() - started
        return seed
    finally:
        await svc.close()


def seed_baseline(ours: Seed) -> Seed:
    """The same shape for the baseline: it accepts any token, so tokens just number users
    (agents from 1, visitors from 1001) and rooms reuse our conversation ids."""
    return Seed(
        agents=[f"b:{i + 1}" for i in range(len(ours.agents))],
        hot=[Room(r.conversation_id, f"b:{1001 + i}") for i, r in enumerate(ours.hot)],
        crowd=[Room(r.conversation_id, f"b:{100001 + i}") for i, r in enumerate(ours.crowd)],
    )

"""Seeding a support chat through the use cases, reading a conversation's stored log, and
a protocol client that also checks the server's per-socket ordering promise.

Used by the hub tests that do not run the server in their own process (several server
processes, a killed one, a broker outage) and by the property tests.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from chat import directory
from chat.auth import login, principal_of, visitor_session
from chat.authz import Principal
from chat.client import ChatClient, Frame
from chat.conversations import events_after, start_conversation
from chat.events import HISTORY_PAGE_MAX
from chat.models import OrgKind, Role
from chat.services import Services

PASSWORD = "correct horse battery"
SITE_ORIGIN = "https://shop.example"


@dataclass(frozen=True)
class Person:
    principal: Principal
    token: str
    name: str


@dataclass(frozen=True)
class SupportChat:
    """A customer organization with a widget site, a visitor who opened a conversation,
    and agents who may answer it."""

    visitor: Person
    agent: Person
    agent2: Person
    conversation_id: int
    site_key: str


async def seed_support_chat(svc: Services, *, subject: str = "Printer on fire") -> SupportChat:
    org = (await directory.create_organization(svc, None, name="Acme", kind=OrgKind.CUSTOMER)).organization
    site = (await directory.create_site(svc, None, name="Shop", allowed_origins=[SITE_ORIGIN], organization=org.id)).site
    visitor = await new_visitor(svc, site.public_key, "Vera Visitor")
    conv = await start_conversation(svc, visitor.principal, subject=subject)
    return SupportChat(
        visitor=visitor,
        agent=await new_staff(svc, "agent@x.example", Role.AGENT),
        agent2=await new_staff(svc, "agent2@x.example", Role.AGENT),
        conversation_id=conv.conversation.id,
        site_key=site.public_key,
    )


async def new_visitor(svc: Services, site_key: str, name: str) -> Person:
    session = await visitor_session(svc, site_key=site_key, name=name)
    return Person(principal_of(session.user), session.token, name)


async def new_staff(svc: Services, email: str, role: Role) -> Person:
    name = email.split("@")[0]
    user = await directory.create_user(svc, None, email=email, role=role, password=PASSWORD, name=name)
    session = await login(svc, email, PASSWORD, address="127.0.0.1", user_agent="test")
    return Person(principal_of(user, session.session.id), session.token, name)


async def stored_log(svc: Services, principal: Principal, conversation_id: int) -> list[dict[str, Any]]:
    """Every stored event of the conversation that ``principal`` may see, in seq order,
    straight from the database (through the same use case the server reads with)."""
    events: list[dict[str, Any]] = []
    after = 0
    while True:
        page, _ = await events_after(svc, principal, conversation_id, after_seq=after, limit=HISTORY_PAGE_MAX)
        events.extend(page)
        if len(page) < HISTORY_PAGE_MAX:
            return events
        after = page[-1]["seq"]


def identity(event: dict[str, Any]) -> tuple[Any, ...]:
    """What must be equal between a delivered event and the stored one."""
    author = event.get("author")
    return (event["seq"], event["id"], event["kind"], event["body"], event["client_msg_id"],
            author["id"] if author else None)


def assert_ordered_prefix(seen: list[Frame], stored: list[dict[str, Any]], who: str) -> None:
    """``seen`` is strictly increasing, has no repeats, and is a prefix of ``stored``."""
    seqs = [e["seq"] for e in seen]
    assert seqs == sorted(set(seqs)), f"{who}: out of order or repeated: {seqs}"
    assert len(seen) <= len(stored), f"{who}: saw {len(seen)} events, only {len(stored)} are stored"
    expected = [identity(e) for e in stored[: len(seen)]]
    got = [identity(e) for e in seen]
    assert got == expected, f"{who}: not a prefix of the stored log:\n seen   {seqs}\n stored {[e['seq'] for e in stored]}"


def assert_same_log(seen: list[Frame], stored: list[dict[str, Any]], who: str) -> None:
    assert_ordered_prefix(seen, stored, who)
    assert len(seen) == len(stored), (
        f"{who}: behind: saw {[e['seq'] for e in seen]}, stored {[e['seq'] for e in stored]}"
    )


class CheckedClient(ChatClient):
    """The protocol client, plus a check of what the server promises per socket
    (docs/protocol.md, "Ordering, gaps and duplicates"): every event frame on the wire
    follows the last one delivered (``prev_seq`` equal to it, a higher ``seq``).

    The plain client silently drops repeats and re-joins on gaps, which is what makes a
    client robust; a test wants to know that the server never needed that. Violations are
    collected (raising inside the reader task would only kill the reader).
    """

    def __init__(self, url: str, token: str, **kwargs: Any) -> None:
        # Overriding a method that no longer exists would check nothing, silently.
        assert callable(getattr(ChatClient, "_on_event", None)), "chat.client.ChatClient._on_event is gone"
        super().__init__(url, token, **kwargs)
        self.wire: list[Frame] = []
        self.violations: list[str] = []

    async def _on_event(self, event: Frame) -> None:
        conv = event["conversation_id"]
        last = self.last_seq.get(conv, 0)
        self.wire.append(event)
        if event["seq"] <= last:
            self.violations.append(f"conv {conv}: repeat of seq {event['seq']} after {last}")
        elif event.get("prev_seq") != last:
            self.violations.append(f"conv {conv}: gap: seq {event['seq']} (prev_seq {event.get('prev_seq')}) after {last}")
        await super()._on_event(event)

    def events(self, conversation_id: int) -> list[Frame]:
        return list(self.log.get(conversation_id, []))


async def eventually(check: Callable[[], Any], *, timeout: float, what: str, interval: float = 0.05) -> None:
    """Retry an async or sync assertion until it holds; fail with its last error."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            result = check()
            if asyncio.iscoroutine(result):
                await result
            return
        except AssertionError as exc:
            if time.monotonic() >= deadline:
                raise AssertionError(f"not within {timeout}s: {what}: {exc}") from None
        await asyncio.sleep(interval)


def bodies(events: Iterable[dict[str, Any]], kind: str = "message") -> list[str]:
    return [e["body"] for e in events if e["kind"] == kind]

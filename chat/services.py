"""The bundle of ports every use case receives: storage, broker, clock, tokens, presence, mail,
and the after-commit reactions. Built once per process by the wiring (:mod:`chat.wiring`),
which decides what goes in it; this module knows no feature."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass, field
from typing import Any, Protocol

import msgspec
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from chat.authz import Principal
from chat.broker import Broker, BrokerUnavailable, create_broker
from chat.clock import Clock, SystemClock
from chat.db import create_engine, create_sessionmaker
from chat.mail.devbox import DevMailbox
from chat.mail.transport import MailTransport
from chat.settings import Settings
from chat.tokens import Tokens

log = logging.getLogger(__name__)

Reaction = Callable[["Services", "Principal", list[dict[str, Any]]], Awaitable[None]]
"""Runs after stored events were committed and published (e.g. a ticket noting a reply)."""

RoomWatcher = Callable[["Services", str, int, "Principal", Callable[[], bool]], Coroutine[Any, Any, None]]
"""Told by the hub ``(services, process id, conversation id, principal, here)`` when a
non-staff socket joined or left a conversation; ``here()`` says whether this process still
holds a socket of that principal there (e.g. tickets noting that a visitor left)."""


class AgentPresence(Protocol):
    def agent_statuses(self) -> dict[int, str]:
        """``{user_id: "online" | "away"}`` for every staff member connected to any process."""
        ...


class NoPresence:
    """A process without a hub (the worker) knows of no one online."""

    def agent_statuses(self) -> dict[int, str]:
        return {}


@dataclass
class Services:
    settings: Settings
    engine: AsyncEngine
    sessions: async_sessionmaker[AsyncSession]
    """For use cases: transactions that may write."""
    reads: async_sessionmaker[AsyncSession]
    """For queries that never write (on SQLite they do not wait for the write lock)."""
    read_engine: AsyncEngine
    broker: Broker
    clock: Clock
    tokens: Tokens
    long_reads: async_sessionmaker[AsyncSession] | None = None
    """For reads that may take long (reports, exports) and never write: on SQLite off the
    event loop (aiosqlite's threads), so they hold up no socket; elsewhere :attr:`reads`.
    Use :meth:`long_read`."""
    long_read_engine: AsyncEngine | None = None
    presence: AgentPresence = field(default_factory=NoPresence)
    """Who of the staff is online: the web process's hub presence, given by the wiring
    (a worker without a hub knows of no one)."""
    mail: MailTransport = field(default_factory=DevMailbox)
    """Where the outbox's mails go: SMTP, or the development mailbox (the wiring decides)."""
    reactions: list[Reaction] = field(default_factory=list)
    """After-commit reactions to new conversation events, in order. Each must be idempotent
    and able to catch up later (the sweeper replays what a crash left unprocessed)."""
    room_watchers: list[RoomWatcher] = field(default_factory=list)
    """Run by the hub in the background; each must log rather than raise."""

    def long_read(self) -> AsyncSession:
        """A session for a long read (:attr:`long_reads`, else :attr:`reads`)."""
        return (self.long_reads or self.reads)()

    async def publish(self, channel: str, payload: object) -> None:
        """Ring the doorbell after a commit. A broker outage is logged, not raised: the
        change is already stored, and readers catch up from the database."""
        try:
            await self.broker.publish(channel, msgspec.json.encode(payload))
        except BrokerUnavailable as exc:
            log.warning("publish on %s skipped: %s", channel, exc)

    async def react(self, actor: Principal, events: list[dict[str, Any]]) -> None:
        """Run the reactions to committed events. A failing reaction is logged, not raised:
        the events are stored and acknowledged, and the sweeper retries what was missed."""
        if not events:
            return
        for reaction in self.reactions:
            try:
                await reaction(self, actor, events)
            except Exception:
                log.exception("reaction %s failed", getattr(reaction, "__name__", reaction))

    async def close(self) -> None:
        await self.broker.disconnect()
        await self.mail.close()
        await self.engine.dispose()
        if self.read_engine is not self.engine:
            await self.read_engine.dispose()
        if self.long_read_engine is not None:
            await self.long_read_engine.dispose()


def open_services(
    settings: Settings,
    *,
    clock: Clock | None = None,
    presence: AgentPresence | None = None,
    mail: MailTransport | None = None,
    reactions: list[Reaction] | None = None,
    room_watchers: list[RoomWatcher] | None = None,
) -> Services:
    """Open the ports for ``settings`` (engines, broker, tokens) into one bundle; what
    reacts to what is the caller's to say (:func:`chat.wiring.build_services`)."""
    clock = clock or SystemClock()
    engine = create_engine(settings.database_url)
    read_engine = create_engine(settings.database_url, read_only=True) if settings.is_sqlite else engine
    long_engine = create_engine(settings.database_url, read_only=True, inline=False) if settings.is_sqlite else None
    return Services(
        settings=settings,
        engine=engine,
        sessions=create_sessionmaker(engine),
        reads=create_sessionmaker(read_engine),
        read_engine=read_engine,
        long_reads=create_sessionmaker(long_engine) if long_engine is not None else None,
        long_read_engine=long_engine,
        broker=create_broker(settings.redis_url),
        clock=clock,
        tokens=Tokens(settings.secret_keys, clock),
        presence=presence or NoPresence(),
        mail=mail or DevMailbox(),
        reactions=list(reactions or []),
        room_watchers=list(room_watchers or []),
    )

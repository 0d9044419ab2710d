"""The visitor leaves: a live chat whose customer's last socket went away becomes a ticket
a grace period later (``CHAT_LEFT_TICKET_MINUTES``), unless they come back first.

The hub calls a :class:`Departures` (one per process, made by the wiring) whenever a customer's socket joins or leaves a
conversation, with a way to ask whether this process still holds a socket of theirs in
it. Sockets of one customer may sit on several web processes, so each process keeps one
``customer_presence`` row per (conversation, customer) while it holds such a socket: the
customer has left when no process holds a row any more. Then the ticket's
``customer_left_at`` is stamped (and ``convert_at`` follows from it in the recompute); a
row written again clears it.

A process settles its rows in batches: one task takes every (conversation, customer)
waiting, asks the hub about each, and writes all of their rows in one transaction that
locks their conversations (in id order), then stamps the tickets whose customer left or
came back in one more (:func:`escalation.batch.run_in_batches`). A reconnect storm of
thousands of visitors is a few transactions, not thousands queued on the write lock. Every
change holds the conversation's row lock, like every ticket unit, so a leave on one
process and a return on another settle in one order or the other, never half-way. Only
the rows of live chats are written: once a chat is a ticket (or closed), leaving changes
nothing.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Iterable, Sequence
from typing import cast

from sqlalchemy import Table, bindparam, delete, func, insert, select

from chat.authz import Principal
from chat.models import Conversation, ConversationKind, Role
from chat.services import Services
from escalation.batch import run_in_batches
from escalation.lifecycle import TicketStatus
from escalation.models import CustomerPresence, Ticket
from escalation.unit_of_work import Work

log = logging.getLogger(__name__)

CUSTOMER_ROLES = frozenset({Role.CUSTOMER, Role.VISITOR})
_LIVE = (TicketStatus.NEW, TicketStatus.IN_PROGRESS, TicketStatus.WAITING_ON_CUSTOMER)
BATCH = 500
"""Keys per transaction: bounds the statements' parameter lists."""
RETRIES = 3
"""A batch the database refused (busy, pool exhausted) is tried again this many times,
after 0.5, 1 and 2 s; then its keys are dropped with a warning (those chats convert on
idleness instead)."""

_Key = tuple[int, int]  # conversation, user
_PRESENCE = cast(Table, CustomerPresence.__table__)  # Core statements: one executemany each


class Departures:
    """The room watcher (``Services.room_watchers``) of one process's hub: its ledger of
    customer presence rows, made when the hub first reports a socket."""

    def __init__(self) -> None:
        self._ledgers: dict[str, _Ledger] = {}  # by hub (process) id

    async def __call__(
        self, svc: Services, process_id: str, conversation_id: int, principal: Principal, here: Callable[[], bool]
    ) -> None:
        """Bring the stored presence of ``principal`` in ``conversation_id`` in line with
        this process's sockets (``here()``, asked when its batch is settled); return once
        it is. Never raises: a failure is logged, and the chat then converts on idleness."""
        if principal.role not in CUSTOMER_ROLES:
            return
        ledger = self._ledgers.get(process_id)
        if ledger is None:
            ledger = self._ledgers[process_id] = _Ledger(svc, process_id)
        await ledger.settle((conversation_id, principal.user_id), here)


class _Ledger:
    """One web process's presence rows: those it has written, and the keys waiting to be
    settled by its one settling task, each with the callers to tell when it is."""

    def __init__(self, svc: Services, process_id: str) -> None:
        self.svc = svc
        self.process_id = process_id
        self.stored: set[_Key] = set()
        self._waiting: dict[_Key, tuple[Callable[[], bool], list[asyncio.Future[None]]]] = {}
        self._task: asyncio.Task[None] | None = None

    async def settle(self, key: _Key, here: Callable[[], bool]) -> None:
        done = asyncio.get_running_loop().create_future()
        self._enqueue(key, here, [done])
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self._drain())
        # Shielded: a caller cancelled (the hub shutting down) leaves the batch to finish.
        await asyncio.shield(done)

    def _enqueue(self, key: _Key, here: Callable[[], bool], waiters: list[asyncio.Future[None]]) -> None:
        _, earlier = self._waiting.pop(key, (here, []))
        self._waiting[key] = (here, earlier + waiters)

    async def _drain(self) -> None:
        failures = 0
        while self._waiting:
            batch = {key: self._waiting.pop(key) for key in list(self._waiting)[:BATCH]}
            try:
                await self._settle({key: here for key, (here, _) in batch.items()})
                failures = 0
            except Exception:
                failures += 1
                if failures <= RETRIES:
                    log.warning("customer presence: %s keys not stored yet; retrying", len(batch), exc_info=True)
                    for key, (here, waiters) in batch.items():
                        # A key asked about again meanwhile keeps its newer question.
                        self._enqueue(key, self._waiting.get(key, (here, []))[0], waiters)
                    await asyncio.sleep(0.5 * 2 ** (failures - 1))
                    continue
                log.warning("customer presence of %s keys not stored; those chats convert on idleness",
                            len(batch), exc_info=True)
                failures = 0
            for _, waiters in batch.values():
                for waiter in waiters:
                    if not waiter.done():
                        waiter.set_result(None)

    async def _settle(self, batch: dict[_Key, Callable[[], bool]]) -> None:
        changes = await self._changes(batch)
        if not changes:
            return
        found, present, tickets = await self._write_rows(changes)
        self._remember(changes, found)
        await _stamp_all(self.svc, [
            t.conversation_id for t in tickets
            if _live(t) and (present.get(t.conversation_id, 0) > 0) == (t.customer_left_at is not None)
        ])

    async def _changes(self, batch: dict[_Key, Callable[[], bool]]) -> dict[_Key, bool]:
        """Keys whose wanted row (a socket here or not) differs from what this process
        stored; arrivals only in chats still live."""
        wanted = {key: here() for key, here in batch.items()}
        changes = {key: here for key, here in wanted.items() if here != (key in self.stored)}
        arriving = {conv for (conv, _), here in changes.items() if here}
        if arriving:
            live = await _live_chats(self.svc, arriving)
            changes = {key: here for key, here in changes.items() if not here or key[0] in live}
        return changes

    async def _write_rows(self, changes: dict[_Key, bool]) -> tuple[set[int], dict[int, int], Sequence[Ticket]]:
        """Insert and delete this process's rows under every conversation's lock; return the
        conversations found, their count of rows over all processes, and their tickets."""
        ids = sorted({conv for conv, _ in changes})
        pid = self.process_id
        async with self.svc.sessions.begin() as db:
            # Every conversation's lock first, in id order: the same order as ticket batches.
            found = set(await db.scalars(
                select(Conversation.id).where(Conversation.id.in_(ids)).order_by(Conversation.id).with_for_update()
            ))
            mine: set[_Key] = {(conv, user) for conv, user in await db.execute(
                select(CustomerPresence.conversation_id, CustomerPresence.user_id)
                .where(CustomerPresence.process_id == pid, CustomerPresence.conversation_id.in_(ids))
            )}
            now = self.svc.clock.now()
            adds = [key for key, here in changes.items() if here and key[0] in found and key not in mine]
            drops = [key for key, here in changes.items() if not here and key in mine]
            if adds:
                await db.execute(insert(_PRESENCE), [
                    {"conversation_id": conv, "user_id": user, "process_id": pid, "since": now} for conv, user in adds
                ])
            if drops:
                await db.execute(
                    delete(_PRESENCE).where(
                        _PRESENCE.c.process_id == pid,
                        _PRESENCE.c.conversation_id == bindparam("conv"),
                        _PRESENCE.c.user_id == bindparam("user"),
                    ),
                    [{"conv": conv, "user": user} for conv, user in drops],
                )
            present = dict((await db.execute(
                select(CustomerPresence.conversation_id, func.count())
                .where(CustomerPresence.conversation_id.in_(ids))
                .group_by(CustomerPresence.conversation_id)
            )).all())
            tickets = (await db.scalars(
                select(Ticket).where(Ticket.conversation_id.in_(ids)).execution_options(populate_existing=True)
            )).all()
        return found, present, tickets

    def _remember(self, changes: dict[_Key, bool], found: set[int]) -> None:
        for key, here in changes.items():
            if here and key[0] in found:
                self.stored.add(key)
            else:
                self.stored.discard(key)


def _live(ticket: Ticket) -> bool:
    return not ticket.tracked and ticket.status in _LIVE


async def _live_chats(svc: Services, ids: Iterable[int]) -> set[int]:
    """Of ``ids``, the support chats still live (a chat whose ticket row is not written
    yet counts as live)."""
    async with svc.reads() as db:
        rows = await db.execute(
            select(Conversation.id, Ticket.tracked, Ticket.status)
            .outerjoin(Ticket, Ticket.conversation_id == Conversation.id)
            .where(Conversation.id.in_(list(ids)), Conversation.kind == ConversationKind.CHAT)
        )
        return {conv for conv, tracked, status in rows if tracked is None or (not tracked and status in _LIVE)}


async def _stamp_all(svc: Services, ids: list[int]) -> None:
    """Stamp or clear ``customer_left_at`` on these tickets, a batch to a transaction."""
    await run_in_batches(svc, ids, _stamp, log=log, what="stamping the customer's presence",
                         then="the chat converts on idleness instead")


async def _present(work: Work) -> int:
    count = await work.db.scalar(
        select(func.count()).select_from(CustomerPresence)
        .where(CustomerPresence.conversation_id == work.ticket.conversation_id)
    )
    return int(count or 0)


async def _stamp(work: Work) -> None:
    """Under the conversation's lock: left now if no process holds the customer, back if one does."""
    t = work.ticket
    if await _present(work):
        t.customer_left_at = None
    elif t.customer_left_at is None and _live(t):
        t.customer_left_at = work.now
    work.ring("customer.presence")  # consoles show "visitor left N min ago" (chat.desk.queues)

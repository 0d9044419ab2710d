"""The visitor leaves: a live chat whose customer's last socket went away becomes a ticket
a grace period later (``CHAT_LEFT_TICKET_MINUTES``), unless they come back first.

The hub calls :func:`customer_presence` whenever a customer's socket joins or leaves a
conversation, with a way to ask whether this process still holds a socket of theirs in
it. Sockets of one customer may sit on several web processes, so each process keeps one
``customer_presence`` row per (conversation, customer) while it holds such a socket: the
customer has left when no process holds a row any more. Then the ticket's
``customer_left_at`` is stamped (and ``convert_at`` follows from it in the recompute); a
row written again clears it.

Every change takes the conversation's row lock first, like every ticket unit, so a leave
on one process and a return on another settle in one order or the other, never half-way.
Only the rows of live chats are written: once a chat is a ticket (or closed), leaving
changes nothing.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from chat.authz import Principal
from chat.models import Conversation, ConversationKind, Role
from chat.services import Services
from escalation.lifecycle import TicketStatus
from escalation.models import CustomerPresence, Ticket
from escalation.store import Work, lock_conversation, run_unit

log = logging.getLogger(__name__)

CUSTOMER_ROLES = frozenset({Role.CUSTOMER, Role.VISITOR})
_LIVE = (TicketStatus.NEW, TicketStatus.IN_PROGRESS, TicketStatus.WAITING_ON_CUSTOMER)

_Key = tuple[str, int, int]  # process, conversation, user
# This process's own bookkeeping (nothing another process needs): the rows it has written,
# and the keys being settled right now (a call for a key already running only marks it
# dirty, and the running one settles it again with the hub's latest answer).
_stored: set[_Key] = set()
_running: set[_Key] = set()
_dirty: set[_Key] = set()


async def customer_presence(
    svc: Services, process_id: str, conversation_id: int, principal: Principal, here: Callable[[], bool]
) -> None:
    """Bring the stored presence of ``principal`` in ``conversation_id`` in line with this
    process's sockets (``here()``, asked when it is acted on). Never raises: a failure is
    logged, and the chat then converts on idleness as before."""
    if principal.role not in CUSTOMER_ROLES:
        return
    key = (process_id, conversation_id, principal.user_id)
    if key in _running:
        _dirty.add(key)
        return
    _running.add(key)
    try:
        while True:
            _dirty.discard(key)
            try:
                await _settle_key(svc, key, here())
            except Exception:
                log.warning("customer presence in conversation %s not stored", conversation_id, exc_info=True)
                return
            if key not in _dirty:
                return
    finally:
        _running.discard(key)
        _dirty.discard(key)


def _live(ticket: Ticket | None) -> bool:
    return ticket is None or (not ticket.tracked and ticket.status in _LIVE)


async def _settle_key(svc: Services, key: _Key, here: bool) -> None:
    if here == (key in _stored):
        return
    process_id, conversation_id, user_id = key
    if here:
        async with svc.reads() as db:
            kind = await db.scalar(select(Conversation.kind).where(Conversation.id == conversation_id))
            ticket = await db.get(Ticket, conversation_id)
        if kind is not ConversationKind.CHAT or not _live(ticket):
            return
    async with svc.sessions.begin() as db:
        conv = await lock_conversation(db, conversation_id)
        if conv is None:
            _stored.discard(key)
            return
        row = await db.get(CustomerPresence, (conversation_id, user_id, process_id))
        if here and row is None:
            db.add(CustomerPresence(conversation_id=conversation_id, user_id=user_id, process_id=process_id,
                                    since=svc.clock.now()))
        elif not here and row is not None:
            await db.delete(row)
        await db.flush()
        others = await _present(db, conversation_id)
        ticket = await db.get(Ticket, conversation_id, populate_existing=True)
    if here:
        _stored.add(key)
    else:
        _stored.discard(key)
    if ticket is None or not _live(ticket):
        return
    if (others and ticket.customer_left_at is not None) or (not others and ticket.customer_left_at is None):
        await run_unit(svc, conversation_id, _stamp, create=False)


async def _present(db: AsyncSession, conversation_id: int) -> int:
    count = await db.scalar(
        select(func.count()).select_from(CustomerPresence).where(CustomerPresence.conversation_id == conversation_id)
    )
    return int(count or 0)


async def _stamp(work: Work) -> None:
    """Under the conversation's lock: left now if no process holds the customer, back if one does."""
    t = work.ticket
    present = await _present(work.db, t.conversation_id)
    if present:
        t.customer_left_at = None
    elif t.customer_left_at is None and not t.tracked and t.status in _LIVE:
        t.customer_left_at = work.now
    work.ring("customer.presence")  # consoles show "visitor left N min ago" (chat.desk.queues)


"""What the server does with each client frame of an authenticated socket: one small
handler per frame type, found in :data:`HANDLERS`.

Handlers only authorize through the use cases and reply (:mod:`chat.hub.frames` parsed
the frame). A refusal is raised (:class:`~chat.errors.AppError`, or ``SQLAlchemyError``
when the database did not answer) and answered by the read loop in
:mod:`chat.hub.endpoint`, which also decides the order:
every frame but a send is handled after all earlier sends were answered, and sends are
queued without waiting (:class:`Sends`) so that several are in flight at once.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy.exc import SQLAlchemyError

from chat import conversations, events
from chat.errors import AppError
from chat.hub import frames
from chat.hub.connection import CATCH_UP_PAGE, Connection, Room
from chat.hub.hub import Hub
from chat.message_batch import SendResult
from chat.services import Services

log = logging.getLogger(__name__)

_ERROR_CODES = {"validation_failed": "invalid_frame", "not_found": "not_found", "forbidden": "forbidden"}


def error_frame(code: str, message: str, ref: str | None = None, **extra: Any) -> dict[str, Any]:
    """An ``error`` frame (docs/protocol.md), answering the frame of ``ref`` if given."""
    frame: dict[str, Any] = {"type": "error", "code": code, "message": message}
    if ref is not None:
        frame["ref"] = ref
    frame.update(extra)
    return frame


def error_for(frame: frames.ClientFrame, exc: AppError) -> dict[str, Any]:
    """The ``error`` frame answering ``frame``, which a use case refused with ``exc``."""
    return error_frame(_ERROR_CODES.get(exc.code, exc.code), exc.message, frame.ref,
                       **({"conversation_id": frame.conversation_id} if hasattr(frame, "conversation_id") else {}))


class Sends:
    """A socket's sends waiting for their commit, answered (ack or error) in the order
    they came, as each commit lands."""

    def __init__(self, conn: Connection) -> None:
        self.conn = conn
        self.waiting: deque[tuple[asyncio.Future[SendResult], frames.Send]] = deque()

    def add(self, future: asyncio.Future[SendResult], frame: frames.Send) -> None:
        self.waiting.append((future, frame))
        future.add_done_callback(self._answer)

    def _answer(self, _done: asyncio.Future[SendResult]) -> None:
        while self.waiting and self.waiting[0][0].done():
            future, frame = self.waiting.popleft()
            if future.cancelled():
                self.conn.send(error_frame("unavailable", "the send was interrupted; retry", frame.ref))
                continue
            exc = future.exception()
            if exc is None:
                ack = future.result().ack.frame()
                if frame.ref:
                    ack["ref"] = frame.ref
                self.conn.send(ack)
            elif isinstance(exc, AppError):
                self.conn.send(error_for(frame, exc))
            else:
                if isinstance(exc, SQLAlchemyError):
                    log.warning("database unavailable while storing a send: %s", type(exc).__name__)
                else:
                    log.error("storing a send failed", exc_info=exc)
                self.conn.send(error_frame("unavailable", "the database did not answer; retry", frame.ref))

    async def oldest(self) -> None:
        if self.waiting:
            await asyncio.wait([self.waiting[0][0]])

    async def settled(self) -> None:
        """Until every send so far is answered (futures resolve in order: the last one
        is enough, and its answer callback runs before this returns)."""
        if self.waiting:
            await asyncio.wait([self.waiting[-1][0]])


@dataclass(frozen=True, slots=True)
class Socket:
    """What a frame handler works with: one authenticated socket, its sends in flight, and
    the process's hub and ports."""

    svc: Services
    hub: Hub
    conn: Connection
    sends: Sends


def _require_joined(conn: Connection, conv_id: int, ref: str | None) -> Room | None:
    room = conn.rooms.get(conv_id)
    if room is None:
        conn.send(error_frame("not_joined", "join the conversation first", ref, conversation_id=conv_id))
    return room


def _with_ref(frame: frames.ClientFrame) -> dict[str, str]:
    return {"ref": frame.ref} if frame.ref else {}


async def _ping(frame: frames.Ping, s: Socket) -> None:
    s.conn.send({"type": "pong", **_with_ref(frame)})


async def _auth_again(frame: frames.Auth, s: Socket) -> None:
    s.conn.send(error_frame("already_authenticated", "this socket is already authenticated", frame.ref))


async def _join(frame: frames.Join, s: Socket) -> None:
    conn, conv_id = s.conn, frame.conversation_id
    # One connection for the check and the backlog (a session each cost more than the
    # queries). The backlog is read after subscribing, in a transaction of its own,
    # so nothing committed in between is missed; what arrives live meanwhile waits
    # in the room (catching_up) until the backlog is out.
    async with s.svc.read_engine.connect() as db:
        view = await events.room_view(db, conn.principal, conv_id)
        await db.commit()
        room = Room(last_seq=frame.after_seq, floor=view.floor, catching_up=True)
        conn.rooms[conv_id] = room
        try:
            await s.hub.join(conn, conv_id)
            page = await events.read_events(db, conv_id, after_seq=frame.after_seq, staff=conn.staff,
                                            floor=view.floor, limit=CATCH_UP_PAGE)
        except BaseException:
            if conn.rooms.get(conv_id) is room:
                await s.hub.leave(conn, conv_id)
            raise
    conn.send({"type": "joined", "conversation_id": conv_id, "last_seq": view.last_seq, "read_seq": view.read_seq,
               **_with_ref(frame)})
    conn.backlog(conv_id, room, page)


async def _leave(frame: frames.Leave, s: Socket) -> None:
    await s.hub.leave(s.conn, frame.conversation_id)
    s.conn.send({"type": "left", "conversation_id": frame.conversation_id, **_with_ref(frame)})


async def _send(frame: frames.Send, s: Socket) -> None:
    if frame.conversation_id not in s.conn.rooms:
        await s.sends.settled()
        _require_joined(s.conn, frame.conversation_id, frame.ref)
        return
    # Not awaited: the next frame is read while this one waits for its commit, so a
    # client's sends share transactions. The writer publishes and reacts after the commit.
    future = conversations.submit_message(
        s.svc, s.conn.principal, frame.conversation_id, client_msg_id=frame.client_msg_id, body=frame.body,
        internal=frame.internal, attachments=frame.attachments, publish=True,
    )
    s.sends.add(future, frame)


async def _typing(frame: frames.Typing, s: Socket) -> None:
    if _require_joined(s.conn, frame.conversation_id, frame.ref) is None:
        return
    p = s.conn.principal
    await s.svc.publish(events.conversation_channel(frame.conversation_id), {
        "type": "typing", "conversation_id": frame.conversation_id,
        "user": {"id": p.user_id, "name": s.conn.name, "role": p.role.value}, "state": frame.state,
    })


async def _read(frame: frames.Read, s: Socket) -> None:
    if _require_joined(s.conn, frame.conversation_id, frame.ref) is None:
        return
    p = s.conn.principal
    stored = await conversations.mark_read(s.svc, p, frame.conversation_id, frame.seq)
    await s.svc.publish(events.conversation_channel(frame.conversation_id), {
        "type": "read", "conversation_id": frame.conversation_id, "user_id": p.user_id, "seq": stored,
    })


async def _presence(frame: frames.Presence, s: Socket) -> None:
    if not s.conn.staff:
        raise AppError("presence is for staff", code="forbidden")
    s.hub.presence.set_status(s.conn.principal.user_id, s.conn.name, frame.status)


async def _viewing(frame: frames.Viewing, s: Socket) -> None:
    if not s.conn.staff:
        raise AppError("viewing is for staff", code="forbidden")
    if _require_joined(s.conn, frame.conversation_id, frame.ref) is None:
        return
    s.hub.presence.set_viewing(s.conn, frame.conversation_id, frame.mode)


# A handler takes the frame type it is listed under; a dict cannot say so to mypy, so
# tests/chat/hub/test_handlers.py checks it, and that no frame type is missing.
_Handler = Callable[[Any, Socket], Awaitable[None]]

HANDLERS: dict[type[frames.Frame], _Handler] = {
    frames.Ping: _ping,
    frames.Auth: _auth_again,
    frames.Join: _join,
    frames.Leave: _leave,
    frames.Send: _send,
    frames.Typing: _typing,
    frames.Read: _read,
    frames.Presence: _presence,
    frames.Viewing: _viewing,
}

"""One websocket connection: its rooms, its ordered delivery, its bounded outbound queue.

Ordering is enforced here, per conversation: a live event is delivered only if it
follows the last one delivered (``prev_seq == last``); anything else either is a
duplicate (dropped) or reveals a gap, which is filled from the database before any later
event goes out. So the broker may lose, repeat or reorder publishes without the client
ever seeing a hole or a repeat.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import msgspec

from chat import metrics
from chat.authz import Action, Principal, can
from chat.events import read_events, render_event
from chat.services import Services

log = logging.getLogger(__name__)

# Frames buffered for a client that reads slower than its conversations speak. Past this
# the client is cut (close 4408) and resumes later, rather than growing server memory or
# holding up anyone else.
OUTBOUND_QUEUE_FRAMES = 1000
CATCH_UP_PAGE = 500

CLOSE_SLOW_CONSUMER = 4408

_encode = msgspec.json.Encoder().encode



@dataclass
class Room:
    last_seq: int
    floor: int = 0  # the lowest seq this socket may see (a group chat's history since joining)
    catching_up: bool = False
    # Set when a catch-up is asked for while one runs: that one may have read the
    # database before the commits that prompted the new request, so it reads again.
    again: bool = False
    pending: list[dict[str, Any]] = field(default_factory=list)


DirectWrite = Callable[[str], bool]
"""Writes a text frame into the socket's transport at once if that can be done without
waiting (the transport is not backed up); says whether it did."""


class Connection:
    def __init__(
        self,
        svc: Services,
        principal: Principal,
        name: str,
        send_text: Callable[[str], Awaitable[None]],
        close: Callable[[int, str], Awaitable[None]],
        direct: DirectWrite | None = None,
    ) -> None:
        self.svc = svc
        self.principal = principal
        self.name = name
        self.staff = can(principal, Action.VIEW_INTERNAL_NOTES)
        self.rooms: dict[int, Room] = {}
        self._send_text = send_text
        self._close = close
        self._direct = direct
        # Made on first need: a socket whose client keeps up never needs them (and an
        # idle socket then costs two objects less).
        self._queue: asyncio.Queue[str | None] | None = None
        self._writer: asyncio.Task[None] | None = None
        self._writing = False
        self._closing: asyncio.Future[None] | None = None
        self.closed = False
        self._tasks: set[asyncio.Task[None]] = set()
        if direct is None:
            self._start_writer()

    # -- outbound ---------------------------------------------------------------------

    def send(self, frame: dict[str, Any]) -> None:
        self.send_encoded(_encode(frame).decode(), frame["type"])

    def send_encoded(self, text: str, kind: str) -> None:
        """Send a frame (``kind``: its ``type``, for the frame counter), in order after
        every earlier one.

        Straight into the transport when nothing waits ahead of it and the transport
        takes it (the common case: one call, no task switch); otherwise through the
        bounded queue and the writer task, which waits for a slow reader."""
        if self.closed:
            return
        queue = self._queue
        if self._direct is not None and not self._writing and (queue is None or queue.empty()):
            try:
                if self._direct(text):
                    metrics.FRAMES_SENT_TALLY.add(kind)
                    return
            # Whatever it is, the socket went away under us (the reader side ends the rest);
            # it must not stop a fan-out from reaching the other sockets.
            except Exception:
                log.debug("direct write failed", exc_info=True)
                self.closed = True
                return
        if queue is None:
            queue = self._start_writer()
        try:
            queue.put_nowait(text)
        except asyncio.QueueFull:
            self.close_soon(CLOSE_SLOW_CONSUMER, "too slow: reconnect and resume")
            return
        metrics.FRAMES_SENT_TALLY.add(kind)

    def _start_writer(self) -> asyncio.Queue[str | None]:
        self._queue = asyncio.Queue(OUTBOUND_QUEUE_FRAMES)
        self._writer = asyncio.create_task(self._write_loop(self._queue), name=f"ws-writer-{self.principal.user_id}")
        return self._queue

    async def _write_loop(self, queue: asyncio.Queue[str | None]) -> None:
        try:
            while (text := await queue.get()) is not None:
                self._writing = True
                await self._send_text(text)
                self._writing = False
        except Exception:  # the socket went away under us; the reader side ends the rest
            log.debug("writing to the socket failed", exc_info=True)
            self.closed = True

    def idle(self) -> bool:
        """Nothing waits to be written."""
        return not self._writing and (self._queue is None or self._queue.empty())

    def queued(self) -> int:
        """Frames waiting in the outbound queue (a client reading slower than it is written to)."""
        return 0 if self._queue is None else self._queue.qsize()

    def close_soon(self, code: int, reason: str) -> None:
        if self.closed:
            return
        self.closed = True
        self._closing = asyncio.ensure_future(self._close(code, reason))

    def _spawn(self, coro: Awaitable[None]) -> None:
        task: asyncio.Task[None] = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def shutdown(self) -> None:
        self.closed = True
        writer, queue = self._writer, self._queue
        if writer is not None and queue is not None:
            try:
                queue.put_nowait(None)
            except asyncio.QueueFull:
                writer.cancel()
            try:
                await asyncio.wait_for(writer, 5)
            except (asyncio.CancelledError, TimeoutError):
                writer.cancel()
        if self._closing is not None:
            # The close frame with its code goes out before the endpoint returns (after
            # that, the server would only drop the connection: 1006 for the client).
            with contextlib.suppress(asyncio.CancelledError, TimeoutError):
                await asyncio.wait_for(self._closing, 5)
        for task in list(self._tasks):
            task.cancel()

    # -- ordered delivery -------------------------------------------------------------

    def prev_of(self, event: dict[str, Any]) -> int:
        return int(event["seq"] - 1 if self.staff else event["prev_public_seq"])

    def offer(self, event: dict[str, Any], rendered: str | None = None) -> None:
        """A stored event arrived (live); deliver it in order or fill the gap first."""
        room = self.rooms.get(event["conversation_id"])
        if room is None or self.closed:
            return
        if event["internal"] and not self.staff:
            return
        if event["seq"] <= room.last_seq:
            return  # already delivered (resume overlap or a repeated publish)
        if room.catching_up:
            room.pending.append(event)
            return
        if self.prev_of(event) == room.last_seq:
            self._deliver(room, event, rendered)
            return
        room.pending.append(event)
        self.start_catch_up(event["conversation_id"])

    def _deliver(self, room: Room, event: dict[str, Any], rendered: str | None) -> None:
        room.last_seq = event["seq"]
        if rendered is not None:
            self.send_encoded(rendered, "event")
        else:
            self.send(render_event(event, staff=self.staff))

    def backlog(self, conversation_id: int, room: Room, events: list[dict[str, Any]]) -> None:
        """A join's first page of stored events, read after the room was subscribed and
        marked as catching up: deliver it, then what arrived live meanwhile (or read on,
        if the page was full or a catch-up was asked for meanwhile)."""
        if self.rooms.get(conversation_id) is not room:
            return
        for event in events:
            if event["seq"] > room.last_seq:
                self._deliver(room, event, None)
        if len(events) >= CATCH_UP_PAGE or room.again:
            self._spawn(self._catch_up(conversation_id, room))
        else:
            self._caught_up(room)

    def _caught_up(self, room: Room) -> None:
        pending, room.pending = sorted(room.pending, key=lambda e: e["seq"]), []
        room.catching_up = False
        for event in pending:
            self.offer(event)

    def start_catch_up(self, conversation_id: int) -> None:
        room = self.rooms.get(conversation_id)
        if room is None:
            return
        if room.catching_up:
            room.again = True
            return
        room.catching_up = True
        self._spawn(self._catch_up(conversation_id, room))

    async def _catch_up(self, conversation_id: int, room: Room) -> None:
        """Send every stored event after ``room.last_seq`` from the database, then the
        live ones that queued meanwhile, in order and without repeats."""
        try:
            while True:
                room.again = False
                # No visibility check here: the join checked it, as for live events; a
                # socket that loses the conversation is taken out of the room.
                async with self.svc.reads() as db:
                    events = await read_events(db, conversation_id, after_seq=room.last_seq, staff=self.staff,
                                               floor=room.floor, limit=CATCH_UP_PAGE)
                if self.rooms.get(conversation_id) is not room:
                    return  # re-joined or left meanwhile: the newer room has its own catch-up
                for event in events:
                    if event["seq"] > room.last_seq:
                        self._deliver(room, event, None)
                if len(events) < CATCH_UP_PAGE and not room.again:
                    break
            self._caught_up(room)
        except Exception:
            log.exception("catch-up of conversation %s failed", conversation_id)
            room.catching_up = False
            self.send({"type": "resync", "conversation_id": conversation_id, "reason": "catch_up_failed"})

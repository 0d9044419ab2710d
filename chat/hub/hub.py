"""The per-process hub: which local sockets are in which conversation, the broker
subscription that feeds them, and the fan-out of what it hears to those sockets.

Nothing here is needed by another process: stored events come from the database. The
ephemeral state shared with the other processes (presence, viewers) is
:mod:`chat.hub.presence`, which the hub feeds.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
import time
from collections import defaultdict
from collections.abc import Callable, Coroutine
from typing import Any

import msgspec
from sqlalchemy import and_, or_, select
from sqlalchemy.exc import SQLAlchemyError

from chat import metrics
from chat.access_changes import ACCESS_MESSAGE, lost_ref, lost_since
from chat.authz import Action, can
from chat.broker import BrokerUnavailable, Subscription
from chat.directory import user_channel
from chat.events import STAFF_CHANNEL, conversation_channel, render_event
from chat.hub.connection import Connection
from chat.hub.presence import ANNOUNCE_SECONDS, Presence
from chat.hub.ratelimit import TokenBucket
from chat.hub.support_signal import SupportSignal
from chat.models import AuthSession, Role, User
from chat.services import Services

log = logging.getLogger(__name__)

BROKER_BACKOFF_MAX_SECONDS = 10.0
CLOSE_ACCOUNT_GONE = 4409
# Frames for one user's (or all staff's) sockets, published on their channels by chat.groups
# (and ``attention`` by chat.attention).
NOTICE_TYPES = frozenset({"membership", "join_request", "alert", "attention"})


class Hub:
    """Rooms and subscriptions of this process's sockets, fed by one broker listener.

    ``presence`` must be the one the services were built with (``svc.presence``, which
    the desk and the widget ask who is online): the hub binds itself to it and keeps it
    told of its sockets. Another one would leave everyone offline to them, silently, so
    it is refused."""

    def __init__(self, svc: Services, presence: Presence) -> None:
        if svc.presence is not presence:
            raise ValueError("build the services with this presence: build_services(..., presence=presence)")
        self.svc = svc
        self.presence = presence
        self.process_id = secrets.token_hex(6)
        self.rooms: dict[int, set[Connection]] = defaultdict(set)
        self.by_user: dict[int, set[Connection]] = defaultdict(set)
        self.staff: set[Connection] = set()
        self._sub: Subscription | None = None
        self._listener: asyncio.Task[None] | None = None
        self._heartbeat: asyncio.Task[None] | None = None
        self.live = True
        # The event loop keeps only weak references to tasks: hold them until done.
        self._background: set[asyncio.Task[None]] = set()
        # Per-principal rate budgets, shared by a user's sockets on this process.
        self.buckets: dict[int, TokenBucket] = {}
        # Tells customers' sockets whether any agent is online (the ``support`` frame).
        self.support = SupportSignal(svc, self.all_connections, self.spawn)
        # What the listener does with each type of broker message; other types are ignored.
        self._inbound: dict[str, Callable[[str, dict[str, Any]], None]] = {
            "event": self._heard_event,
            "typing": self._fan_out_ephemeral,
            "read": self._fan_out_ephemeral,
            "viewer": self._heard_viewer,
            "presence": self._heard_presence,
            ACCESS_MESSAGE: self._access_changed,
            "user.disabled": self._cut,
            "user.changed": self._cut,
            "session.revoked": self._cut,
            **dict.fromkeys(NOTICE_TYPES, self._notice),
            "inbox": self._to_staff,
        }
        presence.bind(self)

    # -- lifecycle --------------------------------------------------------------------

    def spawn(self, coro: Coroutine[Any, Any, None]) -> None:
        """Run ``coro`` in the background, held until done."""
        task = asyncio.ensure_future(coro)
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    async def publish(self, channel: str, message: dict[str, Any]) -> None:
        """Publish after the fact (:meth:`Services.publish`: an outage is logged)."""
        await self.svc.publish(channel, message)

    def presence_changed(self) -> None:
        """Told by :class:`Presence` when someone's aggregate status changed."""
        self.support.presence_changed()

    async def start(self) -> None:
        self.live = await self._subscribe()
        self._listener = asyncio.create_task(self._listen(), name="hub-listener")
        self._heartbeat = asyncio.create_task(self._beat(), name="hub-heartbeat")

    async def _beat(self) -> None:
        while True:
            await asyncio.sleep(ANNOUNCE_SECONDS)
            try:
                self.presence.beat(time.monotonic())
                # Every socket's queue, every ANNOUNCE_SECONDS: ~1 ms for 10 000 sockets.
                metrics.OUTBOUND_QUEUED_FRAMES.set(sum(c.queued() for c in self.all_connections()))
                metrics.FRAMES_SENT_TALLY.flush()
                await self.revalidate()
            except Exception:
                log.exception("hub heartbeat failed")

    async def stop(self) -> None:
        for task in (self._listener, self._heartbeat):
            if task is not None:
                task.cancel()
        for conn in {c for conns in self.by_user.values() for c in conns}:
            conn.close_soon(1001, "server going away")
        if self._sub is not None:
            try:
                await self._sub.close()
            except Exception:  # shutting down: a failed close must not stop the rest of it
                log.debug("closing the subscription failed", exc_info=True)

    def _channels(self) -> list[str]:
        return [STAFF_CHANNEL, *(conversation_channel(c) for c in self.rooms), *(user_channel(u) for u in self.by_user)]

    async def _subscribe(self) -> bool:
        """Subscribe to every channel this process needs; whether that worked. ``live``
        is left to the caller, so that a return after an outage is announced."""
        channels = self._channels()
        try:
            self._sub = await self.svc.broker.subscribe(*channels)
        except BrokerUnavailable as exc:
            log.warning("broker unavailable: %s", exc)
            self._sub = None
            return False
        # Rooms joined while that subscribe was on its way found no subscription to add
        # their channel to.
        missed = set(self._channels()) - set(channels)
        if missed:
            await self._add_channels(*missed)
        return True

    async def _listen(self) -> None:
        backoff = 0.5
        while True:
            if self._sub is not None:
                try:
                    async for channel, data in self._sub:
                        backoff = 0.5
                        self._dispatch(channel, data)
                except BrokerUnavailable as exc:
                    log.warning("broker lost: %s", exc)
                except Exception:
                    log.exception("hub listener failed")
                try:
                    await self._sub.close()
                except Exception:  # it is broken (logged above); the listener must go on to reconnect
                    log.debug("closing the lost subscription failed", exc_info=True)
                self._sub = None
                self._set_live(False)
            await asyncio.sleep(backoff)
            backoff = min(backoff * 2, BROKER_BACKOFF_MAX_SECONDS)
            if await self._subscribe():
                backoff = 0.5  # the next outage starts with quick retries again
                self._recover()

    def _set_live(self, live: bool) -> None:
        if self.live == live:
            return
        self.live = live
        for conn in self.all_connections():
            conn.send({"type": "status", "live": live})

    def _recover(self) -> None:
        """After a broker outage: every socket is caught up from the database (publishes
        made meanwhile were lost), and accounts disabled meanwhile are cut. Whoever lost a
        conversation meanwhile leaves its room first: the catch-up would hand them what
        they may no longer read."""
        log.info("broker back; catching up %d conversations", len(self.rooms))
        self._set_live(True)
        self.spawn(self._recover_rooms())
        self.spawn(self.revalidate())

    async def _recover_rooms(self) -> None:
        await self.recheck_rooms()
        for conv_id, conns in list(self.rooms.items()):
            for conn in list(conns):
                conn.start_catch_up(conv_id)

    async def recheck_rooms(self) -> None:
        """Apply the access changes this process may have missed (chat.access_changes):
        non-staff sockets whose user is no longer a participant of a room's conversation
        are dropped from it unless they may read it another way (staff read everything)."""
        rooms = {conv_id: {c.principal.user_id for c in conns if not c.staff} for conv_id, conns in self.rooms.items()}
        try:
            async with self.svc.reads() as db:
                messages = await lost_since(db, rooms)
        except (SQLAlchemyError, OSError):
            log.warning("room recheck skipped: database unavailable")
            return
        for message in messages:
            self._access_changed("", message)

    # -- registry ---------------------------------------------------------------------

    def all_connections(self) -> set[Connection]:
        return {c for conns in self.by_user.values() for c in conns}

    async def _add_channels(self, *channels: str) -> None:
        if self._sub is not None:
            try:
                await self._sub.add(*channels)
            except BrokerUnavailable as exc:
                log.warning("subscribe failed (recovered on reconnect): %s", exc)

    async def _remove_channels(self, *channels: str) -> None:
        if self._sub is not None:
            with contextlib.suppress(BrokerUnavailable):
                await self._sub.remove(*channels)

    async def register(self, conn: Connection) -> None:
        uid = conn.principal.user_id
        first = not self.by_user.get(uid)
        self.by_user[uid].add(conn)
        if first:
            await self._add_channels(user_channel(uid))
        if conn.staff:
            self.staff.add(conn)
            self.presence.staff_connected(conn)

    async def unregister(self, conn: Connection) -> None:
        uid = conn.principal.user_id
        for conv_id in list(conn.rooms):
            await self.leave(conn, conv_id)
        self.staff.discard(conn)
        conns = self.by_user.get(uid)
        if conns is not None:
            conns.discard(conn)
            if not conns:
                del self.by_user[uid]
                self.buckets.pop(uid, None)
                await self._remove_channels(user_channel(uid))
                if conn.staff:
                    self.presence.staff_gone(uid, conn.name)

    async def join(self, conn: Connection, conv_id: int) -> None:
        first = not self.rooms.get(conv_id)
        self.rooms[conv_id].add(conn)
        if first:
            await self._add_channels(conversation_channel(conv_id))
        if conn.staff:
            self.presence.staff_joined(conn, conv_id)
        self._tell_watchers(conn, conv_id)

    async def leave(self, conn: Connection, conv_id: int) -> None:
        conn.rooms.pop(conv_id, None)
        if conn.staff:
            self.presence.staff_leaving(conn, conv_id)
        conns = self.rooms.get(conv_id)
        if conns is not None:
            conns.discard(conn)
            if not conns:
                del self.rooms[conv_id]
                await self._remove_channels(conversation_channel(conv_id))
        self._tell_watchers(conn, conv_id)

    def _tell_watchers(self, conn: Connection, conv_id: int) -> None:
        """A customer's socket came or went: the room watchers (escalation.departure) ask
        this process's rooms whether the customer is still here when they act."""
        if conn.staff or not self.svc.room_watchers:
            return
        uid = conn.principal.user_id

        def here() -> bool:
            return any(c.principal.user_id == uid for c in self.rooms.get(conv_id, ()))

        for watch in self.svc.room_watchers:
            self.spawn(watch(self.svc, self.process_id, conv_id, conn.principal, here))

    # -- inbound from the broker ------------------------------------------------------

    def _dispatch(self, channel: str, data: bytes) -> None:
        try:
            message: dict[str, Any] = msgspec.json.decode(data)
        except msgspec.DecodeError:
            log.warning("undecodable broker message on %s", channel)
            return
        kind = message.get("type")
        handler = self._inbound.get(kind) if isinstance(kind, str) else None
        if handler is not None:
            handler(channel, message)

    def _heard_event(self, _channel: str, event: dict[str, Any]) -> None:
        self._fan_out_event(event)
        if event.get("kind") == "system" and (event.get("data") or {}).get("event") == "member.removed":
            self._drop_removed_member(event)

    def _fan_out_event(self, event: dict[str, Any]) -> None:
        conns = self.rooms.get(event["conversation_id"])
        if not conns:
            return
        # Encoded once per class of recipient, not once per socket.
        staff_text = msgspec.json.encode(render_event(event, staff=True)).decode()
        public_text = None if event["internal"] else msgspec.json.encode(render_event(event, staff=False)).decode()
        for conn in list(conns):
            conn.offer(event, staff_text if conn.staff else public_text)

    def _fan_out_ephemeral(self, _channel: str, message: dict[str, Any]) -> None:
        """``typing`` and ``read``: to the room's other people."""
        conns = self.rooms.get(message["conversation_id"])
        if not conns:
            return
        sender = message.get("user_id") or (message.get("user") or {}).get("id")
        text, kind = msgspec.json.encode(message).decode(), message["type"]
        for conn in list(conns):
            if conn.principal.user_id != sender:
                conn.send_encoded(text, kind)

    def _heard_viewer(self, _channel: str, message: dict[str, Any]) -> None:
        self.presence.heard_viewer(message)

    def _heard_presence(self, _channel: str, message: dict[str, Any]) -> None:
        self.presence.heard_status(message)

    def _to_staff(self, _channel: str, message: dict[str, Any]) -> None:
        text = msgspec.json.encode(message).decode()
        for conn in list(self.staff):
            conn.send_encoded(text, "inbox")

    def _cut(self, _channel: str, message: dict[str, Any]) -> None:
        for conn in list(self.by_user.get(int(message["user_id"]), ())):
            # Disabled, or a role or company changed (a socket acts with what it signed in
            # as): every socket of the user; a revoked session: that session's.
            if message["type"] != "session.revoked" or conn.principal.session_id == message.get("session_id"):
                conn.close_soon(CLOSE_ACCOUNT_GONE, "account disabled, changed or signed out")

    # -- group membership and notices (chat.groups) -----------------------------------

    def _notice(self, channel: str, message: dict[str, Any]) -> None:
        """A ``membership``, ``join_request`` or ``alert`` frame: to the sockets of the user
        the channel names (or every staff socket, on the staff channel). A membership that
        ended drops the user's sockets from the group's room first."""
        if channel == STAFF_CHANNEL:
            targets = list(self.staff)
        elif channel.startswith("user:"):
            targets = list(self.by_user.get(int(channel[5:]), ()))
        else:
            return
        if message["type"] == "membership" and message.get("state") != "member":
            for conn in targets:
                self._drop_from_room(conn, int(message["conversation_id"]))
        text, kind = msgspec.json.encode(message).decode(), message["type"]
        for conn in targets:
            conn.send_encoded(text, kind)

    def _drop_removed_member(self, event: dict[str, Any]) -> None:
        # Events come in seq order per socket, so whatever follows the removal is never
        # offered to the removed member's sockets (a gap fill would be refused: they may no
        # longer read the conversation).
        user = event["data"].get("user") or {}
        for conn in list(self.by_user.get(int(user.get("id", 0)), ())):
            self._drop_from_room(conn, int(event["conversation_id"]))

    def _access_changed(self, _channel: str, message: dict[str, Any]) -> None:
        """People lost a conversation (chat.access_changes): their sockets in its room that
        may no longer read it leave it now, before anything heard after this message on the
        channel reaches them, and are told with a ``left`` frame (``reason:
        "access_revoked"``). Whoever may still read it (staff; a reseller admin over the
        customer's company) keeps it — the rule a new ``join`` meets."""
        conv_id = int(message["conversation_id"])
        users = {int(u) for u in message.get("user_ids") or ()}
        conns = [c for c in self.rooms.get(conv_id, ()) if c.principal.user_id in users]
        if not conns:
            return
        ref = lost_ref(message)
        for conn in conns:
            if can(conn.principal, Action.VIEW_CONVERSATION, ref):
                continue
            self._drop_from_room(conn, conv_id)
            conn.send({"type": "left", "conversation_id": conv_id, "reason": "access_revoked"})

    def _drop_from_room(self, conn: Connection, conv_id: int) -> None:
        """Stop delivery to ``conn`` in ``conv_id`` now; the channel bookkeeping follows."""
        if conn.rooms.pop(conv_id, None) is None:
            return
        self.rooms.get(conv_id, set()).discard(conn)
        self.spawn(self.leave(conn, conv_id))

    async def revalidate(self) -> None:
        """Close sockets whose user was disabled or whose session was revoked — the safety
        net for a disable announced while the broker was away — and those whose user's
        role is no longer the one the socket was opened with (a socket acts with the role
        it authenticated as: staff-only frames, internal notes). A role changed through the
        product closes them at once (``user.changed``, chat.directory_admin.update_user);
        this is the net for a message lost with the broker and for an operator's change in
        the database."""
        conns = self.all_connections()
        if not conns:
            return
        user_ids = {c.principal.user_id for c in conns}
        session_ids = {c.principal.session_id for c in conns if c.principal.session_id}
        by_role: dict[Role, set[int]] = defaultdict(set)
        for conn in conns:
            by_role[conn.principal.role].add(conn.principal.user_id)
        changed = or_(User.disabled.is_(True), *(and_(User.id.in_(ids), User.role != role) for role, ids in by_role.items()))
        try:
            async with self.svc.sessions() as db:
                disabled = set(await db.scalars(select(User.id).where(User.id.in_(user_ids), changed)))
                revoked = set(
                    await db.scalars(
                        select(AuthSession.id).where(AuthSession.id.in_(session_ids), AuthSession.revoked_at.is_not(None))
                    )
                ) if session_ids else set()
        except (SQLAlchemyError, OSError):
            log.warning("revalidation skipped: database unavailable")
            return
        for conn in conns:
            if conn.principal.user_id in disabled or conn.principal.session_id in revoked:
                conn.close_soon(CLOSE_ACCOUNT_GONE, "account disabled, signed out or its role changed")


"""The per-process hub: which local sockets are in which conversation, the broker
subscription that feeds them, and the ephemeral state (presence, viewers) shared with
the other processes.

Nothing here is needed by another process: stored events come from the database, and
ephemeral state is re-announced over the broker every few seconds and expires when its
announcer stops (a ``kill -9`` included).
"""

from __future__ import annotations

import asyncio
import logging
import secrets
import time
from collections import defaultdict
from collections.abc import Coroutine
from typing import Any

import msgspec
from sqlalchemy import select

from chat.broker import BrokerUnavailable, Subscription
from chat.conversations import STAFF_CHANNEL, conversation_channel
from chat.directory import user_channel
from chat.hub.connection import Connection, render_event
from chat.hub.ratelimit import TokenBucket
from chat.models import AuthSession, User
from chat.services import Services
from chat.support_signal import SupportSignal

log = logging.getLogger(__name__)

# An agent whose last socket closed stays "online" this long: a page reload or a short
# network drop is not "offline" to colleagues and customers.
PRESENCE_GRACE_SECONDS = 30.0
# Ephemeral state is re-announced this often and forgotten when not heard for EXPIRY:
# three missed announcements, so one lost publish never flips anyone offline.
ANNOUNCE_SECONDS = 10.0
EXPIRY_SECONDS = 3 * ANNOUNCE_SECONDS
BROKER_BACKOFF_MAX_SECONDS = 10.0
CLOSE_ACCOUNT_GONE = 4409
# Frames for one user's (or all staff's) sockets, published on their channels by chat.groups.
NOTICE_TYPES = frozenset({"membership", "join_request", "alert"})

_MODE_RANK = {"viewing": 1, "answering": 2}
_STATUS_RANK = {"away": 1, "online": 2}


class Hub:
    def __init__(self, svc: Services) -> None:
        self.svc = svc
        svc.presence = self
        self.process_id = secrets.token_hex(6)
        self.rooms: dict[int, set[Connection]] = defaultdict(set)
        self.by_user: dict[int, set[Connection]] = defaultdict(set)
        self.staff: set[Connection] = set()
        self._sub: Subscription | None = None
        self._listener: asyncio.Task[None] | None = None
        self._heartbeat: asyncio.Task[None] | None = None
        self.live = True
        # Ephemeral state heard from every process (this one included):
        # presence[user_id][process_id] = (status, name, heard_at)
        self.presence: dict[int, dict[str, tuple[str, str, float]]] = defaultdict(dict)
        # viewers[conversation_id][(process_id, user_id)] = (mode, name, heard_at)
        self.viewers: dict[int, dict[tuple[str, int], tuple[str, str, float]]] = defaultdict(dict)
        # This process's own share, re-announced on every heartbeat.
        self.local_presence: dict[int, tuple[str, str]] = {}
        self.local_viewing: dict[tuple[int, int], tuple[str, str]] = {}
        self._grace: dict[int, asyncio.TimerHandle] = {}
        self.presence_grace_seconds = PRESENCE_GRACE_SECONDS
        # The event loop keeps only weak references to tasks: hold them until done.
        self._background: set[asyncio.Task[None]] = set()
        # Per-principal rate budgets, shared by a user's sockets on this process.
        self.buckets: dict[int, TokenBucket] = {}
        # Tells customers' sockets whether any agent is online (the ``support`` frame).
        self.support = SupportSignal(svc, self.all_connections, self._spawn)

    # -- lifecycle --------------------------------------------------------------------

    def _spawn(self, coro: Coroutine[Any, Any, None]) -> None:
        task = asyncio.ensure_future(coro)
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    async def start(self) -> None:
        self.live = await self._subscribe()
        self._listener = asyncio.create_task(self._listen(), name="hub-listener")
        self._heartbeat = asyncio.create_task(self._beat(), name="hub-heartbeat")

    async def stop(self) -> None:
        for task in (self._listener, self._heartbeat):
            if task is not None:
                task.cancel()
        for conn in {c for conns in self.by_user.values() for c in conns}:
            conn.close_soon(1001, "server going away")
        if self._sub is not None:
            try:
                await self._sub.close()
            except Exception:
                pass

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
                except Exception:
                    pass
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
        made meanwhile were lost), and accounts disabled meanwhile are cut."""
        log.info("broker back; catching up %d conversations", len(self.rooms))
        self._set_live(True)
        for conv_id, conns in self.rooms.items():
            for conn in conns:
                conn.start_catch_up(conv_id)
        self._spawn(self.revalidate())

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
            try:
                await self._sub.remove(*channels)
            except BrokerUnavailable:
                pass

    async def register(self, conn: Connection) -> None:
        uid = conn.principal.user_id
        first = not self.by_user.get(uid)
        self.by_user[uid].add(conn)
        if first:
            await self._add_channels(user_channel(uid))
        if conn.staff:
            self.staff.add(conn)
            timer = self._grace.pop(uid, None)
            if timer is not None:
                timer.cancel()
            self.set_presence(uid, conn.name, "online")
            for user_id in list(self.presence):
                conn.send(self._presence_frame(user_id))

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
                    loop = asyncio.get_running_loop()
                    self._grace[uid] = loop.call_later(self.presence_grace_seconds, self._presence_expired, uid, conn.name)

    def _presence_expired(self, uid: int, name: str) -> None:
        self._grace.pop(uid, None)
        if uid not in self.by_user:
            self.set_presence(uid, name, None)

    async def join(self, conn: Connection, conv_id: int) -> None:
        first = not self.rooms.get(conv_id)
        self.rooms[conv_id].add(conn)
        if first:
            await self._add_channels(conversation_channel(conv_id))
        if conn.staff:
            conn.send(self._viewers_frame(conv_id))
        self._tell_watchers(conn, conv_id)

    async def leave(self, conn: Connection, conv_id: int) -> None:
        conn.rooms.pop(conv_id, None)
        if conn.staff and (conv_id, conn.principal.user_id) in self.local_viewing:
            if not any(c.principal.user_id == conn.principal.user_id for c in self.rooms.get(conv_id, ()) if c is not conn):
                self.set_viewing(conv_id, conn.principal.user_id, conn.name, "none")
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
            self._spawn(watch(self.svc, self.process_id, conv_id, conn.principal, here))

    # -- inbound from the broker ------------------------------------------------------

    def _dispatch(self, channel: str, data: bytes) -> None:
        try:
            message: dict[str, Any] = msgspec.json.decode(data)
        except msgspec.DecodeError:
            log.warning("undecodable broker message on %s", channel)
            return
        kind = message.get("type")
        if kind == "event":
            self._fan_out_event(message)
            if message.get("kind") == "system" and (message.get("data") or {}).get("event") == "member.removed":
                self._drop_removed_member(message)
        elif kind in {"typing", "read"}:
            self._fan_out_ephemeral(message)
        elif kind == "viewer":
            self._heard_viewer(message)
        elif kind == "presence":
            self._heard_presence(message)
        elif kind in {"user.disabled", "session.revoked"}:
            self._cut(message)
        elif kind in NOTICE_TYPES:
            self._notice(channel, message)
        elif kind == "inbox":
            text = msgspec.json.encode(message).decode()
            for conn in list(self.staff):
                conn.send_encoded(text)

    def _fan_out_event(self, event: dict[str, Any]) -> None:
        conns = self.rooms.get(event["conversation_id"])
        if not conns:
            return
        # Encoded once per class of recipient, not once per socket.
        staff_text = msgspec.json.encode(render_event(event, staff=True)).decode()
        public_text = None if event["internal"] else msgspec.json.encode(render_event(event, staff=False)).decode()
        for conn in list(conns):
            conn.offer(event, staff_text if conn.staff else public_text)

    def _fan_out_ephemeral(self, message: dict[str, Any]) -> None:
        conns = self.rooms.get(message["conversation_id"])
        if not conns:
            return
        sender = message.get("user_id") or (message.get("user") or {}).get("id")
        text = msgspec.json.encode(message).decode()
        for conn in list(conns):
            if conn.principal.user_id != sender:
                conn.send_encoded(text)

    def _cut(self, message: dict[str, Any]) -> None:
        for conn in list(self.by_user.get(int(message["user_id"]), ())):
            if message["type"] == "user.disabled" or conn.principal.session_id == message.get("session_id"):
                conn.close_soon(CLOSE_ACCOUNT_GONE, "account disabled or signed out")

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
        text = msgspec.json.encode(message).decode()
        for conn in targets:
            conn.send_encoded(text)

    def _drop_removed_member(self, event: dict[str, Any]) -> None:
        # Events come in seq order per socket, so whatever follows the removal is never
        # offered to the removed member's sockets (a gap fill would be refused: they may no
        # longer read the conversation).
        user = event["data"].get("user") or {}
        for conn in list(self.by_user.get(int(user.get("id", 0)), ())):
            self._drop_from_room(conn, int(event["conversation_id"]))

    def _drop_from_room(self, conn: Connection, conv_id: int) -> None:
        """Stop delivery to ``conn`` in ``conv_id`` now; the channel bookkeeping follows."""
        if conn.rooms.pop(conv_id, None) is None:
            return
        self.rooms.get(conv_id, set()).discard(conn)
        self._spawn(self.leave(conn, conv_id))

    async def revalidate(self) -> None:
        """Close sockets whose user was disabled or whose session was revoked — the safety
        net for a disable announced while the broker was away."""
        conns = self.all_connections()
        if not conns:
            return
        user_ids = {c.principal.user_id for c in conns}
        session_ids = {c.principal.session_id for c in conns if c.principal.session_id}
        try:
            async with self.svc.sessions() as db:
                disabled = set(await db.scalars(select(User.id).where(User.id.in_(user_ids), User.disabled.is_(True))))
                revoked = set(
                    await db.scalars(
                        select(AuthSession.id).where(AuthSession.id.in_(session_ids), AuthSession.revoked_at.is_not(None))
                    )
                ) if session_ids else set()
        except Exception:
            log.warning("revalidation skipped: database unavailable")
            return
        for conn in conns:
            if conn.principal.user_id in disabled or conn.principal.session_id in revoked:
                conn.close_soon(CLOSE_ACCOUNT_GONE, "account disabled or signed out")

    # -- ephemeral: presence and viewers ----------------------------------------------

    def set_presence(self, uid: int, name: str, status: str | None) -> None:
        if status is None:
            self.local_presence.pop(uid, None)
        else:
            self.local_presence[uid] = (status, name)
        self._announce_presence(uid, name, status)

    def _announce_presence(self, uid: int, name: str, status: str | None) -> None:
        message = {"type": "presence", "user_id": uid, "name": name, "status": status, "process": self.process_id}
        self._heard_presence(message)  # this process applies its own change at once
        self._spawn(self.svc.publish(STAFF_CHANNEL, message))

    def agent_statuses(self) -> dict[int, str]:
        """Staff heard from on any process (grace period included), by user id."""
        return {uid: self._aggregate_presence(uid)[0] for uid in list(self.presence)}

    def _aggregate_presence(self, uid: int) -> tuple[str, str]:
        entries = self.presence.get(uid, {})
        if not entries:
            return "offline", ""
        status, name, _ = max(entries.values(), key=lambda e: _STATUS_RANK.get(e[0], 0))
        return status, name

    def _presence_frame(self, uid: int) -> dict[str, Any]:
        status, name = self._aggregate_presence(uid)
        return {"type": "presence", "user_id": uid, "name": name, "status": status}

    def _heard_presence(self, message: dict[str, Any]) -> None:
        uid = int(message["user_id"])
        before = self._aggregate_presence(uid)[0]
        if message.get("status") is None:
            self.presence.get(uid, {}).pop(message["process"], None)
        else:
            self.presence[uid][message["process"]] = (message["status"], message.get("name", ""), time.monotonic())
        if not self.presence.get(uid):
            self.presence.pop(uid, None)
        if self._aggregate_presence(uid)[0] != before:
            frame = msgspec.json.encode(self._presence_frame(uid)).decode()
            for conn in list(self.staff):
                conn.send_encoded(frame)
            self.support.presence_changed()

    def set_viewing(self, conv_id: int, uid: int, name: str, mode: str) -> None:
        if mode == "none":
            self.local_viewing.pop((conv_id, uid), None)
        else:
            self.local_viewing[(conv_id, uid)] = (mode, name)
        self._announce_viewer(conv_id, uid, name, mode)

    def _announce_viewer(self, conv_id: int, uid: int, name: str, mode: str) -> None:
        message = {"type": "viewer", "conversation_id": conv_id, "user_id": uid, "name": name, "mode": mode,
                   "process": self.process_id}
        self._heard_viewer(message)
        self._spawn(self.svc.publish(conversation_channel(conv_id), message))

    def _viewers_frame(self, conv_id: int) -> dict[str, Any]:
        best: dict[int, tuple[str, str]] = {}
        for (_, uid), (mode, name, _) in self.viewers.get(conv_id, {}).items():
            if uid not in best or _MODE_RANK[mode] > _MODE_RANK[best[uid][0]]:
                best[uid] = (mode, name)
        viewers = [{"user_id": uid, "name": name, "mode": mode} for uid, (mode, name) in sorted(best.items())]
        return {"type": "viewers", "conversation_id": conv_id, "viewers": viewers}

    def _heard_viewer(self, message: dict[str, Any]) -> None:
        conv_id = int(message["conversation_id"])
        key = (message["process"], int(message["user_id"]))
        before = self._viewers_frame(conv_id)
        if message["mode"] == "none":
            self.viewers.get(conv_id, {}).pop(key, None)
        else:
            self.viewers[conv_id][key] = (message["mode"], message.get("name", ""), time.monotonic())
        if not self.viewers.get(conv_id):
            self.viewers.pop(conv_id, None)
        self._push_viewers(conv_id, before)

    def _push_viewers(self, conv_id: int, before: dict[str, Any]) -> None:
        after = self._viewers_frame(conv_id)
        if after == before:
            return
        text = msgspec.json.encode(after).decode()
        for conn in list(self.rooms.get(conv_id, ())):
            if conn.staff:
                conn.send_encoded(text)

    async def _beat(self) -> None:
        while True:
            await asyncio.sleep(ANNOUNCE_SECONDS)
            try:
                self._heartbeat_once(time.monotonic())
                await self.revalidate()
            except Exception:
                log.exception("hub heartbeat failed")

    def _heartbeat_once(self, now: float) -> None:
        for uid, (status, name) in list(self.local_presence.items()):
            self._announce_presence(uid, name, status)
        for (conv_id, uid), (mode, name) in list(self.local_viewing.items()):
            self._announce_viewer(conv_id, uid, name, mode)
        self._expire(now)

    def _expire(self, now: float) -> None:
        for uid, entries in list(self.presence.items()):
            for process, (status, name, heard) in list(entries.items()):
                if now - heard > EXPIRY_SECONDS:
                    self._heard_presence({"user_id": uid, "process": process, "status": None, "name": name})
        for conv_id, watching in list(self.viewers.items()):
            for (process, uid), (_, name, heard) in list(watching.items()):
                if now - heard > EXPIRY_SECONDS:
                    self._heard_viewer({"conversation_id": conv_id, "user_id": uid, "process": process,
                                        "mode": "none", "name": name})


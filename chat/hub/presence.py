"""Ephemeral staff state shared by every process: who is online or away (presence), and
who is viewing or answering which conversation (viewers).

Nothing here is stored. Each process re-announces its own share over the broker every
:data:`ANNOUNCE_SECONDS`; every process (the announcer included) forgets what it has not
heard for :data:`EXPIRY_SECONDS`, so a process that stops announcing (a ``kill -9``
included) drops out on its own.

:class:`Presence` is built before the services and the hub, with nothing that needs them:
it is the ``AgentPresence`` the services are given (:meth:`Presence.agent_statuses`). The
hub then binds itself to it (:meth:`Presence.bind`) and feeds it its sockets' comings and
goings and what it hears from the broker.
"""

from __future__ import annotations

import asyncio
import time
from collections import defaultdict
from collections.abc import Collection, Coroutine, Mapping
from typing import Any, Protocol

import msgspec

from chat.events import STAFF_CHANNEL, conversation_channel
from chat.hub.connection import Connection

# An agent whose last socket closed stays "online" this long: a page reload or a short
# network drop is not "offline" to colleagues and customers.
PRESENCE_GRACE_SECONDS = 30.0
# Ephemeral state is re-announced this often and forgotten when not heard for EXPIRY:
# three missed announcements, so one lost publish never flips anyone offline.
ANNOUNCE_SECONDS = 10.0
EXPIRY_SECONDS = 3 * ANNOUNCE_SECONDS

_MODE_RANK = {"viewing": 1, "answering": 2}
_STATUS_RANK = {"away": 1, "online": 2}


class Host(Protocol):
    """What presence needs of the hub it is bound to: this process's sockets, a way to
    run background work, and the broker."""

    @property
    def process_id(self) -> str: ...
    @property
    def staff(self) -> Collection[Connection]: ...
    @property
    def rooms(self) -> Mapping[int, Collection[Connection]]: ...
    @property
    def by_user(self) -> Mapping[int, Collection[Connection]]: ...

    def spawn(self, coro: Coroutine[Any, Any, None]) -> None:
        """Run ``coro`` in the background, held until done."""
        ...

    async def publish(self, channel: str, message: dict[str, Any]) -> None:
        """Publish on the broker; an outage is logged, not raised."""
        ...

    def presence_changed(self) -> None:
        """Someone's aggregate status changed (the customers' ``support`` signal follows)."""
        ...


class Presence:
    """Presence and viewers as heard from every process, and this process's own share.

    Until :meth:`bind` it knows of no one (:meth:`agent_statuses` is empty) and must not
    be told of sockets."""

    def __init__(self, *, grace_seconds: float = PRESENCE_GRACE_SECONDS) -> None:
        self.grace_seconds = grace_seconds
        self._host: Host | None = None
        # Heard from every process (this one included):
        # statuses[user_id][process_id] = (status, name, heard_at)
        self.statuses: dict[int, dict[str, tuple[str, str, float]]] = defaultdict(dict)
        # viewers[conversation_id][(process_id, user_id)] = (mode, name, heard_at)
        self.viewers: dict[int, dict[tuple[str, int], tuple[str, str, float]]] = defaultdict(dict)
        # This process's own share, re-announced on every beat.
        self.local_statuses: dict[int, tuple[str, str]] = {}
        self.local_viewing: dict[tuple[int, int], tuple[str, str]] = {}
        self._grace: dict[int, asyncio.TimerHandle] = {}

    def bind(self, host: Host) -> None:
        """Attach the hub whose sockets this presence serves (once: one hub per process)."""
        if self._host is not None and self._host is not host:
            raise RuntimeError("this presence is already bound to another hub")
        self._host = host

    @property
    def host(self) -> Host:
        if self._host is None:
            raise RuntimeError("presence is not bound to a hub yet")
        return self._host

    # -- what the services ask ---------------------------------------------------------

    def agent_statuses(self) -> dict[int, str]:
        """Staff heard from on any process (grace period included), by user id."""
        return {uid: self._aggregate(uid)[0] for uid in list(self.statuses)}

    # -- the hub's sockets -------------------------------------------------------------

    def staff_connected(self, conn: Connection) -> None:
        """A staff socket registered (already among the host's staff): its user is online,
        and the socket gets everyone's status."""
        uid = conn.principal.user_id
        timer = self._grace.pop(uid, None)
        if timer is not None:
            timer.cancel()
        self.set_status(uid, conn.name, "online")
        for user_id in list(self.statuses):
            conn.send(self._status_frame(user_id))

    def staff_gone(self, uid: int, name: str) -> None:
        """The last socket of staff member ``uid`` on this process closed: offline after
        the grace period, unless they are back by then."""
        loop = asyncio.get_running_loop()
        self._grace[uid] = loop.call_later(self.grace_seconds, self._grace_over, uid, name)

    def _grace_over(self, uid: int, name: str) -> None:
        self._grace.pop(uid, None)
        if uid not in self.host.by_user:
            self.set_status(uid, name, None)

    def staff_joined(self, conn: Connection, conv_id: int) -> None:
        """A staff socket joined a room: it gets who views the conversation."""
        conn.send(self._viewers_frame(conv_id))

    def staff_leaving(self, conn: Connection, conv_id: int) -> None:
        """A staff socket is leaving a room (still listed in it): its user stops viewing
        the conversation unless another of their sockets here stays in."""
        uid = conn.principal.user_id
        if (conv_id, uid) not in self.local_viewing:
            return
        if any(c.principal.user_id == uid for c in self.host.rooms.get(conv_id, ()) if c is not conn):
            return
        self.set_viewing(conv_id, uid, conn.name, "none")

    # -- this process's own share ------------------------------------------------------

    def set_status(self, uid: int, name: str, status: str | None) -> None:
        """Staff member ``uid`` is ``status`` here ("online", "away"), or gone (None)."""
        if status is None:
            self.local_statuses.pop(uid, None)
        else:
            self.local_statuses[uid] = (status, name)
        self._announce_status(uid, name, status)

    def set_viewing(self, conv_id: int, uid: int, name: str, mode: str) -> None:
        """Staff member ``uid`` is ``mode`` ("viewing", "answering", "none") ``conv_id`` here."""
        if mode == "none":
            self.local_viewing.pop((conv_id, uid), None)
        else:
            self.local_viewing[(conv_id, uid)] = (mode, name)
        self._announce_viewer(conv_id, uid, name, mode)

    def _announce_status(self, uid: int, name: str, status: str | None) -> None:
        host = self.host
        message = {"type": "presence", "user_id": uid, "name": name, "status": status, "process": host.process_id}
        self.heard_status(message)  # this process applies its own change at once
        host.spawn(host.publish(STAFF_CHANNEL, message))

    def _announce_viewer(self, conv_id: int, uid: int, name: str, mode: str) -> None:
        host = self.host
        message = {"type": "viewer", "conversation_id": conv_id, "user_id": uid, "name": name, "mode": mode,
                   "process": host.process_id}
        self.heard_viewer(message)
        host.spawn(host.publish(conversation_channel(conv_id), message))

    def beat(self, now: float) -> None:
        """Every :data:`ANNOUNCE_SECONDS`: re-announce this process's share, and forget
        what nobody re-announced for :data:`EXPIRY_SECONDS` (``now`` is monotonic)."""
        for uid, (status, name) in list(self.local_statuses.items()):
            self._announce_status(uid, name, status)
        for (conv_id, uid), (mode, name) in list(self.local_viewing.items()):
            self._announce_viewer(conv_id, uid, name, mode)
        self._expire(now)

    def _expire(self, now: float) -> None:
        for uid, entries in list(self.statuses.items()):
            for process, (_, name, heard) in list(entries.items()):
                if now - heard > EXPIRY_SECONDS:
                    self.heard_status({"user_id": uid, "process": process, "status": None, "name": name})
        for conv_id, watching in list(self.viewers.items()):
            for (process, uid), (_, name, heard) in list(watching.items()):
                if now - heard > EXPIRY_SECONDS:
                    self.heard_viewer({"conversation_id": conv_id, "user_id": uid, "process": process,
                                       "mode": "none", "name": name})

    # -- heard from any process --------------------------------------------------------

    def heard_status(self, message: dict[str, Any]) -> None:
        """A ``presence`` announcement: every staff socket here learns of a change of the
        user's aggregate status."""
        uid = int(message["user_id"])
        before = self._aggregate(uid)[0]
        if message.get("status") is None:
            self.statuses.get(uid, {}).pop(message["process"], None)
        else:
            self.statuses[uid][message["process"]] = (message["status"], message.get("name", ""), time.monotonic())
        if not self.statuses.get(uid):
            self.statuses.pop(uid, None)
        if self._aggregate(uid)[0] != before:
            frame = msgspec.json.encode(self._status_frame(uid)).decode()
            for conn in list(self.host.staff):
                conn.send_encoded(frame, "presence")
            self.host.presence_changed()

    def heard_viewer(self, message: dict[str, Any]) -> None:
        """A ``viewer`` announcement: the staff sockets in the room learn of a change of
        the conversation's viewers."""
        conv_id = int(message["conversation_id"])
        key = (message["process"], int(message["user_id"]))
        before = self._viewers_frame(conv_id)
        if message["mode"] == "none":
            self.viewers.get(conv_id, {}).pop(key, None)
        else:
            self.viewers[conv_id][key] = (message["mode"], message.get("name", ""), time.monotonic())
        if not self.viewers.get(conv_id):
            self.viewers.pop(conv_id, None)
        after = self._viewers_frame(conv_id)
        if after == before:
            return
        text = msgspec.json.encode(after).decode()
        for conn in list(self.host.rooms.get(conv_id, ())):
            if conn.staff:
                conn.send_encoded(text, "viewers")

    # -- frames ------------------------------------------------------------------------

    def _aggregate(self, uid: int) -> tuple[str, str]:
        """The user's best status over every process, and their name."""
        entries = self.statuses.get(uid, {})
        if not entries:
            return "offline", ""
        status, name, _ = max(entries.values(), key=lambda e: _STATUS_RANK.get(e[0], 0))
        return status, name

    def _status_frame(self, uid: int) -> dict[str, Any]:
        status, name = self._aggregate(uid)
        return {"type": "presence", "user_id": uid, "name": name, "status": status}

    def _viewers_frame(self, conv_id: int) -> dict[str, Any]:
        best: dict[int, tuple[str, str]] = {}
        for (_, uid), (mode, name, _) in self.viewers.get(conv_id, {}).items():
            if uid not in best or _MODE_RANK[mode] > _MODE_RANK[best[uid][0]]:
                best[uid] = (mode, name)
        viewers = [{"user_id": uid, "name": name, "mode": mode} for uid, (mode, name) in sorted(best.items())]
        return {"type": "viewers", "conversation_id": conv_id, "viewers": viewers}

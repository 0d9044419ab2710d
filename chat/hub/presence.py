"""Ephemeral staff state shared by every process: who is online or away (presence), and
who is viewing or answering which conversation (viewers).

A person's status is one value across the cluster. *Connected somewhere* comes from the
processes that hold a socket of theirs (within the grace period); *which* status is the
latest explicit choice ("online"/"away" frame), wherever it was made. Choices are ordered
by a stamp every process agrees on: a hybrid logical clock (milliseconds of wall time,
never behind any stamp this process has seen) and the choosing process's id to break ties.
A process holding the person adopts a later choice heard from elsewhere, so the choice
outlives the socket it was made on. A new socket does not choose: it joins the current
choice, and only someone connected nowhere starts "online".

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
from collections.abc import Callable, Collection, Coroutine, Mapping
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


class Choice(msgspec.Struct, frozen=True, order=True):
    """When a status was chosen: compared as (stamp, origin), the same on every process."""

    stamp: int
    """Hybrid logical clock: ms of wall time, or one past the highest stamp seen if later."""
    origin: str
    """The process the choice was made on (ties between processes)."""


# What an announcement from a process that predates stamps counts as: before any choice.
_UNSTAMPED = Choice(0, "")


class _Entry(msgspec.Struct, frozen=True):
    """A person's status as one process holds it."""

    status: str
    name: str
    heard: float
    chosen: Choice


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

    def __init__(self, *, grace_seconds: float = PRESENCE_GRACE_SECONDS,
                 wall: Callable[[], float] = time.time) -> None:
        self.grace_seconds = grace_seconds
        self._wall = wall
        self._hlc = 0
        self._host: Host | None = None
        # Heard from every process (this one included): statuses[user_id][process_id]
        self.statuses: dict[int, dict[str, _Entry]] = defaultdict(dict)
        # viewers[conversation_id][(process_id, user_id)] = (mode, name, heard_at)
        self.viewers: dict[int, dict[tuple[str, int], tuple[str, str, float]]] = defaultdict(dict)
        # This process's own share, re-announced on every beat.
        self.local_statuses: dict[int, tuple[str, str, Choice]] = {}
        self.local_viewing: dict[tuple[int, int], tuple[str, str]] = {}
        # What each staff socket here is doing in a room: _socket_modes[(conv, user)][socket]
        self._socket_modes: dict[tuple[int, int], dict[Connection, str]] = {}
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
        if uid not in self.local_statuses:
            current = self._latest(uid)
            if current is None:
                self.set_status(uid, conn.name, "online")
            else:  # connected elsewhere: this socket joins their current choice
                self._hold(uid, conn.name, current.status, current.chosen)
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
        """A staff socket is leaving a room: what it was doing there ends; its user's
        entry follows the sockets of theirs still in."""
        if conn in self._socket_modes.get((conv_id, conn.principal.user_id), {}):
            self.set_viewing(conn, conv_id, "none")

    # -- this process's own share ------------------------------------------------------

    def set_status(self, uid: int, name: str, status: str | None) -> None:
        """Staff member ``uid`` chose ``status`` here ("online", "away"), or is gone from
        this process (None)."""
        if status is None:
            self.local_statuses.pop(uid, None)
            self._announce_status(uid, name, None, _UNSTAMPED)
        else:
            self._hold(uid, name, status, Choice(self._tick(), self.host.process_id))

    def _hold(self, uid: int, name: str, status: str, chosen: Choice) -> None:
        self.local_statuses[uid] = (status, name, chosen)
        self._announce_status(uid, name, status, chosen)

    def _tick(self) -> int:
        self._hlc = max(self._hlc + 1, int(self._wall() * 1000))
        return self._hlc

    def set_viewing(self, conn: Connection, conv_id: int, mode: str) -> None:
        """Staff socket ``conn`` is ``mode`` ("viewing", "answering", "none") ``conv_id``.
        Each socket keeps its own mode; the person's entry here is the strongest of their
        sockets' (answering over viewing), announced when it changes."""
        uid = conn.principal.user_id
        key = (conv_id, uid)
        modes = self._socket_modes.setdefault(key, {})
        if mode == "none":
            modes.pop(conn, None)
        else:
            modes[conn] = mode
        if not modes:
            del self._socket_modes[key]
        best = max(modes.values(), key=_MODE_RANK.__getitem__, default="none")
        held = self.local_viewing.get(key)
        if best == (held[0] if held else "none"):
            return
        if best == "none":
            del self.local_viewing[key]
        else:
            self.local_viewing[key] = (best, conn.name)
        self._announce_viewer(conv_id, uid, conn.name, best)

    def _announce_status(self, uid: int, name: str, status: str | None, chosen: Choice) -> None:
        host = self.host
        message = {"type": "presence", "user_id": uid, "name": name, "status": status, "process": host.process_id,
                   "chosen": [chosen.stamp, chosen.origin]}
        self._apply_status(message)  # this process applies its own change at once
        host.spawn(host.publish(STAFF_CHANNEL, message))

    def _announce_viewer(self, conv_id: int, uid: int, name: str, mode: str) -> None:
        host = self.host
        message = {"type": "viewer", "conversation_id": conv_id, "user_id": uid, "name": name, "mode": mode,
                   "process": host.process_id}
        self._apply_viewer(message)  # at once here; the broker's echo is skipped
        host.spawn(host.publish(conversation_channel(conv_id), message))

    def beat(self, now: float) -> None:
        """Every :data:`ANNOUNCE_SECONDS`: re-announce this process's share, and forget
        what nobody re-announced for :data:`EXPIRY_SECONDS` (``now`` is monotonic)."""
        for uid, (status, name, chosen) in list(self.local_statuses.items()):
            self._announce_status(uid, name, status, chosen)
        for (conv_id, uid), (mode, name) in list(self.local_viewing.items()):
            self._announce_viewer(conv_id, uid, name, mode)
        self._expire(now)

    def _expire(self, now: float) -> None:
        for uid, entries in list(self.statuses.items()):
            for process, entry in list(entries.items()):
                if now - entry.heard > EXPIRY_SECONDS:
                    self._apply_status({"user_id": uid, "process": process, "status": None, "name": entry.name})
        for conv_id, watching in list(self.viewers.items()):
            for (process, uid), (_, name, heard) in list(watching.items()):
                if now - heard > EXPIRY_SECONDS:
                    self._apply_viewer({"conversation_id": conv_id, "user_id": uid, "process": process,
                                        "mode": "none", "name": name})

    # -- heard from any process --------------------------------------------------------

    def heard_status(self, message: dict[str, Any]) -> None:
        """A ``presence`` announcement from the broker. This process's own come back too and
        are skipped: it applied them when it made them, and an echo may be older than a
        choice it has adopted since."""
        if message.get("process") != self.host.process_id:
            self._apply_status(message)

    def _apply_status(self, message: dict[str, Any]) -> None:
        """Record one process's share of a user; a later choice than the one this process
        holds them with is adopted; every staff socket here learns of a change of the
        user's status."""
        uid = int(message["user_id"])
        before = self._aggregate(uid)[0]
        status = message.get("status")
        if status is None:
            self.statuses.get(uid, {}).pop(message["process"], None)
        else:
            chosen = _choice_of(message)
            self._hlc = max(self._hlc, chosen.stamp)
            earlier = self.statuses.get(uid, {}).get(message["process"])
            if earlier is not None and chosen < earlier.chosen:
                # A process's choices only move forward: this one was overtaken on the way
                # (two publishes reordered), and the later one is already applied.
                return
            name = str(message.get("name", ""))
            self.statuses[uid][message["process"]] = _Entry(str(status), name, time.monotonic(), chosen)
            held = self.local_statuses.get(uid)
            if held is not None and chosen > held[2]:
                self.local_statuses[uid] = (str(status), held[1], chosen)
                own = self.statuses[uid].get(self.host.process_id)
                if own is not None:
                    self.statuses[uid][self.host.process_id] = _Entry(str(status), own.name, own.heard, chosen)
        if not self.statuses.get(uid):
            self.statuses.pop(uid, None)
        if self._aggregate(uid)[0] != before:
            frame = msgspec.json.encode(self._status_frame(uid)).decode()
            for conn in list(self.host.staff):
                conn.send_encoded(frame, "presence")
            self.host.presence_changed()

    def heard_viewer(self, message: dict[str, Any]) -> None:
        """A ``viewer`` announcement from the broker; this process's own echoes are skipped
        (applied when made: an echo of "viewing" arriving after the "none" that followed
        it would show the viewer again)."""
        if message.get("process") != self.host.process_id:
            self._apply_viewer(message)

    def _apply_viewer(self, message: dict[str, Any]) -> None:
        """The staff sockets in the room learn of a change of the conversation's viewers."""
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

    def _latest(self, uid: int) -> _Entry | None:
        """The share holding the user's latest choice, or None: connected nowhere."""
        entries = self.statuses.get(uid)
        if not entries:
            return None
        return max(entries.values(), key=lambda e: e.chosen)

    def _aggregate(self, uid: int) -> tuple[str, str]:
        """The user's status across the cluster, and their name."""
        latest = self._latest(uid)
        return ("offline", "") if latest is None else (latest.status, latest.name)

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


def _choice_of(message: dict[str, Any]) -> Choice:
    """The stamp an announcement carries (``[stamp, origin]``); a missing or malformed one
    orders before every stamped choice rather than failing the listener."""
    raw = message.get("chosen")
    if isinstance(raw, list) and len(raw) == 2 and isinstance(raw[0], int) and isinstance(raw[1], str):
        return Choice(raw[0], raw[1])
    return _UNSTAMPED

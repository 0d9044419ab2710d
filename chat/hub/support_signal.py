"""The live "support online" signal for customers' sockets: the ``support`` frame.

Widget visitors and customers are told whether any agent is online to answer a live chat
(docs/protocol.md, ``support``): once right after ``ready``, then whenever that flips.
"Online" is the hub's presence aggregate over every process, its grace period included,
narrowed to people who answer chats (agents and support admins, not disabled) — the same
rule as ``agents_online`` in ``GET /api/widget/config``, which it replaces for a widget
with an open socket.

The value is recomputed after every change of someone's aggregate status (an agent
connecting, going away, or leaving for good after the grace period), never per socket,
so a thousand visitors connecting cost no database query.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Coroutine, Iterable
from typing import Any

import msgspec
from sqlalchemy.exc import SQLAlchemyError

from chat.hub.connection import Connection
from chat.services import Services
from chat.widget_sites import agents_online

log = logging.getLogger(__name__)


def support_frame(online: bool) -> dict[str, Any]:
    return {"type": "support", "agents_online": online}


class SupportSignal:
    """This process's view of "any agent online", and the customers' sockets it tells.

    ``connections`` lists the process's open sockets; ``spawn`` runs a background task the
    hub holds until done."""

    def __init__(
        self,
        svc: Services,
        connections: Callable[[], Iterable[Connection]],
        spawn: Callable[[Coroutine[Any, Any, None]], None],
    ) -> None:
        self.svc = svc
        self._connections = connections
        self._spawn = spawn
        # A fresh process has heard of nobody yet; other processes' agents are heard within
        # one announcement period and flip this like any other change.
        self.agents_online = False
        self._dirty = False
        self._running = False

    def greet(self, conn: Connection) -> None:
        """The first ``support`` frame of a newly registered customer socket. Synchronous
        on purpose: nothing can slip between the value read and the frame queued, and a
        later flip reaches the socket because it is already registered."""
        if not conn.staff:
            conn.send(support_frame(self.agents_online))

    def presence_changed(self) -> None:
        """Someone's aggregate presence changed: recompute, coalescing bursts (a deploy
        reconnecting every agent asks once or twice, not once per agent)."""
        self._dirty = True
        if not self._running:
            self._running = True
            self._spawn(self._refresh())

    async def _refresh(self) -> None:
        try:
            while self._dirty:
                self._dirty = False
                try:
                    online = await agents_online(self.svc)
                except SQLAlchemyError as exc:
                    # Keep telling the last known value; the next presence change retries.
                    log.warning("support signal not refreshed: database unavailable (%s)", type(exc).__name__)
                    return
                if online != self.agents_online:
                    self._announce(online)
        finally:
            self._running = False

    def _announce(self, online: bool) -> None:
        # Set and sent in one step (no await): a socket greeted meanwhile got the new value.
        self.agents_online = online
        text = msgspec.json.encode(support_frame(online)).decode()
        for conn in list(self._connections()):
            if not conn.staff:
                conn.send_encoded(text, "support")

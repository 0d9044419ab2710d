"""Presence and viewers on their own, bound to a stand-in hub: built before any services,
aggregated over processes, told to staff once per change, expired when not re-announced.
(tests/chat/hub/test_ephemeral.py covers the same through real sockets and servers.)"""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from dataclasses import dataclass, field
from typing import Any, cast

import msgspec
import pytest

from chat.authz import Principal
from chat.hub import presence as presence_module
from chat.hub.connection import Connection
from chat.hub.presence import EXPIRY_SECONDS, Presence


@dataclass
class FakePrincipal:
    user_id: int


@dataclass(eq=False)
class FakeSocket:
    user_id: int
    name: str
    staff: bool = True
    frames: list[dict[str, Any]] = field(default_factory=list)

    @property
    def principal(self) -> Principal:
        return cast(Principal, FakePrincipal(self.user_id))

    def send(self, frame: dict[str, Any]) -> None:
        self.frames.append(frame)

    def send_encoded(self, text: str, kind: str) -> None:
        self.frames.append(msgspec.json.decode(text))


@dataclass
class FakeHub:
    process_id: str = "here"
    staff: set[Connection] = field(default_factory=set)
    rooms: dict[int, set[Connection]] = field(default_factory=dict)
    by_user: dict[int, set[Connection]] = field(default_factory=dict)
    published: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    changes: int = 0
    tasks: set[asyncio.Task[None]] = field(default_factory=set)

    def spawn(self, coro: Coroutine[Any, Any, None]) -> None:
        self.tasks.add(asyncio.ensure_future(coro))

    async def publish(self, channel: str, message: dict[str, Any]) -> None:
        self.published.append((channel, message))

    def presence_changed(self) -> None:
        self.changes += 1


def connect(hub: FakeHub, presence: Presence, sock: FakeSocket) -> Connection:
    conn = cast(Connection, sock)
    hub.staff.add(conn)
    hub.by_user.setdefault(sock.user_id, set()).add(conn)
    presence.staff_connected(conn)
    return conn


def heard(uid: int, process: str, status: str | None, name: str = "Bo") -> dict[str, Any]:
    return {"type": "presence", "user_id": uid, "name": name, "status": status, "process": process}


def test_presence_is_built_before_any_hub_and_knows_no_one_until_bound() -> None:
    presence = Presence()
    assert presence.agent_statuses() == {}
    with pytest.raises(RuntimeError):
        presence.set_status(1, "Ann", "online")


def test_a_presence_serves_one_hub() -> None:
    presence = Presence()
    hub = FakeHub()
    presence.bind(hub)
    presence.bind(hub)
    with pytest.raises(RuntimeError):
        presence.bind(FakeHub())


async def test_the_best_status_over_processes_is_told_to_staff_once_per_change() -> None:
    presence, hub = Presence(), FakeHub()
    presence.bind(hub)
    ann = FakeSocket(1, "Ann")
    connect(hub, presence, ann)
    assert presence.agent_statuses() == {1: "online"}
    presence.heard_status(heard(2, "there", "online"))
    presence.heard_status(heard(2, "elsewhere", "away"))  # online there: still online
    presence.heard_status(heard(2, "there", None))  # away is the best left
    told = [(f["user_id"], f["status"]) for f in ann.frames if f["type"] == "presence"]
    assert told == [(1, "online"), (1, "online"), (2, "online"), (2, "away")]
    assert presence.agent_statuses() == {1: "online", 2: "away"}
    assert hub.changes == 3
    await asyncio.sleep(0)
    assert [(channel, m["user_id"], m["status"]) for channel, m in hub.published] == [("staff", 1, "online")]


class FakeTime:
    now = 1000.0

    def monotonic(self) -> float:
        return self.now


async def test_what_is_not_re_announced_expires_and_our_own_share_is_re_announced(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    clock = FakeTime()
    monkeypatch.setattr(presence_module, "time", clock)
    presence, hub = Presence(), FakeHub()
    presence.bind(hub)
    ann = FakeSocket(1, "Ann")
    conn = connect(hub, presence, ann)
    hub.rooms[7] = {conn}
    presence.set_viewing(7, 1, "Ann", "answering")
    presence.heard_status(heard(2, "there", "online"))
    presence.heard_viewer({"conversation_id": 7, "user_id": 2, "name": "Bo", "mode": "viewing", "process": "there"})
    clock.now += EXPIRY_SECONDS + 1
    presence.beat(clock.now)
    assert presence.agent_statuses() == {1: "online"}
    assert ann.frames[-1] == {"type": "viewers", "conversation_id": 7,
                              "viewers": [{"user_id": 1, "name": "Ann", "mode": "answering"}]}
    await asyncio.sleep(0)
    announced = [m["type"] for _, m in hub.published]
    assert announced == ["presence", "viewer", "presence", "viewer"]


async def test_a_staff_member_is_offline_after_the_grace_unless_back() -> None:
    presence, hub = Presence(grace_seconds=0.05), FakeHub()
    presence.bind(hub)
    watcher = FakeSocket(9, "Wes")
    connect(hub, presence, watcher)
    ann = FakeSocket(1, "Ann")
    connect(hub, presence, ann)
    del hub.by_user[1]
    presence.staff_gone(1, "Ann")
    await asyncio.sleep(0.1)
    assert presence.agent_statuses() == {9: "online"}
    assert watcher.frames[-1] == {"type": "presence", "user_id": 1, "name": "", "status": "offline"}

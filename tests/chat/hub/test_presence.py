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


def heard(uid: int, process: str, status: str | None, name: str = "Bo", stamp: int | None = None) -> dict[str, Any]:
    message = {"type": "presence", "user_id": uid, "name": name, "status": status, "process": process}
    if stamp is not None:
        message["chosen"] = [stamp, process]
    return message


class Wall:
    """Wall-clock seconds for the hybrid logical clock, moved by hand."""

    def __init__(self, now: float = 1_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


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


async def test_the_latest_choice_over_processes_is_told_to_staff_once_per_change() -> None:
    wall = Wall()
    presence, hub = Presence(wall=wall), FakeHub()
    presence.bind(hub)
    ann = FakeSocket(1, "Ann")
    connect(hub, presence, ann)
    assert presence.agent_statuses() == {1: "online"}
    presence.heard_status(heard(2, "there", "online", stamp=5_000))
    presence.heard_status(heard(2, "elsewhere", "away", stamp=6_000))  # the later choice: away
    presence.heard_status(heard(2, "there", "online", stamp=5_000))  # re-announced, still older
    presence.heard_status(heard(2, "elsewhere", None))  # gone there: online is what is left
    told = [(f["user_id"], f["status"]) for f in ann.frames if f["type"] == "presence"]
    assert told == [(1, "online"), (1, "online"), (2, "online"), (2, "away"), (2, "online")]
    assert presence.agent_statuses() == {1: "online", 2: "online"}
    assert hub.changes == 4
    await asyncio.sleep(0)
    assert [(channel, m["user_id"], m["status"], m["chosen"]) for channel, m in hub.published] == [
        ("staff", 1, "online", [1_000_000, "here"])]


async def test_a_choice_made_elsewhere_later_is_adopted_and_outlives_that_process() -> None:
    wall = Wall()
    presence, hub = Presence(wall=wall), FakeHub()
    presence.bind(hub)
    tab = FakeSocket(1, "Ann")
    connect(hub, presence, tab)  # online here, stamped 1 000 000
    presence.heard_status(heard(1, "there", "online", stamp=999_000))  # her other tab, older
    presence.heard_status(heard(1, "there", "away", stamp=1_000_500))  # she chose away there
    assert presence.agent_statuses() == {1: "away"}
    presence.heard_status(heard(1, "there", None))  # and closed that tab: the choice stays
    assert presence.agent_statuses() == {1: "away"}
    presence.beat(0.0)  # re-announced from here with the adopted choice
    await asyncio.sleep(0)
    assert hub.published[-1][1]["status"] == "away" and hub.published[-1][1]["chosen"] == [1_000_500, "there"]


async def test_the_latest_choice_wins_even_against_a_clock_that_runs_behind() -> None:
    wall = Wall(500.0)  # this process's wall clock is behind the stamps it hears
    presence, hub = Presence(wall=wall), FakeHub()
    presence.bind(hub)
    tab = FakeSocket(1, "Ann")
    connect(hub, presence, tab)
    presence.heard_status(heard(1, "there", "away", stamp=2_000_000))
    assert presence.agent_statuses() == {1: "away"}
    presence.set_status(1, "Ann", "online")  # chosen after hearing away: ordered after it
    assert presence.agent_statuses() == {1: "online"}
    await asyncio.sleep(0)
    assert hub.published[-1][1]["chosen"] == [2_000_001, "here"]


async def test_ties_are_broken_by_the_process_the_same_way_everywhere() -> None:
    outcomes = set()
    for order in (("a", "b"), ("b", "a")):
        presence, hub = Presence(wall=Wall(0.0)), FakeHub(process_id="c")
        presence.bind(hub)
        for process in order:
            presence.heard_status(heard(3, process, "away" if process == "a" else "online", stamp=7))
        outcomes.add(presence.agent_statuses()[3])
    assert outcomes == {"online"}  # ("b" > "a") whichever was heard first


async def test_a_new_socket_joins_the_current_choice_and_only_someone_connected_nowhere_starts_online() -> None:
    wall = Wall()
    presence, hub = Presence(wall=wall), FakeHub()
    presence.bind(hub)
    presence.heard_status(heard(1, "there", "away", stamp=900_000))  # away in a tab on another process
    connect(hub, presence, FakeSocket(1, "Ann"))  # a new tab here
    assert presence.agent_statuses() == {1: "away"}
    connect(hub, presence, FakeSocket(2, "Bo"))  # connected nowhere before
    assert presence.agent_statuses() == {1: "away", 2: "online"}


async def test_an_unstamped_announcement_orders_before_every_choice_and_own_echoes_are_skipped() -> None:
    presence, hub = Presence(wall=Wall()), FakeHub()
    presence.bind(hub)
    connect(hub, presence, FakeSocket(1, "Ann"))
    presence.set_status(1, "Ann", "away")
    presence.heard_status(heard(1, "old-process", "online"))  # no stamp: before any choice
    assert presence.agent_statuses() == {1: "away"}
    presence.heard_status({**heard(1, "here", "online"), "chosen": ["x", 1]})  # our own (stale) echo
    assert presence.agent_statuses() == {1: "away"}
    assert presence.local_statuses[1][0] == "away"


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
    presence.set_viewing(conn, 7, "answering")
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


async def test_viewing_is_kept_per_socket_and_the_persons_entry_is_their_strongest() -> None:
    presence, hub = Presence(), FakeHub()
    presence.bind(hub)
    watcher = connect(hub, presence, FakeSocket(9, "Wes"))
    tab1 = connect(hub, presence, FakeSocket(1, "Ann"))
    tab2 = connect(hub, presence, FakeSocket(1, "Ann"))
    hub.rooms[7] = {watcher, tab1, tab2}

    def shown() -> list[tuple[int, str]]:
        return [(v["user_id"], v["mode"]) for v in presence._viewers_frame(7)["viewers"]]

    presence.set_viewing(tab1, 7, "viewing")
    presence.set_viewing(tab2, 7, "answering")
    assert shown() == [(1, "answering")]
    presence.set_viewing(tab1, 7, "viewing")  # the other tab again: answering still wins
    assert shown() == [(1, "answering")]
    presence.staff_leaving(tab2, 7)  # the answering tab leaves: the one still in is viewing
    assert shown() == [(1, "viewing")]
    presence.staff_leaving(tab1, 7)
    assert shown() == []
    # The broker's echo of our own earlier "viewing" changes nothing any more.
    presence.heard_viewer({"conversation_id": 7, "user_id": 1, "name": "Ann", "mode": "viewing",
                           "process": hub.process_id})
    assert shown() == []


async def test_an_announcement_overtaken_on_the_way_is_ignored() -> None:
    presence, hub = Presence(wall=Wall()), FakeHub()
    presence.bind(hub)
    presence.heard_status(heard(2, "there", "away", stamp=6_000))
    presence.heard_status(heard(2, "there", "online", stamp=5_000))  # published before, arrived after
    assert presence.agent_statuses() == {2: "away"}

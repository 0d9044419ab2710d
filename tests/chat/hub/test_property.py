"""Property: whatever happens — sends, drops, reconnects, lost, repeated or reordered
publishes — a client's view of a conversation is always an ordered, duplicate-free prefix
of the stored log, and becomes all of it once the dust settles.

Two levels, both on a real database (SQLite and PostgreSQL):

* over real sockets: a real server, ChatClient instances, and the broker the server
  really uses. A lost publish is a commit whose publish never happened (the process
  died in between); a repeated or reordered one is a stored event published again.
* one :class:`~chat.hub.connection.Connection`, fed synthetic broker traffic in any
  order (repeats, holes, stale events) while its catch-up reads the database, with the
  scheduling between the two chosen by Hypothesis too.
"""

from __future__ import annotations

import asyncio
import uuid
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import msgspec
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from chat.auth import principal_of, visitor_session
from chat.authz import Action, Principal, can
from chat.conversations import post_message, start_conversation
from chat.events import EventKind, append_event, conversation_channel, event_json, read_events
from chat.hub.connection import CATCH_UP_PAGE, Connection, Room
from chat.models import User
from chat.services import Services
from chat.wiring import build_services
from tests.conftest import make_settings
from tests.support.chatlog import (
    CheckedClient,
    Person,
    SupportChat,
    assert_ordered_prefix,
    assert_same_log,
    eventually,
    seed_support_chat,
    stored_log,
)
from tests.support.live import LiveServer


def budget(examples: int) -> settings:
    # Examples share the test's server and database (each opens its own conversation),
    # hence the function-scoped fixtures; real I/O, hence no deadline.
    return settings(
        max_examples=examples,
        deadline=None,
        suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    )


WHO = st.sampled_from(["visitor", "agent"])


async def new_conversation(svc: Services, chat: SupportChat) -> tuple[Person, int]:
    """A fresh visitor and conversation for one example (the server is shared)."""
    session = await visitor_session(svc, site_key=chat.site_key, name=f"Visitor {uuid.uuid4().hex[:6]}")
    visitor = Person(principal_of(session.user), session.token, "visitor")
    conv = await start_conversation(svc, visitor.principal, subject="property")
    return visitor, conv.conversation.id


# -- over real sockets --------------------------------------------------------------------

socket_ops = st.lists(
    st.one_of(
        st.tuples(st.just("send"), WHO, st.booleans()),
        st.tuples(st.just("send_nowait"), WHO),
        st.tuples(st.just("lost"), st.booleans()),
        st.tuples(st.just("repeat"), st.lists(st.integers(min_value=1, max_value=8), min_size=1, max_size=4)),
        st.tuples(st.just("drop"), WHO),
        st.tuples(st.just("reconnect"), WHO),
        st.tuples(st.just("settle"), st.sampled_from([0.0, 0.01, 0.05])),
    ),
    min_size=1,
    max_size=20,
)


@pytest.fixture
async def chat_on_server(server: LiveServer) -> tuple[LiveServer, SupportChat]:
    # Once per test function, not per example: the examples share the server and these
    # people, each example opens its own conversation with its own visitor.
    return server, await seed_support_chat(server.services)


@pytest.fixture
async def chat_on_db(svc: Services) -> tuple[Services, SupportChat]:
    return svc, await seed_support_chat(svc)


@budget(50)
@given(ops=socket_ops)
async def test_socket_view_is_an_ordered_prefix_of_the_stored_log(
    chat_on_server: tuple[LiveServer, SupportChat], ops: list[tuple[Any, ...]]
) -> None:
    server, chat = chat_on_server
    svc = server.services
    visitor, conv = await new_conversation(svc, chat)
    people = {"visitor": visitor, "agent": chat.agent}
    clients = {who: CheckedClient(server.ws_url + "/ws", person.token, timeout=10) for who, person in people.items()}
    connected = dict.fromkeys(clients, True)
    sent: list[str] = []
    lost: set[int] = set()
    try:
        for client in clients.values():
            await client.connect()
            await client.join(conv)
        for op in ops:
            await apply_socket_op(op, svc, chat, conv, clients, connected, sent, lost)
            await check_prefixes(svc, people, clients, conv)

        # Settle: everyone back, every send acknowledged, one last doorbell.
        for who, client in clients.items():
            if not connected[who]:
                await client.reconnect()
        await eventually(lambda: assert_no_unacked(clients), timeout=10, what="every send acknowledged")
        # Everything that was published arrives without a later event to reveal it.
        for who, client in clients.items():
            stored = await stored_log(svc, people[who].principal, conv)
            owed = max((e["seq"] for e in stored if e["seq"] not in lost), default=0)
            await client.wait_for_seq(conv, owed, timeout=10)
        final = await clients["agent"].send(conv, "final doorbell")
        for who, client in clients.items():
            stored = await stored_log(svc, people[who].principal, conv)
            assert stored[-1]["seq"] == final["seq"]
            await client.wait_for_seq(conv, final["seq"], timeout=10)
            assert_same_log(client.events(conv), stored, who)
            assert client.violations == [], (who, client.violations)
        everything = await stored_log(svc, chat.agent.principal, conv)
        ids = Counter(e["client_msg_id"] for e in everything if e["client_msg_id"])
        assert all(ids[cid] == 1 for cid in sent), ids
    finally:
        for client in clients.values():
            await client.close()


async def apply_socket_op(
    op: tuple[Any, ...], svc: Services, chat: SupportChat, conv: int,
    clients: dict[str, CheckedClient], connected: dict[str, bool], sent: list[str], lost: set[int],
) -> None:
    kind = op[0]
    if kind == "send":
        who, internal = op[1], op[2] and op[1] == "agent"
        if connected[who]:
            cid = uuid.uuid4().hex
            await clients[who].send(conv, f"{who} says {cid[:6]}", client_msg_id=cid, internal=internal)
            sent.append(cid)
    elif kind == "send_nowait":
        if connected[op[1]]:
            sent.append(await clients[op[1]].send_nowait(conv, f"{op[1]} in a hurry"))
    elif kind == "lost":
        # Committed, then the process died before publishing: nobody is told.
        _, events = await post_message(svc, chat.agent.principal, conv, client_msg_id=uuid.uuid4().hex,
                                       body="committed, never published", internal=op[1])
        lost.update(e["seq"] for e in events)
    elif kind == "repeat":
        # Stored events published again, in the order given: repeats and reordering.
        stored = await stored_log(svc, chat.agent.principal, conv)
        for back in op[1]:
            if back <= len(stored):
                await svc.publish(conversation_channel(conv), stored[-back])
    elif kind == "drop":
        if connected[op[1]]:
            await clients[op[1]].drop()
            connected[op[1]] = False
    elif kind == "reconnect":
        if not connected[op[1]]:
            await clients[op[1]].reconnect()
            connected[op[1]] = True
    elif kind == "settle":
        await asyncio.sleep(op[1])


async def check_prefixes(svc: Services, people: dict[str, Person], clients: dict[str, CheckedClient], conv: int) -> None:
    for who, client in clients.items():
        seen = client.events(conv)  # before reading the database: it can only be ahead
        stored = await stored_log(svc, people[who].principal, conv)
        assert_ordered_prefix(seen, stored, who)
        assert client.violations == [], (who, client.violations)


def assert_no_unacked(clients: dict[str, CheckedClient]) -> None:
    for who, client in clients.items():
        assert not client.unacked, (who, list(client.unacked))


# -- one Connection, synthetic broker traffic ------------------------------------------------


@dataclass
class Socket:
    """One principal's socket as the client sees it: what reached it, across reconnects.
    Frames written after a drop are lost on the way, as they would be on a cut TCP link."""

    svc: Services
    principal: Principal
    conv: int
    received: list[dict[str, Any]] = field(default_factory=list)
    conn: Connection | None = None
    violations: list[str] = field(default_factory=list)
    reconnects: int = 0
    owed: int = 0
    """The highest seq this socket must get without anything else happening: the log as
    stored when it (re)joined, and every event offered to it since."""

    def visible(self, event: dict[str, Any]) -> bool:
        return can(self.principal, Action.VIEW_INTERNAL_NOTES) or not event["internal"]

    @property
    def last_seq(self) -> int:
        return int(self.received[-1]["seq"]) if self.received else 0

    async def connect(self, committed: list[dict[str, Any]]) -> None:
        generation = self.reconnects

        async def send_text(text: str) -> None:
            if generation != self.reconnects:
                return  # written into a dead socket
            frame = msgspec.json.decode(text)
            if frame.get("type") != "event":
                self.violations.append(f"unexpected frame {frame}")
                return
            if frame["seq"] <= self.last_seq:
                self.violations.append(f"repeat: seq {frame['seq']} after {self.last_seq}")
            elif frame["prev_seq"] != self.last_seq:
                self.violations.append(f"gap: seq {frame['seq']} prev_seq {frame['prev_seq']} after {self.last_seq}")
            self.received.append(frame)

        async def close(code: int, reason: str) -> None:
            self.violations.append(f"closed {code} {reason}")

        self.conn = Connection(self.svc, self.principal, "tester", send_text, close)
        self.owed = max((e["seq"] for e in committed if self.visible(e)), default=0)
        # What the endpoint does on join: the room first (live events wait in it), then
        # the first backlog page, then the rest.
        room = self.conn.rooms[self.conv] = Room(last_seq=self.last_seq, catching_up=True)
        async with self.svc.read_engine.connect() as db:
            page = await read_events(db, self.conv, after_seq=self.last_seq, staff=self.visible({"internal": True}),
                                     floor=0, limit=CATCH_UP_PAGE)
        self.conn.backlog(self.conv, room, page)

    async def drop(self) -> None:
        assert self.conn is not None
        self.reconnects += 1
        await self.conn.shutdown()
        self.conn = None

    def catching_up(self) -> bool:
        return self.conn is not None and self.conn.rooms[self.conv].catching_up

    def idle(self) -> bool:
        """No catch-up running, nothing held back, nothing left to write."""
        if self.conn is None:
            return True
        room = self.conn.rooms[self.conv]
        return not room.catching_up and not room.pending and self.conn.idle()


connection_ops = st.lists(
    st.one_of(
        st.tuples(st.just("commit"), st.sampled_from(["visitor", "agent", "note"]), st.booleans()),
        st.tuples(st.just("offer"), st.integers(min_value=0, max_value=40)),
        st.tuples(st.just("offer_newest"), st.integers(min_value=1, max_value=3)),
        st.tuples(st.just("yield"), st.integers(min_value=1, max_value=6)),
        st.tuples(st.just("sleep"), st.sampled_from([0.001, 0.01])),
        st.tuples(st.just("reconnect"), st.sampled_from(["staff", "customer"])),
        st.tuples(st.just("race"), st.sampled_from(["staff", "customer"]), st.booleans()),
    ),
    min_size=1,
    max_size=40,
)


@budget(40)
@given(history=st.integers(min_value=0, max_value=10) | st.integers(min_value=100, max_value=250), ops=connection_ops)
async def test_connection_delivers_an_ordered_prefix_whatever_the_broker_does(
    chat_on_db: tuple[Services, SupportChat], history: int, ops: list[tuple[Any, ...]]
) -> None:
    svc, chat = chat_on_db
    visitor, conv = await new_conversation(svc, chat)
    # A long history makes a catch-up's read slow enough for commits to land during it.
    async with svc.sessions.begin() as db:
        for i in range(history):
            await append_event(db, conv, kind=EventKind.NOTE if i % 5 == 4 else EventKind.MESSAGE,
                               now=svc.clock.now(), author_id=chat.agent.principal.user_id, body=f"old {i}",
                               internal=i % 5 == 4, client_msg_id=uuid.uuid4().hex)
    sockets = {"staff": Socket(svc, chat.agent.principal, conv), "customer": Socket(svc, visitor.principal, conv)}
    principals = {"staff": chat.agent.principal, "customer": visitor.principal}
    async with svc.sessions() as db:
        agent_user = await db.get(User, chat.agent.principal.user_id)
    assert agent_user is not None
    committed: list[dict[str, Any]] = list(await stored_log(svc, chat.agent.principal, conv))

    async def commit(who: str, *, publish: bool | Callable[[], bool]) -> None:
        author = visitor.principal if who == "visitor" else chat.agent.principal
        _, events = await post_message(svc, author, conv, client_msg_id=uuid.uuid4().hex,
                                       body=f"{who} {len(committed)}", internal=who == "note")
        committed.extend(events)
        if publish() if callable(publish) else publish:  # else: lost, for now
            offer(sockets, events)

    async def quick_commit(*, internal: bool, publish: Callable[[], bool]) -> None:
        # Another process's commit, through the same domain function, with nothing else
        # in its transaction: quicker than a catch-up's read of a long history.
        async with svc.sessions.begin() as db:
            stored = await append_event(db, conv, kind=EventKind.NOTE if internal else EventKind.MESSAGE,
                                        now=svc.clock.now(), author_id=agent_user.id, body="quick",
                                        internal=internal, client_msg_id=uuid.uuid4().hex)
        event = event_json(stored, agent_user)
        committed.append(event)
        if publish():
            offer(sockets, [event])

    try:
        for socket in sockets.values():
            await socket.connect(committed)
        for op in ops:
            kind = op[0]
            if kind == "commit":
                await commit(op[1], publish=op[2])
            elif kind == "race":
                # A socket (re)joins while others keep committing and publishing: their
                # publishes land while its catch-up is still reading, after its snapshot.
                # Only publishes that land during the catch-up are delivered; one landing
                # after it is lost (a later one would reveal the gap and hide a bug).
                socket = sockets[op[1]]
                await socket.drop()
                await socket.connect(committed)
                for _ in range(6):
                    if not socket.catching_up():
                        break
                    await quick_commit(internal=op[2], publish=socket.catching_up)
            elif kind == "offer":
                offer(sockets, [committed[op[1] % len(committed)]])
            elif kind == "offer_newest":
                offer(sockets, committed[-op[1]:])
            elif kind == "yield":
                for _ in range(op[1]):
                    await asyncio.sleep(0)
            elif kind == "sleep":
                await asyncio.sleep(op[1])
            elif kind == "reconnect":
                await sockets[op[1]].drop()
                await sockets[op[1]].connect(committed)
            for who, socket in sockets.items():
                assert socket.violations == [], (who, socket.violations)
                idle = socket.idle()
                # Against the log as committed (the use cases' own return values); the
                # database itself is compared at the end.
                assert_ordered_prefix(socket.received, [e for e in committed if socket.visible(e)], who)
                if idle:  # nothing in progress: nothing published may be missing
                    assert socket.last_seq >= socket.owed, (who, socket.last_seq, socket.owed)

        # Without anything more happening, everything published arrives.
        for who, socket in sockets.items():
            await eventually(lambda s=socket: _assert_idle(s), timeout=10, what=f"{who} socket idle")
            assert socket.last_seq >= socket.owed, (who, socket.last_seq, socket.owed)

        # One more message, published: everyone must end with the whole log.
        _, events = await post_message(svc, chat.agent.principal, conv, client_msg_id=uuid.uuid4().hex, body="last")
        offer(sockets, events)
        for who, socket in sockets.items():
            await eventually(lambda s=socket: _assert_idle(s), timeout=10, what=f"{who} socket idle")
            assert socket.violations == [], (who, socket.violations)
            assert_same_log(socket.received, await stored_log(svc, principals[who], conv), who)
    finally:
        for socket in sockets.values():
            if socket.conn is not None:
                await socket.drop()


def offer(sockets: dict[str, Socket], events: list[dict[str, Any]]) -> None:
    """What the hub's fan-out does with one publish: every joined socket is offered it."""
    for event in events:
        for socket in sockets.values():
            if socket.conn is not None:
                socket.conn.offer(event)
                if socket.visible(event):
                    socket.owed = max(socket.owed, int(event["seq"]))


def _assert_idle(socket: Socket) -> None:
    assert socket.idle(), "catch-up or writes still in progress"



# Hub._recover asks every socket to catch up from the database after a broker outage,
# through Connection.start_catch_up, which only marks a catch-up already running to read
# again (``Room.again``). A recovery asked while a catch-up runs, after commits whose
# publishes were lost, must still bring the socket to the end. (On PostgreSQL a catch-up's
# read suspends, so a commit can land between its snapshot and its end; on SQLite reads
# run inline and cannot be overtaken. Here the order is fixed: the second request comes
# while the first catch-up has not run yet.)
async def test_a_recovery_during_a_catch_up_still_reaches_the_end(db_url: str, tmp_path: Path) -> None:
    svc = build_services(make_settings(db_url, tmp_path / "var"))
    await svc.broker.connect()
    try:
        chat = await seed_support_chat(svc)
        _, conv = await new_conversation(svc, chat)
        socket = Socket(svc, chat.agent.principal, conv)
        await socket.connect(await stored_log(svc, chat.agent.principal, conv))
        try:
            await eventually(lambda: _assert_idle(socket), timeout=10, what="socket idle")
            # Committed during the outage; its publish was lost.
            async with svc.sessions.begin() as db:
                lost = await append_event(db, conv, kind=EventKind.MESSAGE, now=svc.clock.now(),
                                          author_id=chat.agent.principal.user_id, body="lost", client_msg_id="lost-1")
            assert socket.conn is not None
            socket.conn.start_catch_up(conv)  # a catch-up starts (a gap, a rejoin) ...
            assert socket.catching_up()
            socket.conn.start_catch_up(conv)  # ... and the broker comes back meanwhile
            assert socket.conn.rooms[conv].again
            await eventually(lambda: _assert_idle(socket), timeout=10, what="socket idle")
            assert socket.violations == []
            assert socket.last_seq == lost.seq
        finally:
            await socket.drop()
    finally:
        await svc.close()

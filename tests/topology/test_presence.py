"""Presence, viewers and the customers' ``support`` signal with people on both nodes.

The rule (docs/protocol.md, ``presence`` and ``support``): a person's status is one value
however many sockets they have and wherever those are — ``offline`` once no socket of
theirs is connected anywhere for the grace period, otherwise the latest explicit choice
("online"/"away") made from any of their sockets. A new socket joins the current choice;
only someone connected nowhere starts "online". Customers learn from ``support`` whether an
agent who answers chats is online (away does not count).

The single-process versions stay in tests/chat/hub/test_ephemeral.py, test_presence.py and
test_support_signal.py.
"""

from __future__ import annotations

import asyncio
import time

import pytest

from chat.client import ChatClient, Frame
from chat.models import Role
from tests.support.chatlog import SupportChat, new_staff, seed_support_chat
from tests.support.topology import PRESENCE_GRACE_SECONDS, Topology

# Long enough after the grace period for a wrong "offline" to have reached every node.
AFTER_GRACE = PRESENCE_GRACE_SECONDS + 1.5


async def next_status(client: ChatClient, user_id: int, timeout: float = 5.0) -> str:
    """The next ``presence`` status ``client`` hears of ``user_id`` (other people's skipped)."""
    async with asyncio.timeout(timeout):
        while True:
            frame = await client.next_frame("presence")
            if frame["user_id"] == user_id:
                return str(frame["status"])


async def statuses_within(client: ChatClient, user_id: int, seconds: float) -> list[str]:
    """Every ``presence`` status ``client`` hears of ``user_id`` in the next ``seconds``."""
    heard: list[str] = []
    deadline = time.monotonic() + seconds
    while (left := deadline - time.monotonic()) > 0:
        try:
            frame = await client.next_frame("presence", timeout=left)
        except TimeoutError:
            break
        if frame["user_id"] == user_id:
            heard.append(str(frame["status"]))
    return heard


async def presence_until(client: ChatClient, user_id: int, timeout: float = 5.0) -> list[Frame]:
    """Every ``presence`` frame ``client`` hears up to and including the next one of
    ``user_id``: what came before it, for checks that something did *not* come."""
    heard: list[Frame] = []
    async with asyncio.timeout(timeout):
        while not heard or heard[-1]["user_id"] != user_id:
            heard.append(await client.next_frame("presence"))
    return heard


async def next_support(client: ChatClient, timeout: float = 5.0) -> bool:
    frame = await client.next_frame("support", timeout=timeout)
    assert set(frame) == {"type", "agents_online"}, frame
    return bool(frame["agents_online"])


async def greeting(client: ChatClient) -> list[Frame]:
    """The frames a fresh socket was sent with ``ready`` (everything queued before the
    answer to a ping, which the server sends after them)."""
    await client.ping()
    frames: list[Frame] = []
    while not client.frames.empty():
        frames.append(client.frames.get_nowait())
    return frames


def status_in(frames: list[Frame], user_id: int) -> str | None:
    found = [str(f["status"]) for f in frames if f.get("type") == "presence" and f["user_id"] == user_id]
    assert len(found) <= 1, found
    return found[0] if found else None


async def widget_says(topology: Topology, chat: SupportChat, *, node: int) -> bool:
    r = await topology.call(None, "GET", f"/api/widget/config?site={chat.site_key}", node=node, expect=200)
    return bool(r.json()["agents_online"])


async def test_an_agent_is_seen_across_nodes_and_is_offline_only_after_the_grace(topology: Topology) -> None:
    chat = await seed_support_chat(topology.services)
    watcher = await new_staff(topology.services, "ro@x.example", Role.READ_ONLY)
    uid = chat.agent.principal.user_id
    async with topology.client(chat.agent2.token, node=1) as colleague, \
            topology.client(watcher.token, node=0) as same_node:
        watchers = (colleague, same_node)
        agent = topology.client(chat.agent.token, node=0)
        await agent.connect()
        assert [await next_status(w, uid) for w in watchers] == ["online", "online"]
        await agent.presence("away")
        assert [await next_status(w, uid) for w in watchers] == ["away", "away"]
        await agent.presence("online")
        assert [await next_status(w, uid) for w in watchers] == ["online", "online"]

        # A reload whose new socket lands on the other node, within the grace: node 0's
        # grace runs out meanwhile, and nobody sees "offline" (or anything else).
        await agent.drop()
        agent.url = topology.nodes[1].ws_url
        await agent.connect()
        heard = await asyncio.gather(*(statuses_within(w, uid, AFTER_GRACE) for w in watchers))
        assert heard == [[], []]

        # Gone for good: "offline" on both nodes, and not before the grace period is over.
        closed = time.monotonic()
        await agent.close()

        async def offline_after(client: ChatClient) -> float:
            assert await next_status(client, uid, timeout=PRESENCE_GRACE_SECONDS + 5) == "offline"
            return time.monotonic() - closed

        for waited in await asyncio.gather(*(offline_after(w) for w in watchers)):
            assert waited >= PRESENCE_GRACE_SECONDS, f"offline after {waited:.2f}s, the grace is {PRESENCE_GRACE_SECONDS}s"


# Where the agent's two console tabs and the colleague watching them are: the tabs on both
# nodes with the colleague on either, and both tabs on one node (the case that always worked).
PLACEMENTS = [
    pytest.param((0, 1), 0, id="tabs-on-both-nodes-colleague-on-0"),
    pytest.param((0, 1), 1, id="tabs-on-both-nodes-colleague-on-1"),
    pytest.param((0, 0), 1, id="tabs-on-one-node"),
]


@pytest.mark.parametrize(("tabs", "colleague_node"), PLACEMENTS)
async def test_the_latest_choice_of_an_agent_with_two_tabs_wins_and_support_follows(
    topology: Topology, tabs: tuple[int, int], colleague_node: int
) -> None:
    chat = await seed_support_chat(topology.services)  # agent2 never connects: the agent is the only one
    colleague_person = await new_staff(topology.services, "ro@x.example", Role.READ_ONLY)  # answers no chats
    uid = chat.agent.principal.user_id
    visitor_node = 1 - colleague_node  # so that each step is seen on both nodes before the next
    async with topology.client(chat.visitor.token, node=visitor_node) as visitor, \
            topology.client(colleague_person.token, node=colleague_node) as colleague:
        assert await next_support(visitor) is False
        async with topology.client(chat.agent.token, node=tabs[0]) as tab1, \
                topology.client(chat.agent.token, node=tabs[1]) as tab2:
            assert await next_status(colleague, uid) == "online"
            assert await next_support(visitor) is True
            # Each choice differs from the current status, so it is seen; the next one is
            # made only after both nodes showed it (its stamp is then later everywhere).
            steps = [
                (tab2, "away"),    # away in tab 2 after the connect in tab 1
                (tab1, "online"),  # online in tab 1 after away in tab 2
                (tab1, "away"),
                (tab2, "online"),  # online in tab 2 after away in tab 1
                (tab1, "away"),    # away in tab 1 after online in tab 2
                (tab2, "online"),
            ]
            for number, (tab, choice) in enumerate(steps, 1):
                await tab.presence(choice)
                where = f"step {number}: {choice} in tab {1 if tab is tab1 else 2}"
                assert await next_status(colleague, uid) == choice, where
                assert await next_support(visitor) is (choice == "online"), where
                if number <= 2:  # the widget's HTTP answer is the same rule, on each node
                    assert [await widget_says(topology, chat, node=n) for n in (0, 1)] == [choice == "online"] * 2
            # Both tabs, wherever they are, show the agent their own status the same way.
            for tab in (tab1, tab2):
                assert await statuses_seen_last(tab, uid) == "online"


async def statuses_seen_last(client: ChatClient, user_id: int) -> str | None:
    """The last status of ``user_id`` among the presence frames ``client`` has been sent
    so far (a ping first, so that everything already sent is queued)."""
    await client.ping()
    last = None
    while not client.frames.empty():
        frame = client.frames.get_nowait()
        if frame.get("type") == "presence" and frame["user_id"] == user_id:
            last = str(frame["status"])
    return last


async def test_a_new_socket_joins_the_away_choice_made_elsewhere(topology: Topology) -> None:
    chat = await seed_support_chat(topology.services)
    colleague_person = await new_staff(topology.services, "ro@x.example", Role.READ_ONLY)
    marker = await new_staff(topology.services, "ro2@x.example", Role.READ_ONLY)
    uid = chat.agent.principal.user_id
    async with topology.client(chat.visitor.token, node=1) as visitor, \
            topology.client(colleague_person.token, node=0) as colleague:
        assert await next_support(visitor) is False
        tab1 = topology.client(chat.agent.token, node=0)
        await tab1.connect()
        assert await next_status(colleague, uid) == "online"
        assert await next_support(visitor) is True
        await tab1.presence("away")
        assert await next_status(colleague, uid) == "away"
        assert await next_support(visitor) is False

        # A second console tab, on the other node: the choice stands there too.
        tab2 = topology.client(chat.agent.token, node=1)
        await tab2.connect()
        assert status_in(await greeting(tab2), uid) == "away"
        # Someone connecting on node 1 after tab 2: had tab 2 flipped the agent online, the
        # colleague would have heard it first (node 1's announcements arrive in order).
        async with topology.client(marker.token, node=1):
            heard = await presence_until(colleague, marker.principal.user_id)
        assert [(f["user_id"], f["status"]) for f in heard] == [(marker.principal.user_id, "online")]
        assert [await widget_says(topology, chat, node=n) for n in (0, 1)] == [False, False]

        # A reload of both tabs, the new socket within the grace: still away.
        await tab1.close()
        await tab2.close()
        async with topology.client(chat.agent.token, node=0) as tab3:
            assert status_in(await greeting(tab3), uid) == "away"
            async with topology.client(marker.token, node=1) as late:  # a colleague arriving now
                assert status_in(await greeting(late), uid) == "away"
            # Only an explicit choice changes it.
            await tab3.presence("online")
            assert await next_status(colleague, uid) == "online"
            assert await next_support(visitor) is True


async def viewers_become(client: ChatClient, conversation_id: int, want: list[tuple[int, str]],
                         timeout: float = 5.0) -> None:
    """Wait for a ``viewers`` frame of ``conversation_id`` listing exactly ``want``
    ((user id, mode), in user id order)."""
    last: list[tuple[int, str]] | None = None
    try:
        async with asyncio.timeout(timeout):
            while last != want:
                frame = await client.next_frame("viewers")
                if frame["conversation_id"] == conversation_id:
                    last = [(v["user_id"], v["mode"]) for v in frame["viewers"]]
    except TimeoutError:
        raise AssertionError(f"viewers never became {want}; last seen {last}") from None


async def test_viewers_on_both_nodes_see_each_other(topology: Topology) -> None:
    chat = await seed_support_chat(topology.services)
    conv = chat.conversation_id
    alice, bob = chat.agent.principal.user_id, chat.agent2.principal.user_id
    assert alice < bob  # the frame lists viewers in user id order
    late_person = await new_staff(topology.services, "ro@x.example", Role.READ_ONLY)
    async with topology.client(chat.agent.token, node=0) as alice_tab, \
            topology.client(chat.agent2.token, node=1) as bob_tab, \
            topology.client(chat.visitor.token, node=0) as visitor:
        for client in (alice_tab, bob_tab, visitor):
            await client.join(conv)
        await alice_tab.viewing(conv, "viewing")
        await viewers_become(bob_tab, conv, [(alice, "viewing")])
        await bob_tab.viewing(conv, "answering")
        await viewers_become(alice_tab, conv, [(alice, "viewing"), (bob, "answering")])
        # Someone joining later, on either node, is told at once.
        for node in (0, 1):
            async with topology.client(late_person.token, node=node) as late:
                await late.join(conv)
                await viewers_become(late, conv, [(alice, "viewing"), (bob, "answering")], timeout=2)
        await alice_tab.leave(conv)
        await viewers_become(bob_tab, conv, [(bob, "answering")])

        # Customers are never told: bob's typing comes after every change above on this
        # conversation's channel, and nothing before it was a viewers frame.
        await bob_tab.typing(conv, "start")
        seen: list[Frame] = []
        while not seen or seen[-1].get("type") != "typing":
            seen.append(await visitor.next_frame(timeout=5))
        assert [f["type"] for f in seen if f["type"] == "viewers"] == []


@pytest.mark.parametrize("tabs", [pytest.param((0, 1), id="tabs-on-both-nodes"),
                                  pytest.param((0, 0), id="tabs-on-one-node")])
async def test_one_persons_viewers_entry_follows_their_sockets(topology: Topology, tabs: tuple[int, int]) -> None:
    """Viewers keep their per-socket meaning (issue 22): one entry per person, answering
    winning over viewing among *the sockets still there*, wherever those are."""
    chat = await seed_support_chat(topology.services)
    conv = chat.conversation_id
    alice = chat.agent.principal.user_id
    late_person = await new_staff(topology.services, "ro@x.example", Role.READ_ONLY)
    async with topology.client(chat.agent2.token, node=1 - tabs[1]) as bob, \
            topology.client(chat.agent.token, node=tabs[0]) as tab1, \
            topology.client(chat.agent.token, node=tabs[1]) as tab2:
        for client in (bob, tab1, tab2):
            await client.join(conv)
        await tab1.viewing(conv, "viewing")
        await viewers_become(bob, conv, [(alice, "viewing")])
        await tab2.viewing(conv, "answering")
        await viewers_become(bob, conv, [(alice, "answering")])
        await tab2.leave(conv)  # the answering tab goes: the one still there is viewing
        await viewers_become(bob, conv, [(alice, "viewing")])
        await tab2.join(conv)
        await tab2.viewing(conv, "answering")
        await viewers_become(bob, conv, [(alice, "answering")])
        # Later, "viewing" again in the other tab: answering still wins while tab 2 is in.
        await tab1.viewing(conv, "viewing")
        await tab1.ping()  # answered after the viewing frame was handled
        for node in (0, 1):
            async with topology.client(late_person.token, node=node) as late:
                await late.join(conv)
                await viewers_become(late, conv, [(alice, "answering")], timeout=2)
        await tab1.leave(conv)
        await tab2.leave(conv)
        await viewers_become(bob, conv, [])


async def test_a_viewer_who_left_is_not_shown_again(topology: Topology) -> None:
    """Leaving the room removes the viewer for good: no later ``viewers`` frame lists them,
    on their node or the other, however quickly they chose and left."""
    chat = await seed_support_chat(topology.services)
    conv = chat.conversation_id
    alice, bob_id = chat.agent.principal.user_id, chat.agent2.principal.user_id
    watcher_person = await new_staff(topology.services, "ro@x.example", Role.READ_ONLY)
    async with topology.client(chat.agent2.token, node=0) as bob, \
            topology.client(watcher_person.token, node=1) as watcher, \
            topology.client(chat.agent.token, node=0) as alice_tab:
        await bob.join(conv)
        await watcher.join(conv)
        for client in (bob, watcher):
            await viewers_become(client, conv, [])  # the frame on join
        for mode in ("viewing", "answering", "viewing"):
            await alice_tab.join(conv)
            await alice_tab.viewing(conv, mode)
            await alice_tab.leave(conv)  # at once: before the choice has made its way round
            # Bob changes his own mode afterwards on the same node: the watchers' frames up to
            # the one that shows him must not list alice once she was gone.
            await bob.viewing(conv, mode)
            for client in (bob, watcher):
                shown: list[list[tuple[int, str]]] = []
                async with asyncio.timeout(5):
                    while shown[-1:] != [[(bob_id, mode)]]:
                        frame = await client.next_frame("viewers")
                        shown.append([(v["user_id"], v["mode"]) for v in frame["viewers"]])
                listed = [alice in {u for u, _ in viewers} for viewers in shown]
                assert listed == sorted(listed, reverse=True), (mode, shown)  # once gone, gone
            await bob.viewing(conv, "none")
            for client in (bob, watcher):
                await viewers_become(client, conv, [])


async def test_customers_cannot_announce_presence_or_viewing(topology: Topology) -> None:
    chat = await seed_support_chat(topology.services)
    conv = chat.conversation_id
    customer = chat.visitor.principal.user_id
    for node in (0, 1):
        async with topology.client(chat.visitor.token, node=node) as visitor:
            await visitor.join(conv)
            await visitor.presence("online")
            assert (await visitor.next_frame("error"))["code"] == "forbidden"
            await visitor.viewing(conv, "answering")
            assert (await visitor.next_frame("error"))["code"] == "forbidden"
            # Nothing was announced: staff arriving on either node hear nothing of the customer.
            for staff_node in (0, 1):
                async with topology.client(chat.agent.token, node=staff_node) as agent:
                    assert status_in(await greeting(agent), customer) is None
                    await agent.join(conv)
                    await viewers_become(agent, conv, [], timeout=2)

"""Automatic assignment against a live server: presence from real sockets, chats started
over HTTP, assignments read back from the queues."""

from __future__ import annotations

from contextlib import AsyncExitStack

from chat.client import ChatClient
from chat.desk.autoassign import assign_job
from chat.wiring import build_services
from tests.support.chatlog import Person, new_visitor
from tests.support.desk import Desk
from tests.support.transactions import counted_transactions

WAITING = 6


async def online(stack: AsyncExitStack, desk: Desk, who: Person) -> ChatClient:
    client = await stack.enter_async_context(ChatClient(desk.server.ws_url + "/ws", who.token))
    await client.ping()
    return client


async def start_chat(desk: Desk, subject: str) -> int:
    # A visitor of its own per chat, as on a real site: one visitor may keep only
    # VISITOR_OPEN_CONVERSATIONS chats open at a time (chat.visitor_limits).
    visitor = await new_visitor(desk.server.services, desk.chat.site_key, f"Visitor of {subject}")
    created = await desk.call(visitor, "POST", "/api/conversations", {"subject": subject, "body": "help"}, expect=201)
    return int(created["conversation"]["id"])


async def assignee(desk: Desk, conversation_id: int) -> int | None:
    item = (await desk.call(desk.admin, "GET", f"/api/desk/items/{conversation_id}", expect=200))["item"]
    return None if item["assignee"] is None else int(item["assignee"]["id"])


async def test_round_robin_within_limits_then_the_oldest_waiting_chat_when_room_frees(desk: Desk) -> None:
    a, b = desk.agent, desk.chat.agent2
    ids = (a.principal.user_id, b.principal.user_id)
    for uid in ids:
        await desk.call(desk.admin, "PATCH", f"/api/desk/agents/{uid}", {"max_chats": 1}, expect=200)
    async with AsyncExitStack() as stack:
        await online(stack, desk, a)
        await online(stack, desk, b)
        first, second, third, fourth = [await start_chat(desk, f"chat {n}") for n in range(4)]
        got = {first: await assignee(desk, first), second: await assignee(desk, second)}
        assert set(got.values()) == set(ids)  # one each
        assert (await assignee(desk, third), await assignee(desk, fourth)) == (None, None)  # both full

        # The events say how: round-robin, internal (the customer never sees routing).
        log = await desk.call(desk.admin, "GET", f"/api/conversations/{first}/events", expect=200)
        assigned = [e for e in log["events"] if e["data"].get("event") == "ticket.assigned"]
        assert [(e["data"]["auto"], e["internal"]) for e in assigned] == [("round_robin", True)]

        # Whoever had the first chat resolves it: the oldest waiting chat is theirs now.
        owner = next(p for p in (a, b) if p.principal.user_id == got[first])
        await desk.call(owner, "POST", f"/api/desk/conversations/{first}/resolve",
                        {"body": "Fixed.", "client_msg_id": "r-first"}, expect=200)
        assert await assignee(desk, third) == owner.principal.user_id
        assert await assignee(desk, fourth) is None

        # A raised limit makes room at once.
        await desk.call(desk.admin, "PATCH", f"/api/desk/agents/{ids[0]}", {"max_chats": 3}, expect=200)
        assert await assignee(desk, fourth) == ids[0]


async def test_rules_then_the_default_assignee_and_nobody_who_is_away(desk: Desk) -> None:
    a, b = desk.agent, desk.chat.agent2
    async with AsyncExitStack() as stack:
        a_socket = await online(stack, desk, a)
        await online(stack, desk, b)
        rule = (await desk.call(desk.admin, "POST", "/api/desk/rules",
                                {"name": "Chats to b", "assignee_id": b.principal.user_id, "source": "chat"}, expect=201))["rule"]
        assert await assignee(desk, await start_chat(desk, "by rule")) == b.principal.user_id

        await desk.call(desk.admin, "PATCH", f"/api/desk/rules/{rule['id']}", {"enabled": False}, expect=200)
        await desk.call(desk.admin, "PUT", "/api/desk/default-assignee", {"user_id": a.principal.user_id}, expect=200)
        assert await assignee(desk, await start_chat(desk, "to the default")) == a.principal.user_id

        # The default assignee steps away: the chat goes round-robin to whoever is online.
        await a_socket.presence("away")
        await a_socket.ping()
        await desk.call(a, "PATCH", "/api/desk/me", {"away": True}, expect=200)
        waiting = await start_chat(desk, "while a is away")
        assert await assignee(desk, waiting) == b.principal.user_id

        agents = (await desk.call(desk.readonly, "GET", "/api/desk/agents", expect=200))["agents"]
        mine = {x["id"]: x for x in agents}
        assert (mine[a.principal.user_id]["status"], mine[a.principal.user_id]["away"]) == ("away", True)
        assert (mine[b.principal.user_id]["status"], mine[b.principal.user_id]["active_chats"]) == ("online", 2)
        await desk.call(desk.readonly, "PATCH", "/api/desk/me", {"away": True}, expect=403)
        await desk.call(a, "PATCH", f"/api/desk/agents/{b.principal.user_id}", {"away": True}, expect=403)
        await desk.call(a, "PATCH", f"/api/desk/agents/{a.principal.user_id}", {"max_chats": 50}, expect=403)
        await desk.call(desk.admin, "PATCH", f"/api/desk/agents/{a.principal.user_id}", {"max_chats": 101}, expect=422)


async def test_the_sweep_job_assigns_what_no_trigger_covered_and_only_where_presence_is_known(desk: Desk) -> None:
    agent = desk.agent
    await desk.call(desk.admin, "PATCH", f"/api/desk/agents/{agent.principal.user_id}", {"max_chats": 1}, expect=200)
    async with AsyncExitStack() as stack:
        await online(stack, desk, agent)
        first, second = await start_chat(desk, "first"), await start_chat(desk, "second")
        assert (await assignee(desk, first), await assignee(desk, second)) == (agent.principal.user_id, None)
        # Closed through the ticket API: no desk trigger runs, the agent has room again.
        await desk.call(agent, "POST", f"/api/tickets/{first}/status", {"action": "close"}, expect=200)
        assert await assignee(desk, second) is None

        svc = desk.server.services
        worker = build_services(svc.settings, clock=svc.clock)  # a process without a hub
        try:
            assert await assign_job(worker, svc.clock.now()) == 0
        finally:
            await worker.close()
        assert await assignee(desk, second) is None
        assert await assign_job(svc, svc.clock.now()) == 1
        assert await assignee(desk, second) == agent.principal.user_id


async def test_a_pass_that_assigns_many_chats_stores_them_a_batch_to_a_transaction(desk: Desk) -> None:
    agent = desk.agent
    uid = agent.principal.user_id
    await desk.call(desk.admin, "PATCH", f"/api/desk/agents/{uid}", {"max_chats": 1}, expect=200)
    async with AsyncExitStack() as stack:
        await online(stack, desk, agent)
        first, *waiting = [await start_chat(desk, f"chat {n}") for n in range(WAITING + 1)]
        assert [await assignee(desk, c) for c in (first, *waiting)] == [uid] + [None] * WAITING
        with counted_transactions(desk.server.services) as raised:
            # Room for every waiting chat at once: one pass assigns them all.
            await desk.call(desk.admin, "PATCH", f"/api/desk/agents/{uid}", {"max_chats": WAITING + 1}, expect=200)
        assert [await assignee(desk, c) for c in waiting] == [uid] * WAITING
        # The limit's own write, then the pass's one batch (a unit per chat was WAITING).
        assert raised.count == 2, raised.count
        for conversation_id in waiting:
            log = await desk.call(desk.admin, "GET", f"/api/conversations/{conversation_id}/events", expect=200)
            assigned = [e["data"]["auto"] for e in log["events"] if e["data"].get("event") == "ticket.assigned"]
            assert assigned == ["round_robin"]

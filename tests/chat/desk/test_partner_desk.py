"""Partner first line in the console's API, against a live server on both databases: a
partner's tickets stay out of platform queues and automatic assignment, its reseller
admin works its own queue through the desk (and nothing more of it), support admins
oversee both; and the visitor leaving shows on the item."""

from __future__ import annotations

from contextlib import AsyncExitStack
from dataclasses import dataclass

from chat import directory
from chat.auth import login, principal_of
from chat.client import ChatClient
from chat.desk.autoassign import assign_job
from chat.groups.partners import set_reseller_settings
from chat.models import OrgKind, Role
from tests.chat.desk.test_queues_and_claims import queue_of
from tests.support.chatlog import PASSWORD, Person, eventually
from tests.support.desk import Desk


@dataclass(frozen=True)
class Partner:
    id: int
    admin: Person
    customer: Person
    other_admin: Person  # an admin of another reseller, without own first line


async def person(desk: Desk, email: str, role: Role, organization: int) -> Person:
    svc = desk.server.services
    user = await directory.create_user(svc, None, email=email, role=role, organization=organization,
                                       password=PASSWORD, name=email.split("@")[0])
    session = await login(svc, email, PASSWORD, address="127.0.0.1", user_agent="test")
    return Person(principal_of(user), session.token, user.name)


async def partner(desk: Desk) -> Partner:
    """A reseller with its own first line on, one of its customer companies and a customer."""
    svc = desk.server.services
    reseller = (await directory.create_organization(svc, None, name="Partner", kind=OrgKind.RESELLER)).organization
    company = (await directory.create_organization(svc, None, name="Partner's client", kind=OrgKind.CUSTOMER,
                                                  parent=reseller.id)).organization
    await set_reseller_settings(svc, desk.admin.principal, reseller.id, own_first_line=True)
    other = (await directory.create_organization(svc, None, name="Other reseller", kind=OrgKind.RESELLER)).organization
    return Partner(
        reseller.id,
        await person(desk, "ra@partner.example", Role.RESELLER_ADMIN, reseller.id),
        await person(desk, "c@client.example", Role.CUSTOMER, company.id),
        await person(desk, "ra@other.example", Role.RESELLER_ADMIN, other.id),
    )


async def start_chat(desk: Desk, who: Person, subject: str) -> int:
    created = await desk.call(who, "POST", "/api/conversations", {"subject": subject, "body": "help"}, expect=201)
    return int(created["conversation"]["id"])


async def online(stack: AsyncExitStack, desk: Desk, who: Person) -> ChatClient:
    client = await stack.enter_async_context(ChatClient(desk.server.ws_url + "/ws", who.token))
    await client.ping()
    return client


async def test_a_partner_customers_chat_is_never_auto_assigned_nor_in_platform_queues_until_handed_over(
    desk: Desk,
) -> None:
    p = await partner(desk)
    agent = desk.agent
    async with AsyncExitStack() as stack:
        await online(stack, desk, agent)
        platform_chat = await start_chat(desk, desk.chat.visitor, "platform's")
        held = await start_chat(desk, p.customer, "partner's")
        item = (await desk.call(desk.admin, "GET", f"/api/desk/items/{platform_chat}", expect=200))["item"]
        assert item["assignee"]["id"] == agent.principal.user_id  # an agent with room is online
        item = (await desk.call(desk.admin, "GET", f"/api/desk/items/{held}", expect=200))["item"]
        assert (item["assignee"], item["status"], item["tracked"]) == (None, "new", False)
        # No later pass picks it up either.
        svc = desk.server.services
        assert await assign_job(svc, svc.clock.now()) == 0
        for who in (agent, desk.admin, desk.readonly):
            inbox = await desk.call(who, "GET", "/api/desk/inbox", expect=200)
            assert queue_of(inbox, held) is None and queue_of(inbox, platform_chat) == "new"
            assert all(not q["key"].startswith("partner:") for q in inbox["queues"])
            counts = (await desk.call(who, "GET", "/api/desk/counts", expect=200))["counts"]
            assert counts["new"] == 2  # the seeded chat and the platform's; not the partner's

        # The partner hands it over: now it is the platform's, queued and assignable.
        await desk.call(p.admin, "POST", f"/api/tickets/{held}/transfer", {"to_platform": True}, expect=200)
        inbox = await desk.call(agent, "GET", "/api/desk/inbox", expect=200)
        assert queue_of(inbox, held) == "new"
        assert await assign_job(svc, svc.clock.now()) == 1  # (the seeded chat began with nobody online: triaged by hand)
        item = (await desk.call(desk.admin, "GET", f"/api/desk/items/{held}", expect=200))["item"]
        assert (item["assignee"]["id"], item["partner"]) == (agent.principal.user_id, None)


async def test_a_reseller_admin_works_its_own_partner_queue_through_the_desk_and_hands_a_ticket_over(
    desk: Desk,
) -> None:
    p = await partner(desk)
    held = await start_chat(desk, p.customer, "Router reboots")
    platform_chat = desk.chat.conversation_id
    ra = p.admin

    me = await desk.call(ra, "GET", "/api/desk/me", expect=200)
    assert me["partner"] == {"id": p.id, "name": "Partner"} and me["profile"] is None
    assert me["can"] == {"work": False, "manage": False, "oversee": False}
    key = f"partner:{p.id}"
    inbox = await desk.call(ra, "GET", "/api/desk/inbox", expect=200)
    assert [(q["key"], q["name"], q["count"]) for q in inbox["queues"]] == [(key, "Partner queue — Partner", 1)]
    assert queue_of(inbox, held) == key
    assert (await desk.call(ra, "GET", "/api/desk/inbox?handled_by=partner", expect=200))["queues"] == inbox["queues"]
    for other in ("platform", "any", str(p.id + 1000)):
        await desk.call(ra, "GET", f"/api/desk/inbox?handled_by={other}", expect=403)
    assert (await desk.call(ra, "GET", "/api/desk/counts", expect=200))["counts"] == {key: 1}
    await desk.call(ra, "GET", f"/api/desk/items/{platform_chat}", expect=404)
    await desk.call(ra, "GET", f"/api/desk/conversations/{platform_chat}", expect=404)
    found = (await desk.call(ra, "GET", "/api/desk/search?q=", expect=200))["items"]
    assert [i["conversation_id"] for i in found] == [held]

    view = await desk.call(ra, "GET", f"/api/desk/conversations/{held}", expect=200)
    assert view["ticket"]["handled_by"] == p.id and view["ticket"]["partner"] == {"id": p.id, "name": "Partner"}
    assert view["notes"] == []  # the platform's shift notes are staff's
    # It is theirs to work, but they must take it to write in it; never internal notes.
    assert view["can"] == {"reply": False, "internal": False, "work": True, "claim": False, "to_platform": True}

    # The rest of the desk stays staff's.
    for method, path, body in [
        ("GET", "/api/desk/agents", None), ("GET", "/api/desk/canned-replies", None), ("GET", "/api/desk/rules", None),
        ("GET", f"/api/desk/customers/{p.customer.principal.user_id}/notes", None),
        ("POST", f"/api/desk/conversations/{held}/claim", {}), ("PATCH", "/api/desk/me", {"away": True}),
    ]:
        await desk.call(ra, method, path, body, expect=403)
    # Another reseller's admin has no partner queue of this partner's.
    other = await desk.call(p.other_admin, "GET", "/api/desk/inbox", expect=200)
    assert [(q["key"], q["count"]) for q in other["queues"]] == [(f"partner:{p.other_admin.principal.organization_id}", 0)]
    await desk.call(p.other_admin, "GET", f"/api/desk/items/{held}", expect=404)
    await desk.call(p.other_admin, "GET", f"/api/desk/conversations/{held}", expect=404)

    # Take (assign to oneself), reply over the websocket, change the status.
    await desk.call(ra, "POST", f"/api/tickets/{held}/assign", {"assignee_id": ra.principal.user_id}, expect=200)
    view = await desk.call(ra, "GET", f"/api/desk/conversations/{held}", expect=200)
    assert view["can"]["reply"] is True and view["ticket"]["assignee"]["id"] == ra.principal.user_id
    async with ChatClient(desk.server.ws_url + "/ws", ra.token) as socket:
        await socket.join(held)
        ack = await socket.send(held, "We are on it.")
        assert ack["type"] == "ack"

    async def answered() -> None:
        item = (await desk.call(ra, "GET", f"/api/desk/items/{held}", expect=200))["item"]
        # The partner's answer is support's answer.
        assert (item["status"], item["customer_waiting"], item["queue"]) == ("in_progress", False, key)

    await eventually(answered, timeout=5, what="the partner's reply answers the ticket")
    await desk.call(ra, "POST", f"/api/tickets/{held}/status", {"action": "wait_on_customer"}, expect=200)
    await desk.call(ra, "POST", f"/api/tickets/{held}/status", {"action": "reopen"}, expect=200)

    # Hand it to the platform with a note: it leaves the partner's console for the platform's.
    await desk.call(ra, "POST", f"/api/tickets/{held}/transfer", {"to_platform": True, "note": "Needs 2nd line"},
                    expect=200)
    await desk.call(ra, "GET", f"/api/desk/items/{held}", expect=404)
    assert (await desk.call(ra, "GET", "/api/desk/counts", expect=200))["counts"] == {key: 0}
    inbox = await desk.call(desk.agent, "GET", "/api/desk/inbox", expect=200)
    assert queue_of(inbox, held) == "first_line"
    view = await desk.call(desk.agent, "GET", f"/api/desk/conversations/{held}", expect=200)
    assert view["ticket"]["assignee"] is None and view["can"]["claim"] is True
    await desk.call(desk.agent, "POST", f"/api/desk/conversations/{held}/claim", {}, expect=200)


async def test_support_admins_oversee_partner_queues_and_agents_only_read_them(desk: Desk) -> None:
    p = await partner(desk)
    held = await start_chat(desk, p.customer, "Partner's")
    key = f"partner:{p.id}"

    partners = await desk.call(desk.admin, "GET", "/api/desk/inbox?handled_by=partner", expect=200)
    assert [(q["key"], q["count"]) for q in partners["queues"]] == [(key, 1)]
    every = await desk.call(desk.admin, "GET", "/api/desk/inbox?handled_by=any", expect=200)
    keys = [q["key"] for q in every["queues"]]
    assert keys[:2] == ["new", "first_line"] and keys[-1] == key
    assert (queue_of(every, held), queue_of(every, desk.chat.conversation_id)) == (key, "new")
    counts = (await desk.call(desk.admin, "GET", "/api/desk/counts?handled_by=any", expect=200))["counts"]
    assert (counts["new"], counts[key]) == (1, 1)
    await desk.call(desk.admin, "GET", "/api/desk/inbox?handled_by=everything", expect=422)

    admin_view = await desk.call(desk.admin, "GET", f"/api/desk/conversations/{held}", expect=200)
    assert admin_view["can"] == {"reply": True, "internal": True, "work": True, "claim": True, "to_platform": True}
    agent_view = await desk.call(desk.agent, "GET", f"/api/desk/conversations/{held}", expect=200)
    assert agent_view["can"] == {"reply": False, "internal": False, "work": False, "claim": False, "to_platform": False}
    assert agent_view["ticket"]["partner"]["name"] == "Partner"
    platform_view = await desk.call(desk.agent, "GET", f"/api/desk/conversations/{desk.chat.conversation_id}", expect=200)
    assert platform_view["can"] == {"reply": True, "internal": True, "work": True, "claim": True, "to_platform": False}
    await desk.call(desk.agent, "POST", f"/api/tickets/{held}/transfer", {"to_platform": True}, expect=403)


async def test_the_visitor_leaving_shows_on_the_item_and_rings_the_consoles(desk: Desk) -> None:
    visitor = desk.chat.visitor
    async with AsyncExitStack() as stack:
        console = await online(stack, desk, desk.agent)
        # A live chat (someone was online when it began): leaving is what it records.
        conv = await start_chat(desk, visitor, "Leaving soon")
        customer = ChatClient(desk.server.ws_url + "/ws", visitor.token)
        await customer.connect()
        await customer.join(conv)
        item = (await desk.call(desk.agent, "GET", f"/api/desk/items/{conv}", expect=200))["item"]
        assert item["customer_left_at"] is None
        await customer.close()

        while (bell := await console.next_frame("inbox"))["reason"] != "customer.presence":
            pass
        assert bell["conversation_id"] == conv
        item = (await desk.call(desk.agent, "GET", f"/api/desk/items/{conv}", expect=200))["item"]
        assert item["customer_left_at"] == desk.server.services.clock.now().isoformat()
        view = await desk.call(desk.agent, "GET", f"/api/desk/conversations/{conv}", expect=200)
        assert view["ticket"]["customer_left_at"] == item["customer_left_at"]

        # Back again: cleared, and rung again.
        async with ChatClient(desk.server.ws_url + "/ws", visitor.token) as back:
            await back.join(conv)

            async def cleared() -> None:
                item = (await desk.call(desk.agent, "GET", f"/api/desk/items/{conv}", expect=200))["item"]
                assert item["customer_left_at"] is None

            await eventually(cleared, timeout=5, what="the return clears the stamp")

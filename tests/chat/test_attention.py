"""Who is alerted of what (chat.attention): the ``attention`` frames on the people's own
channels, counted exactly, from the real use cases on both backends."""

from __future__ import annotations

from collections import Counter
from datetime import timedelta
from typing import Any

import pytest

from chat import directory
from chat.attention import People, TicketFacts, decide
from chat.broker import Subscription
from chat.clock import ManualClock
from chat.desk import claims
from chat.events import user_channel
from chat.services import Services
from escalation import tickets
from escalation.policy_table import PlanTier
from tests.chat.groups.helpers import drain
from tests.escalation.world import Desk, chat, make_desk, say

MIN = timedelta(minutes=1)


@pytest.fixture
async def desk(svc: Services) -> Desk:
    return await make_desk(svc, tier=PlanTier.PREMIUM)  # first response within 30 min: a warning at 24


async def listen(desk: Desk) -> Subscription:
    people = (desk.agent, desk.agent2, desk.admin, desk.readonly, desk.customer)
    return await desk.svc.broker.subscribe(*(user_channel(p.user_id) for p in people))


def heard(got: list[tuple[str, dict[str, Any]]], desk: Desk) -> Counter[tuple[str, str, int]]:
    """(who, reason, conversation) of every ``attention`` frame, counted."""
    names = {user_channel(p.user_id): n for n, p in
             (("agent", desk.agent), ("agent2", desk.agent2), ("admin", desk.admin), ("readonly", desk.readonly),
              ("customer", desk.customer))}
    return Counter((names[ch], m["reason"], m["conversation_id"]) for ch, m in got if m["type"] == "attention")


async def test_a_new_chat_alerts_everyone_who_answers_and_a_reply_only_its_assignee(desk: Desk) -> None:
    sub = await listen(desk)
    conv = await chat(desk)
    got = await drain(sub)
    # The people who answer, once each; read-only staff and the customer: nothing.
    assert heard(got, desk) == Counter({("agent", "new", conv): 1, ("agent2", "new", conv): 1, ("admin", "new", conv): 1})
    frame = next(m for _, m in got if m["type"] == "attention")
    assert frame == {"type": "attention", "conversation_id": conv, "reason": "new", "subject": "Printer on fire"}

    # A customer's reply nobody has claimed: no one in particular to tell.
    sub = await listen(desk)
    await say(desk, desk.customer, conv, "Still burning")
    assert heard(await drain(sub), desk) == Counter()

    # "I'll answer" alerts nobody (my own action); the next reply is for me alone.
    sub = await listen(desk)
    await claims.claim(desk.svc, desk.agent, conv)
    assert heard(await drain(sub), desk) == Counter()
    sub = await listen(desk)
    await say(desk, desk.customer, conv, "Hello? " + "x" * 200)
    got = await drain(sub)
    assert heard(got, desk) == Counter({("agent", "customer_reply", conv): 1})
    frame = next(m for _, m in got if m["type"] == "attention")
    assert frame["author"] == "Cat" and frame["preview"] == ("Hello? " + "x" * 200)[:140]

    # My own reply and an internal note: nothing for anyone.
    sub = await listen(desk)
    await say(desk, desk.agent, conv, "On it")
    await say(desk, desk.agent, conv, "note to self", internal=True)
    assert heard(await drain(sub), desk) == Counter()


async def test_an_assignment_alerts_the_assignee_and_a_transfer_the_groups_people(desk: Desk) -> None:
    conv = await chat(desk)
    sub = await listen(desk)
    await tickets.assign_ticket(desk.svc, desk.admin, conv, desk.agent2.user_id)
    assert heard(await drain(sub), desk) == Counter({("agent2", "assigned", conv): 1})

    # agent follows Second level in their profile; nobody leads it.
    await directory.update_profile(desk.svc, desk.agent, ui_prefs={"groups": ["second_level"]})
    sub = await listen(desk)
    await tickets.transfer_ticket(desk.svc, desk.agent2, conv, level=2, group="second_level")
    assert heard(await drain(sub), desk) == Counter({("agent", "transferred", conv): 1})
    # Transferring to a group I follow myself tells me nothing.
    sub = await listen(desk)
    await tickets.transfer_ticket(desk.svc, desk.agent, conv, level=2, group="marketing")
    await tickets.transfer_ticket(desk.svc, desk.agent, conv, level=2, group="second_level")
    assert heard(await drain(sub), desk) == Counter()


async def test_an_sla_warning_alerts_the_assignee_once(desk: Desk, clock: ManualClock) -> None:
    ticket = await tickets.open_ticket(desk.svc, desk.customer, tickets.TicketDraft("VPN down", "All sites offline"))
    conv = int(ticket["id"])
    await tickets.assign_ticket(desk.svc, desk.admin, conv, desk.agent.user_id)
    sub = await listen(desk)
    clock.advance(25 * MIN)  # past 80 % of 30 minutes
    await desk.sweeper.run_once()
    await desk.sweeper.run_once()
    got = await drain(sub)
    assert heard(got, desk) == Counter({("agent", "sla_warning", conv): 1})
    assert next(m for _, m in got if m["type"] == "attention")["target"] == "first_response"


async def test_a_ticket_opened_directly_is_new_for_everyone_who_answers(desk: Desk) -> None:
    sub = await listen(desk)
    ticket = await tickets.open_ticket(desk.svc, desk.customer, tickets.TicketDraft("VPN down", "All sites offline"))
    conv = int(ticket["id"])
    assert heard(await drain(sub), desk) == Counter(
        {("agent", "new", conv): 1, ("agent2", "new", conv): 1, ("admin", "new", conv): 1})


FACTS = TicketFacts(7, "Subject", True, None, None, None)
PEOPLE = People(workers=(1, 2, 3), group_people={"vendor": (2,)}, partner_admins={50: (9,)})


def system(name: str, actor: int | None = None, **data: Any) -> dict[str, Any]:
    return {"kind": "system", "conversation_id": 7, "internal": True,
            "data": {"event": name, "actor": {"id": actor} if actor else None, **data}}


@pytest.mark.parametrize(("event", "facts", "expected"), [
    # A partner's own first line: its admins, not the platform's people.
    (system("conversation.created"), TicketFacts(7, "", True, None, None, 50), [9]),
    (system("conversation.created", actor=2), FACTS, [1, 3]),
    # Assigned automatically before this reaction ran: the assignee hears "assigned" instead.
    (system("conversation.created"), TicketFacts(7, "", True, 3, None, None), [1, 2]),
    # A group chat has no ticket: the groups' own notices cover it.
    (system("conversation.created"), TicketFacts(7, "", False, None, None, None), []),
    # A chat converted to a ticket is not new work.
    (system("ticket.opened", reason="visitor_idle"), FACTS, []),
    (system("ticket.assigned", actor=1, assignee={"id": 1}, claimed=True), FACTS, []),
    (system("ticket.transferred", actor=1, group=None, to_platform=True), FACTS, [2, 3]),
    (system("ticket.transferred", actor=1, group="vendor"), FACTS, [2]),
    (system("ticket.sla_warning", target="resolution"), TicketFacts(7, "", True, None, "vendor", None), [2]),
    # Unassigned and in no group: the New queue's watchers see it in the list, no alert.
    (system("ticket.sla_warning", target="resolution"), FACTS, []),
    (system("ticket.sla_breached", target="resolution"), TicketFacts(7, "", True, 3, None, None), []),
])
def test_the_rule(event: dict[str, Any], facts: TicketFacts, expected: list[int]) -> None:
    assert [user for user, _ in decide(event, facts, PEOPLE)] == expected

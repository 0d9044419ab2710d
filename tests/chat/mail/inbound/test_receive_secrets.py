"""Inbound mail is masked like a chat message before it is stored: a new ticket's subject
and description, a reply's text, and the received mail's subject on its row."""

from __future__ import annotations

from sqlalchemy import select

from chat.mail.inbound.receive import InboundStatus
from chat.mail.models import InboundMail
from chat.models import Conversation
from tests.chat.mail.inbound.test_receive import desk, first_message, mail, make_svc, messages, one, receive
from tests.escalation.world import Desk

__all__ = ["desk", "make_svc"]  # the fixtures, shared with test_receive

STRIPE = "sk_live_4eC39HqLyjWDarjtT1zdp7dcA1B2"


async def test_a_mailed_ticket_and_its_reply_are_stored_masked(desk: Desk) -> None:
    svc = desk.svc
    receipt = await receive(svc, mail(subject=f"key {STRIPE}", body="login: cat\npassword: Meow2026!\n"))
    assert receipt.status is InboundStatus.TICKET and receipt.conversation_id is not None
    number = receipt.conversation_id
    conv = await one(svc, select(Conversation).where(Conversation.id == number))
    assert conv.subject == "key sk_live_…A1B2"
    first = await first_message(svc, number)
    assert first.body.startswith("login: cat\npassword: M…6!") and first.data["masked"] == ["password_pair"]
    row = await one(svc, select(InboundMail).where(InboundMail.id == receipt.inbound_id))
    assert row.subject == "key sk_live_…A1B2"
    reply = await receive(svc, mail(subject=f"Re: [#{number}] key", body=f"new one: {STRIPE}"))
    assert (reply.status, reply.conversation_id) == (InboundStatus.REPLY, number)
    stored = await messages(svc, number)
    assert stored[-1].startswith("new one: sk_live_…A1B2")
    assert all(STRIPE not in body and "Meow2026" not in body for body in stored)

"""Mail is a channel like the socket for alerts too (chat.attention through
escalation.unit_of_work.publish_work): a ticket opened by e-mail is new for the people who
answer, and the customer's reply by e-mail reaches the assignee — once each."""

from __future__ import annotations

from collections import Counter

from chat.events import user_channel
from chat.mail.compose import thread_token
from chat.mail.queue import identity_of
from escalation import tickets
from tests.chat.groups.helpers import drain
from tests.chat.mail.inbound.test_receive import desk, mail, make_svc, receive  # noqa: F401 (fixtures)
from tests.escalation.world import Desk


async def test_mail_tickets_and_replies_alert_like_chats(desk: Desk) -> None:  # noqa: F811
    svc = desk.svc
    people = {user_channel(p.user_id): name for name, p in
              (("agent", desk.agent), ("agent2", desk.agent2), ("admin", desk.admin), ("readonly", desk.readonly))}
    sub = await svc.broker.subscribe(*people)
    receipt = await receive(svc, mail(body="The printer is on fire."))
    number = receipt.conversation_id
    assert number is not None
    heard = Counter((people[ch], m["reason"]) for ch, m in await drain(sub) if m["type"] == "attention")
    assert heard == Counter({("agent", "new"): 1, ("agent2", "new"): 1, ("admin", "new"): 1})

    await tickets.assign_ticket(svc, desk.admin, number, desk.agent.user_id)
    sub = await svc.broker.subscribe(*people)
    token = thread_token(identity_of(svc.settings).secret, number)
    reply = await receive(svc, mail(subject="no number", body="Still burning"), (f"support+{token}@help.example",))
    assert reply.conversation_id == number
    got = [(people[ch], m) for ch, m in await drain(sub) if m["type"] == "attention"]
    assert [(who, m["reason"], m["preview"].split("\n")[0]) for who, m in got] == [("agent", "customer_reply", "Still burning")]

"""E-mail out end to end (issue 15, "Real components in tests"): the whole product on a
live server, its sweeper passes (``mail.plan`` then ``mail.send``) run on a manual clock,
mail delivered through the real SMTP adapter to an aiosmtpd server with STARTTLS and
AUTH, and every received mail parsed with the stdlib ``email`` package. On SQLite and
PostgreSQL.

An outage of the SMTP server loses and doubles nothing; the widget's offline form is
confirmed and answered by mail, threaded on the ticket; one click on a received mail's
``List-Unsubscribe`` switches that kind off; internal notes and their files never leave.
"""

from __future__ import annotations

import re
import uuid
from collections import Counter
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from urllib.parse import unquote

import httpx
import pytest
from sqlalchemy import select

from chat import attachments
from chat.clock import ManualClock
from chat.conversations import post_message
from chat.events import publish_events
from chat.mail import links
from chat.mail.compose import thread_root, ticket_of_message_id
from chat.mail.models import MailStatus, OutboxMail
from chat.mail.outbox import BACKOFF_AFTER
from chat.mail.queue import identity_of
from chat.mail.smtp import SmtpTransport
from chat.models import Site, User
from chat.services import Services
from chat.tokens import Purpose
from escalation import tickets
from tests.conftest import make_settings
from tests.escalation.world import Desk, chat, make_desk, say
from tests.support.live import LiveServer, live_server
from tests.support.mailbox import html_of, parse, readable, smtp_env, text_of, to_us, unbracketed
from tests.support.processes import free_port
from tests.support.smtp_server import SmtpServer

MINUTE = timedelta(minutes=1)
ATTACHMENT_LINK = re.compile(r"/mail/attachment\?t=([^\s\"'<>&]+)")


@dataclass
class World:
    live: LiveServer
    http: httpx.AsyncClient
    desk: Desk
    smtp: SmtpServer
    clock: ManualClock

    @property
    def svc(self) -> Services:
        return self.live.services

    async def passes(self, count: int, step: timedelta = MINUTE) -> None:
        """``count`` sweeper passes, the clock moved on by ``step`` before each; every job
        of every pass must succeed (a job that raised reports -1)."""
        for _ in range(count):
            self.clock.advance(step)
            done = await self.desk.sweeper.run_once()
            assert min(done.values()) >= 0, done

    async def outbox(self) -> list[OutboxMail]:
        async with self.svc.reads() as db:
            return list(await db.scalars(select(OutboxMail).order_by(OutboxMail.id)))


@pytest.fixture
async def world(db_url: str, tmp_path: Path, clock: ManualClock, smtp: SmtpServer) -> AsyncIterator[World]:
    port = free_port()
    # No agent is ever online here: the chats stay chats until a test makes them tickets.
    settings = make_settings(db_url, tmp_path / "var", TICKET_WHEN_NO_AGENT_ONLINE="false",
                             **smtp_env(smtp, tmp_path, public_url=f"http://127.0.0.1:{port}"))
    async with live_server(settings, clock, port=port) as live, httpx.AsyncClient(base_url=live.base_url,
                                                                                 timeout=10) as http:
        # The real adapter, never a stand-in: what the server receives is what SMTP carried.
        assert isinstance(live.services.mail, SmtpTransport)
        yield World(live, http, await make_desk(live.services), smtp, clock)


async def test_an_smtp_outage_loses_nothing_and_sends_nothing_twice(world: World) -> None:
    desk, svc, smtp = world.desk, world.svc, world.smtp
    await smtp.stop()
    conv = await chat(desk)
    await tickets.escalate_conversation(svc, desk.agent, conv)
    await tickets.update_ticket(svc, desk.agent, conv, {"cc": [desk.colleague.user_id]})
    await world.passes(1)
    await tickets.assign_ticket(svc, desk.admin, conv, desk.agent.user_id)
    await say(desk, desk.agent, conv, "Unplug it first.")
    await world.passes(4)  # past the digest window (3 min): the reply digests are released
    await tickets.change_status(svc, desk.agent, conv, "propose_close")
    await world.passes(2)
    await tickets.change_status(svc, desk.agent, conv, "close")
    # An hour of outage: every mail is tried, refused, and backed off again and again.
    await world.passes(12, 5 * MINUTE)
    assert smtp.received == []
    during = await world.outbox()
    assert {m.status for m in during if m.kind != "unassigned_ticket"} == {MailStatus.PENDING}
    assert min(m.attempts for m in during if m.status is MailStatus.PENDING) >= 3
    assert all(m.last_error for m in during if m.status is MailStatus.PENDING)  # why, for the admins

    await smtp.start()
    # The longest backoff is BACKOFF_AFTER (an hour): past it, every mail has had its turn.
    await world.passes(BACKOFF_AFTER // (5 * MINUTE) + 1, 5 * MINUTE)

    rows = await world.outbox()
    by_id = {m.message_id: m for m in rows}
    received_ids = Counter(r.message_id for r in smtp.received)
    assert set(received_ids.values()) == {1}, received_ids
    assert set(received_ids) == {m.message_id for m in rows if m.status is MailStatus.SENT}
    assert Counter((by_id[r.message_id].kind, r.rcpt_tos[0]) for r in smtp.received) == Counter({
        # The colleague was copied before the planner's first pass: told of the ticket too.
        ("ticket_opened", "cat@acme.example"): 1,
        ("ticket_opened", "colin@acme.example"): 1,
        ("ticket_assigned", "ann@support.example"): 1,
        ("support_reply", "cat@acme.example"): 1,
        ("support_reply", "colin@acme.example"): 1,
        ("close_proposed", "cat@acme.example"): 1,
        ("close_proposed", "colin@acme.example"): 1,
        ("ticket_closed", "cat@acme.example"): 1,
        ("ticket_closed", "colin@acme.example"): 1,
    })
    # Read back from what arrived: the subject and the recipient agree with the outbox.
    for received in smtp.received:
        message = parse(received)
        assert str(message["Subject"]).startswith(f"[#{conv}] ")
        assert message["To"].addresses[0].addr_spec == received.rcpt_tos[0]
        assert message["Message-ID"] == received.message_id
    assert Counter(m.status for m in rows) == Counter({MailStatus.SENT: 9, MailStatus.CANCELLED: 1})
    [cancelled] = [m for m in rows if m.status is MailStatus.CANCELLED]
    # Assigned before its grace ran out: the admin's "nobody is on it" was never needed.
    assert (cancelled.kind, cancelled.to_addr) == ("unassigned_ticket", "sam@support.example")
    await world.passes(3)
    assert len(smtp.received) == 9
    # Every connection upgraded to TLS and logged in (the server refuses AUTH before TLS).
    assert smtp.sessions >= 1 and smtp.logins == smtp.sessions


async def site_key(svc: Services) -> str:
    async with svc.reads() as db:
        key = await db.scalar(select(Site.public_key).where(Site.name == "Shop"))
    assert key is not None
    return key


async def test_the_offline_form_is_confirmed_then_answered_by_mail_in_one_thread(world: World) -> None:
    desk, svc, http = world.desk, world.svc, world.http
    session = await http.post("/api/widget/session", json={"site": await site_key(svc), "name": "Vera Visitor"})
    assert session.status_code == 200, session.text
    visitor = {"Authorization": f"Bearer {session.json()['token']}"}
    opened = await http.post("/api/tickets", headers=visitor, json={
        "channel": "widget_offline", "subject": "Scanner jams", "description": "It eats every second page.",
        "email": "vera@home.example", "name": "Vera Visitor"})
    assert opened.status_code == 201, opened.text
    number = opened.json()["ticket"]["id"]
    await world.passes(1)

    [confirmation] = to_us(world.smtp.received, "vera@home.example")
    assert confirmation["To"].addresses[0].addr_spec == "vera@home.example"
    assert str(confirmation["Subject"]) == f"[#{number}] Scanner jams"
    assert confirmation["Auto-Submitted"] == "auto-generated"
    unsubscribe = unbracketed(confirmation["List-Unsubscribe"])
    assert unsubscribe.startswith(f"{svc.settings.public_url}/mail/unsubscribe?t=")
    assert confirmation["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert "It eats every second page." in text_of(confirmation)

    await say(desk, desk.agent, number, "A new roller is on its way to you.")
    await world.passes(2)
    assert len(to_us(world.smtp.received, "vera@home.example")) == 1  # the digest window is still open
    await world.passes(2)
    [_, reply] = to_us(world.smtp.received, "vera@home.example")
    assert str(reply["Subject"]) == f"[#{number}] Scanner jams"
    assert "> A new roller is on its way to you." in text_of(reply)
    assert "A new roller is on its way to you." in html_of(reply)
    sender = reply["From"].addresses[0]
    assert "Ann" in sender.display_name and sender.addr_spec == "support@ours.example"
    identity = identity_of(svc.settings)
    root = thread_root(identity, number)
    assert reply["In-Reply-To"] == root
    assert root in str(reply["References"]).split()
    assert confirmation["In-Reply-To"] == root  # both mails hang on the same thread
    assert ticket_of_message_id(identity.secret, str(reply["Message-ID"])) == number
    assert ticket_of_message_id(identity.secret, str(confirmation["Message-ID"])) == number


async def test_one_click_unsubscribe_from_a_received_mail_stops_that_kind_only(world: World) -> None:
    desk, svc, http = world.desk, world.svc, world.http
    conv = await chat(desk)
    await tickets.escalate_conversation(svc, desk.agent, conv)
    await say(desk, desk.agent, conv, "Which model is it?")
    await world.passes(4)
    replies = [m for m in to_us(world.smtp.received, "cat@acme.example") if "Which model is it?" in text_of(m)]
    assert len(replies) == 1
    url = unbracketed(replies[0]["List-Unsubscribe"])
    assert replies[0]["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"

    # What a mail provider sends for RFC 8058: a POST to the URL with this exact body.
    clicked = await http.post(url, content=b"List-Unsubscribe=One-Click",
                              headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert clicked.status_code == 200, clicked.text
    async with svc.reads() as db:
        customer = await db.get(User, desk.customer.user_id)
    assert customer is not None and customer.notification_prefs.get("support_reply") is False

    before = {m.id for m in await world.outbox()}
    await say(desk, desk.agent, conv, "Is it the X200?")
    await tickets.change_status(svc, desk.agent, conv, "propose_close")
    await world.passes(4)
    new = [(m.kind, m.to_addr, m.status) for m in await world.outbox() if m.id not in before]
    assert new == [("close_proposed", "cat@acme.example", MailStatus.SENT)]
    received = to_us(world.smtp.received, "cat@acme.example")
    assert len(received) == 3  # the confirmation, the first reply, the proposal
    assert all("Is it the X200?" not in text_of(m) for m in received)


async def test_internal_notes_and_their_files_never_leave(world: World) -> None:
    desk, svc = world.desk, world.svc
    conv = await chat(desk)
    await tickets.escalate_conversation(svc, desk.agent, conv)
    await tickets.update_ticket(svc, desk.agent, conv, {"cc": [desk.colleague.user_id]})

    async def upload(name: str, content: bytes) -> int:
        async def chunks() -> AsyncIterator[bytes]:
            yield content

        stored = await attachments.upload(svc, desk.agent, conv, filename=name, content_type="text/plain",
                                          declared_size=len(content), chunks=chunks())
        return stored.id

    async def post(body: str, files: list[int], *, internal: bool) -> None:
        _, events = await post_message(svc, desk.agent, conv, client_msg_id=uuid.uuid4().hex, body=body,
                                       internal=internal, attachments=files)
        await publish_events(svc, events)
        await svc.react(desk.agent, events)

    secret_file = await upload("vault-combination.txt", b"12-34-56")
    public_file = await upload("firmware-notes.txt", b"flash 2.1")
    await post("Between us: the vault code is 7741-hunter", [secret_file], internal=True)
    await post("Here are the firmware notes.", [public_file], internal=False)
    await world.passes(4)
    await tickets.change_status(svc, desk.agent, conv, "close")
    await world.passes(2)

    mails = [parse(r) for r in world.smtp.received]
    reply_texts = [text_of(m) for m in mails if "Here are the firmware notes." in text_of(m)]
    # The public file is linked: the checks below would see a file's link if there were one.
    assert len(reply_texts) == 2 and all("firmware-notes.txt" in t for t in reply_texts)
    assert {r.rcpt_tos[0] for r in world.smtp.received} >= {"cat@acme.example", "colin@acme.example"}
    linked: list[object] = []
    for received, message in zip(world.smtp.received, mails, strict=True):
        seen = readable(message)
        # The note, its file's name and its text are in no mail, no part, no header.
        assert b"7741-hunter" not in received.raw and "7741-hunter" not in seen and "Between us" not in seen
        assert "vault-combination" not in seen
        for token in ATTACHMENT_LINK.findall(seen):
            linked.append(links.read(svc.tokens, Purpose.MAIL_ATTACHMENT, unquote(token)).get("a"))
    # Every attachment link in every mail (text and HTML parts) names the public file.
    assert linked and set(linked) == {public_file}

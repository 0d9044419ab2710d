"""The e-mail intake (chat.mail.inbound.receive): real mails (built with the stdlib, parsed
by the product's parser) into real databases, SQLite and PostgreSQL. Each test asserts
the exact outcome: the receipt, the rows, and what the planner then mails."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from email.utils import format_datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from chat.clock import ManualClock
from chat.mail.compose import thread_root, thread_token
from chat.mail.inbound.receive import MailStoreUnavailable, Receipt, receive_mail
from chat.mail.kinds import MailKind
from chat.mail.models import InboundMail, InboundStatus, MailBlock, MailSuppression, OutboxMail
from chat.mail.planner import plan_job
from chat.mail.queue import identity_of, is_blocked, queue_mail
from chat.models import Attachment, Conversation, Event, Participant, Role, User
from chat.services import Services
from chat.wiring import build_services
from escalation.lifecycle import TicketStatus
from escalation.models import Ticket, TicketChannel
from escalation.tickets import change_status
from tests.conftest import make_settings
from tests.escalation.world import Desk, make_desk
from tests.support.threads import join_aiosqlite_threads

PNG = b"\x89PNG\r\n\x1a\n" + b"\0" * 40
MakeSvc = Callable[..., Awaitable[Services]]


@pytest.fixture
async def make_svc(db_url: str, tmp_path: Path, clock: ManualClock) -> AsyncIterator[MakeSvc]:
    """Services over the test's database with mail-in settings of the test's choosing."""
    opened: list[Services] = []

    async def make(**env: str) -> Services:
        settings = make_settings(db_url, tmp_path / "var", MAIL_FROM="Support <support@help.example>", **env)
        svc = build_services(settings, clock=clock)
        await svc.broker.connect()
        opened.append(svc)
        return svc

    yield make
    for svc in opened:
        await svc.close()


@pytest.fixture
async def desk(make_svc: MakeSvc) -> Desk:
    return await make_desk(await make_svc())


_counter = 0


def mail(sender: str = "cat@acme.example", subject: str = "Printer on fire", body: str = "It is on fire.", *,
         to: str = "support@help.example", cc: str | None = None, headers: dict[str, str] | None = None,
         files: list[tuple[str, str, bytes]] = ()) -> bytes:  # type: ignore[assignment]
    global _counter
    _counter += 1
    msg = EmailMessage()
    msg["From"] = f"Someone <{sender}>"
    msg["To"] = to
    if cc:
        msg["Cc"] = cc
    msg["Subject"] = subject
    msg["Date"] = format_datetime(datetime(2026, 3, 2, 9, 0, tzinfo=UTC))
    msg["Message-ID"] = f"<m{_counter}.test@mail.acme.example>"
    for name, value in (headers or {}).items():
        msg[name] = value
    msg.set_content(body)
    for filename, ctype, data in files:
        main, _, sub = ctype.partition("/")
        msg.add_attachment(data, maintype=main, subtype=sub, filename=filename)
    return msg.as_bytes()


async def receive(svc: Services, raw: bytes, recipients: tuple[str, ...] = ()) -> Receipt:
    return await receive_mail(svc, raw, mailbox="smtp", recipients=recipients)


async def one(svc: Services, query: Any) -> Any:
    async with svc.reads() as db:
        return await db.scalar(query)


async def count(svc: Services, model: Any) -> int:
    return int(await one(svc, select(func.count()).select_from(model)))


async def first_message(svc: Services, conversation_id: int) -> Event:
    return await one(svc, select(Event).where(Event.conversation_id == conversation_id, Event.type == "message")
                     .order_by(Event.seq))


async def ticket_of(svc: Services, conversation_id: int) -> Ticket:
    return await one(svc, select(Ticket).where(Ticket.conversation_id == conversation_id))


async def messages(svc: Services, conversation_id: int) -> list[str]:
    async with svc.reads() as db:
        rows = await db.scalars(select(Event.body).where(Event.conversation_id == conversation_id,
                                                         Event.type == "message").order_by(Event.seq))
        return [str(b) for b in rows]


# -- new tickets and who wrote ------------------------------------------------------------


async def test_a_known_customer_opens_an_email_ticket(desk: Desk) -> None:
    svc = desk.svc
    receipt = await receive(svc, mail(body="It is on fire.\n\nCat"))
    assert (receipt.status, receipt.duplicate) == (InboundStatus.TICKET, False)
    assert receipt.reason == "new ticket (known user)"
    assert receipt.conversation_id is not None
    ticket = await ticket_of(svc, receipt.conversation_id)
    conv = await one(svc, select(Conversation).where(Conversation.id == receipt.conversation_id))
    assert (ticket.channel, ticket.status, ticket.tracked, ticket.requester_id) == (
        TicketChannel.EMAIL, TicketStatus.NEW, True, desk.customer.user_id)
    assert (conv.subject, conv.organization_id) == ("Printer on fire", desk.org_id)
    message = await first_message(svc, receipt.conversation_id)
    assert message.body.startswith("It is on fire.")
    assert (message.author_id, message.data["mail"]) == (desk.customer.user_id, receipt.inbound_id)
    row = await one(svc, select(InboundMail).where(InboundMail.id == receipt.inbound_id))
    assert (row.sender, row.subject, row.status, row.conversation_id) == (
        "cat@acme.example", "Printer on fire", InboundStatus.TICKET, receipt.conversation_id)


async def test_an_unknown_sender_of_a_company_domain_becomes_its_customer(desk: Desk) -> None:
    receipt = await receive(desk.svc, mail("newbie@acme.example"))
    assert (receipt.status, receipt.reason) == (InboundStatus.TICKET, "new ticket (new user of the company with domain acme.example)")
    user = await one(desk.svc, select(User).where(User.email == "newbie@acme.example"))
    assert (user.role, user.organization_id, user.password_hash) == (Role.CUSTOMER, desk.org_id, None)
    assert (await ticket_of(desk.svc, receipt.conversation_id or 0)).requester_id == user.id


async def test_an_unknown_company_sender_is_held_when_the_setting_says_so(make_svc: MakeSvc) -> None:
    desk = await make_desk(await make_svc(MAIL_IN_COMPANY_SENDER="hold"))
    users = await count(desk.svc, User)
    receipt = await receive(desk.svc, mail("newbie@acme.example"))
    assert (receipt.status, receipt.conversation_id) == (InboundStatus.HELD, None)
    assert receipt.reason == "unknown sender of the company with domain acme.example: held for staff"
    assert (await count(desk.svc, User), await count(desk.svc, Conversation)) == (users, 0)


async def test_a_free_mail_domain_never_names_a_company(make_svc: MakeSvc) -> None:
    # The company lists a domain that the setting declares free mail (as gmail.com is by default).
    desk = await make_desk(await make_svc(MAIL_IN_FREE_DOMAINS="acme.example"))
    receipt = await receive(desk.svc, mail("newbie@acme.example"))
    assert (receipt.status, receipt.reason) == (InboundStatus.TICKET, "new ticket (unidentified sender)")
    user = await one(desk.svc, select(User).where(User.email == "newbie@acme.example"))
    assert user.organization_id is None


async def test_an_unknown_sender_lands_in_new_or_is_refused(make_svc: MakeSvc) -> None:
    svc = await make_svc()
    desk = await make_desk(svc)
    receipt = await receive(svc, mail("someone@gmail.com"))
    assert (receipt.status, receipt.reason) == (InboundStatus.TICKET, "new ticket (unidentified sender)")
    ticket = await ticket_of(svc, receipt.conversation_id or 0)
    assert (ticket.status, ticket.assignee_id, ticket.level) == (TicketStatus.NEW, None, 1)
    assert desk.org_id  # the desk exists; gmail.com is nobody's company

    strict = await make_svc(MAIL_IN_UNKNOWN_SENDER="refuse")
    users = await count(strict, User)
    refused = await receive(strict, mail("other@gmail.com"))
    assert (refused.status, refused.conversation_id) == (InboundStatus.REFUSED, None)
    assert refused.reason == "unknown sender (MAIL_IN_UNKNOWN_SENDER=refuse)"
    assert await count(strict, User) == users


async def test_a_disabled_user_and_staff_are_refused(desk: Desk) -> None:
    async with desk.svc.sessions.begin() as db:
        user = await db.get(User, desk.colleague.user_id)
        assert user is not None
        user.disabled = True
    assert (await receive(desk.svc, mail("colin@acme.example"))).reason == "the sender's account is disabled"
    staff = await receive(desk.svc, mail("ann@support.example"))
    assert (staff.status, staff.reason) == (InboundStatus.REFUSED, "the sender is support staff: staff answer in the console")
    assert await count(desk.svc, Conversation) == 0


# -- threading ----------------------------------------------------------------------------------


async def opened(desk: Desk, sender: str = "cat@acme.example") -> int:
    receipt = await receive(desk.svc, mail(sender))
    assert receipt.status is InboundStatus.TICKET and receipt.conversation_id is not None
    return receipt.conversation_id


async def test_replies_thread_by_every_way(desk: Desk) -> None:
    svc = desk.svc
    identity = identity_of(svc.settings)
    number = await opened(desk)
    token = thread_token(identity.secret, number)
    ways: list[tuple[str, bytes, tuple[str, ...]]] = [
        ("address", mail(subject="no number here", body="by address"), (f"support+{token}@help.example",)),
        ("address", mail(subject="no number", body="by To", to=f"Support <support+{token}@help.example>"), ()),
        ("references", mail(subject="x", body="by in-reply-to", headers={"In-Reply-To": thread_root(identity, number)}), ()),
        ("references", mail(subject="x", body="by references", headers={
            "References": f"<a@gmail.com> <b@gmail.com> {thread_root(identity, number)}"}), ()),
        ("subject", mail(subject=f"Re: [#{number}] Printer on fire", body="by subject"), ()),
        ("body", mail(subject="x", body=f"by marker\n\n> ##- Please type your reply above this line -##\n> Ticket #{number} was answered"), ()),
    ]
    for via, raw, recipients in ways:
        receipt = await receive(svc, raw, recipients)
        assert (receipt.status, receipt.conversation_id) == (InboundStatus.REPLY, number), (via, receipt)
        assert receipt.reason == f"reply to #{number} ({via}) (known user)"
    assert [b.split("\n")[0] for b in await messages(svc, number)] == [
        "It is on fire.", "by address", "by To", "by in-reply-to", "by references", "by subject", "by marker"]
    assert await count(svc, Conversation) == 1


async def test_a_stranger_guessing_the_number_gets_a_ticket_of_their_own(desk: Desk) -> None:
    number = await opened(desk)
    receipt = await receive(desk.svc, mail("sid@other.example", subject=f"Re: [#{number}] let me in", body="hi"))
    assert receipt.status is InboundStatus.TICKET and receipt.conversation_id != number
    assert receipt.reason == f"new ticket (known user); #{number} (subject) is not the sender's"
    assert await messages(desk.svc, number) == ["It is on fire."]


async def test_a_colleague_continues_and_joins(desk: Desk) -> None:
    number = await opened(desk)
    receipt = await receive(desk.svc, mail("colin@acme.example", subject=f"Re: [#{number}]", body="me too"))
    assert (receipt.status, receipt.conversation_id) == (InboundStatus.REPLY, number)
    joined = await one(desk.svc, select(func.count()).select_from(Participant).where(
        Participant.conversation_id == number, Participant.user_id == desk.colleague.user_id))
    assert joined == 1


async def test_a_reply_to_a_closed_ticket_opens_a_linked_one(desk: Desk) -> None:
    number = await opened(desk)
    await change_status(desk.svc, desk.agent, number, "close")
    receipt = await receive(desk.svc, mail(subject=f"Re: [#{number}] Printer on fire", body="again"))
    assert receipt.status is InboundStatus.TICKET and receipt.conversation_id not in (None, number)
    assert receipt.reason == f"follows up closed #{number} (subject) (known user)"
    follow_up = await ticket_of(desk.svc, receipt.conversation_id or 0)
    assert (follow_up.linked_from_id, follow_up.status) == (number, TicketStatus.NEW)
    assert await messages(desk.svc, receipt.conversation_id or 0) == ["again"]


async def test_a_reply_to_a_proposed_close_takes_it_back(desk: Desk) -> None:
    number = await opened(desk)
    await change_status(desk.svc, desk.agent, number, "start")
    await change_status(desk.svc, desk.agent, number, "propose_close")
    assert (await ticket_of(desk.svc, number)).status is TicketStatus.PROPOSED_TO_CLOSE
    receipt = await receive(desk.svc, mail(subject=f"Re: [#{number}]", body="still broken"))
    assert receipt.status is InboundStatus.REPLY
    ticket = await ticket_of(desk.svc, number)
    assert (ticket.status, ticket.auto_close_at) == (TicketStatus.IN_PROGRESS, None)


async def test_cc_colleagues_become_the_tickets_cc(desk: Desk) -> None:
    receipt = await receive(desk.svc, mail(cc="Colin <colin@acme.example>, sid@other.example, nobody@acme.example"))
    ticket = await ticket_of(desk.svc, receipt.conversation_id or 0)
    assert ticket.cc == [desk.colleague.user_id]  # the stranger and the unknown address are not copied
    assert receipt.reason == "new ticket (known user); cc: 1"


# -- mail that opens nothing ----------------------------------------------------------------------


async def test_an_auto_reply_is_a_loop_and_nothing_is_mailed(desk: Desk) -> None:
    svc = desk.svc
    await opened(desk)
    await plan_job(svc, svc.clock.now())
    before = await count(svc, OutboxMail)
    assert before >= 1  # the ticket-opened mail, to show the planner does mail
    receipt = await receive(svc, mail(subject="Out of office", headers={"Auto-Submitted": "auto-replied"}))
    assert (receipt.status, receipt.conversation_id) == (InboundStatus.LOOP, None)
    assert receipt.reason.startswith("automatic mail (Auto-Submitted: auto-replied)")
    await plan_job(svc, svc.clock.now())
    assert (await count(svc, OutboxMail), await count(svc, Conversation)) == (before, 1)


def dsn(original_id: str, recipient: str, action: str = "failed", status: str = "5.1.1") -> bytes:
    report = (
        "--B\r\nContent-Type: text/plain\r\n\r\nDelivery failed.\r\n"
        "--B\r\nContent-Type: message/delivery-status\r\n\r\n"
        "Reporting-MTA: dns; mx.acme.example\r\n\r\n"
        f"Final-Recipient: rfc822; {recipient}\r\nAction: {action}\r\nStatus: {status}\r\n"
        "Diagnostic-Code: smtp; 550 5.1.1 no such user\r\n"
        "--B\r\nContent-Type: text/rfc822-headers\r\n\r\n"
        f"Message-ID: {original_id}\r\nSubject: [#1] Printer on fire\r\n"
        "--B--\r\n"
    )
    head = (
        "From: Mail Delivery System <MAILER-DAEMON@mx.acme.example>\r\nTo: support@help.example\r\n"
        "Subject: Undelivered Mail Returned to Sender\r\nMessage-ID: <dsn1@mx.acme.example>\r\n"
        "MIME-Version: 1.0\r\nContent-Type: multipart/report; report-type=delivery-status; boundary=B\r\n\r\n"
    )
    return (head + report).encode()


async def test_a_permanent_bounce_suppresses_the_address(desk: Desk) -> None:
    svc = desk.svc
    await opened(desk)
    await plan_job(svc, svc.clock.now())
    sent = await one(svc, select(OutboxMail).where(OutboxMail.to_addr == "cat@acme.example"))
    receipt = await receive(svc, dsn(sent.message_id, "cat@acme.example"))
    assert (receipt.status, receipt.conversation_id) == (InboundStatus.BOUNCE, None)
    assert receipt.reason.startswith(f"mail {sent.id} to cat@acme.example failed for good: ")
    suppressed = await one(svc, select(MailSuppression).where(MailSuppression.address == "cat@acme.example"))
    assert suppressed.mail_id == sent.id
    # A report about a mail we never sent suppresses nobody.
    stray = await receive(svc, dsn("<nope@elsewhere.example>", "colin@acme.example").replace(b"dsn1@", b"dsn2@"))
    assert stray.status is InboundStatus.BOUNCE and stray.reason.startswith("delivery report for no mail of ours")
    assert await count(svc, MailSuppression) == 1


async def test_our_own_mail_coming_back_is_dropped(desk: Desk) -> None:
    svc = desk.svc
    identity = identity_of(svc.settings)
    ours = mail("support@help.example", body="loop?")
    ids = mail("someone@gmail.com", headers={}).replace(
        b"Message-ID: <", f"Message-ID: <{thread_token(identity.secret, 5)}.0123456789abcdef@help.example><".encode(), 1)
    for raw in (ours, ids):
        receipt = await receive(svc, raw)
        assert (receipt.status, receipt.reason) == (InboundStatus.OURS, "one of our own mails came back")
    assert await count(svc, Conversation) == 0


async def test_spam_flag_and_blocked_senders_are_spam(desk: Desk) -> None:
    svc = desk.svc
    flagged = await receive(svc, mail(headers={"X-Spam-Flag": "YES"}))
    assert (flagged.status, flagged.reason) == (InboundStatus.SPAM, "flagged as spam upstream (X-Spam-Flag: YES)")
    async with svc.sessions.begin() as db:
        db.add(MailBlock(pattern="@other.example", reason="", created_at=svc.clock.now()))
        db.add(MailBlock(pattern="cat@acme.example", reason="", created_at=svc.clock.now()))
    for sender, pattern in (("sid@other.example", "@other.example"), ("Cat@Acme.example", "cat@acme.example")):
        receipt = await receive(svc, mail(sender))
        assert (receipt.status, receipt.reason) == (InboundStatus.SPAM, f"the sender is on the block list ({pattern})")
    assert await count(svc, Conversation) == 0


async def test_nothing_is_queued_to_a_blocked_address(desk: Desk) -> None:
    svc = desk.svc
    async with svc.sessions.begin() as db:
        db.add(MailBlock(pattern="@acme.example", reason="", created_at=svc.clock.now()))
    async with svc.sessions.begin() as db:
        user = await db.get(User, desk.customer.user_id)
        assert await is_blocked(db, "CAT@acme.example") and not await is_blocked(db, "sid@other.example")
        row = await queue_mail(db, svc, key="t1", kind=MailKind.TICKET_OPENED, user=user,
                               context={"ticket": {"number": 1, "subject": "x", "url": None}}, now=svc.clock.now())
        assert row is None
    assert await count(svc, OutboxMail) == 0


# -- delivery, limits, bad input, files ---------------------------------------------------------


async def test_a_second_delivery_stores_nothing(desk: Desk) -> None:
    raw = mail()
    first = await receive(desk.svc, raw)
    again = await receive(desk.svc, raw)
    assert again == Receipt(first.status, first.reason, first.conversation_id, first.inbound_id, duplicate=True)
    assert (await count(desk.svc, InboundMail), await count(desk.svc, Conversation)) == (1, 1)
    other_box = await receive_mail(desk.svc, raw, mailbox="imap:support@help.example/INBOX")
    assert other_box.inbound_id != first.inbound_id and not other_box.duplicate


async def test_the_eleventh_new_ticket_in_an_hour_is_held(desk: Desk, clock: ManualClock) -> None:
    for i in range(10):
        assert (await receive(desk.svc, mail(subject=f"n{i}"))).status is InboundStatus.TICKET
        clock.advance(timedelta(minutes=5))
    held = await receive(desk.svc, mail(subject="n10"))
    assert (held.status, held.reason) == (InboundStatus.HELD, "more than 10 new tickets from this sender in an hour: held")
    clock.advance(timedelta(minutes=16))  # the first two are now more than an hour old
    assert (await receive(desk.svc, mail(subject="n11"))).status is InboundStatus.TICKET
    assert await count(desk.svc, Conversation) == 11


async def test_a_malformed_mail_is_refused_with_its_reason(desk: Desk) -> None:
    raw = b"Subject: no sender at all\r\n\r\nhello\r\n"
    receipt = await receive(desk.svc, raw)
    assert (receipt.status, receipt.conversation_id) == (InboundStatus.REFUSED, None)
    assert receipt.reason  # the parser's one line
    row = await one(desk.svc, select(InboundMail).where(InboundMail.id == receipt.inbound_id))
    assert (row.raw, row.sender, row.size) == (raw, "", len(raw))


async def test_the_original_is_kept_cut_to_the_setting(make_svc: MakeSvc) -> None:
    desk = await make_desk(await make_svc(MAIL_IN_KEEP_BYTES="1024"))
    raw = mail(body="x" * 5000)
    receipt = await receive(desk.svc, raw)
    row = await one(desk.svc, select(InboundMail).where(InboundMail.id == receipt.inbound_id))
    assert row.raw == raw[:1024] and row.size == len(raw)


async def test_files_become_attachments_and_refused_ones_are_noted(desk: Desk) -> None:
    files = [("screen.png", "image/png", PNG), ("log.txt", "text/plain", b"line 1\n"),
             ("evil.html", "text/html", b"<script>"), ("fake.png", "image/png", b"not a png")]
    receipt = await receive(desk.svc, mail(files=files))
    assert receipt.status is InboundStatus.TICKET
    assert receipt.reason == ("new ticket (known user); skipped file evil.html: files of type text/html are not "
                              "accepted; skipped file fake.png: not a image/png")
    async with desk.svc.reads() as db:
        rows = list(await db.scalars(select(Attachment).order_by(Attachment.id)))
    message = await first_message(desk.svc, receipt.conversation_id or 0)
    assert [(a.filename, a.content_type, a.size, a.event_id, a.uploader_id) for a in rows] == [
        ("screen.png", "image/png", len(PNG), message.id, desk.customer.user_id),
        ("log.txt", "text/plain", 7, message.id, desk.customer.user_id)]
    assert [a["filename"] for a in message.data["attachments"]] == ["screen.png", "log.txt"]
    stored = desk.svc.settings.var_dir / "uploads" / rows[0].storage_key
    assert stored.read_bytes() == PNG
    assert len(list((desk.svc.settings.var_dir / "uploads").iterdir())) == 2


async def test_a_storage_failure_midway_stores_nothing_and_says_unavailable(desk: Desk) -> None:
    svc = desk.svc
    uploads = svc.settings.var_dir / "uploads"
    uploads.parent.mkdir(parents=True, exist_ok=True)
    uploads.write_bytes(b"")  # a file where the upload store's folder should be: every write fails
    before = (await count(svc, User), await count(svc, Conversation), await count(svc, InboundMail))
    with pytest.raises(MailStoreUnavailable):
        # An unknown company sender: the user row is made before the file is written.
        await receive(svc, mail("newbie@acme.example", files=[("screen.png", "image/png", PNG)]))
    assert (await count(svc, User), await count(svc, Conversation), await count(svc, InboundMail)) == before
    uploads.unlink()
    assert (await receive(svc, mail("newbie@acme.example", files=[("s.png", "image/png", PNG)]))).status is InboundStatus.TICKET


async def test_an_unreachable_database_raises_store_unavailable(tmp_path: Path, clock: ManualClock) -> None:
    settings = make_settings(f"sqlite+aiosqlite:///{tmp_path}/no/such/dir/x.db", tmp_path / "var")
    svc = build_services(settings, clock=clock)
    try:
        with pytest.raises(MailStoreUnavailable):
            await receive_mail(svc, mail(), mailbox="smtp")
    finally:
        await svc.close()
        await join_aiosqlite_threads()

"""The staff side of e-mail in (chat.mail.inbound.desk): the received-mail log, spam
tickets and mails, the block list. SQLite and PostgreSQL; received mails are inserted as
the intake stores them, tickets are opened by the existing use case."""

from __future__ import annotations

from datetime import timedelta
from email.message import EmailMessage

import pytest
from sqlalchemy import select

from chat import directory
from chat.auth import principal_of
from chat.authz import Principal
from chat.clock import ManualClock
from chat.desk import queues
from chat.errors import Conflict, Forbidden, NotFound, ValidationFailed
from chat.mail.inbound import desk
from chat.mail.inbound.desk import BlockChoice, block_pattern, pattern_for
from chat.mail.models import InboundMail, InboundStatus, MailBlock
from chat.models import Event, OrgKind, Role
from chat.services import Services
from escalation import tickets
from escalation.intake import TicketDraft, open_ticket


def original(subject: str, text: str, html: str | None = None, sender: str = "Ann <ann@acme.example>") -> bytes:
    msg = EmailMessage()
    msg["From"] = sender
    msg["To"] = "support@example.com"
    msg["Subject"] = subject
    msg["Message-ID"] = "<orig@acme.example>"
    msg.set_content(text)
    if html is not None:
        msg.add_alternative(html, subtype="html")
    return bytes(msg)


async def add_inbound(svc: Services, n: int, *, status: InboundStatus = InboundStatus.TICKET,
                      sender: str = "ann@acme.example", raw: bytes | None = None, size: int | None = None) -> int:
    body = raw if raw is not None else original(f"Mail {n}", f"Text {n}\n")
    async with svc.sessions.begin() as db:
        row = InboundMail(
            mailbox="smtp", message_key=f"{n:064d}", message_id=f"<in{n}@acme.example>", sender=sender,
            subject=f"Mail {n}", status=status, reason="" if status is not InboundStatus.REFUSED else "no sender",
            conversation_id=None, size=size if size is not None else len(body), raw=body,
            received_at=svc.clock.now() + timedelta(seconds=n),
        )
        db.add(row)
        await db.flush()
        return row.id


async def person(svc: Services, role: Role, email: str, org_id: int | None = None) -> Principal:
    return principal_of(await directory.create_user(svc, None, email=email, role=role, organization=org_id))


async def company(svc: Services) -> int:
    return (await directory.create_organization(svc, None, name="Acme", kind=OrgKind.CUSTOMER)).organization.id


async def ticket_of(svc: Services, customer: Principal, subject: str = "Buy cheap watches") -> int:
    opened = await open_ticket(svc, customer, TicketDraft(subject=subject, description="Click here"))
    return int(opened["id"])


async def queued_ids(svc: Services) -> set[int]:
    async with svc.reads() as db:
        board = await queues.board(db)
        counts = await queues.counts(db)
    assert {q["key"]: q["count"] for q in board} == counts
    return {i["conversation_id"] for q in board for i in q["items"]}


async def blocks(svc: Services) -> dict[str, str]:
    async with svc.reads() as db:
        return {b.pattern: b.reason for b in await db.scalars(select(MailBlock))}


# -- pure rules --------------------------------------------------------------------------------


def test_block_patterns_are_an_address_or_an_at_domain() -> None:
    assert block_pattern(" Ann@Acme.Example ") == "ann@acme.example"
    assert block_pattern("@Acme.Example") == "@acme.example"
    for bad in ("acme.example", "@", "ann@", "@acme", "a b@acme.example", "@-acme.example", "", "x" * 321, 5):
        with pytest.raises(ValidationFailed):
            block_pattern(bad)  # type: ignore[arg-type]


def test_the_block_choice_names_the_sender_or_the_domain_never_a_free_mail_domain() -> None:
    assert pattern_for("Ann@Acme.Example", BlockChoice.SENDER) == "ann@acme.example"
    assert pattern_for("ann@acme.example", BlockChoice.DOMAIN) == "@acme.example"
    assert pattern_for(None, BlockChoice.NONE) is None
    assert pattern_for("joe@gmail.com", BlockChoice.SENDER) == "joe@gmail.com"
    for free, extra in (("joe@gmail.com", ()), ("joe@yahoo.co.uk", ()), ("joe@corp-free.example", ("corp-free.example",))):
        with pytest.raises(ValidationFailed) as refused:
            pattern_for(free, BlockChoice.DOMAIN, extra)
        assert refused.value.code == "free_mail_domain"
    with pytest.raises(ValidationFailed) as none:
        pattern_for(None, BlockChoice.SENDER)
    assert none.value.code == "no_address"


# -- the received-mail log ---------------------------------------------------------------------


async def test_log_filters_and_pages_newest_first(svc: Services) -> None:
    readonly = await person(svc, Role.READ_ONLY, "ro@example.com")
    ids = [await add_inbound(svc, n) for n in range(1, 6)]
    spam = await add_inbound(svc, 6, status=InboundStatus.SPAM, sender="bot@spam.example")

    first = await desk.list_received(svc, readonly, limit=4)
    assert [m.id for m in first.mails] == [spam, ids[4], ids[3], ids[2]]
    assert first.next_before_id == ids[2]
    rest = await desk.list_received(svc, readonly, limit=4, before_id=first.next_before_id)
    assert [m.id for m in rest.mails] == [ids[1], ids[0]] and rest.next_before_id is None

    only = await desk.list_received(svc, readonly, status="spam")
    assert [(m.id, m.sender, m.status, m.subject, m.mailbox) for m in only.mails] == [
        (spam, "bot@spam.example", "spam", "Mail 6", "smtp")]
    assert [m.id for m in (await desk.list_received(svc, readonly, sender=" BOT@spam.example")).mails] == [spam]
    assert (await desk.list_received(svc, readonly, status="held")).mails == []
    for bad in ({"status": "lost"}, {"limit": 0}, {"limit": 201}, {"before_id": 2**63}, {"before_id": 0}):
        with pytest.raises(ValidationFailed):
            await desk.list_received(svc, readonly, **bad)  # type: ignore[arg-type]

    customer = await person(svc, Role.CUSTOMER, "cu@acme.example", await company(svc))
    with pytest.raises(Forbidden):
        await desk.list_received(svc, customer)
    with pytest.raises(Forbidden):
        await desk.open_received(svc, customer, ids[0])


async def test_open_shows_headers_text_and_sanitized_html(svc: Services) -> None:
    agent = await person(svc, Role.AGENT, "agent@example.com")
    raw = original("=?utf-8?b?0J/RgNC40LLQtdGC?=", "Hello from Ann\n",
                   '<p onclick="steal()">Hi <b>there</b></p><script>alert(1)</script>')
    mail_id = await add_inbound(svc, 1, raw=raw, size=len(raw) + 1000)
    opened = await desk.open_received(svc, agent, mail_id)
    headers = {h.name: h.value for h in opened.headers}
    assert headers["Subject"] == "Привет"
    assert headers["From"] == "Ann <ann@acme.example>"
    assert [h.name for h in opened.headers][:3] == ["From", "To", "Subject"]
    assert opened.text == "Hello from Ann\n"
    assert opened.html is not None
    assert "<b>there</b>" in opened.html and "script" not in opened.html and "onclick" not in opened.html
    assert opened.truncated is True and opened.mail.id == mail_id
    with pytest.raises(NotFound) as missing:
        await desk.open_received(svc, agent, mail_id + 100)
    assert missing.value.code == "mail_not_found"


@pytest.mark.parametrize("raw", [
    b"",
    b"\x00\x01\x02 not a mail at all \xff\xfe",
    b"From: =?x-unknown?q?=FF?=\r\nSubject: =?utf-8?b?!!!?=\r\nContent-Type: text/plain; charset=x-nonexistent\r\n\r\n\xff\xfe",
    b"Content-Type: multipart/mixed; boundary=\"b\"\r\nTo: <<<@@>>>\r\n\r\n--b\r\nContent-Type: text/html\r\n\r\n<p>cut",
    b"Message-ID: <" + b"a" * 5000 + b">\r\nFrom: ann@acme.example\r\n\r\nbody",
])
async def test_open_never_fails_on_a_malformed_original(svc: Services, raw: bytes) -> None:
    agent = await person(svc, Role.AGENT, "agent@example.com")
    mail_id = await add_inbound(svc, 1, status=InboundStatus.REFUSED, raw=raw)
    opened = await desk.open_received(svc, agent, mail_id)
    assert opened.mail.status == "refused" and opened.mail.reason == "no sender"
    assert all(isinstance(h.value, str) for h in opened.headers)


# -- spam tickets ------------------------------------------------------------------------------


async def test_a_spam_ticket_leaves_the_queues_blocks_its_domain_and_not_spam_restores_it(svc: Services) -> None:
    agent = await person(svc, Role.AGENT, "agent@example.com")
    customer = await person(svc, Role.CUSTOMER, "cu@acme.example", await company(svc))
    spam_id = await ticket_of(svc, customer)
    kept_id = await ticket_of(svc, customer, "A real question")
    assert await queued_ids(svc) == {spam_id, kept_id}

    marked = await desk.mark_spam(svc, agent, spam_id, "domain")
    assert marked["spam_at"] == svc.clock.now().isoformat()
    assert marked["status"] == "new"  # closes nothing else
    assert await queued_ids(svc) == {kept_id}
    assert await blocks(svc) == {"@acme.example": f"ticket #{spam_id} marked as spam"}
    view = await desk.spam_view(svc, agent)
    assert [(t["conversation_id"], t["queue"], t["spam_at"]) for t in view.tickets] == [
        (spam_id, None, svc.clock.now().isoformat())]
    with pytest.raises(Conflict) as twice:
        await desk.mark_spam(svc, agent, spam_id, "sender")
    assert twice.value.code == "already_spam"

    restored = await desk.unmark_spam(svc, agent, spam_id)
    assert restored["spam_at"] is None
    assert await queued_ids(svc) == {spam_id, kept_id}
    assert await blocks(svc) == {}
    assert (await desk.spam_view(svc, agent)).tickets == []
    with pytest.raises(Conflict) as again:
        await desk.unmark_spam(svc, agent, spam_id)
    assert again.value.code == "not_spam"

    async with svc.reads() as db:
        history = [(e.data["event"], e.internal, {k: e.data.get(k) for k in ("block", "blocked", "unblocked")})
                   for e in await db.scalars(select(Event).where(Event.conversation_id == spam_id).order_by(Event.seq))
                   if e.data.get("event") in (desk.SPAM_EVENT, desk.NOT_SPAM_EVENT)]
    assert history == [
        ("ticket.spam", True, {"block": "domain", "blocked": "@acme.example", "unblocked": None}),
        ("ticket.not_spam", True, {"block": None, "blocked": None, "unblocked": "@acme.example"}),
    ]


async def test_not_spam_leaves_a_block_the_mark_did_not_add(svc: Services) -> None:
    admin = await person(svc, Role.SUPPORT_ADMIN, "admin@example.com")
    customer = await person(svc, Role.CUSTOMER, "cu@acme.example", await company(svc))
    ticket_id = await ticket_of(svc, customer)
    await desk.add_block(svc, admin, "CU@acme.example", "seen before")
    await desk.mark_spam(svc, admin, ticket_id, "sender")
    assert await blocks(svc) == {"cu@acme.example": "seen before"}
    await desk.unmark_spam(svc, admin, ticket_id)
    assert await blocks(svc) == {"cu@acme.example": "seen before"}

    await desk.mark_spam(svc, admin, ticket_id, "none")
    assert await blocks(svc) == {"cu@acme.example": "seen before"}
    assert ticket_id not in await queued_ids(svc)


async def test_who_may_mark_spam_and_what_is_refused(svc: Services) -> None:
    readonly = await person(svc, Role.READ_ONLY, "ro@example.com")
    agent = await person(svc, Role.AGENT, "agent@example.com")
    org = await company(svc)
    customer = await person(svc, Role.CUSTOMER, "cu@acme.example", org)
    free = await person(svc, Role.CUSTOMER, "joe@gmail.com", org)
    ticket_id = await ticket_of(svc, customer)
    free_ticket = await ticket_of(svc, free)

    for who in (readonly, customer):
        with pytest.raises(Forbidden):
            await desk.mark_spam(svc, who, ticket_id, "sender")
        with pytest.raises(Forbidden):
            await desk.unmark_spam(svc, who, ticket_id)
    with pytest.raises(Forbidden):
        await desk.spam_view(svc, customer)
    with pytest.raises(ValidationFailed):
        await desk.mark_spam(svc, agent, ticket_id, "everyone")
    with pytest.raises(ValidationFailed) as refused:
        await desk.mark_spam(svc, agent, free_ticket, "domain")
    assert refused.value.code == "free_mail_domain"
    with pytest.raises(NotFound):
        await desk.mark_spam(svc, agent, free_ticket + 1000, "sender")
    assert await queued_ids(svc) == {ticket_id, free_ticket}  # nothing half done
    await desk.mark_spam(svc, agent, free_ticket, "sender")
    assert await blocks(svc) == {"joe@gmail.com": f"ticket #{free_ticket} marked as spam"}


# -- spam mails --------------------------------------------------------------------------------


async def test_a_spam_mail_is_released_once_and_becomes_a_ticket(svc: Services) -> None:
    agent = await person(svc, Role.AGENT, "agent@example.com")
    readonly = await person(svc, Role.READ_ONLY, "ro@example.com")
    customer = await person(svc, Role.CUSTOMER, "ann@acme.example", await company(svc))
    spam = await add_inbound(svc, 1, status=InboundStatus.SPAM)
    other = await add_inbound(svc, 2, status=InboundStatus.SPAM)
    normal = await add_inbound(svc, 3)
    assert [m.id for m in (await desk.spam_view(svc, readonly)).mails] == [other, spam]

    with pytest.raises(Forbidden):
        await desk.release_mail(svc, readonly, spam)
    released = await desk.release_mail(svc, agent, spam)
    assert (released.id, released.decided_by_id, released.decided_at) == (spam, agent.user_id,
                                                                           svc.clock.now().isoformat())
    # The intake ran again on the stored original: a ticket of its sender, out of the view.
    assert released.status == "ticket" and released.conversation_id is not None
    assert released.reason.startswith("released by staff")
    ticket = await tickets.get_ticket(svc, agent, released.conversation_id)
    assert (ticket["requester"]["id"], ticket["channel"], ticket["subject"]) == (customer.user_id, "email", "Mail 1")
    assert [m.id for m in (await desk.spam_view(svc, agent)).mails] == [other]
    for mail_id in (spam, normal):
        with pytest.raises(Conflict) as refused:
            await desk.release_mail(svc, agent, mail_id)
        assert refused.value.code == "already_decided"
    with pytest.raises(NotFound):
        await desk.release_mail(svc, agent, normal + 100)


# -- the block list ----------------------------------------------------------------------------


async def test_block_list_crud(svc: Services, clock: ManualClock) -> None:
    admin = await person(svc, Role.SUPPORT_ADMIN, "admin@example.com")
    agent = await person(svc, Role.AGENT, "agent@example.com")
    added = await desk.add_block(svc, admin, " @Spam.Example ", "a spam run")
    assert (added.pattern, added.reason, added.created_by_id) == ("@spam.example", "a spam run", admin.user_id)
    clock.advance(timedelta(seconds=1))
    await desk.add_block(svc, admin, "bot@other.example")
    assert [b.pattern for b in await desk.list_blocks(svc, agent)] == ["bot@other.example", "@spam.example"]
    with pytest.raises(Conflict) as twice:
        await desk.add_block(svc, admin, "@SPAM.example")
    assert twice.value.code == "already_blocked"
    for bad in ("spam.example", "@", "x@y"):
        with pytest.raises(ValidationFailed):
            await desk.add_block(svc, admin, bad)
    with pytest.raises(ValidationFailed):
        await desk.add_block(svc, admin, "a@b.example", "x" * 501)
    with pytest.raises(Forbidden):
        await desk.add_block(svc, agent, "a@b.example")
    with pytest.raises(Forbidden):
        await desk.remove_block(svc, agent, "@spam.example")

    await desk.remove_block(svc, admin, "@Spam.example")
    assert await blocks(svc) == {"bot@other.example": ""}
    with pytest.raises(NotFound) as gone:
        await desk.remove_block(svc, admin, "@spam.example")
    assert gone.value.code == "block_not_found"

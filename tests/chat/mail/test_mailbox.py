"""The support admins' "Sent mail" and suppression list (chat.mail.mailbox), on SQLite and
PostgreSQL, with outbox rows holding real RFC 5322 messages."""

from __future__ import annotations

from datetime import datetime, timedelta
from email.message import EmailMessage

import pytest
from sqlalchemy import select

from chat import directory
from chat.auth import principal_of
from chat.authz import Principal
from chat.errors import Forbidden, NotFound, ValidationFailed
from chat.mail import mailbox
from chat.mail.models import MailStatus, MailSuppression, OutboxMail
from chat.models import OrgKind, Role
from chat.services import Services


def raw_message(to: str, subject: str, text: str, html: str, message_id: str) -> bytes:
    msg = EmailMessage()
    msg["From"] = "Support <support@example.com>"
    msg["To"] = to
    msg["Subject"] = subject
    msg["Message-ID"] = message_id
    msg.set_content(text)
    msg.add_alternative(html, subtype="html")
    return bytes(msg)


async def add_mail(svc: Services, n: int, *, to: str = "cu@example.com", kind: str = "support_reply",
                   status: MailStatus = MailStatus.SENT, transport: str | None = "devbox") -> int:
    now: datetime = svc.clock.now() + timedelta(seconds=n)
    message_id = f"<m{n}@example.com>"
    async with svc.sessions.begin() as db:
        row = OutboxMail(
            key=f"test:{n}", kind=kind, to_addr=to, to_user_id=None, conversation_id=None, message_id=message_id,
            subject=f"[#{n}] Hello", raw=raw_message(to, f"[#{n}] Hello", f"Text {n}\n", f"<p>HTML <b>{n}</b></p>",
                                                     message_id),
            context={}, status=status, attempts=1, due_at=now, claimed_until=None, last_error=None,
            transport=transport if status is MailStatus.SENT else None, created_at=now, updated_at=now,
            sent_at=now if status is MailStatus.SENT else None,
        )
        db.add(row)
        await db.flush()
        return row.id


async def person(svc: Services, role: Role, email: str) -> Principal:
    org_id = None
    if role is Role.CUSTOMER:
        org_id = (await directory.create_organization(svc, None, name="Acme", kind=OrgKind.CUSTOMER)).organization.id
    return principal_of(await directory.create_user(svc, None, email=email, role=role, organization=org_id))


async def test_list_filters_and_pages_newest_first(svc: Services) -> None:
    admin = await person(svc, Role.SUPPORT_ADMIN, "admin@example.com")
    ids = [await add_mail(svc, n) for n in range(1, 6)]
    failed = await add_mail(svc, 6, to="bounce@example.org", kind="ticket_closed", status=MailStatus.FAILED)

    first = await mailbox.list_outbox(svc, admin, limit=4)
    assert [m.id for m in first.mails] == [failed, ids[4], ids[3], ids[2]]
    assert first.transport == "devbox"
    assert first.next_before_id == ids[2]
    rest = await mailbox.list_outbox(svc, admin, limit=4, before_id=first.next_before_id)
    assert [m.id for m in rest.mails] == [ids[1], ids[0]] and rest.next_before_id is None

    only_failed = await mailbox.list_outbox(svc, admin, status="failed")
    assert [(m.id, m.to, m.kind, m.status, m.sent_at) for m in only_failed.mails] == [
        (failed, "bounce@example.org", "ticket_closed", "failed", None)]
    assert [m.id for m in (await mailbox.list_outbox(svc, admin, to=" BOUNCE@example.org ")).mails] == [failed]
    assert [m.id for m in (await mailbox.list_outbox(svc, admin, kind="support_reply")).mails] == ids[::-1]

    for bad in ({"status": "lost"}, {"kind": "spam"}, {"limit": 0}, {"limit": 201}, {"before_id": 2**63}):
        with pytest.raises(ValidationFailed):
            await mailbox.list_outbox(svc, admin, **bad)  # type: ignore[arg-type]


async def test_open_one_as_the_recipient_sees_it(svc: Services) -> None:
    admin = await person(svc, Role.SUPPORT_ADMIN, "admin@example.com")
    mail_id = await add_mail(svc, 7)
    opened = await mailbox.open_mail(svc, admin, mail_id)
    assert opened.mail.subject == "[#7] Hello"
    assert opened.message_id == "<m7@example.com>"
    assert opened.text == "Text 7\n"
    assert opened.html == "<p>HTML <b>7</b></p>\n"
    assert not opened.redacted
    names = [h.name for h in opened.headers]
    assert names[:4] == ["From", "To", "Subject", "Message-ID"]
    assert {h.name: h.value for h in opened.headers}["To"] == "cu@example.com"
    with pytest.raises(NotFound):
        await mailbox.open_mail(svc, admin, mail_id + 100)


async def test_a_really_sent_account_mail_is_withheld(svc: Services) -> None:
    admin = await person(svc, Role.SUPPORT_ADMIN, "admin@example.com")
    smtp_reset = await add_mail(svc, 8, kind="password_reset", transport="smtp")
    devbox_reset = await add_mail(svc, 9, kind="password_reset", transport="devbox")
    withheld = await mailbox.open_mail(svc, admin, smtp_reset)
    assert (withheld.redacted, withheld.text, withheld.html) == (True, None, None)
    shown = await mailbox.open_mail(svc, admin, devbox_reset)
    assert (shown.redacted, shown.text) == (False, "Text 9\n")


async def test_suppressions_list_and_clear(svc: Services) -> None:
    admin = await person(svc, Role.SUPPORT_ADMIN, "admin@example.com")
    mail_id = await add_mail(svc, 10, to="gone@example.org", status=MailStatus.FAILED)
    now = svc.clock.now()
    async with svc.sessions.begin() as db:
        db.add(MailSuppression(address="gone@example.org", reason="550 no such user", mail_id=mail_id, created_at=now))
        db.add(MailSuppression(address="later@example.org", reason="unsubscribed", mail_id=None,
                               created_at=now + timedelta(minutes=1)))
    listed = await mailbox.list_suppressions(svc, admin)
    assert [(s.address, s.reason, s.mail_id) for s in listed] == [
        ("later@example.org", "unsubscribed", None), ("gone@example.org", "550 no such user", mail_id)]
    await mailbox.clear_suppression(svc, admin, "GONE@example.org")
    with pytest.raises(NotFound):
        await mailbox.clear_suppression(svc, admin, "gone@example.org")
    with pytest.raises(NotFound):
        await mailbox.clear_suppression(svc, admin, "x" * 400)
    async with svc.sessions() as db:
        assert list(await db.scalars(select(MailSuppression.address))) == ["later@example.org"]


@pytest.mark.parametrize("role", [Role.AGENT, Role.READ_ONLY, Role.CUSTOMER])
async def test_only_support_admins(svc: Services, role: Role) -> None:
    who = await person(svc, role, "someone@example.com")
    mail_id = await add_mail(svc, 11)
    async with svc.sessions.begin() as db:
        db.add(MailSuppression(address="s@example.org", reason="x", mail_id=None, created_at=svc.clock.now()))
    with pytest.raises(Forbidden):
        await mailbox.list_outbox(svc, who)
    with pytest.raises(Forbidden):
        await mailbox.open_mail(svc, who, mail_id)
    with pytest.raises(Forbidden):
        await mailbox.list_suppressions(svc, who)
    with pytest.raises(Forbidden):
        await mailbox.clear_suppression(svc, who, "s@example.org")
    async with svc.sessions() as db:
        assert list(await db.scalars(select(MailSuppression.address))) == ["s@example.org"]

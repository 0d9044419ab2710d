"""Outbox rows written straight into the table, as the queue would (tests of the sender
do not depend on how a mail was composed)."""

from __future__ import annotations

from datetime import datetime
from email.message import EmailMessage
from email.utils import make_msgid

from sqlalchemy import select

from chat.mail.models import MailStatus, OutboxMail
from chat.services import Services


async def queue_rows(svc: Services, count: int, *, to: str = "ann@customer.example", at: datetime | None = None,
                     due: datetime | None = None, prefix: str = "t") -> list[int]:
    """``count`` pending mails to ``to`` (``{n}-`` prefixed when ``to`` has ``{n}``)."""
    now = at or svc.clock.now()
    ids = []
    async with svc.sessions() as db, db.begin():
        rows = []
        for n in range(count):
            address = to.format(n=n)
            message_id = make_msgid(idstring=f"{prefix}{n}", domain="ours.example")
            msg = EmailMessage()
            msg["From"] = "Support <support@ours.example>"
            msg["To"] = address
            msg["Subject"] = f"[#{n}] Printer on fire"
            msg["Message-ID"] = message_id
            msg.set_content(f"Mail {prefix}{n}\n")
            rows.append(OutboxMail(
                key=f"{prefix}:{n}", kind="ticket_opened", to_addr=address, message_id=message_id,
                subject=str(msg["Subject"]), raw=msg.as_bytes(), context={}, status=MailStatus.PENDING,
                attempts=0, due_at=due or now, created_at=now, updated_at=now,
            ))
        db.add_all(rows)
        await db.flush()
        ids = [r.id for r in rows]
    return ids


async def rows(svc: Services) -> list[OutboxMail]:
    async with svc.reads() as db:
        return list((await db.scalars(select(OutboxMail).order_by(OutboxMail.id))).all())

"""The console's "Sent mail" and "Suppressed addresses": what the outbox holds (on the
embedded default, the development mailbox: every mail that would have gone out) and the
addresses nothing more is sent to. Support admins only (:data:`chat.authz.Action`).

Reads go through ``svc.reads``; clearing a suppression is one transaction. The
suppression queries are the outbox's own (:mod:`chat.mail.outbox`).
"""

from __future__ import annotations

import email
import email.policy
from email.message import EmailMessage, Message

from sqlalchemy import select
from sqlalchemy.orm import defer

from chat.authz import Action, Principal, require
from chat.errors import NotFound, ValidationFailed
from chat.mail import links, outbox
from chat.mail.kinds import KINDS, MailKind
from chat.mail.models import MailStatus, MailSuppression, OutboxMail
from chat.services import Services
from chat.tokens import Purpose
from chat.wire import View, iso

# A page of the list: enough for a screen, small enough that the raw messages (not loaded
# for the list) never matter.
PAGE_DEFAULT = 50
PAGE_MAX = 200
# Ids are BIGINT on PostgreSQL; a larger one from a client would fail in the driver.
MAX_ID = 2**63 - 1
# A screen's worth; a longer list means a wider problem (a dead domain) to fix at its source.
SUPPRESSIONS_SHOWN = 1000
# Addresses are at most 320 characters (RFC 5321 local part 64 + @ + domain 255).
MAX_ADDRESS = 320


class OutboxMailView(View, frozen=True, kw_only=True):
    id: int
    kind: str
    to: str
    subject: str
    status: str
    attempts: int
    due_at: str
    sent_at: str | None
    last_error: str | None
    transport: str | None
    conversation_id: int | None
    created_at: str

    @classmethod
    def of(cls, row: OutboxMail) -> OutboxMailView:
        return cls(
            id=row.id, kind=row.kind, to=row.to_addr, subject=row.subject, status=row.status.value,
            attempts=row.attempts, due_at=iso(row.due_at), sent_at=iso(row.sent_at), last_error=row.last_error,
            transport=row.transport, conversation_id=row.conversation_id, created_at=iso(row.created_at),
        )


class OutboxPageView(View, frozen=True, kw_only=True):
    mails: list[OutboxMailView]
    next_before_id: int | None
    """Pass as ``before_id`` for the next (older) page; ``None`` on the last page."""
    transport: str
    """The process's mail transport: ``"devbox"`` means mails are kept here, not sent."""


class HeaderView(View, frozen=True, kw_only=True):
    name: str
    value: str


class OpenedMailView(View, frozen=True, kw_only=True):
    """One mail as its recipient sees it: the row, every header, the text and HTML parts."""

    mail: OutboxMailView
    message_id: str
    headers: list[HeaderView]
    text: str | None
    html: str | None
    html_url: str | None
    """The HTML part on its own page (``GET /mail/view``, valid 5 minutes) with a policy
    that lets its inline styles apply and nothing run: what the console frames."""
    redacted: bool
    """The body is withheld: an account mail (password reset, invitation) really sent by
    SMTP, whose link belongs to its recipient alone."""


class SuppressionView(View, frozen=True, kw_only=True):
    address: str
    reason: str
    mail_id: int | None
    created_at: str

    @classmethod
    def of(cls, row: MailSuppression) -> SuppressionView:
        return cls(address=row.address, reason=row.reason, mail_id=row.mail_id, created_at=iso(row.created_at))


def _status(raw: str | None) -> MailStatus | None:
    if raw is None or raw == "":
        return None
    try:
        return MailStatus(raw)
    except ValueError:
        raise ValidationFailed(f"status: {raw!r} is not one of {', '.join(s.value for s in MailStatus)}") from None


def _kind(raw: str | None) -> str | None:
    if raw is None or raw == "":
        return None
    try:
        return MailKind(raw).value
    except ValueError:
        raise ValidationFailed(f"kind: {raw!r} is not a kind of mail") from None


def bounded_id(value: int | None, name: str) -> int | None:
    """An id from a client, checked against the storage's range before it reaches SQL."""
    if value is not None and not 1 <= value <= MAX_ID:
        raise ValidationFailed(f"{name} must be between 1 and {MAX_ID}")
    return value


async def list_outbox(
    svc: Services,
    actor: Principal,
    *,
    status: str | None = None,
    to: str | None = None,
    kind: str | None = None,
    before_id: int | None = None,
    limit: int = PAGE_DEFAULT,
) -> OutboxPageView:
    """Outbox mails, newest first, filtered by status, kind and recipient (exact address,
    case-insensitive); keyset pages by ``before_id``. 422 for an unknown status or kind,
    a limit outside 1..200 or an id out of range."""
    require(actor, Action.VIEW_SENT_MAIL)
    wanted_status, wanted_kind = _status(status), _kind(kind)
    bounded_id(before_id, "before_id")
    if not 1 <= limit <= PAGE_MAX:
        raise ValidationFailed(f"limit must be between 1 and {PAGE_MAX}")
    # The raw message is not needed for the list; it can be tens of kilobytes a row.
    query = select(OutboxMail).options(defer(OutboxMail.raw)).order_by(OutboxMail.id.desc()).limit(limit + 1)
    if wanted_status is not None:
        query = query.where(OutboxMail.status == wanted_status)
    if wanted_kind is not None:
        query = query.where(OutboxMail.kind == wanted_kind)
    if to:
        query = query.where(OutboxMail.to_addr == to.strip().lower()[:MAX_ADDRESS])
    if before_id is not None:
        query = query.where(OutboxMail.id < before_id)
    async with svc.reads() as db:
        rows = list(await db.scalars(query))
    more = len(rows) > limit
    rows = rows[:limit]
    return OutboxPageView(
        mails=[OutboxMailView.of(r) for r in rows],
        next_before_id=rows[-1].id if more and rows else None,
        transport=svc.mail.name,
    )


def body_part(message: Message, subtype: str) -> str | None:
    """The ``text/<subtype>`` body of a parsed mail as text; None when it has none or it
    cannot be decoded (a mail from outside may be anything)."""
    if not isinstance(message, EmailMessage):
        return None
    try:
        part = message.get_body(preferencelist=(subtype,))
        content = part.get_content() if isinstance(part, EmailMessage) else None
    except Exception:  # noqa: BLE001 - a part that cannot be decoded is left out, not an error
        return None
    return content if isinstance(content, str) else None


async def open_mail(svc: Services, actor: Principal, mail_id: int) -> OpenedMailView:
    """One outbox mail parsed as its recipient's mail client would (``policy.default``):
    headers in order, the text part, the HTML part. 404 for an unknown id."""
    require(actor, Action.VIEW_SENT_MAIL)
    bounded_id(mail_id, "mail_id")
    async with svc.reads() as db:
        row = await db.get(OutboxMail, mail_id)
    if row is None:
        raise NotFound(f"no mail {mail_id}", code="mail_not_found")
    message = email.message_from_bytes(row.raw, policy=email.policy.default)
    redacted = _redacted(row)
    html = None if redacted else body_part(message, "html")
    headers = [HeaderView(name=name, value=str(value)) for name, value in message.items()]
    return OpenedMailView(
        mail=OutboxMailView.of(row),
        message_id=row.message_id,
        headers=headers,
        text=None if redacted else body_part(message, "plain"),
        html=html,
        html_url=None if html is None else links.path(
            Purpose.MAIL_VIEW, links.mint(svc.tokens, Purpose.MAIL_VIEW, {"m": row.id})),
        redacted=redacted,
    )


def _redacted(row: OutboxMail) -> bool:
    try:
        essential = KINDS[MailKind(row.kind)].essential
    except ValueError:
        essential = False
    # In the development mailbox nothing was sent, so its links reach nobody else; a real
    # account mail's link is its recipient's key to the account.
    return essential and row.transport not in (None, "devbox")


async def mail_html(svc: Services, token: str) -> str:
    """The HTML part of the mail a ``/mail/view`` link names (minted by :func:`open_mail`
    for a support admin, 5 minutes); raises ``InvalidToken``/``ExpiredToken``, and
    :class:`NotFound` for a mail gone, withheld or without HTML."""
    payload = links.read(svc.tokens, Purpose.MAIL_VIEW, token)
    mail_id = payload.get("m")
    async with svc.reads() as db:
        row = await db.get(OutboxMail, mail_id) if isinstance(mail_id, int) else None
    if row is None or _redacted(row):
        raise NotFound("no such mail", code="mail_not_found")
    html = body_part(email.message_from_bytes(row.raw, policy=email.policy.default), "html")
    if html is None:
        raise NotFound("this mail has no HTML part", code="mail_not_found")
    return html


async def list_suppressions(svc: Services, actor: Principal) -> list[SuppressionView]:
    """The suppressed addresses, newest first (at most :data:`SUPPRESSIONS_SHOWN`)."""
    require(actor, Action.VIEW_SENT_MAIL)
    async with svc.reads() as db:
        rows = await outbox.list_suppressions(db, limit=SUPPRESSIONS_SHOWN)
        return [SuppressionView.of(r) for r in rows]


async def clear_suppression(svc: Services, actor: Principal, address: str) -> None:
    """Take ``address`` off the suppression list (mail to it is sent again); 404 when it is
    not on it."""
    require(actor, Action.MANAGE_MAIL_SUPPRESSIONS)
    wanted = address.strip().lower()
    if not wanted or len(wanted) > MAX_ADDRESS:
        raise NotFound("no such suppressed address", code="suppression_not_found")
    async with svc.sessions.begin() as db:
        if not await outbox.clear_suppression(db, wanted):
            raise NotFound(f"{wanted} is not suppressed", code="suppression_not_found")

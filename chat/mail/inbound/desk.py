"""The staff side of e-mail in (issue 16): the received-mail log, the Spam view, marking a
ticket as spam (and "not spam"), releasing a spam mail, and the sender block list.

Who may do what is :mod:`chat.authz`'s: staff read (read-only too), agents and support
admins decide spam, support admins edit the block list. Every change is one transaction;
a ticket's goes through its unit of work (:func:`escalation.steps.run_and_render`), so
the change is an internal history event in the conversation and the staff inbox rings
(the ticket leaves or re-enters the queues at once).

What a mark added to the block list travels in that event (``data.blocked``), so "not
spam" removes exactly that entry and never one an admin or another mark had made.
"""

from __future__ import annotations

import email
import email.policy
import enum
from collections.abc import Awaitable, Callable, Iterable
from datetime import datetime
from email.message import Message

import nh3
from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import defer

from chat import validation
from chat.authz import Action, Principal, require
from chat.desk.queues import spam_tickets
from chat.desk.scope import search_scope
from chat.errors import Conflict, NotFound, ValidationFailed
from chat.events import EventKind
from chat.mail.inbound.receive import release_mail as release
from chat.mail.inbound.senders import is_free_mail
from chat.mail.mailbox import body_part, bounded_id
from chat.mail.models import InboundMail, InboundStatus, MailBlock
from chat.models import Event, User
from chat.services import Services
from chat.wire import View, iso
from escalation.access import require_on_ticket
from escalation.steps import actor_user, run_and_render
from escalation.unit_of_work import Work

# A page of the log: a screen's worth; the stored originals are not loaded for it.
PAGE_DEFAULT = 50
PAGE_MAX = 200
# Ids are BIGINT on PostgreSQL; a larger one from a client would fail in the driver.
# Spam piles up; the view is for deciding the recent ones, older ones are in the log.
SPAM_SHOWN = 200
# A screen's worth; a longer list is better solved by blocking domains.
BLOCKS_SHOWN = 1000
MAX_PATTERN = 320  # an address: RFC 5321 local part 64 + @ + domain 255
MAX_REASON = 500  # mail_blocklist.reason

SPAM_EVENT = "ticket.spam"
NOT_SPAM_EVENT = "ticket.not_spam"


class BlockChoice(enum.StrEnum):
    """What marking a ticket as spam adds to the block list."""

    SENDER = "sender"  # the requester's address
    DOMAIN = "domain"  # every address at the requester's domain
    NONE = "none"


# -- pure rules --------------------------------------------------------------------------------


def block_pattern(raw: str) -> str:
    """A block-list pattern as stored: an address (``ann@x.com``) or a domain with its
    ``@`` (``@x.com``), lower-cased; 422 for anything else."""
    if not isinstance(raw, str):
        raise ValidationFailed("pattern must be a string")
    text = raw.strip().lower()
    if len(text) > MAX_PATTERN:
        raise ValidationFailed(f"pattern must be at most {MAX_PATTERN} characters")
    if text.startswith("@"):
        return "@" + validation.domain(text[1:], "pattern")
    return validation.email(text, "pattern")


def pattern_for(address: str | None, choice: BlockChoice, free_domains: Iterable[str] = ()) -> str | None:
    """What ``choice`` blocks for a requester at ``address``; ``None`` for nothing. 422
    ``no_address`` when there is no address to block, ``free_mail_domain`` for a domain
    anybody can get an address at (:func:`chat.mail.inbound.senders.is_free_mail`, with
    ``free_domains`` added): blocking it would refuse every customer who writes from it."""
    if choice is BlockChoice.NONE:
        return None
    if not address:
        raise ValidationFailed("the ticket's requester has no e-mail address to block; choose \"none\"",
                               code="no_address")
    sender = block_pattern(address)
    if choice is BlockChoice.SENDER:
        return sender
    domain = sender.rpartition("@")[2]
    if is_free_mail(domain, free_domains):
        raise ValidationFailed(f"{domain} is a free-mail domain: block the sender, not the domain",
                               code="free_mail_domain")
    return "@" + domain


def _status(raw: str | None) -> InboundStatus | None:
    if raw is None or raw == "":
        return None
    try:
        return InboundStatus(raw)
    except ValueError:
        raise ValidationFailed(f"status: {raw!r} is not one of {', '.join(s.value for s in InboundStatus)}") from None


# -- views -------------------------------------------------------------------------------------


class InboundMailView(View, frozen=True, kw_only=True):
    """One received mail as the log lists it (the original is not included)."""

    id: int
    mailbox: str
    message_id: str | None
    sender: str
    subject: str
    status: str
    reason: str
    conversation_id: int | None
    size: int
    received_at: str
    decided_by_id: int | None
    decided_at: str | None

    @classmethod
    def of(cls, row: InboundMail) -> InboundMailView:
        return cls(
            id=row.id, mailbox=row.mailbox, message_id=row.message_id, sender=row.sender, subject=row.subject,
            status=row.status.value, reason=row.reason, conversation_id=row.conversation_id, size=row.size,
            received_at=iso(row.received_at), decided_by_id=row.decided_by_id, decided_at=iso(row.decided_at),
        )


class InboundPageView(View, frozen=True, kw_only=True):
    mails: list[InboundMailView]
    next_before_id: int | None
    """Pass as ``before_id`` for the next (older) page; ``None`` on the last page."""


class HeaderView(View, frozen=True, kw_only=True):
    name: str
    value: str


class OpenedInboundView(View, frozen=True, kw_only=True):
    """A received mail's stored original, parsed as a mail client would."""

    mail: InboundMailView
    headers: list[HeaderView]
    text: str | None
    html: str | None
    """The HTML part sanitized (``nh3``: no scripts, styles or event handlers), as markup
    to show as text or in a sandboxed frame, never to insert into a page."""
    truncated: bool
    """Only the first MAIL_IN_KEEP_BYTES of the mail were kept: later parts may be missing."""


class BlockView(View, frozen=True, kw_only=True):
    pattern: str
    reason: str
    created_by_id: int | None
    created_at: str

    @classmethod
    def of(cls, row: MailBlock) -> BlockView:
        return cls(pattern=row.pattern, reason=row.reason, created_by_id=row.created_by_id,
                   created_at=iso(row.created_at))


class SpamView(View, frozen=True, kw_only=True):
    """The Spam view: mails held as spam that nobody decided yet, and tickets marked so."""

    mails: list[InboundMailView]
    tickets: list[dict[str, object]]
    """Queue items (``chat.desk.queues``), with ``spam_at``; most recently marked first."""


# -- the received-mail log ---------------------------------------------------------------------


async def list_received(
    svc: Services,
    actor: Principal,
    *,
    status: str | None = None,
    sender: str | None = None,
    before_id: int | None = None,
    limit: int = PAGE_DEFAULT,
) -> InboundPageView:
    """Received mails, newest first, filtered by status and sender (exact address,
    case-insensitive); keyset pages by ``before_id``. 422 for an unknown status, a limit
    outside 1..200 or an id out of range."""
    require(actor, Action.VIEW_RECEIVED_MAIL)
    wanted = _status(status)
    bounded_id(before_id, "before_id")
    if not 1 <= limit <= PAGE_MAX:
        raise ValidationFailed(f"limit must be between 1 and {PAGE_MAX}")
    query = select(InboundMail).options(defer(InboundMail.raw)).order_by(InboundMail.id.desc()).limit(limit + 1)
    if wanted is not None:
        query = query.where(InboundMail.status == wanted)
    if sender:
        query = query.where(InboundMail.sender == sender.strip().lower()[:MAX_PATTERN])
    if before_id is not None:
        query = query.where(InboundMail.id < before_id)
    async with svc.reads() as db:
        rows = list(await db.scalars(query))
    more = len(rows) > limit
    rows = rows[:limit]
    return InboundPageView(mails=[InboundMailView.of(r) for r in rows],
                           next_before_id=rows[-1].id if more and rows else None)


def _headers(message: Message) -> list[HeaderView]:
    out = []
    for name, raw in message.raw_items():
        try:
            value = str(message.policy.header_fetch_parse(name, raw))
        except Exception:  # noqa: BLE001
            # Mail from outside is hostile input, and the stdlib's header parser has known
            # crashers on it; a header that cannot be decoded is shown as it came.
            value = str(raw)
        out.append(HeaderView(name=name, value=value))
    return out


def parse_original(raw: bytes) -> tuple[list[HeaderView], str | None, str | None]:
    """Headers, text part and sanitized HTML part of a stored original; never raises for
    a malformed mail (what cannot be decoded is left out)."""
    message = email.message_from_bytes(raw, policy=email.policy.default)
    html = body_part(message, "html")
    return _headers(message), body_part(message, "plain"), None if html is None else nh3.clean(html)


async def open_received(svc: Services, actor: Principal, mail_id: int) -> OpenedInboundView:
    """One received mail with its original parsed (``policy.default``): headers in order,
    the text part, the sanitized HTML part. 404 ``mail_not_found`` for an unknown id."""
    require(actor, Action.VIEW_RECEIVED_MAIL)
    bounded_id(mail_id, "mail_id")
    async with svc.reads() as db:
        row = await db.get(InboundMail, mail_id)
    if row is None:
        raise NotFound(f"no received mail {mail_id}", code="mail_not_found")
    headers, text, html = parse_original(row.raw)
    return OpenedInboundView(mail=InboundMailView.of(row), headers=headers, text=text, html=html,
                             truncated=row.size > len(row.raw))


# -- spam --------------------------------------------------------------------------------------


async def spam_view(svc: Services, actor: Principal) -> SpamView:
    """Undecided spam mails (newest first) and spam tickets the actor may see."""
    require(actor, Action.VIEW_RECEIVED_MAIL)
    query = (select(InboundMail).options(defer(InboundMail.raw))
             .where(InboundMail.status == InboundStatus.SPAM, InboundMail.decided_at.is_(None))
             .order_by(InboundMail.id.desc()).limit(SPAM_SHOWN))
    async with svc.reads() as db:
        mails = [InboundMailView.of(r) for r in await db.scalars(query)]
        tickets = await spam_tickets(db, search_scope(actor), SPAM_SHOWN)
    return SpamView(mails=mails, tickets=tickets)


async def _requester_address(work: Work) -> str | None:
    t = work.ticket
    requester = await work.db.get(User, t.requester_id) if t.requester_id else None
    return (requester.email if requester is not None else None) or t.contact_email


async def mark_spam(svc: Services, actor: Principal, ticket_id: int, block: str) -> dict[str, object]:
    """Mark a ticket as spam: ``spam_at`` is set (it leaves every queue; nothing else about
    it changes) and, per ``block``, the requester's address or ``@domain`` goes on the
    block list (already there: left as it is). Returns the ticket as the actor sees it.
    409 ``already_spam``; 422 for an unknown choice, ``no_address``, ``free_mail_domain``."""
    bounded_id(ticket_id, "ticket_id")
    try:
        choice = BlockChoice(block)
    except ValueError:
        raise ValidationFailed(f"block must be one of {', '.join(c.value for c in BlockChoice)}") from None
    require(actor, Action.DECIDE_SPAM)
    free = svc.settings.mail_in_free_domains

    async def change(work: Work) -> None:
        await require_on_ticket(work.db, actor, work.conv, work.ticket, Action.WORK_TICKET)
        if work.ticket.spam_at is not None:
            raise Conflict("this ticket is already marked as spam", code="already_spam")
        pattern = pattern_for(await _requester_address(work), choice, free)
        added = None
        if pattern is not None and await work.db.get(MailBlock, pattern) is None:
            work.db.add(MailBlock(pattern=pattern, reason=f"ticket #{work.ticket.conversation_id} marked as spam",
                                  created_by_id=actor.user_id, created_at=work.now))
            added = pattern
        work.ticket.spam_at = work.now
        await work.append(SPAM_EVENT, await actor_user(work, actor), internal=True,
                          data={"block": choice.value, "blocked": added})

    return await _run(svc, ticket_id, change, actor)


async def _last_mark(work: Work) -> dict[str, object]:
    """The data of the ticket's latest spam mark (what it added to the block list)."""
    data = await work.db.scalar(
        select(Event.data)
        .where(Event.conversation_id == work.conv.id, Event.type == EventKind.SYSTEM.value,
               Event.data["event"].as_string() == SPAM_EVENT)
        .order_by(Event.seq.desc()).limit(1)
    )
    return dict(data) if isinstance(data, dict) else {}


async def unmark_spam(svc: Services, actor: Principal, ticket_id: int) -> dict[str, object]:
    """"Not spam": clear ``spam_at`` (the ticket is back in its queue) and take off the
    block list the entry its mark added, if that is still there. 409 ``not_spam``."""
    bounded_id(ticket_id, "ticket_id")
    require(actor, Action.DECIDE_SPAM)

    async def change(work: Work) -> None:
        await require_on_ticket(work.db, actor, work.conv, work.ticket, Action.WORK_TICKET)
        if work.ticket.spam_at is None:
            raise Conflict("this ticket is not marked as spam", code="not_spam")
        blocked = (await _last_mark(work)).get("blocked")
        removed = None
        if isinstance(blocked, str):
            gone = await work.db.execute(delete(MailBlock).where(MailBlock.pattern == blocked))
            removed = blocked if getattr(gone, "rowcount", 0) else None
        work.ticket.spam_at = None
        await work.append(NOT_SPAM_EVENT, await actor_user(work, actor), internal=True, data={"unblocked": removed})

    return await _run(svc, ticket_id, change, actor)


async def _run(svc: Services, ticket_id: int, change: Callable[[Work], Awaitable[None]],
               actor: Principal) -> dict[str, object]:
    try:
        return await run_and_render(svc, ticket_id, change, actor)
    except IntegrityError:
        # The same pattern added by someone else between our look and our commit.
        raise Conflict("the block list changed meanwhile; try again", code="retry") from None


async def release_mail(svc: Services, actor: Principal, mail_id: int) -> InboundMailView:
    """"Not spam" for a mail the intake held as spam (or held for staff): the intake runs
    again on it without the spam checks (:func:`chat.mail.inbound.receive.release_mail`),
    and the row shows what it became and who decided. 404 ``mail_not_found``; 409
    ``already_decided``."""
    require(actor, Action.DECIDE_SPAM)
    bounded_id(mail_id, "mail_id")
    await release(svc, mail_id, decided_by=actor.user_id)
    async with svc.reads() as db:
        row = await db.get(InboundMail, mail_id)
        assert row is not None
        return InboundMailView.of(row)


# -- the block list ----------------------------------------------------------------------------


async def list_blocks(svc: Services, actor: Principal) -> list[BlockView]:
    """The block list, newest first (at most :data:`BLOCKS_SHOWN`)."""
    require(actor, Action.VIEW_RECEIVED_MAIL)
    async with svc.reads() as db:
        rows = await db.scalars(select(MailBlock).order_by(MailBlock.created_at.desc(), MailBlock.pattern)
                                .limit(BLOCKS_SHOWN))
        return [BlockView.of(r) for r in rows]


async def add_block(svc: Services, actor: Principal, pattern: str, reason: str = "") -> BlockView:
    """Block an address or a whole ``@domain``. 422 for a pattern that is neither (or a
    reason over 500 characters); 409 ``already_blocked``."""
    require(actor, Action.MANAGE_MAIL_BLOCKLIST)
    clean = block_pattern(pattern)
    why = validation.text(reason, "reason", max_length=MAX_REASON, required=False)
    now: datetime = svc.clock.now()
    try:
        async with svc.sessions.begin() as db:
            if await db.get(MailBlock, clean) is not None:
                raise Conflict(f"{clean} is already blocked", code="already_blocked")
            row = MailBlock(pattern=clean, reason=why, created_by_id=actor.user_id, created_at=now)
            db.add(row)
            await db.flush()
            view = BlockView.of(row)
    except IntegrityError:
        raise Conflict(f"{clean} is already blocked", code="already_blocked") from None
    return view


async def remove_block(svc: Services, actor: Principal, pattern: str) -> None:
    """Unblock; 404 ``block_not_found`` when the pattern is not on the list."""
    require(actor, Action.MANAGE_MAIL_BLOCKLIST)
    wanted = pattern.strip().lower()
    if not wanted or len(wanted) > MAX_PATTERN:
        raise NotFound("no such block", code="block_not_found")
    async with svc.sessions.begin() as db:
        gone = await db.execute(delete(MailBlock).where(MailBlock.pattern == wanted))
        if not getattr(gone, "rowcount", 0):
            raise NotFound(f"{wanted} is not blocked", code="block_not_found")

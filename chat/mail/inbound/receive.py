"""The e-mail intake's one use case: a received mail becomes a ticket, a reply, or a
recorded refusal — in one transaction with its ``mail_inbound`` row (issue 16).

Decisions, in order (each later one only if no earlier one applied):

1. not a usable mail at all (:class:`MalformedMail`)            -> ``refused``
2. one of our own mails come back (our signed Message-ID, or From is ``MAIL_FROM``) -> ``ours``
3. a delivery report: matched to the outbox mail it bounces; a permanent failure puts
   that mail's address on the suppression list                  -> ``bounce``
4. an automatic mail (auto-reply, bulk, list, mailer-daemon)    -> ``loop``
5. flagged by the upstream filter, or a blocked sender/domain   -> ``spam``
6. who wrote: a known user (disabled or staff: refused); a company by its domain (a new
   customer user, or held: ``MAIL_IN_COMPANY_SENDER``); else an unidentified requester
   (``MAIL_IN_UNKNOWN_SENDER``: a ticket in New, or refused)
7. threading (:mod:`chat.mail.inbound.threads`): the first candidate ticket the sender may
   write in gets the reply (a closed one gets a new ticket linked to it); otherwise a
   new ticket — at most ``MAIL_IN_TICKETS_PER_HOUR`` per sender, beyond that held.

Nothing a sender sends makes this raise: the worst is a ``refused`` row with a reason an
admin reads. Only storage trouble escapes, as :class:`MailStoreUnavailable`, so that the
SMTP receiver answers 4xx and the mail comes again.
"""

from __future__ import annotations

import asyncio
import logging
import re
import secrets
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.exc import DBAPIError, IntegrityError, InterfaceError, OperationalError
from sqlalchemy.ext.asyncio import AsyncSession

from chat.attachments import MAGIC_BYTES, MAX_PER_MESSAGE, check_upload, upload_dir
from chat.errors import AppError, Conflict, NotFound
from chat.events import EventKind, append_event, event_json, place_attachments
from chat.mail.compose import MailIdentity, ticket_of_address, ticket_of_message_id
from chat.mail.inbound.message import InboundFile, MalformedMail, ParsedMail
from chat.mail.inbound.parse import REPLY_MARKER, message_key, parse
from chat.mail.inbound.senders import block_patterns, domain_of, is_free_mail, normalize
from chat.mail.inbound.threads import Readers, TicketPeople, candidates, may_continue
from chat.mail.models import InboundMail, InboundStatus, MailBlock, OutboxMail
from chat.mail.outbox import suppress
from chat.mail.queue import identity_of
from chat.models import (
    STAFF_ROLES,
    Attachment,
    Conversation,
    ConversationStatus,
    OrganizationDomain,
    Participant,
    Role,
    User,
)
from chat.secrets_mask import mask_secrets
from chat.services import Services
from escalation.chat_reads import lock_conversation
from escalation.intake import open_ticket_in
from escalation.lifecycle import TicketStatus
from escalation.models import Ticket, TicketChannel
from escalation.unit_of_work import Work, begin_work, catch_up, finish_work, publish_work

log = logging.getLogger(__name__)

SUBJECT_MAX = 300  # a ticket's subject (escalation.intake checks the same)
NO_SUBJECT = "(no subject)"
RATE_WINDOW = timedelta(hours=1)
_OUR_PLAIN_ID = re.compile(r"m\.[0-9a-f]{32}")  # compose's Message-ID of a mail without ticket


class MailStoreUnavailable(Exception):
    """The database (or the upload store) could not take the mail: nothing was stored.
    The SMTP receiver answers 4xx and the sending server tries again; the IMAP poller
    leaves the mail unflagged for its next pass."""


@dataclass(frozen=True)
class Receipt:
    """What became of one received mail."""

    status: InboundStatus
    reason: str
    """One line for the received-mail log (why refused, how threaded, files skipped)."""
    conversation_id: int | None
    """The ticket opened or continued; None for every other status."""
    inbound_id: int
    duplicate: bool
    """The same mail (mailbox and message key) was stored before: this is its receipt,
    and nothing changed."""


@dataclass
class _Outcome:
    status: InboundStatus
    reason: str
    work: Work | None = None
    notes: list[str] = field(default_factory=list)


@dataclass
class _Files:
    """Files written to the upload store during one mail's transaction: removed again
    when it does not commit, so a failed mail leaves no orphan on disk."""

    written: list[Path] = field(default_factory=list)

    async def discard(self) -> None:
        for path in self.written:
            await asyncio.to_thread(path.unlink, missing_ok=True)


async def receive_mail(svc: Services, raw: bytes, *, mailbox: str, recipients: Sequence[str] = ()) -> Receipt:
    """Parse and store one received mail (SMTP ``DATA`` or an IMAP ``FETCH``); see the
    module's docstring for what it becomes. ``mailbox``: ``"smtp"`` or the IMAP folder's
    name; ``recipients``: the envelope's ``RCPT TO`` (they may carry a ``+token``).

    Idempotent on ``(mailbox, message key)``: a second delivery returns the first's
    receipt with ``duplicate=True``. Raises only :class:`MailStoreUnavailable`."""
    try:
        parsed: ParsedMail | MalformedMail = parse(raw, max_file_bytes=svc.settings.max_upload_bytes)
    except MalformedMail as exc:
        parsed = exc
    message_id = parsed.message_id if isinstance(parsed, ParsedMail) else None
    return await receive_parsed(svc, raw, parsed, key=message_key(raw, message_id), mailbox=mailbox,
                                recipients=recipients)


async def receive_parsed(
    svc: Services, raw: bytes, parsed: ParsedMail | MalformedMail, *, key: str, mailbox: str,
    recipients: Sequence[str] = (),
) -> Receipt:
    """:func:`receive_mail` after parsing: ``parsed`` is the parser's value or its
    refusal, ``key`` the mail's message key (:func:`chat.mail.inbound.parse.message_key`)."""
    files = _Files()
    try:
        try:
            receipt, outcome = await _store(svc, raw, parsed, key, mailbox, recipients, files)
        except IntegrityError:
            # The same mail (mailbox and message key) was stored before, or two
            # deliveries of it raced: the unique key let one in. Its receipt is ours.
            await files.discard()
            found = await _find(svc, mailbox, key)
            if found is None:
                raise
            return _receipt(found, duplicate=True)
    except (OperationalError, InterfaceError, OSError) as exc:
        await files.discard()
        raise MailStoreUnavailable(f"the mail could not be stored: {type(exc).__name__}") from exc
    except DBAPIError as exc:
        await files.discard()
        # No statement: the error came from opening a connection (a database refusing
        # connections, a server restarting) — the store is away, not the mail at fault.
        if exc.connection_invalidated or exc.statement is None:
            raise MailStoreUnavailable("the database connection was lost or refused") from exc
        raise
    except BaseException:
        await files.discard()
        raise
    if outcome is not None and outcome.work is not None:
        # The unit already did what the after-commit reactions would (the ticket follows
        # its conversation); like a ticket opened over HTTP, assignment is the sweeper's
        # next pass. Running them here doubled the cost of a mail (measured: 32 -> 64 ms).
        await publish_work(svc, outcome.work)
    return receipt


async def release_mail(svc: Services, inbound_id: int, *, decided_by: int) -> Receipt:
    """Staff say a held or spam mail is a real one: the intake runs again on its stored
    original, past the spam flag, the block list, the company hold and the hourly limit,
    and the same row records what it became (who decided, when). Only the kept part of
    the original is used (``MAIL_IN_KEEP_BYTES``). 404 ``mail_not_found``; 409
    ``already_decided`` for a mail that is neither held nor spam, or decided before."""
    async with svc.reads() as db:
        found = await db.get(InboundMail, inbound_id)
        raw = found.raw if found is not None else b""
    if found is None:
        raise NotFound(f"no received mail {inbound_id}", code="mail_not_found")
    try:
        parsed: ParsedMail | MalformedMail = parse(raw, max_file_bytes=svc.settings.max_upload_bytes)
    except MalformedMail as exc:
        parsed = exc
    files = _Files()
    now = svc.clock.now()
    try:
        async with svc.sessions.begin() as db:
            row = await db.get(InboundMail, inbound_id, with_for_update=True)
            if row is None:
                raise NotFound(f"no received mail {inbound_id}", code="mail_not_found")
            if row.status not in (InboundStatus.HELD, InboundStatus.SPAM) or row.decided_at is not None:
                raise Conflict(f"this mail was already decided ({row.status.value})", code="already_decided")
            if isinstance(parsed, MalformedMail):
                outcome = _Outcome(InboundStatus.REFUSED, parsed.reason)
            else:
                outcome = await _decide(svc, db, parsed, row, (), files, released=True)
            row.status = outcome.status
            row.reason = _cut("; ".join(["released by staff", outcome.reason, *outcome.notes]), 500)
            row.conversation_id = outcome.work.conv.id if outcome.work is not None else None
            row.decided_by_id, row.decided_at = decided_by, now
            await db.flush()
            receipt = _receipt(row, duplicate=False)
    except (OperationalError, InterfaceError, OSError) as exc:
        await files.discard()
        raise MailStoreUnavailable(f"the mail could not be stored: {type(exc).__name__}") from exc
    except BaseException:
        await files.discard()
        raise
    if outcome.work is not None:
        await publish_work(svc, outcome.work)
    log.info("mail %s released by user %s: %s (%s)", inbound_id, decided_by, receipt.status.value, receipt.reason)
    return receipt


async def _find(svc: Services, mailbox: str, key: str) -> InboundMail | None:
    async with svc.reads() as db:
        found: InboundMail | None = await db.scalar(
            select(InboundMail).where(InboundMail.mailbox == mailbox, InboundMail.message_key == key))
        return found


async def _mail_id(db: AsyncSession, row: InboundMail) -> int:
    """The received mail's id, for the message it becomes: the row is inserted now if it
    was not (the unique key answers here for a mail stored before)."""
    if row.id is None:
        db.add(row)
        await db.flush()
    return row.id


def _receipt(row: InboundMail, *, duplicate: bool) -> Receipt:
    return Receipt(status=row.status, reason=row.reason, conversation_id=row.conversation_id, inbound_id=row.id,
                   duplicate=duplicate)


def _cut(value: str, limit: int) -> str:
    return value if len(value) <= limit else value[: limit - 1] + "…"


async def _store(
    svc: Services, raw: bytes, parsed: ParsedMail | MalformedMail, key: str, mailbox: str,
    recipients: Sequence[str], files: _Files,
) -> tuple[Receipt, _Outcome | None]:
    now = svc.clock.now()
    mail = parsed if isinstance(parsed, ParsedMail) else None
    async with svc.sessions.begin() as db:
        # A mail stored before is found by the unique key: the row's INSERT raises
        # IntegrityError, and receive_parsed answers with the stored row's receipt
        # (duplicates are rare: one statement fewer per mail than looking first). The
        # row is inserted once, with what the mail became, unless a ticket or reply
        # needs its id for the message first (_mail_id).
        row = InboundMail(
            mailbox=_cut(mailbox, 200), message_key=key,
            message_id=_cut(mail.message_id, 998) if mail is not None and mail.message_id else None,
            sender=_cut(normalize(mail.sender or ""), 320) if mail is not None else "",
            subject=_cut(mask_secrets(mail.subject).text, 400) if mail is not None else "", status=InboundStatus.REFUSED,
            reason="",
            conversation_id=None, size=mail.size if mail is not None else len(raw),
            raw=raw[: svc.settings.mail_in_keep_bytes], received_at=now,
        )
        if mail is None:
            assert isinstance(parsed, MalformedMail)
            outcome = _Outcome(InboundStatus.REFUSED, parsed.reason)
        else:
            outcome = await _decide(svc, db, mail, row, recipients, files)
        row.status = outcome.status
        row.reason = _cut("; ".join([outcome.reason, *outcome.notes]), 500)
        row.conversation_id = outcome.work.conv.id if outcome.work is not None else None
        db.add(row)
        await db.flush()
        receipt = _receipt(row, duplicate=False)
    log.info("mail %s from %r: %s (%s)", row.id, row.sender, receipt.status.value, receipt.reason)
    return receipt, outcome


# -- the decisions -----------------------------------------------------------------------------


def _is_ours(identity: MailIdentity, mail: ParsedMail) -> bool:
    if mail.sender is not None and normalize(mail.sender) == normalize(identity.address):
        return True
    value = (mail.message_id or "").strip().removeprefix("<").removesuffix(">")
    local, at, domain = value.rpartition("@")
    if not at or domain.lower() != identity.domain:
        return False
    # Our domain alone is not enough: a company whose people share it with the support
    # address (an internal help desk) writes Message-IDs there too. Ours are signed or
    # have compose's own shape.
    return _OUR_PLAIN_ID.fullmatch(local) is not None or ticket_of_message_id(identity.secret, value) is not None


async def _decide(
    svc: Services, db: AsyncSession, mail: ParsedMail, row: InboundMail, recipients: Sequence[str], files: _Files,
    *, released: bool = False,
) -> _Outcome:
    """What the mail becomes. ``released``: staff said a held or spam mail is a real one,
    so the spam flag, the block list, the company hold and the hourly limit are passed."""
    identity = identity_of(svc.settings)
    if _is_ours(identity, mail):
        return _Outcome(InboundStatus.OURS, "one of our own mails came back")
    if mail.bounce is not None:
        return await _bounce(db, mail, row)
    if mail.auto is not None:
        return _Outcome(InboundStatus.LOOP, f"automatic mail ({mail.auto}): opens nothing, answered by nothing")
    if mail.spam and not released:
        return _Outcome(InboundStatus.SPAM, "flagged as spam upstream (X-Spam-Flag: YES)")
    if mail.sender is None:
        return _Outcome(InboundStatus.REFUSED, "no usable sender address")
    sender = normalize(mail.sender)
    blocked = await db.scalar(select(MailBlock.pattern).where(MailBlock.pattern.in_(block_patterns(sender))).limit(1))
    if blocked is not None and not released:
        return _Outcome(InboundStatus.SPAM, f"the sender is on the block list ({blocked})")
    who = await _who(svc, db, mail, sender, released=released)
    if isinstance(who, _Outcome):
        return who
    return await _thread(svc, db, mail, row, recipients, who, identity, files, released=released)


async def _bounce(db: AsyncSession, mail: ParsedMail, row: InboundMail) -> _Outcome:
    bounce = mail.bounce
    assert bounce is not None
    original = None
    if bounce.original_message_id:
        original = await db.scalar(select(OutboxMail).where(OutboxMail.message_id == bounce.original_message_id))
    if original is None:
        return _Outcome(InboundStatus.BOUNCE, f"delivery report for no mail of ours: {bounce.status}")
    if not bounce.permanent:
        return _Outcome(InboundStatus.BOUNCE, f"delivery delayed for mail {original.id}: {bounce.status}")
    # Only the address the bounced mail went to: a forged report must not be able to
    # suppress anyone else's address.
    named = {normalize(a) for a in bounce.recipients}
    target = normalize(original.to_addr)
    if named and target not in named:
        return _Outcome(InboundStatus.BOUNCE, f"delivery report names other recipients than mail {original.id}")
    await suppress(db, target, f"bounced: {bounce.status}", row.received_at, mail_id=original.id)
    return _Outcome(InboundStatus.BOUNCE, f"mail {original.id} to {target} failed for good: {bounce.status}")


@dataclass(frozen=True)
class _Writer:
    """Who wrote: a user, or a customer user still to be created (``user`` None) in
    ``organization_id`` — created only if the mail is stored as a ticket or reply."""

    user: User | None
    address: str
    name: str
    organization_id: int | None
    how: str


async def _who(
    svc: Services, db: AsyncSession, mail: ParsedMail, sender: str, *, released: bool = False
) -> _Writer | _Outcome:
    user = await db.scalar(select(User).where(User.email == sender))
    if user is not None:
        if user.disabled:
            return _Outcome(InboundStatus.REFUSED, "the sender's account is disabled")
        if user.role in STAFF_ROLES:
            return _Outcome(InboundStatus.REFUSED, "the sender is support staff: staff answer in the console")
        return _Writer(user, sender, user.name, user.organization_id, "known user")
    name = _cut(mail.sender_name.strip(), 200)
    domain = domain_of(sender)
    if domain and not is_free_mail(domain, svc.settings.mail_in_free_domains):
        org_id = await db.scalar(select(OrganizationDomain.organization_id).where(OrganizationDomain.domain == domain))
        if org_id is not None:
            if svc.settings.mail_in_company_sender != "create" and not released:
                return _Outcome(InboundStatus.HELD, f"unknown sender of the company with domain {domain}: held for staff")
            return _Writer(None, sender, name, org_id, f"new user of the company with domain {domain}")
    if svc.settings.mail_in_unknown_sender != "ticket":
        return _Outcome(InboundStatus.REFUSED, "unknown sender (MAIL_IN_UNKNOWN_SENDER=refuse)")
    return _Writer(None, sender, name, None, "unidentified sender")


async def _thread(
    svc: Services, db: AsyncSession, mail: ParsedMail, row: InboundMail, recipients: Sequence[str], who: _Writer,
    identity: MailIdentity, files: _Files, *, released: bool = False,
) -> _Outcome:
    readers = Readers(
        of_message_id=lambda value: ticket_of_message_id(identity.secret, value),
        of_address=lambda value: ticket_of_address(identity, value),
        marker=REPLY_MARKER,
    )
    refused: list[str] = []
    for candidate in candidates(mail, recipients, readers):
        found = (await db.execute(
            select(Ticket, Conversation).join(Conversation, Conversation.id == Ticket.conversation_id)
            .where(Ticket.conversation_id == candidate.ticket)
        )).first()
        if found is None:
            continue
        ticket, conv = found
        people = TicketPeople(ticket.requester_id, ticket.cc or [], conv.organization_id)
        if not may_continue(people, sender_id=who.user.id if who.user else None, sender_org=who.organization_id):
            refused.append(f"#{candidate.ticket} ({candidate.via}) is not the sender's")
            continue
        if ticket.status is TicketStatus.CLOSED or conv.status is ConversationStatus.CLOSED:
            return await _new_ticket(svc, db, mail, row, who, files, linked_from=conv,
                                     how=f"follows up closed #{conv.id} ({candidate.via})", notes=refused,
                                     released=released)
        return await _reply(svc, db, mail, row, who, files, conv.id, how=f"reply to #{conv.id} ({candidate.via})",
                            notes=refused)
    return await _new_ticket(svc, db, mail, row, who, files, linked_from=None, how="new ticket", notes=refused,
                             released=released)


async def _writer_user(db: AsyncSession, who: _Writer, now: datetime) -> User:
    if who.user is not None:
        return who.user
    user = User(email=who.address, name=who.name, role=Role.CUSTOMER, organization_id=who.organization_id,
                password_hash=None, language="en", notification_prefs={}, disabled=False, created_at=now)
    db.add(user)
    await db.flush()
    return user


async def _new_ticket(
    svc: Services, db: AsyncSession, mail: ParsedMail, row: InboundMail, who: _Writer, files: _Files, *,
    linked_from: Conversation | None, how: str, notes: list[str], released: bool = False,
) -> _Outcome:
    limit = svc.settings.mail_in_tickets_per_hour
    recent = await db.scalar(
        select(func.count()).select_from(InboundMail).where(
            InboundMail.sender == row.sender, InboundMail.status == InboundStatus.TICKET,
            InboundMail.received_at > row.received_at - RATE_WINDOW)
    )
    if int(recent or 0) >= limit and not released:
        return _Outcome(InboundStatus.HELD, f"more than {limit} new tickets from this sender in an hour: held",
                        notes=notes)
    user = await _writer_user(db, who, row.received_at)
    cc = await _cc(db, mail, user)
    subject = _cut(" ".join(mail.subject.split()), SUBJECT_MAX) or NO_SUBJECT
    rows, skipped = await _attachments(svc, mail.files, files)
    body = _body(svc, mail.text, rows) or subject
    work = await open_ticket_in(svc, db, user, subject=subject, description=body, channel=TicketChannel.EMAIL,
                                cc=cc, linked_from=linked_from, files=rows, message_data={"mail": await _mail_id(db, row)})
    extra = [f"cc: {len(cc)}"] if cc else []
    return _Outcome(InboundStatus.TICKET, f"{how} ({who.how})", work=work,
                    notes=[*extra, *notes, *skipped])


async def _reply(
    svc: Services, db: AsyncSession, mail: ParsedMail, row: InboundMail, who: _Writer, files: _Files,
    conversation_id: int, *, how: str, notes: list[str],
) -> _Outcome:
    rows, skipped = await _attachments(svc, mail.files, files)
    body = _body(svc, mail.text, rows)
    if not body:
        return _Outcome(InboundStatus.REFUSED, f"{how}: nothing written above the quoted mail", notes=notes)
    conv = await lock_conversation(db, conversation_id)
    ticket = await db.get(Ticket, conversation_id, populate_existing=True)
    assert conv is not None and ticket is not None  # read a moment ago in this transaction
    user = await _writer_user(db, who, row.received_at)
    now = row.received_at
    joined = await db.scalar(select(Participant.id).where(
        Participant.conversation_id == conv.id, Participant.user_id == user.id, Participant.left_at.is_(None)))
    if joined is None:
        # A colleague of the company writing in: they take part from now on (they may read
        # the ticket anyway, as one of its company's).
        db.add(Participant(conversation_id=conv.id, user_id=user.id, joined_at=now, last_read_seq=0))
    data: dict[str, Any] = {"mail": await _mail_id(db, row)}
    # A reply's text is masked like a chat message (a new ticket's, in escalation.intake).
    masked = mask_secrets(body)
    body = masked.text
    if masked.found:
        data["masked"] = list(masked.kinds)
    if rows:
        data["attachments"] = await place_attachments(db, rows, conv.id, user.id, now)
    message = await append_event(db, conv.id, kind=EventKind.MESSAGE, now=now, author_id=user.id, body=body, data=data)
    for file in rows:
        file.event_id = message.id
    await db.refresh(conv)  # append_event moved its counters in SQL
    work = await begin_work(svc, db, conv, ticket, created=False)
    work.events.append(event_json(message, user))
    work.ring("message")
    # The reply is one more customer turn: a ticket waiting on the customer or proposed to
    # close goes back to in progress (SKAI), the next-response clock starts.
    await catch_up(work)
    await finish_work(work)
    return _Outcome(InboundStatus.REPLY, f"{how} ({who.how})", work=work, notes=[*notes, *skipped])


def _body(svc: Services, text: str, rows: Sequence[Attachment]) -> str:
    body = text.strip()
    if not body and rows:
        body = "Files: " + ", ".join(a.filename for a in rows)
    return _cut(body, svc.settings.max_message_chars)


async def _cc(db: AsyncSession, mail: ParsedMail, requester: User) -> list[int]:
    """The mail's other recipients who are enabled customer users of the requester's
    company (the rules of :func:`escalation.fields.cc_users`)."""
    if requester.organization_id is None:
        return []
    addresses = {normalize(a) for a in (*mail.to, *mail.cc)} - {requester.email or ""}
    if not addresses:
        return []
    found = await db.scalars(
        select(User.id).where(User.email.in_(addresses), User.organization_id == requester.organization_id,
                              User.disabled.is_(False), User.role.not_in(STAFF_ROLES), User.id != requester.id)
        .order_by(User.id).limit(20)
    )
    return list(found)


async def _attachments(svc: Services, given: Sequence[InboundFile], files: _Files) -> tuple[list[Attachment], list[str]]:
    """The mail's files as unsaved attachment rows, their bytes in the upload store, under
    the chat's own rules (type, size, magic bytes, at most :data:`MAX_PER_MESSAGE`). A
    refused file is skipped with a note, never the whole mail."""
    rows: list[Attachment] = []
    skipped: list[str] = []
    for item in given:
        label = _cut(item.filename or "(unnamed)", 80)
        if len(rows) >= MAX_PER_MESSAGE:
            skipped.append(f"skipped file {label}: more than {MAX_PER_MESSAGE} files")
            continue
        try:
            name, ctype = check_upload(svc, item.filename or "attachment", item.content_type, len(item.data))
        except AppError as exc:
            skipped.append(f"skipped file {label}: {exc.message}")
            continue
        magic = MAGIC_BYTES.get(ctype)
        if not item.data or (magic is not None and not any(item.data.startswith(m) for m in magic)):
            skipped.append(f"skipped file {label}: {'empty' if not item.data else 'not a ' + ctype}")
            continue
        key = "mail-" + secrets.token_hex(16)
        target = await asyncio.to_thread(upload_dir, svc) / key
        files.written.append(target)
        await asyncio.to_thread(target.write_bytes, item.data)
        rows.append(Attachment(filename=name, content_type=ctype, size=len(item.data), storage_key=key))
    return rows, skipped

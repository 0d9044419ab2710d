"""``supportchat mail-in``: the SMTP (or LMTP) door the organization's mail server forwards
the support address to, plus the IMAP poller when ``IMAP_URL`` is set.

The promise to the sending server is the one RFC 5321 asks of a receiver: 250 only once
the mail is ours for good — stored, or refused for good and recorded (a refused mail is
still 250: we took responsibility, and the admin sees the reason in the received-mail
log). 451 4.3.0 when the database cannot take it, so the sender keeps the mail and tries
again later; 552 over ``MAIL_IN_MAX_BYTES`` (aiosmtpd's own size check, at ``MAIL FROM
SIZE=`` and while reading DATA). Nothing a sender sends produces a traceback: the
receiver turns bad mail into a refusal with a reason.

LMTP (``MAIL_IN_LMTP``, Postfix's ``lmtp:`` transport) answers once per recipient after
DATA, as RFC 2033 requires; the mail is stored once for all of them, so every recipient
gets the same answer.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Sequence
from typing import Protocol
from urllib.parse import urlsplit

from aiosmtpd.lmtp import LMTP
from aiosmtpd.smtp import SMTP, Envelope, Session

from chat.mail.inbound.imap_in import ImapPoller
from chat.mail.inbound.receive import MailStoreUnavailable, Receipt, receive_mail
from chat.services import Services

log = logging.getLogger("chat.mail.inbound.smtp_in")

MAILBOX = "smtp"
"""The ``mailbox`` of every mail that came through this door (SMTP and LMTP alike: they
are the same door, so a redelivery through either is recognised)."""

STORED = "250 2.0.0 Message accepted"
TRY_LATER = "451 4.3.0 Mail store unavailable, try again later"
# The receiver failed in a way it did not foresee (a bug, not the sender's mail): keep the
# mail at the sender for a retry rather than lose it behind a 250.
FAILED = "451 4.3.0 Temporary failure, try again later"

# A connection that says nothing for this long is dropped. RFC 5321 4.5.3.2.7 asks a
# server to wait at least 5 minutes for the client's next command; aiosmtpd's default.
IDLE_TIMEOUT_SECONDS = 300


class Receiver(Protocol):
    """What stores a mail (:func:`chat.mail.inbound.receive.receive_mail`): returns once
    the mail is stored or refused for good; raises :class:`MailStoreUnavailable` when the
    database is down."""

    def __call__(
        self, svc: Services, raw: bytes, *, mailbox: str, recipients: Sequence[str] = ()
    ) -> Awaitable[Receipt]: ...


def with_return_path(raw: bytes, mail_from: str | None) -> bytes:
    """The mail as final delivery leaves it (RFC 5321 4.4): ``Return-Path`` names the
    envelope sender, ``<>`` for a bounce or an auto-reply — which is how the intake tells
    those from a person's mail. A mail that already carries one keeps it."""
    head = raw.split(b"\r\n\r\n", 1)[0].split(b"\n\n", 1)[0]
    if any(line.lower().startswith(b"return-path:") for line in head.splitlines()):
        return raw
    sender = "".join(c for c in (mail_from or "") if c.isprintable() and c not in "<>\r\n")[:320]
    return f"Return-Path: <{sender}>\r\n".encode("ascii", "replace") + raw


class MailInHandler:
    """The aiosmtpd handler: accepts any recipient (the mail server decides what reaches
    us), stores each mail through the receiver, and answers only after it returned."""

    def __init__(self, svc: Services, *, lmtp: bool = False, receiver: Receiver = receive_mail) -> None:
        self.svc = svc
        self.lmtp = lmtp
        self.receiver = receiver

    async def handle_RCPT(
        self, server: SMTP, session: Session, envelope: Envelope, address: str, rcpt_options: list[str]
    ) -> str:
        envelope.rcpt_tos.append(address)
        return "250 2.1.5 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        content = envelope.original_content if envelope.original_content is not None else envelope.content
        raw = content if isinstance(content, bytes) else (content or "").encode("utf-8", "surrogateescape")
        reply = await self.store(with_return_path(raw, envelope.mail_from), list(envelope.rcpt_tos),
                                 peer=str(session.peer))
        if self.lmtp:
            # RFC 2033 4.2: one reply per accepted recipient, in RCPT order.
            return "\r\n".join(reply for _ in envelope.rcpt_tos)
        return reply

    async def store(self, raw: bytes, recipients: Sequence[str], *, peer: str = "") -> str:
        """Hand one mail to the receiver; the SMTP reply that tells the sender its fate."""
        try:
            receipt = await self.receiver(self.svc, raw, mailbox=MAILBOX, recipients=recipients)
        except MailStoreUnavailable as exc:
            log.warning("mail from %s not taken (database unavailable: %s); the sender will retry", peer, exc)
            return TRY_LATER
        except Exception:
            log.exception("mail from %s not taken: the receiver failed; the sender will retry", peer)
            return FAILED
        log.info(
            "mail %s from %s: %s%s%s", receipt.inbound_id, peer, receipt.status,
            f" ({receipt.reason})" if receipt.reason else "", " (a repeat)" if receipt.duplicate else "",
        )
        return STORED


class MailInServer:
    """The listening SMTP/LMTP socket with its settings: host, port, size limit, protocol."""

    def __init__(self, svc: Services, *, receiver: Receiver = receive_mail,
                 host: str | None = None, port: int | None = None) -> None:
        settings = svc.settings
        self.svc = svc
        self.host = host if host is not None else settings.mail_in_host
        self.port = port if port is not None else settings.mail_in_port
        self.lmtp = settings.mail_in_lmtp
        self.handler = MailInHandler(svc, lmtp=self.lmtp, receiver=receiver)
        # Named after the public host: aiosmtpd would otherwise ask the resolver
        # (socket.getfqdn), which can hang for seconds on a misconfigured box.
        self.hostname = urlsplit(settings.public_url).hostname or "localhost"
        self._server: asyncio.Server | None = None

    def _protocol(self) -> SMTP:
        kind = LMTP if self.lmtp else SMTP
        return kind(
            self.handler,
            hostname=self.hostname,
            data_size_limit=self.svc.settings.mail_in_max_bytes,
            # Mail is 8-bit and non-UTF-8 often enough; the receiver decodes it.
            decode_data=False,
            enable_SMTPUTF8=True,
            timeout=IDLE_TIMEOUT_SECONDS,
        )

    async def start(self) -> None:
        loop = asyncio.get_running_loop()
        self._server = await loop.create_server(self._protocol, self.host, self.port, reuse_address=True)
        sockets = self._server.sockets
        if sockets:
            # Port 0 asks for a free port; the one given is the one to talk to.
            self.port = int(sockets[0].getsockname()[1])
        log.info("mail-in listening (%s) on %s:%s", "LMTP" if self.lmtp else "SMTP", self.host, self.port)

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
            self._server = None


async def serve_mail_in(svc: Services, stop: asyncio.Event, *, receiver: Receiver = receive_mail) -> None:
    """Run the SMTP/LMTP receiver, and the IMAP poller when ``IMAP_URL`` is set, until
    ``stop`` is set (``supportchat mail-in`` sets it on SIGTERM/SIGINT)."""
    server = MailInServer(svc, receiver=receiver)
    await server.start()
    poller = ImapPoller(svc, receiver=receiver) if svc.settings.imap_url else None
    polling = asyncio.create_task(poller.run(stop)) if poller is not None else None
    try:
        await stop.wait()
    finally:
        await server.stop()
        if polling is not None:
            polling.cancel()
            await asyncio.gather(polling, return_exceptions=True)

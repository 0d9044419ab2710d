"""The SMTP adapter of the mail port (``SMTP_URL``), on ``aiosmtplib``.

``smtp://[user:pass@]host[:587]`` connects in the clear and **must** upgrade with STARTTLS
before anything else is said: a server that offers no STARTTLS gets neither the
credentials nor a mail (each send is a temporary failure saying so, and the outbox keeps
the mail for when the relay is fixed). Password-reset and invitation links travel in
these mails, so they are credentials too. ``smtps://`` is TLS from the first byte (port
465). The server's certificate is checked against the system's CAs, or ``SMTP_CA_FILE``.
AUTH is used when the URL carries ``user:password`` (percent-decoded).

Connections are kept open and reused by consecutive sends (a TLS handshake and AUTH per
mail would cost more than the mail); one that failed or was closed by the server is
replaced on the next send. ``connections`` bounds how many are open at once, for a sender
that sends concurrently.

Outcomes (never an exception for a delivery problem): 250 -> delivered; a 4xx reply,
a refused, reset or dropped connection (also in the middle of DATA), a timeout -> temporary;
a 5xx reply to RCPT or DATA -> permanent. A 5xx to MAIL FROM, AUTH, EHLO or STARTTLS is
about *our* sender or configuration, not the recipient, so it is temporary: calling it
permanent would put every recipient on the suppression list for one wrong setting.
"""

from __future__ import annotations

import asyncio
import ssl
import time
from dataclasses import dataclass
from urllib.parse import unquote, urlsplit

import aiosmtplib

from chat.mail.devbox import DevMailbox
from chat.mail.transport import Envelope, MailTransport, Outcome, Result
from chat.settings import Settings

# The SMTP_URL default ports (RFC 6409 submission with STARTTLS; RFC 8314 implicit TLS).
SUBMISSION_PORT = 587
SUBMISSIONS_PORT = 465
DETAIL_MAX = 500  # mail_outbox.last_error's width
# Servers hang up on idle clients (RFC 5321 lets them after 5 min; many relays after 30-60 s).
# A connection idle longer than this is checked with a NOOP before reuse, so a mail is not
# failed because of a close we had not noticed; in a burst there is no extra round trip.
IDLE_CHECK_SECONDS = 5.0
# As many as chat.mail.sender.SEND_CONCURRENCY keeps in flight; more would sit idle.
CONNECTIONS = 4


@dataclass
class _Connection:
    client: aiosmtplib.SMTP
    last_used: float = 0.0


class SmtpTransport:
    """Sends through one SMTP server, reusing up to ``connections`` open connections.

    ``timeout`` bounds a whole send (connecting, STARTTLS, AUTH, MAIL, RCPT, DATA): a
    server that stops answering costs at most that long, then the send is temporary.
    """

    name = "smtp"

    def __init__(
        self,
        url: str,
        *,
        timeout: float = 30.0,
        tls_context: ssl.SSLContext | None = None,
        connections: int = 1,
        local_hostname: str | None = None,
    ) -> None:
        parts = urlsplit(url)
        if parts.scheme not in ("smtp", "smtps") or not parts.hostname:
            raise ValueError("an SMTP URL is smtp://[user:pass@]host[:port] or smtps://...")
        if connections < 1:
            raise ValueError("connections must be at least 1")
        self.implicit_tls = parts.scheme == "smtps"
        self.host = parts.hostname
        self.port = parts.port or (SUBMISSIONS_PORT if self.implicit_tls else SUBMISSION_PORT)
        self.username = unquote(parts.username) if parts.username else None
        self.password = unquote(parts.password) if parts.password is not None else None
        self.timeout = timeout
        self.tls_context = tls_context or ssl.create_default_context()
        # Without it aiosmtplib asks the resolver for our own FQDN on every connect.
        self.local_hostname = local_hostname or "localhost"
        self._limit = connections
        self._idle: list[_Connection] = []
        self._made = 0
        self._freed = asyncio.Condition()
        self.connects = 0
        """Connections opened so far (a reuse test counts them)."""

    async def send(self, envelope: Envelope) -> Outcome:
        conn = await self._acquire()
        client = conn.client
        keep = True
        try:
            async with asyncio.timeout(self.timeout):
                await self._ready(conn)
                _errors, reply = await client.sendmail(envelope.sender, [envelope.recipient], envelope.raw)
            return Outcome(Result.DELIVERED, _line(reply))
        except aiosmtplib.SMTPRecipientsRefused as exc:
            # sendmail has RSET the envelope: the connection is still good.
            refused = exc.recipients[0]
            return _by_code(refused.code, f"RCPT {refused.code} {refused.message}")
        except aiosmtplib.SMTPDataError as exc:
            return _by_code(exc.code, f"DATA {exc.code} {exc.message}")
        except aiosmtplib.SMTPSenderRefused as exc:
            return Outcome(Result.TEMPORARY, _line(f"MAIL FROM {exc.code} {exc.message} (check MAIL_FROM)"))
        except aiosmtplib.SMTPAuthenticationError as exc:
            keep = False
            return Outcome(Result.TEMPORARY, _line(f"AUTH {exc.code} {exc.message} (check SMTP_URL's user and password)"))
        except aiosmtplib.SMTPResponseException as exc:
            keep = False
            return Outcome(Result.TEMPORARY, _line(f"{exc.code} {exc.message}"))
        except aiosmtplib.SMTPNotSupported as exc:
            # No STARTTLS on an smtp:// server (or no SMTPUTF8 for this address):
            # nothing is sent in the clear; the mail waits for the relay to be fixed.
            keep = False
            return Outcome(Result.TEMPORARY, _line(f"not supported by the server: {exc}"))
        except (TimeoutError, aiosmtplib.SMTPTimeoutError):
            keep = False
            return Outcome(Result.TEMPORARY, f"no answer within {self.timeout:g} s")
        except (aiosmtplib.SMTPException, OSError) as exc:
            # Refused, reset or dropped connections, TLS failures (ssl.SSLError is an OSError).
            keep = False
            return Outcome(Result.TEMPORARY, _line(f"{type(exc).__name__}: {exc}"))
        finally:
            await self._release(conn, keep=keep)

    async def _ready(self, conn: _Connection) -> None:
        """Connect a new client; check that an idle one was not hung up on meanwhile."""
        client = conn.client
        if client.is_connected and time.monotonic() - conn.last_used > IDLE_CHECK_SECONDS:
            try:
                await client.noop()
            except (aiosmtplib.SMTPException, OSError):
                client.close()
        if not client.is_connected:
            self.connects += 1
            await client.connect()

    async def close(self) -> None:
        idle, self._idle = self._idle, []
        self._made -= len(idle)
        for conn in idle:
            await _hang_up(conn.client)

    async def _acquire(self) -> _Connection:
        async with self._freed:
            while not self._idle and self._made >= self._limit:
                await self._freed.wait()
            if self._idle:
                return self._idle.pop()
            self._made += 1
        return _Connection(aiosmtplib.SMTP(
            hostname=self.host,
            port=self.port,
            username=self.username,
            password=self.password,
            local_hostname=self.local_hostname,
            timeout=self.timeout,
            use_tls=self.implicit_tls,
            # True, not None: aiosmtplib's default skips STARTTLS when the server does not
            # offer it and would then send AUTH and the mail in the clear.
            start_tls=not self.implicit_tls,
            tls_context=self.tls_context,
        ))

    async def _release(self, conn: _Connection, *, keep: bool) -> None:
        async with self._freed:
            if keep and conn.client.is_connected:
                conn.last_used = time.monotonic()
                self._idle.append(conn)
            else:
                # No QUIT: after a timeout or a drop the server may never answer it.
                conn.client.close()
                self._made -= 1
            self._freed.notify()


async def _hang_up(client: aiosmtplib.SMTP) -> None:
    """QUIT politely when the connection still answers; otherwise just close it."""
    if not client.is_connected:
        return
    try:
        async with asyncio.timeout(1):
            await client.quit()
    except (TimeoutError, aiosmtplib.SMTPException, OSError):
        client.close()


def _by_code(code: int, detail: str) -> Outcome:
    return Outcome(Result.PERMANENT if 500 <= code < 600 else Result.TEMPORARY, _line(detail))


def _line(text: str) -> str:
    return " ".join(text.split())[:DETAIL_MAX]


def tls_context_for(settings: Settings) -> ssl.SSLContext:
    """The client TLS context: the system's CAs, or only ``SMTP_CA_FILE``'s when set."""
    return ssl.create_default_context(cafile=settings.smtp_ca_file)


def open_transport(settings: Settings) -> MailTransport:
    """SMTP when ``SMTP_URL`` is set, else the development mailbox (never a silent drop:
    the mailbox keeps every mail for the console)."""
    if settings.smtp_url:
        return SmtpTransport(
            settings.smtp_url, timeout=float(settings.smtp_timeout_seconds), tls_context=tls_context_for(settings),
            connections=CONNECTIONS,
        )
    return DevMailbox()

"""A real SMTP server for tests: aiosmtpd on 127.0.0.1 and a free port, in the test's own
event loop, collecting what it receives.

Options: STARTTLS with a throwaway CA (trustme) and AUTH (PLAIN/LOGIN with
:data:`SMTP_USER`/:data:`SMTP_PASSWORD`, refused before TLS), implicit TLS, and fault
modes a test switches on and off while the server runs (4xx or 5xx to RCPT/DATA, a DATA
that is never answered, a connection dropped after the message arrived but before the
reply). :meth:`SmtpServer.stop` and :meth:`SmtpServer.start` again on the same port make
an outage.

Usage::

    async with smtp_server(tls="starttls", auth=True) as smtp:
        ...  # smtp.url, smtp.client_tls, smtp.received, smtp.sessions

or the ``smtp`` fixture (STARTTLS and AUTH, as a production relay on port 587 would be).
A product configured for it: ``SMTP_URL=smtp.url`` and ``SMTP_CA_FILE=smtp.write_ca(path)``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import enum
import logging
import signal
import socket
import ssl
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from email.message import EmailMessage
from typing import Any, Literal
from urllib.parse import quote

import pytest
import trustme
from aiosmtpd.smtp import SMTP, AuthResult, Envelope, LoginPassword, Session

SMTP_USER = "mailer"
SMTP_PASSWORD = "p@ss:word/with%odd chars"  # URL-quoted in :attr:`SmtpServer.url`

Tls = Literal["none", "starttls", "implicit"]


class Fault(enum.Enum):
    TEMP_RCPT = "451 4.7.1 Try again later"  # greylisting-style refusal of the recipient
    PERM_RCPT = "550 5.1.1 No such user"
    TEMP_DATA = "451 4.3.0 Temporary failure after DATA"
    PERM_DATA = "554 5.7.1 Message refused"
    HANG_DATA = "hang"  # the message arrives, the reply never comes
    DROP_DATA = "drop"  # the message arrives, the server closes the connection unanswered


@dataclass
class FaultRule:
    fault: Fault
    address: str | None
    """Only for this recipient (lower case); every recipient when None."""
    times: int | None
    """How many more mails it applies to; forever when None."""


@dataclass(frozen=True)
class Received:
    mail_from: str
    rcpt_tos: list[str]
    raw: bytes
    session: int
    """Which connection (1, 2, ...) brought it."""

    @property
    def message(self) -> EmailMessage:
        """The message parsed as a mail client would, line ends back to ``\n``."""
        return message_from_bytes(self.raw.replace(b"\r\n", b"\n"), policy=policy.default)

    @property
    def message_id(self) -> str:
        return str(self.message["Message-ID"])


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class SmtpServer:
    tls: Tls = "none"
    auth: bool = False
    port: int = field(default_factory=free_port)
    host: str = "127.0.0.1"
    received: list[Received] = field(default_factory=list)
    sessions: int = 0
    """Connections accepted so far (across restarts)."""
    logins: int = 0
    faults: list[FaultRule] = field(default_factory=list)
    _ca: trustme.CA = field(default_factory=trustme.CA)
    _server: asyncio.Server | None = None
    _open: set[SMTP] = field(default_factory=set)

    # -- what a client needs ------------------------------------------------------------

    @property
    def url(self) -> str:
        """An ``SMTP_URL`` for this server: smtps:// for implicit TLS, else smtp://, with
        the credentials when AUTH is on."""
        scheme = "smtps" if self.tls == "implicit" else "smtp"
        creds = f"{quote(SMTP_USER, safe='')}:{quote(SMTP_PASSWORD, safe='')}@" if self.auth else ""
        return f"{scheme}://{creds}{self.host}:{self.port}"

    @property
    def client_tls(self) -> ssl.SSLContext:
        """A client context that trusts this server's throwaway CA."""
        ctx = ssl.create_default_context()
        self._ca.configure_trust(ctx)
        return ctx

    def write_ca(self, path: str) -> str:
        """The CA certificate as a PEM file (for ``SMTP_CA_FILE``)."""
        self._ca.cert_pem.write_to_path(path)
        return path

    def message_ids(self) -> list[str]:
        return [r.message_id for r in self.received]

    def set_fault(self, fault: Fault, *, address: str | None = None, times: int | None = None) -> None:
        self.faults.append(FaultRule(fault, address.lower() if address else None, times))

    def clear_faults(self) -> None:
        self.faults.clear()

    # -- lifecycle ----------------------------------------------------------------------

    async def start(self) -> None:
        loop = asyncio.get_running_loop()
        server_tls = self._server_context() if self.tls != "none" else None

        def factory() -> SMTP:
            proto = _Protocol(
                self,
                _Handler(self),
                hostname="smtp.test",
                loop=loop,
                tls_context=server_tls if self.tls == "starttls" else None,
                require_starttls=self.tls == "starttls",
                # aiosmtpd counts only STARTTLS as TLS; over implicit TLS it would never
                # offer AUTH. So there AUTH is offered, not demanded (demanding it without
                # TLS makes aiosmtpd warn), and the client still logs in.
                auth_required=self.auth and self.tls != "implicit",
                auth_require_tls=self.tls != "implicit",
                authenticator=_authenticate if self.auth else None,
                # A hung test would otherwise keep the connection for five minutes.
                timeout=30,
            )
            return proto

        self._server = await loop.create_server(
            factory, self.host, self.port, ssl=server_tls if self.tls == "implicit" else None, reuse_address=True
        )

    async def stop(self) -> None:
        """Close the listening socket and every open connection (an outage)."""
        if self._server is not None:
            self._server.close()
            for proto in list(self._open):
                if proto.transport is not None:
                    proto.transport.close()
            await self._server.wait_closed()
            self._server = None
        # Let the protocols see connection_lost and cancel their handler tasks.
        for _ in range(3):
            await asyncio.sleep(0)

    def _server_context(self) -> ssl.SSLContext:
        ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        self._ca.issue_cert("127.0.0.1", "localhost").configure_cert(ctx)
        return ctx

    def _take_fault(self, rcpt: str, stage: Literal["rcpt", "data"]) -> Fault | None:
        for rule in self.faults:
            at_rcpt = rule.fault in (Fault.TEMP_RCPT, Fault.PERM_RCPT)
            if at_rcpt != (stage == "rcpt"):
                continue
            if rule.address is not None and rule.address != rcpt.lower():
                continue
            if rule.times is not None:
                if rule.times <= 0:
                    continue
                rule.times -= 1
            return rule.fault
        return None


class _Protocol(SMTP):
    """Counts sessions and lets the server close its connections on stop."""

    def __init__(self, owner: SmtpServer, handler: _Handler, **kwargs: Any) -> None:
        super().__init__(handler, **kwargs)
        self.owner = owner
        self.number = 0

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # Called again on the upgraded transport after STARTTLS: the same session.
        if self not in self.owner._open:
            self.owner.sessions += 1
            self.number = self.owner.sessions
            self.owner._open.add(self)
        super().connection_made(transport)

    def connection_lost(self, error: Exception | None) -> None:
        self.owner._open.discard(self)
        super().connection_lost(error)


class _Handler:
    def __init__(self, owner: SmtpServer) -> None:
        self.owner = owner

    async def handle_RCPT(self, server: SMTP, session: Session, envelope: Envelope, address: str, options: list[str]) -> str:
        fault = self.owner._take_fault(address, "rcpt")
        if fault is not None:
            return fault.value
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        fault = self.owner._take_fault(envelope.rcpt_tos[0], "data")
        if fault is Fault.HANG_DATA:
            await asyncio.Event().wait()  # cancelled when the client gives up and hangs up
        if fault is Fault.DROP_DATA:
            assert server.transport is not None
            server.transport.close()
            await asyncio.Event().wait()  # never reply; connection_lost cancels this
        if fault is not None:
            return fault.value
        assert isinstance(envelope.content, bytes)
        number = server.number if isinstance(server, _Protocol) else 0
        self.owner.received.append(
            Received(str(envelope.mail_from), list(envelope.rcpt_tos), envelope.content, number)
        )
        return "250 2.0.0 Queued"


def _authenticate(server: SMTP, session: Session, envelope: Envelope, mechanism: str, auth_data: Any) -> AuthResult:
    ok = (
        mechanism in ("PLAIN", "LOGIN")
        and isinstance(auth_data, LoginPassword)
        and auth_data.login == SMTP_USER.encode()
        and auth_data.password == SMTP_PASSWORD.encode()
    )
    if ok and isinstance(server, _Protocol):
        server.owner.logins += 1
    # handled=False: aiosmtpd then answers 535 itself (True would leave the client waiting).
    return AuthResult(success=ok, handled=ok)


@contextlib.asynccontextmanager
async def smtp_server(*, tls: Tls = "none", auth: bool = False, port: int | None = None) -> AsyncIterator[SmtpServer]:
    """A running server for the duration of the block; stopped (connections closed) after."""
    server = SmtpServer(tls=tls, auth=auth) if port is None else SmtpServer(tls=tls, auth=auth, port=port)
    await server.start()
    try:
        yield server
    finally:
        await server.stop()


@pytest.fixture
async def smtp() -> AsyncIterator[SmtpServer]:
    """An SMTP server with STARTTLS and AUTH on loopback for this test."""
    async with smtp_server(tls="starttls", auth=True) as server:
        yield server


async def _serve(tls: Tls, auth: bool, ca_path: str) -> None:
    """Run until SIGTERM/SIGINT; print the URL when ready and the count received at the end."""
    # aiosmtpd warns on every AUTH about its own deprecated attribute; not ours to fix.
    logging.getLogger("mail.log").setLevel(logging.ERROR)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    async with smtp_server(tls=tls, auth=auth) as server:
        server.write_ca(ca_path)
        print(f"ready {server.url}", flush=True)
        await stop.wait()
        print(f"received {len(server.received)} sessions {server.sessions}", flush=True)


def main(argv: list[str] | None = None) -> int:
    """``python -m tests.support.smtp_server --ca PATH [--tls starttls] [--auth]``: the same
    server in a process of its own (bench/mail_bench.py)."""
    parser = argparse.ArgumentParser(prog="python -m tests.support.smtp_server")
    parser.add_argument("--tls", choices=["none", "starttls", "implicit"], default="starttls")
    parser.add_argument("--auth", action="store_true")
    parser.add_argument("--ca", required=True, help="where to write the throwaway CA's certificate (PEM)")
    args = parser.parse_args(argv)
    asyncio.run(_serve(args.tls, args.auth, args.ca))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""The SMTP adapter against a real aiosmtpd server: TLS, AUTH, connection reuse, and
every outcome the sender acts on."""

from __future__ import annotations

import asyncio
import time
from email.message import EmailMessage
from email.utils import make_msgid
from pathlib import Path

import pytest

from chat.mail import smtp as smtp_module
from chat.mail.devbox import DevMailbox
from chat.mail.smtp import SmtpTransport, open_transport
from chat.mail.transport import Envelope, Result
from tests.conftest import make_settings
from tests.support.smtp_server import SMTP_USER, Fault, SmtpServer, smtp_server

TIMEOUT = 1.0


def envelope(to: str = "ann@customer.example", n: int = 1) -> Envelope:
    msg = EmailMessage()
    msg["From"] = "Support <support@ours.example>"
    msg["To"] = to
    msg["Subject"] = f"[#{n}] Printer on fire"
    msg["Message-ID"] = make_msgid(domain="ours.example")
    msg.set_content(f"Hello number {n}\n")
    return Envelope(mail_id=n, sender="support@ours.example", recipient=to, raw=msg.as_bytes())


def transport_for(server: SmtpServer, **kwargs: float | int) -> SmtpTransport:
    return SmtpTransport(server.url, timeout=float(kwargs.get("timeout", TIMEOUT)), tls_context=server.client_tls,
                         connections=int(kwargs.get("connections", 1)))


async def test_starttls_and_auth_deliver_the_message_as_sent() -> None:
    async with smtp_server(tls="starttls", auth=True) as server:
        assert f"//{SMTP_USER}:" in server.url and server.url.startswith("smtp://")
        transport = transport_for(server)
        sent = envelope()
        outcome = await transport.send(sent)
        await transport.close()
    assert outcome.result is Result.DELIVERED
    assert outcome.detail.startswith("2.0.0 Queued")
    assert server.logins == 1
    [got] = server.received
    assert (got.mail_from, got.rcpt_tos) == ("support@ours.example", ["ann@customer.example"])
    assert got.message["Subject"] == "[#1] Printer on fire"
    assert got.message.get_content() == "Hello number 1\n"
    assert got.message_id == message_id_of(sent)


def message_id_of(env: Envelope) -> str:
    return next(line.split(b":", 1)[1].strip().decode() for line in env.raw.splitlines()
                if line.lower().startswith(b"message-id:"))


async def test_smtps_is_tls_from_the_first_byte() -> None:
    async with smtp_server(tls="implicit", auth=True) as server:
        assert server.url.startswith("smtps://")
        transport = transport_for(server)
        outcome = await transport.send(envelope())
        await transport.close()
    assert outcome.result is Result.DELIVERED
    assert len(server.received) == 1 and server.logins == 1


async def test_consecutive_mails_share_one_connection() -> None:
    async with smtp_server(tls="starttls", auth=True) as server:
        transport = transport_for(server)
        outcomes = [await transport.send(envelope(f"p{n}@customer.example", n)) for n in range(5)]
        await transport.close()
    assert [o.result for o in outcomes] == [Result.DELIVERED] * 5
    assert (server.sessions, server.logins, transport.connects) == (1, 1, 1)
    assert [r.session for r in server.received] == [1] * 5


async def test_no_starttls_means_no_credentials_and_no_mail() -> None:
    # A server that offers no STARTTLS: smtp:// refuses to go on in the clear.
    async with smtp_server(tls="none") as server:
        url = server.url.replace("smtp://", f"smtp://{SMTP_USER}:secret@")
        transport = SmtpTransport(url, timeout=TIMEOUT)
        outcome = await transport.send(envelope())
        await transport.close()
    assert outcome.result is Result.TEMPORARY
    assert "STARTTLS" in outcome.detail.upper()
    assert server.received == [] and server.logins == 0


async def test_an_untrusted_certificate_is_a_temporary_failure() -> None:
    async with smtp_server(tls="starttls", auth=True) as server:
        transport = SmtpTransport(server.url, timeout=TIMEOUT)  # the system's CAs only
        outcome = await transport.send(envelope())
        await transport.close()
    assert outcome.result is Result.TEMPORARY
    assert "CERTIFICATE" in outcome.detail.upper()
    assert server.logins == 0


async def test_a_wrong_password_is_temporary_not_the_recipients_fault() -> None:
    async with smtp_server(tls="starttls", auth=True) as server:
        transport = SmtpTransport(server.url.replace("%40", "X"), timeout=TIMEOUT, tls_context=server.client_tls)
        outcome = await transport.send(envelope())
        await transport.close()
    assert outcome.result is Result.TEMPORARY
    assert outcome.detail.startswith("AUTH 535")


@pytest.mark.parametrize(
    ("fault", "result", "detail"),
    [
        (Fault.TEMP_RCPT, Result.TEMPORARY, "RCPT 451 4.7.1 Try again later"),
        (Fault.PERM_RCPT, Result.PERMANENT, "RCPT 550 5.1.1 No such user"),
        (Fault.TEMP_DATA, Result.TEMPORARY, "DATA 451 4.3.0 Temporary failure after DATA"),
        (Fault.PERM_DATA, Result.PERMANENT, "DATA 554 5.7.1 Message refused"),
    ],
)
async def test_replies_map_to_outcomes_and_the_connection_stays(fault: Fault, result: Result, detail: str) -> None:
    async with smtp_server(tls="starttls", auth=True) as server:
        server.set_fault(fault, address="bad@customer.example")
        transport = transport_for(server)
        refused = await transport.send(envelope("bad@customer.example"))
        after = await transport.send(envelope("good@customer.example", 2))
        await transport.close()
    assert (refused.result, refused.detail) == (result, detail)
    assert after.result is Result.DELIVERED
    assert [r.rcpt_tos for r in server.received] == [["good@customer.example"]]
    assert server.sessions == 1  # a refusal is answered on a connection that stays usable


async def test_a_hanging_server_times_out_and_the_next_send_reconnects() -> None:
    async with smtp_server(tls="starttls", auth=True) as server:
        server.set_fault(Fault.HANG_DATA, times=1)
        transport = transport_for(server)
        started = time.monotonic()
        hung = await transport.send(envelope())
        waited = time.monotonic() - started
        after = await transport.send(envelope(n=2))
        await transport.close()
    assert hung.result is Result.TEMPORARY
    assert hung.detail == "no answer within 1 s"
    assert TIMEOUT <= waited < TIMEOUT + 1
    assert after.result is Result.DELIVERED
    assert len(server.received) == 1 and server.sessions == 2


async def test_a_connection_dropped_mid_data_is_temporary() -> None:
    async with smtp_server(tls="starttls", auth=True) as server:
        server.set_fault(Fault.DROP_DATA, times=1)
        transport = transport_for(server)
        dropped = await transport.send(envelope())
        after = await transport.send(envelope(n=2))
        await transport.close()
    assert dropped.result is Result.TEMPORARY
    assert "SMTPServerDisconnected" in dropped.detail
    assert after.result is Result.DELIVERED
    assert [r.message["Subject"] for r in server.received] == ["[#2] Printer on fire"]


async def test_refused_connections_are_temporary_until_the_server_is_back(monkeypatch: pytest.MonkeyPatch) -> None:
    # Every reuse checks the connection first, as if it had been idle.
    monkeypatch.setattr(smtp_module, "IDLE_CHECK_SECONDS", -1.0)
    async with smtp_server(tls="starttls", auth=True) as server:
        transport = transport_for(server)
        first = await transport.send(envelope(n=1))
        await server.stop()
        refused = await transport.send(envelope(n=2))
        await server.start()
        back = await transport.send(envelope(n=3))
        # The server hangs up on an idle connection; the NOOP check notices and reconnects.
        await server.stop()
        await server.start()
        again = await transport.send(envelope(n=4))
        await transport.close()
    assert [first.result, refused.result, back.result, again.result] == [
        Result.DELIVERED, Result.TEMPORARY, Result.DELIVERED, Result.DELIVERED
    ]
    assert [r.message["Subject"] for r in server.received] == [f"[#{n}] Printer on fire" for n in (1, 3, 4)]
    assert server.sessions == 3


async def test_concurrent_sends_use_at_most_the_allowed_connections() -> None:
    async with smtp_server(tls="starttls", auth=True) as server:
        transport = transport_for(server, connections=3)
        outcomes = await asyncio.gather(*(transport.send(envelope(f"p{n}@customer.example", n)) for n in range(12)))
        await transport.close()
    assert {o.result for o in outcomes} == {Result.DELIVERED}
    assert len(server.received) == 12
    assert server.sessions == 3


def test_open_transport_picks_smtp_only_when_configured(tmp_path: Path) -> None:
    plain = make_settings(f"sqlite+aiosqlite:///{tmp_path}/a.db", tmp_path / "var")
    assert isinstance(open_transport(plain), DevMailbox)
    server = SmtpServer(tls="starttls", auth=True, port=2525)
    configured = make_settings(
        f"sqlite+aiosqlite:///{tmp_path}/a.db", tmp_path / "var",
        SMTP_URL=server.url, SMTP_CA_FILE=server.write_ca(str(tmp_path / "ca.pem")), SMTP_TIMEOUT_SECONDS="7",
    )
    transport = open_transport(configured)
    assert isinstance(transport, SmtpTransport)
    assert (transport.host, transport.port, transport.username, transport.password, transport.timeout) == (
        "127.0.0.1", 2525, SMTP_USER, "p@ss:word/with%odd chars", 7.0
    )
    assert transport.implicit_tls is False

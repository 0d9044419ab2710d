"""`supportchat mail-in`'s SMTP/LMTP door: a real aiosmtpd listener (the product's own) on
a free loopback port, fed by aiosmtplib (and by a few lines of raw LMTP), storing through
the real receiver into a real database (SQLite and PostgreSQL)."""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import subprocess
import sys
from collections.abc import AsyncIterator, Sequence
from email.message import EmailMessage
from email.utils import make_msgid
from pathlib import Path

import aiosmtplib
import pytest
from sqlalchemy import select

from chat.clock import ManualClock
from chat.mail.inbound.receive import MailStoreUnavailable, Receipt
from chat.mail.inbound.smtp_in import MAILBOX, MailInServer
from chat.mail.models import InboundMail, InboundStatus
from chat.services import Services
from chat.settings import Settings
from chat.wiring import build_services
from tests.conftest import TEST_SECRET, make_settings
from tests.support.processes import PostgresServer, free_port, wait_for_port

REPO = Path(__file__).resolve().parents[4]


def mail(n: int = 1, *, body: str = "My printer is on fire.\n", sender: str = "ann@customer.example") -> EmailMessage:
    msg = EmailMessage()
    msg["From"] = f"Ann <{sender}>"
    msg["To"] = "support@ours.example"
    msg["Subject"] = f"Printer {n}"
    msg["Message-ID"] = make_msgid(domain="customer.example")
    msg.set_content(body)
    return msg


async def rows(svc: Services) -> list[InboundMail]:
    async with svc.reads() as session:
        return list((await session.execute(select(InboundMail).order_by(InboundMail.id))).scalars())


@pytest.fixture
async def door(svc: Services) -> AsyncIterator[MailInServer]:
    server = MailInServer(svc, port=0)
    await server.start()
    try:
        yield server
    finally:
        await server.stop()


async def test_a_stored_mail_gets_250_and_one_row(svc: Services, door: MailInServer) -> None:
    msg = mail()
    errors, reply = await aiosmtplib.send(msg, hostname="127.0.0.1", port=door.port)
    assert errors == {}
    assert reply.startswith("2.0.0 Message accepted")
    [row] = await rows(svc)
    assert (row.mailbox, row.message_id, row.sender) == (MAILBOX, msg["Message-ID"], "ann@customer.example")

    # The same mail again (a relay that lost our 250): 250 again, still one row.
    errors, reply = await aiosmtplib.send(msg, hostname="127.0.0.1", port=door.port)
    assert reply.startswith("2.0.0")
    assert len(await rows(svc)) == 1


async def test_a_null_envelope_sender_is_an_automatic_mail_that_opens_nothing(svc: Services, door: MailInServer) -> None:
    # MAIL FROM:<> is what bounces and auto-replies use; the door writes it down as
    # Return-Path (RFC 5321 4.4), which is how the intake tells them from a person.
    msg = mail()
    await aiosmtplib.send(msg, sender="", recipients=["support@ours.example"], hostname="127.0.0.1", port=door.port)
    await aiosmtplib.send(mail(2), sender="ann@customer.example", recipients=["support@ours.example"],
                          hostname="127.0.0.1", port=door.port)
    first, second = await rows(svc)
    assert (first.status, second.status) == (InboundStatus.LOOP, InboundStatus.TICKET)
    assert "Return-Path" in first.reason
    assert first.raw.startswith(b"Return-Path: <>\r\n") and second.raw.startswith(b"Return-Path: <ann@customer.example>")


async def test_garbage_is_refused_for_good_with_250_and_no_traceback(
    svc: Services, door: MailInServer, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    _errors, reply = await aiosmtplib.send(
        b"\x00\xff not a mail at all\r\n", sender="x@y.example", recipients=["support@ours.example"],
        hostname="127.0.0.1", port=door.port,
    )
    assert reply.startswith("2.0.0")
    [row] = await rows(svc)
    assert row.status is InboundStatus.REFUSED
    assert row.reason != ""
    assert [r for r in caplog.records if r.exc_info] == []


async def test_over_the_size_limit_is_552_and_nothing_stored(
    db_url: str, tmp_path: Path, clock: ManualClock
) -> None:
    settings = make_settings(db_url, tmp_path / "var", MAIL_IN_MAX_BYTES="10000")
    svc = build_services(settings, clock=clock)
    server = MailInServer(svc, port=0)
    await server.start()
    try:
        big = mail(body="x" * 70 + "\n")
        big.set_content(("x" * 70 + "\n") * 300)  # ~21 kB
        with pytest.raises(aiosmtplib.SMTPResponseException) as refused:
            await aiosmtplib.send(big, hostname="127.0.0.1", port=server.port)
        assert refused.value.code == 552
        # A client that does not announce the size is refused after DATA, the same way.
        client = aiosmtplib.SMTP(hostname="127.0.0.1", port=server.port)
        await client.connect()
        try:
            await client.helo()  # no EHLO: no SIZE extension, no SIZE= on MAIL FROM
            await client.mail("ann@customer.example")
            await client.rcpt("support@ours.example")
            with pytest.raises(aiosmtplib.SMTPDataError) as after_data:
                await client.data(big.as_bytes())
            assert after_data.value.code == 552
        finally:
            client.close()
        assert await rows(svc) == []
    finally:
        await server.stop()
        await svc.close()


async def _break_database(settings: Settings, svc: Services, request: pytest.FixtureRequest) -> tuple[str, str]:
    """Make the database refuse connections; returns what restoring needs."""
    await svc.engine.dispose()
    await svc.read_engine.dispose()
    if settings.is_sqlite:
        path = settings.database_url.split("///", 1)[1]
        os.rename(path, path + ".away")
        os.mkdir(path)  # "unable to open database file"
        return ("sqlite", path)
    postgres: PostgresServer = request.getfixturevalue("postgres")
    name = settings.database_url.rsplit("/", 1)[1]
    postgres.psql(f"ALTER DATABASE {name} ALLOW_CONNECTIONS false")
    postgres.psql(f"SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '{name}'")
    return ("postgres", name)


def _restore_database(how: tuple[str, str], request: pytest.FixtureRequest) -> None:
    kind, where = how
    if kind == "sqlite":
        os.rmdir(where)
        os.rename(where + ".away", where)
        return
    postgres: PostgresServer = request.getfixturevalue("postgres")
    postgres.psql(f"ALTER DATABASE {where} ALLOW_CONNECTIONS true")


async def test_database_down_is_451_nothing_stored_and_the_retry_stores_once(
    settings: Settings, svc: Services, door: MailInServer, request: pytest.FixtureRequest,
    caplog: pytest.LogCaptureFixture,
) -> None:
    msg = mail()
    how = await _break_database(settings, svc, request)
    try:
        with pytest.raises(aiosmtplib.SMTPDataError) as later:
            await aiosmtplib.send(msg, hostname="127.0.0.1", port=door.port)
        assert later.value.code == 451
        assert later.value.message == "4.3.0 Mail store unavailable, try again later"
    finally:
        _restore_database(how, request)
    assert [r for r in caplog.records if r.exc_info] == []
    assert await rows(svc) == []
    # The sending server keeps the mail and tries again: now it is stored, once.
    _errors, reply = await aiosmtplib.send(msg, hostname="127.0.0.1", port=door.port)
    assert reply.startswith("2.0.0")
    assert [r.message_id for r in await rows(svc)] == [msg["Message-ID"]]


async def _lmtp(port: int, sender: str, recipients: Sequence[str], raw: bytes) -> list[bytes]:
    """A minimal LMTP client (RFC 2033): the replies after DATA, one per recipient."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)

    async def reply() -> bytes:
        while True:
            line = await reader.readline()
            if line[3:4] != b"-":
                return line.rstrip()

    try:
        assert (await reply()).startswith(b"220")
        for command in [b"LHLO relay.test", f"MAIL FROM:<{sender}>".encode(),
                        *(f"RCPT TO:<{r}>".encode() for r in recipients)]:
            writer.write(command + b"\r\n")
            assert (await reply()).startswith(b"250"), command
        writer.write(b"DATA\r\n")
        assert (await reply()).startswith(b"354")
        writer.write(raw.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n") + b".\r\n")
        answers = [await reply() for _ in recipients]
        writer.write(b"QUIT\r\n")
        await reply()
        return answers
    finally:
        writer.close()
        await writer.wait_closed()


async def test_lmtp_answers_once_per_recipient_and_stores_once(
    db_url: str, tmp_path: Path, clock: ManualClock
) -> None:
    settings = make_settings(db_url, tmp_path / "var", MAIL_IN_LMTP="true")
    svc = build_services(settings, clock=clock)
    server = MailInServer(svc, port=0)
    await server.start()
    try:
        msg = mail()
        answers = await _lmtp(server.port, "ann@customer.example",
                              ["support@ours.example", "help@ours.example"], msg.as_bytes())
        assert answers == [b"250 2.0.0 Message accepted"] * 2
        assert [(r.mailbox, r.message_id) for r in await rows(svc)] == [(MAILBOX, msg["Message-ID"])]
        # SMTP's greeting is not LMTP's: EHLO is refused on an LMTP door.
        with pytest.raises(aiosmtplib.SMTPException):
            await aiosmtplib.send(mail(2), hostname="127.0.0.1", port=server.port)
    finally:
        await server.stop()
        await svc.close()


async def test_lmtp_database_down_is_451_for_every_recipient(
    db_url: str, tmp_path: Path, clock: ManualClock
) -> None:
    settings = make_settings(db_url, tmp_path / "var", MAIL_IN_LMTP="true")
    svc = build_services(settings, clock=clock)

    async def down(svc: Services, raw: bytes, *, mailbox: str, recipients: Sequence[str] = ()) -> Receipt:
        assert (mailbox, list(recipients)) == (MAILBOX, ["a@ours.example", "b@ours.example"])
        raise MailStoreUnavailable("database is down")

    server = MailInServer(svc, port=0, receiver=down)
    await server.start()
    try:
        answers = await _lmtp(server.port, "ann@customer.example", ["a@ours.example", "b@ours.example"],
                              mail().as_bytes())
        assert answers == [b"451 4.3.0 Mail store unavailable, try again later"] * 2
    finally:
        await server.stop()
        await svc.close()


async def test_a_failing_receiver_keeps_the_mail_at_the_sender(
    svc: Services, caplog: pytest.LogCaptureFixture
) -> None:
    calls: list[bytes] = []

    async def broken(svc: Services, raw: bytes, *, mailbox: str, recipients: Sequence[str] = ()) -> Receipt:
        calls.append(raw)
        raise RuntimeError("a bug")

    server = MailInServer(svc, port=0, receiver=broken)
    await server.start()
    try:
        with pytest.raises(aiosmtplib.SMTPDataError) as later:
            await aiosmtplib.send(mail(), hostname="127.0.0.1", port=server.port)
        assert (later.value.code, len(calls)) == (451, 1)
    finally:
        await server.stop()
    assert next(r.getMessage() for r in caplog.records if r.exc_info).endswith("the receiver failed; the sender will retry")


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
async def test_the_mail_in_command_serves_until_sigterm(settings: Settings, svc: Services) -> None:
    port = free_port()
    env = {
        **os.environ, "DATABASE_URL": settings.database_url, "SECRET_KEY": TEST_SECRET,
        "VAR_DIR": str(settings.var_dir), "MAIL_IN_PORT": str(port), "PYTHONPATH": str(REPO),
    }
    env.pop("IMAP_URL", None)
    process = subprocess.Popen([sys.executable, "-m", "chat", "mail-in"], env=env, cwd=REPO,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        await asyncio.to_thread(wait_for_port, port, 30)
        msg = mail()
        _errors, reply = await aiosmtplib.send(msg, hostname="127.0.0.1", port=port)
        assert reply.startswith("2.0.0")
        process.send_signal(signal.SIGTERM)
        _out, err = await asyncio.to_thread(process.communicate, timeout=30)
        assert process.returncode == 0, err.decode()
        assert b"Traceback" not in err
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    assert [r.message_id for r in await rows(svc)] == [msg["Message-ID"]]

"""The IMAP poller against a real dovecot-imapd (tests/support/dovecot.py), storing through
the real receiver into a real database (SQLite and PostgreSQL): STARTTLS and imaps://,
\\Seen or a move, IDLE, UIDVALIDITY, reconnects, and a restart that neither loses nor
doubles a mail."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Callable, Sequence
from email.message import EmailMessage
from pathlib import Path

import pytest
from sqlalchemy import select

from chat.clock import ManualClock
from chat.mail.inbound.imap_in import ImapError, ImapPoller, ImapTarget
from chat.mail.inbound.receive import Receipt, receive_mail
from chat.mail.models import ImapState, InboundMail
from chat.services import Services
from chat.wiring import build_services
from tests.conftest import make_settings
from tests.support.dovecot import IMAP_USER, DovecotServer, dovecot_server

MAILBOX = f"imap:{IMAP_USER}@127.0.0.1/INBOX"
Rows = list[tuple[str, str | None]]


def mail(n: int) -> bytes:
    msg = EmailMessage()
    msg["From"] = "Ann <ann@customer.example>"
    msg["To"] = "support@ours.example"
    msg["Subject"] = f"Printer {n}"
    msg["Message-ID"] = f"<printer-{n}@customer.example>"
    msg.set_content(f"Printer number {n} is on fire.\n")
    return msg.as_bytes()


def mid(raw: bytes) -> str:
    return next(line for line in raw.decode().splitlines() if line.startswith("Message-ID: ")).split(": ", 1)[1]


async def stored(svc: Services) -> Rows:
    async with svc.reads() as session:
        found = await session.execute(select(InboundMail.mailbox, InboundMail.message_id).order_by(InboundMail.id))
        return [(box, message_id) for box, message_id in found]


async def state(svc: Services, mailbox: str = MAILBOX) -> tuple[int, int] | None:
    async with svc.reads() as session:
        row = await session.get(ImapState, mailbox)
        return None if row is None else (row.uidvalidity, row.last_uid)


@pytest.fixture
async def closing(db_url: str, tmp_path: Path, clock: ManualClock) -> AsyncIterator[Callable[..., Services]]:
    """Makes the services of a mail-in process reading ``server``'s folder; closes them after."""
    made: list[Services] = []

    def make(server: DovecotServer, folder: str = "INBOX", **env: str) -> Services:
        extra = {"IMAP_URL": server.url(folder), **env}
        if server.tls != "none":
            extra["IMAP_CA_FILE"] = server.write_ca(tmp_path / "imap-ca.pem")
        svc = build_services(make_settings(db_url, tmp_path / "var", **extra), clock=clock)
        made.append(svc)
        return svc

    yield make
    for svc in made:
        await svc.close()


def test_the_url_names_the_folder_and_the_mailbox() -> None:
    target = ImapTarget.of("imap://support%40ours:p%40ss@mail.example/Support%20Inbox")
    assert (target.tls, target.host, target.port, target.user, target.password, target.folder) == (
        "starttls", "mail.example", 143, "support@ours", "p@ss", "Support Inbox")
    assert target.mailbox == "imap:support@ours@mail.example/Support Inbox"
    assert ImapTarget.of("imaps://u:p@h").port == 993
    assert ImapTarget.of("imaps://u:p@h").folder == "INBOX"


async def test_new_mails_are_stored_once_and_flagged_seen(
    dovecot: DovecotServer, closing: Callable[..., Services]
) -> None:
    svc = closing(dovecot)
    mails = [mail(n) for n in (1, 2, 3)]
    for raw in mails:
        await dovecot.append(raw)
    poller = ImapPoller(svc)
    assert await poller.sync_once() == 3
    assert await stored(svc) == [(MAILBOX, mid(raw)) for raw in mails]
    assert await dovecot.uids(criteria="UNSEEN") == []
    assert await dovecot.uids(criteria="SEEN") == [1, 2, 3]
    assert await state(svc) == (await dovecot.uidvalidity(), 3)
    # Nothing new: nothing fetched, nothing stored.
    assert await poller.sync_once() == 0
    await dovecot.append(mail(4))
    assert await poller.sync_once() == 1
    assert len(await stored(svc)) == 4
    assert await state(svc) == (await dovecot.uidvalidity(), 4)


async def test_stored_mails_move_to_imap_move_to(dovecot: DovecotServer, closing: Callable[..., Services]) -> None:
    svc = closing(dovecot, IMAP_MOVE_TO="Archive")
    for n in (1, 2):
        await dovecot.append(mail(n))
    assert await ImapPoller(svc).sync_once() == 2
    assert await dovecot.uids() == []
    assert len(await dovecot.uids("Archive")) == 2
    assert len(await stored(svc)) == 2


async def test_implicit_tls(closing: Callable[..., Services]) -> None:
    with dovecot_server(tls="implicit") as server:
        svc = closing(server)
        await server.append(mail(1))
        assert server.url().startswith("imaps://")
        assert await ImapPoller(svc).sync_once() == 1
        assert await stored(svc) == [(MAILBOX, mid(mail(1)))]


async def test_no_password_in_clear_text_without_starttls(closing: Callable[..., Services]) -> None:
    with dovecot_server(tls="none") as server:
        svc = closing(server)
        await server.append(mail(1))
        logins = server.log.count("Login: user=<support>")  # the helper's own, for the APPEND
        with pytest.raises(ImapError, match="offers no STARTTLS"):
            await ImapPoller(svc).sync_once()
        assert server.log.count("Login: user=<support>") == logins
        assert await stored(svc) == []


async def test_a_restart_mid_way_neither_loses_nor_doubles_a_mail(
    dovecot: DovecotServer, closing: Callable[..., Services]
) -> None:
    svc = closing(dovecot)
    mails = [mail(n) for n in (1, 2, 3)]
    for raw in mails:
        await dovecot.append(raw)
    first_stored = asyncio.Event()

    async def store_then_hang(svc: Services, raw: bytes, *, mailbox: str, recipients: Sequence[str] = ()) -> Receipt:
        receipt = await receive_mail(svc, raw, mailbox=mailbox, recipients=recipients)
        first_stored.set()
        await asyncio.Event().wait()  # killed here: stored, not flagged, UID not advanced
        return receipt

    stop = asyncio.Event()
    task = asyncio.create_task(ImapPoller(svc, receiver=store_then_hang).run(stop))
    await asyncio.wait_for(first_stored.wait(), 20)
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)
    assert await stored(svc) == [(MAILBOX, mid(mails[0]))]
    assert (await state(svc) or (0, -1))[1] == 0
    assert await dovecot.uids(criteria="UNSEEN") == [1, 2, 3]

    # Run again: the first comes back as a repeat, the others are new.
    assert await ImapPoller(svc).sync_once() == 2
    assert await stored(svc) == [(MAILBOX, mid(raw)) for raw in mails]
    assert await dovecot.uids(criteria="UNSEEN") == []
    assert (await state(svc) or (0, -1))[1] == 3


async def test_a_new_uidvalidity_reads_the_folder_again_without_doubling(
    dovecot: DovecotServer, closing: Callable[..., Services], caplog: pytest.LogCaptureFixture
) -> None:
    await dovecot.create("Support")
    svc = closing(dovecot, "Support")
    box = f"imap:{IMAP_USER}@127.0.0.1/Support"
    mails = [mail(n) for n in (1, 2)]
    for raw in mails:
        await dovecot.append(raw, "Support")
    poller = ImapPoller(svc)
    assert await poller.sync_once() == 2
    before = await dovecot.uidvalidity("Support")
    # The folder is recreated (a restore, a migration): same mails, new UIDVALIDITY.
    await asyncio.sleep(1.1)  # dovecot's UIDVALIDITY is a time in seconds
    await dovecot.delete("Support")
    await dovecot.create("Support")
    for raw in [*mails, mail(3)]:
        await dovecot.append(raw, "Support")
    after = await dovecot.uidvalidity("Support")
    assert after != before
    assert await poller.sync_once() == 1
    assert await stored(svc) == [(box, mid(raw)) for raw in [*mails, mail(3)]]
    assert await state(svc, box) == (after, 3)
    assert any("UIDVALIDITY changed" in r.getMessage() for r in caplog.records)


async def test_idle_brings_a_new_mail_without_polling(
    dovecot: DovecotServer, closing: Callable[..., Services]
) -> None:
    svc = closing(dovecot)
    await dovecot.append(mail(1))
    stop = asyncio.Event()
    # Polling would take an hour here: only IDLE's push can bring the second mail in time.
    task = asyncio.create_task(ImapPoller(svc, idle_seconds=3600, poll_seconds=3600).run(stop))
    try:
        await until(svc, lambda rows: len(rows) == 1)
        await dovecot.append(mail(2))
        await until(svc, lambda rows: len(rows) == 2)
    finally:
        stop.set()
        await asyncio.wait_for(task, 10)
    assert await stored(svc) == [(MAILBOX, mid(mail(1))), (MAILBOX, mid(mail(2)))]


async def test_a_server_outage_is_retried_with_backoff(
    dovecot: DovecotServer, closing: Callable[..., Services], caplog: pytest.LogCaptureFixture
) -> None:
    svc = closing(dovecot)
    stop = asyncio.Event()
    dovecot.stop()
    task = asyncio.create_task(
        ImapPoller(svc, idle_seconds=3600, poll_seconds=3600, backoff_min=0.1, backoff_max=0.5, timeout=2).run(stop))
    try:
        await until(svc, lambda _: sum("trying again" in r.getMessage() for r in caplog.records) >= 2)
        dovecot.start()
        await dovecot.append(mail(1))
        await until(svc, lambda rows: len(rows) == 1)
    finally:
        stop.set()
        await asyncio.wait_for(task, 10)
    assert [r for r in caplog.records if r.exc_info] == []


async def until(svc: Services, condition: Callable[[Rows], bool], timeout: float = 20) -> None:
    """Wait until ``condition`` holds of the stored mails."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        rows = await stored(svc)
        if condition(rows):
            return
        if loop.time() > deadline:
            raise AssertionError(f"not within {timeout}s; stored: {rows}")
        await asyncio.sleep(0.05)


@pytest.fixture(autouse=True)
def _quiet(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="chat.mail.inbound.imap_in")

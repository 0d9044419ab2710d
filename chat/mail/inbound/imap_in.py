"""The IMAP poller (``IMAP_URL``): fetch new mails from one folder, store them, then flag
or move them on the server; wait for more with IDLE.

Neither a restart nor a crash loses or doubles a mail. Per mail, in this order: fetch it
(``BODY.PEEK[]``, which leaves it unseen), hand it to the receiver, flag it ``\\Seen`` or
move it to ``IMAP_MOVE_TO``, then advance ``ImapState.last_uid`` in its own small
transaction. A crash before the advance fetches the mail again on the next run, and the
receiver's unique key on (mailbox, Message-ID) stores it once; a crash before the
receiver committed leaves the UID behind, so the mail is fetched again. UIDs mean
something only within one UIDVALIDITY (RFC 3501 2.3.1.1): when the server changes it the
poller starts over from UID 1, and that same unique key keeps the re-read from doubling.

Connection: ``imaps://`` (TLS from the start) or ``imap://`` upgraded with STARTTLS
before the password is sent — never a password in clear text; the server's certificate
is checked against ``IMAP_CA_FILE`` or the system's CAs. Errors (the server gone, a
refused login, the database down) are logged as one line and retried with backoff.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
import ssl
from collections.abc import Awaitable, Sequence
from dataclasses import dataclass
from typing import Any, Literal, Protocol
from urllib.parse import unquote, urlsplit

# aioimaplib ships no type information; what it returns is checked where it is read.
import aioimaplib  # type: ignore[import-untyped]
from sqlalchemy.exc import SQLAlchemyError

from chat.mail.inbound.receive import MailStoreUnavailable, Receipt, receive_mail
from chat.mail.models import ImapState
from chat.services import Services

log = logging.getLogger("chat.mail.inbound.imap_in")

# RFC 2177: servers may drop a client idle for 30 minutes, so IDLE is renewed before that.
IDLE_SECONDS = 25 * 60.0
# A server without IDLE is asked this often; a minute is quick enough for a support inbox
# and light on the server.
POLL_SECONDS = 60.0
# After an error: 1 s, doubling to 5 min, so a long outage costs one line every 5 minutes.
BACKOFF_MIN_SECONDS = 1.0
BACKOFF_MAX_SECONDS = 300.0
# One IMAP command (not a whole mail's transfer: the timer restarts on every chunk read).
COMMAND_TIMEOUT_SECONDS = 30.0


class ImapError(Exception):
    """The server said NO or BAD, or answered something we cannot read."""


class Receiver(Protocol):
    def __call__(
        self, svc: Services, raw: bytes, *, mailbox: str, recipients: Sequence[str] = ()
    ) -> Awaitable[Receipt]: ...


@dataclass(frozen=True)
class ImapTarget:
    """Where to read, from ``IMAP_URL``: ``imaps://user:pass@host:993/INBOX``."""

    tls: Literal["implicit", "starttls"]
    host: str
    port: int
    user: str
    password: str
    folder: str

    @property
    def mailbox(self) -> str:
        """The received-mail log's name of this folder (and the unique key's scope)."""
        return f"imap:{self.user}@{self.host}/{self.folder}"

    @classmethod
    def of(cls, url: str) -> ImapTarget:
        parts = urlsplit(url)
        implicit = parts.scheme == "imaps"
        return cls(
            tls="implicit" if implicit else "starttls",
            host=parts.hostname or "localhost",
            port=parts.port or (993 if implicit else 143),
            user=unquote(parts.username or ""),
            password=unquote(parts.password or ""),
            folder=unquote(parts.path.lstrip("/")) or "INBOX",
        )


def quoted(name: str) -> str:
    """An IMAP quoted string (RFC 3501 9): a folder name may hold spaces."""
    return '"' + name.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _check(response: Any, what: str) -> list[Any]:
    if getattr(response, "result", None) != "OK":
        lines = getattr(response, "lines", None) or [b""]
        last = lines[-1]
        text = last.decode(errors="replace") if isinstance(last, bytes | bytearray) else str(last)
        raise ImapError(f"{what}: {getattr(response, 'result', '?')} {text}".strip())
    return list(response.lines)


def uidvalidity_of(lines: Sequence[Any]) -> int:
    for line in lines:
        if isinstance(line, bytes | bytearray):
            match = re.search(rb"UIDVALIDITY (\d+)", line)
            if match:
                return int(match.group(1))
    raise ImapError("SELECT gave no UIDVALIDITY")


def uids_of(lines: Sequence[Any]) -> list[int]:
    """The UIDs of a ``UID SEARCH`` answer (``* SEARCH 4 5 9``; aioimaplib hands over the
    text after ``SEARCH``, then the completion line, which is left out)."""
    found: list[int] = []
    for line in lines[:-1]:
        if isinstance(line, bytes | bytearray):
            words = line.split()
            if words and words[0].upper() == b"SEARCH":
                words = words[1:]
            if all(word.isdigit() for word in words):
                found.extend(int(word) for word in words)
    return found


def body_of(lines: Sequence[Any]) -> bytes | None:
    """The message of a ``UID FETCH … BODY.PEEK[]`` answer: the literal after the FETCH
    line; None when the mail is gone (expunged by another client meanwhile)."""
    for index, line in enumerate(lines):
        if isinstance(line, bytes) and b"FETCH" in line and b"BODY[]" in line and index + 1 < len(lines):
            body = lines[index + 1]
            if isinstance(body, bytearray | bytes):
                return bytes(body)
    return None


class ImapPoller:
    """Reads one IMAP folder into the received-mail log (see the module's contract)."""

    def __init__(
        self,
        svc: Services,
        *,
        receiver: Receiver = receive_mail,
        url: str | None = None,
        idle_seconds: float = IDLE_SECONDS,
        poll_seconds: float = POLL_SECONDS,
        backoff_min: float = BACKOFF_MIN_SECONDS,
        backoff_max: float = BACKOFF_MAX_SECONDS,
        timeout: float = COMMAND_TIMEOUT_SECONDS,
    ) -> None:
        given = url if url is not None else svc.settings.imap_url
        if not given:
            raise ValueError("ImapPoller needs IMAP_URL")
        self.svc = svc
        self.receiver = receiver
        self.target = ImapTarget.of(given)
        self.move_to = svc.settings.imap_move_to
        self.idle_seconds = idle_seconds
        self.poll_seconds = poll_seconds
        self.backoff_min = backoff_min
        self.backoff_max = backoff_max
        self.timeout = timeout

    @property
    def mailbox(self) -> str:
        return self.target.mailbox

    # -- the loop -------------------------------------------------------------------------

    async def run(self, stop: asyncio.Event) -> None:
        """Read, wait for news, read again — until ``stop`` is set. Never raises: every
        error is one log line and a retry after a growing pause."""
        delay = self.backoff_min
        while not stop.is_set():
            try:
                client = await self._connect()
                try:
                    while not stop.is_set():
                        await self._sync(client)
                        delay = self.backoff_min
                        await self._wait_for_news(client, stop)
                finally:
                    await self._logout(client)
            except (ImapError, MailStoreUnavailable, SQLAlchemyError, OSError, TimeoutError,
                    aioimaplib.AioImapException) as exc:
                log.warning("IMAP %s: %s: %s; trying again in %.1f s",
                            self.mailbox, type(exc).__name__, exc, delay)
            except Exception:
                # Not the server and not the database: a bug. Keep polling (the mail waits
                # on the server meanwhile), but with the traceback it needs.
                log.exception("IMAP %s: failed; trying again in %.1f s", self.mailbox, delay)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), delay)
            delay = min(delay * 2, self.backoff_max)

    async def sync_once(self) -> int:
        """Connect, store every new mail of the folder, disconnect; how many were new."""
        client = await self._connect()
        try:
            return await self._sync(client)
        finally:
            await self._logout(client)

    # -- connection -----------------------------------------------------------------------

    def _tls_context(self) -> ssl.SSLContext:
        return ssl.create_default_context(cafile=self.svc.settings.imap_ca_file)

    async def _connect(self) -> Any:
        target = self.target
        if target.tls == "implicit":
            client = aioimaplib.IMAP4_SSL(target.host, target.port, timeout=self.timeout,
                                          ssl_context=self._tls_context())
        else:
            client = aioimaplib.IMAP4(target.host, target.port, timeout=self.timeout)
        try:
            await client.wait_hello_from_server()
            if target.tls == "starttls":
                await self._starttls(client)
            _check(await client.login(quoted(target.user), target.password), "LOGIN")
            if self.move_to:
                # Ignored when it exists already (NO [ALREADYEXISTS]); a real problem with
                # the folder shows on the first MOVE.
                await client.create(quoted(self.move_to))
        except BaseException:
            await self._logout(client)
            raise
        return client

    async def _starttls(self, client: Any) -> None:
        """RFC 3501 6.2.1: STARTTLS, the TLS handshake on the same socket, then forget the
        capabilities said in the clear and ask again. aioimaplib has no STARTTLS of its
        own; its protocol object carries on over the upgraded transport."""
        protocol = client.protocol
        if "STARTTLS" not in protocol.capabilities:
            raise ImapError("the server offers no STARTTLS: use imaps:// (a password is never sent in clear text)")
        command = aioimaplib.Command("STARTTLS", protocol.new_tag(), loop=protocol.loop)
        _check(await asyncio.wait_for(protocol.execute(command), self.timeout), "STARTTLS")
        loop = asyncio.get_running_loop()
        protocol.transport = await asyncio.wait_for(
            loop.start_tls(protocol.transport, protocol, self._tls_context(), server_hostname=self.target.host),
            self.timeout,
        )
        await asyncio.wait_for(protocol.capability(), self.timeout)

    async def _logout(self, client: Any) -> None:
        # Best effort: the connection may already be gone, and nothing depends on a clean
        # goodbye (the UIDs are in the database).
        with contextlib.suppress(Exception):
            if client.protocol is not None and client.protocol.transport is not None:
                if client.get_state() in ("AUTH", "SELECTED", "NONAUTH"):
                    await asyncio.wait_for(client.logout(), 5)
                client.protocol.transport.close()

    # -- one pass ---------------------------------------------------------------------------

    async def _sync(self, client: Any) -> int:
        uidvalidity = uidvalidity_of(_check(await client.select(quoted(self.target.folder)), "SELECT"))
        last_uid = await self._last_uid(uidvalidity)
        found = uids_of(_check(await client.uid_search(f"UID {last_uid + 1}:*", charset=None), "UID SEARCH"))
        # "n:*" always names the highest UID, even one below n (RFC 3501 6.4.8).
        new = sorted(uid for uid in set(found) if uid > last_uid)
        stored = 0
        for uid in new:
            raw = body_of(_check(await client.uid("fetch", str(uid), "BODY.PEEK[]"), "UID FETCH"))
            if raw is not None:
                receipt = await self.receiver(self.svc, raw, mailbox=self.mailbox, recipients=())
                stored += 0 if receipt.duplicate else 1
                log.info("IMAP %s UID %s: mail %s %s%s", self.mailbox, uid, receipt.inbound_id, receipt.status,
                         " (a repeat)" if receipt.duplicate else "")
                await self._done_with(client, uid)
            await self._advance(uidvalidity, uid)
        return stored

    async def _done_with(self, client: Any, uid: int) -> None:
        """Flag the stored mail ``\\Seen``, or move it to ``IMAP_MOVE_TO``."""
        if not self.move_to:
            _check(await client.uid("store", str(uid), "+FLAGS.SILENT", "(\\Seen)"), "UID STORE")
            return
        if client.has_capability("MOVE"):
            _check(await client.uid("move", str(uid), quoted(self.move_to)), "UID MOVE")
            return
        # RFC 6851's fallback: copy, mark deleted, expunge just this UID where UIDPLUS
        # allows (a plain EXPUNGE would also remove what another client marked deleted).
        _check(await client.uid("copy", str(uid), quoted(self.move_to)), "UID COPY")
        _check(await client.uid("store", str(uid), "+FLAGS.SILENT", "(\\Deleted)"), "UID STORE")
        if client.has_capability("UIDPLUS"):
            _check(await client.uid("expunge", str(uid)), "UID EXPUNGE")
        else:
            _check(await client.expunge(), "EXPUNGE")

    async def _wait_for_news(self, client: Any, stop: asyncio.Event) -> None:
        """Return when the folder may hold new mail: the server said EXISTS during IDLE,
        IDLE ran ``idle_seconds`` (renewed, and a pass made in case a push was lost), or
        ``poll_seconds`` passed on a server without IDLE; at once when ``stop`` is set."""
        if not client.has_capability("IDLE"):
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), self.poll_seconds)
            return
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.idle_seconds
        idle = await client.idle_start(timeout=self.idle_seconds)
        stopping = asyncio.ensure_future(stop.wait())
        try:
            while True:
                push = asyncio.ensure_future(client.wait_server_push(timeout=max(deadline - loop.time(), 0) + 5))
                done, _ = await asyncio.wait({push, stopping}, return_when=asyncio.FIRST_COMPLETED)
                if push not in done:
                    push.cancel()
                    return
                lines = push.result()  # raises TimeoutError when the server fell silent
                if lines == aioimaplib.STOP_WAIT_SERVER_PUSH:
                    return
                if any(isinstance(line, bytes) and line.endswith(b"EXISTS") for line in lines):
                    return
        finally:
            stopping.cancel()
            if client.has_pending_idle():
                client.idle_done()
            await asyncio.wait_for(idle, self.timeout)

    # -- bookkeeping ----------------------------------------------------------------------

    async def _last_uid(self, uidvalidity: int) -> int:
        """The last UID handled in this folder under ``uidvalidity``; 0 (start over) under
        a new one, which is recorded at once."""
        async with self.svc.sessions() as session, session.begin():
            state = await session.get(ImapState, self.mailbox)
            if state is not None and state.uidvalidity == uidvalidity:
                return state.last_uid
            if state is None:
                session.add(ImapState(mailbox=self.mailbox, uidvalidity=uidvalidity, last_uid=0,
                                      updated_at=self.svc.clock.now()))
            else:
                log.warning("IMAP %s: UIDVALIDITY changed %s -> %s; reading the folder again from the start",
                            self.mailbox, state.uidvalidity, uidvalidity)
                state.uidvalidity, state.last_uid, state.updated_at = uidvalidity, 0, self.svc.clock.now()
            return 0

    async def _advance(self, uidvalidity: int, uid: int) -> None:
        async with self.svc.sessions() as session, session.begin():
            state = await session.get(ImapState, self.mailbox)
            if state is not None and state.uidvalidity == uidvalidity and state.last_uid < uid:
                state.last_uid, state.updated_at = uid, self.svc.clock.now()

"""A real IMAP server for tests: Debian's dovecot-imapd on 127.0.0.1 and a free port,
running as an unprivileged user with its own configuration in a temp dir.

One user (:data:`IMAP_USER` / :data:`IMAP_PASSWORD`) in a passwd-file, plain-text login,
mails in a maildir under the temp dir; no syslog (the log is ``dovecot.log`` there).
TLS: ``"none"`` (plain imap://), ``"starttls"`` (imap:// upgraded, a throwaway trustme CA)
or ``"implicit"`` (imaps://). Mails are put into a folder with IMAP APPEND
(:meth:`DovecotServer.append`), as a mail server delivering to the mailbox would.

A missing dovecot is an error, never a skip: the suite must not pass by testing less.

Usage: the ``dovecot`` fixture (imap:// with STARTTLS), or ``with dovecot_server(tls=...) as imap:``;
a product configured for it: ``IMAP_URL=imap.url()`` and ``IMAP_CA_FILE=imap.write_ca(path)``.
"""

from __future__ import annotations

import contextlib
import grp
import os
import pwd
import re
import shutil
import signal
import ssl
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal
from urllib.parse import quote

import aioimaplib
import pytest
import trustme

from tests.support.processes import free_port, wait_for_port

IMAP_USER = "support"
IMAP_PASSWORD = "imap-secret"
DOVECOT = "/usr/sbin/dovecot"

Tls = Literal["none", "starttls", "implicit"]


def _unprivileged() -> tuple[str, str]:
    """Who dovecot runs as: as root, ``nobody`` (dovecot refuses to give mail to root and
    a test has no business with root's rights); otherwise the current user."""
    if os.geteuid() == 0:
        user = pwd.getpwnam("nobody")
        return user.pw_name, grp.getgrgid(user.pw_gid).gr_name
    me = pwd.getpwuid(os.geteuid())
    return me.pw_name, grp.getgrgid(me.pw_gid).gr_name


@dataclass
class DovecotServer:
    tls: Tls = "none"
    port: int = field(default_factory=free_port)
    host: str = "127.0.0.1"
    root: Path = field(default_factory=lambda: Path(tempfile.mkdtemp(prefix="supportchat-dovecot-")))
    _ca: trustme.CA = field(default_factory=trustme.CA)
    _process: subprocess.Popen[bytes] | None = None

    # -- what a client needs ------------------------------------------------------------

    def url(self, folder: str = "INBOX", *, password: str = IMAP_PASSWORD) -> str:
        """An ``IMAP_URL`` for this server and folder."""
        scheme = "imaps" if self.tls == "implicit" else "imap"
        return f"{scheme}://{IMAP_USER}:{quote(password, safe='')}@{self.host}:{self.port}/{quote(folder)}"

    def write_ca(self, path: str | Path) -> str:
        """The CA certificate as a PEM file (for ``IMAP_CA_FILE``)."""
        self._ca.cert_pem.write_to_path(str(path))
        return str(path)

    @property
    def client_tls(self) -> ssl.SSLContext:
        ctx = ssl.create_default_context()
        self._ca.configure_trust(ctx)
        return ctx

    @property
    def log(self) -> str:
        path = self.root / "dovecot.log"
        return path.read_text(errors="replace") if path.exists() else ""

    # -- lifecycle ----------------------------------------------------------------------

    def start(self) -> None:
        if not Path(DOVECOT).exists():
            raise RuntimeError(
                f"{DOVECOT} not found: install the Debian package 'dovecot-imapd' — scripts/test does it"
            )
        user, group = _unprivileged()
        uid, gid = pwd.getpwnam(user).pw_uid, grp.getgrnam(group).gr_gid
        for sub in ("run", "state", "mail", "home"):
            (self.root / sub).mkdir(exist_ok=True)
        (self.root / "passwd").write_text(
            f"{IMAP_USER}:{{PLAIN}}{IMAP_PASSWORD}:{uid}:{gid}::{self.root / 'home'}::\n"
        )
        (self.root / "dovecot.conf").write_text(self._config(user, group))
        if self.tls != "none":
            cert = self._ca.issue_cert("127.0.0.1", "localhost")
            cert.cert_chain_pems[0].write_to_path(str(self.root / "cert.pem"))
            cert.private_key_pem.write_to_path(str(self.root / "key.pem"))
        if os.geteuid() == 0:
            for path in [self.root, *self.root.rglob("*")]:
                os.chown(path, uid, gid)
        cmd = [DOVECOT, "-F", "-c", str(self.root / "dovecot.conf")]
        if os.geteuid() == 0:
            cmd = ["runuser", "-u", user, "--", *cmd]
        self._process = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        try:
            wait_for_port(self.port, timeout=20)
        except RuntimeError:
            self.stop()
            raise RuntimeError(f"dovecot did not start; its log:\n{self.log}") from None

    def stop(self) -> None:
        """Stop dovecot and wait until its master process is gone (then its port is free
        and a :meth:`start` on the same port works: an outage)."""
        if self._process is None:
            return
        master = self._master_pid()
        self._process.terminate()
        try:
            self._process.wait(10)
        except subprocess.TimeoutExpired:
            self._process.kill()
            self._process.wait()
        if self._process.stderr is not None:
            self._process.stderr.close()
        self._process = None
        # runuser passes SIGTERM on and returns at once; the master is still closing down
        # its children and would refuse the next start ("already running").
        if master is not None:
            deadline = time.monotonic() + 10
            while _alive(master) and time.monotonic() < deadline:
                time.sleep(0.02)
            if _alive(master):
                os.kill(master, signal.SIGKILL)

    def _master_pid(self) -> int | None:
        try:
            return int((self.root / "run" / "master.pid").read_text().split()[0])
        except (OSError, ValueError, IndexError):
            return None

    def cleanup(self) -> None:
        self.stop()
        shutil.rmtree(self.root, ignore_errors=True)

    def _config(self, user: str, group: str) -> str:
        root = self.root
        ssl_lines = "ssl = no\n" if self.tls == "none" else (
            f"ssl = {'required' if self.tls == 'implicit' else 'yes'}\n"
            f"ssl_cert = <{root / 'cert.pem'}\nssl_key = <{root / 'key.pem'}\n"
        )
        imap_port, imaps_port = (0, self.port) if self.tls == "implicit" else (self.port, 0)
        return f"""\
# Written by tests/support/dovecot.py: a throwaway server for one test.
protocols = imap
listen = {self.host}
base_dir = {root / 'run'}
state_dir = {root / 'state'}
log_path = {root / 'dovecot.log'}
info_log_path = {root / 'dovecot.log'}
default_login_user = {user}
default_internal_user = {user}
default_internal_group = {group}
first_valid_uid = 1
disable_plaintext_auth = no
auth_mechanisms = plain login
{ssl_lines}
passdb {{
  driver = passwd-file
  args = scheme=PLAIN username_format=%u {root / 'passwd'}
}}
userdb {{
  driver = passwd-file
  args = username_format=%u {root / 'passwd'}
}}
mail_location = maildir:{root / 'mail'}/%u
namespace inbox {{
  inbox = yes
  separator = /
  mailbox Archive {{
    auto = create
  }}
}}
service imap-login {{
  chroot =
  inet_listener imap {{
    address = {self.host}
    port = {imap_port}
  }}
  inet_listener imaps {{
    address = {self.host}
    port = {imaps_port}
  }}
}}
service anvil {{
  chroot =
}}
service stats {{
  unix_listener stats-reader {{
    mode = 0600
  }}
  unix_listener stats-writer {{
    mode = 0600
  }}
}}
"""

    # -- putting mail there, looking at it -------------------------------------------------

    async def _client(self) -> aioimaplib.IMAP4:
        if self.tls == "implicit":
            client: aioimaplib.IMAP4 = aioimaplib.IMAP4_SSL(self.host, self.port, ssl_context=self.client_tls)
        else:
            client = aioimaplib.IMAP4(self.host, self.port)
        await client.wait_hello_from_server()
        # The test helper logs in over plain text even in "starttls" mode: dovecot allows it
        # (disable_plaintext_auth = no), and the product's own STARTTLS is what is tested.
        response = await client.login(IMAP_USER, IMAP_PASSWORD)
        assert response.result == "OK", response
        return client

    async def append(self, raw: bytes, folder: str = "INBOX") -> None:
        """Put one mail into ``folder`` with IMAP APPEND."""
        client = await self._client()
        try:
            response = await client.append(raw, mailbox=folder)
            assert response.result == "OK", response
        finally:
            await client.logout()

    async def create(self, folder: str) -> None:
        client = await self._client()
        try:
            response = await client.create(folder)
            assert response.result == "OK", response
        finally:
            await client.logout()

    async def delete(self, folder: str) -> None:
        client = await self._client()
        try:
            response = await client.delete(folder)
            assert response.result == "OK", response
        finally:
            await client.logout()

    async def uids(self, folder: str = "INBOX", criteria: str = "ALL") -> list[int]:
        """The UIDs in ``folder`` matching a SEARCH criteria (``"ALL"``, ``"UNSEEN"``, ``"SEEN"``)."""
        client = await self._client()
        try:
            response = await client.select(folder)
            assert response.result == "OK", response
            found = await client.uid_search(criteria)
            assert found.result == "OK", found
            return [int(n) for line in found.lines[:1] for n in re.findall(rb"\d+", line)]
        finally:
            await client.logout()

    async def uidvalidity(self, folder: str = "INBOX") -> int:
        client = await self._client()
        try:
            response = await client.select(folder)
            for line in response.lines:
                match = re.search(rb"UIDVALIDITY (\d+)", line)
                if match:
                    return int(match.group(1))
            raise AssertionError(f"no UIDVALIDITY in {response}")
        finally:
            await client.logout()


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


@contextlib.contextmanager
def dovecot_server(*, tls: Tls = "none") -> Iterator[DovecotServer]:
    server = DovecotServer(tls=tls)
    server.start()
    try:
        yield server
    finally:
        server.cleanup()


@pytest.fixture
def dovecot() -> Iterator[DovecotServer]:
    """A dovecot on loopback for this test: imap:// with STARTTLS (the product never sends
    a password in clear text), its throwaway CA in :meth:`DovecotServer.write_ca`."""
    with dovecot_server(tls="starttls") as server:
        yield server

"""Mail benchmark: how fast one sender delivers a backlog of queued mails (issue 15: 10 000
queued notifications to a local aiosmtpd, >= 200 mails/s per worker).

An aiosmtpd server (``tests/support/smtp_server.py``, STARTTLS and AUTH as a submission
relay would have) runs in a process of its own. In the same session, against that server:

1. the **baseline**: bare ``aiosmtplib`` sending the same messages on one open connection
   (and on ``SEND_CONCURRENCY`` connections at once), no database at all — what the
   client library and the server can do;
2. **ours**: ``chat.mail.sender.send_due`` called as the sweeper calls it, until nothing is
   due, over a backlog of outbox rows in a fresh SQLite file (the embedded default): claim
   a batch, send, mark each mail in its own transaction. With one send in flight and with
   ``SEND_CONCURRENCY``.

Reported as mails/s, as a ratio to the 200 mails/s target, and as a ratio to the baseline.

    .venv/bin/python -m bench.mail_bench                # 10 000 mails, about a minute
    .venv/bin/python -m bench.mail_bench --mails 2000
"""

from __future__ import annotations

import argparse
import asyncio
import shutil
import ssl
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from email.message import EmailMessage
from email.utils import make_msgid
from pathlib import Path
from urllib.parse import unquote, urlsplit

import aiosmtplib
from sqlalchemy import func, insert, select

from bench.procfs import machine
from chat import migrate
from chat.mail.models import MailStatus, OutboxMail
from chat.mail.sender import SEND_CONCURRENCY, send_due
from chat.mail.smtp import SmtpTransport, tls_context_for
from chat.services import open_services
from chat.settings import load_settings

TARGET = 200.0  # mails/s per worker (issue 15)
BODY = ("Your ticket #1234 has a new reply from Support:\n\n" + "Lorem ipsum dolor sit amet. " * 30 + "\n") * 2


@dataclass
class Run:
    name: str
    connections: int
    mails: int
    seconds: float

    @property
    def rate(self) -> float:
        return self.mails / self.seconds


def message(n: int) -> tuple[str, bytes]:
    msg = EmailMessage()
    msg["From"] = "Acme Support <support@ours.example>"
    msg["To"] = f"customer{n}@customer.example"
    msg["Subject"] = f"[#{n}] Printer on fire"
    msg["Message-ID"] = make_msgid(idstring=f"bench{n}", domain="ours.example")
    msg["Auto-Submitted"] = "auto-generated"
    msg.set_content(BODY)
    return f"customer{n}@customer.example", msg.as_bytes()


async def baseline(url: str, ca: str, mails: int, connections: int) -> Run:
    """Bare aiosmtplib: ``connections`` open connections, each sending its share in turn."""
    parts = urlsplit(url)
    clients = []
    for _ in range(connections):
        client = aiosmtplib.SMTP(hostname=parts.hostname, port=parts.port, username=unquote(parts.username or ""),
                                 password=unquote(parts.password or ""), start_tls=True,
                                 tls_context=ssl.create_default_context(cafile=ca), local_hostname="localhost")
        await client.connect()
        clients.append(client)
    messages = [message(n) for n in range(mails)]

    async def lane(client: aiosmtplib.SMTP, share: list[tuple[str, bytes]]) -> None:
        for to, raw in share:
            await client.sendmail("support@ours.example", [to], raw)

    started = time.perf_counter()
    await asyncio.gather(*(lane(c, messages[i::connections]) for i, c in enumerate(clients)))
    seconds = time.perf_counter() - started
    for client in clients:
        await client.quit()
    return Run(f"baseline: aiosmtplib alone, {connections} connection(s)", connections, mails, seconds)


def fresh_database(workdir: Path, name: str) -> str:
    """A migrated SQLite file (Alembic runs its own event loop: call outside one)."""
    db_url = f"sqlite+aiosqlite:///{workdir / name}"
    migrate.upgrade(db_url)
    return db_url


async def ours(url: str, ca: str, db_url: str, workdir: Path, mails: int, concurrency: int) -> Run:
    settings = load_settings({"DATABASE_URL": db_url, "VAR_DIR": str(workdir / "var"), "SECRET_KEY": "x" * 40,
                              "SMTP_URL": url, "SMTP_CA_FILE": ca, "MAIL_FROM": "Acme Support <support@ours.example>"})
    transport = SmtpTransport(url, tls_context=tls_context_for(settings), connections=concurrency,
                              timeout=float(settings.smtp_timeout_seconds))
    svc = open_services(settings, mail=transport)
    try:
        now = svc.clock.now()
        async with svc.sessions() as db, db.begin():
            rows = []
            for n in range(mails):
                to, raw = message(n)
                rows.append({"key": f"bench:{n}", "kind": "support_reply", "to_addr": to,
                             "message_id": f"<bench{n}.{concurrency}@ours.example>", "subject": f"[#{n}] Printer on fire",
                             "raw": raw, "context": {}, "status": MailStatus.PENDING, "attempts": 0,
                             "due_at": now, "created_at": now, "updated_at": now})
            await db.execute(insert(OutboxMail), rows)
        started = time.perf_counter()
        sent = 0
        passes = 0
        while True:
            done = await send_due(svc, svc.clock.now(), concurrency=concurrency)
            passes += 1
            sent += done
            if done == 0:
                break
        seconds = time.perf_counter() - started
        async with svc.reads() as db:
            delivered = await db.scalar(select(func.count()).where(OutboxMail.status == MailStatus.SENT))
        if delivered != mails or sent != mails:
            raise SystemExit(f"only {delivered} of {mails} mails were sent ({sent} marked)")
        return Run(f"ours: send_due, {concurrency} in flight ({passes} calls)", concurrency, mails, seconds)
    finally:
        await svc.close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.mail_bench", description=__doc__.split("\n\n")[0])
    parser.add_argument("--mails", type=int, default=10_000, help="queued mails per run (default 10 000)")
    args = parser.parse_args(argv)
    workdir = Path(tempfile.mkdtemp(prefix="mailbench-"))
    ca = str(workdir / "ca.pem")
    when = datetime.now(UTC)
    load_before = Path("/proc/loadavg").read_text().split()[:3]
    server = subprocess.Popen(
        [sys.executable, "-m", "tests.support.smtp_server", "--tls", "starttls", "--auth", "--ca", ca],
        stdout=subprocess.PIPE, text=True,
    )
    runs: list[Run] = []
    try:
        assert server.stdout is not None
        ready = server.stdout.readline().split()
        if not ready or ready[0] != "ready":
            raise SystemExit("the SMTP server did not start")
        url = ready[1]
        runs.append(asyncio.run(baseline(url, ca, args.mails, 1)))
        runs.append(asyncio.run(baseline(url, ca, args.mails, SEND_CONCURRENCY)))
        for concurrency in sorted({1, SEND_CONCURRENCY}):
            db_url = fresh_database(workdir, f"mail-{concurrency}.db")
            runs.append(asyncio.run(ours(url, ca, db_url, workdir, args.mails, concurrency)))
    finally:
        server.terminate()
        tail = server.communicate(timeout=30)[0].strip()
        shutil.rmtree(workdir, ignore_errors=True)
    load_after = Path("/proc/loadavg").read_text().split()[:3]
    info = machine()
    print(f"Run {when:%Y-%m-%d %H:%M} UTC on {', '.join(f'{k} {v}' for k, v in info.items())}; "
          f"`python -m bench.mail_bench{''.join(' ' + a for a in (argv if argv is not None else sys.argv[1:]))}`; "
          f"load average {' '.join(load_before)} before, {' '.join(load_after)} after; server: {tail}.")
    print()
    print("| run | mails | seconds | mails/s | × target (200/s) | × baseline (same connections) |")
    print("|---|---:|---:|---:|---:|---:|")
    base = {run.connections: run.rate for run in runs[:2]}
    for run in runs:
        print(f"| {run.name} | {run.mails:,} | {run.seconds:.2f} | {run.rate:,.0f} | {run.rate / TARGET:.2f} | "
              f"{run.rate / base[run.connections]:.2f} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

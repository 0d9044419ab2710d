"""E-mail in benchmark: how fast one worker parses and stores received mail (issue 16:
>= 100 typical mails/s per worker on SQLite, measured on the corpus).

The corpus (``tests/chat/mail/inbound/corpus/*.eml``: Outlook, Gmail, Apple Mail and
Thunderbird replies, forwards, HTML-only, legacy charsets, winmail.dat, invites,
auto-replies, DSNs, spam) is repeated until ``--mails`` mails; each copy gets a Message-ID
of its own, so every one is a new mail, not a duplicate. In the same session:

1. the **baseline**: ``chat.mail.inbound.parse.parse`` alone over the same bytes — what
   reading MIME, decoding and cutting quotes costs before anything is stored;
2. **ours**: ``chat.mail.inbound.receive.receive_mail`` one mail after another, as the
   SMTP receiver calls it, into a fresh SQLite file (the embedded default) with the
   process's real wiring (after-commit reactions included): parse, decide, open the
   ticket or add the reply, store files, the received-mail row — one transaction each.

Reported as mails/s, as a ratio to the 100 mails/s target and to the baseline, with what
the mails became (tickets, replies, loops ...).

    .venv/bin/python -m bench.mail_in_bench                # 2 200 mails (100 rounds of the corpus)
    .venv/bin/python -m bench.mail_in_bench --mails 5000
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import re
import shutil
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from bench.procfs import machine
from chat import migrate
from chat.mail.inbound.message import MalformedMail
from chat.mail.inbound.parse import parse
from chat.mail.inbound.receive import receive_mail
from chat.settings import load_settings
from chat.wiring import build_services

TARGET = 100.0  # mails/s per worker (issue 16)
CORPUS = Path(__file__).resolve().parent.parent / "tests" / "chat" / "mail" / "inbound" / "corpus"
_MESSAGE_ID = re.compile(rb"^Message-ID:", re.IGNORECASE | re.MULTILINE)


@dataclass
class Run:
    name: str
    mails: int
    seconds: float

    @property
    def rate(self) -> float:
        return self.mails / self.seconds


def mails(count: int) -> list[bytes]:
    """``count`` mails from the corpus, in order, round after round; each with a Message-ID
    of its own (the original one kept under another name, so nothing else changes)."""
    corpus = [path.read_bytes() for path in sorted(CORPUS.glob("*.eml"))]
    if not corpus:
        raise SystemExit(f"no corpus in {CORPUS}")
    out = []
    for n in range(count):
        raw = _MESSAGE_ID.sub(b"X-Original-Message-ID:", corpus[n % len(corpus)])
        out.append(f"Message-ID: <bench-{n}@bench.example>\r\n".encode() + raw)
    return out


def baseline(raws: list[bytes]) -> Run:
    started = time.perf_counter()
    for raw in raws:
        with contextlib.suppress(MalformedMail):  # a refusal costs its parse too
            parse(raw)
    return Run("baseline: parse alone", len(raws), time.perf_counter() - started)


async def ours(raws: list[bytes], db_url: str, workdir: Path) -> tuple[Run, Counter[str]]:
    settings = load_settings({
        "DATABASE_URL": db_url, "VAR_DIR": str(workdir / "var"), "SECRET_KEY": "x" * 40,
        "MAIL_FROM": "Support <support@ours.example>",
        # The corpus has a handful of senders; the per-sender limit would hold most copies.
        "MAIL_IN_TICKETS_PER_HOUR": "100000",
    })
    svc = build_services(settings)
    await svc.broker.connect()
    outcomes: Counter[str] = Counter()
    try:
        started = time.perf_counter()
        for raw in raws:
            receipt = await receive_mail(svc, raw, mailbox="smtp", recipients=("support@ours.example",))
            outcomes[receipt.status.value] += 1
        seconds = time.perf_counter() - started
    finally:
        await svc.close()
    return Run("ours: receive_mail (parse + store), one at a time", len(raws), seconds), outcomes


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.mail_in_bench", description=__doc__.split("\n\n")[0])
    parser.add_argument("--mails", type=int, default=2_200, help="mails per run (default 2 200, at least 2 000)")
    args = parser.parse_args(argv)
    raws = mails(max(args.mails, 1))
    workdir = Path(tempfile.mkdtemp(prefix="mailinbench-"))
    when = datetime.now(UTC)
    load_before = Path("/proc/loadavg").read_text().split()[:3]
    try:
        db_url = f"sqlite+aiosqlite:///{workdir / 'mail-in.db'}"
        migrate.upgrade(db_url)  # Alembic runs its own event loop: outside asyncio.run
        base = baseline(raws)
        run, outcomes = asyncio.run(ours(raws, db_url, workdir))
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    load_after = Path("/proc/loadavg").read_text().split()[:3]
    info = machine()
    print(f"Run {when:%Y-%m-%d %H:%M} UTC on {', '.join(f'{k} {v}' for k, v in info.items())}; "
          f"`python -m bench.mail_in_bench{''.join(' ' + a for a in (argv if argv is not None else sys.argv[1:]))}`; "
          f"load average {' '.join(load_before)} before, {' '.join(load_after)} after.")
    print()
    print(f"| run | mails | seconds | mails/s | × target ({TARGET:.0f}/s) | × baseline |")
    print("|---|---:|---:|---:|---:|---:|")
    for item in (base, run):
        print(f"| {item.name} | {item.mails:,} | {item.seconds:.2f} | {item.rate:,.0f} | {item.rate / TARGET:.2f} | "
              f"{item.rate / base.rate:.3f} |")
    print()
    print("What the mails became: " + ", ".join(f"{k} {v}" for k, v in sorted(outcomes.items())))
    return 0 if run.rate >= TARGET else 1


if __name__ == "__main__":
    raise SystemExit(main())

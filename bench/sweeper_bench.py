"""Sweeper benchmark: how fast the escalation sweeper finds due work among 100 000 open tickets.

Seeds a scratch database with open tickets in bulk (tracked tickets in progress, tickets
waiting on the customer, live chats), a realistic share of them due for each job, then:

1. times each job's "find due work" query exactly as the sweeper issues it
   (``escalation.jobs.due_query`` and the backfill's two queries), median of many runs;
2. shows the query plans (SQLite ``EXPLAIN QUERY PLAN``, PostgreSQL ``EXPLAIN``) to prove
   the deadline indexes are used rather than a scan of all tickets;
3. runs full sweeper passes (``escalation.worker.run_once``: every job, real units of
   work, at most ``BATCH`` tickets per job and pass, ``UNITS_PER_TRANSACTION`` to a
   transaction) until nothing is due, timing each pass and each write transaction.

Seeded tickets carry the deadlines their last unit of work stored, as real ones do, so a
pass records a ``ticket.deadlines`` event only where a deadline really moves.

SQLite (a file, as the embedded default) always; PostgreSQL too with ``--postgres``: a
private server on a free loopback port in a temp dir, started like the test suite's
(``tests/support/processes.py``), stopped at the end.

    .venv/bin/python -m bench.sweeper_bench                # SQLite, 100 000 tickets
    .venv/bin/python -m bench.sweeper_bench --postgres     # … and PostgreSQL
    .venv/bin/python -m bench.sweeper_bench --tickets 20000 --json out.json
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import logging
import random
import re
import shutil
import sqlite3
import statistics
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import Select, func, insert, select, text

from bench.procfs import machine
from chat import migrate
from chat.clock import ManualClock
from chat.models import Conversation
from chat.services import Services
from chat.settings import load_settings
from chat.wiring import build_services
from escalation import jobs
from escalation.config import Desk, load_desk
from escalation.deadline_columns import deadline_json
from escalation.history_facts import sla_facts
from escalation.lifecycle import Actor, agent_reply, open_chat, open_ticket, wait_on_customer
from escalation.models import Ticket
from escalation.sla import SlaClock
from escalation.worker import run_once

NOW = datetime(2026, 3, 4, 12, 0, tzinfo=UTC)  # a Wednesday noon
CHUNK = 5000
TIMED_RUNS = 25
MIN, H = timedelta(minutes=1), timedelta(hours=1)


@dataclass(frozen=True)
class Mix:
    """How the open tickets split, and which share of each kind is due now."""

    in_progress: float = 0.70  # tracked, answered; SLA warnings/breaches come due (tickets.sla)
    waiting: float = 0.25  # waiting on the customer; auto-close comes due (tickets.auto_close)
    live: float = 0.05  # live chats not answered yet; conversion comes due (tickets.convert)
    due_in_progress: float = 0.015
    due_waiting: float = 0.02
    due_live: float = 0.06


@dataclass
class Result:
    backend: str
    version: str
    tickets: int
    due: dict[str, int] = field(default_factory=dict)
    seed_seconds: float = 0.0
    queries: dict[str, dict[str, float]] = field(default_factory=dict)
    plans: dict[str, list[str]] = field(default_factory=dict)
    passes: list[dict[str, Any]] = field(default_factory=list)
    transactions: dict[str, float] = field(default_factory=dict)
    retried_batches: int = 0


# -- seeding ---------------------------------------------------------------------------------


Shape = tuple[list[tuple[str, timedelta]], timedelta | None, dict[str, dict[str, Any]]]


def _shape(steps: str, desk: Desk) -> Shape:
    """The SLA facts of one kind of ticket, as (kind, offset from its creation), built by the
    lifecycle itself; when its first reply came (offset), if any; and its stored deadlines
    as its last unit of work left them (times as offsets; see :func:`_shifted`)."""
    base = NOW
    customer, agent = Actor.customer("1"), Actor.agent("2")
    if steps == "live":
        moved = open_chat(base, Actor.system())
        events, replied, last = list(moved.events), None, base
    else:
        opened = open_ticket(base, customer)
        answered = agent_reply(opened.state, base + 5 * MIN, agent)
        events, replied, last = [*opened.events, *answered.events], 5 * MIN, base + 5 * MIN
        if steps == "waiting":
            events += wait_on_customer(answered.state, base + 10 * MIN, agent).events
            last = base + 10 * MIN
    facts = sla_facts(events)
    policy, calendar = desk.policy_for(None, None, None)
    assert policy is not None
    deadlines = {
        target.value: {k: datetime.fromisoformat(v) - base if k.endswith("_at") and v else v
                       for k, v in deadline_json(deadline).items()}
        for target, deadline in SlaClock(policy, calendar, tuple(facts)).deadlines(last).items()
        if deadline is not None
    }
    return [(f.kind.value, f.at - base) for f in facts], replied, deadlines


def _shifted(deadlines: dict[str, dict[str, Any]], created: datetime) -> dict[str, dict[str, Any]]:
    # Exact for the basic plan's round-the-clock calendar: its deadlines move with the ticket.
    return {target: {k: (created + v).isoformat() if isinstance(v, timedelta) else v for k, v in fields.items()}
            for target, fields in deadlines.items()}


def _rows(n: int, mix: Mix, rng: random.Random, desk: Desk) -> Iterator[tuple[dict[str, Any], dict[str, Any]]]:
    """(conversation, ticket) rows: ids 1..n, kinds in the mix's shares, due ones spread
    over the minutes/hours before NOW and the rest over the time after (or not yet due).
    Their stored deadlines are what their last unit of work stored, so a sweep records
    ``ticket.deadlines`` only where a deadline really moves (a chat becoming a ticket)."""
    shapes = {kind: _shape(kind, desk) for kind in ("in_progress", "waiting", "live")}
    # Basic plan (no organization): first response 24 h, resolution 48 h, warning at 80 %.
    resolution_warn, first_warn = timedelta(hours=38.4), timedelta(hours=19.2)
    for i in range(1, n + 1):
        pick = rng.random()
        kind = "in_progress" if pick < mix.in_progress else "waiting" if pick < mix.in_progress + mix.waiting else "live"
        due_share = {"in_progress": mix.due_in_progress, "waiting": mix.due_waiting, "live": mix.due_live}[kind]
        due = rng.random() < due_share
        if kind == "in_progress":
            # Due: its resolution warning passed within the last 9 hours (before the breach).
            created = NOW - resolution_warn - rng.uniform(1, 9 * 60) * MIN if due else NOW - rng.uniform(0, 38) * H
        elif kind == "waiting":
            # Due: waiting on the customer for 48 h and up to an hour more.
            created = NOW - 48 * H - 10 * MIN - rng.uniform(1, 60) * MIN if due else NOW - rng.uniform(0.2, 47) * H
        else:
            # Due: no answer for more than 10 minutes.
            created = NOW - rng.uniform(10.5, 20) * MIN if due else NOW - rng.uniform(0, 9.5) * MIN
        facts, replied, deadlines = shapes[kind]
        status = {"in_progress": "in_progress", "waiting": "waiting_on_customer", "live": "new"}[kind]
        changed = created + (10 * MIN if kind == "waiting" else 5 * MIN if kind == "in_progress" else 0 * MIN)
        tracked = kind != "live"
        conversation = {
            "id": i, "kind": "chat", "status": "open", "subject": f"Ticket {i}", "last_seq": 0, "last_public_seq": 0,
            "created_at": created, "updated_at": changed,
        }
        ticket = {
            "conversation_id": i, "tracked": tracked, "tracked_at": created if tracked else None,
            "tracked_reason": "opened" if tracked else None, "status": status, "status_changed_at": changed,
            "activity_at": changed, "channel": "web" if tracked else "chat", "level": 1, "cc": [], "assets": [],
            "first_replied_at": created + replied if replied is not None else None, "resolution_round": 0,
            "sla_facts": [[k, (created + offset).isoformat()] for k, offset in facts],
            "deadlines": _shifted(deadlines, created),
            "escalation_step": 0, "processed_seq": 0, "watch_agent_reply": kind == "live",
            "watch_customer_reply": kind == "waiting", "created_at": created, "updated_at": changed,
            "sla_next_check_at": created + (resolution_warn if kind == "in_progress" else first_warn)
            if kind != "waiting" else None,
            "auto_close_at": changed + 48 * H if kind == "waiting" else None,
            "convert_at": created + 10 * MIN if kind == "live" else None,
        }
        yield conversation, ticket


async def seed(svc: Services, n: int, mix: Mix, seed_value: int) -> float:
    started = time.perf_counter()
    rng = random.Random(seed_value)
    async with svc.reads() as db:
        desk = await load_desk(db, svc.settings)
    rows = _rows(n, mix, rng, desk)
    while True:
        chunk = [row for _, row in zip(range(CHUNK), rows, strict=False)]
        if not chunk:
            break
        async with svc.engine.begin() as conn:
            await conn.execute(insert(Conversation.__table__), [c for c, _ in chunk])
            await conn.execute(insert(Ticket.__table__), [t for _, t in chunk])
    async with svc.engine.begin() as conn:
        if svc.engine.dialect.name == "postgresql":
            await conn.execute(text(f"SELECT setval('conversations_id_seq', {n})"))
            # What autovacuum does on a live server: without statistics, plans are guesses.
            await conn.execute(text("ANALYZE"))
    return time.perf_counter() - started


# -- measuring -------------------------------------------------------------------------------


def _queries(now: datetime) -> dict[str, Select[int]]:
    quiet = now - jobs.BACKFILL_QUIET
    found: dict[str, Select[int]] = {name: jobs.due_query(column, now) for name, column in jobs.DUE_COLUMNS.items()}
    # One backfill window of BACKFILL_SLICE ids (a run looks at two: the newest and a moving one).
    low, high = 1, jobs.BACKFILL_SLICE
    found["tickets.backfill (missing rows, one window)"] = jobs.missing_query(quiet, low, high)
    found["tickets.backfill (behind, one window)"] = jobs.behind_query(quiet, low, high)
    return found


async def _time(svc: Services, query: Select[int]) -> dict[str, float]:
    async with svc.reads() as db:
        rows = len(list(await db.scalars(query)))  # warm-up (and the answer's size)
    samples = []
    for _ in range(TIMED_RUNS):
        started = time.perf_counter()
        async with svc.reads() as db:
            list(await db.scalars(query))
        samples.append((time.perf_counter() - started) * 1000)
    return {"rows": rows, "median_ms": statistics.median(samples), "max_ms": max(samples)}


async def _plan(svc: Services, query: Select[int]) -> list[str]:
    sql = str(query.compile(dialect=svc.engine.dialect, compile_kwargs={"literal_binds": True}))
    async with svc.reads() as db:
        if svc.engine.dialect.name == "sqlite":
            return [row[3] for row in await db.execute(text("EXPLAIN QUERY PLAN " + sql))]
        # The plan's shape without the planner's cost estimates (they drown it in a table).
        return [re.sub(r"\s+\(cost=[^)]*\)", "", row[0]) for row in await db.execute(text("EXPLAIN " + sql))]


async def _count_due(svc: Services, now: datetime) -> dict[str, int]:
    async with svc.reads() as db:
        counts = {name: int(await db.scalar(select(func.count()).where(column <= now)) or 0)
                  for name, column in jobs.DUE_COLUMNS.items()}
        counts["open"] = int(await db.scalar(select(func.count()).select_from(Ticket)
                                             .where(Ticket.status != "closed")) or 0)
    return counts


class _Retries(logging.Handler):
    """Counts the batches the sweeper had to retry ticket by ticket (a slow path)."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.count = 0

    def emit(self, record: logging.LogRecord) -> None:
        self.count += "one by one" in record.getMessage()


@contextlib.contextmanager
def _timed_transactions(into: list[float]) -> Iterator[None]:
    """Record how long each transaction the ticket jobs open takes (the write lock is
    held that long: on SQLite, the whole database's), by wrapping the unit runners
    :mod:`escalation.jobs` calls."""
    originals = {name: getattr(jobs, name) for name in ("run_batch", "run_unit") if hasattr(jobs, name)}

    def timed(original: Callable[..., Awaitable[Any]]) -> Callable[..., Awaitable[Any]]:
        async def call(*args: Any, **kwargs: Any) -> Any:
            started = time.perf_counter()
            try:
                return await original(*args, **kwargs)
            finally:
                into.append(time.perf_counter() - started)
        return call

    for name, original in originals.items():
        setattr(jobs, name, timed(original))
    try:
        yield
    finally:
        for name, original in originals.items():
            setattr(jobs, name, original)


async def _passes(svc: Services, limit: int = 50) -> tuple[list[dict[str, Any]], list[float], int]:
    """Full sweeper passes at NOW until a pass finds nothing to do; and every transaction's
    duration, and how many batches were retried ticket by ticket."""
    done: list[dict[str, Any]] = []
    transactions: list[float] = []
    retries = _Retries()
    logging.getLogger("escalation.jobs").addHandler(retries)
    try:
        ticket_jobs = jobs.ticket_jobs()  # the ticket jobs (the worker also runs desk.assign)
        with _timed_transactions(transactions):
            for _ in range(limit):
                started = time.perf_counter()
                counts = await run_once(svc, ticket_jobs)
                seconds = time.perf_counter() - started
                if any(v < 0 for v in counts.values()):
                    raise RuntimeError(f"a sweep job failed: {counts}")
                done.append({"seconds": seconds, **counts})
                if not any(v for k, v in counts.items() if k != "tickets.backfill"):
                    break
    finally:
        logging.getLogger("escalation.jobs").removeHandler(retries)
    return done, transactions, retries.count


async def run_backend(backend: str, url: str, workdir: Path, n: int, mix: Mix, seed_value: int) -> Result:
    await asyncio.to_thread(migrate.upgrade, url)
    settings = load_settings({"DATABASE_URL": url, "VAR_DIR": str(workdir / f"var-{backend}"),
                              "SECRET_KEY": "sweeper-bench-" + "x" * 32, "LOG_LEVEL": "warning"})
    svc = build_services(settings, clock=ManualClock(NOW))
    await svc.broker.connect()
    try:
        async with svc.reads() as db:
            version = str(await db.scalar(text("SELECT sqlite_version()" if svc.engine.dialect.name == "sqlite" else "SHOW server_version")))
        result = Result(backend, version, n)
        result.seed_seconds = await seed(svc, n, mix, seed_value)
        result.due = await _count_due(svc, NOW)
        for name, query in _queries(NOW).items():
            result.queries[name] = await _time(svc, query)
            result.plans[name] = await _plan(svc, query)
        result.passes, durations, result.retried_batches = await _passes(svc)
        result.transactions = {"count": len(durations), "median_ms": statistics.median(durations) * 1000,
                               "max_ms": max(durations) * 1000} if durations else {}
        return result
    finally:
        await svc.close()


# -- reporting -------------------------------------------------------------------------------


def render(results: list[Result], meta: dict[str, Any]) -> str:
    lines = [f"Run {meta['date']} on {meta['machine']}; `{meta['command']}`.", ""]
    for r in results:
        total_due = sum(r.due[k] for k in jobs.DUE_COLUMNS)
        lines += [
            f"**{r.backend} {r.version}** — {r.due['open']:,} open tickets (seeded in {r.seed_seconds:.1f} s), "
            f"{total_due:,} of them due: " + ", ".join(f"{r.due[k]:,} for `{k}`" for k in jobs.DUE_COLUMNS) + ".",
            "",
            "| query | rows (≤ batch) | median | max | plan |",
            "|---|---:|---:|---:|---|",
        ]
        for name, q in r.queries.items():
            plan = "; ".join(p.strip() for p in r.plans[name] if p.strip())
            lines.append(f"| `{name}` | {q['rows']:.0f} | {q['median_ms']:.2f} ms | {q['max_ms']:.2f} ms | {plan} |")
        acted = [sum(v for k, v in p.items() if k not in ("seconds", "tickets.backfill")) for p in r.passes]
        seconds = [p["seconds"] for p in r.passes]
        lines += [
            "",
            f"Full passes (`run_once` over the ticket jobs, real units of work, ≤ {jobs.BATCH} tickets per job "
            f"and pass, ≤ {jobs.UNITS_PER_TRANSACTION} per transaction) "
            f"until nothing was due: {len(r.passes)} passes acted on {sum(acted):,} tickets in {sum(seconds):.1f} s "
            f"({sum(acted) / max(sum(seconds), 1e-9):.0f} tickets/s); the first pass took {seconds[0]:.2f} s "
            f"for {acted[0]} tickets, the last (nothing due) {seconds[-1] * 1000:.0f} ms.",
        ]
        if r.transactions:
            tx = r.transactions
            lines.append(
                f"Write transactions: {tx['count']:.0f}, median {tx['median_ms']:.0f} ms, longest {tx['max_ms']:.0f} ms "
                f"(the write lock is held that long); batches retried ticket by ticket: {r.retried_batches}."
            )
        lines.append("")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.sweeper_bench", description=__doc__.split("\n\n")[0])
    parser.add_argument("--tickets", type=int, default=100_000, help="open tickets to seed (default 100 000)")
    parser.add_argument("--postgres", action="store_true", help="also run on a private PostgreSQL server")
    parser.add_argument("--seed", type=int, default=7, help="random seed of the ticket mix")
    parser.add_argument("--json", type=Path, help="also write the raw results to this file")
    parser.add_argument("--keep", action="store_true", help="keep the temporary directory (the SQLite file)")
    args = parser.parse_args(argv)
    workdir = Path(tempfile.mkdtemp(prefix="sweeperbench-"))
    when = datetime.now(UTC)
    results: list[Result] = []
    postgres = None
    try:
        url = f"sqlite+aiosqlite:///{workdir / 'sweeper.db'}"
        results.append(asyncio.run(run_backend("SQLite", url, workdir, args.tickets, Mix(), args.seed)))
        if args.postgres:
            # The test suite's private server (initdb in a temp dir, a free loopback port).
            from tests.support.processes import start_postgres

            postgres = start_postgres()
            postgres.psql("CREATE DATABASE sweeper_bench")
            url = postgres.url("sweeper_bench")
            results.append(asyncio.run(run_backend("PostgreSQL", url, workdir, args.tickets, Mix(), args.seed)))
    finally:
        if postgres is not None:
            postgres.stop()
        if args.keep:
            print(f"kept {workdir}", file=sys.stderr)
        else:
            shutil.rmtree(workdir, ignore_errors=True)
    info = machine()
    meta = {
        "date": when.strftime("%Y-%m-%d %H:%M UTC"),
        "machine": ", ".join(f"{k} {v}" for k, v in info.items()),
        "command": "python -m bench.sweeper_bench" + "".join(f" {a}" for a in (argv if argv is not None else sys.argv[1:])),
        "python_sqlite": sqlite3.sqlite_version,
    }
    print(render(results, meta))
    if args.json:
        args.json.write_text(json.dumps({"meta": meta, "results": [r.__dict__ for r in results]}, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())

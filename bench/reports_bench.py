"""Reports benchmark (issue 17): every report and export on a year of a busy desk —
100 000 tickets, 2 000 000 messages, 50 agents, 200 companies — must answer in ≤ 300 ms
for a 30-day range and ≤ 1 s for the full year, on SQLite and on PostgreSQL.

Method, per backend:

1. a fresh database migrated by Alembic (SQLite: a file, the embedded default;
   PostgreSQL: a private server started like the test suite's, ``tests/support/processes.py``,
   which as root runs it as the ``postgres`` user);
2. the year seeded in bulk (:mod:`bench.reports_seed`: Core executemany / ``COPY``, rows
   as the units of work would have left them, the report facts included);
3. the real rollup (``chat.reports.rollup.roll_job``, the ``reports.roll`` sweeper job)
   counts the messages into ``report_hours``, ``messages_count`` and ``first_agent_join_s``.
   It is timed on the first ``--rollup-slice`` messages; if the rest would take longer
   than ``--rollup-budget`` seconds at that rate, the rest is filled by one
   ``INSERT … SELECT`` that computes what the rollup computes (per conversation and UTC
   hour, customer/staff by the author), and the output says so;
4. PostgreSQL gets ``VACUUM ANALYZE`` (what autovacuum does after a bulk load; without
   statistics its plans are guesses); SQLite gets nothing, as in production (the product
   never runs ``ANALYZE``) — ``--sqlite-analyze`` shows what it would change;
5. the product's app (``chat.app.create_app``, in-process sweeper off) served by uvicorn
   on loopback, the clock fixed at the end of the year; a support admin and an agent
   (leading a support group: scoped to their tickets and the group's) sign in over HTTP;
6. every report (``volume, breakdown, times, sla, ratings, messages, heatmap, now``), its
   CSV, the drill-down's first page and ``tickets.csv`` (the whole export, streamed: time
   to its last byte), for the last 30 days and for the full year (Europe/Berlin days):
   one warm-up, then the median of ``--runs`` requests. Beside each: the time spent inside
   the database driver's execute (SQL ms; on SQLite a cursor steps its first row there,
   so grouped queries are counted whole, while ``tickets.csv``'s fetching is not) and the
   number of statements; and the baseline ``SELECT count(*) FROM tickets``, median of as
   many runs in the same process, against which every time is also given as a ratio.

For each miss, the plan of its slowest statement (SQLite ``EXPLAIN QUERY PLAN``,
PostgreSQL ``EXPLAIN (ANALYZE, BUFFERS)``) follows the table. Exit code 1 when a target
is missed.

    .venv/bin/python -m bench.reports_bench                          # both backends, full size
    .venv/bin/python -m bench.reports_bench --backend sqlite --tickets 20000 --messages 400000
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import hashlib
import json
import random
import re
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import event, func, select, text, update
from sqlalchemy.ext.asyncio import AsyncEngine

from bench import reports_seed
from bench.procfs import machine
from bench.reports_seed import ADMIN_EMAIL, AGENT_EMAIL, NOW, PASSWORD, Size
from chat import migrate
from chat.app import create_app, services_of
from chat.clock import ManualClock
from chat.models import STAFF_ROLES, Event
from chat.passwords import hash_password
from chat.reports import rollup
from chat.services import Services
from chat.settings import Settings, load_settings
from chat.wiring import build_services
from escalation.models import ReportCursor, ReportHour, Ticket

TARGET_MS = {"30 days": 300.0, "year": 1000.0}
TZ = "Europe/Berlin"
REPORTS = ("volume", "breakdown", "times", "sla", "ratings", "messages", "heatmap", "now")


@dataclass(frozen=True)
class Item:
    name: str
    path: str
    params: tuple[tuple[str, str], ...] = ()


ITEMS = (
    *(Item(name, f"/api/reports/{name}") for name in REPORTS),
    Item("tickets (drill-down, first page)", "/api/reports/tickets", (("metric", "created"),)),
    *(Item(f"{name}.csv", f"/api/reports/{name}.csv") for name in REPORTS),
    Item("tickets.csv (all created)", "/api/reports/tickets.csv", (("metric", "created"),)),
)


def ranges() -> dict[str, tuple[str, str]]:
    last = NOW.astimezone(reports_seed.DESK_TZ).date()
    return {"30 days": ((last - timedelta(days=29)).isoformat(), last.isoformat()),
            "year": ((last - timedelta(days=364)).isoformat(), last.isoformat())}


@dataclass
class Measure:
    item: str
    range: str
    viewer: str
    ms: float
    runs: list[float]
    sql_ms: float
    statements: int
    bytes: int
    slowest: tuple[float, str, Any] | None = None  # (ms, statement, parameters) of the median run

    @property
    def target(self) -> float:
        return TARGET_MS[self.range]

    @property
    def missed(self) -> bool:
        return self.ms > self.target


@dataclass
class Result:
    backend: str
    version: str
    size: dict[str, int]
    seed_seconds: float = 0.0
    rollup: dict[str, Any] = field(default_factory=dict)
    checks: dict[str, int] = field(default_factory=dict)
    count_ms: float = 0.0
    count_runs: list[float] = field(default_factory=list)
    measures: list[Measure] = field(default_factory=list)
    plans: dict[str, list[str]] = field(default_factory=dict)
    analyzed: bool = False


# -- statements ------------------------------------------------------------------------------


class StatementTimer:
    """Time spent inside the driver's execute, per statement, on the engines given (the
    read engine and the long reads' one: on SQLite the reports read off the event loop
    through their own engine, which a timer on the read engine alone does not see)."""

    def __init__(self, *engines: AsyncEngine | None) -> None:
        self.samples: list[tuple[float, str, Any]] = []
        for engine in {id(e): e for e in engines if e is not None}.values():
            self._listen(engine)

    def _listen(self, engine: AsyncEngine) -> None:
        sync = engine.sync_engine

        @event.listens_for(sync, "before_cursor_execute")
        def before(conn: Any, cursor: Any, statement: str, parameters: Any, context: Any, many: bool) -> None:
            conn.info.setdefault("bench_started", []).append(time.perf_counter())

        @event.listens_for(sync, "after_cursor_execute")
        def after(conn: Any, cursor: Any, statement: str, parameters: Any, context: Any, many: bool) -> None:
            started = conn.info["bench_started"].pop()
            self.samples.append(((time.perf_counter() - started) * 1000, statement, parameters))

    @contextmanager
    def collect(self) -> Iterator[list[tuple[float, str, Any]]]:
        self.samples = []
        yield self.samples


async def explain(engine: AsyncEngine, statement: str, parameters: Any) -> list[str]:
    async with engine.connect() as conn:
        if engine.dialect.name == "sqlite":
            found = await conn.exec_driver_sql("EXPLAIN QUERY PLAN " + statement, parameters)
            rows: list[tuple[Any, ...]] = [tuple(row) for row in found.all()]
            return [f"{row[0]}/{row[1]} {row[-1]}" for row in rows]
        found = await conn.exec_driver_sql("EXPLAIN (ANALYZE, BUFFERS) " + statement, parameters)
        return [str(row[0]) for row in found.all()]


# -- rollup ----------------------------------------------------------------------------------


def _public_messages() -> Any:
    return select(func.count()).select_from(Event).where(Event.type == "message", Event.internal.is_(False))


async def run_rollup(svc: Services, slice_: int, budget: float) -> dict[str, Any]:
    """The real ``reports.roll`` job over the first ``slice_`` messages (timed); the rest by
    the job too when it fits ``budget`` seconds at that rate, else by INSERT … SELECT."""
    async with svc.reads() as db:
        total = int(await db.scalar(_public_messages()) or 0)
    counted, started = 0, time.perf_counter()
    more = True
    while more and counted < slice_:
        done, more = await rollup.roll_batch(svc, NOW)  # roll_job's batch: 1 000 events a transaction
        counted += done
    seconds = time.perf_counter() - started
    rate = counted / seconds if seconds else 0.0
    out: dict[str, Any] = {"slice": counted, "slice_seconds": seconds, "rate": rate, "total": total}
    left = total - counted
    if not more or left <= 0:
        out["rest"] = "none"
        return out
    if rate and left / rate <= budget:
        started = time.perf_counter()
        while more:
            _, more = await rollup.roll_batch(svc, NOW)
        out.update(rest="rollup", rest_seconds=time.perf_counter() - started)
    else:
        started = time.perf_counter()
        await fill_rest(svc)
        out.update(rest="insert-select", rest_seconds=time.perf_counter() - started,
                   projected_seconds=left / rate if rate else None)
    return out


async def fill_rest(svc: Services) -> None:
    """What the rollup would count after its cursor, in three statements: the hours
    (upserted onto the hours the job already counted), each ticket's message count and a
    live chat's first staff answer; then the cursor moves to the last event."""
    pg = svc.engine.dialect.name == "postgresql"
    hour = ("date_trunc('hour', e.created_at AT TIME ZONE 'UTC') AT TIME ZONE 'UTC'" if pg
            else "strftime('%Y-%m-%d %H:00:00.000000', e.created_at)")
    staff_roles = ", ".join(f"'{r.value}'" for r in STAFF_ROLES)
    # rollup.Seen.by_staff: platform staff, or the partner answering its own first line.
    staff = (f"(u.role IN ({staff_roles}) OR (u.role = 'reseller_admin' AND t.handled_by_org_id IS NOT NULL "
             "AND u.organization_id = t.handled_by_org_id))")
    public = "e.id > :after AND e.type = 'message' AND NOT e.internal"
    if not pg:
        public = "e.id > :after AND e.type = 'message' AND e.internal = 0"
    async with svc.sessions.begin() as db:
        cursor = await db.get(ReportCursor, rollup.CURSOR)
        after = cursor.last_event_id if cursor is not None else 0
        await db.execute(text(f"""
            INSERT INTO report_hours (conversation_id, hour, messages, customer_messages, staff_messages)
            SELECT e.conversation_id, {hour}, count(*),
                   sum(CASE WHEN {staff} THEN 0 ELSE 1 END), sum(CASE WHEN {staff} THEN 1 ELSE 0 END)
            FROM events e JOIN tickets t ON t.conversation_id = e.conversation_id
            LEFT JOIN users u ON u.id = e.author_id
            WHERE {public}
            GROUP BY e.conversation_id, {hour}
            ON CONFLICT (conversation_id, hour) DO UPDATE SET
              messages = report_hours.messages + excluded.messages,
              customer_messages = report_hours.customer_messages + excluded.customer_messages,
              staff_messages = report_hours.staff_messages + excluded.staff_messages
        """), {"after": after})
        rows = (await db.execute(text(f"""
            SELECT e.conversation_id, count(*), t.channel, t.created_at,
                   min(CASE WHEN {staff} THEN e.created_at END)
            FROM events e JOIN tickets t ON t.conversation_id = e.conversation_id
            LEFT JOIN users u ON u.id = e.author_id
            WHERE {public}
            GROUP BY e.conversation_id, t.channel, t.created_at
        """), {"after": after})).all()
        updates = []
        for conversation_id, n, channel, created, first_staff in rows:
            join_s = None
            if channel == "chat" and first_staff is not None:
                join_s = max((_utc(first_staff) - _utc(created)) // timedelta(seconds=1), 0)
            updates.append({"ticket_id": conversation_id, "added": int(n), "join_s": join_s})
        for first in range(0, len(updates), 5000):
            await db.execute(text(
                "UPDATE tickets SET messages_count = messages_count + :added, "
                "first_agent_join_s = coalesce(first_agent_join_s, :join_s) WHERE conversation_id = :ticket_id"),
                updates[first:first + 5000])
        last = await db.scalar(select(func.max(Event.id)))
        await db.execute(update(ReportCursor).where(ReportCursor.name == rollup.CURSOR).values(last_event_id=last))


def _utc(value: str | datetime) -> datetime:
    """A timestamp as a text query returns it: a string on SQLite, a datetime on PostgreSQL."""
    at = datetime.fromisoformat(value) if isinstance(value, str) else value
    return at.replace(tzinfo=UTC) if at.tzinfo is None else at.astimezone(UTC)


async def checks(svc: Services) -> dict[str, int]:
    """The rollup's totals against the log: each must equal ``messages``."""
    async with svc.reads() as db:
        return {
            "messages": int(await db.scalar(_public_messages()) or 0),
            "report_hours": int(await db.scalar(select(func.coalesce(func.sum(ReportHour.messages), 0))) or 0),
            "messages_count": int(await db.scalar(select(func.coalesce(func.sum(Ticket.messages_count), 0))) or 0),
            "report_hours_rows": int(await db.scalar(select(func.count()).select_from(ReportHour)) or 0),
            "tickets": int(await db.scalar(select(func.count()).select_from(Ticket)) or 0),
            "open": int(await db.scalar(select(func.count()).select_from(Ticket)
                                        .where(Ticket.status != "closed")) or 0),
            "first_agent_join": int(await db.scalar(select(func.count()).select_from(Ticket)
                                                    .where(Ticket.first_agent_join_s.is_not(None))) or 0),
        }


# -- measuring -------------------------------------------------------------------------------


async def _get(client: httpx.AsyncClient, path: str, params: httpx.QueryParams) -> tuple[float, int]:
    """Milliseconds to the last byte, and the bytes."""
    started = time.perf_counter()
    size = 0
    async with client.stream("GET", path, params=params) as response:
        async for chunk in response.aiter_raw():
            size += len(chunk)
        status = response.status_code
    ms = (time.perf_counter() - started) * 1000
    if status != 200:
        raise RuntimeError(f"GET {path}?{params}: HTTP {status}")
    return ms, size


async def measure(client: httpx.AsyncClient, timer: StatementTimer, item: Item, range_name: str,
                  viewer: str, runs: int) -> Measure:
    first, last = ranges()[range_name]
    params = httpx.QueryParams([("from", first), ("to", last), ("tz", TZ), *item.params])
    await _get(client, item.path, params)  # warm-up
    samples = []
    for _ in range(runs):
        with timer.collect() as statements:
            ms, size = await _get(client, item.path, params)
        samples.append((ms, size, list(statements)))
    samples.sort(key=lambda s: s[0])
    ms, size, statements = samples[len(samples) // 2]
    slowest = max(statements, key=lambda s: s[0]) if statements else None
    return Measure(item.name, range_name, viewer, ms, [s[0] for s in samples],
                   sum(s[0] for s in statements), len(statements), size, slowest)


async def count_baseline(svc: Services, runs: int) -> list[float]:
    async with svc.reads() as db:
        await db.scalar(text("SELECT count(*) FROM tickets"))
    out = []
    for _ in range(runs):
        started = time.perf_counter()
        async with svc.reads() as db:
            await db.scalar(text("SELECT count(*) FROM tickets"))
        out.append((time.perf_counter() - started) * 1000)
    return out


async def serve_and_measure(settings: Settings, result: Result, runs: int, only: set[str] | None,
                            explain_misses: bool) -> None:
    from tests.support.live import serve  # the test suite's uvicorn runner: the product's options
    from tests.support.processes import free_port

    app = create_app(settings, clock=ManualClock(NOW))
    port = free_port()
    async with serve(app, port):
        svc = services_of(app)
        timer = StatementTimer(svc.read_engine, svc.long_read_engine)
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=300) as client:
            tokens = {}
            for viewer, email in (("admin", ADMIN_EMAIL), ("agent", AGENT_EMAIL)):
                response = await client.post("/api/auth/login", json={"email": email, "password": PASSWORD})
                response.raise_for_status()
                tokens[viewer] = response.json()["token"]
            result.count_runs = await count_baseline(svc, runs)
            result.count_ms = statistics.median(result.count_runs)
            items = [i for i in ITEMS if only is None or i.name in only]
            for viewer in ("admin", "agent"):
                client.headers["Authorization"] = f"Bearer {tokens[viewer]}"
                client.cookies.clear()
                for range_name in TARGET_MS:
                    for item in items:
                        m = await measure(client, timer, item, range_name, viewer, runs)
                        result.measures.append(m)
                        print(f"  {result.backend} {viewer:5} {range_name:7} {item.name:34} {m.ms:9.1f} ms "
                              f"(SQL {m.sql_ms:.1f} ms in {m.statements})", file=sys.stderr, flush=True)
            # The baseline again at the end: the machine is shared, its load moves.
            result.count_runs += await count_baseline(svc, runs)
            result.count_ms = statistics.median(result.count_runs)
            if explain_misses:
                seen = set()
                for m in result.measures:
                    if not m.missed or m.slowest is None or m.viewer != "admin":
                        continue
                    key = re.sub(r"\s+", " ", m.slowest[1])[:300]
                    if key in seen:
                        continue
                    seen.add(key)
                    plan = await explain(svc.read_engine, m.slowest[1], m.slowest[2])
                    result.plans[f"{m.item}, {m.range} (slowest statement {m.slowest[0]:.0f} ms)"] = [
                        re.sub(r"\s+", " ", m.slowest[1]).strip()[:1500], *plan]


async def prepare(backend: str, url: str, workdir: Path, size: Size, args: argparse.Namespace) -> tuple[Settings, Result]:
    await asyncio.to_thread(migrate.upgrade, url)
    settings = load_settings({"DATABASE_URL": url, "VAR_DIR": str(workdir / f"var-{backend}"),
                              "SECRET_KEY": "reports-bench-" + "x" * 32, "LOG_LEVEL": "warning",
                              "SWEEPER_IN_PROCESS": "false"})
    svc = build_services(settings, clock=ManualClock(NOW))
    await svc.broker.connect()
    try:
        async with svc.reads() as db:
            version = str(await db.scalar(text("SELECT sqlite_version()" if svc.engine.dialect.name == "sqlite"
                                               else "SHOW server_version")))
        result = Result(backend, version, asdict(size))
        rng = random.Random(args.seed)
        started = time.perf_counter()
        people = await reports_seed.seed_people(svc, size, rng, await hash_password(PASSWORD))
        await reports_seed.seed_tickets(svc, size, rng, people)
        result.seed_seconds = time.perf_counter() - started
        print(f"  {backend}: seeded in {result.seed_seconds:.0f} s", file=sys.stderr, flush=True)
        result.rollup = await run_rollup(svc, args.rollup_slice, args.rollup_budget)
        print(f"  {backend}: rollup {result.rollup}", file=sys.stderr, flush=True)
        if svc.engine.dialect.name == "postgresql":
            async with svc.engine.connect() as conn:
                conn = await conn.execution_options(isolation_level="AUTOCOMMIT")
                await conn.exec_driver_sql("VACUUM ANALYZE")
            result.analyzed = True
        else:
            # Outside the product's engines, whose transactions take the write lock first.
            path = url.split("///", 1)[1]
            with contextlib.closing(sqlite3.connect(path, isolation_level=None)) as raw:
                if args.sqlite_analyze:
                    raw.execute("ANALYZE")
                    result.analyzed = True
                raw.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        result.checks = await checks(svc)
        return settings, result
    finally:
        await svc.close()


async def run_backend(backend: str, url: str, workdir: Path, size: Size, args: argparse.Namespace) -> Result:
    settings, result = await prepare(backend, url, workdir, size, args)
    only = set(args.only.split(",")) if args.only else None
    await serve_and_measure(settings, result, args.runs, only, not args.no_explain)
    return result


# -- reporting -------------------------------------------------------------------------------


def tree() -> str:
    """Which code was measured: the commit, and a digest of uncommitted product changes
    (the reports are worked on while they are measured)."""
    root = Path(__file__).resolve().parent.parent

    def git(*args: str) -> str:
        done = subprocess.run(["git", "-C", str(root), *args], capture_output=True, text=True, check=False)
        return done.stdout

    head = git("rev-parse", "--short", "HEAD").strip()
    if not head:
        return f"{root} (not a git checkout)"
    changed = [line[3:] for line in git("status", "--porcelain", "--", "chat", "escalation").splitlines()]
    if not changed:
        return f"{head}, clean"
    digest = hashlib.sha1(git("diff", "HEAD", "--", "chat", "escalation").encode())
    for name in sorted(changed):
        path = root / name
        if path.is_file() and name not in git("ls-files", "--", name):
            digest.update(path.read_bytes())  # untracked: its content
    return f"{head} + uncommitted changes to {len(changed)} files under chat/ and escalation/ (sha1 {digest.hexdigest()[:10]})"


def render(results: list[Result], meta: dict[str, Any]) -> str:
    lines = [f"Run {meta['date']} on {meta['machine']}; tree {meta['tree']}; `{meta['command']}`; load average "
             f"{meta['load_before']} before, {meta['load_after']} after.", ""]
    for r in results:
        c, ru = r.checks, r.rollup
        rest = {"none": "", "rollup": f"; the rest by the job too in {ru.get('rest_seconds', 0):.0f} s",
                "insert-select": (f"; the rest ({ru['total'] - ru['slice']:,} messages, "
                                  f"{ru.get('projected_seconds') or 0:.0f} s at that rate) by INSERT … SELECT in "
                                  f"{ru.get('rest_seconds', 0):.0f} s")}[ru["rest"]]
        lines += [
            f"**{r.backend} {r.version}** — {c['tickets']:,} tickets ({c['open']:,} open), {c['messages']:,} messages, "
            f"seeded in {r.seed_seconds:.0f} s; rollup (`reports.roll`) {ru['slice']:,} messages in "
            f"{ru['slice_seconds']:.1f} s = {ru['rate']:,.0f} messages/s{rest}; report_hours: "
            f"{c['report_hours_rows']:,} rows, {c['report_hours']:,} messages, messages_count total "
            f"{c['messages_count']:,}; statistics: {'ANALYZE' if r.analyzed else 'none (as in production)'}. "
            f"Baseline `SELECT count(*) FROM tickets`: **{r.count_ms:.1f} ms** (median of {len(r.count_runs)}, "
            f"before and after the reports).",
            "",
            "| report | as | 30 days: ms | × target | × count(*) | year: ms | × target | × count(*) "
            "| SQL ms (30 days / year) | statements |",
            "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|",
        ]
        by_key = {(m.item, m.viewer, m.range): m for m in r.measures}
        for viewer in ("admin", "agent"):
            for item in dict.fromkeys(m.item for m in r.measures):
                pair = [by_key.get((item, viewer, name)) for name in TARGET_MS]
                if not any(pair):
                    continue
                cells = []
                for m in pair:
                    if m is None:
                        cells.append("– | – | –")
                        continue
                    shown = f"**{m.ms:,.0f}**" if m.missed else f"{m.ms:,.0f}"
                    cells.append(f"{shown} | {m.ms / m.target:.2f} | {m.ms / r.count_ms:,.0f}")
                sql = " / ".join(f"{m.sql_ms:,.0f}" if m else "–" for m in pair)
                statements = max(m.statements for m in pair if m)
                lines.append(f"| {item} | {viewer} | {' | '.join(cells)} | {sql} | {statements} |")
        missed = [m for m in r.measures if m.missed]
        lines += ["", f"Bold: over the target. Targets missed: {len(missed)} of {len(r.measures)}"
                  + (f" ({', '.join(sorted({m.item for m in missed}))})." if missed else "."), ""]
        for title, plan in r.plans.items():
            lines += [f"Plan — {title}:", "", "```", *plan, "```", ""]
    return "\n".join(lines)


def _render_file(path: Path) -> int:
    saved = json.loads(path.read_text())
    results = []
    for raw in saved["results"]:
        measures = [Measure(**m) for m in raw.pop("measures")]
        results.append(Result(**raw, measures=measures))
    saved["meta"].setdefault("tree", "not recorded")
    print(render(results, saved["meta"]))
    return 1 if any(m.missed for r in results for m in r.measures) else 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.reports_bench", description=__doc__.split("\n\n")[0])
    parser.add_argument("--backend", choices=("sqlite", "postgres", "both"), default="both")
    parser.add_argument("--tickets", type=int, default=100_000, help="tickets over the year (default 100 000)")
    parser.add_argument("--messages", type=int, default=2_000_000, help="public messages (default 2 000 000)")
    parser.add_argument("--agents", type=int, default=50)
    parser.add_argument("--companies", type=int, default=200)
    parser.add_argument("--runs", type=int, default=5, help="timed requests per item after one warm-up (median)")
    parser.add_argument("--rollup-slice", type=int, default=100_000, help="messages the real job is timed on")
    parser.add_argument("--rollup-budget", type=float, default=240.0,
                        help="seconds the job may take for the rest; beyond, INSERT … SELECT fills it")
    parser.add_argument("--sqlite-analyze", action="store_true", help="run ANALYZE on SQLite (production does not)")
    parser.add_argument("--only", help="comma-separated item names (e.g. volume,tickets.csv (all created))")
    parser.add_argument("--no-explain", action="store_true", help="skip the plans of the misses")
    parser.add_argument("--seed", type=int, default=17)
    parser.add_argument("--json", type=Path, help="also write every raw number to this file")
    parser.add_argument("--keep", action="store_true", help="keep the temporary directory (the SQLite file)")
    parser.add_argument("--render", type=Path, help="only print the tables of an earlier run's --json file")
    args = parser.parse_args(argv)
    if args.render:
        return _render_file(args.render)
    size = Size(tickets=args.tickets, messages=args.messages, agents=args.agents, companies=args.companies)
    workdir = Path(tempfile.mkdtemp(prefix="reportsbench-"))
    when = datetime.now(UTC)
    load_before = " ".join(Path("/proc/loadavg").read_text().split()[:3])
    measured = tree()
    results: list[Result] = []
    postgres = None
    try:
        if args.backend in ("sqlite", "both"):
            url = f"sqlite+aiosqlite:///{workdir / 'reports.db'}"
            results.append(asyncio.run(run_backend("SQLite", url, workdir, size, args)))
        if args.backend in ("postgres", "both"):
            from tests.support.processes import start_postgres  # the test suite's private server

            postgres = start_postgres()
            postgres.psql("CREATE DATABASE reports_bench")
            results.append(asyncio.run(run_backend("PostgreSQL", postgres.url("reports_bench"), workdir, size, args)))
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
        "command": "python -m bench.reports_bench" + "".join(f" {a}" for a in (argv if argv is not None else sys.argv[1:])),
        "tree": measured,
        "load_before": load_before,
        "load_after": " ".join(Path("/proc/loadavg").read_text().split()[:3]),
    }
    print(render(results, meta))
    if args.json:
        args.json.write_text(json.dumps({"meta": meta, "results": [asdict(r) for r in results]}, indent=1,
                                        default=str))
    return 1 if any(m.missed for r in results for m in r.measures) else 0


if __name__ == "__main__":
    raise SystemExit(main())

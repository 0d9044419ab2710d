"""Operations metrics in Prometheus' format: every metric of the product, in one place.

Names start with ``supportchat_``; label values come from fixed sets made here (frame
types, job names of the wiring, outcomes), never from what a client sent, so a client
cannot grow the number of series. The hot paths only increment: a counter's ``inc`` costs
~0.3 µs (~0.8 µs in multi-process mode, where it writes to a memory-mapped file), next to
the ~13 µs a message costs per recipient socket (docs/operations.md, "Capacity").

**Multi-process mode.** With ``PROMETHEUS_MULTIPROC_DIR`` set in the environment before
the process starts, prometheus_client keeps every value in memory-mapped files in that
directory, one set per process, and a scrape of any process reads all of them
(:func:`exposition`): counters and histograms are summed over every process that ran since
the directory was emptied, the gauges as each says (open sockets: summed over the live
processes). ``supportchat serve --workers N`` makes such a directory itself (chat/cli.py).
A process that stops calls :func:`process_stopped` (its live gauges leave the sum); one that
starts forgets the live gauges of processes that died without it (:func:`process_started`).

What the database holds (the outbox's depth) is read at scrape time by a use case and
handed to :func:`exposition`, so that it is never stale and no process has to poll for it.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Generic, TypeVar

from prometheus_client import REGISTRY, CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client.exposition import choose_encoder
from prometheus_client.metrics_core import GaugeMetricFamily, Metric
from prometheus_client.multiprocess import MultiProcessCollector, mark_process_dead
from prometheus_client.registry import Collector

# prometheus_client leaves these two untyped; their signatures as we call them.
_collect_processes: Callable[[CollectorRegistry, str], object] = MultiProcessCollector
_mark_process_dead: Callable[[int, str], None] = mark_process_dead

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"
# Read once, as prometheus_client itself does when it is imported: a process is in
# multi-process mode from its start or not at all.
MULTIPROC_DIR: str | None = os.environ.get(MULTIPROC_ENV) or None
if MULTIPROC_DIR is not None:
    # The metrics below open their files there as they are made, right now: a directory
    # that does not exist yet would stop the process at its first import.
    Path(MULTIPROC_DIR).mkdir(parents=True, exist_ok=True)

# -- websockets ---------------------------------------------------------------------------

# docs/protocol.md, "Client → server frames"; tests/chat/test_metrics.py checks the list
# against chat.hub.frames.
CLIENT_FRAME_TYPES = ("auth", "join", "leave", "send", "typing", "read", "presence", "viewing", "ping")
# docs/protocol.md, "Server → client frames" (checked against the document by the tests).
SERVER_FRAME_TYPES = (
    "ready", "joined", "left", "event", "ack", "typing", "read", "presence", "support", "viewers", "resync",
    "status", "inbox", "membership", "join_request", "alert", "attention", "pong", "error",
)
OTHER = "other"
RATE_LIMITED = "rate_limited"

M = TypeVar("M", Counter, Gauge, Histogram)


class ByLabel(Generic[M]):
    """The children of a one-label metric for a fixed set of values, made up front (so
    every series exists from the start, at 0); any other value is counted as ``other``.
    A lookup is one dict access: cheap enough per frame."""

    def __init__(self, metric: M, values: Iterable[str]) -> None:
        self._children: dict[str, M] = {value: metric.labels(value) for value in values}
        self._other: M = self._children.get(OTHER) or metric.labels(OTHER)

    def __getitem__(self, value: str) -> M:
        return self._children.get(value, self._other)


WEBSOCKET_CONNECTIONS = Gauge(
    "supportchat_websocket_connections",
    "Authenticated websocket connections open now (summed over the live web processes).",
    multiprocess_mode="livesum",
)
_FRAMES_RECEIVED = Counter(
    "supportchat_websocket_frames_received_total",
    "Websocket frames received from clients, by type (other: not a valid frame of a known type; "
    "rate_limited: refused by the rate limit before it was read).",
    ["type"],
)
FRAMES_RECEIVED = ByLabel(_FRAMES_RECEIVED, (*CLIENT_FRAME_TYPES, RATE_LIMITED, OTHER))
_FRAMES_SENT = Counter(
    "supportchat_websocket_frames_sent_total",
    "Websocket frames sent (or queued) to clients, by type.",
    ["type"],
)


class Tally:
    """A one-label counter counted in plain ints and added to the metric in bulk.

    A prometheus child's ``inc()`` takes a lock (and in multi-process mode writes a mapped
    file): ~1 µs, paid per frame sent — per delivery of a fan-out, where it was a few per
    cent of the server's CPU. The counts reach the metric every :attr:`flush_every`
    frames, on each hub heartbeat (10 s) and before this process answers a scrape, so a
    scrape of another process's files is at most that far behind. Event-loop thread only
    (no lock: that is the point)."""

    def __init__(self, by_label: ByLabel[Counter], *, flush_every: int = 1024) -> None:
        self._by_label = by_label
        self.flush_every = flush_every
        self._counts: dict[str, int] = {}
        self._pending = 0

    def add(self, value: str) -> None:
        self._counts[value] = self._counts.get(value, 0) + 1
        self._pending += 1
        if self._pending >= self.flush_every:
            self.flush()

    def flush(self) -> None:
        counts, self._counts, self._pending = self._counts, {}, 0
        for value, count in counts.items():
            self._by_label[value].inc(count)


FRAMES_SENT = ByLabel(_FRAMES_SENT, (*SERVER_FRAME_TYPES, OTHER))
FRAMES_SENT_TALLY = Tally(FRAMES_SENT)
OUTBOUND_QUEUED_FRAMES = Gauge(
    "supportchat_websocket_outbound_queued_frames",
    "Frames waiting in the sockets' outbound queues for clients that read slower than they are written to, "
    "sampled every 10 s by each web process's hub (summed over the live processes).",
    multiprocess_mode="livesum",
)

# -- the message writer -------------------------------------------------------------------

MESSAGES_STORED = Counter(
    "supportchat_messages_stored_total",
    "Messages and internal notes stored by the message writer (a resend of a stored message is not counted).",
)
WRITER_BATCH_SIZE = Histogram(
    "supportchat_writer_batch_size",
    "Sends stored per transaction by the message writer.",
    buckets=(1, 2, 4, 8, 16, 32, 64, 128, 256),  # chat.writer.MAX_BATCH is 256
)
WRITER_QUEUE_DEPTH = Gauge(
    "supportchat_writer_queue_depth",
    "Sends waiting for the message writer's next transaction, sampled as it takes each batch "
    "(summed over the live processes).",
    multiprocess_mode="livesum",
)

# -- authentication -------------------------------------------------------------------------

AUTH_FAILURE_KINDS = (
    "login",  # a wrong e-mail or password at POST /api/auth/login
    "login_locked",  # a login refused because the account or the address is locked out
    "token",  # an HTTP request with a session or visitor token that is not (or no longer) valid
    "websocket",  # a socket whose auth frame was refused
    "identity",  # a widget session whose site identity hash does not match
    "metrics",  # GET /metrics without the right METRICS_TOKEN
)
_AUTH_FAILURES = Counter(
    "supportchat_auth_failures_total",
    "Refused authentications, by kind: login, login_locked, token, websocket, identity, metrics.",
    ["kind"],
)
AUTH_FAILURES = ByLabel(_AUTH_FAILURES, (*AUTH_FAILURE_KINDS, OTHER))

# -- the sweeper ------------------------------------------------------------------------

SWEEPER_ACTIONS = Counter(
    "supportchat_sweeper_actions_total",
    "Items the sweeper's jobs acted on (warnings, breaches, closes, conversions, mails planned or sent...), by job.",
    ["job"],
)
SWEEPER_JOB_FAILURES = Counter(
    "supportchat_sweeper_job_failures_total",
    "Sweeper job runs that failed (logged; retried on the next pass), by job.",
    ["job"],
)
SWEEPER_PASS_SECONDS = Histogram(
    "supportchat_sweeper_pass_seconds",
    "How long one pass over a sweeper loop's jobs took, by loop (tickets, mail).",
    ["sweeper"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 20, 30, 60),
)
SWEEPER_LAG_SECONDS = Gauge(
    "supportchat_sweeper_lag_seconds",
    "Now minus the due time of the oldest item a sweeper job has not handled yet, after its last pass "
    "(0: nothing overdue), by job (the largest over the live processes).",
    ["job"],
    multiprocess_mode="livemax",
)

# -- mail out -----------------------------------------------------------------------------

MAIL_OUTCOMES = (
    "sent",  # accepted by the relay (or kept by the development mailbox)
    "deferred",  # refused for now (4xx, no connection, a timeout): retried later
    "failed",  # refused for good (5xx), or out of retries
    "suppressed",  # not sent: the address is on the suppression list
)
_MAIL_SENT = Counter(
    "supportchat_mail_outcomes_total",
    "What became of each outbox mail the sender tried, by outcome: sent, deferred, failed, suppressed.",
    ["outcome"],
)
MAIL_SENT = ByLabel(_MAIL_SENT, (*MAIL_OUTCOMES, OTHER))


@dataclass(frozen=True)
class OutboxDepth:
    """The mail outbox's rows waiting, read from the database at scrape time."""

    held: int
    """Waiting for the planner's second look (a digest, a new ticket's assignment)."""
    pending: int
    """Waiting for the sender: not yet due, due, or due again after a temporary failure."""
    due: int
    """Of the pending ones, those whose time has come: the sender's backlog."""


def _outbox_families(depth: OutboxDepth) -> list[Metric]:
    rows = GaugeMetricFamily(
        "supportchat_mail_outbox_rows",
        "Outbox mails waiting, by status: held (for the planner) or pending (for the sender); read at scrape time.",
        labels=["status"],
    )
    rows.add_metric(["held"], depth.held)
    rows.add_metric(["pending"], depth.pending)
    due = GaugeMetricFamily(
        "supportchat_mail_outbox_due_rows",
        "Pending outbox mails whose send time has come (the sender's backlog); read at scrape time.",
        value=depth.due,
    )
    return [rows, due]


# -- the scrape -----------------------------------------------------------------------------


class _Fixed(Collector):
    """Metrics made for one scrape (read from the database just before it)."""

    def __init__(self, families: Sequence[Metric]) -> None:
        self._families = families

    def collect(self) -> Iterable[Metric]:
        return self._families


class _ThisProcess(Collector):
    """Everything this process registered in prometheus_client's default registry: the
    product's metrics above, and the client's own process and Python collectors."""

    def collect(self) -> Iterable[Metric]:
        return REGISTRY.collect()


def exposition(accept: str | None, *, outbox: OutboxDepth | None = None) -> tuple[bytes, str]:
    """The text of one scrape and its content type (the Prometheus text format, or
    OpenMetrics when ``accept`` asks for it). In multi-process mode every process's
    values, read from :data:`MULTIPROC_DIR`; otherwise this process's. Reads files in
    multi-process mode: call it off the event loop."""
    registry = CollectorRegistry(auto_describe=False)
    if MULTIPROC_DIR is not None:
        _collect_processes(registry, MULTIPROC_DIR)
    else:
        registry.register(_ThisProcess())
    if outbox is not None:
        registry.register(_Fixed(_outbox_families(outbox)))
    encoder, content_type = choose_encoder(accept or "")
    return encoder(registry), content_type


# -- process bookkeeping (multi-process mode) -------------------------------------------------


def _pid_of(path: Path) -> int | None:
    # prometheus_client names its files <kind>_<pid>.db (gauge_livesum_1234.db).
    tail = path.stem.rpartition("_")[2]
    return int(tail) if tail.isdigit() else None


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # someone else's process: alive
    return True


def clean_multiprocess_dir(path: Path) -> int:
    """Before the web processes start: create ``path`` if missing and, unless another
    running process still writes there, remove the files of the processes that are gone
    (a previous run's counters and gauges, which would otherwise be summed into this
    run's). A directory in use is left as it is: taking a finished process's counts out of
    the sums would make counters go down under a running scrape. Returns how many files went."""
    path.mkdir(parents=True, exist_ok=True)
    me = os.getpid()
    owned = [(file, _pid_of(file)) for file in path.glob("*.db")]
    if any(pid is not None and pid != me and _alive(pid) for _, pid in owned):
        return 0
    removed = 0
    for file, pid in owned:
        if pid is not None and pid != me:
            file.unlink(missing_ok=True)
            removed += 1
    return removed


def process_started() -> None:
    """A web process is up: the live gauges of processes that died without saying so
    (``kill -9``, an out-of-memory kill) leave the sums. A no-op outside multi-process mode."""
    if MULTIPROC_DIR is None:
        return
    for file in Path(MULTIPROC_DIR).glob("gauge_live*.db"):
        pid = _pid_of(file)
        if pid is not None and pid != os.getpid() and not _alive(pid):
            _mark_process_dead(pid, MULTIPROC_DIR)


def process_stopped() -> None:
    """A web process stops: its live gauges (open sockets, queue depths) leave the sums
    at once; its counters stay, so totals never go down. A no-op outside multi-process mode."""
    FRAMES_SENT_TALLY.flush()
    if MULTIPROC_DIR is None:
        return
    _mark_process_dead(os.getpid(), MULTIPROC_DIR)

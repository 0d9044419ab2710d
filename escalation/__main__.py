"""``python -m escalation``: the sweeper as its own process (the Procfile's worker)."""

from __future__ import annotations

import argparse
import asyncio
import logging
import signal
import sys
from collections.abc import Sequence

from chat import metrics, migrate
from chat.settings import EX_CONFIG, SettingsError, load_settings
from chat.wiring import build_services, build_sweepers


def build_parser() -> argparse.ArgumentParser:
    return argparse.ArgumentParser(
        prog="python -m escalation",
        description=(
            "Run the escalation sweeper on its own: SLA warnings and breaches, the escalation "
            "ladder, auto-close and chat-to-ticket conversions, until SIGTERM or SIGINT. "
            "Any number of workers may run; none acts twice on the same ticket."
        ),
        epilog=(
            "Configured from the environment like the web server (DATABASE_URL, REDIS_URL, "
            "SECRET_KEY, LOG_LEVEL, the ticket settings; see README.md). The database must be "
            "migrated first (supportchat migrate). Exit status: 0 stopped; 2 bad arguments or "
            "an out-of-date schema; 78 configuration error."
        ),
    )


async def _main() -> int:
    try:
        settings = load_settings()
    except SettingsError as exc:
        print(f"escalation: configuration error: {exc}", file=sys.stderr)
        return EX_CONFIG
    logging.basicConfig(level=settings.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    if await migrate.current_revision(settings.database_url) != migrate.head_revision():
        print("escalation: error: the database schema is out of date: run `supportchat migrate` first", file=sys.stderr)
        return 2
    svc = build_services(settings)
    await svc.broker.connect()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    sweepers = build_sweepers(svc)
    logging.getLogger("escalation").info(
        "sweeper started with jobs: %s", " | ".join(", ".join(n for n, _ in s.jobs) for s in sweepers))
    # Its metrics reach a scrape only through a PROMETHEUS_MULTIPROC_DIR shared with a web
    # process on the same host (docs/operations.md, "Metrics"); it serves no HTTP itself.
    metrics.process_started()
    try:
        await asyncio.gather(*(s.run_forever(stop) for s in sweepers))
    finally:
        await svc.close()
        metrics.process_stopped()
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    # Arguments first: --help (and a wrong argument) must answer without settings or a database.
    build_parser().parse_args(argv)
    return asyncio.run(_main())


if __name__ == "__main__":
    sys.exit(main())

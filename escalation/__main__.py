"""``python -m escalation``: the sweeper as its own process (the Procfile's worker)."""

from __future__ import annotations

import asyncio
import logging
import signal
import sys

from chat import migrate
from chat.services import build_services
from chat.settings import EX_CONFIG, SettingsError, load_settings
from escalation.worker import JOBS, run_forever


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
    logging.getLogger("escalation").info("sweeper started with jobs: %s", ", ".join(n for n, _ in JOBS) or "none")
    try:
        await run_forever(svc, stop)
    finally:
        await svc.close()
    return 0


sys.exit(asyncio.run(_main()))

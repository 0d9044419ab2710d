"""Waiting for aiosqlite's connection threads before a test's event loop closes."""

from __future__ import annotations

import asyncio
import threading


async def join_aiosqlite_threads(timeout: float = 5.0) -> None:
    """Let every aiosqlite connection thread finish while the loop still runs.

    A connection that failed to open (a database file in a directory that does not exist)
    stops its thread, which then hands its last result to the loop: if the test's loop has
    closed by then, the thread raises ``RuntimeError: Event loop is closed`` and pytest
    reports it (as an error, under ``filterwarnings = error``) against whichever test runs
    at that moment."""
    for thread in threading.enumerate():
        if "_connection_worker_thread" in thread.name:
            await asyncio.to_thread(thread.join, timeout)
    await asyncio.sleep(0)  # the results the threads just handed over

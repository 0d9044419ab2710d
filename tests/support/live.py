"""A real uvicorn server on a free loopback port, in the test's own event loop."""

from __future__ import annotations

import asyncio
import gc
import warnings
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import uvicorn
from starlette.types import ASGIApp

from chat.app import create_app, services_of
from chat.clock import Clock
from chat.hub.hub import Hub
from chat.services import Services
from chat.settings import Settings
from tests.support.processes import free_port


@dataclass
class LiveServer:
    base_url: str
    ws_url: str
    services: Services
    server: uvicorn.Server
    hub: Hub


@asynccontextmanager
async def serve(app: ASGIApp, port: int, **options: Any) -> AsyncIterator[uvicorn.Server]:
    """``app`` on ``127.0.0.1:port`` until the block ends, with the websocket options the
    product runs with (chat/cli.py); ``options`` adds to them. Any ASGI app: the product
    (:func:`live_server`) or a stand-in such as a customer's website."""
    config = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="on",
                            ws="websockets-sansio", ws_per_message_deflate=False, **options)
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve())
    for _ in range(1000):
        if server.started or task.done():
            break
        await asyncio.sleep(0.01)
    if not server.started:
        server.should_exit = True
        await task
        raise RuntimeError(f"a test server on port {port} did not start")
    try:
        yield server
    finally:
        server.should_exit = True
        await asyncio.wait_for(task, 15)


@asynccontextmanager
async def live_server(
    settings: Settings, clock: Clock | None = None, *, port: int | None = None, collect_garbage: bool = False
) -> AsyncIterator[LiveServer]:
    """``port``: listen there (when the settings' PUBLIC_URL names it); a free one otherwise.
    ``collect_garbage``: a browser test's server (see the end)."""
    app = create_app(settings, clock=clock)
    port = port or free_port()
    try:
        async with serve(app, port, ws_max_size=settings.max_frame_bytes) as server:
            yield LiveServer(f"http://127.0.0.1:{port}", f"ws://127.0.0.1:{port}", services_of(app), server, app.state.hub)
    finally:
        if collect_garbage:
            _collect_orphans()


def _collect_orphans() -> None:
    """A browser still on the page when the test ends may have a request in flight; the
    stop cancels it mid-query and its database connection is dropped unreturned. Left to
    the garbage collector it would warn (ResourceWarning, an error here) inside whichever
    later test happens to collect it. Collect it now, where it belongs: a test server
    stopped under a live page, not a leak of the product's. Only for browser tests: a full
    collection costs up to a second in a long session (it was ~40 % of the suite's time
    when every test server did it)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ResourceWarning)
        gc.collect()

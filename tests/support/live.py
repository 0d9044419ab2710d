"""A real uvicorn server on a free loopback port, in the test's own event loop."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

import uvicorn

from chat.app import create_app, services_of
from chat.hub.hub import Hub
from chat.clock import Clock
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
async def live_server(settings: Settings, clock: Clock | None = None, *, port: int | None = None) -> AsyncIterator[LiveServer]:
    """``port``: listen there (when the settings' PUBLIC_URL names it); a free one otherwise."""
    app = create_app(settings, clock=clock)
    port = port or free_port()
    config = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="on",
                            ws="websockets-sansio", ws_per_message_deflate=False,
                            ws_max_size=settings.max_frame_bytes)
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve())
    for _ in range(1000):
        if server.started or task.done():
            break
        await asyncio.sleep(0.01)
    if not server.started:
        server.should_exit = True
        await task
        raise RuntimeError("the test server did not start")
    try:
        yield LiveServer(f"http://127.0.0.1:{port}", f"ws://127.0.0.1:{port}", services_of(app), server, app.state.hub)
    finally:
        server.should_exit = True
        await asyncio.wait_for(task, 15)

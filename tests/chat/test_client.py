"""The shipped Python client (chat/client.py) against servers that refuse it."""

from __future__ import annotations

import pytest
from websockets.asyncio.server import ServerConnection, serve
from websockets.exceptions import ConnectionClosed

from chat.client import ChatClient


async def test_a_server_that_closes_at_once_leaves_its_close_code_on_the_client() -> None:
    """As ours does under a reconnect storm (1013, "try again later") before reading the
    auth frame: the caller must see the code to back off."""

    async def refuse(ws: ServerConnection) -> None:
        await ws.close(1013, "try again later")

    async with serve(refuse, "127.0.0.1", 0) as server:
        port = server.sockets[0].getsockname()[1]
        client = ChatClient(f"ws://127.0.0.1:{port}/ws", "v:token", timeout=5)
        for _ in range(20):  # the close may land before or after the auth frame is sent
            with pytest.raises(ConnectionClosed):
                await client.connect()
            assert client.close_code == 1013
            await client.close()

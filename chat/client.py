"""A small Python client for the hub's wire protocol (docs/protocol.md).

Used by the tests, the benchmark and anyone scripting against the server::

    async with ChatClient("ws://127.0.0.1:8000/ws", token) as client:
        await client.join(42)
        ack = await client.send(42, "hello")
        event = await client.next_event(42)

It keeps, per conversation, the log of events it has seen, in order and without repeats,
and follows the protocol's gap rule: an event whose ``prev_seq`` is not the last seen seq
triggers a re-join from the last seen seq. ``reconnect()`` resumes after a drop and
resends unacknowledged messages with their original ``client_msg_id``.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import uuid
from collections import defaultdict
from collections.abc import Coroutine
from typing import Any

import msgspec
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

Frame = dict[str, Any]


class ProtocolError(Exception):
    """The server answered a request with an ``error`` frame."""

    def __init__(self, frame: Frame) -> None:
        super().__init__(f"{frame.get('code')}: {frame.get('message')}")
        self.frame = frame
        self.code: str = frame.get("code", "")


class ChatClient:
    def __init__(self, url: str, token: str, *, origin: str | None = None, timeout: float = 10.0) -> None:
        self.url = url
        self.token = token
        self.origin = origin
        self.timeout = timeout
        self.ws: ClientConnection | None = None
        self.ready: Frame | None = None
        self.log: dict[int, list[Frame]] = defaultdict(list)
        self.last_seq: dict[int, int] = {}
        self.joined: set[int] = set()
        self.frames: asyncio.Queue[Frame] = asyncio.Queue()  # everything that is not an event/answer
        self.unacked: dict[str, Frame] = {}
        self.close_code: int | None = None
        self._event_signal: dict[int, asyncio.Condition] = defaultdict(asyncio.Condition)
        self._waiters: dict[str, asyncio.Future[Frame]] = {}
        self._refs = itertools.count(1)
        self._reader: asyncio.Task[None] | None = None
        self._tasks: set[asyncio.Task[None]] = set()

    async def __aenter__(self) -> ChatClient:
        await self.connect()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    # -- connection ---------------------------------------------------------------------

    async def connect(self) -> Frame:
        """Open the socket, authenticate, and return the ``ready`` frame."""
        headers = {"Origin": self.origin} if self.origin else None
        self.ws = await connect(self.url, origin=None, additional_headers=headers, compression=None,
                                open_timeout=self.timeout, max_size=2**22)
        self.close_code = None
        try:
            # A server that refuses the socket at once (1013 under load, 1008 a bad origin)
            # may close before the auth frame is even sent: the code is kept either way.
            await self.ws.send(msgspec.json.encode({"type": "auth", "token": self.token}).decode())
            first: dict[str, Any] = msgspec.json.decode(await asyncio.wait_for(self.ws.recv(), self.timeout))
        except ConnectionClosed as exc:
            self.close_code = exc.rcvd.code if exc.rcvd else None
            raise
        if first.get("type") != "ready":
            raise ProtocolError(first)
        self.ready = first
        self._reader = asyncio.create_task(self._read())
        return first

    async def close(self) -> None:
        if self.ws is not None:
            await self.ws.close()
        if self._reader is not None:
            self._reader.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._reader

    async def drop(self) -> None:
        """Cut the TCP connection without a closing handshake (a network failure)."""
        if self.ws is not None:
            self.ws.transport.abort()
        if self._reader is not None:
            with contextlib.suppress(asyncio.CancelledError):
                await self._reader

    async def reconnect(self) -> None:
        """Resume after a drop: re-authenticate, re-join every conversation from the last
        seen seq, and resend unacknowledged messages (the server deduplicates them)."""
        await self.drop()
        await self.connect()
        for conv_id in sorted(self.joined):
            await self.join(conv_id)
        for frame in list(self.unacked.values()):
            await self._request({**frame})

    # ``timeout`` here and in the waits below is public API (tests, the benchmark and third
    # parties call it): None means the client's own ``self.timeout``, a default that an
    # ``asyncio.timeout`` around the call, as ASYNC109 suggests, could not give.
    async def wait_closed(self, timeout: float | None = None) -> int | None:  # noqa: ASYNC109
        if self._reader is not None:
            await asyncio.wait_for(asyncio.shield(self._reader), timeout or self.timeout)
        return self.close_code

    # -- requests -----------------------------------------------------------------------

    async def _send(self, frame: Frame) -> None:
        assert self.ws is not None, "connect() first"
        await self.ws.send(msgspec.json.encode(frame).decode())

    async def _request(self, frame: Frame) -> Frame:
        key = frame.setdefault("ref", f"r{next(self._refs)}")
        future: asyncio.Future[Frame] = asyncio.get_running_loop().create_future()
        self._waiters[key] = future
        try:
            await self._send(frame)
            answer = await asyncio.wait_for(future, self.timeout)
        finally:
            self._waiters.pop(key, None)
        if answer.get("type") == "error":
            raise ProtocolError(answer)
        return answer

    async def join(self, conversation_id: int, after_seq: int | None = None) -> Frame:
        after = self.last_seq.get(conversation_id, 0) if after_seq is None else after_seq
        self.last_seq[conversation_id] = after
        answer = await self._request({"type": "join", "conversation_id": conversation_id, "after_seq": after})
        self.joined.add(conversation_id)
        return answer

    async def leave(self, conversation_id: int) -> Frame:
        self.joined.discard(conversation_id)
        return await self._request({"type": "leave", "conversation_id": conversation_id})

    async def send(self, conversation_id: int, body: str, *, client_msg_id: str | None = None,
                   internal: bool = False, attachments: list[int] | None = None) -> Frame:
        """Send a message; return its ``ack`` (after the server committed it)."""
        cid = client_msg_id or uuid.uuid4().hex
        frame: Frame = {"type": "send", "conversation_id": conversation_id, "client_msg_id": cid, "body": body}
        if internal:
            frame["internal"] = True
        if attachments:
            frame["attachments"] = attachments
        self.unacked[cid] = frame
        ack = await self._request({**frame, "ref": cid})
        self.unacked.pop(cid, None)
        return ack

    async def send_nowait(self, conversation_id: int, body: str, client_msg_id: str | None = None) -> str:
        """Send without waiting for the ack (it is still tracked for resend)."""
        cid = client_msg_id or uuid.uuid4().hex
        frame: Frame = {"type": "send", "conversation_id": conversation_id, "client_msg_id": cid, "body": body}
        self.unacked[cid] = frame
        await self._send(frame)
        return cid

    async def typing(self, conversation_id: int, state: str = "start") -> None:
        await self._send({"type": "typing", "conversation_id": conversation_id, "state": state})

    async def read(self, conversation_id: int, seq: int) -> None:
        await self._send({"type": "read", "conversation_id": conversation_id, "seq": seq})

    async def presence(self, status: str) -> None:
        await self._send({"type": "presence", "status": status})

    async def viewing(self, conversation_id: int, mode: str) -> None:
        await self._send({"type": "viewing", "conversation_id": conversation_id, "mode": mode})

    async def ping(self) -> Frame:
        return await self._request({"type": "ping"})

    async def raw(self, text: str | bytes) -> None:
        """Send anything at all (for testing the server's handling of bad input)."""
        assert self.ws is not None
        await self.ws.send(text)

    # -- receiving ----------------------------------------------------------------------

    async def _read(self) -> None:
        assert self.ws is not None
        try:
            async for text in self.ws:
                await self._on_frame(msgspec.json.decode(text))
        except ConnectionClosed:
            pass
        finally:
            if self.ws.close_code is not None:
                self.close_code = self.ws.close_code
            for future in self._waiters.values():
                if not future.done():
                    future.set_exception(ConnectionError(f"closed ({self.close_code})"))

    async def _on_frame(self, frame: Frame) -> None:
        kind = frame.get("type")
        if kind == "event":
            await self._on_event(frame)
            return
        if kind == "ack":
            self.unacked.pop(frame["client_msg_id"], None)
        ref = frame.get("ref")
        if ref and ref in self._waiters and not self._waiters[ref].done():
            self._waiters[ref].set_result(frame)
            return
        if kind == "resync":
            conv = frame.get("conversation_id")
            for conv_id in ([conv] if conv else sorted(self.joined)):
                self._spawn(self._rejoin(conv_id))
        await self.frames.put(frame)

    async def _on_event(self, event: Frame) -> None:
        conv_id = event["conversation_id"]
        last = self.last_seq.get(conv_id, 0)
        if event["seq"] <= last:
            return  # duplicate
        if event["prev_seq"] != last:
            # A gap: never show out of order; ask again from what we have.
            self._spawn(self._rejoin(conv_id))
            return
        self.last_seq[conv_id] = event["seq"]
        self.log[conv_id].append(event)
        condition = self._event_signal[conv_id]
        async with condition:
            condition.notify_all()

    def _spawn(self, coro: Coroutine[Any, Any, None]) -> None:
        # The event loop keeps only weak references to tasks: hold them until done.
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _rejoin(self, conversation_id: int) -> None:
        with contextlib.suppress(Exception):
            await self.join(conversation_id)

    async def wait_for_seq(self, conversation_id: int, seq: int, timeout: float | None = None) -> list[Frame]:  # noqa: ASYNC109
        """Wait until the log of ``conversation_id`` reaches ``seq``; return the log."""
        condition = self._event_signal[conversation_id]

        async def reached() -> None:
            async with condition:
                await condition.wait_for(lambda: self.last_seq.get(conversation_id, 0) >= seq)

        await asyncio.wait_for(reached(), timeout or self.timeout)
        return self.log[conversation_id]

    async def next_event(self, conversation_id: int, timeout: float | None = None) -> Frame:  # noqa: ASYNC109
        """The next event appended to the log of ``conversation_id``."""
        return (await self.wait_for_seq(conversation_id, self.last_seq.get(conversation_id, 0) + 1, timeout))[-1]

    async def next_frame(self, kind: str | None = None, timeout: float | None = None) -> Frame:  # noqa: ASYNC109
        """The next non-event frame (optionally of one ``type``), skipping others."""
        async def find() -> Frame:
            while True:
                frame = await self.frames.get()
                if kind is None or frame.get("type") == kind:
                    return frame

        return await asyncio.wait_for(find(), timeout or self.timeout)


__all__ = ["ChatClient", "ProtocolError"]

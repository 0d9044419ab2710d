"""``/ws``: authenticate, then read frames, authorize each through the use cases, reply.

Thin by design: parsing is :mod:`chat.hub.frames`, what each frame does is
:mod:`chat.hub.handlers`, rules are :mod:`chat.authz` and the use cases in
:mod:`chat.conversations`, ordering is :mod:`chat.hub.connection`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from typing import get_args

import msgspec
from sqlalchemy.exc import SQLAlchemyError
from starlette.websockets import WebSocket, WebSocketDisconnect
from uvicorn.protocols.websockets.websockets_sansio_impl import WebSocketsSansIOProtocol
from websockets.exceptions import InvalidState

from chat import metrics
from chat.authz import Principal
from chat.errors import AppError
from chat.hub import frames
from chat.hub.connection import Connection, DirectWrite
from chat.hub.handlers import HANDLERS, Sends, Socket, error_for, error_frame
from chat.hub.hub import Hub
from chat.hub.ratelimit import TokenBucket
from chat.hub.socket_auth import SocketUser, authenticate_socket
from chat.models import Site
from chat.services import Services
from chat.validation import origin as normalize_origin

log = logging.getLogger(__name__)

# Long enough for a phone on a slow network to send one small frame, short enough that
# idle unauthenticated sockets cannot pile up.
AUTH_TIMEOUT_SECONDS = 5.0
RATE_PER_SECOND = 20.0
RATE_BURST = 40.0
PRINCIPAL_RATE_PER_SECOND = 50.0
PRINCIPAL_BURST = 100.0
# Sends of one socket waiting for their commit; past this the socket's next frame is not
# read until the oldest is answered. Enough to fill a batch from one busy client; bounds
# what one client can queue in the process.
MAX_SENDS_IN_FLIGHT = 64
# Refused frames tolerated in a row before a client is treated as a flood and cut.
FLOOD_REFUSALS = 200
HEARTBEAT_SECONDS = 20

CLOSE_PROTOCOL = 4400
CLOSE_AUTH = 4401
CLOSE_ORIGIN = 4403
CLOSE_FLOOD = 4429
CLOSE_TOO_MANY_SOCKETS = 4430
CLOSE_TRY_AGAIN = 1013  # RFC 6455 "try again later": the database did not answer, or the process is overloaded
# A new socket is refused (1013) while the event loop runs this far behind: a client that
# waits 10 s for its answer (chat/client.py) still gets it, with time to spare for a resume.
ADMISSION_LAG_SECONDS = 1.0
ADMISSION_TICK_SECONDS = 0.1

# The frame counter's child per frame class, looked up once per frame.
_RECEIVED = {cls: metrics.FRAMES_RECEIVED[str(cls.__struct_config__.tag)] for cls in get_args(frames.ClientFrame)}
_RECEIVED_OTHER = metrics.FRAMES_RECEIVED[metrics.OTHER]


def _own_origin(svc: Services) -> str:
    return normalize_origin(svc.settings.public_url)


async def _origin_allowed(svc: Services, origin: str | None, user: SocketUser) -> bool:
    if origin is None:
        return True  # not a browser: no cross-site risk to guard against
    try:
        clean = normalize_origin(origin)
    except AppError:
        return False
    if clean == _own_origin(svc):
        return True
    if user.site_id is None:
        return False
    async with svc.reads() as db:
        site = await db.get(Site, user.site_id)
    return site is not None and clean in site.allowed_origins


async def _close(websocket: WebSocket, code: int, reason: str) -> None:
    """Close, tolerating a client that already left (closing then raises)."""
    with contextlib.suppress(WebSocketDisconnect, RuntimeError, OSError):
        await websocket.close(code, reason)


def _direct_writer(websocket: WebSocket) -> DirectWrite | None:
    """Write text frames synchronously into uvicorn's websockets-sansio protocol (the
    server we ship, ``supportchat serve``) while its transport is not backed up; None for
    any other server, which then gets every frame through ``websocket.send_text``.

    Why: a fan-out then writes a message to every socket of a room in one tight loop,
    as a bare websockets server does, instead of waking one writer task per socket (a
    task switch each, and on a VM one wake-up of the reading client per write rather
    than one per burst). It does exactly what uvicorn's ``send`` does for a text frame
    when ``writable`` is set; when it is not, the caller queues and the writer task
    awaits ``send_text``, which waits for the reader as before.
    """
    # The receive callable reaches the app unwrapped (middleware wraps only send): it is
    # the protocol's own bound method.
    protocol = getattr(getattr(websocket, "_receive", None), "__self__", None)
    if not isinstance(protocol, WebSocketsSansIOProtocol):
        return None
    conn, transport, writable = protocol.conn, protocol.transport, protocol.writable

    def write(text: str) -> bool:
        if protocol.close_sent or protocol.disconnected or not writable.is_set() or transport.is_closing():
            return False
        try:
            conn.send_text(text.encode())
        except InvalidState:
            return False
        transport.write(b"".join(conn.data_to_send()))
        return True

    return write


# What uvicorn's websockets-sansio protocol logs, with a traceback, for each text frame that
# is not UTF-8, after it closed the socket with 1007 (RFC 6455: right). Anyone can send
# such frames, so a traceback each would let a client flood the log: one info line instead.
_UVICORN_BAD_UTF8 = "Invalid UTF-8 sequence received from client."


class _BadUtf8Line(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        if record.msg == _UVICORN_BAD_UTF8:
            record.msg, record.args = "websocket closed with 1007: a text frame was not valid UTF-8", ()
            record.exc_info = record.exc_text = record.stack_info = None
            record.levelno, record.levelname = logging.INFO, "INFO"
        return True


def quiet_invalid_utf8() -> None:
    """Turn uvicorn's traceback for a non-UTF-8 text frame into one info line (idempotent;
    called at startup, after uvicorn configured its loggers)."""
    logger = logging.getLogger("uvicorn.error")
    if not any(isinstance(f, _BadUtf8Line) for f in logger.filters):
        logger.addFilter(_BadUtf8Line())


class Admission:
    """Whether this process can take one more socket now: not while its event loop runs
    more than :data:`ADMISSION_LAG_SECONDS` behind.

    Why: in a reconnect storm every resume costs a few ms of CPU; thousands at once put
    the loop tens of seconds behind, clients give up after their 10 s and come back while
    the server still works for the ones that left, and nobody gets in. Refusing early
    (close 1013, "try again later": the client backs off) costs microseconds and keeps
    the ones admitted within their patience. The lag is measured by a timer that should
    fire every :data:`ADMISSION_TICK_SECONDS`.
    """

    def __init__(self, limit: float) -> None:
        self.limit = limit
        self.lag = 0.0
        self._loop: asyncio.AbstractEventLoop | None = None

    def _tick(self, due: float) -> None:
        assert self._loop is not None
        now = self._loop.time()
        self.lag = max(0.0, now - due)
        self._loop.call_at(now + ADMISSION_TICK_SECONDS, self._tick, now + ADMISSION_TICK_SECONDS)

    def admit(self) -> bool:
        loop = asyncio.get_running_loop()
        if loop is not self._loop:
            self._loop, self.lag = loop, 0.0
            loop.call_at(loop.time() + ADMISSION_TICK_SECONDS, self._tick, loop.time() + ADMISSION_TICK_SECONDS)
        return self.lag <= self.limit


def _admission(websocket: WebSocket) -> Admission:
    state = websocket.app.state
    found: Admission | None = getattr(state, "admission", None)
    if found is None:
        found = state.admission = Admission(ADMISSION_LAG_SECONDS)
    return found


async def websocket_endpoint(websocket: WebSocket) -> None:
    svc: Services = websocket.app.state.services
    hub: Hub = websocket.app.state.hub
    await websocket.accept()
    if not _admission(websocket).admit():
        await _close(websocket, CLOSE_TRY_AGAIN, "busy: try again later")
        return
    principal, user = await _authenticate(websocket, svc)
    if principal is None or user is None:
        return
    try:
        allowed = await _origin_allowed(svc, websocket.headers.get("origin"), user)
    except SQLAlchemyError:
        await _close(websocket, CLOSE_TRY_AGAIN, "try again later")
        return
    if not allowed:
        await _close(websocket, CLOSE_ORIGIN, "origin not allowed")
        return

    async def send_text(text: str) -> None:
        await websocket.send_text(text)

    async def close(code: int, reason: str) -> None:
        await _close(websocket, code, reason)

    conn = Connection(svc, principal, user.name, send_text, close, direct=_direct_writer(websocket))
    # Counted before `ready` goes out: a client that has its `ready` is in the gauge.
    metrics.WEBSOCKET_CONNECTIONS.inc()
    try:
        await _serve_socket(websocket, svc, hub, conn, user)
    finally:
        metrics.WEBSOCKET_CONNECTIONS.dec()


def _socket_cap(svc: Services, conn: Connection) -> int:
    """How many sockets ``conn``'s principal may hold on this process (chat.settings)."""
    return svc.settings.max_sockets_per_staff if conn.principal.is_staff else svc.settings.max_sockets_per_visitor


async def _serve_socket(websocket: WebSocket, svc: Services, hub: Hub, conn: Connection, user: SocketUser) -> None:
    # Counted and registered with no await in between, so sockets authenticating at once
    # cannot all slip under the cap. Per process: the hub knows only its own sockets.
    if len(hub.by_user.get(conn.principal.user_id, ())) >= _socket_cap(svc, conn):
        conn.close_soon(CLOSE_TOO_MANY_SOCKETS, "too many sockets for this account")
        await conn.shutdown()
        return
    conn.send({
        "type": "ready",
        "user": {"id": user.id, "name": user.name, "role": user.role.value},
        "server_time": svc.clock.now().isoformat(),
        "limits": {
            "max_frame_bytes": svc.settings.max_frame_bytes,
            "max_message_chars": svc.settings.max_message_chars,
            "rate_per_second": RATE_PER_SECOND,
            "burst": RATE_BURST,
        },
        "heartbeat_seconds": HEARTBEAT_SECONDS,
        "live": hub.live,
    })
    await hub.register(conn)
    hub.support.greet(conn)
    try:
        await _read_loop(websocket, svc, hub, conn)
    finally:
        await hub.unregister(conn)
        await conn.shutdown()


async def _authenticate(websocket: WebSocket, svc: Services) -> tuple[Principal | None, SocketUser | None]:
    try:
        message = await asyncio.wait_for(websocket.receive(), AUTH_TIMEOUT_SECONDS)
    except TimeoutError:
        await _close(websocket, CLOSE_AUTH, "authenticate within 5 seconds")
        return None, None
    if message["type"] == "websocket.disconnect":
        return None, None
    text = message.get("text")
    if text is None:
        _RECEIVED_OTHER.inc()
        await _close(websocket, CLOSE_PROTOCOL, "text frames only")
        return None, None
    try:
        frame = frames.decode(text)
    except frames.FrameError as exc:
        _RECEIVED_OTHER.inc()
        await _close(websocket, CLOSE_PROTOCOL, f"{exc.code}: {exc.message}"[:120])
        return None, None
    _RECEIVED[type(frame)].inc()
    if not isinstance(frame, frames.Auth):
        await _close(websocket, CLOSE_PROTOCOL, "the first frame must be auth")
        return None, None
    try:
        return await authenticate_socket(svc, frame.token)
    except AppError as exc:
        metrics.AUTH_FAILURES["websocket"].inc()
        await _close(websocket, CLOSE_AUTH, exc.code)
        return None, None
    except SQLAlchemyError as exc:
        log.warning("database unavailable during authentication: %s", type(exc).__name__)
        await _close(websocket, CLOSE_TRY_AGAIN, "try again later")
        return None, None


async def _read_loop(websocket: WebSocket, svc: Services, hub: Hub, conn: Connection) -> None:
    bucket = TokenBucket(RATE_PER_SECOND, RATE_BURST)
    # Per-principal budgets are per process: a client spreading sockets over processes gets
    # one budget per process, each socket still bounded by its own.
    shared = hub.buckets.setdefault(conn.principal.user_id, TokenBucket(PRINCIPAL_RATE_PER_SECOND, PRINCIPAL_BURST))
    refusals = 0
    sends = Sends(conn)
    socket = Socket(svc, hub, conn, sends)
    while not conn.closed:
        try:
            message = await websocket.receive()
        except (WebSocketDisconnect, RuntimeError):
            return
        if message["type"] == "websocket.disconnect":
            return
        text = message.get("text")
        if text is None:
            _RECEIVED_OTHER.inc()
            conn.close_soon(CLOSE_PROTOCOL, "text frames only")
            return
        if len(text) > svc.settings.max_frame_bytes:
            _RECEIVED_OTHER.inc()
            conn.close_soon(1009, "frame too large")
            return
        now = time.monotonic()
        wait = max(bucket.take(now), shared.take(now))
        if wait > 0:
            metrics.FRAMES_RECEIVED[metrics.RATE_LIMITED].inc()
            refusals += 1
            if refusals >= FLOOD_REFUSALS:
                conn.close_soon(CLOSE_FLOOD, "flood")
                return
            await sends.settled()
            conn.send(error_frame("rate_limited", "slow down", _ref_of(text), retry_after_ms=int(wait * 1000) + 1))
            continue
        refusals = 0
        try:
            frame = frames.decode(text)
        except frames.FrameError as exc:
            _RECEIVED_OTHER.inc()
            await sends.settled()
            conn.send(error_frame(exc.code, exc.message, exc.ref))
            continue
        _RECEIVED[type(frame)].inc()
        if not isinstance(frame, frames.Send):
            await sends.settled()  # answers go out in the order the frames came
        elif len(sends.waiting) >= MAX_SENDS_IN_FLIGHT:
            await sends.oldest()
        try:
            await _handle(frame, socket)
        except AppError as exc:
            await sends.settled()
            conn.send(error_for(frame, exc))
        except SQLAlchemyError as exc:
            # Locked, gone, or out of pooled connections: the frame did nothing and may
            # be retried as is (sends are idempotent).
            log.warning("database unavailable while handling %s: %s", type(frame).__name__, type(exc).__name__)
            await sends.settled()
            conn.send(error_frame("unavailable", "the database did not answer; retry", frame.ref))


class _RefOnly(msgspec.Struct):
    """A frame's ``ref`` alone: the decoder skips every other field without building it."""

    ref: frames.RefStr | None = None


_ref_decoder = msgspec.json.Decoder(_RefOnly)


def _ref_of(text: str) -> str | None:
    """The ``ref`` of a frame refused before it was parsed (rate limit), to echo as every
    other error does; none when the frame is no JSON object or its ``ref`` is not a valid
    one (the full parse would refuse it)."""
    try:
        return _ref_decoder.decode(text).ref
    except (msgspec.DecodeError, RecursionError):  # ValidationError is a DecodeError
        return None


async def _handle(frame: frames.ClientFrame, socket: Socket) -> None:
    """Run the frame's handler. Every frame but a send arrives here with all earlier sends
    answered (see :func:`_read_loop`); a handler raises :class:`AppError` or
    ``SQLAlchemyError`` for the read loop to answer."""
    await HANDLERS[type(frame)](frame, socket)

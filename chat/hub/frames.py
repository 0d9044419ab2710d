"""Client frames of the wire protocol (docs/protocol.md), decoded without any I/O.

:func:`decode` either returns a typed frame or raises :class:`FrameError` with a
documented error code; it never raises anything else, whatever the input (fuzzed in
tests/chat/hub/test_frames.py).
"""

from __future__ import annotations

from typing import Annotated, Literal

import msgspec

RefStr = Annotated[str, msgspec.Meta(max_length=64)]
# Every number is bounded here, at the edge, within the storage's BIGINT range (the same
# bound as chat.validation.Id; the pure cores do not import each other): an unbounded
# ``attachments: [2**63]`` reached SQLite, which raised inside the writer's batch.
ConvId = Annotated[int, msgspec.Meta(ge=1, le=2**62)]
Seq = Annotated[int, msgspec.Meta(ge=0, le=2**62)]
AttachmentId = Annotated[int, msgspec.Meta(ge=1, le=2**63 - 1)]


class Frame(msgspec.Struct, tag_field="type", forbid_unknown_fields=True, frozen=True):
    ref: RefStr | None = None


class Auth(Frame, tag="auth", frozen=True):
    token: Annotated[str, msgspec.Meta(min_length=1, max_length=4096)] = ""


class Join(Frame, tag="join", frozen=True):
    conversation_id: ConvId = 0
    after_seq: Seq = 0


class Leave(Frame, tag="leave", frozen=True):
    conversation_id: ConvId = 0


class Send(Frame, tag="send", frozen=True):
    conversation_id: ConvId = 0
    client_msg_id: Annotated[str, msgspec.Meta(min_length=1, max_length=64)] = ""
    body: str = ""
    internal: bool = False
    attachments: Annotated[list[AttachmentId], msgspec.Meta(max_length=10)] = []


class Typing(Frame, tag="typing", frozen=True):
    conversation_id: ConvId = 0
    state: Literal["start", "stop"] = "start"


class Read(Frame, tag="read", frozen=True):
    conversation_id: ConvId = 0
    seq: Seq = 0


class Presence(Frame, tag="presence", frozen=True):
    status: Literal["online", "away"] = "online"


class Viewing(Frame, tag="viewing", frozen=True):
    conversation_id: ConvId = 0
    mode: Literal["viewing", "answering", "none"] = "viewing"


class Ping(Frame, tag="ping", frozen=True):
    pass


ClientFrame = Auth | Join | Leave | Send | Typing | Read | Presence | Viewing | Ping

# Fields without which a frame means nothing. msgspec's tagged unions need defaults on
# subclasses of a base with defaults, so presence is checked here instead.
_REQUIRED: dict[type, tuple[str, ...]] = {
    Auth: ("token",),
    Join: ("conversation_id",),
    Leave: ("conversation_id",),
    Send: ("conversation_id", "client_msg_id", "body"),
    Typing: ("conversation_id", "state"),
    Read: ("conversation_id", "seq"),
    Presence: ("status",),
    Viewing: ("conversation_id", "mode"),
    Ping: (),
}

_decoder = msgspec.json.Decoder(ClientFrame)
_raw = msgspec.json.Decoder(dict)


class FrameError(Exception):
    def __init__(self, code: str, message: str, ref: str | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.ref = ref


def _ref_of(data: bytes | str) -> str | None:
    try:
        raw = _raw.decode(data)
    except (msgspec.DecodeError, msgspec.ValidationError, UnicodeError, RecursionError):
        return None
    ref = raw.get("ref")
    return ref if isinstance(ref, str) and len(ref) <= 64 else None


def decode(data: bytes | str) -> ClientFrame:
    """One client frame, or :class:`FrameError` (``invalid_json`` / ``invalid_frame``)."""
    try:
        frame = _decoder.decode(data)
    except msgspec.ValidationError as exc:
        raise FrameError("invalid_frame", str(exc), _ref_of(data)) from None
    except (msgspec.DecodeError, UnicodeError):
        raise FrameError("invalid_json", "the frame is not valid JSON") from None
    except RecursionError:
        # Deeply nested arrays: refuse rather than let the parser blow the stack.
        raise FrameError("invalid_frame", "the frame is nested too deeply") from None
    raw = _raw.decode(data)
    missing = [name for name in _REQUIRED[type(frame)] if name not in raw]
    if missing:
        raise FrameError("invalid_frame", f"missing field(s): {', '.join(missing)}", frame.ref)
    return frame

"""Every client frame type over a real socket, each field in turn given odd values (huge
and negative integers, unicode digits, wrong types, null, deep nesting), as a visitor and
as an agent: the answer is nothing, a normal answer, or an ``error`` frame with a code of
docs/protocol.md's table — never ``unavailable`` (the database is up: that answer means a
bad value reached it), never a closed socket, never an ERROR record or a traceback.

The frame types and fields are read from chat/hub/frames.py, so a new one is fuzzed too.
"""

from __future__ import annotations

import asyncio
import logging
import re
import uuid
from pathlib import Path
from typing import Any

import msgspec
import pytest

from chat.client import ChatClient
from chat.hub import endpoint, frames
from tests.chat.hub.helpers import World, make_world
from tests.support.live import LiveServer

VALUES: list[Any] = [2**63, 2**62 + 1, 2**31, -1, 0, "²", "١٢", None, [1], {"a": 1}, [2**63], True, "x" * 5000]
DOCS = Path(__file__).resolve().parents[3] / "docs" / "protocol.md"


def documented_codes() -> set[str]:
    """The codes of docs/protocol.md's "Error codes" table."""
    text = DOCS.read_text()
    table = text[text.index("## Error codes"):]
    table = table[:table.index("\n## ", 5)]
    return set(re.findall(r"^\| `(\w+)` \|", table, re.MULTILINE))


def frame_types() -> list[tuple[str, list[str]]]:
    found = []
    for cls in frames.ClientFrame.__args__:  # type: ignore[attr-defined]
        info = msgspec.inspect.type_info(cls)
        assert isinstance(info, msgspec.inspect.StructType)
        found.append((cls.__struct_config__.tag, [f.encode_name for f in info.fields]))
    return found


def base(kind: str, conversation_id: int) -> dict[str, Any]:
    """A valid frame of ``kind``: the fuzzed field is the only thing wrong."""
    valid: dict[str, dict[str, Any]] = {
        "auth": {"token": "x"}, "join": {"conversation_id": conversation_id},
        "leave": {"conversation_id": conversation_id},
        "send": {"conversation_id": conversation_id, "client_msg_id": uuid.uuid4().hex, "body": "fuzz"},
        "typing": {"conversation_id": conversation_id, "state": "start"},
        "read": {"conversation_id": conversation_id, "seq": 1}, "presence": {"status": "online"},
        "viewing": {"conversation_id": conversation_id, "mode": "viewing"}, "ping": {},
    }
    return {"type": kind, **valid.get(kind, {})}


@pytest.fixture
async def world(server: LiveServer) -> World:
    return await make_world(server)


async def exchange(client: ChatClient, frame: dict[str, Any], n: int) -> list[dict[str, Any]]:
    """Send ``frame`` then a ping; the frames answered before the pong. A ``rate_limited``
    refusal (a fuzzer sends fast) waits and sends both again."""
    while True:
        await client.raw(msgspec.json.encode({"ref": f"f{n}", **frame}).decode())
        await client.raw(msgspec.json.encode({"type": "ping", "ref": f"p{n}"}).decode())
        answers: list[dict[str, Any]] = []
        limited = 0
        while True:
            try:
                got = await client.next_frame(timeout=10)
            except TimeoutError:
                raise AssertionError(f"no answer to {str(frame)[:200]}: {answers}, closed {client.close_code}") from None
            if got.get("type") == "pong" and got.get("ref") == f"p{n}":
                break
            if got.get("code") == "rate_limited":
                limited = max(limited, int(got.get("retry_after_ms", 100)))
            else:
                answers.append(got)
        if not limited:
            return answers
        await asyncio.sleep(limited / 1000 + 0.05)


async def test_every_frame_type_and_field_answers_a_documented_error(
    world: World, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    caplog.set_level(logging.WARNING)
    # The frame budget is not under test here (tests/chat/hub/test_limits.py): lifted, so
    # the fuzzer's pace does not turn its cases into rate_limited refusals (which carry no
    # ref, and a refused ping would never be answered).
    for name in ("RATE_PER_SECOND", "RATE_BURST", "PRINCIPAL_RATE_PER_SECOND", "PRINCIPAL_BURST"):
        monkeypatch.setattr(endpoint, name, 1e9)
    codes = documented_codes()
    assert {"invalid_frame", "invalid_json", "unavailable"} <= codes
    problems: list[str] = []
    n = 0
    for token in (world.customer_token, world.agent_token):
        async with world.client(token) as client:
            await client.join(world.conversation_id)
            for kind, fields in frame_types():
                for field in fields:
                    for value in VALUES:
                        n += 1
                        # Joined again each time (a fuzzed ``leave`` may have left): a send's
                        # fields must reach the writer, not stop at ``not_joined``.
                        await exchange(client, base("join", world.conversation_id), -n)
                        frame = {**base(kind, world.conversation_id), field: value}
                        for answer in await exchange(client, frame, n):
                            code = answer.get("code")
                            if answer.get("type") == "error" and (code not in codes or code == "unavailable"):
                                problems.append(f"{kind}.{field}={str(value)[:30]} -> {answer}")
                # Deep nesting in the frame's place.
                n += 1
                for answer in await exchange(client, {"type": kind, "x": [[[[[[[[[[[[[[[[[[[[1]]]]]]]]]]]]]]]]]]]]}, n):
                    if answer.get("type") == "error" and answer.get("code") not in codes:
                        problems.append(f"{kind} nested -> {answer}")
            assert client.close_code is None, f"the socket closed: {client.close_code}"
    errors = [f"{r.name}: {r.getMessage()[:200]}" for r in caplog.records if r.levelno >= logging.ERROR or r.exc_info]
    # A value the edge let through that the database refused: the writer says so.
    suspicious = [f"{r.name}: {r.getMessage()[:200]}" for r in caplog.records
                  if r.name == "chat.writer" or "unavailable" in r.getMessage()]
    assert not problems, "\n".join(problems[:40])
    assert not errors and not suspicious, "\n".join(errors + suspicious)

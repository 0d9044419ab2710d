"""The client frame dispatch table: one handler for every frame type, each taking the type
it is listed under (a mismatch would only show at run time, with the wrong frame)."""

from __future__ import annotations

import typing

from chat.hub import frames
from chat.hub.handlers import HANDLERS


def test_every_client_frame_has_a_handler() -> None:
    assert set(HANDLERS) == set(typing.get_args(frames.ClientFrame))


def test_each_handler_takes_the_frame_type_it_is_listed_under() -> None:
    for frame_type, handler in HANDLERS.items():
        first = next(iter(typing.get_type_hints(handler).values()))
        assert first is frame_type, f"{handler.__name__} takes {first}, listed under {frame_type.__name__}"

"""Output shapes: what the HTTP API and the frames show of a row, as msgspec structs.

Every shape is a :class:`View` named after what it shows (``CannedReplyView``), with one
constructor, ``@classmethod of(cls, row, ...)``, that does all the renaming and deriving.
The struct's field order is the wire's key order. A key that is sometimes left out is
typed ``X | UnsetType`` with the default ``UNSET`` (msgspec then omits it); a key that is
sent as ``null`` is typed ``X | None`` and always given. Handlers hand views to ``JSON``
and ``Services.publish`` unchanged (both encode with msgspec); where a plain dict is
needed — inside an event's stored ``data`` — :func:`as_data` makes one.

Times are strings made by :func:`iso`, the one datetime rule of the wire:
``datetime.isoformat()``, so an aware UTC time reads ``…+00:00``. msgspec's own encoding
of a ``datetime`` would write ``…Z``; the documented API, stored event data and the
clients all say ``+00:00``, so views never carry a ``datetime``.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, overload

import msgspec


class View(msgspec.Struct, frozen=True, kw_only=True):
    """Base of output shapes: ``class CannedReplyView(View, frozen=True, kw_only=True)``.

    Subclasses repeat both flags: msgspec does not inherit ``kw_only`` (which lets the
    field order follow the wire whatever has a default), and mypy does not inherit
    ``frozen``. Frozen, because a view is an answer, not a draft: a caller that needs
    another value says so with a field of the view (or ``msgspec.structs.replace``)."""


@overload
def iso(at: datetime) -> str: ...
@overload
def iso(at: None) -> None: ...
@overload
def iso(at: datetime | None) -> str | None: ...
def iso(at: datetime | None) -> str | None:
    """A time as the wire shows it (``isoformat()``), ``None`` stays ``None``."""
    return None if at is None else at.isoformat()


def as_data(view: View) -> dict[str, Any]:
    """The view as plain JSON values, for a place that stores or merges dicts (an event's
    ``data``): the same keys in the same order, ``UNSET`` fields left out."""
    data: dict[str, Any] = msgspec.to_builtins(view)
    return data

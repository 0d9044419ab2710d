"""The one rule that numbers a conversation's events (DESIGN: per-conversation sequence).

Every event takes the next ``seq``. Its ``prev_public_seq`` is the seq of the previous
event a customer can see, so a customer, who never receives internal notes, can still
tell a gap from a skipped note. The callers hold the conversation's lock while numbering.
"""

from __future__ import annotations

from collections.abc import Sequence


def number_run(last_seq: int, last_public_seq: int, internal: Sequence[bool]) -> tuple[list[tuple[int, int]], int]:
    """Number events appended after ``last_seq``, in order.

    Returns each event's ``(seq, prev_public_seq)`` and the conversation's new
    ``last_public_seq``."""
    numbers: list[tuple[int, int]] = []
    public = last_public_seq
    for offset, is_internal in enumerate(internal, start=1):
        seq = last_seq + offset
        numbers.append((seq, public))
        if not is_internal:
            public = seq
    return numbers, public

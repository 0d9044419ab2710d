"""The numbering rule shared by the message writer and the ticket sweeper's batches."""

from __future__ import annotations

from chat.numbering import number_run


def test_each_event_points_at_the_previous_public_one() -> None:
    # After seq 7 (public up to 5): a message, a note, a note, a message.
    numbers, last_public = number_run(7, 5, [False, True, True, False])
    assert numbers == [(8, 5), (9, 8), (10, 8), (11, 8)]
    assert last_public == 11


def test_only_notes_leave_the_public_position_alone() -> None:
    assert number_run(3, 3, [True, True]) == ([(4, 3), (5, 3)], 3)
    assert number_run(0, 0, []) == ([], 0)

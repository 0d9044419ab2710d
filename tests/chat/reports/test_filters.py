"""The reports' query string (chat/reports/filters.py): defaults, local days across DST,
and every bad input as a 400 with its code — never an exception of another kind."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from chat.errors import AppError
from chat.reports.filters import MAX_DAYS, parse_query, query_items
from chat.reports.selection import CHANNELS, COORDINATES, local_hours, parse_cell

NOW = datetime(2026, 11, 30, 23, 30, tzinfo=UTC)  # already Dec 1 in Berlin


def parse(pairs: list[tuple[str, str]], *, profile_tz: str | None = None, extra: tuple[str, ...] = ()):  # type: ignore[no-untyped-def]
    return parse_query(pairs, now=NOW, channels=CHANNELS, profile_tz=profile_tz, extra=extra)


def code(pairs: list[tuple[str, str]], **kw: object) -> tuple[int, str]:
    with pytest.raises(AppError) as info:
        parse(pairs, **kw)  # type: ignore[arg-type]
    return info.value.status, info.value.code


def test_defaults_are_the_last_30_days_in_the_viewers_zone() -> None:
    query, extras = parse([])
    assert (query.first, query.last, query.tz_name) == (date(2026, 11, 1), date(2026, 11, 30), "UTC")
    assert query.day_count == 30 and extras == {}
    assert query.start == datetime(2026, 11, 1, tzinfo=UTC) and query.end == datetime(2026, 12, 1, tzinfo=UTC)
    berlin, _ = parse([], profile_tz="Europe/Berlin")
    assert (berlin.first, berlin.last) == (date(2026, 11, 2), date(2026, 12, 1))
    assert berlin.start == datetime(2026, 11, 1, 23, tzinfo=UTC)
    # A stale zone in a profile is no reason to refuse the page; the same in tz= is an error.
    assert parse([], profile_tz="Mars/Olympus")[0].tz_name == "UTC"
    assert code([("tz", "Mars/Olympus")]) == (400, "bad_filter")


def test_filters_repeat_deduplicate_and_take_none() -> None:
    query, _ = parse([("agent", "3"), ("agent", "5"), ("agent", "3"), ("agent", "none"), ("severity", "1"),
                      ("plan", "premium"), ("channel", "email"), ("group", "second_level"), ("category", "none"),
                      ("company", "7"), ("site", "none"), ("from", "2026-11-01"), ("to", "2026-11-30"),
                      ("tz", "Europe/Berlin")])
    assert query.agents == (3, 5, None)
    assert query.filters_json() == {"site": ["none"], "company": [7], "plan": ["premium"], "group": ["second_level"],
                                    "agent": [3, 5, "none"], "category": ["none"], "severity": [1],
                                    "channel": ["email"]}
    again, _ = parse(query_items(query))
    assert again == query


@pytest.mark.parametrize(("pairs", "expected"), [
    ([("from", "2026-11-30"), ("to", "2026-11-01")], "bad_range"),
    ([("from", "2026-13-01")], "bad_range"),
    ([("from", "2026-02-30")], "bad_range"),
    ([("to", "20261101")], "bad_range"),
    ([("from", "1900-01-01"), ("to", "1900-01-02")], "bad_range"),
    ([("to", "9999-12-31")], "bad_range"),
    ([("from", "2025-01-01"), ("to", "2026-11-30")], "range_too_large"),
    ([("from", "2026-01-01"), ("to", "2027-01-02")], "range_too_large"),
    ([("customer", "3")], "bad_filter"),
    ([("from", "2026-11-01"), ("from", "2026-11-02")], "bad_filter"),
    ([("agent", "abc")], "bad_filter"),
    ([("agent", "0")], "bad_filter"),
    ([("agent", "-3")], "bad_filter"),
    ([("agent", str(2**63))], "bad_filter"),
    ([("agent", "٣")], "bad_filter"),  # an Arabic-Indic digit: isdigit() but not an id
    ([("company", "1e3")], "bad_filter"),
    ([("severity", "5")], "bad_filter"),
    ([("severity", "0")], "bad_filter"),
    ([("plan", "gold")], "bad_filter"),
    ([("channel", "fax")], "bad_filter"),
    ([("group", "a b")], "bad_filter"),
    ([("category", "x" * 65)], "bad_filter"),
    ([("tz", "../../etc/passwd")], "bad_filter"),
    ([("tz", "Europe/")], "bad_filter"),
    ([("tz", "")], "bad_filter"),
    ([("agent", "1")] * 101, "bad_filter"),
])
def test_bad_input_is_a_400_with_its_code(pairs: list[tuple[str, str]], expected: str) -> None:
    assert code(pairs) == (400, expected)


def test_a_year_and_a_day_is_the_limit() -> None:
    query, _ = parse([("from", "2024-01-01"), ("to", "2024-12-31")])  # a leap year: 366 days
    assert query.day_count == MAX_DAYS


def test_local_days_last_23_or_25_hours_across_dst() -> None:
    query, _ = parse([("from", "2026-03-28"), ("to", "2026-03-30"), ("tz", "Europe/Berlin")])
    hours = [(d.end - d.start) / timedelta(hours=1) for d in query.days()]
    assert hours == [24, 23, 24]
    autumn, _ = parse([("from", "2026-10-25"), ("to", "2026-10-25"), ("tz", "Europe/Berlin")])
    (day,) = autumn.days()
    assert (day.start, day.end - day.start) == (datetime(2026, 10, 24, 22, tzinfo=UTC), timedelta(hours=25))
    # Consecutive days share their boundary: no instant is in two days or in none.
    assert all(a.end == b.start for a, b in zip(query.days(), query.days()[1:], strict=False))


def test_a_half_hour_zone_starts_its_days_at_half_past() -> None:
    query, _ = parse([("from", "2026-11-02"), ("to", "2026-11-02"), ("tz", "Asia/Kolkata")])
    assert query.start == datetime(2026, 11, 1, 18, 30, tzinfo=UTC)
    # The heatmap's Monday 00:00 cell: the UTC hour 18:00 starts at 23:30 local (Sunday),
    # so the first hour counted at 00:xx is the one starting at 19:00 UTC (00:30 local).
    assert local_hours(query, 0, 0) == [datetime(2026, 11, 1, 19, tzinfo=UTC)]


def test_extra_parameters_are_single_and_cells_checked() -> None:
    _query, extras = parse([("metric", "breached"), ("target", "first_response"), ("policy", "Gold")],
                          extra=COORDINATES)
    cell = parse_cell(extras)
    assert (cell.metric, cell.target, cell.policy) == ("breached", "first_response", "Gold")
    assert code([("metric", "a"), ("metric", "b")], extra=COORDINATES) == (400, "bad_filter")
    for pairs in ([("metric", "nonsense")], [("metric", "created"), ("target", "resolution")],
                  [("metric", "timed")], [("metric", "created"), ("measure", "resolution_wall")],
                  [("metric", "messages"), ("weekday", "mon")], [("metric", "created"), ("weekday", "mon"), ("hour", "3")],
                  [("metric", "messages"), ("weekday", "mon"), ("hour", "24")], [("status", "lost")],
                  [("rating", "great")], [("bucket", "7")], [("day", "2026-1-1")], [("metric", "waiting"), ("day", "2026-11-03")]):
        _, extras = parse(pairs, extra=COORDINATES)
        with pytest.raises(AppError) as info:
            parse_cell(extras)
        assert (info.value.status, info.value.code) == (400, "bad_filter"), pairs

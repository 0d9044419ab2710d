"""The storm's refusal count (bench/loadgen.py) and its place in the aims table
(bench/report.py): a 1013 close counts, any other failure does not; the 5,000-client
storm is judged on issue 21's terms."""

from __future__ import annotations

from typing import Any

from websockets.exceptions import ConnectionClosedError
from websockets.frames import Close

from bench import loadgen, report


def closed(code: int) -> ConnectionClosedError:
    return ConnectionClosedError(Close(code, "x"), None)


def test_only_a_1013_close_is_a_refusal() -> None:
    assert loadgen._refused(closed(1013))
    assert not loadgen._refused(closed(4430))
    assert not loadgen._refused(ConnectionClosedError(None, None))
    assert not loadgen._refused(TimeoutError())


def test_refusals_per_client() -> None:
    found = loadgen._refusals([{"refused": 0}, {"refused": 1}, {"refused": 2}, {"refused": 2}, {}])
    assert found == {"total": 5, "max_per_client": 2, "clients_refused": 3, "clients_refused_more_than_once": 2,
                     "per_client": {"0": 2, "1": 1, "2": 2}}


def storm(seconds: float | None, max_refused: int, bad: int = 0) -> dict[str, Any]:
    return {"size": 5000, "mode": "sync", "all_caught_up_s": seconds, "caught_up": 5000, "bad_logs": bad,
            "raw_duplicates": 0, "raw_gaps": 0, "refusals_1013": {"total": 9, "max_per_client": max_refused,
                                                                     "clients_refused_more_than_once": 0}}


def aims_row(ours: dict[str, Any]) -> str:
    results = {"crowd": {"baseline": {"storms": [{**storm(3.0, 0)}]}, "ours": {"storms": [ours]}},
               "meta": {}, "pair": [], "fanout": []}
    return next(line for line in report.render(results).splitlines() if line.startswith("| reconnect storm, 5,000"))


def test_the_storm_aim() -> None:
    assert aims_row(storm(9.5, 1)).endswith("| yes |")
    assert "**no**" in aims_row(storm(12.0, 1))
    assert "**no**" in aims_row(storm(9.5, 2))
    assert "**no**" in aims_row(storm(9.5, 1, bad=3))

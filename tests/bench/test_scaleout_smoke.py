"""The scale-out part runs end to end on the README's recipe: PostgreSQL, Redis, the worker
and two web processes; a room of two with the sender on A and the receiver on B carries
every message, acked and delivered in order, and each window's CPU is read per process kind.
Tiny phases: the numbers are not checked here (docs/benchmarks.md has them)."""

from __future__ import annotations

from pathlib import Path

from bench.hub_bench import run_loadgen
from bench.scaleout import ScaleConfig, ScaleOut
from bench.scaleout_report import render_scaleout

TINY = ScaleConfig(rounds=1, pair_warmup=0.5, pair_seconds=1.0, pair_window=16, fanout={4: 20.0},
                   fanout_warmup=0.5, fanout_seconds=1.0, durable=False, placements=("one", "two"))


def test_two_web_processes_carry_a_room_across_redis(tmp_path: Path) -> None:
    results = ScaleOut(TINY, tmp_path, run_loadgen, lambda text: None).run()

    runs = {(r["scenario"], r["topology"]): r for r in results["runs"]}
    assert set(runs) == {("pair", "one"), ("pair", "two"), ("fanout", "one"), ("fanout", "two")}
    for key, run in runs.items():
        assert "error" not in run, (key, run)
        assert run["raw_duplicates"] == 0 and run["raw_gaps"] == 0, (key, run)
        assert run["errors"] == {}, (key, run)
    crossing = runs[("pair", "two")]
    assert crossing["sent"] > 0 and crossing["delivered"] == crossing["sent"]  # every message crossed to B
    assert crossing["max"]["acked_per_s"] > 0 and crossing["max"]["delivered_per_s"] > 0
    assert set(crossing["max"]["cpu_by_group"]) == {"web-A", "web-B", "worker", "postgres", "redis"}
    assert crossing["max"]["cpu_by_group"]["web-B"] > 0  # the receiving process did the delivering
    spread = runs[("fanout", "two")]
    assert spread["deliveries"] == spread["expected_deliveries"] == spread["sent"] * 4
    assert spread["cpu_by_group"]["web-B"] > 0

    summary = results["summary"]
    assert summary["errors"] == []
    assert summary["pair"]["two"]["rate"] > 0 and summary["fanout"][4]["two"]["per_all_cpu_s"] > 0
    text = render_scaleout(results, "2")
    assert "| two web processes + Redis (A → B) |" in text and "| room of two at its max, two |" in text

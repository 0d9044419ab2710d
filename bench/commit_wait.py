"""What waiting for the disk at commit costs the room of two on PostgreSQL, same session.

    python -m bench.commit_wait [--rounds 3]

One web process on PostgreSQL (placement ``pg`` of bench/scaleout.py: no Redis, so only the
database differs) runs the room of two with ``synchronous_commit`` on (the default: a commit
returns once its WAL is on disk) and off (it returns at once; a crash may lose the last
fraction of a second of acknowledged messages), alternating, changed on the running server
with ``ALTER SYSTEM`` and a reload. Prints one line per run and the medians.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import sys
import tempfile
from pathlib import Path

from bench.hub_bench import run_loadgen
from bench.scaleout import ScaleConfig, ScaleOut
from bench.stack import database_and_broker, serving

MODES = ("on", "off")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.commit_wait", description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args(argv)
    workdir = Path(tempfile.mkdtemp(prefix="commitwait-"))
    # Enough rooms for the warm-up and every run (ScaleOut seeds 1 + rounds × 3 per placement).
    scale = ScaleOut(ScaleConfig(rounds=2 * args.rounds, placements=("pg",)), workdir, run_loadgen,
                     lambda text: print(text, file=sys.stderr))
    runs: dict[str, list[dict[str, float]]] = {mode: [] for mode in MODES}
    try:
        with database_and_broker(scale.secret, durable=True) as stack:
            extra = scale.seed(stack)
            with serving(stack, workdir / "serving", [], extra=extra) as up:
                run_loadgen(scale.pair_spec(up, "pg", seconds=1.0), workdir)  # warm-up, not reported
                for _ in range(args.rounds):
                    for mode in MODES:
                        stack.postgres.psql(f"ALTER SYSTEM SET synchronous_commit = {mode}")
                        stack.postgres.psql("SELECT pg_reload_conf()")
                        scale.quiet(scale.groups(up, "pg"))
                        result = run_loadgen(scale.pair_spec(up, "pg"), workdir)
                        if "error" in result:
                            raise RuntimeError(f"synchronous_commit={mode}: {result['error']}")
                        top, half = result["max"], result["half"]
                        row = {"rate": top["rate"], "half_p50_ms": half["p50_ms"], "half_p99_ms": half["p99_ms"],
                               "other_cores": top["other_cores"]}
                        runs[mode].append(row)
                        print(f"synchronous_commit={mode}: {row} cpu {top['cpu_by_group']}", flush=True)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    for mode in MODES:
        medians = {key: statistics.median(r[key] for r in runs[mode]) for key in runs[mode][0]}
        print(f"median synchronous_commit={mode}: {medians}")
    # On a shared machine a neighbour's load moves between runs: each round's pair (on, off)
    # ran back to back, so its ratio is the number to read, with both runs' other load.
    for i, (on, off) in enumerate(zip(runs["on"], runs["off"], strict=True), 1):
        print(f"round {i}: off/on rate {off['rate'] / on['rate']:.2f}, half p50 {off['half_p50_ms'] / on['half_p50_ms']:.2f}; "
              f"other load {on['other_cores']:.2f} / {off['other_cores']:.2f} cores")
    return 0


if __name__ == "__main__":
    sys.exit(main())

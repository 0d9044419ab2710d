"""The python-socketio peer and its load generator work end to end, in both variants: a
short room-of-two run through bench/socketio_loadgen.py, started as the harness starts them
(bench/hub_bench.py), gets every message acknowledged and delivered once and in order, and
the SQLite variant has every message in its file. The numbers are not checked here
(docs/benchmarks.md has them); that the peer and its load generator work is."""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path

import pytest

from bench import hub_bench, report


@pytest.mark.parametrize("variant", hub_bench.PEERS)
def test_the_peer_acks_and_delivers_every_message_in_order(variant: str, tmp_path: Path) -> None:
    server = hub_bench.start_server(variant, tmp_path, dict(os.environ), product_limits=False)
    try:
        spec = {"scenario": "pair", "url": f"http://127.0.0.1:{server.port}", "server_pid": server.pid,
                "room": "smoke", "warmup_seconds": 0.2, "seconds": 0.8, "window": 16, "hard_deadline_seconds": 60}
        result = hub_bench.run_loadgen(spec, tmp_path, "bench.socketio_loadgen")
    finally:
        server.stop()
    assert "error" not in result, result
    assert result["sent"] > 100
    assert result["acked"] == result["delivered"] == result["sent"]
    assert (result["raw_duplicates"], result["raw_gaps"], result["errors"]) == (0, 0, {})
    assert result["max"]["rate"] > 0 and result["half"]["drained"]
    if variant == "peer-sqlite":
        (db_file,) = tmp_path.glob("peer-sqlite-*.db")
        with sqlite3.connect(db_file) as db:
            seqs = [seq for (seq,) in db.execute("SELECT seq FROM messages WHERE room = 'smoke' ORDER BY seq")]
        assert seqs == list(range(1, result["sent"] + 1))


def test_the_report_gives_ratios_against_both_peers_and_the_aims() -> None:
    def pair(server: str, rate: float, p99: float) -> dict[str, object]:
        return {"server": server, "round": 1, "max": {"rate": rate, "server_cpu_ms_per_msg": 0.2, "seconds": 1.0},
                "half": {"p50_ms": 1.0, "p99_ms": p99}}

    def fanout(server: str, members: int, per_cpu_s: float) -> dict[str, object]:
        return {"server": server, "round": 1, "members": members, "deliveries_per_cpu_s": per_cpu_s,
                "server_cpu_ms_per_msg": members / per_cpu_s * 1000, "drained": True}

    idle = {"idle": {"levels": [{"sockets": 1000, "target": 1000, "kib_per_socket": 40.0}]}}
    results = {
        "pair": [pair("ours", 3000, 8.0), pair("peer", 2000, 10.0), pair("peer-sqlite", 1000, 20.0)],
        "fanout": [fanout("ours", 10, 5000), fanout("peer", 10, 10000), fanout("peer-sqlite", 10, 4000),
                   fanout("ours", 100, 30000), fanout("peer", 100, 15000), fanout("peer-sqlite", 100, 15000)],
        "peer_idle": {"peer": idle, "peer-sqlite": idle,
                      "ours": {"idle": {"levels": [{"sockets": 1000, "kib_per_socket": 30.0}]}}},
    }
    text = report._peer_section(results)
    assert "| room of two: most acked-and-delivered messages/s (ours and peer-sqlite persisted) | 3,000 | 2,000 | " \
           "1,000 | 1.50 × | 3.00 × | ours/peer ≥ 1.0: yes |" in text
    assert "| fan-out, room of 10: deliveries per server CPU-second | 5,000 | 10,000 | 4,000 | 0.50 × | 1.25 × | " \
           "ours/peer ≥ 1.0: **no** |" in text
    assert "| latency at half load: p99 ms | 8.00 | 10.00 | 20.00 | 0.80 × | 0.40 × | ours/peer ≤ 1.0: yes |" in text
    assert "| RSS per idle socket at 1,000 (KiB) | 30.0 | 40.0 | 40.0 | 0.75 × | 0.75 × | (no aim) |" in text

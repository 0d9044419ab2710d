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

from bench import hub_bench


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

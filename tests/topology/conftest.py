"""``topology``: every test in this folder runs once on the embedded default and once on
the scale-out recipe (tests/support/topology.py)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tests.conftest import fresh_postgres_db
from tests.support.processes import PostgresServer, start_redis
from tests.support.topology import TOPOLOGIES, Topology, cluster, embedded


@pytest.fixture(params=TOPOLOGIES)
async def topology(
    request: pytest.FixtureRequest, tmp_path: Path, sqlite_url: str, postgres: PostgresServer
) -> AsyncIterator[Topology]:
    # Both databases are asked for up front: the session fixtures behind them migrate with
    # their own event loop, which cannot start inside this one.
    if request.param == "embedded":
        async with embedded(sqlite_url, tmp_path) as stage:
            yield stage
        return
    # A redis of its own: conversation ids restart at 1 in every test database, and two
    # tests' "conv:1" on one redis would be one channel.
    redis = start_redis()
    try:
        async with cluster(fresh_postgres_db(postgres), redis.url, tmp_path / "cluster") as stage:
            yield stage
    finally:
        redis.stop()

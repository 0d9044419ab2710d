"""``python -m escalation`` run as a real subprocess, the way the Procfile's worker runs it."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from tests.conftest import TEST_SECRET


def test_help_works_without_a_migrated_database(tmp_path: Path) -> None:
    empty = tmp_path / "empty.db"
    empty.touch()
    environ = {k: v for k, v in os.environ.items() if k not in {"DATABASE_URL", "REDIS_URL", "SECRET_KEY"}}
    environ.update({"DATABASE_URL": f"sqlite:///{empty}", "VAR_DIR": str(tmp_path / "var"), "SECRET_KEY": TEST_SECRET})
    result = subprocess.run([sys.executable, "-m", "escalation", "--help"], capture_output=True, text=True,
                            env=environ, cwd=tmp_path, timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("usage: python -m escalation")
    assert "out of date" not in result.stderr
    assert empty.stat().st_size == 0  # the database was not touched

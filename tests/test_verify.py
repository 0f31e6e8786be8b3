"""`runtime verify` end to end: a real daemon, a real SIGKILL, nothing lost."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.helpers import run_cli, write_config

pytestmark = pytest.mark.slow


def test_verify_reports_no_lost_jobs(tmp_path: Path, backend_url: str) -> None:
    config = write_config(tmp_path, backend_url, lease=2.0)
    done = run_cli("verify", "--jobs", "80", "--json", "-c", str(config), timeout=240)
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    print(f"\nverify on {backend_url.split(':')[0]}: {report}")
    assert (report["jobs"], report["completed"], report["lost"]) == (80, 80, 0)
    assert report["killed_pid"] > 0
    # Jobs interrupted by the kill ran again; at most the worker's threads and their
    # prefetched claims (4 + 4) were in flight.
    assert 1 <= report["ran_twice"] <= 8
    assert report["recovery_seconds"] is not None
    assert report["recovery_seconds"] < 2.0 + 0.67 + 10
    # It cleans up: no job of its scratch queue is left, and the queue is forgotten.
    status = json.loads(run_cli("status", "--json", "-c", str(config)).stdout)
    assert [row["name"] for row in status["queues"]] == ["default"]
    jobs = json.loads(run_cli("job", "list", "--json", "-c", str(config)).stdout)
    assert jobs == {"jobs": [], "next_cursor": None}

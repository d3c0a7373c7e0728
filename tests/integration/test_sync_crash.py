"""Crash safety: SIGKILL the sync process mid-run, re-run it, and the database equals the
simulator's data with nothing lost and nothing duplicated."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from sqlalchemy import Engine

from greenloop.services import ingest
from tests.simulation import (
    TOKEN,
    Sim,
    assert_database_matches,
    running_simulator,
    settings_for,
)

REPO = Path(__file__).resolve().parents[2]
PAGE = 15
COLLECTIONS = ("outlets", "registers", "users", "customer_groups", "customers", "sales")


def _sync_process(sim_url: str, db_url: str) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        "GREENLOOP_LIGHTSPEED_BASE_URL": sim_url,
        "GREENLOOP_LIGHTSPEED_TOKEN": TOKEN,
        "GREENLOOP_DATABASE_URL": db_url,
        "GREENLOOP_SYNC__PAGE_SIZE": str(PAGE),
    }
    return subprocess.Popen(
        [sys.executable, "-c", "from greenloop.cli import main; main()", "sync"],
        env=env,
        cwd=REPO / "tests",  # no greenloop.toml here: everything comes from the environment
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )


def _api_requests(sim: Sim) -> int:
    return sum(1 for r in sim.requests() if str(r["path"]).startswith("/api/"))


@pytest.mark.slow
def test_sigkill_at_several_points_then_rerun_converges(engine: Engine, db_url: str) -> None:
    with running_simulator(latency_ms=15) as sim:
        served = sim.store()
        total = 1 + sum(-(-len(served[k]) // PAGE) + 1 for k in served if k in COLLECTIONS)
        # Each run resumes where the last one died, so kill each after a slice of what is
        # left: early (first pages), in customers, in sales, and near the end.
        for kill_after in (2, total // 5, total // 4, total // 5):
            proc = _sync_process(sim.url, db_url)
            deadline = time.monotonic() + 60
            while _api_requests(sim) < kill_after and proc.poll() is None:
                assert time.monotonic() < deadline, "sync made no progress"
                time.sleep(0.005)
            proc.send_signal(signal.SIGKILL)
            proc.wait()
            assert proc.returncode == -signal.SIGKILL, "sync finished before it could be killed"
            sim.control("DELETE", "requests")
        # Change data between crashes, as a live store would.
        customer = next(c for c in sim.store()["customers"] if not c.get("deleted_at"))
        sim.control("PUT", f"customers/{customer['id']}", {"first_name": "AfterCrash"})
        final = _sync_process(sim.url, db_url)
        _out, err = final.communicate(timeout=120)
        assert final.returncode == 0, err.decode()
        assert_database_matches(engine, sim.store())
        # A further run finds nothing new: one request per resource.
        again = ingest.run_sync(settings_for(sim.url, db_url))
        assert again.changed == 0
        assert again.requests == 7

"""Two `greenloop sync` processes at once against a simulator process, on SQLite and
PostgreSQL: one runs, the other waits for it or stops with one line (exit 3). Nothing
prints a traceback or a row, and the database ends equal to the simulator's store."""

from __future__ import annotations

import json
import socket
import subprocess
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy import Engine, select

from greenloop.simulator.model import loads
from greenloop.store import tables as t
from greenloop.store.engine import make_engine
from tests.e2e.test_serve_support import (
    BIN,
    greenloop,
    greenloop_env,
    simulator_process,
    wait_until,
)
from tests.simulation import assert_database_matches

TOKEN = "e2e-concurrent-0123456789"


@pytest.fixture
def simulator() -> Iterator[str]:
    args = ["--port", "0", "--token", TOKEN, "--seed", "11", "--customers", "500"]
    with simulator_process(*args, "--days", "150", "--latency-ms", "10") as url:
        yield url


def _latency(simulator: str, ms: float) -> None:
    httpx.put(f"{simulator}/_sim/faults", json={"latency_ms": ms}, timeout=30).raise_for_status()


def _env(simulator: str, db_url: str) -> dict[str, str]:
    return greenloop_env(simulator, TOKEN, db_url, GREENLOOP_SYNC__PAGE_SIZE="40")


def _start_sync(env: dict[str, str], cwd: Path, *args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [str(BIN), "sync", "--json", *args],
        env=env,
        cwd=cwd,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _lock_holder(engine: Engine) -> str | None:
    with engine.connect() as conn:
        return conn.execute(
            select(t.job_locks.c.holder).where(t.job_locks.c.name == "sync")
        ).scalar()


def _served(simulator: str) -> dict[str, list[dict[str, object]]]:
    served = loads(httpx.get(f"{simulator}/_sim/store", timeout=60).content)
    return dict(served.get("data", served))


@pytest.mark.slow
def test_a_second_sync_stops_with_one_line_while_the_first_runs(
    simulator: str, db_url: str, tmp_path: Path
) -> None:
    env = _env(simulator, db_url)
    assert greenloop("init", env=env, cwd=tmp_path).returncode == 0
    engine = make_engine(db_url)
    try:
        first = _start_sync(env, tmp_path)
        wait_until(lambda: _lock_holder(engine) is not None, seconds=60, what="the first sync")
        _latency(simulator, 1000)  # the first sync is surely still running ...
        second = greenloop("sync", "--wait", "0", "--json", env=env, cwd=tmp_path)
        _latency(simulator, 0)  # ... until the second one has been refused
        out, err = first.communicate(timeout=300)
        assert first.returncode == 0, err

        assert second.returncode == 3
        lines = second.stderr.strip().splitlines()
        assert len(lines) == 1, second.stderr
        assert lines[0].startswith("error: another sync is running since ")
        assert f"({socket.gethostname()}:{first.pid})" in lines[0]
        payload = json.loads(second.stdout)
        assert payload["error_type"] == "Busy"
        assert payload["exit_code"] == 3
        assert payload["meaning"].startswith("retryable")

        assert json.loads(out)["resources"]["sales"]["fetched"] > 0
        assert_database_matches(engine, _served(simulator))
        with engine.connect() as conn:
            outcomes = conn.execute(select(t.sync_runs.c.outcome)).scalars().all()
        assert outcomes == ["ok"]  # the refused sync never started a run
    finally:
        engine.dispose()


@pytest.mark.slow
def test_two_syncs_started_together_run_one_after_the_other(
    simulator: str, db_url: str, tmp_path: Path
) -> None:
    env = _env(simulator, db_url)
    assert greenloop("init", env=env, cwd=tmp_path).returncode == 0
    engine = make_engine(db_url)
    try:
        procs = [_start_sync(env, tmp_path, "--wait", "300") for _ in range(2)]
        results = [proc.communicate(timeout=300) for proc in procs]
        for proc, (_out, err) in zip(procs, results, strict=True):
            assert proc.returncode == 0, err
            assert "Traceback" not in err
        changed = sorted(json.loads(out)["changed"] for out, _err in results)
        assert changed[0] == 0  # the second found nothing left to do
        assert changed[1] > 0
        assert_database_matches(engine, _served(simulator))
        with engine.connect() as conn:
            runs = conn.execute(
                select(
                    t.sync_runs.c.started_at, t.sync_runs.c.finished_at, t.sync_runs.c.outcome
                ).order_by(t.sync_runs.c.started_at)
            ).all()
        assert [run.outcome for run in runs] == ["ok", "ok"]
        assert runs[1].started_at >= runs[0].finished_at, "the two syncs overlapped"
    finally:
        engine.dispose()

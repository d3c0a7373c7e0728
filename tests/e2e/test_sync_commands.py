"""The acceptance scenario as a user runs it: a simulator process, then `greenloop sync`
twice, each a separate process, configured through the environment."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy import Engine

from greenloop.simulator.model import loads
from greenloop.store.engine import make_engine
from tests.e2e.test_serve_support import greenloop, simulator_process
from tests.simulation import assert_database_matches

TOKEN = "e2e-token-0123456789"


@pytest.fixture
def simulator() -> Iterator[str]:
    args = ["--port", "0", "--token", TOKEN, "--seed", "7", "--customers", "2000"]
    with simulator_process(*args, "--days", "365") as url:
        yield url


@pytest.mark.slow
def test_serve_then_sync_twice(simulator: str, tmp_path: Path) -> None:
    env = {
        **os.environ,
        "GREENLOOP_LIGHTSPEED_BASE_URL": simulator,
        "GREENLOOP_LIGHTSPEED_TOKEN": TOKEN,
    }
    env.pop("GREENLOOP_DATABASE_URL", None)
    assert greenloop("init", env=env, cwd=tmp_path).returncode == 0

    first = greenloop("sync", "--json", env=env, cwd=tmp_path)
    assert first.returncode == 0, first.stderr
    report = json.loads(first.stdout)
    assert report["resources"]["customers"]["fetched"] >= 2000

    served = loads(httpx.get(f"{simulator}/_sim/store", timeout=60).content)
    engine: Engine = make_engine(f"sqlite:///{tmp_path / 'greenloop.db'}")
    try:
        assert_database_matches(engine, served.get("data", served))
    finally:
        engine.dispose()

    second = greenloop("sync", "--json", env=env, cwd=tmp_path)
    assert second.returncode == 0, second.stderr
    again = json.loads(second.stdout)
    assert again["changed"] == 0
    assert {name: r["requests"] for name, r in again["resources"].items()} == {
        name: 1 for name in report["resources"]
    }
    assert TOKEN not in first.stdout + first.stderr + second.stdout + second.stderr

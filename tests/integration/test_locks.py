"""Job locks in the database, on SQLite and PostgreSQL."""

from __future__ import annotations

import subprocess
import sys
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import Engine

from greenloop.errors import Busy
from greenloop.store.locks import holder_name, job_lock


def test_a_held_lock_refuses_a_second_holder_until_released(engine: Engine) -> None:
    with (
        job_lock(engine, "daily", ttl=timedelta(minutes=5), holder="elsewhere:1"),
        pytest.raises(Busy, match="another daily run is in progress"),
        job_lock(engine, "daily", ttl=timedelta(minutes=5)),
    ):
        pass
    with job_lock(engine, "daily", ttl=timedelta(minutes=5)) as me:
        assert me == holder_name()


def test_an_expired_lock_is_taken_over(engine: Engine) -> None:
    past = datetime(2026, 1, 1, tzinfo=UTC)
    with (
        job_lock(
            engine, "push", ttl=timedelta(minutes=5), holder="elsewhere:1", clock=lambda: past
        ),
        job_lock(engine, "push", ttl=timedelta(minutes=5)),
    ):
        pass


def test_a_lock_whose_process_died_on_this_machine_is_taken_over(engine: Engine) -> None:
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    host = holder_name().rpartition(":")[0]
    with (
        job_lock(engine, "push", ttl=timedelta(hours=1), holder=f"{host}:{dead.pid}"),
        job_lock(engine, "push", ttl=timedelta(hours=1)),
    ):
        pass

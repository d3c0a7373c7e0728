"""Job locks in the database, on SQLite and PostgreSQL."""

from __future__ import annotations

import subprocess
import sys
import threading
import time
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import Engine, select

from greenloop.errors import Busy
from greenloop.store import tables as t
from greenloop.store.locks import holder_name, job_lock, renew_lock


def test_a_held_lock_refuses_a_second_holder_until_released(engine: Engine) -> None:
    with (
        job_lock(engine, "daily", ttl=timedelta(minutes=5), holder="elsewhere:1"),
        pytest.raises(Busy, match=r"another daily run is running since .* UTC \(elsewhere:1\)"),
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


def test_a_label_names_the_job_in_the_message(engine: Engine) -> None:
    with (
        job_lock(engine, "sync", ttl=timedelta(minutes=5), holder="elsewhere:2"),
        pytest.raises(Busy, match=r"^another sync is running since "),
        job_lock(engine, "sync", ttl=timedelta(minutes=5), label="sync"),
    ):
        pass


def test_a_waiting_run_takes_the_lock_when_it_frees(engine: Engine) -> None:
    held = threading.Event()

    def hold() -> None:
        with job_lock(engine, "sync", ttl=timedelta(minutes=5), holder="elsewhere:3"):
            held.set()
            time.sleep(1.2)

    thread = threading.Thread(target=hold)
    thread.start()
    assert held.wait(30)
    started = time.monotonic()
    with job_lock(engine, "sync", ttl=timedelta(minutes=5), wait_seconds=30) as me:
        assert me == holder_name()
        assert time.monotonic() - started >= 0.5
    thread.join()


def test_a_bounded_wait_ends_in_busy(engine: Engine) -> None:
    naps: list[float] = []
    with (
        job_lock(engine, "sync", ttl=timedelta(minutes=5), holder="elsewhere:4"),
        pytest.raises(Busy),
        job_lock(engine, "sync", ttl=timedelta(minutes=5), wait_seconds=2.5, sleep=naps.append),
    ):
        pass
    # The fake sleep returns at once, so only the deadline ends the waiting.
    assert naps
    assert all(0 < nap <= 1.0 for nap in naps)


def test_renew_moves_the_expiry_for_the_holder_only(engine: Engine) -> None:
    later = datetime(2030, 1, 1, tzinfo=UTC)
    with job_lock(engine, "sync", ttl=timedelta(minutes=5)) as me:
        with engine.begin() as conn:
            assert renew_lock(conn, "sync", me, later)
            assert not renew_lock(conn, "sync", "someone-else:1", later)
        with engine.connect() as conn:
            expires = conn.execute(
                select(t.job_locks.c.expires_at).where(t.job_locks.c.name == "sync")
            ).scalar_one()
        assert expires == later

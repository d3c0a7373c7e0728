"""Concurrent writers, on SQLite and PostgreSQL: one sync at a time (the `sync` lock), two
writers of one sale never collide (the webhook worker needs no lock), and a database
error is told without its rows."""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, func, insert, select
from sqlalchemy.exc import IntegrityError

from greenloop.errors import Busy
from greenloop.lightspeed.models import parse_sale
from greenloop.services import ingest
from greenloop.store import repo
from greenloop.store import tables as t
from greenloop.store.db_errors import describe_db_error
from greenloop.store.locks import job_lock
from tests.simulation import assert_database_matches, running_simulator, settings_for

PRIVATE = "jane.doe@example.com"


def _sale(version: int, items: int) -> dict[str, Any]:
    return {
        "id": "sale-1",
        "status": "CLOSED",
        "total_price_incl": Decimal(items),
        "sale_date": "2024-06-21T17:59:32+00:00",
        "version": version,
        "line_items": [
            {"id": f"li-{i}", "quantity": 1, "price": Decimal("1.00")} for i in range(items)
        ],
        "payments": [{"id": "p-1", "name": "Cash", "amount": Decimal(items)}],
    }


def _second_writer_while_first_is_open(
    engine: Engine, first: dict[str, Any], second: dict[str, Any]
) -> tuple[list[BaseException], list[repo.UpsertCounts]]:
    """The first writer stores its copy and holds its transaction open while the second
    reads the stored versions (nothing yet) and writes; then the first commits."""
    errors: list[BaseException] = []
    counts: list[repo.UpsertCounts] = []
    conn = engine.connect()
    tx = conn.begin()
    repo.upsert_sales(conn, [parse_sale(first)])

    def write() -> None:
        try:
            with engine.begin() as other:
                counts.append(repo.upsert_sales(other, [parse_sale(second)]))
        except Exception as exc:
            errors.append(exc)

    thread = threading.Thread(target=write)
    thread.start()
    time.sleep(0.5)  # the second writer is now waiting for the sale row (or the write lock)
    tx.commit()
    conn.close()
    thread.join(timeout=60)
    assert not thread.is_alive()
    return errors, counts


def _stored(engine: Engine) -> tuple[int, int, int]:
    with engine.connect() as conn:
        version = conn.execute(select(t.sales.c.version)).scalar_one()
        items = conn.execute(select(func.count()).select_from(t.sale_line_items)).scalar_one()
        payments = conn.execute(select(func.count()).select_from(t.sale_payments)).scalar_one()
    return version, items, payments


def test_two_writers_of_one_new_sale_do_not_collide(engine: Engine) -> None:
    # Before the fix the second writer's line items hit pk_sale_line_items on PostgreSQL:
    # the IntegrityError two concurrent syncs (or a sync and the worker) ended in.
    errors, counts = _second_writer_while_first_is_open(engine, _sale(5, 3), _sale(5, 3))
    assert errors == []
    assert _stored(engine) == (5, 3, 1)
    assert counts[0].new + counts[0].updated + counts[0].unchanged == 1


def test_a_newer_copy_stored_meanwhile_keeps_its_line_items(engine: Engine) -> None:
    errors, counts = _second_writer_while_first_is_open(engine, _sale(10, 3), _sale(8, 1))
    assert errors == []
    # The sale is the newer copy, and so are its line items (not the older copy's one).
    assert _stored(engine) == (10, 3, 1)
    assert (counts[0].new, counts[0].updated, counts[0].unchanged) == (0, 0, 1)


def test_a_second_sync_is_busy_with_one_line_while_one_runs(engine: Engine, db_url: str) -> None:
    with running_simulator() as sim:
        settings = settings_for(sim.url, db_url)
        with job_lock(engine, "sync", ttl=timedelta(minutes=5), holder="other-host:42"):
            with pytest.raises(Busy) as caught:
                ingest.run_sync(settings, wait_seconds=0)
            assert caught.value.exit_code == 3
            line = caught.value.one_line()
            assert line.startswith("another sync is running since ")
            assert "UTC (other-host:42)" in line
            with engine.connect() as conn:
                assert conn.execute(select(func.count()).select_from(t.sync_runs)).scalar() == 0
        ingest.run_sync(settings, wait_seconds=0)
        assert_database_matches(engine, sim.store())


def test_a_second_sync_waits_for_the_first_when_told_to(engine: Engine, db_url: str) -> None:
    with running_simulator() as sim:
        settings = settings_for(sim.url, db_url)
        held = threading.Event()

        def hold_for_a_moment() -> None:
            with job_lock(engine, "sync", ttl=timedelta(minutes=5), holder="other-host:43"):
                held.set()
                time.sleep(1.5)

        thread = threading.Thread(target=hold_for_a_moment)
        thread.start()
        assert held.wait(30)
        started = time.monotonic()
        report = ingest.run_sync(settings, wait_seconds=60)
        thread.join()
        assert time.monotonic() - started >= 1.0
        assert report.changed > 0
        assert_database_matches(engine, sim.store())


def test_the_sync_lock_is_renewed_with_each_page(engine: Engine, db_url: str) -> None:
    with running_simulator() as sim:
        settings = settings_for(sim.url, db_url, sync={"page_size": 25})
        seen: list[datetime] = []
        start = datetime.now(UTC)

        def progress(_name: str, _result: object) -> None:
            with engine.connect() as conn:
                seen.append(
                    conn.execute(
                        select(t.job_locks.c.expires_at).where(t.job_locks.c.name == "sync")
                    ).scalar_one()
                )

        ingest.run_sync(settings, progress=progress)
    assert len(seen) > 3
    assert seen == sorted(seen)
    assert seen[-1] > start + timedelta(minutes=settings.jobs.lock_minutes - 1)
    with engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(t.job_locks)).scalar() == 0


def test_a_real_constraint_error_is_told_without_its_row(engine: Engine) -> None:
    now = datetime.now(UTC)
    with pytest.raises(IntegrityError) as caught, engine.begin() as conn:
        conn.execute(
            insert(t.job_locks),
            [{"name": PRIVATE, "holder": None, "acquired_at": now, "expires_at": now}],
        )
    # PostgreSQL's own message quotes the row ("Failing row contains (jane.doe@…").
    line = describe_db_error(caught.value)
    assert PRIVATE not in line
    assert "job_locks" in line
    assert line.startswith("database error (IntegrityError: ")


def test_the_serve_poll_skips_a_round_while_another_sync_runs(
    engine: Engine, db_url: str, tmp_path: Path
) -> None:
    from greenloop.runtime.service import Service

    with running_simulator() as sim:
        settings = settings_for(
            sim.url, db_url, jobs={"output_dir": str(tmp_path / "out"), "poll_minutes": 0}
        )
        ingest.run_sync(settings)
        service = Service(settings)
        try:
            with job_lock(engine, "sync", ttl=timedelta(minutes=5), holder="other-host:44"):
                skipped = service.poll()
            assert skipped.error is not None
            assert skipped.error.startswith("another sync is running since ")
            assert service.poll().error is None
        finally:
            service.shutdown()

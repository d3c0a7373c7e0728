"""The full analysis' per-person stage split over two processes gives what one gives."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import Engine

from greenloop.analytics import per_person, purchase_rows, run
from greenloop.config import Settings
from greenloop.services import analysis, ingest
from greenloop.store.analytics_repo import PERSON_COLUMNS
from tests.simulation import ANCHOR, running_simulator, settings_for, small_store

STORE = small_store(seed=5, customers=120, days=200)


@pytest.fixture
def synced(engine: Engine, db_url: str) -> Settings:
    with running_simulator(STORE) as sim:
        settings = settings_for(sim.url, db_url, analytics={"min_customers_for_predictions": 50})
        ingest.run_sync(settings)
    return settings


@pytest.mark.skipif(per_person.cpus() < 2, reason="needs two CPUs")
def test_two_processes_compute_what_one_does(
    synced: Settings, engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    analysis.analyze(synced, now=ANCHOR)  # person ids from here on are stable
    options = analysis.analyze_options(synced)
    alone = run.compute_all(engine, options, ANCHOR)
    monkeypatch.setattr(per_person, "PARALLEL_MIN_PERSONS", 0)
    split = run.compute_all(engine, options, ANCHOR)
    assert [r.row for r in split.results] == [r.row for r in alone.results]
    assert [r.history for r in split.results] == [r.history for r in alone.results]
    assert [r.digest for r in split.results] == [r.digest for r in alone.results]
    timing = "fit_seconds"
    assert {k: v for k, v in split.predictions.items() if k != timing} == {
        k: v for k, v in alone.predictions.items() if k != timing
    }
    again = analysis.analyze(synced, now=ANCHOR)
    assert (again.changed, again.rows_written) == (0, 0)


@pytest.mark.skipif(per_person.cpus() < 2, reason="needs two CPUs")
def test_late_rows_come_back_from_the_second_process_as_computed(
    synced: Settings, engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A writing analysis carries persons stored unchanged but for their late columns as
    late rows, from either process alike."""
    analysis.analyze(synced, now=ANCHOR)
    options = analysis.analyze_options(synced)
    later = ANCHOR + timedelta(days=1)
    alone = run.compute_all(engine, options, later, full_rows=False)
    monkeypatch.setattr(per_person, "PARALLEL_MIN_PERSONS", 0)
    split = run.compute_all(engine, options, later, full_rows=False)
    assert [r.row for r in split.results] == [r.row for r in alone.results]
    assert [r.digest for r in split.results] == [r.digest for r in alone.results]
    late = [r.row for r in split.results if len(r.row) < len(PERSON_COLUMNS)]
    assert 0 < len(late) < len(split.results)
    full = {r.row["id"]: r.row for r in run.compute_all(engine, options, later).results}
    for row in late:
        assert row == {c: full[row["id"]][c] for c in row}


@pytest.mark.skipif(per_person.cpus() < 2, reason="needs two CPUs")
def test_purchases_read_in_a_forked_process_are_the_ones_read_here(
    synced: Settings, engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    analysis.analyze(synced, now=ANCHOR)
    options = analysis.analyze_options(synced)
    alone = run.compute_all(engine, options, ANCHOR)
    monkeypatch.setattr(purchase_rows, "FORK_MIN_SALES", 0)
    forked = run.compute_all(engine, options, ANCHOR)
    assert (forked.purchases, forked.unattributed) == (alone.purchases, alone.unattributed)
    assert [r.row for r in forked.results] == [r.row for r in alone.results]
    assert [r.digest for r in forked.results] == [r.digest for r in alone.results]

    # A forked process that dies without its rows: the parent reads them itself.
    def die(self: purchase_rows.PurchaseReader, send: object) -> None:
        raise SystemExit(1)

    monkeypatch.setattr(purchase_rows.PurchaseReader, "_send_rows", die)
    fallen_back = run.compute_all(engine, options, ANCHOR)
    assert [r.row for r in fallen_back.results] == [r.row for r in alone.results]
    again = analysis.analyze(synced, now=ANCHOR)
    assert (again.changed, again.rows_written) == (0, 0)

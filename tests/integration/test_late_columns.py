"""A full analysis' late columns (the predictions and the risk they confirm) and row
digests, worked out in a forked process while the parent writes, are the ones worked out
in the parent."""

from __future__ import annotations

import multiprocessing
import time

import pytest
from sqlalchemy import Engine

from greenloop.analytics import late_columns, per_person, run
from greenloop.config import Settings
from greenloop.services import analysis, ingest
from greenloop.store import analytics_repo
from tests.simulation import ANCHOR, running_simulator, settings_for, small_store

STORE = small_store(seed=11, customers=120, days=200)

pytestmark = pytest.mark.skipif(per_person.cpus() < 2, reason="needs two CPUs")


@pytest.fixture
def synced(engine: Engine, db_url: str) -> Settings:
    with running_simulator(STORE) as sim:
        settings = settings_for(
            sim.url,
            db_url,
            analytics={
                "min_customers_for_predictions": 50,
                "min_repeat_customers_for_predictions": 10,
            },
        )
        ingest.run_sync(settings)
    return settings


def _without_timing(summary: dict[str, object]) -> dict[str, object]:
    return {k: v for k, v in summary.items() if k != "fit_seconds"}


def test_a_fit_aside_gives_the_rows_and_account_of_a_fit_here(
    synced: Settings, engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    analysis.analyze(synced, now=ANCHOR)  # person ids from here on are stable
    options = analysis.analyze_options(synced)
    here = run.compute_all(engine, options, ANCHOR)
    assert here.predictions["fitted"] is True, here.predictions
    monkeypatch.setattr(late_columns, "FORK_MIN_PERSONS", 0)
    aside = run.compute_all(engine, options, ANCHOR, late_aside=True)
    assert aside.pending is not None
    assert aside.pending.forked
    assert aside.predictions == {}
    run.take_predictions(aside, options)
    assert aside.pending is None
    assert [r.row for r in aside.results] == [r.row for r in here.results]
    assert _without_timing(aside.predictions) == _without_timing(here.predictions)
    assert aside.digests == [analytics_repo.row_hash(r.row, r.digest) for r in here.results]


def test_an_analysis_with_its_fit_aside_writes_what_one_without_wrote(
    synced: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    first = analysis.analyze(synced, now=ANCHOR)
    assert first.predictions["fitted"] is True
    monkeypatch.setattr(late_columns, "FORK_MIN_PERSONS", 0)
    again = analysis.analyze(synced, now=ANCHOR)
    assert (again.changed, again.rows_written) == (0, 0)
    assert list(again.stages)[4:7] == ["risk", "write_first", "predictions"]
    assert again.predictions["fitted"] is True


def test_a_fit_that_dies_aside_is_done_again_here(
    synced: Settings, engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    analysis.analyze(synced, now=ANCHOR)
    options = analysis.analyze_options(synced)
    here = run.compute_all(engine, options, ANCHOR)

    def die(self: late_columns.LateAside, send: object) -> None:
        raise SystemExit(1)

    monkeypatch.setattr(late_columns, "FORK_MIN_PERSONS", 0)
    monkeypatch.setattr(late_columns.LateAside, "_work_and_send", die)
    aside = run.compute_all(engine, options, ANCHOR, late_aside=True)
    assert aside.pending is not None
    assert aside.pending.forked
    run.take_predictions(aside, options)
    assert [r.row for r in aside.results] == [r.row for r in here.results]
    again = analysis.analyze(synced, now=ANCHOR)
    assert (again.changed, again.rows_written) == (0, 0)


def test_a_failed_write_stops_the_fit_aside(
    synced: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    analysis.analyze(synced, now=ANCHOR)
    monkeypatch.setattr(late_columns, "FORK_MIN_PERSONS", 0)

    def broken(*args: object, **kwargs: object) -> None:
        raise RuntimeError("the disk is full")

    def slow(*args: object) -> None:
        time.sleep(120)  # a fit still running when the write fails

    monkeypatch.setattr(analytics_repo, "replace_identity", broken)
    monkeypatch.setattr(late_columns, "fit_predictions", slow)
    with pytest.raises(RuntimeError, match="the disk is full"):
        analysis.analyze(synced, now=ANCHOR)
    assert multiprocessing.active_children() == []

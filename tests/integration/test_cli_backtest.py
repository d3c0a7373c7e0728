"""`greenloop analyze --as-of` and `greenloop backtest` from the command line, on stores
synced from the simulator: the what-if writes nothing, the backtest reports its figures
and is kept for the dashboard, too little history is refused in one line."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import create_engine, func, select
from typer.testing import CliRunner

from greenloop.analytics.backtest import last_backtest
from greenloop.cli import app
from greenloop.store import tables as t
from tests.simulation import ANCHOR, TOKEN, running_simulator, small_store

runner = CliRunner()
AS_OF = (ANCHOR - timedelta(days=100)).date().isoformat()


def _synced(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, customers: int, days: int) -> Path:
    config = tmp_path / "greenloop.toml"
    monkeypatch.setenv("GREENLOOP_LIGHTSPEED_TOKEN", TOKEN)
    with running_simulator(small_store(seed=23, customers=customers, days=days)) as sim:
        made = runner.invoke(app, ["init", "--config", str(config), "--base-url", sim.url])
        assert made.exit_code == 0, made.output
        synced = runner.invoke(app, ["sync", "--config", str(config)])
        assert synced.exit_code == 0, synced.output
    return config


def test_analyze_as_of_writes_nothing_and_backtest_reports_its_figures(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Big enough for the models to be compared on their own holdout (200 people before
    # it), small enough for a test: the retailer's readiness thresholds are lowered.
    config = _synced(tmp_path, monkeypatch, customers=800, days=365)
    monkeypatch.setenv("GREENLOOP_ANALYTICS__MIN_CUSTOMERS_FOR_PREDICTIONS", "100")
    monkeypatch.setenv("GREENLOOP_ANALYTICS__MIN_REPEAT_CUSTOMERS_FOR_PREDICTIONS", "40")
    engine = create_engine(f"sqlite:///{tmp_path / 'greenloop.db'}")
    try:
        what_if = runner.invoke(
            app, ["analyze", "--config", str(config), "--as-of", AS_OF, "--json"]
        )
        assert what_if.exit_code == 0, what_if.output
        report = json.loads(what_if.stdout)
        assert report["what_if"] is True
        assert report["run_id"] is None
        assert report["rows_written"] == 0
        assert report["as_of"].startswith(AS_OF)
        assert report["predictions"]["fitted"] is True, report["predictions"]
        with engine.connect() as conn:
            for table in (t.persons, t.analyze_runs, t.tier_history, t.tier_snapshots):
                assert conn.execute(select(func.count()).select_from(table)).scalar() == 0

        human = runner.invoke(app, ["analyze", "--config", str(config), "--as-of", AS_OF])
        assert human.exit_code == 0, human.output
        assert "what-if, nothing written" in human.stdout

        tested = runner.invoke(
            app,
            ["backtest", "--config", str(config), "--as-of", AS_OF, "--horizon-days", "60"],
            catch_exceptions=False,
        )
        assert tested.exit_code == 0, tested.output
        for label in ("AUC:", "purchases:", "at-risk list:", "recency only:", "model:"):
            assert label in tested.stdout
        as_json = runner.invoke(
            app, ["backtest", "--config", str(config), "--as-of", AS_OF, "--json"]
        )
        assert as_json.exit_code == 0, as_json.output
        result = json.loads(as_json.stdout)
        assert {
            "as_of",
            "horizon_days",
            "auc",
            "calibration_error",
            "calibration",
            "purchases",
            "value_12m",
            "tiers",
            "at_risk",
            "recency_baseline",
            "model",
            "model_reason",
        } <= set(result)
        assert result["horizon_days"] == 90  # analytics.backtest_horizon_days
        assert result["model"] in {"bgnbd", "mbgnbd", "pareto_nbd", "nbd"}
        assert 0.7 < result["auc"] <= 1, result["auc"]
        assert {"precision", "recall", "size"} <= set(result["at_risk"])
        assert result["at_risk"]["size"] == result["recency_baseline"]["size"]
        kept = last_backtest(engine)
        assert kept is not None
        assert kept["as_of"] == result["as_of"]
        assert kept["auc"] == result["auc"]
        assert kept["ran_at"]
        with engine.connect() as conn:
            assert conn.execute(select(func.count()).select_from(t.persons)).scalar() == 0

        # analytics.prediction_models narrows the per-store choice.
        monkeypatch.setenv("GREENLOOP_ANALYTICS__PREDICTION_MODELS", "mbgnbd")
        narrowed = runner.invoke(
            app, ["analyze", "--config", str(config), "--as-of", AS_OF, "--json"]
        )
        assert narrowed.exit_code == 0, narrowed.output
        model = json.loads(narrowed.stdout)["predictions"]["model"]
        assert model["model"] == "mbgnbd"
        assert set(model["scores"]) == {"mbgnbd"}
    finally:
        engine.dispose()


def test_backtest_on_a_tiny_store_is_refused_in_one_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = _synced(tmp_path, monkeypatch, customers=120, days=120)
    result = runner.invoke(app, ["backtest", "--config", str(config), "--as-of", AS_OF])
    assert result.exit_code == 2
    [line] = result.stderr.strip().splitlines()
    assert line.startswith("error: cannot backtest as of ")
    assert "needs" in line
    as_json = runner.invoke(app, ["backtest", "--config", str(config), "--as-of", AS_OF, "--json"])
    assert as_json.exit_code == 2
    assert json.loads(as_json.stdout)["error_type"] == "NotEnoughHistory"
    engine = create_engine(f"sqlite:///{tmp_path / 'greenloop.db'}")
    try:
        assert last_backtest(engine) is None
    finally:
        engine.dispose()

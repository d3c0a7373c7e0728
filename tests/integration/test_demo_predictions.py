"""The demo store (its defaults: 2,000 customers, a year) fits predictions, and the demo
leaves a backtest for the at-risk page (issue 16's acceptance)."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from greenloop.analytics.backtest import last_backtest
from greenloop.cli import app
from greenloop.runtime.demo import BACKTEST_DAYS, run_demo
from greenloop.store.engine import make_engine


def test_the_demo_store_fits_predictions_and_keeps_a_backtest(tmp_path: Path) -> None:
    result, simulator = run_demo(tmp_path / "demo", steps=None)
    simulator.stop()
    assert result.analysis.predictions["fitted"] is True, result.analysis.predictions
    assert result.backtest is not None
    assert result.backtest["horizon_observed"] is True
    assert result.backtest["auc"] >= 0.75, result.backtest["auc"]
    engine = make_engine(result.settings.database_url())
    try:
        kept = last_backtest(engine)
    finally:
        engine.dispose()
    assert kept is not None
    assert kept["as_of"] == result.backtest["as_of"]
    assert kept["horizon_days"] == 90 == BACKTEST_DAYS

    analyzed = CliRunner().invoke(
        app,
        ["analyze", "--config", str(result.config_path), "--json"],
        env={"GREENLOOP_LIGHTSPEED_TOKEN": simulator.token},
    )
    assert analyzed.exit_code == 0, analyzed.output
    predictions = json.loads(analyzed.stdout)["predictions"]
    assert predictions["fitted"] is True, predictions
    # The demo's last analysis chose the model today: this one keeps it and refits it.
    assert predictions["model"]["kept"] is True, predictions["model"]
    chosen = result.analysis.predictions["model"]
    assert predictions["model"]["model"] == chosen["model"]
    assert predictions["model"]["chosen_on"] == chosen["chosen_on"]

    again = CliRunner().invoke(
        app,
        ["analyze", "--config", str(result.config_path), "--json"],
        env={
            "GREENLOOP_LIGHTSPEED_TOKEN": simulator.token,
            "GREENLOOP_ANALYTICS__MODEL_CHOICE_DAYS": "0",
        },
    )
    assert again.exit_code == 0, again.output
    assert json.loads(again.stdout)["predictions"]["model"]["kept"] is False

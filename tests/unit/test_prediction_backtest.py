"""Predictions on a generated store with lifecycles, scored against the generator's truth."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))
from predictions import generated

from greenloop.analytics.backtest import auc


@pytest.fixture(scope="module")
def scored() -> dict[str, Any]:
    return generated(customers=2500, days=730, seed=5)


def test_auc_and_totals_meet_the_targets_with_a_margin(scored: dict[str, Any]) -> None:
    assert scored["auc"] >= 0.82, scored["auc"]
    assert abs(scored["purchases_90d"]["error"]) <= 0.08, scored["purchases_90d"]
    assert abs(scored["value_365d"]["error"]) <= 0.12, scored["value_365d"]
    assert scored["fit_seconds"] < 4
    assert scored["model"] in {"bgnbd", "mbgnbd", "pareto_nbd", "nbd"}


def test_the_at_risk_list_is_at_least_as_precise_as_recency_alone(
    scored: dict[str, Any],
) -> None:
    ours, baseline = scored["at_risk"], scored["recency_baseline"]
    assert ours["size"] == baseline["size"] > 0
    assert ours["precision"] >= baseline["precision"], (ours, baseline)
    assert ours["recall"] >= 0.6, ours


def test_auc_counts_ties_as_half() -> None:
    assert auc([0.1, 0.4, 0.35, 0.8], [False, True, False, True]) == 1.0
    assert auc([0.5, 0.5], [True, False]) == 0.5
    assert auc([0.2, 0.9], [True, False]) == 0.0
    assert auc([0.2], [True]) is None

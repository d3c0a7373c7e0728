"""Predictions for everyone, once the data is ready for the models."""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import asdict
from datetime import date, datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from greenloop.analytics.compute import PersonResult
from greenloop.domain.purchases import Purchase

if TYPE_CHECKING:
    from greenloop.analytics.run import AnalyzeOptions
    from greenloop.domain.predictions import CustomerSummary

__all__ = ["apply_predictions", "summaries_for"]

FOUR_PLACES = Decimal("0.0001")

# The fits are small dense problems: BLAS threads fight over two cores and made them
# several times slower here. Only effective before NumPy is first imported.
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")


def summaries_for(
    results: Sequence[PersonResult],
    by_person: Mapping[str, Sequence[Purchase]],
    options: AnalyzeOptions,
    now: datetime,
) -> dict[str, CustomerSummary]:
    # SciPy takes a second to import; commands that never predict should not pay it.
    from greenloop.domain.predictions import summarize_purchases

    zone = options.metrics.store_zone
    end = now.astimezone(zone).date()
    summaries: dict[str, CustomerSummary] = {}
    for result in results:
        pid = result.row["id"]
        pairs: list[tuple[date, Decimal]] = [
            (p.occurred_at.astimezone(zone).date(), p.value)
            for p in by_person.get(pid, ())
            if p.counts and p.kind == "purchase" and p.occurred_at and p.occurred_at <= now
        ]
        if pairs:
            summaries[pid] = summarize_purchases(pairs, end)
    return summaries


def apply_predictions(
    results: Sequence[PersonResult],
    by_person: Mapping[str, Sequence[Purchase]],
    options: AnalyzeOptions,
    now: datetime,
) -> dict[str, Any]:
    """Fit BG/NBD and Gamma-Gamma when ready and write each person's predictions into
    their row; returns what happened, for the run log."""
    from greenloop.domain.predictions import (
        ModelFitError,
        ModelReadiness,
        check_readiness,
        fit_models,
    )

    summaries = summaries_for(results, by_person, options, now)
    ready, reasons = check_readiness(summaries.values(), ModelReadiness(**options.readiness))
    if not ready:
        return {"ready": False, "fitted": False, "reasons": reasons}
    try:
        fit = fit_models(summaries)
    except ModelFitError as exc:
        return {"ready": True, "fitted": False, "reasons": [str(exc)]}
    for result in results:
        prediction = fit.predictions.get(result.row["id"])
        if prediction is None:
            continue
        result.row["p_alive"] = Decimal(repr(prediction.probability_alive)).quantize(FOUR_PLACES)
        result.row["expected_purchases_90d"] = Decimal(
            repr(prediction.expected_purchases_90d)
        ).quantize(FOUR_PLACES)
        result.row["predicted_value_12m"] = prediction.predicted_value_12m
    return {
        "ready": True,
        "fitted": True,
        "reasons": [],
        "customers": fit.customers,
        "spend_customers": fit.spend_customers,
        "bgnbd": asdict(fit.bgnbd),
        "gamma_gamma": asdict(fit.gamma_gamma),
        "fit_seconds": round(fit.fit_seconds, 3),
    }

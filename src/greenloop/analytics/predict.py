"""Predictions for everyone, once the data is ready for the models."""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from datetime import date, datetime, tzinfo
from decimal import Decimal
from typing import TYPE_CHECKING, Any, NamedTuple

from greenloop.domain.purchases import Timeline

if TYPE_CHECKING:
    from greenloop.analytics.options import AnalyzeOptions
    from greenloop.domain.predictions import CustomerSummary

__all__ = ["Fitted", "fit_predictions", "summary_carried", "summary_of"]

FOUR_PLACES = Decimal("0.0001")

# The fits are small dense problems: BLAS threads fight over two cores and made them
# several times slower here. Only effective before NumPy is first imported.
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")


def summary_of(timeline: Timeline, now: datetime, zone: tzinfo | None) -> CustomerSummary | None:
    """A person's purchase days and values up to ``now``, for the models (None: none)."""
    # SciPy takes a second to import; commands that never predict should not pay it.
    from greenloop.domain.predictions import summarize_purchases

    count = timeline.upto_purchases(now)
    if not count:
        return None
    if zone is not None:
        days = timeline.purchase_days(zone)[:count]
    else:
        # astimezone(None) is the machine's zone, as these summaries always read it.
        days = [m.astimezone(None).date() for m in timeline.purchase_at[:count]]
    values = timeline.purchase_values()[:count]
    return summarize_purchases(zip(days, values, strict=True), now.astimezone(zone).date())


def summary_carried(
    days: Sequence[int], repeat_value: str, now: datetime, zone: tzinfo | None
) -> CustomerSummary:
    """:func:`summary_of` at ``now`` of a person who bought nothing since the summary's
    days (as ordinals) and repeat value were taken."""
    from greenloop.domain.predictions import summary_of_days

    end = now.astimezone(zone).date()
    return summary_of_days(tuple(map(date.fromordinal, days)), Decimal(repeat_value), end)


class Fitted(NamedTuple):
    """What :func:`fit_predictions` gives: the run log's account of it, and each
    person's prediction columns (``p_alive``, ``expected_purchases_90d``,
    ``predicted_value_12m``) by person id."""

    summary: dict[str, Any]
    columns: dict[str, tuple[Decimal, Decimal, Decimal]]


def fit_predictions(
    summaries: Mapping[str, CustomerSummary],
    options: AnalyzeOptions,
    last_choice: Mapping[str, Any] | None = None,
) -> Fitted:
    """Choose and fit the purchase model (BG/NBD, MBG/NBD, Pareto/NBD or NBD, by a
    backtest on this store's own history) and Gamma-Gamma when ready, and each person's
    prediction columns. ``summaries``: person id → :func:`summary_of`, for those with a
    purchase. ``last_choice``: the latest full analysis' model choice, kept while it is
    young (:func:`~greenloop.domain.prediction_models.kept_choice`). Reads nothing else:
    it may run in a process of its own (:mod:`~greenloop.analytics.late_columns`)."""
    if not options.predictions:
        reasons = ["predictions are turned off (analytics.predictions)"]
        return Fitted({"ready": False, "reasons": reasons}, {})
    from greenloop.domain.prediction_models import fit_family, kept_choice
    from greenloop.domain.predictions import ModelFitError, ModelReadiness, check_readiness

    ready, reasons = check_readiness(summaries.values(), ModelReadiness(**options.readiness))
    if not ready:
        return Fitted({"ready": False, "fitted": False, "reasons": reasons}, {})
    try:
        today = next(iter(summaries.values())).observation_end
        kept = kept_choice(last_choice, options.prediction_models, today, options.model_choice_days)
        fit = fit_family(summaries, candidates=options.prediction_models, kept=kept)
    except ModelFitError as exc:
        return Fitted({"ready": True, "fitted": False, "reasons": [str(exc)]}, {})
    columns = {
        pid: (
            Decimal(repr(prediction.probability_alive)).quantize(FOUR_PLACES),
            Decimal(repr(prediction.expected_purchases_90d)).quantize(FOUR_PLACES),
            prediction.predicted_value_12m,
        )
        for pid, prediction in fit.predictions.items()
    }
    return Fitted({"ready": True, "fitted": True, "reasons": [], **fit.as_json()}, columns)

"""What-if analysis as of a past date, and a backtest of its predictions against what followed.

:func:`analyze_as_of` computes persons, metrics, tiers, risk and predictions as if the
current time were ``as_of``: every figure reads only purchases up to it, and nothing
is written (a what-if, like ``tiers preview``). :func:`backtest` then reads what the
database shows after ``as_of`` and scores the predictions:

* the AUC of P(active) against "bought again within the horizon" (0.5 is a coin);
* calibration by decile of P(active): its mean beside the share who bought again, and
  the size-weighted mean gap (an expected calibration error);
* predicted against actual purchase days in the horizon, and the predicted 12-month
  value against the value bought in the 365 days after ``as_of``, in total and per
  tier (value counts purchases, returns aside, as the models do);
* the at-risk list (risk ``at_risk`` or ``lapsed`` at ``as_of``) scored as a
  prediction of "did not buy within the horizon": precision and recall, beside a
  recency-only list of the same size (the people longest without a purchase).
"""

from __future__ import annotations

import json
import math
from bisect import bisect_left, bisect_right
from collections import Counter, defaultdict
from collections.abc import Sequence
from datetime import date, datetime, timedelta, tzinfo
from decimal import Decimal
from typing import Any

from sqlalchemy import Connection, Engine

from greenloop.analytics.facts import load_people
from greenloop.analytics.options import AnalyzeOptions
from greenloop.analytics.purchase_rows import (
    entries_by_person,
    group_rows,
    parse_entries,
    read_purchase_rows,
)
from greenloop.analytics.run import AnalyzeReport, Computation, compute_all
from greenloop.domain.purchases import RETURN
from greenloop.errors import FatalError
from greenloop.store.service_state import read_value, write_value

__all__ = [
    "AT_RISK",
    "LAST_BACKTEST",
    "NotEnoughHistory",
    "analyze_as_of",
    "auc",
    "backtest",
    "last_backtest",
    "save_backtest",
    "what_if_report",
]

AT_RISK = frozenset({"at_risk", "lapsed"})
_VALUE_DAYS = 365
# The service_state row holding the last backtest (JSON), for the dashboard.
LAST_BACKTEST = "analytics.last_backtest"


class NotEnoughHistory(FatalError):
    """The history before the as-of date does not meet the models' readiness thresholds."""

    hint = (
        "Pick a later --as-of date, or lower the analytics.min_*_for_predictions "
        "thresholds if you accept the risk."
    )


def analyze_as_of(engine: Engine, options: AnalyzeOptions, as_of: datetime) -> Computation:
    """Everyone as of ``as_of`` (tz-aware), purchases after it ignored; writes nothing."""
    if as_of.utcoffset() is None:
        raise ValueError("as_of must be timezone-aware")
    return compute_all(engine, options, as_of)


def what_if_report(computed: Computation, as_of: datetime, seconds: float) -> AnalyzeReport:
    """An as-of computation in the shape of ``analyze``'s report; nothing was written, so
    there is no run (``run_id`` 0) and no row written.

    The tier counts are the tiers the program's rules give as of ``as_of``: the held
    tiers (reviews, locks) come from the states the last real analysis stored, which
    may be later than ``as_of``. ``changed`` counts the moves the what-if would record
    against those states. ``purchases`` counts the persons' purchases up to ``as_of``;
    walk-in purchases (nobody's) are not counted by date, so they are left at 0.
    """
    results = computed.results
    history = [r.history for r in results if r.history is not None]
    counts = Counter(r.row.get("earned_tier") or "(none)" for r in results)
    placeholders = computed.index.placeholders
    return AnalyzeReport(
        run_id=0,
        as_of=as_of,
        persons=len(results),
        profiles=len(computed.facts.profiles),
        tier_counts=dict(sorted(counts.items())),
        changed=len(history),
        changes=dict(sorted(Counter(h.change for h in history).items())),
        rows_written=0,
        purchases=sum(int(r.row.get("purchases") or 0) for r in results),
        unattributed_purchases=0,
        placeholders=len(placeholders.emails) + len(placeholders.phones),
        store_cycle_days=computed.store_cycle,
        predictions=computed.predictions,
        seconds=round(seconds, 3),
    )


def save_backtest(engine: Engine, result: dict[str, Any], ran_at: datetime) -> None:
    """Keep ``result`` as the last backtest (one row, replaced each time)."""
    stored = {**result, "ran_at": ran_at.isoformat()}
    write_value(engine, LAST_BACKTEST, json.dumps(stored, default=str))


def last_backtest(conn: Engine | Connection) -> dict[str, Any] | None:
    """The last backtest :func:`save_backtest` kept, or None (never run, or unreadable)."""
    text = read_value(conn, LAST_BACKTEST)
    if not text:
        return None
    try:
        value = json.loads(text)
    except ValueError:
        return None
    return value if isinstance(value, dict) else None


def auc(scores: Sequence[float], labels: Sequence[bool]) -> float | None:
    """Area under the ROC curve (ties count half); None when one class is empty."""
    pairs = sorted(zip(scores, labels, strict=True))
    positives = sum(1 for _, y in pairs if y)
    negatives = len(pairs) - positives
    if not positives or not negatives:
        return None
    rank_sum = 0.0
    i = 0
    while i < len(pairs):
        j = i
        while j < len(pairs) and pairs[j][0] == pairs[i][0]:
            j += 1
        mid_rank = (i + 1 + j) / 2  # ranks i+1..j share their mean
        rank_sum += mid_rank * sum(1 for _, y in pairs[i:j] if y)
        i = j
    return (rank_sum - positives * (positives + 1) / 2) / (positives * negatives)


def _local_day(moment: datetime, zone: tzinfo | None) -> date:
    return moment.astimezone(zone).date()


def _ratio(part: float, whole: float) -> float | None:
    return round(part / whole, 4) if whole else None


def _deciles(p: list[float], bought: list[bool]) -> tuple[list[dict[str, Any]], float | None]:
    order = sorted(range(len(p)), key=lambda i: p[i])
    rows: list[dict[str, Any]] = []
    gap = 0.0
    for k in range(10):
        chunk = order[k * len(order) // 10 : (k + 1) * len(order) // 10]
        if not chunk:
            continue
        mean_p = sum(p[i] for i in chunk) / len(chunk)
        share = sum(1 for i in chunk if bought[i]) / len(chunk)
        gap += abs(mean_p - share) * len(chunk)
        rows.append(
            {
                "decile": k + 1,
                "people": len(chunk),
                "mean_p_alive": round(mean_p, 4),
                "bought_again": round(share, 4),
            }
        )
    return rows, (round(gap / len(p), 4) if p else None)


def _list_score(chosen: set[str], lapsed: set[str]) -> dict[str, Any]:
    hits = len(chosen & lapsed)
    return {
        "size": len(chosen),
        "precision": _ratio(hits, len(chosen)),
        "recall": _ratio(hits, len(lapsed)),
    }


def backtest(
    engine: Engine,
    options: AnalyzeOptions,
    as_of: datetime,
    *,
    horizon_days: int = 90,
) -> dict[str, Any]:
    """Predictions made as of ``as_of`` scored against the following ``horizon_days``.

    Raises :class:`NotEnoughHistory` (one line, the threshold not met) when the models
    cannot be fitted on the history before ``as_of``.
    """
    if horizon_days < 1:
        raise ValueError("horizon_days must be >= 1")
    computed = analyze_as_of(engine, options, as_of)
    fit = computed.predictions
    if not fit.get("fitted"):
        reasons = fit.get("reasons") or ["predictions are turned off"]
        raise NotEnoughHistory(f"cannot backtest as of {as_of.date().isoformat()}: {reasons[0]}")
    zone = options.metrics.store_zone
    with engine.connect() as conn:
        _, orders = load_people(conn)
        grouped = group_rows(read_purchase_rows(conn, orders, options.counting))
    read, _, _ = entries_by_person(grouped, computed.index, computed.assignment, options.identity)
    del grouped
    entries = {pid: parse_entries(person) for pid, person in read.items()}
    horizon_end = as_of + timedelta(days=horizon_days)
    value_end = as_of + timedelta(days=_VALUE_DAYS)
    latest = max((e[0] for person in entries.values() for e in person), default=as_of)
    # The database says nothing of when its data ends but its last purchase; a store
    # that sells every day has one within a day of now, so a window whose end is at
    # most a day after the last purchase counts as on record.
    seen_until = latest + timedelta(days=1)
    days_after: dict[str, int] = {}
    value_after: dict[str, Decimal] = {}
    for pid, person in entries.items():
        bought = sorted((at, value) for at, value, flags in person if not flags & RETURN)
        moments = [at for at, _ in bought]
        lo, hi = bisect_right(moments, as_of), bisect_right(moments, horizon_end)
        days_after[pid] = len({_local_day(at, zone) for at in moments[lo:hi]})
        end = bisect_left(moments, value_end)
        value_after[pid] = sum((v for _, v in bought[lo:end]), Decimal(0))

    people = [r for r in computed.results if r.row.get("p_alive") is not None]
    ids = [r.row["id"] for r in people]
    p_alive = [float(r.row["p_alive"]) for r in people]
    bought_again = [days_after.get(pid, 0) > 0 for pid in ids]
    lapsed = {pid for pid, b in zip(ids, bought_again, strict=True) if not b}
    scale = horizon_days / 90
    predicted_days = [float(r.row["expected_purchases_90d"]) * scale for r in people]
    actual_days = [days_after.get(pid, 0) for pid in ids]
    predicted_value = [r.row["predicted_value_12m"] or Decimal(0) for r in people]
    actual_value = [value_after.get(pid, Decimal(0)) for pid in ids]

    tiers: dict[str, dict[str, Any]] = defaultdict(
        lambda: {
            "people": 0,
            "predicted_purchases": 0.0,
            "actual_purchases": 0,
            "predicted_value_12m": Decimal(0),
            "actual_value_12m": Decimal(0),
        }
    )
    for r, pd, ad, pv, av in zip(
        people, predicted_days, actual_days, predicted_value, actual_value, strict=True
    ):
        tier = tiers[r.row.get("tier") or "(none)"]
        tier["people"] += 1
        tier["predicted_purchases"] += pd
        tier["actual_purchases"] += ad
        tier["predicted_value_12m"] += pv
        tier["actual_value_12m"] += av
    for tier in tiers.values():
        tier["predicted_purchases"] = round(tier["predicted_purchases"], 1)
        tier["predicted_value_12m"] = str(tier["predicted_value_12m"])
        tier["actual_value_12m"] = str(tier["actual_value_12m"])

    at_risk = {r.row["id"] for r in people if r.row.get("risk") in AT_RISK}
    # Recency only: the same number of people, longest since their last purchase first.
    by_recency = sorted(
        people, key=lambda r: -(r.days_since_last if r.days_since_last is not None else -1)
    )
    baseline = {r.row["id"] for r in by_recency[: len(at_risk)]}
    deciles, calibration_error = _deciles(p_alive, bought_again)
    total_predicted = sum(predicted_days)
    total_actual = sum(actual_days)
    value_predicted = sum(predicted_value, Decimal(0))
    value_actual = sum(actual_value, Decimal(0))
    area = auc(p_alive, bought_again)
    return {
        "as_of": as_of.isoformat(),
        "horizon_days": horizon_days,
        "observed_until": latest.isoformat(),
        "horizon_observed": seen_until >= horizon_end,
        "value_year_observed": seen_until >= value_end,
        "people": len(people),
        "bought_again": len(people) - len(lapsed),
        "model": fit.get("model", {}).get("model"),
        "model_reason": fit.get("model", {}).get("reason"),
        "fit_seconds": fit.get("fit_seconds"),
        "auc": None if area is None or math.isnan(area) else round(area, 4),
        "calibration_error": calibration_error,
        "calibration": deciles,
        "purchases": {
            "predicted": round(total_predicted, 1),
            "actual": total_actual,
            "error": _ratio(total_predicted - total_actual, total_actual),
        },
        # Until the year after as_of is on record the actual value is a part-year's:
        # no error is given then rather than a misleading one.
        "value_12m": {
            "predicted": str(value_predicted),
            "actual": str(value_actual),
            "observed_days": max(0, min(_VALUE_DAYS, (seen_until - as_of).days)),
            "error": (
                _ratio(float(value_predicted - value_actual), float(value_actual))
                if seen_until >= value_end
                else None
            ),
        },
        "tiers": dict(sorted(tiers.items())),
        "at_risk": _list_score(at_risk, lapsed),
        "recency_baseline": _list_score(baseline, lapsed),
        "predictions": fit,
    }

"""Predictions scored against what happened next: a generated store and CDNOW.

    .venv/bin/python benchmarks/predictions.py [--customers 5000] [--days 730] [--seed 11]

Prints one JSON object. The generated store (lifecycles, not drawn from any of the
models' assumptions) is summarised as of its anchor: each generated person's counted
sales (closed statuses, returns aside, the generator's own identities: this path skips
sync and identity resolution, which other benchmarks cover), the model chosen by a
backtest on the store's own history, and the predictions scored against the
generator's truth: AUC of P(active) against "bought again within 90 days",
calibration error by decile, predicted vs actual purchase days in 90 days and value
in 365 days, and the cycle-based at-risk list's precision and recall against "did not
buy within 90 days" beside a recency-only list of the same size. CDNOW's published
split (39 weeks calibration, 39 weeks holdout) is scored with each model beside the
published BG/NBD parameters (Fader, Hardie & Lee 2005).
"""

from __future__ import annotations

import argparse
import json
import time
from collections import defaultdict
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import numpy as np

from greenloop.analytics.backtest import auc
from greenloop.domain.prediction_models import fit_family, fit_model
from greenloop.domain.predictions import CustomerSummary, summarize_purchases
from greenloop.domain.risk import confirmed_by_model, risk_status, store_cycle_days
from greenloop.simulator.generator import GeneratorConfig, generate_store
from greenloop.simulator.generator_base import local_parts

COUNTED = {
    "CLOSED",
    "LAYBY_CLOSED",
    "ONACCOUNT_CLOSED",
    "SERVICE_CLOSED",
    "PICKED_UP_CLOSED",
    "DISPATCHED_CLOSED",
}
CDNOW = Path(__file__).resolve().parents[1] / "tests" / "fixtures" / "cdnow_sample.txt"
# Fader, Hardie & Lee (2005), "Counting Your Customers the Easy Way", Table/§5.
PUBLISHED_BGNBD = {"r": 0.243, "alpha": 4.414, "a": 0.793, "b": 2.426}


def _calibration(p: list[float], bought: list[bool]) -> float:
    order = sorted(range(len(p)), key=lambda i: p[i])
    gap = 0.0
    for k in range(10):
        chunk = order[k * len(order) // 10 : (k + 1) * len(order) // 10]
        if chunk:
            mean_p = sum(p[i] for i in chunk) / len(chunk)
            share = sum(1 for i in chunk if bought[i]) / len(chunk)
            gap += abs(mean_p - share) * len(chunk)
    return round(gap / len(p), 4)


def _list(chosen: set[str], lapsed: set[str]) -> dict[str, Any]:
    hits = len(chosen & lapsed)
    return {
        "size": len(chosen),
        "precision": round(hits / len(chosen), 4) if chosen else None,
        "recall": round(hits / len(lapsed), 4) if lapsed else None,
    }


def generated(customers: int, days: int, seed: int) -> dict[str, Any]:
    anchor = datetime(2026, 11, 1, tzinfo=UTC)
    started = time.perf_counter()
    store = generate_store(
        GeneratorConfig(seed=seed, customers=customers, days=days, anchor=anchor)
    )
    generated_in = time.perf_counter() - started
    owner = store.truth["persons"]
    truth = store.truth["lifecycle"]["persons"]
    bought: dict[str, list[tuple[date, Decimal]]] = defaultdict(list)
    for sale in store.sales:
        cid = sale.get("customer_id")
        if not cid or sale["status"] not in COUNTED or sale.get("return_for"):
            continue
        ts = int(datetime.fromisoformat(sale["sale_date"]).timestamp())
        value = Decimal(str(sale["total_price"])) + Decimal(str(sale["total_tax"]))
        bought[owner[cid]].append((local_parts(ts)[0], value))
    end = (anchor - timedelta(seconds=1)).astimezone(UTC).date()
    summaries: dict[str, CustomerSummary] = {
        k: summarize_purchases(v, end) for k, v in bought.items()
    }
    started = time.perf_counter()
    fit = fit_family(summaries)
    fit_total = time.perf_counter() - started
    keys = list(summaries)
    p_alive = [fit.predictions[k].probability_alive for k in keys]
    again = [truth[k]["purchase_days_90d"] > 0 for k in keys]
    lapsed = {k for k, b in zip(keys, again, strict=True) if not b}
    predicted_90 = sum(fit.predictions[k].expected_purchases_90d for k in keys)
    actual_90 = sum(truth[k]["purchase_days_90d"] for k in keys)
    predicted_value = sum((fit.predictions[k].predicted_value_12m for k in keys), Decimal(0))
    actual_value = sum((Decimal(truth[k]["value_365d"]) for k in keys), Decimal(0))
    # The cycle-based at-risk list, as the analysis computes it.
    cycles: dict[str, Decimal | None] = {}
    since: dict[str, int] = {}
    visits: dict[str, int] = {}
    for k, s in summaries.items():
        n = s.frequency + 1
        visits[k] = n
        since[k] = (end - s.last_purchase).days
        cycles[k] = Decimal((s.last_purchase - s.first_purchase).days) / (n - 1) if n > 1 else None
    store_cycle = store_cycle_days(c for k, c in cycles.items() if c is not None and visits[k] >= 3)
    # The at-risk list as the analysis computes it: past the person's cycle, confirmed
    # by the fitted model (domain.risk.confirmed_by_model).
    at_risk = {
        k
        for k in keys
        if confirmed_by_model(
            risk_status(since[k], visits[k], cycles[k], store_cycle),
            Decimal(repr(fit.predictions[k].expected_purchases_90d)),
        )
        in ("at_risk", "lapsed")
    }
    by_recency = sorted(keys, key=lambda k: -since[k])[: len(at_risk)]
    area = auc(p_alive, again)
    return {
        "customers": len(store.customers),
        "days": days,
        "sales": len(store.sales),
        "people_with_a_purchase": len(keys),
        "generate_seconds": round(generated_in, 2),
        "model": fit.choice.model.name,
        "model_reason": fit.choice.reason,
        "model_scores": fit.choice.scores,
        "seasonal_index_90d": round(fit.seasonal_index, 4),
        "fit_seconds": round(fit_total, 3),
        "auc": round(area, 4) if area is not None else None,
        "calibration_error": _calibration(p_alive, again),
        "purchases_90d": {
            "predicted": round(predicted_90, 1),
            "actual": actual_90,
            "error": round(predicted_90 / actual_90 - 1, 4),
        },
        "value_365d": {
            "predicted": str(predicted_value),
            "actual": str(actual_value),
            "error": round(float(predicted_value / actual_value) - 1, 4),
        },
        "at_risk": _list(at_risk, lapsed),
        "recency_baseline": _list(set(by_recency), lapsed),
    }


def cdnow() -> dict[str, Any]:
    people: dict[str, list[tuple[date, Decimal]]] = defaultdict(list)
    for line in CDNOW.read_text().splitlines():
        master, _sample, day, _cds, dollars = line.split()
        people[master].append((date(int(day[:4]), int(day[4:6]), int(day[6:])), Decimal(dollars)))
    cut, end = date(1997, 9, 30), date(1998, 6, 30)
    summaries = {
        k: summarize_purchases([p for p in v if p[0] <= cut], cut) for k, v in people.items()
    }
    actual = [len({d for d, _ in people[k] if cut < d <= end}) for k in summaries]
    s = list(summaries.values())
    x = np.array([p.frequency for p in s], float)
    tx = np.array([p.recency for p in s])
    age = np.array([p.T for p in s])
    weeks = (end - cut).days / 7
    out: dict[str, Any] = {"holdout_actual": sum(actual), "published_bgnbd": PUBLISHED_BGNBD}
    for name in ("bgnbd", "mbgnbd", "pareto_nbd", "nbd"):
        model = fit_model(name, x, tx, age)
        predicted = model.expected(weeks, x, tx, age)
        out[name] = {
            "params": {k: round(v, 4) for k, v in model.params.items()},
            "holdout_predicted": round(float(predicted.sum()), 1),
            "auc": round(
                auc(model.probability_alive(x, tx, age).tolist(), [a > 0 for a in actual]) or 0.0, 4
            ),
        }
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=5000)
    parser.add_argument("--days", type=int, default=730)
    parser.add_argument("--seed", type=int, default=11)
    args = parser.parse_args()
    print(
        json.dumps(
            {"generated": generated(args.customers, args.days, args.seed), "cdnow": cdnow()},
            indent=1,
        )
    )


if __name__ == "__main__":
    main()

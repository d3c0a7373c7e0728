"""The peer `benchmarks/analyze.py` runs beside GreenLoop: the notebook a data person writes.

It reads the same store's purchases with pandas, builds the RFM summary (frequency,
recency, age, mean spend of repeat purchases, one purchase per customer per day),
fits BG/NBD and Gamma-Gamma with SciPy on their closed-form likelihoods (the formulas
the `lifetimes` package uses; lifetimes itself no longer installs on this Python),
predicts purchases in the next year, the probability of still being active and the
year's value, and writes one row per customer into a table of the same database.
Money is float here, as in such a notebook. No identity, no eCom twins, no tiers.

    .venv/bin/python benchmarks/notebook_peer.py --database PATH.sqlite --now ISO-DATETIME

Prints one JSON object: customers, repeat buyers, the fitted parameters, seconds.
"""

from __future__ import annotations

import argparse
import json
import sqlite3
import time
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd
from scipy.optimize import minimize
from scipy.special import gammaln, hyp2f1

Floats = npt.NDArray[np.float64]

CLOSED = (
    "CLOSED",
    "LAYBY_CLOSED",
    "ONACCOUNT_CLOSED",
    "DISPATCHED_CLOSED",
    "PICKED_UP_CLOSED",
    "SERVICE_CLOSED",
)


def rfm(purchases: pd.DataFrame, now: pd.Timestamp) -> pd.DataFrame:
    """lifetimes' summary_data_from_transaction_data, in days, one purchase per day."""
    daily = purchases.groupby(["customer_id", "day"], sort=False)["total"].sum().reset_index()
    grouped = daily.groupby("customer_id", sort=False)
    first, last = grouped["day"].min(), grouped["day"].max()
    count, spent = grouped["day"].size(), grouped["total"].sum()
    first_spend = daily.sort_values("day").groupby("customer_id", sort=False)["total"].first()
    summary = pd.DataFrame(
        {
            "frequency": (count - 1).astype(np.float64),
            "recency": (last - first).dt.days.astype(np.float64),
            "T": (now.normalize() - first).dt.days.astype(np.float64),
        }
    )
    repeat = summary["frequency"] > 0
    summary["monetary"] = 0.0
    summary.loc[repeat, "monetary"] = (spent - first_spend)[repeat] / summary["frequency"][repeat]
    return summary


def bgnbd_negative_ll(log_params: Floats, x: Floats, t_x: Floats, t: Floats) -> float:
    r, alpha, a, b = np.exp(log_params)
    a1 = gammaln(r + x) - gammaln(r) + r * np.log(alpha)
    a2 = gammaln(a + b) + gammaln(b + x) - gammaln(b) - gammaln(a + b + x)
    a3 = -(r + x) * np.log(alpha + t)
    a4 = np.where(
        x > 0,
        np.log(a) - np.log(np.maximum(b + x - 1, 1e-12)) - (r + x) * np.log(alpha + t_x),
        -np.inf,
    )
    ll = a1 + a2 + np.logaddexp(a3, a4)
    return float(-ll.sum())


def gamma_gamma_negative_ll(log_params: Floats, x: Floats, m: Floats) -> float:
    p, q, v = np.exp(log_params)
    ll = (
        gammaln(p * x + q)
        - gammaln(p * x)
        - gammaln(q)
        + q * np.log(v)
        + (p * x - 1) * np.log(m)
        + p * x * np.log(x)
        - (p * x + q) * np.log(x * m + v)
    )
    return float(-ll.sum())


def fit(objective: Any, start: Floats, args: tuple[Any, ...]) -> Floats:
    result = minimize(objective, start, args=args, method="Nelder-Mead", options={"maxiter": 4000})
    return np.asarray(np.exp(result.x), np.float64)


def predict(summary: pd.DataFrame, bgnbd: Floats, gg: Floats, horizon: float) -> pd.DataFrame:
    r, alpha, a, b = bgnbd
    x, t_x, t = (summary[c].to_numpy() for c in ("frequency", "recency", "T"))
    # P(alive) and expected purchases in the horizon (Fader, Hardie and Lee 2005, eq. 10).
    delta = np.where(x > 0, 1.0, 0.0)
    ratio = (alpha + t) / (alpha + t_x)
    alive = 1.0 / (1.0 + delta * (a / (b + x - 1 + (1 - delta))) * ratio ** (r + x))
    z = horizon / (alpha + t + horizon)
    hyp = hyp2f1(r + x, b + x, a + b + x - 1, z)
    expected = (
        (a + b + x - 1)
        / (a - 1)
        * (1 - ((alpha + t) / (alpha + t + horizon)) ** (r + x) * hyp)
        / (1 + delta * (a / (b + x - 1 + (1 - delta))) * ratio ** (r + x))
    )
    p, q, v = gg
    monetary = summary["monetary"].to_numpy()
    spend = (q - 1) / (p * x + q - 1) * (v * p / (q - 1)) + (p * x) / (p * x + q - 1) * monetary
    return pd.DataFrame(
        {
            "customer_id": summary.index,
            "frequency": x,
            "recency": t_x,
            "T": t,
            "monetary": monetary,
            "p_alive": alive,
            "expected_purchases_365": expected,
            "value_365": expected * spend,
        }
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database", required=True, help="the SQLite file GreenLoop analyzed")
    parser.add_argument("--now", required=True)
    args = parser.parse_args()
    began = time.perf_counter()
    now = pd.Timestamp(args.now)
    with sqlite3.connect(args.database) as conn:
        marks = ",".join("?" * len(CLOSED))
        purchases = pd.read_sql_query(
            "SELECT customer_id, sale_date, total_price FROM sales "
            f"WHERE customer_id IS NOT NULL AND status IN ({marks})",
            conn,
            params=CLOSED,
        )
        purchases["day"] = pd.to_datetime(purchases["sale_date"], utc=True, format="ISO8601")
        purchases["day"] = purchases["day"].dt.normalize()
        purchases["total"] = purchases["total_price"].astype(np.float64)
        summary = rfm(purchases, now)
        x, t_x, t = (summary[c].to_numpy() for c in ("frequency", "recency", "T"))
        bgnbd = fit(bgnbd_negative_ll, np.zeros(4), (x, t_x, t))
        repeat = summary[(summary["frequency"] > 0) & (summary["monetary"] > 0)]
        gg = fit(
            gamma_gamma_negative_ll,
            np.zeros(3),
            (repeat["frequency"].to_numpy(), repeat["monetary"].to_numpy()),
        )
        result = predict(summary, bgnbd, gg, 365.0)
        result.to_sql("notebook_predictions", conn, if_exists="replace", index=False)
    print(
        json.dumps(
            {
                "peer": "pandas RFM + SciPy BG/NBD and Gamma-Gamma",
                "purchases": len(purchases),
                "customers": len(summary),
                "repeat_buyers": len(repeat),
                "bgnbd": [round(float(v), 4) for v in bgnbd],
                "gamma_gamma": [round(float(v), 4) for v in gg],
                "seconds": round(time.perf_counter() - began, 3),
            }
        )
    )


if __name__ == "__main__":
    main()

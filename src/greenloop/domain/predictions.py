"""At-risk predictions: BG/NBD for purchases and dropout, Gamma-Gamma for spend (pure).

Two published models of a customer base, fitted by maximum likelihood with SciPy:

* **BG/NBD** (Fader, Hardie & Lee 2005, "Counting Your Customers the Easy Way",
  Marketing Science 24(2)): while alive a customer buys at a Poisson rate
  (gamma-distributed across people: ``r``, ``alpha``) and after each purchase drops out
  with a probability (beta-distributed: ``a``, ``b``). It gives the probability a
  customer is still alive and the purchases to expect in a coming period.
* **Gamma-Gamma** (Fader, Hardie & Lee 2005, "RFM and CLV: Using Iso-Value Curves for
  Customer Base Analysis", Journal of Marketing Research 42(4)): the value of a
  customer's transactions varies around their own mean, which varies across people
  (``p``, ``q``, ``gamma``). It gives the average transaction value to expect.

Input conventions are those of the CDNOW studies (they reproduce the published figures,
see the tests): purchases on one store-local day are one transaction whose value is their
sum; ``frequency`` is the number of repeat purchase days; ``recency`` and ``T`` are weeks
from the first purchase day to the last purchase day and to the observation end date;
the monetary value is the mean value of the repeat days only (the first purchase is
left out, as in the papers). Time is in weeks (days / 7).

Money is ``Decimal`` at the edges and ``float`` only inside the model arithmetic.
The 12-month value is expected purchases in the next 52 weeks times the expected average
transaction value, undiscounted unless a monthly discount rate is given. Readiness
thresholds follow the shape of Klaviyo's predictive-analytics requirements.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Hashable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import Generic, NamedTuple, TypeVar

import numpy as np
import numpy.typing as npt
from scipy import optimize, special

from greenloop.errors import SkippableRecordError

__all__ = [
    "BgNbdParams",
    "CustomerSummary",
    "GammaGammaParams",
    "ModelFitError",
    "ModelReadiness",
    "PersonPrediction",
    "PredictionResult",
    "bgnbd_expected_purchases",
    "bgnbd_log_likelihood",
    "check_readiness",
    "conditional_expected_purchases",
    "conditional_expected_value",
    "fit_bgnbd",
    "fit_gamma_gamma",
    "fit_models",
    "gamma_gamma_log_likelihood",
    "predict",
    "probability_alive",
    "summarize_purchases",
    "summary_of_days",
]

Floats = npt.NDArray[np.float64]
K = TypeVar("K", bound=Hashable)

DAYS_PER_WEEK = 7.0
WEEKS_PER_YEAR = 52.0
WEEKS_PER_MONTH = WEEKS_PER_YEAR / 12.0
HORIZON_DAYS = 90
# Log-parameters are searched within these bounds; an optimum on a bound means the data
# cannot pin the parameter down, which is reported as a failed fit.
_LOG_BOUND = 12.0


class ModelFitError(SkippableRecordError, ValueError):
    """A model could not be fitted to these data: skip the predictions, report, carry on."""

    hint = (
        "Predictions are skipped this run; tiers and metrics are unaffected. "
        "More order history (see the readiness check) usually fixes this."
    )


# --------------------------------------------------------------------------- summaries


@dataclass(frozen=True)
class CustomerSummary:
    """One person's purchase history in the models' terms (weeks, repeat days)."""

    frequency: int  # repeat purchase days: distinct purchase days - 1
    recency: float  # weeks from the first purchase day to the last
    T: float  # weeks from the first purchase day to the observation end
    repeat_value: Decimal  # total value of the repeat days (the first day left out)
    first_purchase: date
    last_purchase: date
    observation_end: date
    # The purchase days themselves, for a backtest on the person's own history (model
    # choice); not part of the summary's identity.
    days: tuple[date, ...] = field(default=(), compare=False, repr=False)

    @property
    def monetary_value(self) -> Decimal | None:
        """Mean value of a repeat purchase day; ``None`` for someone who never came back."""
        return self.repeat_value / self.frequency if self.frequency else None


def summarize_purchases(
    purchases: Iterable[tuple[date, Decimal]], observation_end: date
) -> CustomerSummary:
    """Summarize one person's ``(local purchase date, value)`` pairs up to ``observation_end``.

    Several purchases on one day are one transaction worth their sum. Raises ``ValueError``
    for no purchases or a purchase after ``observation_end`` (filter before calling).
    """
    by_day: dict[date, Decimal] = {}
    for day, value in purchases:
        if day > observation_end:
            raise ValueError(f"purchase on {day} is after the observation end {observation_end}")
        by_day[day] = by_day.get(day, Decimal(0)) + value
    if not by_day:
        raise ValueError("a summary needs at least one purchase")
    days = sorted(by_day)
    repeat_value = sum((by_day[d] for d in days[1:]), Decimal(0))
    return summary_of_days(tuple(days), repeat_value, observation_end)


def summary_of_days(
    days: tuple[date, ...], repeat_value: Decimal, observation_end: date
) -> CustomerSummary:
    """The summary of a person's sorted purchase days, the value of all but the first,
    at ``observation_end``: what :func:`summarize_purchases` gives for the same
    purchases, and what a later end gives when nobody bought since."""
    first, last = days[0], days[-1]
    return CustomerSummary(
        frequency=len(days) - 1,
        recency=(last - first).days / DAYS_PER_WEEK,
        T=(observation_end - first).days / DAYS_PER_WEEK,
        repeat_value=repeat_value,
        first_purchase=first,
        last_purchase=last,
        observation_end=observation_end,
        days=days,
    )


# --------------------------------------------------------------------------- readiness


@dataclass(frozen=True)
class ModelReadiness:
    """When there is enough history to trust the models (after Klaviyo's requirements)."""

    min_customers: int = 500  # people with at least one order
    min_history_days: int = 180  # first order in the data to the last
    min_repeat_customers: int = 100  # people with at least min_repeat_days purchase days
    min_repeat_days: int = 2


def check_readiness(
    summaries: Iterable[CustomerSummary], readiness: ModelReadiness = ModelReadiness()
) -> tuple[bool, list[str]]:
    """Whether the models may be fitted, and, when not, every reason why in plain words."""
    customers = repeaters = 0
    first: date | None = None
    last: date | None = None
    for s in summaries:
        customers += 1
        if s.frequency + 1 >= readiness.min_repeat_days:
            repeaters += 1
        first = s.first_purchase if first is None else min(first, s.first_purchase)
        last = s.last_purchase if last is None else max(last, s.last_purchase)
    history = (last - first).days if first is not None and last is not None else 0
    reasons: list[str] = []
    if customers < readiness.min_customers:
        reasons.append(
            f"only {customers:,} customers with an order; needs {readiness.min_customers:,}"
        )
    if history < readiness.min_history_days:
        reasons.append(
            f"only {history:,} days of order history; needs {readiness.min_history_days:,}"
        )
    if repeaters < readiness.min_repeat_customers:
        reasons.append(
            f"only {repeaters:,} customers with {readiness.min_repeat_days}+ purchase days; "
            f"needs {readiness.min_repeat_customers:,}"
        )
    return not reasons, reasons


# --------------------------------------------------------------------------- parameters


@dataclass(frozen=True)
class BgNbdParams:
    """BG/NBD: purchase rate ~ Gamma(r, alpha) per week; dropout ~ Beta(a, b)."""

    r: float
    alpha: float
    a: float
    b: float


@dataclass(frozen=True)
class GammaGammaParams:
    """Gamma-Gamma: transaction value ~ Gamma(p, nu) with nu ~ Gamma(q, gamma)."""

    p: float
    q: float
    gamma: float


def _floats(values: npt.ArrayLike) -> Floats:
    return np.asarray(values, dtype=np.float64)


def _dot(left: Floats, right: Floats) -> float:
    """A dot product that never starts BLAS threads (they crawl on a busy machine)."""
    return float(np.einsum("i,i->", left, right))


def _sum_by(index: npt.NDArray[np.intp], values: Floats, groups: int) -> Floats:
    """Sums of ``values`` per group index."""
    return np.bincount(index, weights=values, minlength=groups).astype(np.float64)


def _collapse(
    columns: list[Floats], weights: Floats | None
) -> tuple[list[Floats], Floats, npt.NDArray[np.intp]]:
    """Identical rows once each, their total weights, and where each input row went."""
    order = np.lexsort(columns[::-1])
    ordered = [c[order] for c in columns]
    new = np.zeros(len(order), dtype=bool)
    new[:1] = True
    for c in ordered:
        new[1:] |= c[1:] != c[:-1]
    inverse = np.empty(len(order), dtype=np.intp)
    inverse[order] = np.cumsum(new) - 1
    base = np.ones(len(order)) if weights is None else weights
    return [c[new] for c in ordered], _sum_by(inverse, base, int(new.sum())), inverse


def _check_history(frequency: Floats, recency: Floats, age: Floats) -> None:
    if not (frequency.shape == recency.shape == age.shape) or frequency.ndim != 1:
        raise ValueError("frequency, recency and T must be 1-d arrays of one length")
    if frequency.size == 0:
        raise ModelFitError("no customers to fit")
    if not all(np.all(np.isfinite(c)) for c in (frequency, recency, age)):
        raise ValueError("frequency, recency and T must be finite")
    if np.any(frequency < 0) or np.any(recency < 0) or np.any(recency > age):
        raise ValueError("need frequency >= 0 and 0 <= recency <= T for every customer")
    if np.any((frequency > 0) & (recency <= 0)):
        raise ValueError("a customer with repeat purchases needs recency > 0")


# --------------------------------------------------------------------------- BG/NBD


def _bgnbd_objective(
    frequency: Floats, recency: Floats, age: Floats, weights: Floats
) -> Callable[[Floats], tuple[float, Floats]]:
    """The weighted log-likelihood (FHL 2005, eq. 6) and its gradient in log-parameters.

    Terms of ``x`` alone are computed once per distinct frequency, and logarithms of
    ``alpha + T`` and ``alpha + t_x`` once per distinct value (days / 7 take few values),
    so an evaluation over many customers is mostly gathers and one ``exp`` per row.
    """
    xs, ix = np.unique(frequency, return_inverse=True)
    ts, it = np.unique(age, return_inverse=True)
    txs, itx = np.unique(recency, return_inverse=True)
    repeat = xs > 0
    xs1 = np.where(repeat, xs, 1.0)  # keeps B(a+1, b+x-1) finite where it is unused
    weight_x = _sum_by(ix, weights, len(xs))
    total = float(weights.sum())
    weighted_x = weights * frequency

    def terms(log_params: Floats) -> tuple[float, Floats]:
        r, alpha, a, b = (float(v) for v in np.exp(log_params))
        # Per distinct x.
        base_ab = special.betaln(a, b)
        lg = special.gammaln(r + xs) - special.gammaln(r)
        beta1 = special.betaln(a, b + xs) - base_ab
        beta2 = np.where(repeat, special.betaln(a + 1, b + xs1 - 1) - base_ab, -np.inf)
        # d/da and d/db of beta1 and beta2 (d ln B(a, b) / da = psi(a) - psi(a + b)).
        dig_ab, dig_a, dig_b = special.digamma([a + b, a, b])
        dig_abx = special.digamma(a + b + xs)
        d_beta1_a = dig_ab - dig_abx
        d_beta1_b = special.digamma(b + xs) - dig_abx - dig_b + dig_ab
        d_beta2_a = special.digamma(a + 1) - dig_a + dig_ab - dig_abx
        d_beta2_b = special.digamma(b + xs1 - 1) - dig_abx - dig_b + dig_ab
        # Per row: u and v are the logs of the two terms of eq. 6 (v = -inf when x = 0);
        # log(e^u + e^v) = u + softplus(v - u), and w1, w2 are the terms' shares.
        log_t = np.log(alpha + ts)[it]
        log_tx = np.log(alpha + txs)[itx]
        u = beta1[ix] - (r + frequency) * log_t
        d = beta2[ix] - (r + frequency) * log_tx - u
        small = np.exp(-np.abs(d))
        big_share = 1.0 / (1.0 + small)
        w2 = np.where(d >= 0, big_share, small * big_share)
        w1 = 1.0 - w2
        ll = (
            _dot(weight_x, lg)
            + total * r * math.log(alpha)
            + _dot(weights, u + np.maximum(d, 0.0) + np.log1p(small))
        )
        ww1, ww2 = weights * w1, weights * w2
        inv = (1.0 / (alpha + ts))[it] * w1 + (1.0 / (alpha + txs))[itx] * w2
        by_x1 = _sum_by(ix, ww1, len(xs))
        by_x2 = _sum_by(ix, ww2, len(xs))
        d_lg_r = special.digamma(r + xs) - special.digamma(r)
        grad = np.array(
            [
                r * (_dot(weight_x, d_lg_r) + total * math.log(alpha))
                - r * (_dot(ww1, log_t) + _dot(ww2, log_tx)),
                total * r - alpha * (r * _dot(weights, inv) + _dot(weighted_x, inv)),
                a * (_dot(by_x1, d_beta1_a) + _dot(by_x2, d_beta2_a)),
                b * (_dot(by_x1, d_beta1_b) + _dot(by_x2, d_beta2_b)),
            ]
        )
        return ll, grad

    return terms


def bgnbd_log_likelihood(
    params: BgNbdParams,
    frequency: npt.ArrayLike,
    recency: npt.ArrayLike,
    T: npt.ArrayLike,
    weights: npt.ArrayLike | None = None,
) -> float:
    """The (weighted) BG/NBD log-likelihood of the data under ``params``."""
    x, tx, age = _floats(frequency), _floats(recency), _floats(T)
    w = np.ones_like(x) if weights is None else _floats(weights)
    log_params = np.log([params.r, params.alpha, params.a, params.b])
    return _bgnbd_objective(x, tx, age, w)(log_params)[0]


def _fit(
    name: str,
    terms: Callable[[Floats], tuple[float, Floats]],
    starts: list[Floats],
    total_weight: float,
) -> Floats:
    """Maximize a log-likelihood over log-parameters: L-BFGS-B, then a polishing restart.

    The starts are tried in order until one converges inside the bounds.
    """

    def negative(log_params: Floats) -> tuple[float, Floats]:
        with np.errstate(all="ignore"):
            ll, grad = terms(log_params)
        if not np.isfinite(ll) or not np.all(np.isfinite(grad)):
            return math.inf, np.zeros_like(log_params)
        return -ll / total_weight, -grad / total_weight

    bounds = [(-_LOG_BOUND, _LOG_BOUND)] * len(starts[0])
    problem = "the likelihood could not be evaluated on these data"
    for start in starts:
        result = None
        x0 = start
        for _ in range(2):
            result = optimize.minimize(
                negative,
                x0,
                jac=True,
                method="L-BFGS-B",
                bounds=bounds,
                options={"maxiter": 2000, "ftol": 1e-15, "gtol": 1e-9},
            )
            x0 = result.x
        assert result is not None
        solution: Floats = np.asarray(result.x, dtype=np.float64)
        if not np.isfinite(result.fun):
            continue
        if np.any(np.abs(solution) >= _LOG_BOUND - 1e-3):
            values = ", ".join(f"{v:.3g}" for v in np.exp(solution))
            problem = f"a parameter ran to its limit ({values})"
        elif np.max(np.abs(result.jac)) > 1e-5:
            problem = f"the optimizer stopped short ({result.message})"
        else:
            return solution
    raise ModelFitError(f"the {name} fit did not converge: {problem}")


def _starts(*values: float) -> Floats:
    return np.log(np.asarray(values, dtype=np.float64))


def fit_bgnbd(
    frequency: npt.ArrayLike,
    recency: npt.ArrayLike,
    T: npt.ArrayLike,
    *,
    weights: npt.ArrayLike | None = None,
    collapse: bool = True,
) -> BgNbdParams:
    """Fit BG/NBD by maximum likelihood; raises :class:`ModelFitError` if it does not converge.

    With ``collapse`` (the default) identical ``(frequency, recency, T)`` rows are fitted
    once with a weight, which gives the same estimate much faster on a large base.
    """
    x, tx, age = _floats(frequency), _floats(recency), _floats(T)
    _check_history(x, tx, age)
    w = np.ones_like(x) if weights is None else _floats(weights)
    if collapse:
        (x, tx, age), w, _ = _collapse([x, tx, age], w)
    if not np.any(x > 0):
        raise ModelFitError("no repeat purchases: BG/NBD cannot be fitted")
    scale = float(np.average(age, weights=w)) or 1.0
    starts = [_starts(1, 1, 1, 1), _starts(0.5, scale, 1, 3), _starts(2, scale * 2, 0.5, 5)]
    solution = _fit("BG/NBD", _bgnbd_objective(x, tx, age, w), starts, float(w.sum()))
    r, alpha, a, b = (float(v) for v in np.exp(solution))
    return BgNbdParams(r=r, alpha=alpha, a=a, b=b)


def probability_alive(
    params: BgNbdParams,
    frequency: npt.ArrayLike,
    recency: npt.ArrayLike,
    T: npt.ArrayLike,
) -> Floats:
    """P(alive | x, t_x, T). Under BG/NBD a customer with no repeat purchase is alive (1)."""
    x, tx, age = np.broadcast_arrays(_floats(frequency), _floats(recency), _floats(T))
    return _probability_alive(params, x, tx, age)


def _probability_alive(p: BgNbdParams, x: Floats, tx: Floats, age: Floats) -> Floats:
    with np.errstate(divide="ignore", invalid="ignore"):
        log_odds_dead = (
            math.log(p.a)
            - np.log(p.b + np.maximum(x, 1.0) - 1)
            + (p.r + x) * (np.log(p.alpha + age) - np.log(p.alpha + tx))
        )
    alive: Floats = np.where(x > 0, special.expit(-log_odds_dead), 1.0)
    return alive


def _scaled_hyp2f1(p: BgNbdParams, x: Floats, z: Floats) -> Floats:
    """``(1 - z)**(r + x) * 2F1(r + x, b + x; a + b + x - 1; z)`` for 0 <= z < 1.

    Eq. 10 multiplies a hypergeometric function that overflows for heavy buyers by a power
    that underflows. Euler's transformation gives the product as
    ``(1 - z)**(a - 1) * 2F1(a + b - 1 - r, a - 1; a + b + x - 1; z)``, whose series has
    small fixed upper parameters and converges fast; the direct form is the fallback.
    """
    big_c = p.a + p.b + x - 1
    with np.errstate(all="ignore"):
        out: Floats = np.exp((p.a - 1) * np.log1p(-z)) * special.hyp2f1(
            p.a + p.b - 1 - p.r, p.a - 1, big_c, z
        )
        bad = ~np.isfinite(out)
        if np.any(bad):
            xb, zb = x[bad], z[bad]
            out[bad] = np.exp((p.r + xb) * np.log1p(-zb)) * special.hyp2f1(
                p.r + xb, p.b + xb, big_c[bad], zb
            )
    return out


def _conditional_expected(p: BgNbdParams, t: Floats, x: Floats, tx: Floats, age: Floats) -> Floats:
    """FHL 2005 eq. 10 (all arrays of one shape), with ``a`` nudged off 1 where it is 0/0."""
    if abs(p.a - 1) < 1e-6:
        lo = _conditional_expected(BgNbdParams(p.r, p.alpha, 1 - 1e-4, p.b), t, x, tx, age)
        hi = _conditional_expected(BgNbdParams(p.r, p.alpha, 1 + 1e-4, p.b), t, x, tx, age)
        mid: Floats = (lo + hi) / 2
        return mid
    scaled = _scaled_hyp2f1(p, x, t / (p.alpha + age + t))
    factor = (p.a + p.b + x - 1) / (p.a - 1)
    expected: Floats = factor * (1 - scaled) * _probability_alive(p, x, tx, age)
    if not np.all(np.isfinite(expected)):
        raise ModelFitError("expected purchases are not finite for some customers")
    return np.maximum(expected, 0.0)


def conditional_expected_purchases(
    params: BgNbdParams,
    t: npt.ArrayLike,
    frequency: npt.ArrayLike,
    recency: npt.ArrayLike,
    T: npt.ArrayLike,
) -> Floats:
    """E[Y(t) | x, t_x, T]: purchases expected in the next ``t`` weeks given the history."""
    arrays = np.broadcast_arrays(_floats(t), _floats(frequency), _floats(recency), _floats(T))
    weeks, x, tx, age = (np.array(a, dtype=np.float64) for a in arrays)
    if np.any(weeks < 0):
        raise ValueError("t must be >= 0")
    return _conditional_expected(params, weeks, x, tx, age)


def bgnbd_expected_purchases(params: BgNbdParams, t: npt.ArrayLike) -> Floats:
    """E[X(t)]: repeat purchases a new customer makes in the ``t`` weeks after the first (eq. 9).

    This is eq. 10 for someone seen only at their first purchase (x = t_x = T = 0).
    """
    return conditional_expected_purchases(params, t, 0.0, 0.0, 0.0)


# --------------------------------------------------------------------------- Gamma-Gamma


def _gamma_gamma_objective(
    x: Floats, m: Floats, weights: Floats
) -> Callable[[Floats], tuple[float, Floats]]:
    """Weighted log-likelihood of the mean repeat values and its gradient in log-parameters.

    Per person: Γ(px+q) / (Γ(px) Γ(q)) · γ^q m^(px-1) x^(px) / (γ + m x)^(px+q).
    """
    xs, ix = np.unique(x, return_inverse=True)
    weight_x = _sum_by(ix, weights, len(xs))
    total = float(weights.sum())
    mx = m * x
    log_m = np.log(m)
    w_x = weights * x
    sum_w_log_m = _dot(weights, log_m)
    sum_wx_log_mx = _dot(w_x, np.log(mx))

    def terms(log_params: Floats) -> tuple[float, Floats]:
        p, q, g = (float(v) for v in np.exp(log_params))
        px = p * xs
        log_gmx = np.log(g + mx)
        dig_pxq = special.digamma(px + q)
        wx_log_gmx = _dot(w_x, log_gmx)
        w_log_gmx = _dot(weights, log_gmx)
        per_x = special.gammaln(px + q) - special.gammaln(px) + px * np.log(xs)
        ll = (
            _dot(weight_x, per_x)
            + total * (q * math.log(g) - float(special.gammaln(q)))
            + p * _dot(w_x, log_m)
            - sum_w_log_m
            - p * wx_log_gmx
            - q * w_log_gmx
        )
        grad = np.array(
            [
                p * (_dot(weight_x * xs, dig_pxq - special.digamma(px)) + sum_wx_log_mx)
                - p * wx_log_gmx,
                q * (_dot(weight_x, dig_pxq) - total * float(special.digamma(q)))
                + q * (total * math.log(g) - w_log_gmx),
                total * q - g * _dot(p * w_x + q * weights, 1.0 / (g + mx)),
            ]
        )
        return ll, grad

    return terms


def _check_spend(x: Floats, m: Floats) -> None:
    if x.shape != m.shape or x.ndim != 1:
        raise ValueError("frequency and monetary_value must be 1-d arrays of one length")
    if x.size == 0:
        raise ModelFitError("no repeat customers with a positive spend to fit")
    if np.any(x < 1) or not np.all((m > 0) & np.isfinite(m)):
        raise ValueError("Gamma-Gamma needs frequency >= 1 and monetary_value > 0 on every row")


def gamma_gamma_log_likelihood(
    params: GammaGammaParams,
    frequency: npt.ArrayLike,
    monetary_value: npt.ArrayLike,
    weights: npt.ArrayLike | None = None,
) -> float:
    """The (weighted) Gamma-Gamma log-likelihood of repeaters' mean repeat values."""
    x, m = _floats(frequency), _floats(monetary_value)
    _check_spend(x, m)
    w = np.ones_like(x) if weights is None else _floats(weights)
    return _gamma_gamma_objective(x, m, w)(np.log([params.p, params.q, params.gamma]))[0]


def fit_gamma_gamma(
    frequency: npt.ArrayLike,
    monetary_value: npt.ArrayLike,
    *,
    weights: npt.ArrayLike | None = None,
    collapse: bool = True,
) -> GammaGammaParams:
    """Fit Gamma-Gamma on repeaters (frequency >= 1, mean repeat value > 0) by maximum likelihood.

    Raises :class:`ModelFitError` when it does not converge, or when ``q <= 1`` (the
    population's mean spend would be infinite, so no value could be predicted).
    """
    x, m = _floats(frequency), _floats(monetary_value)
    _check_spend(x, m)
    w = np.ones_like(x) if weights is None else _floats(weights)
    if collapse:
        (x, m), w, _ = _collapse([x, m], w)
    mean = float(np.average(m, weights=w))
    starts = [_starts(1, 1, 1), _starts(5, 3, mean), _starts(2, 2, mean / 2)]
    solution = _fit("Gamma-Gamma", _gamma_gamma_objective(x, m, w), starts, float(w.sum()))
    p, q, g = (float(v) for v in np.exp(solution))
    if q <= 1:
        raise ModelFitError(f"the Gamma-Gamma fit gives q = {q:.3g} <= 1: spend has no finite mean")
    return GammaGammaParams(p=p, q=q, gamma=g)


def conditional_expected_value(
    params: GammaGammaParams, frequency: npt.ArrayLike, monetary_value: npt.ArrayLike
) -> Floats:
    """E[M | x, m] = (gamma + m x) p / (p x + q - 1); the population mean when x = 0.

    A negative mean (returns outweighing purchases) counts as 0.
    """
    x, m = np.broadcast_arrays(_floats(frequency), _floats(monetary_value))
    m = np.where(x > 0, np.maximum(np.nan_to_num(m), 0.0), 0.0)
    value: Floats = (params.gamma + m * x) * params.p / (params.p * x + params.q - 1)
    return value


# --------------------------------------------------------------------------- predictions


class PersonPrediction(NamedTuple):
    """What the models say about one person (a tuple: a run builds one per customer)."""

    probability_alive: float
    expected_purchases_90d: float  # purchase days expected in the next 90 days
    expected_transaction_value: Decimal  # E[M | x, m], to the cent
    predicted_value_12m: Decimal  # purchases expected in 52 weeks x E[M], to the cent


@dataclass(frozen=True)
class PredictionResult(Generic[K]):
    """Fitted parameters, how long the fit took, and a prediction per person."""

    bgnbd: BgNbdParams
    gamma_gamma: GammaGammaParams
    customers: int  # people in the BG/NBD fit
    spend_customers: int  # repeaters with a positive mean repeat value (Gamma-Gamma fit)
    fit_seconds: float  # summaries to fitted parameters, both models
    predict_seconds: float
    predictions: dict[K, PersonPrediction]


def _money(values: Floats) -> list[Decimal]:
    """Amounts to the cent, half away from zero."""
    cents = np.sign(values) * np.floor(np.abs(values) * 100 + 0.5)
    return [Decimal(f"{c / 100:.2f}") for c in cents.tolist()]


def _columns(people: list[CustomerSummary]) -> tuple[Floats, Floats, Floats, Floats]:
    """frequency, recency, T and the mean repeat value (0 for non-repeaters) as arrays."""
    table = np.array(
        [
            (s.frequency, s.recency, s.T, float(s.repeat_value) / s.frequency if s.frequency else 0)
            for s in people
        ],
        dtype=np.float64,
    ).reshape(len(people), 4)
    return table[:, 0].copy(), table[:, 1].copy(), table[:, 2].copy(), table[:, 3].copy()


def predict(
    bgnbd: BgNbdParams,
    gamma_gamma: GammaGammaParams,
    summaries: Mapping[K, CustomerSummary],
    *,
    monthly_discount_rate: float = 0.0,
) -> dict[K, PersonPrediction]:
    """Per person: P(alive), purchases expected in 90 days and the predicted 12-month value.

    The 12-month value is E[M | x, m] times the purchases expected in the next 52 weeks,
    undiscounted by default; with a monthly discount rate ``d`` the purchases expected in
    month ``k`` (of twelve 52/12-week months) are divided by ``(1 + d) ** k``.
    """
    keys = list(summaries)
    columns = _columns([summaries[k] for k in keys])
    return _predict(bgnbd, gamma_gamma, keys, *columns, monthly_discount_rate)


def _predict(
    bgnbd: BgNbdParams,
    gamma_gamma: GammaGammaParams,
    keys: list[K],
    x: Floats,
    tx: Floats,
    age: Floats,
    m: Floats,
    monthly_discount_rate: float,
) -> dict[K, PersonPrediction]:
    if monthly_discount_rate < 0:
        raise ValueError("monthly_discount_rate must be >= 0")
    if not keys:
        return {}
    # Once per distinct history, then spread back.
    (ux, utx, uage), _, at = _collapse([x, tx, age], None)

    def expected(weeks: float) -> Floats:
        return _conditional_expected(bgnbd, np.full(ux.shape, weeks), ux, utx, uage)

    if monthly_discount_rate == 0:
        year = expected(WEEKS_PER_YEAR)
    else:
        year = np.zeros(ux.shape)
        before = np.zeros(ux.shape)
        for month in range(1, 13):
            upto = expected(month * WEEKS_PER_MONTH)
            year += (upto - before) / (1 + monthly_discount_rate) ** month
            before = upto
    spend = conditional_expected_value(gamma_gamma, x, m)
    alive = _probability_alive(bgnbd, ux, utx, uage)[at].tolist()
    in_90d = expected(HORIZON_DAYS / DAYS_PER_WEEK)[at].tolist()
    return dict(
        zip(
            keys,
            map(PersonPrediction, alive, in_90d, _money(spend), _money(year[at] * spend)),
            strict=True,
        )
    )


def fit_models(
    summaries: Mapping[K, CustomerSummary],
    *,
    monthly_discount_rate: float = 0.0,
    collapse: bool = True,
) -> PredictionResult[K]:
    """Fit BG/NBD on everyone and Gamma-Gamma on repeaters, then predict for everyone.

    Raises :class:`ModelFitError` (skip the predictions and report) when either model
    cannot be fitted. Check :func:`check_readiness` first for a friendlier refusal.
    """
    keys = list(summaries)
    if not keys:
        raise ModelFitError("no customers to fit")
    started = time.perf_counter()
    x, tx, age, m = _columns([summaries[k] for k in keys])
    bgnbd = fit_bgnbd(x, tx, age, collapse=collapse)
    spenders = (x > 0) & (m > 0)
    gamma_gamma = fit_gamma_gamma(x[spenders], m[spenders], collapse=collapse)
    fitted = time.perf_counter()
    predictions = _predict(bgnbd, gamma_gamma, keys, x, tx, age, m, monthly_discount_rate)
    return PredictionResult(
        bgnbd=bgnbd,
        gamma_gamma=gamma_gamma,
        customers=len(keys),
        spend_customers=int(spenders.sum()),
        fit_seconds=fitted - started,
        predict_seconds=time.perf_counter() - fitted,
        predictions=predictions,
    )

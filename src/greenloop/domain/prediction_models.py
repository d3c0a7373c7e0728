"""The buy-till-you-die family, and a choice among them by a backtest on the store's own data.

Beside BG/NBD (:mod:`greenloop.domain.predictions`):

* **MBG/NBD** (Batislam, Denizel & Filiztekin 2007, "Empirical validation and
  comparison of models for customer base analysis", IJRM 24(3)): BG/NBD where a
  customer may also drop out right after the first purchase, so someone who never came
  back is not assumed alive;
* **Pareto/NBD** (Schmittlein, Morrison & Colombo 1987; the likelihood as in Fader &
  Hardie 2005, "A Note on Deriving the Pareto/NBD Model and Related Expressions"): an
  exponential lifetime in calendar time (rate ~ Gamma(s, beta)) instead of a coin
  tossed at each purchase;
* **NBD** (Ehrenberg 1959): the limiting model with no dropout at all. When a dropout
  parameter runs to its bound the data say "nobody visibly drops out"; that is a
  finding, and NBD is then the model that fits, so predictions still exist.

:func:`choose_model` fits each on the history up to a cut-off some weeks before the
observation end and keeps the one whose predicted repeat purchase days in the weeks
after the cut-off were closest to what each person actually did (mean absolute error
per person), recording every candidate's score or why it could not be fitted.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Hashable, Mapping, Sequence
from dataclasses import asdict, dataclass, field, replace
from datetime import date, timedelta
from decimal import Decimal
from functools import partial
from typing import Any, Generic, TypeVar

import numpy as np
import numpy.typing as npt
from scipy import optimize, special

from greenloop.domain.predictions import (
    BgNbdParams,
    CustomerSummary,
    GammaGammaParams,
    ModelFitError,
    PersonPrediction,
    conditional_expected_purchases,
    conditional_expected_value,
    fit_bgnbd,
    fit_gamma_gamma,
    probability_alive,
    summarize_purchases,
)

__all__ = [
    "MODEL_NAMES",
    "Distinct",
    "FamilyResult",
    "FittedModel",
    "ModelChoice",
    "choose_model",
    "fit_family",
    "fit_model",
    "kept_choice",
    "mbgnbd_log_likelihood",
    "nbd_log_likelihood",
    "pareto_nbd_log_likelihood",
    "seasonal_index",
]

Floats = npt.NDArray[np.float64]
K = TypeVar("K", bound=Hashable)
MODEL_NAMES = ("bgnbd", "mbgnbd", "pareto_nbd", "nbd")
_ZERO = Decimal(0)
_BOUND = 12.0  # log-parameter bounds, as for BG/NBD


def _f(values: npt.ArrayLike) -> Floats:
    return np.asarray(values, dtype=np.float64)


# --------------------------------------------------------------------------- likelihoods


def nbd_log_likelihood(params: Sequence[float], x: Floats, tx: Floats, age: Floats) -> Floats:
    """Per-row log-likelihood of ``x`` repeat purchases in ``T`` under NBD (r, alpha)."""
    r, alpha = params
    out: Floats = (
        special.gammaln(r + x)
        - special.gammaln(r)
        + r * math.log(alpha)
        + x * np.log(np.maximum(age, 1e-12))
        - (r + x) * np.log(alpha + age)
        - special.gammaln(x + 1)
    )
    return out


def mbgnbd_log_likelihood(params: Sequence[float], x: Floats, tx: Floats, age: Floats) -> Floats:
    """Per-row MBG/NBD log-likelihood (Batislam et al. 2007, eq. 5)."""
    r, alpha, a, b = params
    a1 = special.gammaln(r + x) - special.gammaln(r) + r * math.log(alpha)
    a2 = (
        special.gammaln(a + b)
        + special.gammaln(b + x + 1)
        - special.gammaln(b)
        - special.gammaln(a + b + x + 1)
    )
    a3 = -(r + x) * np.log(alpha + age)
    a4 = math.log(a) - np.log(b + x) + (r + x) * (np.log(alpha + age) - np.log(alpha + tx))
    out: Floats = a1 + a2 + a3 + np.logaddexp(a4, 0.0)
    return out


@dataclass(frozen=True)
class Distinct:
    """Each row's (x, tx) and (x, age) pair, each distinct pair once.

    Of Pareto/NBD's two hypergeometric terms, one reads only (x, tx) and the other only
    (x, age), and they are most of its cost. Far fewer pairs than rows are distinct (all
    one-time buyers share x = 0, tx = 0; ages are whole days): on 124,000 generated
    people, 22,000 and 23,000 pairs against 85,000 distinct rows."""

    x_tx: Floats  # (pairs, 2)
    of_tx: npt.NDArray[np.intp]  # row -> its pair
    x_age: Floats
    of_age: npt.NDArray[np.intp]

    @classmethod
    def of(cls, x: Floats, tx: Floats, age: Floats) -> Distinct:
        # As complex numbers: a 1-D unique, several times faster than one over rows.
        x_tx, of_tx = np.unique(x + 1j * tx, return_inverse=True)
        x_age, of_age = np.unique(x + 1j * age, return_inverse=True)
        return cls(
            np.stack([x_tx.real, x_tx.imag], axis=1),
            of_tx.reshape(-1),
            np.stack([x_age.real, x_age.imag], axis=1),
            of_age.reshape(-1),
        )


def _log_a0_term(params: Sequence[float], x: Floats, moment: Floats) -> Floats:
    r, alpha, s, beta = params
    if alpha < beta:
        low, high, t = alpha, beta, r + x
    else:
        low, high, t = beta, alpha, s + 1.0 + 0.0 * x
    rsx = r + s + x
    p = special.hyp2f1(rsx, t, rsx + 1.0, (high - low) / (high + moment))
    term: Floats = np.log(p) - rsx * np.log(high + moment)
    return term


def _log_a0(
    params: Sequence[float], x: Floats, tx: Floats, age: Floats, distinct: Distinct | None = None
) -> Floats:
    pairs = distinct if distinct is not None else Distinct.of(x, tx, age)
    first = _log_a0_term(params, pairs.x_tx[:, 0], pairs.x_tx[:, 1])[pairs.of_tx]
    second = _log_a0_term(params, pairs.x_age[:, 0], pairs.x_age[:, 1])[pairs.of_age]
    # log(e^first - e^second), first > second
    with np.errstate(divide="ignore", invalid="ignore"):
        out: Floats = first + np.log1p(-np.exp(second - first))
    return out


def pareto_nbd_log_likelihood(
    params: Sequence[float],
    x: Floats,
    tx: Floats,
    age: Floats,
    distinct: Distinct | None = None,
) -> Floats:
    """Per-row Pareto/NBD log-likelihood (Fader & Hardie 2005, eq. 22). ``distinct``:
    :meth:`Distinct.of` the same rows, when many evaluations share them."""
    r, alpha, s, beta = params
    a1 = special.gammaln(r + x) - special.gammaln(r) + r * math.log(alpha) + s * math.log(beta)
    alive = -(r + x) * np.log(alpha + age) - s * np.log(beta + age)
    died = math.log(s) - np.log(r + s + x) + _log_a0(params, x, tx, age, distinct)
    out: Floats = a1 + np.logaddexp(alive, died)
    return out


# --------------------------------------------------------------------------- fitted models


@dataclass(frozen=True)
class FittedModel:
    """One fitted model: its name, parameters, and what was found while fitting it."""

    name: str
    params: dict[str, float]
    findings: tuple[str, ...] = ()

    def probability_alive(self, x: Floats, tx: Floats, age: Floats) -> Floats:
        p = self.params
        if self.name == "bgnbd":
            return probability_alive(_bg(p), x, tx, age)
        if self.name == "mbgnbd":
            odds = (p["a"] / (p["b"] + x)) * np.exp(
                (p["r"] + x) * (np.log(p["alpha"] + age) - np.log(p["alpha"] + tx))
            )
            alive: Floats = 1.0 / (1.0 + odds)
            return alive
        if self.name == "pareto_nbd":
            params = (p["r"], p["alpha"], p["s"], p["beta"])
            log_odds = (
                math.log(p["s"])
                - np.log(p["r"] + p["s"] + x)
                + (p["r"] + x) * np.log(p["alpha"] + age)
                + p["s"] * np.log(p["beta"] + age)
                + _log_a0(params, x, tx, age)
            )
            pa: Floats = special.expit(-np.nan_to_num(log_odds, nan=-50.0))
            return pa
        return np.ones_like(x)

    def expected(self, weeks: float, x: Floats, tx: Floats, age: Floats) -> Floats:
        """Repeat purchase days expected in the next ``weeks`` given each history."""
        p = self.params
        t = np.full_like(x, weeks)
        if self.name == "bgnbd":
            return conditional_expected_purchases(_bg(p), t, x, tx, age)
        alive = self.probability_alive(x, tx, age)
        if self.name == "nbd":
            out: Floats = (p["r"] + x) / (p["alpha"] + age) * t
            return out
        if self.name == "mbgnbd":
            r, alpha, a, b = p["r"], p["alpha"], p["a"], p["b"]
            z = t / (alpha + age + t)
            hyp = special.hyp2f1(r + x, b + x + 1, a + b + x, z)
            scaled = hyp * np.exp((r + x) * np.log1p(-z))
            value: Floats = (a + b + x) / (a - 1) * (1 - scaled) * alive
            bad = ~np.isfinite(value)
            if np.any(bad):
                # The series overflows for heavy buyers; their dropout barely matters.
                value[bad] = ((r + x) / (alpha + age) * t * alive)[bad]
            return np.maximum(value, 0.0)
        r, alpha, s, beta = p["r"], p["alpha"], p["s"], p["beta"]
        if abs(s - 1) < 1e-6:
            decay = np.log((beta + age + t) / (beta + age))
        else:
            decay = (1 - ((beta + age) / (beta + age + t)) ** (s - 1)) / (s - 1)
        pareto: Floats = (r + x) * (beta + age) / (alpha + age) * decay * alive
        return pareto


def _bg(p: Mapping[str, float]) -> BgNbdParams:
    return BgNbdParams(r=p["r"], alpha=p["alpha"], a=p["a"], b=p["b"])


_NAMES: dict[str, tuple[str, ...]] = {
    "nbd": ("r", "alpha"),
    "mbgnbd": ("r", "alpha", "a", "b"),
    "pareto_nbd": ("r", "alpha", "s", "beta"),
}
_LIKELIHOODS: dict[str, Callable[[Sequence[float], Floats, Floats, Floats], Floats]] = {
    "nbd": nbd_log_likelihood,
    "mbgnbd": mbgnbd_log_likelihood,
    "pareto_nbd": pareto_nbd_log_likelihood,
}


def _collapse(x: Floats, tx: Floats, age: Floats) -> tuple[Floats, Floats, Floats, Floats]:
    table = np.stack([x, tx, age], axis=1)
    rows, counts = np.unique(table, axis=0, return_counts=True)
    return rows[:, 0].copy(), rows[:, 1].copy(), rows[:, 2].copy(), counts.astype(np.float64)


def _fit_numeric(
    name: str, x: Floats, tx: Floats, age: Floats, start: Mapping[str, float] | None = None
) -> FittedModel:
    names = _NAMES[name]
    ux, utx, uage, w = _collapse(x, tx, age)
    ll = _LIKELIHOODS[name]
    if name == "pareto_nbd":
        ll = partial(pareto_nbd_log_likelihood, distinct=Distinct.of(ux, utx, uage))
    total = float(w.sum())
    scale = float(np.average(uage, weights=w)) or 1.0

    def negative(log_params: Floats) -> float:
        with np.errstate(all="ignore"):
            rows = ll([float(v) for v in np.exp(log_params)], ux, utx, uage)
        value = float(np.einsum("i,i->", w, rows))
        return -value / total if math.isfinite(value) else 1e12

    starts = [np.log([1.0, scale, 1.0, scale][: len(names)]), np.zeros(len(names))]
    if name == "mbgnbd":
        starts[0] = np.log([1.0, scale, 1.0, 3.0])
    warm = _warm_start(names, start)
    best = None
    for guess in [warm] if warm is not None else starts:
        result = optimize.minimize(
            negative,
            guess,
            method="L-BFGS-B",
            bounds=[(-_BOUND, _BOUND)] * len(names),
            options={"maxiter": 1000},
        )
        if (
            math.isfinite(result.fun)
            and result.fun < 1e11
            and (best is None or result.fun < best.fun)
        ):
            best = result
    if best is None and warm is not None:
        return _fit_numeric(name, x, tx, age)  # the cold starts, as without one
    if best is None:
        raise ModelFitError(f"the {name} likelihood could not be evaluated on these data")
    if (
        warm is not None
        and start is not None
        and bool(np.all(np.abs(warm) < _BOUND - 0.5))
        and not _improves(negative(warm), best.fun)
    ):
        # The start is already the optimum to the optimiser's own tolerance (yesterday's
        # fit on nearly the same data): moving within that tolerance would change no fit
        # but every prediction's last digit, and a rerun would rewrite thousands of rows.
        return FittedModel(name, {n: float(start[n]) for n in names})
    values = [float(v) for v in np.exp(best.x)]
    at_bound = [n for n, v in zip(names, best.x, strict=True) if abs(v) >= _BOUND - 1e-2]
    if at_bound and warm is not None:
        return _fit_numeric(name, x, tx, age)  # whether the cold starts run there too
    if at_bound:
        shown = ", ".join(f"{n}={v:.3g}" for n, v in zip(names, values, strict=True))
        raise ModelFitError(f"the {name} fit ran {', '.join(at_bound)} to its limit ({shown})")
    return FittedModel(name, dict(zip(names, values, strict=True)))


# L-BFGS-B's own stopping rule (scipy's default ftol): a relative improvement below it
# is no improvement.
_FTOL = 2.220446049250313e-09


def _improves(before: float, after: float) -> bool:
    return before - after > _FTOL * max(abs(before), abs(after), 1.0)


def _warm_start(names: Sequence[str], start: Mapping[str, float] | None) -> Floats | None:
    if not start:
        return None
    try:
        values = [float(start[n]) for n in names]
    except (KeyError, TypeError, ValueError):
        return None
    if not all(math.isfinite(v) and v > 0 for v in values):
        return None
    return np.clip(np.log(values), -_BOUND + 0.5, _BOUND - 0.5)


def fit_model(
    name: str, x: Floats, tx: Floats, age: Floats, start: Mapping[str, float] | None = None
) -> FittedModel:
    """Fit one model by maximum likelihood; :class:`ModelFitError` when it does not hold.

    ``start``: parameters to start from (the last fit of a kept choice): near the optimum
    the numeric fits need a fraction of the likelihood evaluations of a cold start."""
    if name == "bgnbd":
        p = fit_bgnbd(x, tx, age)
        return FittedModel("bgnbd", {"r": p.r, "alpha": p.alpha, "a": p.a, "b": p.b})
    if name not in _NAMES:
        raise ValueError(f"unknown model {name!r}; choose from {', '.join(MODEL_NAMES)}")
    return _fit_numeric(name, x, tx, age, start)


# --------------------------------------------------------------------------- the choice


@dataclass(frozen=True)
class ModelChoice:
    """The model to predict with, and the evidence: each candidate's holdout score."""

    model: FittedModel
    reason: str
    cutoff: date | None
    holdout_days: int
    scores: dict[str, dict[str, Any]] = field(default_factory=dict)
    # The day the backtest chose (the observation end), and the candidates it compared.
    chosen_on: date | None = None
    candidates: tuple[str, ...] = ()
    # Taken from a recent analysis instead of backtesting again (see kept_choice).
    kept: bool = False
    # How many people the parameters were fitted on (0: not known, as in choices
    # stored before this was), and whether they were fitted in this analysis.
    fitted_customers: int = 0
    refitted: bool = True

    def as_json(self) -> dict[str, Any]:
        return {
            "model": self.model.name,
            "params": {k: round(v, 6) for k, v in self.model.params.items()},
            # Unrounded, for a kept choice's refit to start exactly where this one ended
            # (unchanged data then gives the same parameters, and no row to rewrite).
            "params_full": dict(self.model.params),
            "findings": list(self.model.findings),
            "reason": self.reason,
            "cutoff": self.cutoff.isoformat() if self.cutoff else None,
            "holdout_days": self.holdout_days,
            "scores": self.scores,
            "chosen_on": self.chosen_on.isoformat() if self.chosen_on else None,
            "candidates": list(self.candidates),
            "kept": self.kept,
            "fitted_customers": self.fitted_customers,
            "refitted": self.refitted,
        }


def kept_choice(
    stored: Mapping[str, Any] | None, candidates: Sequence[str], today: date, days: int
) -> ModelChoice | None:
    """The choice a recent analysis made (its ``as_json``), while it is younger than
    ``days`` and was made among the same candidates; None when it must be made again.

    The backtest fits every candidate on up to 20,000 people, most of a large store's
    fit; the winner rarely changes from one day to the next, so a daily analysis refits
    the kept winner on everyone and backtests again once the choice is ``days`` old."""
    if not stored or days <= 0:
        return None
    try:
        chosen_on = date.fromisoformat(str(stored["chosen_on"]))
        name = str(stored["model"])
        cutoff = date.fromisoformat(stored["cutoff"]) if stored.get("cutoff") else None
        same = tuple(stored["candidates"]) == tuple(candidates)
        exact = stored.get("params_full") or stored.get("params") or {}
        params = {str(k): float(v) for k, v in exact.items()}
        choice = ModelChoice(
            FittedModel(name, params),
            str(stored["reason"]),
            cutoff,
            int(stored["holdout_days"]),
            dict(stored.get("scores") or {}),
            chosen_on,
            tuple(candidates),
            kept=True,
            fitted_customers=int(stored.get("fitted_customers") or 0),
            refitted=False,
        )
    except (KeyError, TypeError, ValueError):
        return None  # written before choices were kept, or damaged
    if not same or name not in candidates or not 0 <= (today - chosen_on).days < days:
        return None
    return choice


def _columns(summaries: Sequence[CustomerSummary]) -> tuple[Floats, Floats, Floats]:
    table = _f([(s.frequency, s.recency, s.T) for s in summaries]).reshape(len(summaries), 3)
    return table[:, 0].copy(), table[:, 1].copy(), table[:, 2].copy()


def _fit_with_fallback(
    names: Sequence[str], x: Floats, tx: Floats, age: Floats
) -> tuple[dict[str, FittedModel], dict[str, str]]:
    fitted: dict[str, FittedModel] = {}
    failed: dict[str, str] = {}
    for name in names:
        try:
            fitted[name] = fit_model(name, x, tx, age)
        except ModelFitError as exc:
            failed[name] = str(exc)
    return fitted, failed


def seasonal_index(days: Mapping[K, Sequence[date]], end: date, horizon_days: int) -> float:
    """How much busier the coming ``horizon_days`` were a year ago than that year's average.

    The models know no calendar; a store whose next 90 days hold Christmas sells more
    in them than in an average 90 days. With at least a year of history the same
    window last year, against last year's daily average, gives the factor (1.0
    otherwise); it is clipped to 0.5-2 so one odd week cannot swing the forecast.
    """
    year_ago = end - timedelta(days=365)
    window_end = year_ago + timedelta(days=horizon_days)
    in_window = in_year = 0
    earliest = end
    for person_days in days.values():
        for d in set(person_days):
            earliest = min(earliest, d)
            if year_ago < d <= end:
                in_year += 1
                if d <= window_end:
                    in_window += 1
    if earliest > year_ago or not in_year:
        return 1.0
    factor = in_window / (in_year * horizon_days / 365)
    return min(2.0, max(0.5, factor))


def choose_model(
    summaries: Mapping[K, CustomerSummary],
    days: Mapping[K, Sequence[date]],
    *,
    candidates: Sequence[str] = MODEL_NAMES,
    holdout_days: int | None = None,
    min_people: int = 200,
    max_people: int = 20_000,
) -> ModelChoice:
    """Pick the model for this store by a backtest on its own history, then fit it on all.

    ``days``: each person's purchase days (any order) up to the observation end, for the
    people whose history is at hand (it may be fewer than ``summaries``). The holdout is
    the last ``holdout_days`` (default: a quarter of the history, 28 to 90 days).
    A candidate that cannot be fitted (a parameter at its bound) is reported and left
    out; NBD, which has no dropout to run away, is the last resort. The backtest takes
    at most ``max_people`` people, evenly spread over ``days`` (the mean errors of four
    models on 20,000 people already differ far beyond their noise; fitting all four on
    200,000 was most of the fit's time); the chosen model is fitted on everyone.
    """
    people = list(summaries.values())
    if not people:
        raise ModelFitError("no customers to fit")
    end = people[0].observation_end
    first = min(s.first_purchase for s in people)
    history = (end - first).days
    span = holdout_days or max(28, min(90, history // 4))
    cutoff = end - timedelta(days=span)
    calibration: list[CustomerSummary] = []
    actual: list[int] = []
    chosen = list(days.items())
    sampled = " (an even sample)" if len(chosen) > max_people else ""
    if len(chosen) > max_people:
        chosen = [chosen[k] for k in np.linspace(0, len(chosen) - 1, max_people).astype(int)]
    for key, person_days in chosen:
        before = sorted({d for d in person_days if d <= cutoff})
        if not before or key not in summaries:
            continue
        calibration.append(summarize_purchases(((d, _ZERO) for d in before), cutoff))
        actual.append(len({d for d in person_days if cutoff < d <= end}))
    order = [n for n in MODEL_NAMES if n in candidates]
    scores: dict[str, dict[str, Any]] = {}
    fitted: dict[str, FittedModel] = {}
    winner: str | None = None
    reason = ""
    if len(calibration) >= min_people and sum(s.frequency for s in calibration) > 0:
        cx, ctx, cage = _columns(calibration)
        truth = _f(actual)
        fitted, failed = _fit_with_fallback(order, cx, ctx, cage)
        for name, why in failed.items():
            scores[name] = {"fitted": False, "reason": why}
        for name, model in fitted.items():
            predicted = model.expected(span / 7.0, cx, ctx, cage)
            if not np.all(np.isfinite(predicted)):
                scores[name] = {"fitted": False, "reason": "predictions are not finite"}
                continue
            total, real = float(predicted.sum()), float(truth.sum())
            scores[name] = {
                "fitted": True,
                "mae": round(float(np.mean(np.abs(predicted - truth))), 5),
                "predicted": round(total, 1),
                "actual": int(real),
                "total_error": round((total - real) / real, 4) if real else None,
            }
        ranked = sorted((s["mae"], n) for n, s in scores.items() if s.get("fitted"))
        if ranked:
            winner = ranked[0][1]
            runner = f", ahead of {ranked[1][1]} ({ranked[1][0]:.4f})" if len(ranked) > 1 else ""
            reason = (
                f"{winner} predicted each of {len(calibration):,} people's{sampled} purchase "
                f"days in the "
                f"last {span} days best (mean absolute error {ranked[0][0]:.4f}{runner})"
            )
    else:
        reason = (
            f"too few people before {cutoff.isoformat()} to compare models "
            f"({len(calibration)}; needs {min_people}): the first that fits is used"
        )
    x, tx, age = _columns(people)
    tried = [winner] if winner else []
    tried += [n for n in order if n != winner]
    if "nbd" not in tried:
        tried.append("nbd")
    findings: list[str] = []
    for name in tried:
        # The backtest's fit of the same model, on a sample's history to the cut-off, is
        # near the full optimum: starting there took a third of the likelihood
        # evaluations of the two cold starts, each of which costs a pass over everyone.
        calibrated = fitted.get(name)
        start = calibrated.params if calibrated is not None else None
        try:
            model = fit_model(name, x, tx, age, start=start)
        except ModelFitError as exc:
            findings.append(f"{exc}: fell back to the next model")
            continue
        if name != winner and winner is not None:
            reason += f"; {winner} did not fit the full history, so {name} is used"
        model = FittedModel(model.name, model.params, tuple(findings))
        return ModelChoice(model, reason, cutoff, span, scores)
    raise ModelFitError("; ".join(findings) or "no model could be fitted")


# --------------------------------------------------------------------------- predictions


@dataclass(frozen=True)
class FamilyResult(Generic[K]):
    """The chosen model, the spend model, and a prediction per person."""

    choice: ModelChoice
    gamma_gamma: GammaGammaParams | None
    spend_findings: tuple[str, ...]
    seasonal_index: float
    customers: int
    spend_customers: int
    fit_seconds: float
    predictions: dict[K, PersonPrediction]

    def as_json(self) -> dict[str, Any]:
        return {
            "model": self.choice.as_json(),
            "gamma_gamma": asdict(self.gamma_gamma) if self.gamma_gamma else None,
            "spend_findings": list(self.spend_findings),
            "seasonal_index_90d": round(self.seasonal_index, 4),
            "customers": self.customers,
            "spend_customers": self.spend_customers,
            "fit_seconds": round(self.fit_seconds, 3),
        }


def _money_list(values: Floats) -> list[Decimal]:
    cents = np.sign(values) * np.floor(np.abs(values) * 100 + 0.5)
    return [Decimal(f"{c / 100:.2f}") for c in cents.tolist()]


# A kept choice's parameters are used as they are while the people they were fitted on
# number within this share of today's. Between two choices (a week by default) an
# established store's optimum moves less than the optimiser's own tolerance leaves
# undecided, yet refitting it daily was most of the daily prediction stage (76 passes
# over everyone for Pareto/NBD on 200,000 profiles); a young store, growing faster than
# this, is still refitted every day.
REFIT_ABOVE_SHARE = 0.01


def _still_fitted(kept: ModelChoice, customers: int) -> bool:
    fitted = kept.fitted_customers
    return fitted > 0 and abs(customers - fitted) <= REFIT_ABOVE_SHARE * fitted


def fit_family(
    summaries: Mapping[K, CustomerSummary],
    *,
    candidates: Sequence[str] = MODEL_NAMES,
    horizon_days: int = 90,
    kept: ModelChoice | None = None,
) -> FamilyResult[K]:
    """Choose and fit the purchase model, fit Gamma-Gamma (or shrink each person's mean
    towards the store's when it does not hold), and predict for everyone. With ``kept``
    (:func:`kept_choice`) its model predicts instead of choosing again: with its
    parameters as they are, or refitted on everyone once the people with a purchase
    number more than :data:`REFIT_ABOVE_SHARE` away from those it was fitted on.

    The purchases expected in ``horizon_days`` are scaled by :func:`seasonal_index`;
    the 12-month value (a whole year) is not.
    """
    keys = list(summaries)
    if not keys:
        raise ModelFitError("no customers to fit")
    started = time.perf_counter()
    days = {k: summaries[k].days for k in keys if summaries[k].days}
    people = [summaries[k] for k in keys]
    x, tx, age = _columns(people)
    choice: ModelChoice | None = None
    if kept is not None and _still_fitted(kept, len(keys)):
        choice = kept
    elif kept is not None:
        try:
            refit = fit_model(kept.model.name, x, tx, age, start=kept.model.params)
            choice = replace(kept, model=refit, fitted_customers=len(keys), refitted=True)
        except ModelFitError:
            choice = None  # the kept model no longer fits: choose again
    if choice is None:
        chosen = choose_model(summaries, days, candidates=candidates)
        end_day = people[0].observation_end
        choice = replace(
            chosen, chosen_on=end_day, candidates=tuple(candidates), fitted_customers=len(keys)
        )
    model = choice.model
    m = _f([float(s.repeat_value) / s.frequency if s.frequency else 0.0 for s in people])
    spenders = (x > 0) & (m > 0)
    findings: list[str] = []
    params: GammaGammaParams | None = None
    try:
        params = fit_gamma_gamma(x[spenders], m[spenders])
        spend = conditional_expected_value(params, x, m)
    except ModelFitError as exc:
        # Shrink each person's mean repeat value towards the store's, one visit's weight.
        findings.append(f"{exc}: each person's mean is shrunk towards the store's instead")
        store_mean = float(np.average(m[spenders])) if np.any(spenders) else 0.0
        spend = (x * np.maximum(m, 0.0) + store_mean) / (x + 1.0)
    end = people[0].observation_end
    season = seasonal_index(days, end, horizon_days) if days else 1.0
    fitted = time.perf_counter()
    alive = model.probability_alive(x, tx, age)
    coming = model.expected(horizon_days / 7.0, x, tx, age) * season
    year = model.expected(52.0, x, tx, age)
    predictions = dict(
        zip(
            keys,
            map(
                PersonPrediction,
                alive.tolist(),
                coming.tolist(),
                _money_list(spend),
                _money_list(year * spend),
            ),
            strict=True,
        )
    )
    return FamilyResult(
        choice=choice,
        gamma_gamma=params,
        spend_findings=tuple(findings),
        seasonal_index=season,
        customers=len(keys),
        spend_customers=int(spenders.sum()),
        fit_seconds=fitted - started,
        predictions=predictions,
    )

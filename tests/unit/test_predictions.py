"""At-risk models: CDNOW conventions, the published BG/NBD and Gamma-Gamma fits, predictions.

The published figures come from Fader, Hardie & Lee (2005), "Counting Your Customers the
Easy Way" (BG/NBD) and "RFM and CLV" (Gamma-Gamma), both on the CDNOW sample in
tests/fixtures. Reference values marked "lifetimes" were computed with the archived
`lifetimes` 0.11.3 package (BetaGeoFitter / GammaGammaFitter with the parameters set) in a
scratch environment; it is not a dependency.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import replace
from datetime import date, timedelta
from decimal import Decimal as D
from pathlib import Path

import numpy as np
import pytest
from scipy import optimize

from greenloop.domain import predictions as pred
from greenloop.domain.prediction_models import (
    MODEL_NAMES,
    Distinct,
    choose_model,
    fit_family,
    fit_model,
    kept_choice,
    mbgnbd_log_likelihood,
    nbd_log_likelihood,
    pareto_nbd_log_likelihood,
)
from greenloop.domain.predictions import (
    BgNbdParams,
    CustomerSummary,
    GammaGammaParams,
    ModelFitError,
    ModelReadiness,
    bgnbd_expected_purchases,
    bgnbd_log_likelihood,
    check_readiness,
    conditional_expected_purchases,
    conditional_expected_value,
    fit_bgnbd,
    fit_gamma_gamma,
    fit_models,
    predict,
    probability_alive,
    summarize_purchases,
)
from greenloop.errors import GreenLoopError, SkippableRecordError

CDNOW = Path(__file__).resolve().parents[1] / "fixtures" / "cdnow_sample.txt"
CALIBRATION_END = date(1997, 9, 30)  # 39 weeks from 1997-01-01, inclusive
HOLDOUT_END = date(1998, 6, 30)
HOLDOUT_WEEKS = (HOLDOUT_END - CALIBRATION_END).days / 7  # 39.0
PUBLISHED = BgNbdParams(r=0.243, alpha=4.414, a=0.793, b=2.426)
PUBLISHED_SPEND = GammaGammaParams(p=6.25, q=3.74, gamma=15.44)

Purchases = dict[str, list[tuple[date, D]]]


def read_cdnow() -> Purchases:
    people: Purchases = defaultdict(list)
    for line in CDNOW.read_text().splitlines():
        master, _sample, day, _cds, dollars = line.split()
        when = date(int(day[:4]), int(day[4:6]), int(day[6:]))
        people[master].append((when, D(dollars)))
    return dict(people)


@pytest.fixture(scope="module")
def cdnow() -> Purchases:
    return read_cdnow()


def calibration(people: Purchases, end: date = CALIBRATION_END) -> dict[str, CustomerSummary]:
    return {
        key: summarize_purchases([p for p in purchases if p[0] <= CALIBRATION_END], end)
        for key, purchases in people.items()
    }


@pytest.fixture(scope="module")
def summaries(cdnow: Purchases) -> dict[str, CustomerSummary]:
    return calibration(cdnow)


Columns = tuple[np.ndarray, np.ndarray, np.ndarray]


def columns(summaries: dict[str, CustomerSummary]) -> Columns:
    people = list(summaries.values())
    return (
        np.array([s.frequency for s in people], dtype=float),
        np.array([s.recency for s in people]),
        np.array([s.T for s in people]),
    )


@pytest.fixture(scope="module")
def fitted(summaries: dict[str, CustomerSummary]) -> BgNbdParams:
    return fit_bgnbd(*columns(summaries))


def within(value: float, published: float, tolerance: float = 0.01) -> bool:
    return abs(value / published - 1) <= tolerance


# --------------------------------------------------------------------------- CDNOW


def test_cdnow_calibration_counts(summaries: dict[str, CustomerSummary]) -> None:
    people = list(summaries.values())
    assert len(people) == 2357
    assert sum(s.frequency for s in people) == 2457  # repeat transactions, same day merged
    assert sum(1 for s in people if s.frequency >= 1) == 946


def test_cdnow_bgnbd_reproduces_the_published_fit(
    summaries: dict[str, CustomerSummary], fitted: BgNbdParams
) -> None:
    for name in ("r", "alpha", "a", "b"):
        assert within(getattr(fitted, name), getattr(PUBLISHED, name)), (name, fitted)
    # The paper reports a log-likelihood of -9582.4 at the optimum.
    assert bgnbd_log_likelihood(fitted, *columns(summaries)) == pytest.approx(-9582.4, abs=0.05)


def test_the_day_after_the_period_as_end_date_does_not_reproduce_it(cdnow: Purchases) -> None:
    # T runs to 1997-09-30 (the last calibration day), not to the next midnight: measuring
    # to 1997-10-01 moves a by 2.7%, outside the published figure.
    shifted = fit_bgnbd(*columns(calibration(cdnow, CALIBRATION_END + timedelta(days=1))))
    assert not within(shifted.a, PUBLISHED.a)


def test_cdnow_gamma_gamma_reproduces_the_published_fit(
    summaries: dict[str, CustomerSummary],
) -> None:
    repeaters = [s for s in summaries.values() if s.frequency >= 1]
    assert len(repeaters) == 946
    spend = fit_gamma_gamma(
        [s.frequency for s in repeaters], [float(s.monetary_value or 0) for s in repeaters]
    )
    for name in ("p", "q", "gamma"):
        assert within(getattr(spend, name), getattr(PUBLISHED_SPEND, name)), (name, spend)


def test_cdnow_holdout_prediction(
    cdnow: Purchases, summaries: dict[str, CustomerSummary], fitted: BgNbdParams
) -> None:
    actual = sum(
        len({d for d, _ in purchases if d > CALIBRATION_END}) for purchases in cdnow.values()
    )
    predicted = float(
        conditional_expected_purchases(fitted, HOLDOUT_WEEKS, *columns(summaries)).sum()
    )
    print(f"\nCDNOW holdout repeat transactions: predicted {predicted:,.1f}, actual {actual:,}")
    assert HOLDOUT_WEEKS == 39
    assert actual == 1882
    assert 1550 <= predicted <= 1750  # the correct model gives about 1,653


def test_cdnow_population_expectation_tracks_repeat_transactions(
    cdnow: Purchases, summaries: dict[str, CustomerSummary], fitted: BgNbdParams
) -> None:
    """Sum of E[X(T_i)] over the cohort: the model's repeat transactions, unconditionally."""
    ages = columns(summaries)[2]
    in_calibration = float(bgnbd_expected_purchases(fitted, ages).sum())
    to_week_78 = float(bgnbd_expected_purchases(fitted, ages + HOLDOUT_WEEKS).sum())
    assert in_calibration == pytest.approx(2457, rel=0.03)
    assert to_week_78 == pytest.approx(2457 + 1882, rel=0.06)


def test_fit_models_on_cdnow(summaries: dict[str, CustomerSummary]) -> None:
    result = fit_models(summaries)
    assert within(result.bgnbd.r, PUBLISHED.r)
    assert within(result.gamma_gamma.gamma, PUBLISHED_SPEND.gamma)
    assert result.customers == 2357
    assert result.spend_customers == 946
    assert result.fit_seconds > 0
    assert result.predictions.keys() == summaries.keys()
    one = result.predictions["00004"]  # 4 purchase days, the last in August 1997
    assert 0 < one.probability_alive < 1
    assert one.expected_transaction_value.as_tuple().exponent == -2
    assert one.predicted_value_12m.as_tuple().exponent == -2
    total_90d = sum(p.expected_purchases_90d for p in result.predictions.values())
    assert 0 < total_90d < 1653  # 90 days is shorter than the 39-week holdout


# --------------------------------------------------------------------------- summaries


def test_summary_merges_same_day_purchases_and_uses_repeat_days_for_value() -> None:
    s = summarize_purchases(
        [
            (date(2026, 1, 1), D("10.00")),
            (date(2026, 1, 15), D("20.00")),
            (date(2026, 1, 15), D("5.50")),  # same day: one transaction worth 25.50
            (date(2026, 1, 8), D("4.50")),  # order does not matter
        ],
        observation_end=date(2026, 3, 12),
    )
    assert s.frequency == 2  # 3 distinct days
    assert s.recency == 2.0  # 14 days
    assert s.T == 10.0  # 70 days
    assert s.repeat_value == D("30.00")
    assert s.monetary_value == D("15.00")  # (4.50 + 25.50) / 2: the first day is left out
    assert (s.first_purchase, s.last_purchase) == (date(2026, 1, 1), date(2026, 1, 15))


def test_summary_of_a_one_day_customer() -> None:
    s = summarize_purchases(
        [(date(2026, 2, 1), D("12.00")), (date(2026, 2, 1), D("3.00"))], date(2026, 2, 4)
    )
    assert (s.frequency, s.recency, s.T) == (0, 0.0, 3 / 7)
    assert s.repeat_value == 0
    assert s.monetary_value is None


def test_summary_refuses_nothing_and_the_future() -> None:
    with pytest.raises(ValueError, match="at least one purchase"):
        summarize_purchases([], date(2026, 1, 1))
    with pytest.raises(ValueError, match="after the observation end"):
        summarize_purchases([(date(2026, 1, 2), D(1))], date(2026, 1, 1))


# --------------------------------------------------------------------------- readiness


def person(first: date, days: int, frequency: int) -> CustomerSummary:
    last = first + timedelta(days=days)
    return CustomerSummary(frequency, days / 7, days / 7, D(0), first, last, last)


def test_ready_when_every_threshold_is_met() -> None:
    people = [person(date(2025, 1, 1), 200, 1)] * 100 + [person(date(2025, 3, 1), 10, 0)] * 400
    assert check_readiness(people) == (True, [])


def test_readiness_gives_every_reason() -> None:
    people = [person(date(2026, 1, 1), 40, 1)] * 12 + [person(date(2026, 1, 1), 0, 0)] * 300
    ready, reasons = check_readiness(people)
    assert not ready
    assert reasons == [
        "only 312 customers with an order; needs 500",
        "only 40 days of order history; needs 180",
        "only 12 customers with 2+ purchase days; needs 100",
    ]


def test_readiness_thresholds_are_configurable() -> None:
    people = [person(date(2026, 1, 1), 40, 2)] * 12
    relaxed = ModelReadiness(min_customers=10, min_history_days=30, min_repeat_customers=12)
    assert check_readiness(people, relaxed) == (True, [])
    stricter = replace(relaxed, min_repeat_days=4)
    assert check_readiness(people, stricter) == (
        False,
        ["only 0 customers with 4+ purchase days; needs 12"],
    )
    assert check_readiness([]) == (
        False,
        [
            "only 0 customers with an order; needs 500",
            "only 0 days of order history; needs 180",
            "only 0 customers with 2+ purchase days; needs 100",
        ],
    )


# --------------------------------------------------------------------------- fitting


def test_collapsing_identical_rows_gives_the_same_fit(
    summaries: dict[str, CustomerSummary],
) -> None:
    x, tx, age = columns(summaries)
    assert len(np.unique(np.column_stack([x, tx, age]), axis=0)) < len(x)
    collapsed = fit_bgnbd(x, tx, age, collapse=True)
    full = fit_bgnbd(x, tx, age, collapse=False)
    for name in ("r", "alpha", "a", "b"):
        assert getattr(collapsed, name) == pytest.approx(getattr(full, name), rel=1e-5)


def test_weights_count_as_repeated_rows(summaries: dict[str, CustomerSummary]) -> None:
    x, tx, age = (c[:600] for c in columns(summaries))
    doubled = fit_bgnbd(np.tile(x, 2), np.tile(tx, 2), np.tile(age, 2), collapse=False)
    weighted = fit_bgnbd(x, tx, age, weights=np.full(len(x), 2.0), collapse=False)
    for name in ("r", "alpha", "a", "b"):
        assert getattr(weighted, name) == pytest.approx(getattr(doubled, name), rel=1e-5)


def test_analytic_gradients_match_finite_differences(
    summaries: dict[str, CustomerSummary],
) -> None:
    x, tx, age = columns(summaries)
    bg = pred._bgnbd_objective(x, tx, age, np.ones(len(x)))
    at = np.log([0.3, 5.0, 0.7, 2.0])
    numeric = optimize.approx_fprime(at, lambda lp: bg(lp)[0], 1e-6)
    assert bg(at)[1] == pytest.approx(numeric, rel=1e-4, abs=1e-2)

    repeaters = x > 0
    m = np.array([float(s.monetary_value or 0) for s in summaries.values()])[repeaters]
    gg = pred._gamma_gamma_objective(x[repeaters], m, np.ones(int(repeaters.sum())))
    at = np.log([5.0, 3.0, 12.0])
    numeric = optimize.approx_fprime(at, lambda lp: gg(lp)[0], 1e-6)
    assert gg(at)[1] == pytest.approx(numeric, rel=1e-4, abs=1e-2)


def simulate_bgnbd(params: BgNbdParams, n: int, seed: int) -> Columns:
    """Customers who follow BG/NBD exactly, observed for 26 to 104 weeks."""
    rng = np.random.default_rng(seed)
    rate = rng.gamma(params.r, 1 / params.alpha, n)
    dropout = rng.beta(params.a, params.b, n)
    age = rng.uniform(26, 104, n)
    now = np.zeros(n)
    frequency = np.zeros(n)
    recency = np.zeros(n)
    active = np.ones(n, dtype=bool)
    while active.any():
        now = np.where(active, now + rng.exponential(1 / np.maximum(rate, 1e-12)), now)
        bought = active & (now < age)
        frequency += bought
        recency = np.where(bought, now, recency)
        active = bought & (rng.random(n) >= dropout)
    return frequency, recency, age


def test_fit_recovers_the_parameters_of_simulated_customers() -> None:
    truth = BgNbdParams(r=0.8, alpha=6.0, a=0.9, b=3.0)
    fitted = fit_bgnbd(*simulate_bgnbd(truth, 20_000, seed=5))
    assert fitted.r == pytest.approx(truth.r, rel=0.1)
    assert fitted.alpha == pytest.approx(truth.alpha, rel=0.15)
    assert fitted.a == pytest.approx(truth.a, rel=0.25)
    assert fitted.b == pytest.approx(truth.b, rel=0.35)


def test_fit_failures_are_skippable_errors() -> None:
    with pytest.raises(ModelFitError, match="no repeat purchases") as caught:
        fit_bgnbd([0, 0, 0], [0, 0, 0], [5, 8, 13])
    assert isinstance(caught.value, SkippableRecordError)
    assert isinstance(caught.value, GreenLoopError)
    assert isinstance(caught.value, ValueError)
    assert caught.value.hint
    with pytest.raises(ModelFitError, match="no customers"):
        fit_models({})
    with pytest.raises(ModelFitError, match="no repeat customers"):
        fit_gamma_gamma([], [])


def test_a_fit_that_runs_off_to_a_limit_is_reported() -> None:
    # Everyone bought exactly twice, a week apart, and was seen for exactly two weeks:
    # no heterogeneity to estimate, so the parameters run off to their limits.
    with pytest.raises(ModelFitError, match="did not converge"):
        fit_bgnbd([1] * 50, [1.0] * 50, [2.0] * 50)


def test_inputs_are_checked() -> None:
    with pytest.raises(ValueError, match="recency <= T"):
        fit_bgnbd([1, 2], [3.0, 1.0], [2.0, 4.0])
    with pytest.raises(ValueError, match="recency > 0"):
        fit_bgnbd([1], [0.0], [2.0])
    with pytest.raises(ValueError, match="monetary_value > 0"):
        fit_gamma_gamma([1, 2], [10.0, 0.0])
    with pytest.raises(ValueError, match="discount"):
        predict(PUBLISHED, PUBLISHED_SPEND, {}, monthly_discount_rate=-0.1)


# --------------------------------------------------------------------------- model functions


def test_probability_alive_behaves() -> None:
    # Many purchases, the last just now: almost surely alive (not quite 1: under BG/NBD
    # anyone may have dropped out right after their last purchase).
    assert probability_alive(PUBLISHED, 30, 38.8, 38.86) > 0.97
    # Bought often, but only in the first weeks: almost surely gone.
    assert probability_alive(PUBLISHED, 7, 5.0, 38.86) < 0.01
    # A one-time buyer is alive with probability 1 under BG/NBD (dropout happens only
    # right after a purchase), however long ago the purchase was.
    assert probability_alive(PUBLISHED, [0, 0], [0.0, 0.0], [1.0, 500.0]).tolist() == [1.0, 1.0]
    # Each extra week of silence lowers it.
    later = probability_alive(PUBLISHED, 3, 10.0, np.array([10.0, 20.0, 40.0]))
    assert later[0] > later[1] > later[2]


LIFETIMES_CASES = [
    # (x, t_x, T), P(alive), E[Y(39) | x, t_x, T] with the published parameters
    ((0, 0.0, 38.86), 1.0, 0.19509805201125396),
    ((2, 30.43, 38.86), 0.726578570080673, 1.226028174767135),
    ((7, 35.0, 38.86), 0.8437678219280121, 4.387487854487884),
    ((7, 5.0, 38.86), 0.00016909425607622972, 0.0008792691253654118),
    ((1, 1.0, 30.0), 0.23492242346608017, 0.27390692587356363),
    ((20, 70.0, 72.0), 0.9404563626533258, 8.299043854145808),
]


@pytest.mark.parametrize(("history", "alive", "expected"), LIFETIMES_CASES)
def test_bgnbd_functions_match_lifetimes(
    history: tuple[int, float, float], alive: float, expected: float
) -> None:
    assert probability_alive(PUBLISHED, *history) == pytest.approx(alive, rel=1e-10)
    assert conditional_expected_purchases(PUBLISHED, 39, *history) == pytest.approx(
        expected, rel=1e-9
    )


def test_unconditional_expectation_matches_lifetimes() -> None:
    values = bgnbd_expected_purchases(PUBLISHED, [0.0, 1.0, 39.0, 78.0])
    assert values[0] == 0
    assert values[1:] == pytest.approx(
        [0.05326789117165627, 1.1967231933207985, 1.8605190579427455], rel=1e-10
    )
    # A one-time buyer just seen is a new customer: eq. 10 reduces to eq. 9.
    assert conditional_expected_purchases(PUBLISHED, 39, 0, 0.0, 0.0) == pytest.approx(values[2])
    assert conditional_expected_purchases(PUBLISHED, 0, 5, 10.0, 20.0) == 0


def test_expected_purchases_stay_finite_for_heavy_buyers_and_a_near_one() -> None:
    # In its textbook form eq. 10 gives inf * 0 = nan for the second; reference values
    # from mpmath at 60 digits.
    heavy = conditional_expected_purchases(PUBLISHED, 200, [150, 400], [4.9, 4.95], [5.0, 5.0])
    assert heavy == pytest.approx([641.88081209130728, 1717.6359395546247], rel=1e-10)
    near = [replace(PUBLISHED, a=a) for a in (0.999, 1.0, 1.001)]
    values = [float(conditional_expected_purchases(p, 52, 3, 20.0, 30.0)) for p in near]
    assert values[0] > values[1] > values[2]


def test_gamma_gamma_expected_value() -> None:
    # lifetimes: conditional_expected_average_profit with p, q, v = 6.25, 3.74, 15.44.
    got = conditional_expected_value(PUBLISHED_SPEND, [1, 5, 0], [20.0, 35.5, 0.0])
    assert got == pytest.approx([24.6384872080089, 35.47734627831715, 35.21897810218978])
    # x = 0 gives the population mean p * gamma / (q - 1), whatever m says.
    assert got[2] == pytest.approx(6.25 * 15.44 / 2.74)
    # A repeat mean below zero (returns) counts as zero: the estimate shrinks towards 0.
    assert conditional_expected_value(PUBLISHED_SPEND, 4, -10.0) == pytest.approx(
        15.44 * 6.25 / (6.25 * 4 + 2.74)
    )


# --------------------------------------------------------------------------- predictions


def test_predict_combines_the_two_models() -> None:
    people = {
        "regular": summarize_purchases(
            [(date(2026, 1, 1) + timedelta(days=14 * i), D("30.00")) for i in range(8)],
            date(2026, 4, 20),
        ),
        "once": summarize_purchases([(date(2026, 1, 5), D("80.00"))], date(2026, 4, 20)),
    }
    out = predict(PUBLISHED, PUBLISHED_SPEND, people)
    regular = out["regular"]
    x, tx, age = columns({"r": people["regular"]})
    assert regular.probability_alive == pytest.approx(
        float(probability_alive(PUBLISHED, x, tx, age)[0])
    )
    assert regular.expected_purchases_90d == pytest.approx(
        float(conditional_expected_purchases(PUBLISHED, 90 / 7, x, tx, age)[0])
    )
    spend = float(conditional_expected_value(PUBLISHED_SPEND, 7, 30.0))
    assert regular.expected_transaction_value == D(f"{spend:.2f}")
    in_year = float(conditional_expected_purchases(PUBLISHED, 52, x, tx, age)[0])
    assert regular.predicted_value_12m == D(f"{in_year * spend:.2f}")
    assert out["once"].probability_alive == 1.0
    assert out["once"].expected_transaction_value == D("35.22")  # population mean

    discounted = predict(PUBLISHED, PUBLISHED_SPEND, people, monthly_discount_rate=0.01)
    assert discounted["regular"].predicted_value_12m < regular.predicted_value_12m
    assert discounted["regular"].predicted_value_12m > regular.predicted_value_12m * D("0.9")
    undiscounted = predict(PUBLISHED, PUBLISHED_SPEND, people, monthly_discount_rate=0.0)
    assert undiscounted == out


def test_a_large_store_chooses_its_model_on_an_even_sample_and_fits_it_on_everyone(
    summaries: dict[str, CustomerSummary],
) -> None:
    days = {k: s.days for k, s in summaries.items() if s.days}
    assert len(days) > 1000
    whole = choose_model(summaries, days)
    sampled = choose_model(summaries, days, max_people=1000)
    assert "each of 1,000 people's (an even sample)" in sampled.reason
    assert "(an even sample)" not in whole.reason
    # The model is fitted on everyone, not on the sample: from the sample's fit, to the
    # optimum a cold start finds, within the optimiser's tolerance.
    x, tx, age = columns(summaries)
    everyone = fit_model(sampled.model.name, x, tx, age)
    assert sampled.model.params == pytest.approx(everyone.params, rel=1e-3)
    likelihood = {
        "bgnbd": lambda p: bgnbd_log_likelihood(BgNbdParams(*p), x, tx, age),
        "mbgnbd": lambda p: mbgnbd_log_likelihood(p, x, tx, age),
        "pareto_nbd": lambda p: pareto_nbd_log_likelihood(p, x, tx, age),
        "nbd": lambda p: nbd_log_likelihood(p, x, tx, age),
    }[sampled.model.name]
    warm = float(np.sum(likelihood(list(sampled.model.params.values()))))
    cold = float(np.sum(likelihood(list(everyone.params.values()))))
    assert warm >= cold - 1e-6 * abs(cold)


def test_a_young_choice_is_kept_and_refitted_an_old_or_different_one_is_made_again(
    summaries: dict[str, CustomerSummary],
) -> None:
    first = fit_family(summaries)
    stored = first.choice.as_json()
    today = next(iter(summaries.values())).observation_end
    assert stored["chosen_on"] == today.isoformat()
    assert stored["kept"] is False

    kept = kept_choice(stored, MODEL_NAMES, today + timedelta(days=6), 7)
    assert kept is not None
    again = fit_family(summaries, kept=kept)
    assert again.choice.kept is True
    assert again.choice.model.name == first.choice.model.name
    # Fitted on as many people as there are today: the parameters are used as they are.
    assert stored["fitted_customers"] == len(summaries)
    assert again.choice.model.params == first.choice.model.params
    assert again.choice.refitted is False
    assert again.choice.as_json()["fitted_customers"] == len(summaries)
    assert again.predictions.keys() == first.predictions.keys()
    for key, prediction in again.predictions.items():
        before = first.predictions[key]
        assert prediction.probability_alive == pytest.approx(before.probability_alive, abs=1e-4)
        assert prediction.expected_purchases_90d == pytest.approx(
            before.expected_purchases_90d, abs=1e-4
        )
    assert again.choice.as_json()["chosen_on"] == stored["chosen_on"]  # it still ages
    assert again.choice.reason == first.choice.reason

    # A store that grew by more than REFIT_ABOVE_SHARE since the fit is refitted.
    keys = list(summaries)
    smaller = fit_family({k: summaries[k] for k in keys[: len(keys) * 19 // 20]})
    grown = kept_choice(smaller.choice.as_json(), MODEL_NAMES, today, 7)
    assert grown is not None
    assert grown.fitted_customers == len(keys) * 19 // 20
    regrown = fit_family(summaries, kept=grown).choice
    assert regrown.refitted is True
    assert regrown.fitted_customers == len(summaries)
    assert regrown.model.params != grown.model.params
    # One more person than fitted on is within the share: kept as they are.
    near = fit_family(dict(list(summaries.items())[:-1])).choice
    kept_near = kept_choice(near.as_json(), MODEL_NAMES, today, 7)
    assert kept_near is not None
    assert fit_family(summaries, kept=kept_near).choice.model.params == near.model.params

    # Stored before the number fitted on was: refitted on everyone from the stored
    # parameters, to the optimum the full choice found within the optimiser's tolerance.
    unknown = kept_choice({**stored, "fitted_customers": None}, MODEL_NAMES, today, 7)
    assert unknown is not None
    refitted = fit_family(summaries, kept=unknown).choice
    assert refitted.refitted is True
    assert refitted.fitted_customers == len(summaries)
    assert refitted.model.params == pytest.approx(first.choice.model.params, rel=1e-3)

    assert kept_choice(stored, MODEL_NAMES, today + timedelta(days=7), 7) is None  # old
    assert kept_choice(stored, MODEL_NAMES, today - timedelta(days=1), 7) is None  # as-of
    assert kept_choice(stored, MODEL_NAMES, today, 0) is None  # turned off
    assert kept_choice(stored, ("bgnbd", "nbd"), today, 7) is None  # other candidates
    assert kept_choice(None, MODEL_NAMES, today, 7) is None
    assert kept_choice({"model": "bgnbd"}, MODEL_NAMES, today, 7) is None  # before keeping
    damaged = {**stored, "chosen_on": "yesterday"}
    assert kept_choice(damaged, MODEL_NAMES, today, 7) is None


def test_a_warm_start_finds_the_cold_fit_and_a_useless_one_falls_back(
    summaries: dict[str, CustomerSummary],
) -> None:
    x, tx, age = columns(summaries)
    for name in ("pareto_nbd", "mbgnbd"):
        cold = fit_model(name, x, tx, age)
        nudged = {k: v * 1.2 for k, v in cold.params.items()}
        warm = fit_model(name, x, tx, age, start=nudged)
        assert warm.params == pytest.approx(cold.params, rel=1e-3), name
        for useless in ({"r": 1.0}, {k: float("nan") for k in cold.params}, {}):
            assert fit_model(name, x, tx, age, start=useless).params == cold.params


def test_a_refit_from_a_fits_own_parameters_on_the_same_data_stays_put(
    summaries: dict[str, CustomerSummary],
) -> None:
    # A kept choice is refitted from its last parameters every day: on unchanged data the
    # refit must give them back, or every prediction moves in its last digit and a rerun
    # rewrites thousands of unchanged persons (23,268 of 196,260 on the benchmark store).
    x, tx, age = columns(summaries)
    for name in ("pareto_nbd", "mbgnbd", "nbd"):
        cold = fit_model(name, x, tx, age)
        again = fit_model(name, x, tx, age, start=cold.params)
        assert again.params == pytest.approx(cold.params, rel=1e-12, abs=0), name
        # Within the optimiser's tolerance of the optimum: kept exactly as given.
        close = {k: v * (1 + 1e-6) for k, v in cold.params.items()}
        assert fit_model(name, x, tx, age, start=close).params == close, name


def _pareto_nbd_row_by_row(
    params: list[float], x: np.ndarray, tx: np.ndarray, age: np.ndarray
) -> np.ndarray:
    """Fader & Hardie's (2005) eq. 22, each row's hypergeometric terms computed alone."""
    from scipy import special

    r, alpha, s, beta = params
    out = []
    for xi, txi, ti in zip(x.tolist(), tx.tolist(), age.tolist(), strict=True):
        low, high, t = (alpha, beta, r + xi) if alpha < beta else (beta, alpha, s + 1.0)
        rsx = r + s + xi
        first = np.log(special.hyp2f1(rsx, t, rsx + 1, (high - low) / (high + txi)))
        first -= rsx * np.log(high + txi)
        second = np.log(special.hyp2f1(rsx, t, rsx + 1, (high - low) / (high + ti)))
        second -= rsx * np.log(high + ti)
        with np.errstate(divide="ignore"):  # a last purchase today: A0's terms cancel
            a0 = first + np.log1p(-np.exp(second - first))
        a1 = special.gammaln(r + xi) - special.gammaln(r) + r * np.log(alpha) + s * np.log(beta)
        alive = -(r + xi) * np.log(alpha + ti) - s * np.log(beta + ti)
        died = np.log(s) - np.log(r + s + xi) + a0
        out.append(a1 + np.logaddexp(alive, died))
    return np.array(out)


@pytest.mark.parametrize("params", [[0.55, 10.6, 0.61, 11.7], [0.7, 60.0, 0.64, 963.0]])
def test_pareto_nbd_computes_each_distinct_pair_once_to_the_same_digits(
    summaries: dict[str, CustomerSummary], params: list[float]
) -> None:
    x, tx, age = columns(summaries)
    distinct = Distinct.of(x, tx, age)
    # Far fewer pairs than rows: that is the saving.
    assert len(distinct.x_tx) < len(x) / 3
    assert len(distinct.x_age) < len(x) / 3
    by_pairs = pareto_nbd_log_likelihood(params, x, tx, age, distinct)
    assert np.array_equal(by_pairs, pareto_nbd_log_likelihood(params, x, tx, age))
    np.testing.assert_allclose(by_pairs, _pareto_nbd_row_by_row(params, x, tx, age), rtol=1e-12)

"""Weights learnt from the store's own records: u from random pairs, m by EM, the prior.

``u`` is measured on random record pairs (almost all different people); ``m`` by
expectation-maximisation over the blocked candidate pairs with ``u`` held fixed, in
splink's training sessions; the prior by EM over all pairs once m and u are known.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Sequence

import numpy as np
import numpy.typing as npt

from greenloop.domain.matching.columns import compare_columns
from greenloop.domain.matching.fields import (
    ADDRESS,
    EMAIL,
    FIELDS,
    FIRST,
    FLOOR,
    LAST,
    LEVEL_COUNTS,
    PHONE,
    FloatArray,
    LevelArray,
)
from greenloop.domain.matching.prepared import Prepared
from greenloop.domain.matching.records import MatchRecord
from greenloop.domain.matching.weights import (
    DEFAULT_M,
    DEFAULT_PRIOR,
    DEFAULT_U,
    HOUSEHOLD_FIELDS,
    Weights,
    clamp,
    with_unused_zero,
)

__all__ = ["MAX_M_FIRST_NAMES_DIFFERENT", "estimate_from_levels", "estimate_weights"]

# A true duplicate whose first names are unrelated (not equal, similar, a nickname or an
# initial) is rare: a name typed into the wrong box, a spouse's profile used at the till.
# EM cannot learn this share: a household (two people sharing phone, surname and address)
# agrees on three fields the model treats as independent, looks like a duplicate with a
# different first name, and drags the learnt share up (to ~30% on synthetic data with 5%
# households). Capped here, the same policy as the exact-key linker's ``names_agree``.
MAX_M_FIRST_NAMES_DIFFERENT = 1e-3

# Pseudo-observations of the default distribution added to each estimate: negligible with
# real volumes, and a smooth fallback to the defaults for a field seen too rarely. u gets
# more of them because a small store's random pairs are few and include its duplicates.
_PSEUDO_M = 5.0
_PSEUDO_U = 1000.0
_MIN_PAIRS_FOR_M = 30

# Training sessions, as splink runs them. Candidate pairs were chosen because they agree
# on some fields (a shared surname, a shared email local part), so among them even
# different people agree there far more often than random pairs do: left free, EM calls
# nearly every candidate a match. Each session therefore takes the candidates agreeing
# on its own fields, learns m only for the other fields, and the estimates are averaged.
_SESSIONS: tuple[
    tuple[str, tuple[int, ...], Callable[[LevelArray], npt.NDArray[np.bool_]]], ...
] = (
    ("same last name", (FIRST, LAST), lambda lv: (lv[:, LAST] == 3) & (lv[:, FIRST] >= 2)),
    ("close emails", (EMAIL,), lambda lv: lv[:, EMAIL] >= 3),
    ("close phones", (PHONE,), lambda lv: lv[:, PHONE] >= 2),
    (
        "same postcode",
        (FIRST, ADDRESS),
        lambda lv: (lv[:, ADDRESS] >= 2) & (lv[:, FIRST] >= 2),
    ),
)


def _level_distribution(
    levels: LevelArray,
    weight: FloatArray,
    field: int,
    default: tuple[float, ...],
    pseudo: float,
) -> tuple[float, ...]:
    """Weighted share of each level 1.. in a column, smoothed towards ``default``."""
    size = len(default)
    counts = np.bincount(levels[:, field], weights=weight, minlength=size + 1)[1 : size + 1]
    smoothed = counts + pseudo * np.asarray(default, np.float64)
    return clamp(smoothed / smoothed.sum())


def _pattern_log(
    patterns: LevelArray, probabilities: Sequence[tuple[float, ...]], fields: Iterable[int]
) -> FloatArray:
    """Natural log of the product of the fields' probabilities for each level pattern."""
    total = np.zeros(len(patterns), np.float64)
    for f in fields:
        table = np.log(np.asarray((1.0, *probabilities[f]), np.float64))  # level 0: no term
        total += table[patterns[:, f]]
    return total


def _posterior(log_m: FloatArray, log_u: FloatArray, prior: float) -> FloatArray:
    logit = log_m - log_u + math.log(prior / (1 - prior))
    return np.asarray(1 / (1 + np.exp(-np.clip(logit, -700, 700))), np.float64)


def _random_pair_levels(prep: Prepared, seed: int, count: int) -> LevelArray:
    """Levels of ``count`` random pairs of distinct records, or of every pair if fewer."""
    n = prep.n
    if n * (n - 1) // 2 <= count:
        i, j = np.triu_indices(n, 1)
        return compare_columns(prep, i.astype(np.int64), j.astype(np.int64))
    rng = np.random.default_rng(seed)
    i = rng.integers(0, n, count, dtype=np.int64)
    j = rng.integers(0, n - 1, count, dtype=np.int64)
    j += j >= i
    return compare_columns(prep, i, j)


def estimate_from_levels(
    prep: Prepared,
    candidates: LevelArray,
    *,
    seed: int,
    random_pairs: int,
    iterations: int,
) -> Weights:
    fields = range(len(FIELDS))
    # u: random pairs of distinct records are different people all but ~1/n of the time.
    if prep.n >= 2 and random_pairs > 0:
        random_levels = _random_pair_levels(prep, seed, random_pairs)
        ones = np.ones(len(random_levels), np.float64)
        u = [_level_distribution(random_levels, ones, f, DEFAULT_U[f], _PSEUDO_U) for f in fields]
    else:
        u = [clamp(values) for values in DEFAULT_U]
    m = [clamp(values) for values in DEFAULT_M]
    if len(candidates) == 0:
        prior = min(0.5, 0.2 / max(prep.n, 1))  # about one duplicate per ten records
        return Weights(m=with_unused_zero(m), u=with_unused_zero(u), prior=prior)

    patterns, counts = _pattern_counts(candidates)
    rounds = max(iterations, 1)

    # m: one EM per session over its pairs' distinct level patterns, u held fixed.
    if len(candidates) >= _MIN_PAIRS_FOR_M:
        learnt: list[list[tuple[float, tuple[float, ...]]]] = [[] for _ in fields]
        for _name, fixed, selects in _SESSIONS:
            chosen = selects(patterns)
            if counts[chosen].sum() < _MIN_PAIRS_FOR_M:
                continue
            session, weight_of = patterns[chosen], counts[chosen]
            free = [f for f in fields if f not in fixed]
            session_m = list(m)
            log_u = _pattern_log(session, u, free)
            prior = 0.5
            weight = weight_of * prior
            for _ in range(rounds):
                posterior = _posterior(_pattern_log(session, session_m, free), log_u, prior)
                weight = weight_of * posterior
                for f in free:
                    session_m[f] = _level_distribution(session, weight, f, DEFAULT_M[f], _PSEUDO_M)
                new_prior = float(np.clip(weight.sum() / weight_of.sum(), FLOOR, 1 - FLOOR))
                converged = abs(new_prior - prior) < 1e-7
                prior = new_prior
                if converged:
                    break
            for f in free:
                # Weighted by how many matches the session saw with this field present.
                mass = float(weight[session[:, f] > 0].sum())
                learnt[f].append((mass, session_m[f]))
        for f in fields:
            total = sum(mass for mass, _ in learnt[f])
            if total > 0:
                mixed = sum(mass * np.asarray(values) for mass, values in learnt[f])
                m[f] = clamp(np.asarray(mixed, np.float64) / total)

    m[FIRST] = _cap_first_level(m[FIRST])
    # Households: pairs sharing two of surname, phone and address whose first names are
    # unrelated. Counted over all record pairs, it is the joint u of such sharing.
    total_pairs = prep.n * (prep.n - 1) / 2
    shared = sum(
        (patterns[:, field] >= lowest).astype(np.int64) for field, lowest in HOUSEHOLD_FIELDS
    )
    households = float(counts[(shared >= 2) & (patterns[:, FIRST] == 1)].sum())
    household = min(max(households, 1.0) / total_pairs, 1.0)

    # The prior, m and u now fixed: EM over every pair of records, taking the pairs that
    # blocking left out as non-matches (they share no key, so their weight is far below).
    fitted = Weights(
        m=with_unused_zero(m), u=with_unused_zero(u), prior=DEFAULT_PRIOR, household=household
    )
    log_bf = fitted.match_weights(patterns) * math.log(2)
    prior = min(0.5, counts.sum() / total_pairs / 2)
    matches = 0.0
    for _ in range(max(rounds, 200)):
        matches = float((counts * _posterior(log_bf, np.zeros(1), prior)).sum())
        new_prior = min(max(matches / total_pairs, 1e-15), 1 - FLOOR)
        converged = abs(new_prior - prior) <= 1e-9 * prior
        prior = new_prior
        if converged:
            break
    return Weights(
        m=fitted.m,
        u=fitted.u,
        prior=prior,
        candidate_share=float(matches / counts.sum()),
        household=household,
    )


def _pattern_counts(levels: LevelArray) -> tuple[LevelArray, FloatArray]:
    """The distinct rows of a level array and how often each occurs (EM runs over these:
    a few hundred patterns instead of millions of pairs)."""
    base = max(LEVEL_COUNTS)
    powers = base ** np.arange(len(FIELDS), dtype=np.int64)
    # Column by column into one code per row (base ** fields is a few thousand): the
    # rows widened to 64-bit integers at once took 48 bytes a candidate pair.
    codes = np.zeros(len(levels), np.int32)
    for field, power in enumerate(powers.tolist()):
        codes += levels[:, field].astype(np.int32) * np.int32(power)
    tally = np.bincount(codes, minlength=1)
    present = np.flatnonzero(tally)
    patterns = ((present[:, None] // powers) % base).astype(np.int8)
    return patterns, tally[present].astype(np.float64)


def _cap_first_level(values: tuple[float, ...]) -> tuple[float, ...]:
    """First-name m with "different" capped (see MAX_M_FIRST_NAMES_DIFFERENT)."""
    different = min(values[0], MAX_M_FIRST_NAMES_DIFFERENT)
    rest = np.asarray(values[1:], np.float64)
    rest = rest / rest.sum() * (1 - different)
    return (different, *(float(v) for v in rest))


def estimate_weights(
    records: Sequence[MatchRecord],
    pairs: Sequence[tuple[int, int]],
    *,
    seed: int = 0,
    random_pairs: int = 200_000,
    iterations: int = 25,
) -> Weights:
    """m, u and the prior learnt from this store's records (deterministic for a seed).

    ``u`` comes from ``random_pairs`` random record pairs; ``m`` and the prior from
    expectation-maximisation over the candidate ``pairs`` with ``u`` held fixed. Every
    probability is kept within [1e-4, 1 - 1e-4] so no single level decides alone. With
    fewer than 30 candidate pairs ``m`` keeps its defaults and only the prior is fitted;
    a field that rarely has values on both sides stays close to its defaults.
    """
    prep = Prepared(records)
    i = np.array([p[0] for p in pairs], np.int64)
    j = np.array([p[1] for p in pairs], np.int64)
    return estimate_from_levels(
        prep,
        compare_columns(prep, i, j),
        seed=seed,
        random_pairs=random_pairs,
        iterations=iterations,
    )

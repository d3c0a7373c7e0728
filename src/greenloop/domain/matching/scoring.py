"""Scored pairs: block, compare, learn the weights if none are given, and rank.

Exact names weigh by how common the name is (splink's term-frequency adjustment) before
the prior turns each pair's match weight into a probability.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass

import numpy as np

from greenloop.domain.matching.blocking import candidate_columns
from greenloop.domain.matching.columns import compare_columns
from greenloop.domain.matching.estimate import estimate_from_levels
from greenloop.domain.matching.evidence import evidence
from greenloop.domain.matching.fields import (
    FIRST,
    LAST,
    LEVEL_COUNTS,
    FloatArray,
    IntArray,
    LevelArray,
)
from greenloop.domain.matching.prepared import Prepared
from greenloop.domain.matching.records import MatchRecord
from greenloop.domain.matching.weights import Weights

__all__ = ["ScoredPair", "score_pairs"]


@dataclass(frozen=True, slots=True)
class ScoredPair:
    a: str  # member key, a < b
    b: str
    score: float  # log2 Bayes factor (match weight), names adjusted for how common they are
    probability: float  # posterior probability of a match given the prior
    levels: tuple[int, ...]
    evidence: tuple[str, ...]  # for a shop assistant, strongest first


def score_pairs(
    records: Sequence[MatchRecord],
    *,
    weights: Weights | None = None,
    skip: Callable[[str, str], bool] | None = None,
    min_probability: float = 0.5,
    seed: int = 0,
    max_block: int = 200,
    touching: Collection[str] | None = None,
) -> tuple[list[ScoredPair], Weights]:
    """Likely duplicates, best first, and the weights used.

    Blocks, learns weights when none are given (from every candidate pair, including
    those ``skip`` drops: a pair already known as one person is good evidence of what
    duplicates look like), then keeps pairs with probability >= ``min_probability`` that
    ``skip(a, b)`` (keys, a < b) does not reject. Ties sort by keys, so the output is
    deterministic. Records sharing one key are never paired.

    ``touching``: score only the candidate pairs with at least one record of these keys
    (the records changed since a full scoring). Blocking still sees every record, so the
    candidates are the ones a full scoring compares; ``weights`` must be given, as a
    sample of pairs around a few records would teach the wrong ones.
    """
    if touching is not None and weights is None:
        raise ValueError("scoring only some records' pairs needs the weights learnt from all")
    prep = Prepared(records)
    wanted = None
    if touching is not None:
        wanted = np.fromiter((key in touching for key in prep.keys), bool, prep.n)
    i, j = candidate_columns(prep, max_block, touching=wanted)
    levels = compare_columns(prep, i, j)
    if weights is None:
        weights = estimate_from_levels(prep, levels, seed=seed, random_pairs=200_000, iterations=25)
    first_adjustment, last_adjustment = _name_frequency_adjustments(prep, i, levels, weights)
    scores = weights.match_weights(levels, last_adjustment) + first_adjustment
    logit = scores + math.log2(weights.prior / (1 - weights.prior))
    probabilities = 1 / (1 + np.exp2(-np.clip(logit, -1000, 1000)))
    out: list[ScoredPair] = []
    for k in np.flatnonzero(probabilities >= min_probability).tolist():
        x, y = int(i[k]), int(j[k])
        if prep.keys[x] > prep.keys[y]:
            x, y = y, x
        key_a, key_b = prep.keys[x], prep.keys[y]
        if key_a == key_b or (skip is not None and skip(key_a, key_b)):
            continue
        row = tuple(int(v) for v in levels[k])
        out.append(
            ScoredPair(
                a=key_a,
                b=key_b,
                score=float(scores[k]),
                probability=float(probabilities[k]),
                levels=row,
                evidence=evidence(records[x], records[y], row, weights=weights),
            )
        )
    out.sort(key=lambda p: (-p.score, p.a, p.b))
    return out, weights


def _name_frequency_adjustments(
    prep: Prepared, i: IntArray, levels: LevelArray, weights: Weights
) -> tuple[FloatArray, FloatArray]:
    """splink's term-frequency adjustment for exactly equal first and last names.

    The learnt u for "same last name" is an average over the store; two Smiths agreeing
    is weaker evidence than two Quarrys. For an exact name the average u is replaced by
    the share of the store's named records carrying that name (at least 1e-4): a common
    name counts less than the average, a rare one more. Returns the log2 adjustments for
    first and last names.
    """
    out: list[FloatArray] = []
    for field, ids, share in (
        (FIRST, prep.first_id, prep.first_share),
        (LAST, prep.last_id, prep.last_share),
    ):
        top = LEVEL_COUNTS[field] - 1
        exact = levels[:, field] == top
        adjustment = np.zeros(len(i), np.float64)
        adjustment[exact] = np.log2(weights.u[field][top] / share[ids[i[exact]]])
        out.append(adjustment)
    return out[0], out[1]

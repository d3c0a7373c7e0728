"""m and u per field and level, the prior, and the match weight they give a pair.

``Weights`` turns a pair's levels into its match weight (log2 of the Bayes factor, with
the household correction) and a weight into a probability; ``DEFAULT_WEIGHTS`` are the
typical values used before a store's own are learnt (:mod:`.estimate`).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import numpy as np

from greenloop.domain.matching.fields import (
    ADDRESS,
    FIELDS,
    FLOOR,
    LAST,
    LEVEL_COUNTS,
    LEVEL_NAMES,
    PHONE,
    FloatArray,
    LevelArray,
)

__all__ = [
    "DEFAULT_M",
    "DEFAULT_PRIOR",
    "DEFAULT_U",
    "DEFAULT_WEIGHTS",
    "HOUSEHOLD_FIELDS",
    "Weights",
    "clamp",
    "with_unused_zero",
]

# The fields a household shares, with the lowest level that counts as sharing it.
HOUSEHOLD_FIELDS = ((LAST, 2), (PHONE, 2), (ADDRESS, 3))


def clamp(values: Iterable[float]) -> tuple[float, ...]:
    """Probabilities over levels 1.., each kept in [1e-4, 1 - 1e-4], summing to 1."""
    clipped = np.clip(np.asarray(list(values), np.float64), FLOOR, 1 - FLOOR)
    return tuple(float(v) for v in clipped / clipped.sum())


def with_unused_zero(levels: Sequence[tuple[float, ...]]) -> tuple[tuple[float, ...], ...]:
    return tuple((0.0, *values) for values in levels)


@lru_cache(maxsize=64)
def _log2_table(m: tuple[tuple[float, ...], ...], u: tuple[tuple[float, ...], ...]) -> FloatArray:
    table = np.zeros((len(FIELDS), max(LEVEL_COUNTS)), np.float64)
    for f, (m_f, u_f) in enumerate(zip(m, u, strict=True)):
        for level in range(1, len(m_f)):
            table[f, level] = math.log2(m_f[level] / u_f[level])
    table.flags.writeable = False
    return table


# Candidate pairs weighed at once by ``Weights.match_weights``.
_ROWS_AT_ONCE = 1 << 18


@dataclass(frozen=True)
class Weights:
    """m and u per field and level (index 0, "missing", is unused), and the prior.

    ``prior`` is the probability that two records taken at random are one person, the
    prior the match weight is applied to. It is deliberately not the share of candidate
    pairs that are matches (kept as ``candidate_share``, for people): a candidate pair was
    chosen because it agrees on a blocking field, and its match weight already counts that
    agreement, so using the candidate share as the prior would count it twice.
    """

    m: tuple[tuple[float, ...], ...]
    u: tuple[tuple[float, ...], ...]
    prior: float  # probability that two records taken at random are one person
    candidate_share: float = 0.0  # expected share of matches among the candidate pairs
    household: float = 0.0  # probability that two different people share a household

    def log2_table(self) -> FloatArray:
        """log2(m/u) as a read-only array (fields, max levels), 0 for level 0 and beyond."""
        return _log2_table(self.m, self.u)

    def bayes_factor_log2(self, levels: tuple[int, ...]) -> float:
        """The match weight: sum of log2(m/u) over fields with evidence (level > 0), with
        the household correction (``match_weights``)."""
        return float(self.match_weights(np.array([levels], np.int8))[0])

    def match_weights(
        self, levels: LevelArray, last_name_adjustment: FloatArray | None = None
    ) -> FloatArray:
        """``bayes_factor_log2`` for rows of levels at once.

        Household correction: surname, phone and address are not independent. Two
        different people sharing one agree on the others far more often than the product
        of their u values says, because they live together. When two or more of them
        agree, their joint u is taken as at least ``household``, the store's measured
        rate of different people sharing a household, instead of the product. Without
        it a couple sharing phone, surname and address outweighs any first-name evidence.
        ``last_name_adjustment`` (the term-frequency one) is added to the surname weight
        before the correction, so a common surname is not counted twice.
        """
        if len(levels) <= _ROWS_AT_ONCE:
            return self._match_weights(levels, last_name_adjustment)
        # Row by row alike, in slices: whole, a large store's millions of candidate pairs
        # held about half a gigabyte of float temporaries at once.
        return np.concatenate(
            [
                self._match_weights(
                    levels[start : start + _ROWS_AT_ONCE],
                    None
                    if last_name_adjustment is None
                    else last_name_adjustment[start : start + _ROWS_AT_ONCE],
                )
                for start in range(0, len(levels), _ROWS_AT_ONCE)
            ]
        )

    def _match_weights(
        self, levels: LevelArray, last_name_adjustment: FloatArray | None
    ) -> FloatArray:
        table = self.log2_table()
        rows = np.arange(len(levels))
        per_field = table[np.arange(len(FIELDS)), levels]  # (pairs, fields)
        if last_name_adjustment is not None:
            per_field[:, LAST] += last_name_adjustment
        scores: FloatArray = per_field.sum(axis=1)
        if self.household <= 0 or len(levels) == 0:
            return scores
        group = np.zeros(len(levels), np.float64)
        log_m = np.zeros(len(levels), np.float64)
        agreeing = np.zeros(len(levels), np.int64)
        for field, lowest in HOUSEHOLD_FIELDS:
            agrees = levels[:, field] >= lowest
            m = np.log2(np.asarray((1.0, *self.m[field][1:]), np.float64)[levels[rows, field]])
            group += np.where(agrees, per_field[:, field], 0.0)
            log_m += np.where(agrees, m, 0.0)
            agreeing += agrees
        excess = group - (log_m - math.log2(self.household))
        scores -= np.where(agreeing >= 2, np.maximum(excess, 0.0), 0.0)
        return scores

    def probability(self, score: float) -> float:
        """Posterior probability of a match for a match weight, given the prior."""
        logit = score + math.log2(self.prior / (1 - self.prior))
        return 1 / (1 + 2 ** min(-logit, 1000.0))

    def as_json(self) -> dict[str, Any]:
        return {
            "prior": self.prior,
            "candidate_share": self.candidate_share,
            "household": self.household,
            "fields": {
                name: [
                    {
                        "level": level,
                        "meaning": LEVEL_NAMES[f][level],
                        "m": self.m[f][level],
                        "u": self.u[f][level],
                        "weight_log2": math.log2(self.m[f][level] / self.u[f][level]),
                    }
                    for level in range(1, LEVEL_COUNTS[f])
                ]
                for f, name in enumerate(FIELDS)
            },
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Weights:
        fields = data["fields"]
        m = tuple((0.0, *(float(row["m"]) for row in fields[name])) for name in FIELDS)
        u = tuple((0.0, *(float(row["u"]) for row in fields[name])) for name in FIELDS)
        return cls(
            m=m,
            u=u,
            prior=float(data["prior"]),
            candidate_share=float(data.get("candidate_share", 0.0)),
            household=float(data.get("household", 0.0)),
        )


# Starting points and fallbacks, per field over levels 1.. (see LEVEL_NAMES): what a
# duplicate pair (m) and two different people (u) typically show in a store's data.
DEFAULT_M: tuple[tuple[float, ...], ...] = (
    (0.001, 0.03, 0.06, 0.06, 0.849),
    (0.12, 0.05, 0.83),
    (0.30, 0.05, 0.10, 0.55),
    (0.20, 0.05, 0.75),
    (0.20, 0.10, 0.70),
    (0.05, 0.95),
)
DEFAULT_U: tuple[tuple[float, ...], ...] = (
    (0.97, 0.01, 0.01, 0.002, 0.008),
    (0.985, 0.01, 0.005),
    (0.9996, 0.0002, 0.0001, 0.0001),
    (0.9998, 0.0001, 0.0001),
    (0.98, 0.019, 0.001),
    (0.9997, 0.0003),
)
# A 20,000-record store with 2,000 duplicate pairs: 2,000 / (20,000 * 19,999 / 2).
DEFAULT_PRIOR = 1e-5

DEFAULT_WEIGHTS = Weights(
    m=with_unused_zero([clamp(values) for values in DEFAULT_M]),
    u=with_unused_zero([clamp(values) for values in DEFAULT_U]),
    prior=DEFAULT_PRIOR,
    household=DEFAULT_PRIOR / 2,  # one household pair for every two duplicate pairs
)

"""``compare`` for many pairs at once, column by column on interned ids.

rapidfuzz's C scorers run over whole arrays of distinct value pairs, so 200,000 records
score in seconds; the levels are the ones :func:`~.levels.compare` gives pair by pair.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import numpy.typing as npt
from rapidfuzz.distance import DamerauLevenshtein, JaroWinkler
from rapidfuzz.process import cpdist

from greenloop.domain.matching.fields import (
    ADDRESS,
    BIRTH,
    EMAIL,
    FIELDS,
    FIRST,
    LAST,
    PHONE,
    BoolArray,
    IntArray,
    LevelArray,
)
from greenloop.domain.matching.levels import LOCAL_SIMILAR, NAME_SIMILAR, TWO_TYPOS_MIN_LOCAL
from greenloop.domain.matching.prepared import Prepared, Vocab

__all__ = ["compare_columns"]


# One worker: on this scale rapidfuzz spends its time reading the Python strings, which
# one thread does anyway; a second worker measured slower on two cores.
def _similar(a: npt.NDArray[np.object_], b: npt.NDArray[np.object_], at_least: float) -> BoolArray:
    """Jaro-Winkler(a, b) >= at_least, elementwise (the cutoff lets rapidfuzz stop early)."""
    if len(a) == 0:
        return np.zeros(0, np.bool_)
    scores = cpdist(
        a,
        b,
        scorer=JaroWinkler.normalized_similarity,
        score_cutoff=at_least,
        dtype=np.float64,
        workers=1,
    )
    similar: BoolArray = np.asarray(scores) >= at_least
    return similar


def _edits(vocab: Vocab, a: IntArray, b: IntArray, cutoff: int) -> IntArray:
    """Damerau-Levenshtein distance of two id columns' strings, ``cutoff`` when larger.

    Only the pairs that may be closer than ``cutoff`` are handed to rapidfuzz: strings
    whose lengths differ by ``cutoff`` or more are at least that far apart, and so are
    strings whose characters differ by that much (:func:`_apart`). A store's first
    analysis compared 7.2 million email pairs of near lengths, of which 4,283 were
    closer than the cutoff: rapidfuzz took 5.6 s over all of them.
    """
    lengths = vocab.lengths()
    out = np.full(len(a), cutoff, np.int64)
    near = np.flatnonzero(np.abs(lengths[a] - lengths[b]) < cutoff)
    if len(near):
        near = near[_apart(vocab, a[near], b[near]) < cutoff]
    if len(near):
        distances = cpdist(
            vocab.array(a[near]),
            vocab.array(b[near]),
            scorer=DamerauLevenshtein.distance,
            score_cutoff=cutoff,
            dtype=np.int32,
            workers=1,
        )
        out[near] = np.minimum(np.asarray(distances, np.int64), cutoff)
    return out


# Pairs bounded at once: two gathers of COUNT_BUCKETS bytes a pair.
_APART_SLICE = 50_000


def _apart(vocab: Vocab, a: IntArray, b: IntArray) -> IntArray:
    """A lower bound on each pair's Damerau-Levenshtein distance, from the characters
    one string has beyond the other (as multisets).

    An insertion, a deletion or a substitution changes those surpluses by at most one,
    and a transposition not at all, so the larger surplus is at most the distance. By
    buckets of characters (:meth:`~.prepared.Vocab.character_counts`) it can only be
    smaller. With ``s`` the sum of the per-bucket differences and ``d`` the difference
    of the lengths, the larger surplus is ``(s + d) / 2``; a count capped at 255 can
    only make ``s`` smaller, so the bound holds for any string."""
    counts, lengths = vocab.character_counts(), vocab.lengths()
    apart = np.abs(lengths[a] - lengths[b])
    for at in range(0, len(a), _APART_SLICE):
        part = slice(at, at + _APART_SLICE)
        ca, cb = counts[a[part]], counts[b[part]]
        apart[part] += (np.maximum(ca, cb) - np.minimum(ca, cb)).sum(axis=1, dtype=np.int64)
    bound: IntArray = apart // 2
    return bound


def _unique_inverse(values: IntArray) -> tuple[IntArray, IntArray]:
    """Sorted distinct values and, per value, its index among them."""
    order = np.argsort(values, kind="stable")
    ordered = values[order]
    first = np.r_[True, ordered[1:] != ordered[:-1]]
    inverse = np.empty(len(values), np.int64)
    inverse[order] = np.cumsum(first) - 1
    return ordered[first], inverse


def _name_levels(
    ids_a: IntArray,
    ids_b: IntArray,
    vocab: Vocab,
    fuzzy: Callable[[IntArray, IntArray], IntArray],
    top: int,
) -> LevelArray:
    """Levels for a name column: 0 missing, ``top`` equal, else ``fuzzy`` on distinct pairs."""
    levels = np.ones(len(ids_a), np.int8)
    other = (ids_a != ids_b) & (ids_a != 0) & (ids_b != 0)
    if other.any():
        size = len(vocab.values)
        lo = np.minimum(ids_a[other], ids_b[other])
        hi = np.maximum(ids_a[other], ids_b[other])
        unique, inverse = _unique_inverse(lo * size + hi)
        levels[other] = fuzzy(unique // size, unique % size)[inverse]
    levels[ids_a == ids_b] = top
    levels[(ids_a == 0) | (ids_b == 0)] = 0
    return levels


def _explode(off: IntArray, i: IntArray, j: IntArray) -> tuple[IntArray, IntArray, IntArray]:
    """Every (value of i, value of j) combination per pair, as positions in the flat
    value array: the count per pair, then the two position columns."""
    count_a = off[i + 1] - off[i]
    count_b = off[j + 1] - off[j]
    combos = count_a * count_b
    total = int(combos.sum())
    start = np.cumsum(combos) - combos
    within = np.arange(total, dtype=np.int64) - np.repeat(start, combos)
    per_b = np.maximum(np.repeat(count_b, combos), 1)
    at_a = np.repeat(off[i], combos) + within // per_b
    at_b = np.repeat(off[j], combos) + within % per_b
    return combos, at_a, at_b


def _best_per_pair(combos: IntArray, row_levels: LevelArray) -> LevelArray:
    levels = np.zeros(len(combos), np.int8)
    present = combos > 0
    if present.any():
        starts = (np.cumsum(combos) - combos)[present]
        levels[present] = np.maximum.reduceat(row_levels, starts)
    return levels


# Pairs compared per slice: the intermediate columns (value combinations, the strings
# handed to rapidfuzz) take about 200 bytes a pair, so a store whose blocking yields
# millions of candidates stays within tens of megabytes instead of growing by hundreds.
_SLICE = 200_000


def compare_columns(prep: Prepared, i: IntArray, j: IntArray) -> LevelArray:
    """``compare`` for many pairs at once: an array of shape (pairs, fields)."""
    if len(i) <= _SLICE:
        return _compare_slice(prep, i, j)
    return np.concatenate(
        [
            _compare_slice(prep, i[at : at + _SLICE], j[at : at + _SLICE])
            for at in range(0, len(i), _SLICE)
        ]
    )


def _compare_slice(prep: Prepared, i: IntArray, j: IntArray) -> LevelArray:
    out = np.zeros((len(i), len(FIELDS)), np.int8)
    if len(i) == 0:
        return out

    def first_fuzzy(a: IntArray, b: IntArray) -> IntArray:
        size = len(prep.first.values)
        nickname = np.isin(a * size + b, prep.nickname_codes)
        similar = _similar(prep.first.array(a), prep.first.array(b), NAME_SIMILAR)
        initial = ((prep.first_len[a] == 1) | (prep.first_len[b] == 1)) & (
            prep.first_initial[a] == prep.first_initial[b]
        )
        return np.where(nickname, 4, np.where(similar, 3, np.where(initial, 2, 1)))

    def last_fuzzy(a: IntArray, b: IntArray) -> IntArray:
        similar = _similar(prep.last.array(a), prep.last.array(b), NAME_SIMILAR)
        return np.where(similar, 2, 1)

    out[:, FIRST] = _name_levels(prep.first_id[i], prep.first_id[j], prep.first, first_fuzzy, 5)
    out[:, LAST] = _name_levels(prep.last_id[i], prep.last_id[j], prep.last, last_fuzzy, 3)

    combos, at_a, at_b = _explode(prep.email_off, i, j)
    ea, eb = prep.email_flat[at_a], prep.email_flat[at_b]
    rows = np.where(ea == eb, 4, 0).astype(np.int8)
    rest = np.flatnonzero(rows == 0)
    if len(rest):
        a_ids, b_ids = ea[rest], eb[rest]
        local_a, local_b = prep.email_local[a_ids], prep.email_local[b_ids]
        edits = _edits(prep.email, a_ids, b_ids, 3)
        shorter = np.minimum(prep.local_len[local_a], prep.local_len[local_b])
        typo = (edits <= 1) | ((edits == 2) & (shorter >= TWO_TYPOS_MIN_LOCAL))
        named_a, named_b = prep.email_named(at_a[rest]), prep.email_named(at_b[rest])
        named = named_a & named_b
        close = typo | (local_a == local_b)
        # One edit apart, the same digits, other letters. An email's digits and letters
        # are worked out only for such pairs: of a first analysis' 8.6 million differing
        # email pairs, 4,283 were even within three edits.
        letter_typo = edits <= 1
        one = np.flatnonzero(letter_typo)
        if len(one):
            one_a, one_b = a_ids[one], b_ids[one]
            letter_typo[one] = (prep.email_digits(one_a) == prep.email_digits(one_b)) & (
                prep.email_bare(one_a) != prep.email_bare(one_b)
            )
        levels = np.where(named, np.where(letter_typo, 3, 0), np.where(close, 3, 1))
        unsure = np.flatnonzero(~named & ~close)  # similar local parts, or different
        similar = _similar(
            prep.local.array(local_a[unsure]), prep.local.array(local_b[unsure]), LOCAL_SIMILAR
        )
        # Alike local parts where one is made of names: the names again (levels._email_level).
        levels[unsure[similar]] = np.where((named_a | named_b)[unsure[similar]], 0, 2)
        rows[rest] = levels
    out[:, EMAIL] = _best_per_pair(combos, rows)

    combos, at_a, at_b = _explode(prep.phone_off, i, j)
    pa, pb = prep.phone_flat[at_a], prep.phone_flat[at_b]
    rows = np.where(pa == pb, 3, 0).astype(np.int8)
    rows[(rows == 0) & (prep.phone_tail[pa] == prep.phone_tail[pb])] = 2
    rest = np.flatnonzero(rows == 0)
    if len(rest):
        edits = _edits(prep.phone, pa[rest], pb[rest], 2)
        rows[rest] = np.where(edits <= 1, 2, 1)
    out[:, PHONE] = _best_per_pair(combos, rows)

    post_a, post_b = prep.post_id[i], prep.post_id[j]
    street_a, street_b = prep.street_id[i], prep.street_id[j]
    address = np.where(
        post_a == post_b, np.where((street_a == street_b) & (street_a != 0), 3, 2), 1
    )
    address[(post_a == 0) | (post_b == 0)] = 0
    out[:, ADDRESS] = address

    birth_a, birth_b = prep.birth_id[i], prep.birth_id[j]
    birth = np.where(birth_a == birth_b, 2, 1)
    birth[(birth_a == 0) | (birth_b == 0)] = 0
    out[:, BIRTH] = birth
    married = (out[:, LAST] == 1) & (out[:, FIRST] >= 4) & (out[:, ADDRESS] == 3)
    out[married, LAST] = 0  # levels.new_surname
    return out

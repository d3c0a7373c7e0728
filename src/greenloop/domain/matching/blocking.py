"""Blocking: which pairs of records are compared at all.

Only pairs sharing a blocking key (``BLOCKING_KEYS``) are compared, and a key held by
more than ``max_block`` records is skipped as no evidence; a kind of key that would
still yield more than ``PAIRS_PER_RECORD`` pairs a record keeps its smallest blocks
only. Both keep matching near-linear in the number of records.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import numpy as np
import numpy.typing as npt

from greenloop.domain.matching.fields import IntArray
from greenloop.domain.matching.prepared import Prepared
from greenloop.domain.matching.records import MatchRecord
from greenloop.domain.nicknames import nickname_groups

__all__ = ["BLOCKING_KEYS", "candidate_columns", "candidate_pairs"]

# Blocking keys, each a pair of non-zero ids. A record may hold several keys of one kind
# (two emails, a name in two nickname groups).
BLOCKING_KEYS: tuple[str, ...] = (
    "last name + first initial",
    "first name + Soundex code of the last name (smith, smyth, smtih)",
    "last name + nickname group of the first name",
    "email local part",
    "email local part + letters of the domain, sorted (catches gmial.com)",
    "email domain + letters of the local part, sorted (catches swapped letters)",
    "phone, last 7 digits",
    "postcode + house number (any names at one address: married, nickname, typo)",
    "first name + postcode",
)


def _block_entries(prep: Prepared) -> Iterable[tuple[IntArray, IntArray, IntArray]]:
    """(record, id a, id b) columns per kind of blocking key, in ``BLOCKING_KEYS`` order."""
    records = np.arange(prep.n, dtype=np.int64)
    first_initial = prep.first_initial[prep.first_id]
    yield records, prep.last_id, first_initial
    yield records, prep.first_id, prep.last_soundex[prep.last_id]

    group_rec: list[int] = []
    group_no: list[int] = []
    names = prep.first.values
    grouped = {k: sorted(nickname_groups(v)) for k, v in enumerate(names) if nickname_groups(v)}
    for record, name_id in enumerate(prep.first_id.tolist()):
        for group in grouped.get(name_id, ()):
            group_rec.append(record)
            group_no.append(group + 1)
    group_records = np.array(group_rec, np.int64)
    yield group_records, prep.last_id[group_records], np.array(group_no, np.int64)

    email_records = np.repeat(records, np.diff(prep.email_off))
    flat = prep.email_flat
    local = prep.email_local[flat]
    yield email_records, local, np.ones(len(flat), np.int64)
    yield email_records, local, prep.email_domain_sorted[flat]
    yield email_records, prep.email_domain[flat], prep.email_local_sorted[flat]

    phone_records = np.repeat(records, np.diff(prep.phone_off))
    yield phone_records, prep.phone_tail[prep.phone_flat], np.ones(len(prep.phone_flat), np.int64)
    yield records, prep.post_id, prep.house_id
    yield records, prep.first_id, prep.post_id


def _sorted_unique(values: IntArray) -> IntArray:
    """``np.unique`` by sorting (numpy's hashing unique is slower on millions of ints)."""
    ordered = np.sort(values)
    if len(ordered) == 0:
        return ordered
    unique: IntArray = ordered[np.r_[True, ordered[1:] != ordered[:-1]]]
    return unique


# Pairs one kind of key may yield, per record. A store whose names come from a small
# pool (a town of Nguyens, a synthetic benchmark) makes "last name + first initial"
# blocks of a hundred, each a few thousand pairs, and comparing grows with the square of
# the store. Past this budget a kind keeps its smallest blocks only: the larger the
# block, the less sharing its key says. A varied store's kinds stay far below it (20,000
# generated profiles: at most 4.6 pairs a record, from last name + first initial).
PAIRS_PER_RECORD = 8


def _within_budget(sizes: IntArray, budget: int) -> int:
    """The largest block size whose blocks, with all smaller ones, fit the pair budget."""
    pairs = sizes * (sizes - 1) // 2
    order = np.argsort(sizes, kind="stable")
    total = np.cumsum(pairs[order])
    if total[-1] <= budget:
        return int(sizes.max())
    ordered = sizes[order]
    dropped = ordered[np.searchsorted(total, budget, side="right")]
    kept = ordered[ordered < dropped]  # a size either fits whole or goes whole
    return int(kept[-1]) if len(kept) else 0


def candidate_columns(
    prep: Prepared,
    max_block: int,
    pairs_per_record: int = PAIRS_PER_RECORD,
    touching: npt.NDArray[np.bool_] | None = None,
) -> tuple[IntArray, IntArray]:
    """Candidate pairs as two index columns, i < j, sorted, each pair once.

    ``touching`` (a flag per record): only the pairs with a flagged record. Which blocks
    are kept is still decided over every block, so these are exactly the full set's
    pairs that touch a flagged record; only blocks holding one are expanded (after a
    day's change, a few hundred of the millions of pairs)."""
    n = prep.n
    budget = max(50_000, pairs_per_record * n)
    pair_codes: list[IntArray] = [np.zeros(0, np.int64)]
    for rec, key_a, key_b in _block_entries(prep):
        keep = (key_a != 0) & (key_b != 0)
        if keep.sum() < 2:
            continue
        key = key_a[keep] * (int(key_b[keep].max()) + 1) + key_b[keep]
        order = np.argsort(key, kind="stable")
        key, members_of = key[order], rec[keep][order]
        starts = np.flatnonzero(np.r_[True, key[1:] != key[:-1]])
        sizes = np.diff(np.r_[starts, len(key)])
        wanted = (sizes >= 2) & (sizes <= max_block)
        starts, sizes = starts[wanted], sizes[wanted]
        if len(sizes) == 0:
            continue
        fits = sizes <= _within_budget(sizes, budget)
        starts, sizes = starts[fits], sizes[fits]
        if len(sizes) == 0:
            continue
        if touching is not None:
            flagged = np.cumsum(np.r_[0, touching[members_of]])
            held = flagged[starts + sizes] > flagged[starts]
            starts, sizes = starts[held], sizes[held]
            if len(sizes) == 0:
                continue
        by_size = np.argsort(sizes, kind="stable")
        starts, sizes = starts[by_size], sizes[by_size]
        bounds = np.flatnonzero(np.r_[True, sizes[1:] != sizes[:-1], True])
        for lo, hi in zip(bounds[:-1].tolist(), bounds[1:].tolist(), strict=True):
            size = int(sizes[lo])
            members = members_of[starts[lo:hi, None] + np.arange(size)]
            left, right = np.triu_indices(size, 1)
            a, b = members[:, left].ravel(), members[:, right].ravel()
            distinct = a != b  # one record can hold a key twice (two emails)
            if touching is not None:
                distinct &= touching[a] | touching[b]
            a, b = a[distinct], b[distinct]
            pair_codes.append(np.minimum(a, b) * n + np.maximum(a, b))
    unique = _sorted_unique(np.concatenate(pair_codes))
    return unique // max(n, 1), unique % max(n, 1)


def candidate_pairs(
    records: Sequence[MatchRecord], *, max_block: int = 200
) -> list[tuple[int, int]]:
    """Index pairs ``(i, j)``, ``i < j``, sharing at least one blocking key, sorted.

    A key held by more than ``max_block`` records (a surname half the town shares, a
    building's postcode and a common initial) is skipped: it is no evidence, and comparing
    all its pairs would be quadratic.
    """
    i, j = candidate_columns(Prepared(records), max_block)
    return list(zip(i.tolist(), j.tolist(), strict=True))

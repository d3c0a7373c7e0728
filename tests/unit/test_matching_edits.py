"""The edit distances of many pairs at once (``matching.columns._edits``): a cheap lower
bound leaves most pairs out before rapidfuzz, and must never change a distance; and the
email levels that rest on them, which the column path works out only for the pairs
close enough to need them."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import example, given
from hypothesis import strategies as st
from rapidfuzz.distance import DamerauLevenshtein

from greenloop.domain.matching import MatchRecord, compare
from greenloop.domain.matching.columns import _apart, _edits, compare_columns
from greenloop.domain.matching.fields import EMAIL
from greenloop.domain.matching.prepared import COUNT_BUCKETS, Prepared, Vocab

# Letters sharing a bucket (code points 16 apart) and ones outside ASCII, a surrogate too.
_ALPHABET = "abqr01@.é\u4e2d\ud800" + chr(ord("a") + COUNT_BUCKETS)


def _columns(pairs: list[tuple[str, str]]) -> tuple[Vocab, np.ndarray, np.ndarray]:
    vocab = Vocab()
    a = vocab.column([x for x, _ in pairs])
    b = vocab.column([y for _, y in pairs])
    return vocab, a, b


@given(
    st.lists(
        st.tuples(st.text(_ALPHABET, max_size=9), st.text(_ALPHABET, max_size=9)), max_size=40
    ),
    st.integers(1, 4),
)
@example([("a" * 300, "a" * 299 + "b"), ("a" * 300, "b" * 300)], 3)  # counts capped at 255
@example([("anna.smith@mail.com", "anna.simth@mail.com"), ("ann@x.com", "nan@x.com")], 3)
def test_edits_are_rapidfuzz_distances_up_to_the_cutoff(
    pairs: list[tuple[str, str]], cutoff: int
) -> None:
    vocab, a, b = _columns(pairs)
    expected = [min(DamerauLevenshtein.distance(x, y), cutoff) for x, y in pairs]
    assert _edits(vocab, a, b, cutoff).tolist() == expected
    bounds = _apart(vocab, a, b).tolist()
    assert all(
        bound <= DamerauLevenshtein.distance(x, y)
        for bound, (x, y) in zip(bounds, pairs, strict=True)
    )


def test_the_bound_leaves_out_pairs_of_equal_length_and_other_letters() -> None:
    vocab, a, b = _columns([("abcdef@x.com", "ghijkl@x.com"), ("abcdef@x.com", "abcdfe@x.com")])
    assert _apart(vocab, a, b).tolist() == [6, 0]


@pytest.mark.parametrize(
    ("first", "second"),
    [
        # Name-shaped on both sides: one edit and the same digits is a typo (3) only
        # when more than a separator differs; other digits are two people (0).
        (("Anna", "Smith", "anna.smith@x.com"), ("Anna", "Smith", "anna_smith@x.com")),
        (("Anna", "Smith", "anna.smith@x.com"), ("Anna", "Smyth", "anna.smyth@x.com")),
        (("Anna", "Smith", "asmith82@x.com"), ("Anna", "Smith", "asmith83@x.com")),
        # Not name-shaped: one edit is close whatever the digits.
        (("Anna", "Smith", "ladybug7@x.com"), ("Anna", "Smith", "ladybug8@x.com")),
        (("Anna", "Smith", "ladybug@x.com"), ("Anna", "Smith", "ladybgu@x.com")),
    ],
)
def test_the_column_path_gives_compares_email_level(
    first: tuple[str, str, str], second: tuple[str, str, str]
) -> None:
    records = [
        MatchRecord(f"customer:{n}", given, last, (email,), ())
        for n, (given, last, email) in enumerate((first, second))
    ]
    levels = compare_columns(Prepared(records), np.array([0]), np.array([1]))
    assert levels[0, EMAIL] == compare(records[0], records[1])[EMAIL]

"""The edit distances of many pairs at once (``matching.columns._edits``): a cheap lower
bound leaves most pairs out before rapidfuzz, and must never change a distance."""

from __future__ import annotations

import numpy as np
from hypothesis import example, given
from hypothesis import strategies as st
from rapidfuzz.distance import DamerauLevenshtein

from greenloop.domain.matching.columns import _apart, _edits
from greenloop.domain.matching.prepared import COUNT_BUCKETS, Vocab

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

"""The columnar reader's finished order numbers, as fingerprints, answer as a set of the
numbers themselves would: the first repeated number of a block, and membership for
the row path that takes over."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from greenloop.ecom.seen_orders import SeenOrders

numbers = st.lists(st.sampled_from(["", "1001", "1002", "1003", "#77", " 9", "10000001"]))


def first_repeat_of_a_set(finished: set[str], block: list[str]) -> int:
    """What the reader computed with a set of strings."""
    seen = set(finished)
    for position, number in enumerate(block):
        if number and number in seen:
            return position
        seen.add(number)
    return len(block)


@given(st.lists(numbers, max_size=6), st.lists(st.sampled_from(["1001", "#77", "5"])))
def test_blocks_and_single_numbers_answer_as_a_set_does(
    blocks: list[list[str]], singles: list[str]
) -> None:
    finished: set[str] = set()
    seen = SeenOrders()
    for block in blocks:
        stop = seen.first_repeat(block)
        assert stop == first_repeat_of_a_set(finished, block)
        seen.add_all(block[:stop])
        finished.update(block[:stop])
    for number in singles:  # the row path, after the columnar reader stopped
        assert (number in seen) == (number in finished)
        seen.add(number)
        finished.add(number)
    for block in blocks:
        assert seen.first_repeat(block) == first_repeat_of_a_set(finished, block)
        for number in block:
            assert (number in seen) == (number in finished)


def test_a_large_read_keeps_every_number_it_finished() -> None:
    seen = SeenOrders()
    for start in range(0, 500_000, 4_000):
        block = [str(10_000_000 - n) for n in range(start, start + 4_000)]
        assert seen.first_repeat(block) == len(block)
        seen.add_all(block)
    assert len(seen) == 500_000
    assert seen.first_repeat(["1", "2", str(10_000_000 - 123_456)]) == 2
    assert "9500001" in seen
    assert "9500000" not in seen
    assert 9500001 not in seen  # type: ignore[operator]

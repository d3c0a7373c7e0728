"""The order numbers a columnar read has finished, kept as 64-bit fingerprints.

The reader asks one question of them: did this order number come before? (Then the
export lists one order in two places, and the file is read again grouped in memory.) A
1M-row export has 500,000 orders, and their numbers as a set of strings held about
45 MB of the reading process (the strings and the set's table) to answer it; their
hashes in one sorted numpy array hold 4 MB.

Two different numbers with the same 64-bit hash (odds of about 1 in 10^8 for 500,000
orders) look like a repeated order: the file is then read again in memory, slower but
with the same orders, so a false "seen" never changes what is imported. The hashes are
Python's own string hashes: salted per process, but the whole read happens in one.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import numpy.typing as npt

__all__ = ["SeenOrders"]

Hashes = npt.NDArray[np.int64]


class SeenOrders:
    """Order numbers seen so far: many at a time (:meth:`first_repeat`,
    :meth:`add_all`) for the columnar reader, one at a time (``in``, :meth:`add`) for
    the row path when it takes over."""

    def __init__(self) -> None:
        self._sorted: Hashes = np.empty(0, dtype=np.int64)
        self._singles: set[int] = set()  # added one at a time by the row path

    def __len__(self) -> int:
        return len(self._sorted) + len(self._singles)

    def __contains__(self, number: object) -> bool:
        if not isinstance(number, str):
            return False
        value = hash(number)
        return value in self._singles or bool(self._known(np.array([value], np.int64))[0])

    def add(self, number: str) -> None:
        self._singles.add(hash(number))

    def first_repeat(self, numbers: Sequence[str]) -> int:
        """The position of the first non-empty number seen before, or earlier in
        ``numbers``; ``len(numbers)`` when there is none."""
        hashes = _hashes(numbers)
        repeated = self._known(hashes)
        if len(hashes) > 1:
            order = np.argsort(hashes, kind="stable")
            ranked = hashes[order]
            # Stable: of equal hashes, every one after the first in list order.
            repeated[order[1:][ranked[1:] == ranked[:-1]]] = True
        if self._singles:
            repeated |= np.fromiter(
                (int(h) in self._singles for h in hashes), dtype=bool, count=len(hashes)
            )
        if repeated.any():
            repeated &= np.fromiter((n != "" for n in numbers), dtype=bool, count=len(numbers))
        found = np.flatnonzero(repeated)
        return int(found[0]) if found.size else len(numbers)

    def add_all(self, numbers: Sequence[str]) -> None:
        if not numbers:
            return
        merged = np.concatenate([self._sorted, np.sort(_hashes(numbers))])
        # Two sorted runs: a stable sort of int64 (timsort) merges them in linear time.
        self._sorted = np.sort(merged, kind="stable")

    def _known(self, hashes: Hashes) -> npt.NDArray[np.bool_]:
        known = self._sorted
        if not known.size:
            return np.zeros(len(hashes), dtype=bool)
        at = np.searchsorted(known, hashes)
        np.minimum(at, known.size - 1, out=at)
        found: npt.NDArray[np.bool_] = known[at] == hashes
        return found


def _hashes(numbers: Sequence[str]) -> Hashes:
    return np.fromiter(map(hash, numbers), dtype=np.int64, count=len(numbers))

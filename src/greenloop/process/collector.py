"""How the big batch jobs keep Python's cyclic garbage collector out of their way.

A full analysis or an eCom import allocates millions of small objects (tuples, rows,
Decimals) and makes almost no reference cycles. The collector still starts a pass every
700 allocations, and its full passes scan every live object: at 200,000 persons that
was a third of a full analysis' time (58 s with it, 41 s without, the same peak memory).

Either policy is process-wide and nests: the collector is back to normal when the last
job using it ends, whichever thread it ran on.
"""

from __future__ import annotations

import gc
import threading
from collections.abc import Iterator
from contextlib import contextmanager

__all__ = ["collector_paused", "rare_collections"]

_lock = threading.Lock()
_paused = 0
_was_enabled = True
_rare: list[tuple[int, int, int]] = []  # the thresholds saved, one per job running


@contextmanager
def collector_paused() -> Iterator[None]:
    """No collections at all until the job ends: for jobs whose objects all die at the
    end (a full analysis), so nothing waits for a collection meanwhile."""
    global _paused, _was_enabled
    with _lock:
        if _paused == 0:
            _was_enabled = gc.isenabled()
            gc.disable()
        _paused += 1
    try:
        yield
    finally:
        with _lock:
            _paused -= 1
            if _paused == 0 and _was_enabled:
                gc.enable()


@contextmanager
def rare_collections() -> Iterator[None]:
    """Objects alive now frozen out of the collector and the first threshold raised:
    for streaming jobs (an import) that allocate a few objects per row and keep few."""
    with _lock:
        if not _rare:
            gc.freeze()
            threshold = gc.get_threshold()
            gc.set_threshold(50_000, *threshold[1:])
        else:
            threshold = _rare[0]
        _rare.append(threshold)
    try:
        yield
    finally:
        with _lock:
            _rare.pop()
            if not _rare:
                gc.set_threshold(*threshold)
                gc.unfreeze()

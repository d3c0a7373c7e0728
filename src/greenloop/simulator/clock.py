"""The simulator's notion of "now": a time source plus an offset that tests can move."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime

__all__ = ["Clock", "iso"]


class Clock:
    """Wall-clock time shifted by an adjustable offset.

    Every timestamp the simulator writes and the rate-limit window read this clock,
    so advancing it (``POST /_sim/clock``) ages objects and expires windows without
    waiting. Pass a fixed ``source`` to freeze time in tests.
    """

    def __init__(self, source: Callable[[], float] = time.time, offset: float = 0.0) -> None:
        self._source = source
        self._offset = offset
        self._lock = threading.Lock()

    @property
    def offset(self) -> float:
        return self._offset

    def time(self) -> float:
        """Seconds since the epoch, as the simulator sees it."""
        return self._source() + self._offset

    def now(self) -> datetime:
        return datetime.fromtimestamp(self.time(), UTC)

    def advance(self, seconds: float) -> None:
        with self._lock:
            self._offset += seconds


def iso(moment: datetime) -> str:
    """The 2.0 API's timestamp form, e.g. ``2014-09-18T01:37:56+00:00`` (reference §1)."""
    return moment.astimezone(UTC).isoformat(timespec="seconds")

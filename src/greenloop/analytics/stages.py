"""Where a full analysis spends its time, stage by stage, for its report and run log."""

from __future__ import annotations

import time

__all__ = ["StageClock"]


class StageClock:
    """Seconds per named stage, each stage running from the last mark to the next."""

    def __init__(self) -> None:
        self._last = time.perf_counter()
        self.seconds: dict[str, float] = {}

    def mark(self, stage: str) -> None:
        now = time.perf_counter()
        self.seconds[stage] = round(now - self._last, 3)
        self._last = now

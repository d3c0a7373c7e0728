"""The X-Series rate limit: a request budget per token and time window.

Documented (reference §9): 300 x (number of registers) + 50 requests per 300-second
window, ``X-RateLimit-Limit`` / ``X-RateLimit-Remaining`` on every response, and a
429 with ``Retry-After`` as an RFC 1123 HTTP-date when the budget is spent.

Not documented, so chosen here [INF]: a fixed window that opens at the first request
after the previous one ended (so a test's window never rolls over by accident), one
bucket per token (the current docs keep a bucket per retailer per application), and
refused requests do not spend budget.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import format_datetime

from greenloop.simulator.clock import Clock

__all__ = ["RateDecision", "RateLimiter", "documented_limit", "http_date"]


def documented_limit(registers: int) -> int:
    """Requests per window for a retailer with this many registers (reference §9)."""
    return 300 * registers + 50


def http_date(epoch_seconds: float) -> str:
    """RFC 1123 date, rounded up to the next whole second so a client that waits until
    then is never early."""
    moment = datetime.fromtimestamp(math.ceil(epoch_seconds), UTC)
    return format_datetime(moment, usegmt=True)


@dataclass(frozen=True)
class RateDecision:
    allowed: bool
    limit: int
    remaining: int
    resets_at: float

    def headers(self) -> dict[str, str]:
        return {"X-RateLimit-Limit": str(self.limit), "X-RateLimit-Remaining": str(self.remaining)}

    def retry_after(self) -> str:
        return http_date(self.resets_at)


@dataclass
class _Window:
    start: float
    used: int


class RateLimiter:
    """Counts requests per key in fixed windows read from ``clock``.

    ``limit=None`` means the documented formula, evaluated on every request through
    ``default_limit`` (so deleting a register changes the budget, as it would live).
    """

    def __init__(
        self,
        clock: Clock,
        *,
        limit: int | None,
        window_seconds: float,
        default_limit: Callable[[], int],
    ) -> None:
        self._clock = clock
        self._limit = limit
        self._window_seconds = window_seconds
        self._default_limit = default_limit
        self._windows: dict[str, _Window] = {}
        self._lock = threading.Lock()

    @property
    def limit(self) -> int:
        return self._limit if self._limit is not None else self._default_limit()

    @property
    def window_seconds(self) -> float:
        return self._window_seconds

    @property
    def uses_documented_limit(self) -> bool:
        return self._limit is None

    def set_limit(self, limit: int | None) -> None:
        if limit is not None and limit < 0:
            raise ValueError("limit cannot be negative")
        self._limit = limit

    def set_window(self, seconds: float) -> None:
        if seconds <= 0:
            raise ValueError("window_seconds must be positive")
        self._window_seconds = seconds

    def check(self, key: str) -> RateDecision:
        """Spend one request from ``key``'s budget if any is left."""
        return self._decide(key, spend=True)

    def peek(self, key: str) -> RateDecision:
        """The budget as it stands, spending nothing."""
        return self._decide(key, spend=False)

    def set_remaining(self, key: str, remaining: int) -> RateDecision:
        """Pretend the current window has already been spent down to ``remaining``."""
        with self._lock:
            limit = self.limit
            window = self._current(key)
            window.used = max(0, limit - max(0, remaining))
        return self.peek(key)

    def reset(self) -> None:
        with self._lock:
            self._windows.clear()

    def _decide(self, key: str, *, spend: bool) -> RateDecision:
        with self._lock:
            limit = self.limit
            window = self._current(key)
            allowed = window.used < limit
            if allowed and spend:
                window.used += 1
            return RateDecision(
                allowed=allowed,
                limit=limit,
                remaining=max(0, limit - window.used),
                resets_at=window.start + self._window_seconds,
            )

    def _current(self, key: str) -> _Window:
        now = self._clock.time()
        window = self._windows.get(key)
        if window is None or now >= window.start + self._window_seconds:
            window = _Window(start=now, used=0)
            self._windows[key] = window
        return window

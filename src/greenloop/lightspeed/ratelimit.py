"""The X-Series rate budget: pure bookkeeping with an injected clock and sleep.

Lightspeed allows 300 × registers + 50 requests per 5-minute window per retailer and
application, reports ``X-RateLimit-Limit`` / ``X-RateLimit-Remaining`` on every response,
and answers 429 with ``Retry-After`` as an HTTP-date
(https://x-series-api.lightspeedhq.com/docs/rate_limiting). It does not say whether the
window is fixed or sliding, nor send a reset time, so the budget estimates the refill
conservatively: a spent budget is assumed to refill one window after the first request
sent since the last refill was observed. That is exact for a fixed window (the refill
happens at most one window after any request inside it) and early-safe for a sliding one.

One budget is shared by every caller that talks to the same retailer (sync, webhook
worker, push), so the composition root creates it once and passes it to each client.

A caller may bound its patience: ``acquire(max_wait=…)`` raises
:class:`~greenloop.errors.RateLimitWaitExceeded` instead of sleeping when the budget
has been stalled (no request answered since waiting began) for longer than that, or a
single wait would go past it. Any answered request ends the stall, so a run that waits
out one window after another while making progress is never stopped; one whose budget
never comes back (another app spending it all, a 429 after every refill) is.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime

from greenloop.errors import RateLimitWaitExceeded

__all__ = ["RateBudget", "RateLimit", "parse_retry_after"]


@dataclass(frozen=True, slots=True)
class RateLimit:
    """What one response said about the budget."""

    limit: int
    remaining: int

    @classmethod
    def from_headers(cls, headers: Mapping[str, str]) -> RateLimit | None:
        limit, remaining = headers.get("x-ratelimit-limit"), headers.get("x-ratelimit-remaining")
        if limit is None or remaining is None:
            return None
        try:
            return cls(limit=int(limit), remaining=max(0, int(remaining)))
        except ValueError:
            return None


def parse_retry_after(value: str | None, now: datetime) -> datetime | None:
    """``Retry-After`` as a UTC datetime. Lightspeed sends an HTTP-date; accept seconds too."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return now + timedelta(seconds=int(value))
    try:
        parsed = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC)


class RateBudget:
    """Decides when the next request may be sent. Thread-safe.

    ``acquire()`` blocks (through the injected ``sleep``) until a request may go and
    reserves it; ``observe()`` takes the headers of each response; ``defer_until()``
    takes a 429's ``Retry-After``. Time comes from ``clock`` (UTC-aware datetimes).
    """

    def __init__(
        self,
        *,
        window_seconds: float = 300.0,
        clock: Callable[[], datetime] | None = None,
        sleep: Callable[[float], None] = time.sleep,
        margin_seconds: float = 0.5,
    ) -> None:
        self.window = timedelta(seconds=window_seconds)
        self._clock = clock or (lambda: datetime.now(UTC))
        self._sleep = sleep
        self._margin = timedelta(seconds=margin_seconds)
        self._lock = threading.Lock()
        self.limit: int | None = None
        self.remaining: int | None = None  # our estimate, after reservations
        self._epoch_start: datetime | None = None  # first send since the last observed refill
        self._blocked_until: datetime | None = None
        # When callers began waiting with no request answered since (None: not stalled).
        self._stalled_since: datetime | None = None
        self._in_flight = 0
        self.waited_seconds = 0.0
        self.requests_sent = 0

    def acquire(self, max_wait: float | None = None) -> None:
        """Wait until a request may be sent, then reserve it.

        With ``max_wait`` (seconds), raise :class:`RateLimitWaitExceeded` rather than
        wait past ``max_wait`` seconds of stall (see the module's docstring).
        """
        while True:
            with self._lock:
                now = self._clock()
                wait_until = self._wait_until(now)
                if wait_until is None:
                    if self.remaining is not None:
                        self.remaining -= 1
                    if self._epoch_start is None:
                        self._epoch_start = now
                    self._in_flight += 1
                    self.requests_sent += 1
                    return
                stalled_since = self._stalled_since or now
                if max_wait is not None:
                    _check_patience(stalled_since, now, wait_until, max_wait)
                self._stalled_since = stalled_since
                delay = (wait_until - now).total_seconds()
            self.waited_seconds += delay
            self._sleep(delay)

    def _wait_until(self, now: datetime) -> datetime | None:
        if self._blocked_until is not None:
            if now < self._blocked_until:
                return self._blocked_until
            self._blocked_until = None
            self._assume_refilled()
        if self.remaining is not None and self.remaining <= 0:
            refill = (self._epoch_start or now) + self.window + self._margin
            if now < refill:
                return refill
            self._assume_refilled()
        return None

    def _assume_refilled(self) -> None:
        # We do not know the new figure until a response tells us; allow one probe.
        self.remaining = None
        self._epoch_start = None

    def observe(self, rate: RateLimit | None) -> None:
        """Take the budget a response reported."""
        with self._lock:
            self._in_flight = max(0, self._in_flight - 1)
            self._stalled_since = None  # a request got through: the budget is moving
            if rate is None:
                return
            previous = self.remaining
            server_left = rate.remaining - self._in_flight
            if previous is not None and server_left > previous:
                # The budget went up: the window refilled since our last look.
                self._epoch_start = self._clock()
            self.limit = rate.limit
            self.remaining = server_left

    def release(self) -> None:
        """A reserved request was never answered (connection error)."""
        with self._lock:
            self._in_flight = max(0, self._in_flight - 1)

    def defer_until(self, when: datetime | None) -> None:
        """A 429 arrived: send nothing before ``when`` (or one window if it gave no time)."""
        with self._lock:
            self._in_flight = max(0, self._in_flight - 1)
            now = self._clock()
            target = when if when is not None else now + self.window
            if self._blocked_until is None or target > self._blocked_until:
                self._blocked_until = target
            self.remaining = 0
            if self._stalled_since is None:
                self._stalled_since = now

    def snapshot(self) -> dict[str, float | int | None]:
        with self._lock:
            return {
                "limit": self.limit,
                "remaining": self.remaining,
                "waited_seconds": round(self.waited_seconds, 3),
                "requests_sent": self.requests_sent,
            }


def _check_patience(
    stalled_since: datetime, now: datetime, wait_until: datetime, max_wait: float
) -> None:
    """Raise when waiting until ``wait_until`` would make the stall longer than allowed."""
    if (wait_until - stalled_since).total_seconds() <= max_wait:
        return
    limit = f"lightspeed.max_wait_seconds ({max_wait:g} s)"
    waited = (now - stalled_since).total_seconds()
    if (wait_until - now).total_seconds() > max_wait:
        message = (
            f"rate limit: the Lightspeed API budget is spent until {wait_until:%H:%M:%S} UTC "
            f"({(wait_until - now).total_seconds():.0f} s away), longer than {limit}"
        )
    else:
        message = (
            f"rate limit: the Lightspeed API budget stayed spent for {waited:.0f} s with no "
            f"request let through, and the next try is at {wait_until:%H:%M:%S} UTC; "
            f"stopped at {limit}"
        )
    raise RateLimitWaitExceeded(message, resume_at=wait_until)

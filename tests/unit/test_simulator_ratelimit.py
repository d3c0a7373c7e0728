"""The simulator's rate limiter, on a clock that only moves when told."""

from __future__ import annotations

from datetime import UTC, datetime
from email.utils import parsedate_to_datetime

import pytest

from greenloop.simulator.clock import Clock
from greenloop.simulator.ratelimit import RateLimiter, documented_limit, http_date

T0 = 1_767_225_600.0  # 2026-01-01T00:00:00Z


class FrozenTime:
    def __init__(self, now: float = T0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def _limiter(limit: int | None = 3, window: float = 300.0, registers: int = 1) -> RateLimiter:
    return RateLimiter(
        Clock(source=FrozenTime()),
        limit=limit,
        window_seconds=window,
        default_limit=lambda: documented_limit(registers),
    )


def test_the_documented_limit_is_300_per_register_plus_50() -> None:
    assert documented_limit(0) == 50
    assert documented_limit(1) == 350
    assert documented_limit(4) == 1250
    assert _limiter(limit=None, registers=2).limit == 650


def test_requests_spend_the_budget_and_refusals_spend_nothing() -> None:
    limiter = _limiter(limit=3)
    decisions = [limiter.check("t") for _ in range(5)]
    assert [d.allowed for d in decisions] == [True, True, True, False, False]
    assert [d.remaining for d in decisions] == [2, 1, 0, 0, 0]
    assert limiter.peek("t").remaining == 0


def test_the_window_reopens_when_the_clock_passes_its_end() -> None:
    clock = Clock(source=FrozenTime())
    limiter = RateLimiter(clock, limit=1, window_seconds=300, default_limit=lambda: 0)
    assert limiter.check("t").allowed
    refused = limiter.check("t")
    assert not refused.allowed
    assert refused.resets_at == T0 + 300
    clock.advance(299.9)
    assert not limiter.check("t").allowed
    clock.advance(0.1)
    reopened = limiter.check("t")
    assert reopened.allowed
    assert reopened.resets_at == T0 + 600


def test_retry_after_is_an_http_date_rounded_up_to_the_second() -> None:
    clock = Clock(source=FrozenTime(T0 + 0.4))
    limiter = RateLimiter(clock, limit=0, window_seconds=10, default_limit=lambda: 0)
    header = limiter.check("t").retry_after()
    assert header == "Thu, 01 Jan 2026 00:00:11 GMT"
    assert parsedate_to_datetime(header) == datetime(2026, 1, 1, 0, 0, 11, tzinfo=UTC)
    assert http_date(T0) == "Thu, 01 Jan 2026 00:00:00 GMT"


def test_each_token_has_its_own_bucket() -> None:
    limiter = _limiter(limit=1)
    assert limiter.check("a").allowed
    assert not limiter.check("a").allowed
    assert limiter.check("b").allowed


def test_remaining_can_be_pre_spent() -> None:
    limiter = _limiter(limit=10)
    assert limiter.set_remaining("t", 2).remaining == 2
    assert [limiter.check("t").allowed for _ in range(3)] == [True, True, False]
    limiter.set_remaining("t", 50)
    assert limiter.peek("t").remaining == 10


def test_the_default_limit_follows_the_store_as_it_changes() -> None:
    registers = [1]
    limiter = RateLimiter(
        Clock(source=FrozenTime()),
        limit=None,
        window_seconds=300,
        default_limit=lambda: documented_limit(registers[0]),
    )
    assert limiter.check("t").limit == 350
    registers[0] = 3
    assert limiter.check("t").remaining == 950 - 2
    limiter.set_limit(5)
    assert limiter.limit == 5
    assert not limiter.uses_documented_limit
    limiter.set_limit(None)
    assert limiter.uses_documented_limit


def test_a_lower_limit_mid_window_counts_what_was_spent() -> None:
    limiter = _limiter(limit=10)
    for _ in range(4):
        limiter.check("t")
    limiter.set_limit(3)
    decision = limiter.check("t")
    assert not decision.allowed
    assert decision.remaining == 0


def test_headers_and_reset() -> None:
    limiter = _limiter(limit=2)
    assert limiter.check("t").headers() == {
        "X-RateLimit-Limit": "2",
        "X-RateLimit-Remaining": "1",
    }
    limiter.reset()
    assert limiter.peek("t").remaining == 2


def test_nonsense_settings_are_refused() -> None:
    limiter = _limiter()
    with pytest.raises(ValueError, match="negative"):
        limiter.set_limit(-1)
    with pytest.raises(ValueError, match="positive"):
        limiter.set_window(0)


def test_a_shorter_window_applies_to_the_open_window() -> None:
    clock = Clock(source=FrozenTime())
    limiter = RateLimiter(clock, limit=1, window_seconds=300, default_limit=lambda: 0)
    limiter.check("t")
    limiter.set_window(5)
    clock.advance(5)
    assert limiter.check("t").allowed

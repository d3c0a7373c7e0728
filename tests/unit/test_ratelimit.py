from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from greenloop.lightspeed.ratelimit import RateBudget, RateLimit, parse_retry_after

T0 = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)


class FakeTime:
    def __init__(self) -> None:
        self.now = T0
        self.slept: list[float] = []

    def clock(self) -> datetime:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += timedelta(seconds=seconds)


def test_headers_parse_and_reject_garbage() -> None:
    assert RateLimit.from_headers({"x-ratelimit-limit": "350", "x-ratelimit-remaining": "7"}) == (
        RateLimit(350, 7)
    )
    assert RateLimit.from_headers({"x-ratelimit-limit": "350"}) is None
    assert RateLimit.from_headers({"x-ratelimit-limit": "a", "x-ratelimit-remaining": "1"}) is None


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("Wed, 15 Jul 2020 15:04:05 GMT", datetime(2020, 7, 15, 15, 4, 5, tzinfo=UTC)),
        ("30", T0 + timedelta(seconds=30)),
        ("", None),
        (None, None),
        ("not a date", None),
    ],
)
def test_retry_after_is_an_http_date_or_seconds(
    value: str | None, expected: datetime | None
) -> None:
    assert parse_retry_after(value, T0) == expected


def test_never_sends_while_known_spent_and_waits_one_window_from_epoch() -> None:
    ft = FakeTime()
    budget = RateBudget(window_seconds=10, clock=ft.clock, sleep=ft.sleep, margin_seconds=0)
    budget.acquire()
    budget.observe(RateLimit(3, 2))
    ft.now += timedelta(seconds=1)
    budget.acquire()
    budget.observe(RateLimit(3, 1))
    budget.acquire()
    budget.observe(RateLimit(3, 0))
    assert ft.slept == []
    # Spent: the next acquire must wait until one window after the first send.
    budget.acquire()
    assert ft.now == T0 + timedelta(seconds=10)
    assert ft.slept == [9.0]


def test_refill_seen_in_headers_restarts_the_epoch() -> None:
    ft = FakeTime()
    budget = RateBudget(window_seconds=10, clock=ft.clock, sleep=ft.sleep, margin_seconds=0)
    budget.acquire()
    budget.observe(RateLimit(3, 0))
    budget.acquire()  # waits out the window, then probes
    probe_sent = ft.now
    ft.now += timedelta(seconds=2)
    budget.observe(RateLimit(3, 2))  # refilled
    budget.acquire()
    budget.observe(RateLimit(3, 1))
    budget.acquire()
    budget.observe(RateLimit(3, 0))
    budget.acquire()
    # The refill happened before the probe was sent, so one window from the probe is safe.
    assert ft.now == probe_sent + timedelta(seconds=10)


def test_defer_until_blocks_until_retry_after() -> None:
    ft = FakeTime()
    budget = RateBudget(window_seconds=300, clock=ft.clock, sleep=ft.sleep)
    budget.acquire()
    budget.defer_until(T0 + timedelta(seconds=42))
    budget.acquire()
    assert ft.now == T0 + timedelta(seconds=42)
    assert budget.remaining is None  # one probe, then the headers say


def test_unknown_budget_does_not_block() -> None:
    ft = FakeTime()
    budget = RateBudget(clock=ft.clock, sleep=ft.sleep)
    for _ in range(100):
        budget.acquire()
        budget.observe(None)
    assert ft.slept == []

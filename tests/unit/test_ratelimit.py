from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from greenloop.errors import RateLimitWaitExceeded
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


# -- lightspeed.max_wait_seconds: a budget that never comes back ends the run --------


def test_a_single_retry_after_past_max_wait_stops_at_once_without_sleeping() -> None:
    ft = FakeTime()
    budget = RateBudget(window_seconds=300, clock=ft.clock, sleep=ft.sleep)
    budget.acquire()
    budget.defer_until(T0 + timedelta(hours=1))
    with pytest.raises(RateLimitWaitExceeded, match="spent until 13:00:00 UTC") as caught:
        budget.acquire(max_wait=900)
    assert ft.slept == []
    assert caught.value.resume_at == T0 + timedelta(hours=1)
    assert caught.value.exit_code == 3
    assert "max_wait_seconds (900 s)" in caught.value.one_line()


def test_short_waits_that_never_let_a_request_through_add_up_to_the_stop() -> None:
    ft = FakeTime()
    budget = RateBudget(window_seconds=300, clock=ft.clock, sleep=ft.sleep)
    for _ in range(4):
        budget.acquire(max_wait=330)
        budget.defer_until(ft.now + timedelta(seconds=100))  # a 429 every time
    with pytest.raises(RateLimitWaitExceeded, match="stayed spent for 300 s") as caught:
        budget.acquire(max_wait=330)
    # Three waits of 100 s fit in 330 s; the fourth would end at 400 s.
    assert ft.slept == [100.0, 100.0, 100.0]
    assert caught.value.resume_at == T0 + timedelta(seconds=400)


def test_an_answered_request_resets_the_stall_so_a_long_run_is_not_stopped() -> None:
    ft = FakeTime()
    budget = RateBudget(window_seconds=300, clock=ft.clock, sleep=ft.sleep, margin_seconds=0)
    # Ten windows of a spent budget, each refilled: 3,000 s of waiting in all, never
    # more than 300 s without progress.
    for _ in range(10):
        budget.acquire(max_wait=310)
        budget.observe(RateLimit(350, 0))
    assert sum(ft.slept) == pytest.approx(2700.0)


def test_max_wait_zero_never_waits() -> None:
    ft = FakeTime()
    budget = RateBudget(window_seconds=300, clock=ft.clock, sleep=ft.sleep)
    budget.acquire(max_wait=0)
    budget.defer_until(T0 + timedelta(seconds=1))
    with pytest.raises(RateLimitWaitExceeded):
        budget.acquire(max_wait=0)
    assert ft.slept == []


def test_no_max_wait_waits_as_long_as_it_takes() -> None:
    ft = FakeTime()
    budget = RateBudget(window_seconds=300, clock=ft.clock, sleep=ft.sleep)
    budget.acquire()
    budget.defer_until(T0 + timedelta(days=1))
    budget.acquire()
    assert ft.now == T0 + timedelta(days=1)


def test_the_client_ends_the_call_instead_of_retrying_it() -> None:
    import httpx

    from greenloop.lightspeed.client import LightspeedClient

    ft = FakeTime()
    sent: list[str] = []

    def answer(request: httpx.Request) -> httpx.Response:
        sent.append(request.url.path)
        later = "Thu, 01 Jan 2026 13:00:00 GMT"  # an hour after T0
        return httpx.Response(429, headers={"Retry-After": later}, json={"error": "limit"})

    http = httpx.Client(base_url="http://api.test", transport=httpx.MockTransport(answer))
    budget = RateBudget(clock=ft.clock, sleep=ft.sleep)
    client = LightspeedClient(
        http, budget=budget, sleep=ft.sleep, clock=ft.clock, max_wait_seconds=60
    )
    with pytest.raises(RateLimitWaitExceeded, match=r"longer than lightspeed\.max_wait_seconds"):
        client.get_data("/api/2.0/retailer")
    assert sent == ["/api/2.0/retailer"]
    assert ft.slept == []

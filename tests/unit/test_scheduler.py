"""The schedule's rules: slots, the missed-run policy, and the catch-up run at start."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, time

import pytest

from greenloop.errors import ConfigError
from greenloop.runtime.scheduler import Schedule, daily_run_missed, last_slot, parse_daily_at

TWO_AM = time(2, 0, tzinfo=UTC)


def test_last_slot_is_today_after_the_hour_and_yesterday_before_it() -> None:
    assert last_slot(datetime(2026, 11, 22, 9, 0, tzinfo=UTC), TWO_AM) == datetime(
        2026, 11, 22, 2, 0, tzinfo=UTC
    )
    assert last_slot(datetime(2026, 11, 22, 1, 59, tzinfo=UTC), TWO_AM) == datetime(
        2026, 11, 21, 2, 0, tzinfo=UTC
    )


def test_a_run_is_missed_only_when_none_started_since_the_last_slot() -> None:
    now = datetime(2026, 11, 22, 9, 0, tzinfo=UTC)
    assert daily_run_missed(None, now, TWO_AM)
    assert daily_run_missed(datetime(2026, 11, 19, 2, 0, tzinfo=UTC), now, TWO_AM)
    assert not daily_run_missed(datetime(2026, 11, 22, 2, 0, 5, tzinfo=UTC), now, TWO_AM)


def test_daily_at_must_be_a_time_of_day() -> None:
    assert parse_daily_at("02:30") == time(2, 30, tzinfo=UTC)
    with pytest.raises(ConfigError, match="not a time of day"):
        parse_daily_at("2am")


def test_start_catches_up_once_when_the_slot_was_missed() -> None:
    ran = threading.Event()
    calls: list[int] = []

    def daily() -> None:
        calls.append(1)
        ran.set()

    schedule = Schedule(
        daily=daily,
        poll=None,
        daily_at=TWO_AM,
        poll_minutes=0,
        last_daily_started=lambda: None,
    )
    schedule.start()
    try:
        assert ran.wait(30)
        assert schedule.next_daily() is not None
    finally:
        schedule.shutdown()
    assert calls == [1]


def test_start_does_not_run_when_todays_run_happened() -> None:
    calls: list[int] = []
    schedule = Schedule(
        daily=lambda: calls.append(1),
        poll=None,
        daily_at=TWO_AM,
        poll_minutes=0,
        last_daily_started=lambda: datetime.now(UTC),
    )
    schedule.start()
    schedule.shutdown()
    assert calls == []

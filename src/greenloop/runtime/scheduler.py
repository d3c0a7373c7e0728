"""Job wiring for `greenloop serve`: the daily job and the reconciliation poll.

APScheduler runs the jobs in its own threads. Missed runs: when `serve` starts (or a
slot passes while the process was paused), a daily run whose slot passed with no run
started since is run once, at once, however many slots were missed (one catch-up, not
one per missed day: each run covers everything up to now). The same rule is
:func:`daily_run_missed`, so it is tested without a scheduler.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta

from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger

from greenloop.errors import ConfigError

__all__ = ["Schedule", "daily_run_missed", "last_slot", "parse_daily_at"]

log = logging.getLogger(__name__)


def parse_daily_at(text: str) -> time:
    try:
        hour, minute = (int(part) for part in text.strip().split(":"))
        return time(hour, minute, tzinfo=UTC)
    except ValueError:
        raise ConfigError(
            f"jobs.daily_at = {text!r} is not a time of day", hint='Write it as "HH:MM" in UTC.'
        ) from None


def last_slot(now: datetime, at: time) -> datetime:
    """The latest scheduled moment at or before ``now``."""
    today = datetime.combine(now.astimezone(UTC).date(), at.replace(tzinfo=None), tzinfo=UTC)
    return today if today <= now else today - timedelta(days=1)


def daily_run_missed(last_started: datetime | None, now: datetime, at: time) -> bool:
    """True when no daily run started since the latest slot (the catch-up policy)."""
    return last_started is None or last_started < last_slot(now, at)


@dataclass
class Schedule:
    """The daily job at ``daily_at`` (UTC) and a poll every ``poll_minutes``."""

    daily: Callable[[], object]
    poll: Callable[[], object] | None
    daily_at: time
    poll_minutes: float
    last_daily_started: Callable[[], datetime | None]

    def __post_init__(self) -> None:
        self._scheduler = BackgroundScheduler(timezone=UTC)
        self._daily_lock = threading.Lock()

    def start(self, *, catch_up: bool = True) -> None:
        self._scheduler.add_job(
            self._run_daily,
            CronTrigger(hour=self.daily_at.hour, minute=self.daily_at.minute, timezone=UTC),
            id="daily",
            # A slot missed while the process was paused runs once, late, not twice.
            coalesce=True,
            misfire_grace_time=6 * 3600,
            max_instances=1,
        )
        if self.poll is not None and self.poll_minutes > 0:
            self._scheduler.add_job(
                self.poll,
                IntervalTrigger(minutes=self.poll_minutes, timezone=UTC),
                id="poll",
                coalesce=True,
                max_instances=1,
            )
        self._scheduler.start()
        if catch_up and daily_run_missed(
            self.last_daily_started(), datetime.now(UTC), self.daily_at
        ):
            log.info("the last daily slot passed without a run: running it now")
            self._scheduler.add_job(self._run_daily, id="daily-catch-up", max_instances=1)

    def shutdown(self) -> None:
        self._scheduler.shutdown(wait=True)

    def next_daily(self) -> datetime | None:
        job = self._scheduler.get_job("daily")
        return None if job is None else job.next_run_time

    def _run_daily(self) -> None:
        if not self._daily_lock.acquire(blocking=False):
            return
        try:
            self.daily()
        except Exception:
            # The job records its own failure (job_runs); a scheduler thread must not die.
            log.exception("the daily job failed")
        finally:
            self._daily_lock.release()

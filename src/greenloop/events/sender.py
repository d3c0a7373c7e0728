"""Deliver due tier-change events to the configured URL.

Each event is one signed POST. A 2xx settles it; anything else (another status, a
timeout, a refused connection) is retried with exponential back-off, and after
``events.max_attempts`` tries the event is parked with its last error, to be requeued
with ``greenloop events retry``. A person's later event waits while an earlier one is
unsettled (see :func:`events_repo.claim_due`), so a receiver sees one person's changes
in the order they happened.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from sqlalchemy import Engine

from greenloop.config import EventSettings
from greenloop.events.payload import EVENT_TYPE, event_body, load_people
from greenloop.events.signing import SIGNATURE_HEADER, sign
from greenloop.store import events_repo as repo
from greenloop.store.inbox import backoff_delay

__all__ = ["EventSender", "SendReport"]

log = logging.getLogger(__name__)


@dataclass
class SendReport:
    claimed: int = 0
    sent: int = 0
    failed: int = 0
    parked: int = 0

    def add(self, other: SendReport) -> None:
        for key, value in asdict(other).items():
            setattr(self, key, getattr(self, key) + value)

    def as_json(self) -> dict[str, Any]:
        return asdict(self)


class EventSender:
    def __init__(
        self,
        settings: EventSettings,
        engine: Engine,
        *,
        http: httpx.Client | None = None,
        clock: Callable[[], datetime] | None = None,
    ) -> None:
        self.settings = settings
        self.engine = engine
        self.http = http or httpx.Client(timeout=settings.timeout_seconds)
        self._own_http = http is None
        self.clock = clock or (lambda: datetime.now(UTC))

    def close(self) -> None:
        if self._own_http:
            self.http.close()

    def send_due(self) -> SendReport:
        """One round: claim a batch of due events and try each once."""
        now = self.clock()
        lease = timedelta(seconds=self.settings.timeout_seconds * 2 + 30)
        with self.engine.begin() as conn:
            events = repo.claim_due(conn, now, self.settings.batch_size, lease)
            people = load_people(conn, {e.person_id for e in events})
        report = SendReport(claimed=len(events))
        for event in events:
            self._send(event, people.get(event.person_id), report)
        return report

    def send_all(self, max_rounds: int = 1000) -> SendReport:
        """Rounds until nothing is due now (failed events wait for their retry time)."""
        total = SendReport()
        for _ in range(max_rounds):
            report = self.send_due()
            total.add(report)
            if report.claimed == 0:
                break
        return total

    def run_forever(self, stop: threading.Event) -> SendReport:
        total = SendReport()
        while not stop.is_set():
            try:
                report = self.send_due()
            except Exception as exc:  # the database is away: wait and try again
                log.error("tier-event round failed: %s", type(exc).__name__)
                stop.wait(self.settings.poll_interval_seconds)
                continue
            total.add(report)
            if report.claimed == 0 or report.sent == 0:
                stop.wait(self.settings.poll_interval_seconds)
        return total

    def _send(
        self, event: repo.EventRow, person: dict[str, Any] | None, report: SendReport
    ) -> None:
        body = event_body(event, person)
        stamp = int(time.time())
        headers = {
            "Content-Type": "application/json",
            "User-Agent": "GreenLoop tier events",
            "X-GreenLoop-Event-Id": event.event_id,
            "X-GreenLoop-Event-Type": EVENT_TYPE,
            SIGNATURE_HEADER: sign(self.settings.secret.get_secret_value(), stamp, body),
        }
        status: int | None = None
        try:
            response = self.http.post(self.settings.url, content=body, headers=headers)
            status = response.status_code
            error = "" if response.is_success else f"HTTP {status}"
        except httpx.HTTPError as exc:
            error = f"{type(exc).__name__}: could not reach events.url"
        now = self.clock()
        with self.engine.begin() as conn:
            if not error:
                repo.mark_sent(conn, event, now, status or 0)
                report.sent += 1
                return
            attempts = event.attempts + 1
            if attempts >= self.settings.max_attempts:
                repo.mark_failed(conn, event, retry_at=None, error=error, status=status)
                report.parked += 1
                log.warning(
                    "tier event %s parked after %d attempts: %s", event.event_id, attempts, error
                )
            else:
                delay = backoff_delay(
                    attempts, self.settings.retry_base_seconds, self.settings.retry_max_seconds
                )
                retry_at = now + timedelta(seconds=delay)
                repo.mark_failed(conn, event, retry_at=retry_at, error=error, status=status)
                report.failed += 1

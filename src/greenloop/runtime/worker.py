"""The inbox worker's loop: the steps of :mod:`greenloop.services.realtime`, batch after
batch, pausing between objects while the receiver in the same process is busy."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from datetime import datetime, timedelta

from sqlalchemy.exc import SQLAlchemyError

from greenloop.config import Settings
from greenloop.errors import GreenLoopError
from greenloop.lightspeed.client import LightspeedClient
from greenloop.services import realtime
from greenloop.services.realtime import Realtime, WorkerReport
from greenloop.services.setup import open_engine
from greenloop.services.tokens import lightspeed_client
from greenloop.store import inbox

__all__ = ["InboxWorker", "process_inbox"]

log = logging.getLogger(__name__)


class InboxWorker:
    """``run_forever`` for ``serve``, ``run_once``/``run_until_idle`` for the CLI and tests."""

    def __init__(
        self,
        rt: Realtime,
        *,
        give_way: Callable[[], None] | None = None,
        observe: Callable[[WorkerReport], None] | None = None,
    ) -> None:
        self.rt = rt
        # Called between objects: lets a busy receiver in the same process answer first.
        self._give_way = give_way or (lambda: None)
        # Called with each batch's report (the service's metrics).
        self._observe = observe or (lambda report: None)

    def run_once(self) -> WorkerReport:
        """Claim one batch of due rows and take it through every step."""
        batch = realtime.claim(self.rt)
        for key in batch.groups:
            self._give_way()
            realtime.refresh(self.rt, batch, key)
        self._give_way()
        report = realtime.settle(self.rt, batch)
        self._observe(report)
        return report

    def run_until_idle(self, *, max_rounds: int = 10_000) -> WorkerReport:
        """Process until no row is due (rows waiting for a later retry stay queued)."""
        total = WorkerReport()
        for _ in range(max_rounds):
            report = self.run_once()
            total.add(report)
            if report.claimed == 0:
                break
        return total

    def run_forever(self, stop: threading.Event) -> WorkerReport:
        """Process until ``stop`` is set, then give unfinished rows back to the queue."""
        total = WorkerReport()
        last_prune = 0.0
        wait = self.rt.options.poll_interval_seconds
        try:
            while not stop.is_set():
                try:
                    report = self.run_once()
                    if time.monotonic() - last_prune > 3600:
                        self.prune()
                        last_prune = time.monotonic()
                except Exception as exc:
                    # The database away, or a bug: the rows concerned were recorded as
                    # failed or parked; a service keeps serving the rest of the queue.
                    bug = not isinstance(exc, (GreenLoopError, SQLAlchemyError))
                    log.error(
                        "webhook worker round failed%s: %s",
                        " (a bug in GreenLoop; the deliveries concerned are parked)" if bug else "",
                        self.rt.clean(exc),
                        exc_info=bug,
                    )
                    stop.wait(wait)
                    continue
                total.add(report)
                if report.claimed == 0:
                    stop.wait(wait)
        finally:
            released = self.release()
            if released:
                log.info("returned %d unfinished webhook deliveries to the queue", released)
        return total

    def release(self) -> int:
        with self.rt.engine.begin() as conn:
            return inbox.release_claims(conn, self.rt.name)

    def prune(self) -> int:
        days = self.rt.options.keep_done_days
        with self.rt.engine.begin() as conn:
            return inbox.prune_done(conn, self.rt.clock(), older_than=timedelta(days=days))


def process_inbox(
    settings: Settings,
    *,
    client_factory: Callable[[Settings], LightspeedClient] | None = None,
    clock: Callable[[], datetime] | None = None,
) -> WorkerReport:
    """``greenloop webhooks process``: every due delivery once (recompute, no push)."""
    engine = open_engine(settings)
    client = (client_factory or (lambda s: lightspeed_client(s)))(settings)
    try:
        rt = Realtime.for_settings(settings, engine, client, clock=clock)
        return InboxWorker(rt).run_until_idle()
    finally:
        client.close()
        engine.dispose()

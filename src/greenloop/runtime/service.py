"""`greenloop serve`: receiver, inbox worker, reconciliation poll, daily job, dashboard.

One process by default; ``--no-worker`` serves HTTP only (run ``--worker-only``
elsewhere). Every caller of the API here (worker, poll, push, the daily job) shares one
rate budget, as Lightspeed counts requests per store, not per caller (DESIGN §3.11).

What each part does lives below this module: the worker's steps and the poll in
:mod:`greenloop.services.realtime`, the loop in :mod:`greenloop.runtime.worker`, the
figures in :mod:`greenloop.runtime.metrics`. Here they are started, given the one client
and budget, scheduled and stopped.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import Engine
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from greenloop.config import Settings
from greenloop.errors import GreenLoopError
from greenloop.events.sender import EventSender
from greenloop.lightspeed.client import LightspeedClient
from greenloop.lightspeed.ratelimit import RateBudget
from greenloop.runtime.daily import run_daily
from greenloop.runtime.metrics import CONTENT_TYPE, Metrics, ReceiveTiming
from greenloop.runtime.scheduler import Schedule, parse_daily_at
from greenloop.runtime.worker import InboxWorker
from greenloop.services import realtime
from greenloop.services.realtime import PollReport, Realtime, WorkerReport
from greenloop.services.setup import open_engine
from greenloop.services.tokens import lightspeed_client
from greenloop.store.job_runs import last_job_started
from greenloop.store.service_state import WEBHOOK_URL_TOKEN, read_value
from greenloop.web.app import create_app, oauth_secret
from greenloop.web.dashboard import dashboard_routes
from greenloop.web.webhooks import WebhookReceiver

__all__ = ["Service"]

log = logging.getLogger(__name__)

# The receiver counts as busy for this long after a delivery; the worker then waits in
# steps, at most so long per object.
_BUSY_SECONDS = 0.02
_GIVE_WAY_STEP_SECONDS = 0.005
_MAX_GIVE_WAY_SECONDS = 0.1


@dataclass
class Service:
    settings: Settings
    engine: Engine = field(init=False)
    budget: RateBudget = field(init=False)

    def __post_init__(self) -> None:
        self.engine = open_engine(self.settings)
        self.budget = RateBudget(window_seconds=self.settings.lightspeed.rate_limit_window_seconds)
        self.client = self.client_factory(self.settings)
        self.stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self._schedule: Schedule | None = None
        self._poll_lock = threading.Lock()
        self.receiver = WebhookReceiver(
            self.settings.webhooks, self.engine, oauth_secret=oauth_secret(self.settings)
        )
        self.metrics = Metrics(self.engine, self.budget)
        self.realtime = Realtime.for_settings(self.settings, self.engine, self.client, push=True)
        self.last_poll: PollReport | None = None
        self._say_how_webhooks_authenticate()

    def _say_how_webhooks_authenticate(self) -> None:
        """At start: whether deliveries can be accepted yet. The receiver reads the
        stored URL token itself, again every few seconds, so a later register or
        rotation needs no restart."""
        hooks = self.settings.webhooks
        if oauth_secret(self.settings):
            log.info(
                "webhooks: while connected as a Lightspeed add-on, deliveries must carry an "
                "X-Signature made with lightspeed.client_secret"
            )
        if hooks.authenticated() or hooks.allow_unauthenticated:
            return
        if read_value(self.engine, WEBHOOK_URL_TOKEN):
            log.info("webhooks: deliveries must carry the URL token `webhooks register` stored")
            return
        log.warning(
            "webhooks: deliveries are refused (503) until `greenloop webhooks register "
            "--url …` makes a URL token, or webhooks.secret is set"
        )

    def client_factory(self, settings: Settings) -> LightspeedClient:
        return lightspeed_client(
            settings, engine=self.engine, budget=self.budget, require_usable=False
        )

    # -- the parts ---------------------------------------------------------------------

    def poll(self) -> PollReport:
        """The reconciliation poll (:func:`greenloop.services.realtime.poll`), one at a time."""
        if not self._poll_lock.acquire(blocking=False):
            return PollReport(error="a poll is already running")
        began = time.perf_counter()
        try:
            report = realtime.poll(self.realtime)
        except GreenLoopError as exc:
            report = PollReport(error=exc.one_line())
            log.warning("reconciliation poll failed: %s", exc.one_line())
        finally:
            self._poll_lock.release()
        outcome = "ok" if report.error is None else "failed"
        self.metrics.job_seconds.labels(job="poll", outcome=outcome).observe(
            time.perf_counter() - began
        )
        self.last_poll = report
        return report

    def daily(self) -> None:
        began = time.perf_counter()
        report = run_daily(self.settings, client_factory=self.client_factory)
        self.metrics.job_seconds.labels(job="daily", outcome=report.outcome).observe(
            time.perf_counter() - began
        )
        log.info("daily run %s: %s", report.run_id, report.outcome)

    def last_daily_started(self) -> datetime | None:
        with self.engine.connect() as conn:
            return last_job_started(conn, "daily")

    # -- lifecycle ---------------------------------------------------------------------

    def start(self, *, worker: bool = True, schedule: bool = True) -> None:
        if worker:
            inbox_worker = InboxWorker(
                self.realtime, give_way=self._give_way, observe=self._observe_batch
            )
            thread = threading.Thread(
                target=inbox_worker.run_forever, args=(self.stop,), name="inbox-worker"
            )
            thread.start()
            self._threads.append(thread)
        if schedule:
            self._schedule = Schedule(
                daily=self.daily,
                poll=self.poll,
                daily_at=parse_daily_at(self.settings.jobs.daily_at),
                poll_minutes=self.settings.jobs.poll_minutes,
                last_daily_started=self.last_daily_started,
            )
            self._schedule.start()
        if worker and self.settings.events.enabled:
            sender = EventSender(self.settings.events, self.engine)
            thread = threading.Thread(target=self._send_events, args=(sender,), name="tier-events")
            thread.start()
            self._threads.append(thread)

    def _send_events(self, sender: EventSender) -> None:
        try:
            sender.run_forever(self.stop)
        finally:
            sender.close()

    def shutdown(self) -> None:
        """Stop taking work; the worker hands unfinished rows back to the queue."""
        self.stop.set()
        if self._schedule is not None:
            self._schedule.shutdown()
        for thread in self._threads:
            thread.join(timeout=60)
        self.client.close()
        self.engine.dispose()

    def web_app(self) -> Starlette:
        """The HTTP side: webhook receiver, health, ``/metrics`` and the dashboard, on
        this service's engine and its live rate budget."""
        dashboard = dashboard_routes(self.settings, self.engine, budget=self.budget, warm=True)
        routes = [*self.routes(), *dashboard]
        app = create_app(self.settings, self.engine, routes=routes, receiver=self.receiver)
        app.add_middleware(ReceiveTiming, metrics=self.metrics)
        return app

    def _give_way(self) -> None:
        """The worker's pause between objects while deliveries are arriving: answering
        a delivery within Lightspeed's 5 s comes first, processing it can wait. Bounded,
        so a steady stream slows the worker but never stops it."""
        waited = 0.0
        while time.monotonic() - self.receiver.last_request < _BUSY_SECONDS:
            if waited >= _MAX_GIVE_WAY_SECONDS:
                return
            time.sleep(_GIVE_WAY_STEP_SECONDS)
            waited += _GIVE_WAY_STEP_SECONDS

    def _observe_batch(self, report: WorkerReport) -> None:
        for seconds in report.pushed_after:
            self.metrics.sale_to_group_seconds.observe(seconds)

    def routes(self) -> Sequence[BaseRoute]:
        async def metrics(request: Request) -> Response:
            body = await run_in_threadpool(self.metrics.text)
            return Response(body, media_type=CONTENT_TYPE)

        return [Route("/metrics", metrics, methods=["GET"])]

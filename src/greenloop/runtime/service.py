"""`greenloop serve`: receiver, inbox worker, reconciliation poll, daily job, dashboard.

One process by default; ``--no-worker`` serves HTTP only (run ``--worker-only``
elsewhere). Every caller of the API here (worker, poll, push, the daily job) shares one
rate budget, as Lightspeed counts requests per store, not per caller (DESIGN §3.11).

The poll catches what webhooks missed (Lightspeed does not guarantee delivery): it
syncs customers and sales by cursor, recomputes and pushes the persons of whatever
changed, and records each change no webhook announced as a "poll catch" row in the
inbox (``first_seen_by = 'poll'``), which `/metrics` counts.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Engine, func, insert, select
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import BaseRoute, Route

from greenloop.analytics.recompute import recompute_customer
from greenloop.config import Settings
from greenloop.errors import GreenLoopError
from greenloop.events.sender import EventSender
from greenloop.lightspeed.client import LightspeedClient, connect
from greenloop.lightspeed.ratelimit import RateBudget
from greenloop.runtime.daily import run_daily
from greenloop.runtime.scheduler import Schedule, parse_daily_at
from greenloop.services.analysis import analyze_options
from greenloop.services.push import push_customers
from greenloop.services.setup import open_engine
from greenloop.services.webhooks import make_worker
from greenloop.store import events_repo, repo
from greenloop.store import tables as t
from greenloop.store.inbox import Delivery, inbox_stats, store_delivery
from greenloop.store.service_state import read_value
from greenloop.sync.pull import sync
from greenloop.web.app import create_app
from greenloop.web.dashboard import dashboard_routes
from greenloop.web.url_token import STORED_NAME
from greenloop.web.webhooks import WebhookReceiver

__all__ = ["PollReport", "Service", "metrics_text"]

log = logging.getLogger(__name__)

# The receiver counts as busy for this long after a delivery; the worker then waits in
# steps, at most so long per object.
_BUSY_SECONDS = 0.02
_GIVE_WAY_STEP_SECONDS = 0.005
_MAX_GIVE_WAY_SECONDS = 0.1


@dataclass
class PollReport:
    changed_customers: int = 0
    caught: int = 0
    persons: int = 0
    error: str | None = None


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
        self.receiver = WebhookReceiver(self.settings.webhooks, self.engine)
        self.last_poll: PollReport | None = None
        self._say_how_webhooks_authenticate()

    def _say_how_webhooks_authenticate(self) -> None:
        """At start: whether deliveries can be accepted yet. The receiver reads the
        stored URL token itself, again every few seconds, so a later register or
        rotation needs no restart."""
        hooks = self.settings.webhooks
        if hooks.authenticated() or hooks.allow_unauthenticated:
            return
        if read_value(self.engine, STORED_NAME):
            log.info("webhooks: deliveries must carry the URL token `webhooks register` stored")
            return
        log.warning(
            "webhooks: deliveries are refused (503) until `greenloop webhooks register "
            "--url …` makes a URL token, or webhooks.secret is set"
        )

    def client_factory(self, settings: Settings) -> LightspeedClient:
        return connect(settings.lightspeed, budget=self.budget)

    # -- the parts ---------------------------------------------------------------------

    def push_profiles(self, customer_ids: list[str]) -> None:
        """The worker's hook: push a batch's group changes through the shared budget."""
        if not customer_ids:
            return
        with self.engine.connect() as conn:
            before = repo.get_cursors(conn).get("customers", 0)
        report = push_customers(self.settings, customer_ids, client=self.client, engine=self.engine)
        if not report.ok:
            # The daily push retries it; the worker must not park a delivery for this.
            log.warning(
                "push for %d profiles: %s", len(customer_ids), report.error or report.outcome
            )
        self._queue_refreshed(before, {m.customer_id for m in report.plan.moves})

    def _queue_refreshed(self, before: int, moved: set[str]) -> None:
        """Queue the customers a push's refresh stored, so the worker recomputes them.

        The refresh pulls every changed customer by cursor, staff edits included, and
        moves the cursor past them: neither the worker (the stored copy is current)
        nor the poll (the cursor has passed) would see them as changed. The profiles
        this push moved are left out; their own change was the move."""
        c = t.customers.c
        now = datetime.now(UTC)
        with self.engine.begin() as conn:
            stored = conn.execute(select(c.id, c.version).where(c.version > before)).all()
            for row in stored:
                if row.id not in moved:
                    delivery = Delivery(
                        type="customer.update",
                        object_id=row.id,
                        payload=f"push refresh {row.version}",
                        body=b"",
                        content_type=None,
                        endpoint="push",
                        signature_encoding="none",
                        first_seen_by="push",
                    )
                    store_delivery(conn, delivery, now)

    def poll(self) -> PollReport:
        """Sync customers and sales by cursor; recompute and push what changed."""
        if not self._poll_lock.acquire(blocking=False):
            return PollReport(error="a poll is already running")
        try:
            report = self._poll()
        except GreenLoopError as exc:
            report = PollReport(error=exc.one_line())
            log.warning("reconciliation poll failed: %s", exc.one_line())
        finally:
            self._poll_lock.release()
        self.last_poll = report
        return report

    def _poll(self) -> PollReport:
        now = datetime.now(UTC)
        with self.engine.connect() as conn:
            before = repo.get_cursors(conn)
        sync(
            self.engine,
            self.client,
            resources=("customers", "sales"),
            page_size=self.settings.sync.page_size,
        )
        customers, objects = self._changed_since(before)
        report = PollReport(changed_customers=len(customers))
        if not customers:
            return report
        report.caught = self._record_catches(objects, now)
        result = recompute_customer(self.engine, analyze_options(self.settings), customers, now)
        report.persons = len(result.persons)
        with self.engine.connect() as conn:
            m = t.identity_members.c
            profiles = [
                cid
                for cid in conn.execute(
                    select(m.customer_id).where(
                        m.person_id.in_(result.persons), m.customer_id.is_not(None)
                    )
                ).scalars()
                if cid
            ]
        if profiles:
            self.push_profiles(profiles)
        return report

    def _changed_since(self, before: dict[str, int]) -> tuple[list[str], list[tuple[str, str]]]:
        c, s = t.customers.c, t.sales.c
        with self.engine.connect() as conn:
            changed_customers = list(
                conn.execute(select(c.id).where(c.version > before.get("customers", 0))).scalars()
            )
            sales = conn.execute(
                select(s.id, s.customer_id).where(s.version > before.get("sales", 0))
            ).all()
        objects = [("customer.update", cid) for cid in changed_customers]
        objects += [("sale.update", row.id) for row in sales]
        customers = sorted(set(changed_customers) | {r.customer_id for r in sales if r.customer_id})
        return customers, objects

    def _record_catches(self, objects: list[tuple[str, str]], now: datetime) -> int:
        """Changes no webhook announced in the last two days become "poll catch" rows."""
        inbox = t.webhook_inbox.c
        since = now - timedelta(days=2)
        with self.engine.begin() as conn:
            announced = set(
                conn.execute(
                    select(inbox.type, inbox.object_id).where(inbox.received_at >= since)
                ).all()
            )
            rows = [
                {
                    "received_at": now,
                    "type": kind,
                    "object_id": object_id,
                    "dedupe_key": f"poll:{kind}:{object_id}:{now.isoformat()}",
                    "body": b"",
                    "content_type": None,
                    "endpoint": "poll",
                    "signature_encoding": "none",
                    "first_seen_by": "poll",
                    "status": "done",
                    "attempts": 0,
                    "next_attempt_at": now,
                    "processed_at": now,
                    "outcome": "poll",
                    "duplicates": 0,
                }
                for kind, object_id in objects
                if (kind, object_id) not in announced
            ]
            if rows:
                conn.execute(insert(t.webhook_inbox), rows)
        return len(rows)

    def daily(self) -> None:
        report = run_daily(self.settings, client_factory=self.client_factory)
        log.info("daily run %s: %s", report.run_id, report.outcome)

    def last_daily_started(self) -> datetime | None:
        with self.engine.connect() as conn:
            value = conn.execute(
                select(func.max(t.job_runs.c.started_at)).where(t.job_runs.c.job == "daily")
            ).scalar()
        return value if isinstance(value, datetime) else None

    # -- lifecycle ---------------------------------------------------------------------

    def start(self, *, worker: bool = True, schedule: bool = True) -> None:
        if worker:
            inbox_worker = make_worker(
                self.settings,
                self.engine,
                self.client,
                after_batch=self.push_profiles,
                give_way=self._give_way,
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
        return create_app(self.settings, self.engine, routes=routes, receiver=self.receiver)

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

    def routes(self) -> Sequence[BaseRoute]:
        async def metrics(request: Request) -> Response:
            return PlainTextResponse(
                metrics_text(self.engine, self.budget), media_type="text/plain; version=0.0.4"
            )

        return [Route("/metrics", metrics, methods=["GET"])]


def metrics_text(
    engine: Engine, budget: RateBudget | None = None, clock: Callable[[], datetime] | None = None
) -> str:
    """Prometheus text exposition of the figures an operator alerts on."""
    now = (clock or (lambda: datetime.now(UTC)))()
    lines: list[str] = []

    def gauge(
        name: str, help_text: str, value: float, labels: dict[str, Any] | None = None
    ) -> None:
        if not any(line.startswith(f"# HELP {name} ") for line in lines):
            lines.append(f"# HELP {name} {help_text}")
            lines.append(f"# TYPE {name} gauge")
        label = ""
        if labels:
            label = "{" + ",".join(f'{k}="{v}"' for k, v in labels.items()) + "}"
        lines.append(f"{name}{label} {value}")

    inbox = t.webhook_inbox.c
    with engine.connect() as conn:
        stats = inbox_stats(conn, now)
        caught = conn.execute(
            select(func.count()).where(inbox.first_seen_by == "poll")
        ).scalar_one()
        webhook_seen = conn.execute(
            select(func.count()).where(inbox.first_seen_by == "webhook")
        ).scalar_one()
        lag_rows = conn.execute(
            select(inbox.received_at, inbox.processed_at)
            .where(inbox.processed_at.is_not(None), inbox.first_seen_by == "webhook")
            .order_by(inbox.processed_at.desc())
            .limit(100)
        ).all()
        last_push = conn.execute(
            select(t.push_runs)
            .where(t.push_runs.c.dry_run.is_(False))
            .order_by(t.push_runs.c.id.desc())
            .limit(1)
        ).first()
        last_daily = conn.execute(
            select(func.max(t.job_runs.c.finished_at)).where(
                t.job_runs.c.job == "daily", t.job_runs.c.outcome == "ok"
            )
        ).scalar()
        event_counts = events_repo.event_counts(conn)
    for status, count in sorted(stats.by_status.items()):
        gauge("greenloop_inbox_rows", "Webhook inbox rows by status.", count, {"status": status})
    gauge("greenloop_inbox_depth", "Deliveries waiting to be processed.", stats.depth)
    gauge(
        "greenloop_inbox_oldest_pending_seconds",
        "Age of the oldest unprocessed delivery.",
        stats.oldest_pending_seconds or 0,
    )
    lags = [(done - got).total_seconds() for got, done in lag_rows if got is not None and done]
    gauge(
        "greenloop_processing_lag_seconds",
        "Mean receive-to-processed time of the last 100 deliveries.",
        round(sum(lags) / len(lags), 3) if lags else 0,
    )
    gauge("greenloop_poll_catches_total", "Changes first seen by the poll, not a webhook.", caught)
    gauge("greenloop_webhook_deliveries_total", "Deliveries received by webhook.", webhook_seen)
    if last_push is not None:
        gauge("greenloop_push_moved", "Customers moved by the last push.", last_push.moved)
        gauge("greenloop_push_failed", "Moves that failed in the last push.", last_push.failed)
        gauge(
            "greenloop_push_ok",
            "1 when the last push finished cleanly.",
            1 if last_push.outcome == "ok" else 0,
        )
    if budget is not None and budget.remaining is not None:
        gauge(
            "greenloop_rate_budget_remaining", "Requests left in the API window.", budget.remaining
        )
    for status, count in sorted(event_counts.items()):
        gauge(
            "greenloop_tier_events",
            "Outgoing tier-change events by status.",
            count,
            {"status": status},
        )
    if isinstance(last_daily, datetime):
        gauge(
            "greenloop_last_daily_success_timestamp_seconds",
            "When the last clean daily run finished (Unix time).",
            int(last_daily.timestamp()),
        )
    return "\n".join(lines) + "\n"

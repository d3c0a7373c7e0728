"""What ``/metrics`` serves, in the Prometheus text format (prometheus-client).

Two kinds of figure: latency histograms observed as the work happens (a webhook's
answer, a sale's way to its customer group, each job), so the p95/p99 the benchmarks
measure are visible in production too; and gauges read from the database at scrape
time (inbox depth and age, poll catches, the last push and daily run, the rate budget,
outgoing events), so several processes sharing one database report the same state.

Each service has its own registry rather than the library's global one: tests and the
demo run several services in one process.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime

from prometheus_client import CollectorRegistry, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from sqlalchemy import Engine, func, select
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from greenloop.lightspeed.ratelimit import RateBudget
from greenloop.store import events_repo
from greenloop.store import tables as t
from greenloop.store.inbox import inbox_stats

__all__ = ["CONTENT_TYPE", "Metrics", "ReceiveTiming", "StoreFigures", "metrics_text"]

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"

# Lightspeed gives a webhook 5 s; the target is well under 0.25 s.
_RECEIVE_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)
# The target for a sale to move its customer's group is 2 s at p95.
_SALE_BUCKETS = (0.1, 0.25, 0.5, 1.0, 2.0, 5.0, 10.0, 30.0, 60.0, 300.0)
_JOB_BUCKETS = (0.1, 0.5, 1.0, 5.0, 15.0, 60.0, 300.0, 900.0, 3600.0)


class Metrics:
    """The histograms a service observes, and the database figures, in one registry."""

    def __init__(
        self,
        engine: Engine,
        budget: RateBudget | None = None,
        clock: Callable[[], datetime] | None = None,
    ) -> None:
        self.registry = CollectorRegistry()
        self.receive_seconds = Histogram(
            "greenloop_webhook_receive_seconds",
            "Time from a webhook request's arrival to its answer, by answer class.",
            ["status"],
            buckets=_RECEIVE_BUCKETS,
            registry=self.registry,
        )
        self.sale_to_group_seconds = Histogram(
            "greenloop_sale_to_group_seconds",
            "Time from a webhook delivery's receipt to the push of its customers' groups.",
            buckets=_SALE_BUCKETS,
            registry=self.registry,
        )
        self.job_seconds = Histogram(
            "greenloop_job_seconds",
            "Duration of each job run (poll, daily, realtime push), by job and outcome.",
            ["job", "outcome"],
            buckets=_JOB_BUCKETS,
            registry=self.registry,
        )
        self.registry.register(StoreFigures(engine, budget, clock))

    def observe_receive(self, seconds: float, status: int) -> None:
        self.receive_seconds.labels(status=f"{status // 100}xx").observe(seconds)

    def text(self) -> bytes:
        return generate_latest(self.registry)


class StoreFigures(Collector):
    """The gauges an operator alerts on, read from the database at each scrape."""

    def __init__(
        self,
        engine: Engine,
        budget: RateBudget | None = None,
        clock: Callable[[], datetime] | None = None,
    ) -> None:
        self.engine = engine
        self.budget = budget
        self.clock = clock or (lambda: datetime.now(UTC))

    def collect(self) -> Iterator[Metric]:
        now = self.clock()
        inbox = t.webhook_inbox.c
        with self.engine.connect() as conn:
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

        rows = GaugeMetricFamily(
            "greenloop_inbox_rows", "Webhook inbox rows by status.", labels=["status"]
        )
        for status, count in sorted(stats.by_status.items()):
            rows.add_metric([status], count)
        yield rows
        yield _gauge("greenloop_inbox_depth", "Deliveries waiting to be processed.", stats.depth)
        yield _gauge(
            "greenloop_inbox_oldest_pending_seconds",
            "Age of the oldest unprocessed delivery.",
            stats.oldest_pending_seconds or 0,
        )
        lags = [(done - got).total_seconds() for got, done in lag_rows if got and done]
        yield _gauge(
            "greenloop_processing_lag_seconds",
            "Mean receive-to-processed time of the last 100 deliveries.",
            round(sum(lags) / len(lags), 3) if lags else 0,
        )
        # Counts read from the inbox rather than counted in this process, so they are
        # gauges: a restart or a second process does not reset them.
        yield _gauge(
            "greenloop_poll_catches_total", "Changes first seen by the poll, not a webhook.", caught
        )
        yield _gauge(
            "greenloop_webhook_deliveries_total", "Deliveries received by webhook.", webhook_seen
        )
        if last_push is not None:
            yield _gauge(
                "greenloop_push_moved", "Customers moved by the last push.", last_push.moved
            )
            yield _gauge(
                "greenloop_push_failed", "Moves that failed in the last push.", last_push.failed
            )
            yield _gauge(
                "greenloop_push_ok",
                "1 when the last push finished cleanly.",
                1 if last_push.outcome == "ok" else 0,
            )
        if self.budget is not None and self.budget.remaining is not None:
            yield _gauge(
                "greenloop_rate_budget_remaining",
                "Requests left in the API window.",
                self.budget.remaining,
            )
        events = GaugeMetricFamily(
            "greenloop_tier_events", "Outgoing tier-change events by status.", labels=["status"]
        )
        for status, count in sorted(event_counts.items()):
            events.add_metric([status], count)
        yield events
        if isinstance(last_daily, datetime):
            yield _gauge(
                "greenloop_last_daily_success_timestamp_seconds",
                "When the last clean daily run finished (Unix time).",
                int(last_daily.timestamp()),
            )


def _gauge(name: str, help_text: str, value: float) -> GaugeMetricFamily:
    return GaugeMetricFamily(name, help_text, value=value)


def metrics_text(
    engine: Engine, budget: RateBudget | None = None, clock: Callable[[], datetime] | None = None
) -> str:
    """The database figures alone, as text (for a one-off look and for tests)."""
    registry = CollectorRegistry()
    registry.register(StoreFigures(engine, budget, clock))
    return generate_latest(registry).decode()


# The receiver's paths: the current one and the one the retailer's old setup used.
_RECEIVER_PATHS = ("/webhooks/", "/api/webhooks/")


class ReceiveTiming:
    """ASGI middleware timing each webhook request from arrival to the end of its answer,
    so the receiver's p99 is visible in production as the realtime benchmark measures it."""

    def __init__(self, app: ASGIApp, metrics: Metrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not str(scope.get("path", "")).startswith(_RECEIVER_PATHS):
            await self.app(scope, receive, send)
            return
        began = time.perf_counter()
        status = 500

        async def timed_send(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            await send(message)
            if message["type"] == "http.response.body" and not message.get("more_body"):
                self.metrics.observe_receive(time.perf_counter() - began, status)

        await self.app(scope, receive, timed_send)

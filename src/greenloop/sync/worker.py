"""The inbox worker: turn stored webhook deliveries into current facts and tiers.

A delivery is only a hint that something changed: it can be late, repeated, out of
order, or in the old 1.0 shape (reference §8). So the worker never applies the payload.
It re-reads the sale or customer by id from the 2.0 API, upserts it with the version
guard (an older copy never overwrites a newer one), recomputes the persons of the
customers involved, hands each person to ``after_recompute`` and then every profile
of the batch to ``after_batch`` (the tier push). Several deliveries for one object in
a batch cost one read, and a batch costs one recompute and one push: per object, those
two were nearly all of a delivery's time.

A row is settled (done) only after all of that, so a worker that dies half-way leaves
its rows claimed; they return to the queue after ``claim_timeout_seconds`` and are
processed again, which changes nothing twice (every step is idempotent). A failure is
retried with exponential back-off; after ``max_attempts`` the row is parked with its
reason and the queue carries on.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import quote

from sqlalchemy import Engine, select

from greenloop.analytics.options import AnalyzeOptions
from greenloop.analytics.recompute import recompute_customer
from greenloop.config import WebhookSettings
from greenloop.errors import ApiRejected, BadResponse, GreenLoopError
from greenloop.lightspeed import models as m
from greenloop.lightspeed.client import LightspeedClient
from greenloop.logs import redact
from greenloop.store import inbox, repo
from greenloop.store import tables as t
from greenloop.store.analytics_repo import person_scope
from greenloop.store.db_errors import describe_db_error, is_db_error

__all__ = [
    "AfterBatch",
    "AfterRecompute",
    "InboxWorker",
    "WorkerOptions",
    "WorkerReport",
    "worker_name",
]

log = logging.getLogger(__name__)

# Called once per recomputed person with the ids of that person's profiles.
AfterRecompute = Callable[[str, list[str]], None]
# Called once per batch with the profiles of every person it recomputed.
AfterBatch = Callable[[list[str]], None]


@dataclass(frozen=True)
class WorkerOptions:
    batch_size: int = 20
    max_attempts: int = 8
    retry_base_seconds: float = 5.0
    retry_max_seconds: float = 3600.0
    not_found_attempts: int = 3
    claim_timeout_seconds: float = 300.0
    poll_interval_seconds: float = 1.0
    keep_done_days: int = 7

    @classmethod
    def from_settings(cls, settings: WebhookSettings) -> WorkerOptions:
        return cls(
            batch_size=settings.batch_size,
            max_attempts=settings.max_attempts,
            retry_base_seconds=settings.retry_base_seconds,
            retry_max_seconds=settings.retry_max_seconds,
            not_found_attempts=settings.not_found_attempts,
            claim_timeout_seconds=settings.claim_timeout_seconds,
            poll_interval_seconds=settings.poll_interval_seconds,
            keep_done_days=settings.keep_done_days,
        )


@dataclass
class WorkerReport:
    rounds: int = 0
    claimed: int = 0
    # Settled rows by outcome: applied (a newer copy stored), unchanged, gone (deleted).
    applied: int = 0
    unchanged: int = 0
    gone: int = 0
    retried: int = 0
    parked: int = 0
    persons: int = 0
    tier_changes: int = 0
    errors: list[str] = field(default_factory=list)

    def add(self, other: WorkerReport) -> None:
        for name in (
            "rounds",
            "claimed",
            "applied",
            "unchanged",
            "gone",
            "retried",
            "parked",
            "persons",
            "tier_changes",
        ):
            setattr(self, name, getattr(self, name) + getattr(other, name))
        self.errors.extend(other.errors)
        del self.errors[:-20]

    def as_json(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class _Outcome:
    name: str
    persons: int = 0
    tier_changes: int = 0


class _NotYet(Exception):
    """The object is not readable (404) yet; retried a few times before calling it gone."""


def worker_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


class InboxWorker:
    """Claims and processes inbox rows; ``run_forever`` for ``serve``, ``run_once`` for tests."""

    def __init__(
        self,
        engine: Engine,
        client: LightspeedClient,
        analyze: AnalyzeOptions,
        options: WorkerOptions | None = None,
        *,
        after_recompute: AfterRecompute | None = None,
        after_batch: AfterBatch | None = None,
        give_way: Callable[[], None] | None = None,
        name: str | None = None,
        secrets: Sequence[str] = (),
        clock: Callable[[], datetime] | None = None,
    ) -> None:
        self.engine = engine
        self.client = client
        self.analyze = analyze
        self.options = options or WorkerOptions()
        self.after_recompute = after_recompute
        self.after_batch = after_batch
        # Called between objects: lets a busy receiver in the same process answer first.
        self._give_way = give_way or (lambda: None)
        self.name = name or worker_name()
        self._secrets = list(secrets)
        self._clock = clock or (lambda: datetime.now(UTC))

    # -- loops ---------------------------------------------------------------------

    def run_once(self) -> WorkerReport:
        """Claim one batch of due rows and process it."""
        report = WorkerReport(rounds=1)
        opts = self.options
        with self.engine.begin() as conn:
            now = self._clock()
            released = inbox.release_stale(
                conn, now, older_than=timedelta(seconds=opts.claim_timeout_seconds)
            )
            rows = inbox.claim_batch(conn, self.name, now, limit=opts.batch_size)
        if released:
            log.warning("re-queued %d webhook deliveries left by a stopped worker", released)
        report.claimed = len(rows)
        groups: dict[tuple[str, str], list[inbox.InboxRow]] = {}
        for row in rows:
            groups.setdefault((row.type, row.object_id), []).append(row)
        refreshed: list[tuple[list[inbox.InboxRow], str]] = []
        customers: set[str] = set()
        for (kind, object_id), members in groups.items():
            self._give_way()
            done = self._refresh(kind, object_id, members, report)
            if done is not None:
                refreshed.append((members, done[0]))
                customers |= done[1]
        self._give_way()
        self._settle(refreshed, sorted(customers), report)
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
        try:
            while not stop.is_set():
                try:
                    report = self.run_once()
                    if time.monotonic() - last_prune > 3600:
                        self.prune()
                        last_prune = time.monotonic()
                except Exception as exc:  # the database is away: wait and try again
                    log.error("webhook worker round failed: %s", self._clean(exc))
                    stop.wait(self.options.poll_interval_seconds)
                    continue
                total.add(report)
                if report.claimed == 0:
                    stop.wait(self.options.poll_interval_seconds)
        finally:
            released = self.release()
            if released:
                log.info("returned %d unfinished webhook deliveries to the queue", released)
        return total

    def release(self) -> int:
        with self.engine.begin() as conn:
            return inbox.release_claims(conn, self.name)

    def prune(self) -> int:
        with self.engine.begin() as conn:
            return inbox.prune_done(
                conn, self._clock(), older_than=timedelta(days=self.options.keep_done_days)
            )

    # -- one object ------------------------------------------------------------------

    def _refresh(
        self, kind: str, object_id: str, rows: list[inbox.InboxRow], report: WorkerReport
    ) -> tuple[str, set[str]] | None:
        """Re-read and store one object: its outcome and the customers to recompute, or
        None when it failed (its rows are then queued for a retry)."""
        ids = [r.id for r in rows]
        attempts = max(r.attempts for r in rows)
        try:
            changed, customers = self._process(kind, object_id)
        except _NotYet as exc:
            if attempts >= self.options.not_found_attempts:
                log.info("%s %s: %s; taken as deleted", kind, object_id, exc)
                return "gone", set()
            self._fail(ids, str(exc), report)
            return None
        except Exception as exc:
            # Any failure, ours or the API's, is retried and finally parked: one bad
            # delivery must never stop the queue.
            self._fail(ids, f"{kind} {object_id}: {self._clean(exc)}", report)
            return None
        # A retry recomputes even when the facts were stored by the failed attempt. So
        # does a customer already current here: a push's refresh stores customers
        # without recomputing them, and an edited email or phone can join two persons.
        again = attempts > 1 or kind == "customer.update"
        recompute = set(customers) if changed or again else set()
        return ("applied" if changed else "unchanged"), recompute

    def _settle(
        self,
        refreshed: list[tuple[list[inbox.InboxRow], str]],
        customers: list[str],
        report: WorkerReport,
    ) -> None:
        """Recompute and push the batch, then mark its rows done. A row is settled only
        after both, so a worker that dies before leaves it to be processed again."""
        if not refreshed:
            return
        if customers:
            try:
                outcome = self._recompute(customers)
            except Exception as exc:
                ids = [r.id for rows, _ in refreshed for r in rows]
                self._fail(ids, f"recompute: {self._clean(exc)}", report)
                return
            report.persons += outcome.persons
            report.tier_changes += outcome.tier_changes
        with self.engine.begin() as conn:
            now = self._clock()
            for rows, name in refreshed:
                inbox.mark_done(conn, [r.id for r in rows], self.name, now, outcome=name)
        for rows, name in refreshed:
            setattr(report, name, getattr(report, name) + len(rows))

    def _fail(self, ids: list[int], reason: str, report: WorkerReport) -> None:
        opts = self.options
        with self.engine.begin() as conn:
            statuses = inbox.fail(
                conn,
                ids,
                self.name,
                self._clock(),
                reason=reason,
                max_attempts=opts.max_attempts,
                base_seconds=opts.retry_base_seconds,
                max_seconds=opts.retry_max_seconds,
            )
        parked = sum(1 for s in statuses.values() if s == "parked")
        report.parked += parked
        report.retried += len(statuses) - parked
        report.errors.append(reason)
        del report.errors[:-20]
        log.log(logging.ERROR if parked else logging.WARNING, "webhook delivery: %s", reason)

    def _clean(self, exc: BaseException) -> str:
        if is_db_error(exc):
            # Stored as the row's last_error and logged: never the statement's rows.
            return describe_db_error(exc)
        text = exc.one_line() if isinstance(exc, GreenLoopError) else f"{type(exc).__name__}"
        if not isinstance(exc, GreenLoopError) and str(exc):
            text += f": {str(exc)[:300]}"
        return redact(text, self._secrets)

    def _process(self, kind: str, object_id: str) -> tuple[bool, list[str]]:
        """Whether a newer copy was stored, and the customers it concerns."""
        if kind == "sale.update":
            return self._refresh_sale(object_id)
        if kind == "customer.update":
            return self._refresh_customer(object_id), [object_id]
        raise BadResponse(f"the inbox holds an unknown webhook type '{kind}'")

    def _read(self, collection: str, object_id: str) -> dict[str, Any]:
        path = f"/api/2.0/{collection}/{quote(object_id, safe='')}"
        try:
            data = self.client.get_data(path, label=f"webhook:{collection}")
        except ApiRejected as exc:
            if exc.status == 404:
                raise _NotYet(f"{collection} {object_id} is not found in Lightspeed") from None
            raise
        if not isinstance(data, dict) or data.get("id") != object_id:
            raise BadResponse(f"GET {path}: the answer is not that object")
        return data

    def _refresh_sale(self, sale_id: str) -> tuple[bool, list[str]]:
        sale = m.parse_sale(self._read("sales", sale_id))
        cust = t.customers.c
        with self.engine.begin() as conn:
            before = conn.execute(
                select(t.sales.c.customer_id).where(t.sales.c.id == sale_id)
            ).scalar()
            counts = repo.upsert_sales(conn, [sale])
            # A sale moved from one customer to another changes both.
            customers = sorted({c for c in (before, sale.customer_id) if c})
            # One transaction for all of it: on PostgreSQL each one is round trips.
            known = set(conn.execute(select(cust.id).where(cust.id.in_(customers))).scalars())
        changed = counts.new + counts.updated > 0
        for customer_id in customers:
            # A customer created at the till can reach us after their first sale.
            if customer_id not in known:
                changed |= self._fetch_customer(customer_id)
        return changed, customers

    def _fetch_customer(self, customer_id: str) -> bool:
        try:
            return self._refresh_customer(customer_id)
        except _NotYet:
            return False

    def _refresh_customer(self, customer_id: str) -> bool:
        customer = m.parse_customer(self._read("customers", customer_id))
        with self.engine.begin() as conn:
            counts = repo.upsert_versioned(conn, t.customers, [customer])
        return counts.new + counts.updated > 0

    def _recompute(self, customers: list[str]) -> _Outcome:
        result = recompute_customer(self.engine, self.analyze, customers, self._clock())
        outcome = _Outcome(
            "applied", persons=len(result.persons), tier_changes=len(result.tier_changes)
        )
        if self.after_recompute is None and self.after_batch is None:
            return outcome
        everyone: set[str] = set()
        for person_id in result.persons:
            with self.engine.connect() as conn:
                _members, profiles, _emails = person_scope(conn, [person_id])
            everyone |= profiles
            if self.after_recompute is not None:
                self.after_recompute(person_id, sorted(profiles))
        if self.after_batch is not None and everyone:
            self.after_batch(sorted(everyone))
        return outcome

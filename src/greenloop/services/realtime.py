"""A sale's way from a webhook to its customer group, one step at a time.

The receiver has stored the delivery in the inbox (``store.inbox``). From there, each
step is a function here, called in order by the worker loop (``runtime.worker``):

1. :func:`claim` a batch of due deliveries, grouped by object;
2. :func:`refresh` each object: re-read it by id and upsert it (``sync.refresh``);
3. :func:`settle` the batch: recompute the persons of every customer concerned
   (``analytics.recompute``), push their group changes (``services.push``), queue the
   customers the push's refresh stored, and only then mark the rows done.

Several deliveries for one object cost one read, and a batch costs one recompute and
one push: per object, those two were nearly all of a delivery's time. A row is settled
only after all of it, so a worker that dies half-way leaves its rows claimed; they
return to the queue after ``claim_timeout_seconds`` and are processed again, which
changes nothing twice (every step is idempotent). A failure is retried with
exponential back-off; after ``max_attempts`` the row is parked with its reason.

:func:`poll` is the other way in: the reconciliation poll syncs by cursor and sends
whatever changed through the same recompute and push.
"""

from __future__ import annotations

import logging
import os
import socket
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Engine
from sqlalchemy.exc import SQLAlchemyError

from greenloop.analytics.options import AnalyzeOptions
from greenloop.analytics.recompute import recompute_customer
from greenloop.config import Settings, WebhookSettings
from greenloop.errors import GreenLoopError
from greenloop.lightspeed.client import LightspeedClient
from greenloop.logs import redact
from greenloop.services.analysis import analyze_options
from greenloop.services.push import push_customers
from greenloop.store import inbox, repo
from greenloop.store.analytics_repo import person_scope
from greenloop.store.db_errors import describe_db_error, is_db_error
from greenloop.sync.pull import sync
from greenloop.sync.refresh import NotYet
from greenloop.sync.refresh import refresh as refresh_object

__all__ = [
    "Batch",
    "PollReport",
    "Realtime",
    "WorkerOptions",
    "WorkerReport",
    "claim",
    "poll",
    "push_profiles",
    "refresh",
    "settle",
    "worker_name",
]

log = logging.getLogger(__name__)


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
class Realtime:
    """What the real-time steps work with: one store, one client (one rate budget)."""

    settings: Settings
    engine: Engine
    client: LightspeedClient
    analyze: AnalyzeOptions
    options: WorkerOptions
    name: str
    # Push the batch's group changes (serve does; `webhooks process` only recomputes).
    push: bool = False
    clock: Callable[[], datetime] = field(default=lambda: datetime.now(UTC))

    @classmethod
    def for_settings(
        cls,
        settings: Settings,
        engine: Engine,
        client: LightspeedClient,
        *,
        push: bool = False,
        name: str | None = None,
        clock: Callable[[], datetime] | None = None,
    ) -> Realtime:
        return cls(
            settings,
            engine,
            client,
            analyze_options(settings),
            WorkerOptions.from_settings(settings.webhooks),
            name or worker_name(),
            push,
            clock or (lambda: datetime.now(UTC)),
        )

    def clean(self, exc: BaseException) -> str:
        """An error as one line for the row's last_error and the log: never the rows of
        a database statement, never a secret."""
        if is_db_error(exc):
            return describe_db_error(exc)
        text = exc.one_line() if isinstance(exc, GreenLoopError) else type(exc).__name__
        if not isinstance(exc, GreenLoopError) and str(exc):
            text += f": {str(exc)[:300]}"
        return redact(text, self.settings.secrets())


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
    # Each recomputed person with their profiles, in order.
    recomputed: list[tuple[str, list[str]]] = field(default_factory=list)
    # Receive-to-pushed seconds of each delivery whose batch pushed (for /metrics).
    pushed_after: list[float] = field(default_factory=list)

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
        self.recomputed.extend(other.recomputed)
        self.pushed_after.extend(other.pushed_after)

    def as_json(self) -> dict[str, Any]:
        data = asdict(self)
        del data["recomputed"], data["pushed_after"]
        return data


@dataclass
class Batch:
    """One claimed batch on its way through the steps."""

    rows: list[inbox.InboxRow]
    groups: dict[tuple[str, str], list[inbox.InboxRow]]
    report: WorkerReport
    # Refreshed objects' rows with their outcome name, and the customers to recompute.
    refreshed: list[tuple[list[inbox.InboxRow], str]] = field(default_factory=list)
    customers: set[str] = field(default_factory=set)


def worker_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


# -- the steps ---------------------------------------------------------------------------


def claim(rt: Realtime) -> Batch:
    """Claim one batch of due rows (and release rows a stopped worker left claimed)."""
    opts = rt.options
    with rt.engine.begin() as conn:
        now = rt.clock()
        released = inbox.release_stale(
            conn, now, older_than=timedelta(seconds=opts.claim_timeout_seconds)
        )
        rows = inbox.claim_batch(conn, rt.name, now, limit=opts.batch_size)
    if released:
        log.warning("re-queued %d webhook deliveries left by a stopped worker", released)
    groups: dict[tuple[str, str], list[inbox.InboxRow]] = {}
    for row in rows:
        groups.setdefault((row.type, row.object_id), []).append(row)
    return Batch(rows, groups, WorkerReport(rounds=1, claimed=len(rows)))


def refresh(rt: Realtime, batch: Batch, key: tuple[str, str]) -> None:
    """Re-read and store one object of the batch. A failure queues its rows for a retry;
    an error that is not an API or database failure (a bug) parks them at once and is
    raised, so it is seen rather than retried for hours."""
    kind, object_id = key
    rows = batch.groups[key]
    ids = [r.id for r in rows]
    attempts = max(r.attempts for r in rows)
    try:
        changed, customers = refresh_object(rt.engine, rt.client, kind, object_id)
    except NotYet as exc:
        if attempts >= rt.options.not_found_attempts:
            log.info("%s %s: %s; taken as deleted", kind, object_id, exc)
            batch.refreshed.append((rows, "gone"))
            return
        _fail(rt, ids, str(exc), batch.report)
        return
    except (GreenLoopError, SQLAlchemyError) as exc:
        _fail(rt, ids, f"{kind} {object_id}: {rt.clean(exc)}", batch.report)
        return
    except Exception as exc:
        _fail(rt, ids, f"{kind} {object_id}: {rt.clean(exc)}", batch.report, park=True)
        raise
    # A retry recomputes even when the facts were stored by the failed attempt. So does
    # a customer already current here: a push's refresh stores customers without
    # recomputing them, and an edited email or phone can join two persons.
    again = attempts > 1 or kind == "customer.update"
    if changed or again:
        batch.customers |= set(customers)
    batch.refreshed.append((rows, "applied" if changed else "unchanged"))


def settle(rt: Realtime, batch: Batch) -> WorkerReport:
    """Recompute and push the batch, then mark its rows done: only after both, so a
    worker that dies before leaves them to be processed again."""
    report = batch.report
    if not batch.refreshed:
        return report
    if batch.customers:
        try:
            _recompute_and_push(rt, sorted(batch.customers), report)
        except (GreenLoopError, SQLAlchemyError) as exc:
            ids = [r.id for rows, _ in batch.refreshed for r in rows]
            _fail(rt, ids, f"recompute: {rt.clean(exc)}", report)
            return report
    with rt.engine.begin() as conn:
        now = rt.clock()
        for rows, name in batch.refreshed:
            inbox.mark_done(conn, [r.id for r in rows], rt.name, now, outcome=name)
    for rows, name in batch.refreshed:
        setattr(report, name, getattr(report, name) + len(rows))
    if rt.push and batch.customers:
        report.pushed_after.extend(
            (now - r.received_at).total_seconds() for rows, _ in batch.refreshed for r in rows
        )
    return report


def _recompute_and_push(rt: Realtime, customers: list[str], report: WorkerReport) -> None:
    result = recompute_customer(rt.engine, rt.analyze, customers, rt.clock())
    report.persons += len(result.persons)
    report.tier_changes += len(result.tier_changes)
    everyone: set[str] = set()
    with rt.engine.connect() as conn:
        for person_id in result.persons:
            _members, profiles, _emails = person_scope(conn, [person_id])
            everyone |= profiles
            report.recomputed.append((person_id, sorted(profiles)))
    if rt.push and everyone:
        push_profiles(rt, sorted(everyone))


def _fail(
    rt: Realtime, ids: list[int], reason: str, report: WorkerReport, *, park: bool = False
) -> None:
    opts = rt.options
    with rt.engine.begin() as conn:
        statuses = inbox.fail(
            conn,
            ids,
            rt.name,
            rt.clock(),
            reason=reason,
            max_attempts=1 if park else opts.max_attempts,
            base_seconds=opts.retry_base_seconds,
            max_seconds=opts.retry_max_seconds,
        )
    parked = sum(1 for s in statuses.values() if s == "parked")
    report.parked += parked
    report.retried += len(statuses) - parked
    report.errors.append(reason)
    del report.errors[:-20]
    log.log(logging.ERROR if parked else logging.WARNING, "webhook delivery: %s", reason)


# -- pushing and polling -----------------------------------------------------------------


def push_profiles(rt: Realtime, customer_ids: Sequence[str]) -> None:
    """Push these profiles' group changes through the shared budget, then queue the
    other customers the push's refresh stored (a staff edit, say) for recomputing."""
    if not customer_ids:
        return
    with rt.engine.connect() as conn:
        before = repo.get_cursors(conn).get("customers", 0)
    report = push_customers(rt.settings, customer_ids, client=rt.client, engine=rt.engine)
    if not report.ok:
        # The daily push retries it; a delivery must not be parked for this.
        log.warning("push for %d profiles: %s", len(customer_ids), report.error or report.outcome)
    # The profiles this push moved are left out: their own change was the move.
    moved = {m.customer_id for m in report.plan.moves}
    with rt.engine.begin() as conn:
        stored = [
            (cid, version)
            for cid, version in repo.customer_versions_after(conn, before)
            if cid not in moved
        ]
        inbox.queue_refreshed_customers(conn, stored, datetime.now(UTC))


@dataclass
class PollReport:
    changed_customers: int = 0
    caught: int = 0
    persons: int = 0
    seconds: float = 0.0
    error: str | None = None


def poll(rt: Realtime) -> PollReport:
    """Sync customers and sales by cursor; recompute and push whatever changed, and
    record each change no webhook announced as a "poll catch"."""
    began = time.perf_counter()
    now = rt.clock()
    with rt.engine.connect() as conn:
        before = repo.get_cursors(conn)
    sync(
        rt.engine,
        rt.client,
        resources=("customers", "sales"),
        page_size=rt.settings.sync.page_size,
    )
    with rt.engine.connect() as conn:
        customers, objects = repo.changed_since(conn, before)
    report = PollReport(changed_customers=len(customers))
    if customers:
        with rt.engine.begin() as conn:
            report.caught = inbox.record_poll_catches(conn, objects, now)
        result = recompute_customer(rt.engine, rt.analyze, customers, now)
        report.persons = len(result.persons)
        with rt.engine.connect() as conn:
            _members, profiles, _emails = person_scope(conn, result.persons)
        if rt.push and profiles:
            push_profiles(rt, sorted(profiles))
    report.seconds = time.perf_counter() - began
    return report

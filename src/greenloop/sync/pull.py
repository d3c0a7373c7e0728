"""The incremental pull: every resource by its version cursor, a few pages per transaction.

A page's rows and the cursor that covers them commit together, so a crash at any point
resumes from the last committed page with nothing lost and nothing counted twice. Pages
share a transaction, up to :data:`PAGES_PER_COMMIT` of them or :data:`COMMIT_SECONDS`:
a commit writes every page the transaction dirtied, and consecutive pages of sales dirty
many of the same pages (the index pages of random ids), so committing every page wrote
them again and again (a first sync's 200 commits were a quarter of its time). The
retailer object has no version cursor; it is one ``GET`` per run.

One sync runs at a time per database: a run holds the ``sync`` job lock (renewed with
every page), and another one waits ``lock_wait_seconds`` for it, then stops with
:class:`~greenloop.errors.Busy`. Other writers of the same rows (the webhook worker, a
push's refresh) need no lock: every upsert is idempotent and version-guarded, and a
sale's line items are replaced only under the sale row's lock (``repo.upsert_sales``).

A thread fetches and parses the next page while the current one is stored
(:func:`_fetched_ahead`): the API's time to answer, the decoding and the database's
write overlap instead of adding up. It runs one page ahead, and a failed fetch reaches
the run after the pages before it, as if fetched in line.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Connection, Engine, Table, insert, update
from sqlalchemy.exc import SQLAlchemyError

from greenloop.errors import Busy, GreenLoopError
from greenloop.lightspeed import models as m
from greenloop.lightspeed.client import LightspeedClient
from greenloop.lightspeed.pagination import Page
from greenloop.store import repo
from greenloop.store import tables as t
from greenloop.store.db_errors import describe_db_error, is_db_error
from greenloop.store.locks import job_lock, renew_lock
from greenloop.store.planner_stats import GrowthWatch

__all__ = ["RESOURCES", "ResourceResult", "ResourceSpec", "SyncReport", "sync"]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ResourceSpec:
    name: str
    path: str
    table: Table
    parse: Callable[[dict[str, Any]], Any]
    # /sales has no `deleted` parameter (2.0 spec, ListSales); the other collections
    # need deleted=true or soft deletes never arrive.
    has_deleted_param: bool = True


RESOURCES: dict[str, ResourceSpec] = {
    spec.name: spec
    for spec in (
        ResourceSpec("outlets", "/api/2.0/outlets", t.outlets, m.parse_outlet),
        ResourceSpec("registers", "/api/2.0/registers", t.registers, m.parse_register),
        ResourceSpec("users", "/api/2.0/users", t.users, m.parse_user),
        ResourceSpec(
            "customer_groups", "/api/2.0/customer_groups", t.customer_groups, m.parse_customer_group
        ),
        ResourceSpec("customers", "/api/2.0/customers", t.customers, m.parse_customer),
        ResourceSpec("sales", "/api/2.0/sales", t.sales, m.parse_sale, has_deleted_param=False),
    )
}

# The tables a page looks its ids up in, besides its resource's own: a changed sale's
# line items and payments are replaced.
_LOOKED_UP = {"sales": (t.sales, t.sale_line_items, t.sale_payments)}
# Pages per transaction, and the longest a transaction stays open once a page is in it:
# other writers (the webhook worker, a push's refresh) wait for the commit on SQLite.
PAGES_PER_COMMIT = 5
COMMIT_SECONDS = 1.0


@dataclass
class ResourceResult:
    fetched: int = 0
    new: int = 0
    updated: int = 0
    unchanged: int = 0
    requests: int = 0
    pages: int = 0
    cursor: int | None = None
    seconds: float = 0.0


@dataclass
class SyncReport:
    resources: dict[str, ResourceResult] = field(default_factory=dict)
    full: bool = False
    started_at: datetime | None = None
    finished_at: datetime | None = None

    @property
    def requests(self) -> int:
        return sum(r.requests for r in self.resources.values())

    @property
    def changed(self) -> int:
        return sum(r.new + r.updated for r in self.resources.values())

    def to_json(self) -> dict[str, Any]:
        return {
            "resources": {name: asdict(r) for name, r in self.resources.items()},
            "requests": self.requests,
            "changed": self.changed,
            "full": self.full,
        }


Progress = Callable[[str, ResourceResult], None]

LOCK_NAME = "sync"


@dataclass(frozen=True)
class _Lease:
    """The sync lock as this run holds it, renewed in each page's transaction."""

    holder: str
    ttl: timedelta
    now: Callable[[], datetime]

    def renew(self, conn: Connection) -> None:
        if not renew_lock(conn, LOCK_NAME, self.holder, self.now() + self.ttl):
            raise Busy(
                "this sync's lock was taken over by another run (it looked dead or expired)",
                hint="Raise jobs.lock_minutes if syncs run longer; the other run goes on.",
            )


def sync(
    engine: Engine,
    client: LightspeedClient,
    *,
    resources: Sequence[str],
    page_size: int = 1000,
    full: bool = False,
    progress: Progress | None = None,
    clock: Callable[[], datetime] | None = None,
    lock_wait_seconds: float = 0.0,
    lock_ttl: timedelta = timedelta(hours=3),
) -> SyncReport:
    """Pull each resource from its cursor (or from the start when ``full``).

    :class:`~greenloop.errors.Busy` when another sync holds the lock for longer than
    ``lock_wait_seconds``; a holder that stops renewing loses it after ``lock_ttl``.
    """
    now = clock or (lambda: datetime.now(UTC))
    unknown = [r for r in resources if r != "retailer" and r not in RESOURCES]
    if unknown:
        raise GreenLoopError(f"unknown sync resources: {', '.join(unknown)}")
    with job_lock(
        engine, LOCK_NAME, ttl=lock_ttl, clock=now, wait_seconds=lock_wait_seconds, label="sync"
    ) as holder:
        lease = _Lease(holder, lock_ttl, now)
        report = SyncReport(full=full, started_at=now())
        run_id = _start_run(engine, report)
        try:
            for name in resources:
                result = ResourceResult()
                report.resources[name] = result
                started = time.perf_counter()
                if name == "retailer":
                    _sync_retailer(engine, client, result, now)
                else:
                    _sync_collection(
                        engine,
                        client,
                        RESOURCES[name],
                        result,
                        page_size,
                        full,
                        now,
                        progress,
                        lease,
                    )
                result.seconds = round(time.perf_counter() - started, 3)
                log.debug(
                    "synced %s: %d fetched, %d requests", name, result.fetched, result.requests
                )
        except GreenLoopError as exc:
            _record_end(engine, run_id, report, now(), "failed", exc.one_line())
            raise
        except BaseException as exc:
            if is_db_error(exc):
                _record_end(engine, run_id, report, now(), "failed", describe_db_error(exc))
            else:
                _record_end(engine, run_id, report, now(), "interrupted", None)
            raise
        report.finished_at = now()
        _finish_run(engine, run_id, report, report.finished_at, "ok", None)
        return report


def _record_end(
    engine: Engine,
    run_id: int,
    report: SyncReport,
    at: datetime,
    outcome: str,
    error: str | None,
) -> None:
    """Record how a failed run ended, without hiding its error if the database is away."""
    try:
        _finish_run(engine, run_id, report, at, outcome, error)
    except SQLAlchemyError as exc:
        log.warning("could not record the end of sync run %d: %s", run_id, describe_db_error(exc))


def _sync_retailer(
    engine: Engine, client: LightspeedClient, result: ResourceResult, now: Callable[[], datetime]
) -> None:
    before = client.stats.requests
    retailer = m.parse_retailer(client.get_data("/api/2.0/retailer", label="retailer"))
    result.requests = client.stats.requests - before
    result.fetched = result.pages = 1
    with engine.begin() as conn:
        counts = repo.upsert_retailer(conn, retailer, now())
    result.new, result.updated, result.unchanged = counts.new, counts.updated, counts.unchanged


def _sync_collection(
    engine: Engine,
    client: LightspeedClient,
    spec: ResourceSpec,
    result: ResourceResult,
    page_size: int,
    full: bool,
    now: Callable[[], datetime],
    progress: Progress | None,
    lease: _Lease,
) -> None:
    with engine.connect() as conn:
        start = 0 if full else repo.get_cursor(conn, spec.name)
    result.cursor = start
    before = client.stats.requests
    pages = client.iter_version_pages(
        spec.path,
        after=start,
        page_size=page_size,
        deleted=True if spec.has_deleted_param else None,
        label=spec.name,
    )
    growth = GrowthWatch(_LOOKED_UP.get(spec.name, (spec.table,)))
    with (
        _fetched_ahead(pages, spec.parse, spec.name) as parsed,
        _PageGroups(engine, spec.name, result, progress) as groups,
    ):
        for page, objects in parsed:
            result.pages += 1
            result.requests = client.stats.requests - before
            if not page.items:
                break
            assert page.max_version is not None
            conn = groups.connection()
            if spec.name == "sales":
                counts = repo.upsert_sales(conn, objects)
            else:
                counts = repo.upsert_versioned(conn, spec.table, objects)
            growth.added(conn, counts.new)
            repo.set_cursor(conn, spec.name, page.max_version, now())
            lease.renew(conn)
            groups.written(len(objects), counts, page.max_version)
    result.requests = client.stats.requests - before


class _PageGroups:
    """Pages written a few to a transaction (see the module's docstring).

    ``result`` counts a page only once its transaction committed, so a failed run's
    report and log say what was stored. A failure while a page is written rolls back
    the pages not yet committed (the next run fetches them again from the committed
    cursor); a failure between pages (the next page's fetch: a 5xx, the rate limit's
    bound, a lost connection) commits the pages written so far first, so an API that
    fails every few pages still lets each run get further.
    """

    def __init__(
        self, engine: Engine, name: str, result: ResourceResult, progress: Progress | None
    ) -> None:
        self._engine = engine
        self._name = name
        self._result = result
        self._progress = progress
        self._conn: Connection | None = None
        self._opened = 0.0
        self._writing = False  # a page's writes began and it is not yet written
        self._held: list[tuple[int, repo.UpsertCounts, int]] = []

    def __enter__(self) -> _PageGroups:
        return self

    def __exit__(self, kind: object, error: object, trace: object) -> None:
        if self._conn is None:
            return
        if error is None or not self._writing:
            self._commit()
        else:
            conn, self._conn = self._conn, None
            try:
                conn.rollback()
            finally:
                conn.close()

    def connection(self) -> Connection:
        """The connection to write the next page with (in a new transaction if none is
        open)."""
        self._writing = True
        if self._conn is None:
            self._conn = self._engine.connect()
            self._conn.begin()
            self._opened = time.monotonic()
        return self._conn

    def written(self, fetched: int, counts: repo.UpsertCounts, cursor: int) -> None:
        """A page is in the transaction; commit when it holds enough or is old enough."""
        self._writing = False
        self._held.append((fetched, counts, cursor))
        old = time.monotonic() - self._opened >= COMMIT_SECONDS
        if len(self._held) >= PAGES_PER_COMMIT or old:
            self._commit()

    def _commit(self) -> None:
        conn, self._conn = self._conn, None
        assert conn is not None
        try:
            conn.commit()
        finally:
            conn.close()
        result = self._result
        for fetched, counts, cursor in self._held:
            result.fetched += fetched
            result.new += counts.new
            result.updated += counts.updated
            result.unchanged += counts.unchanged
            result.cursor = cursor
        self._held.clear()
        if self._progress is not None:
            self._progress(self._name, result)


_END = object()


@contextmanager
def _fetched_ahead(
    pages: Iterator[Page], parse: Callable[[dict[str, Any]], Any], name: str
) -> Iterator[Iterator[tuple[Page, list[Any]]]]:
    """The pages with their parsed objects, fetched and parsed one page ahead in a
    thread. An error there is raised here in its turn; leaving the block stops the
    thread (a request under way is left to finish or fail on its own)."""
    handed: queue.Queue[object] = queue.Queue(maxsize=1)
    stop = threading.Event()

    def hand(item: object) -> bool:
        while not stop.is_set():
            try:
                handed.put(item, timeout=0.1)
            except queue.Full:
                continue
            return True
        return False

    def fetch() -> None:
        try:
            for page in pages:
                if not hand((page, [parse(item) for item in page.items])):
                    return
            hand(_END)
        except BaseException as exc:  # raised again in the caller's thread
            hand(exc)
        finally:
            close = getattr(pages, "close", None)
            if close is not None:
                close()

    def received() -> Iterator[tuple[Page, list[Any]]]:
        while (item := handed.get()) is not _END:
            if isinstance(item, BaseException):
                raise item
            yield item  # type: ignore[misc]

    worker = threading.Thread(target=fetch, name=f"sync-fetch-{name}", daemon=True)
    worker.start()
    try:
        yield received()
    finally:
        stop.set()


def _start_run(engine: Engine, report: SyncReport) -> int:
    assert report.started_at is not None
    with engine.begin() as conn:
        row = conn.execute(
            insert(t.sync_runs).returning(t.sync_runs.c.id),
            {
                "started_at": report.started_at,
                "full": report.full,
                "outcome": "running",
                "requests": 0,
                "detail": {},
            },
        ).one()
    return int(row.id)


def _finish_run(
    engine: Engine,
    run_id: int,
    report: SyncReport,
    finished_at: datetime,
    outcome: str,
    error: str | None,
) -> None:
    with engine.begin() as conn:
        conn.execute(
            update(t.sync_runs)
            .where(t.sync_runs.c.id == run_id)
            .values(
                finished_at=finished_at,
                outcome=outcome,
                requests=report.requests,
                detail=report.to_json(),
                error=error,
            )
        )

"""``greenloop import-ecom``: export files into ``ecom_orders``, idempotently.

Each file is one transaction. Orders are upserted by ``order_number`` and compared by a
hash of their content: re-importing a file changes nothing, and a newer export of an
order replaces its status and items. "Newer" means the export's snapshot time (the
latest order time seen in the file so far: exports list the newest order first), so an
older export imported afterwards never undoes a newer one. Rejected orders store
nothing; everything else in the file imports.

Reading a large file runs in a child process (:mod:`greenloop.ecom.worker`) while this
one writes, and rows travel in stored form (:mod:`greenloop.ecom.staging`) straight to
the driver (``executemany`` on SQLite, ``COPY`` on PostgreSQL). When ``ecom_orders`` is
empty as a file starts, there is nothing to compare with, so stored rows are not looked
up.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, insert
from sqlalchemy.exc import DataError

from greenloop.ecom.dialect import fallback_encoding
from greenloop.ecom.report import NotContiguous, NotUtf8, ReadAgain, ReadReport
from greenloop.ecom.staging import ITEM_ROW_COLUMNS, ORDER_ROW_COLUMNS, Batch, StageJob
from greenloop.ecom.values import AmbiguousPolicy, ValueLimits
from greenloop.ecom.worker import StagedFile, stage_file
from greenloop.errors import InputFileError
from greenloop.process.collector import rare_collections
from greenloop.store import tables as t
from greenloop.store.bulk import any_of, insert_stored
from greenloop.store.bulk_indexes import indexes_built_after
from greenloop.store.planner_stats import GrowthWatch

__all__ = ["ORDER_ROW_COLUMNS", "FileResult", "ImportResult", "import_exports", "read_again"]

_FIRST_IMPORTED = ORDER_ROW_COLUMNS.index("first_imported_at")
_SNAPSHOT = ORDER_ROW_COLUMNS.index("snapshot_at")
_HASH = ORDER_ROW_COLUMNS.index("content_hash")
_IMPORT_CACHE_KIB = -16384  # a negative cache_size is in KiB


@dataclass
class FileResult:
    file: str
    rows: int = 0
    orders_new: int = 0
    orders_updated: int = 0
    orders_unchanged: int = 0
    orders_older_export: int = 0
    line_items: int = 0
    report: ReadReport | None = None


@dataclass
class ImportResult:
    files: list[FileResult] = field(default_factory=list)
    dry_run: bool = False

    def _sum(self, name: str) -> int:
        return sum(int(getattr(f, name)) for f in self.files)

    @property
    def rejected(self) -> list[dict[str, Any]]:
        return [
            {"file": e.file, "line": e.line, "column": e.column, "message": e.one_line()}
            for f in self.files
            if f.report
            for e in f.report.rejected
        ]

    @property
    def warnings(self) -> list[str]:
        return [w for f in self.files if f.report for w in f.report.warnings]

    def to_json(self) -> dict[str, Any]:
        return {
            "orders_new": self._sum("orders_new"),
            "orders_updated": self._sum("orders_updated"),
            "orders_unchanged": self._sum("orders_unchanged"),
            "orders_older_export": self._sum("orders_older_export"),
            "line_items": self._sum("line_items"),
            "rows": self._sum("rows"),
            "rejected": self.rejected,
            "warnings": self.warnings,
            "warning_count": sum(f.report.warning_count for f in self.files if f.report),
            "dry_run": self.dry_run,
            "files": [f.file for f in self.files],
        }


def _stored_time(value: Any) -> str:
    """A ``UtcDateTime`` value as read raw from either database, in stored text form."""
    if isinstance(value, datetime):
        return value.astimezone(UTC).isoformat(timespec="microseconds")
    return str(value)


def _write_batch(conn: Connection, batch: Batch, result: FileResult, *, compare: bool) -> None:
    orders, items = batch.order_rows(), batch.item_rows()
    if compare:
        orders, items = _changes(conn, orders, items, result)
    else:
        result.orders_new += len(orders)
    if not orders:
        return
    insert_stored(conn, t.ecom_orders, ORDER_ROW_COLUMNS, orders, upsert_unless_newer="snapshot_at")
    insert_stored(conn, t.ecom_order_items, ITEM_ROW_COLUMNS, items)
    result.line_items += len(items)


def _changes(
    conn: Connection,
    orders: list[tuple[Any, ...]],
    items: list[tuple[Any, ...]],
    result: FileResult,
) -> tuple[list[tuple[Any, ...]], list[tuple[Any, ...]]]:
    """The batch's new and changed orders (with their items); counts the rest."""
    numbers = [order[0] for order in orders]
    matching, params = any_of(conn, "order_number", numbers)
    stored = {
        number: (digest, _stored_time(snapshot), first)
        for number, digest, snapshot, first in conn.exec_driver_sql(
            # Only parameter marks are interpolated; the values are bound.
            "SELECT order_number, content_hash, snapshot_at, first_imported_at "  # noqa: S608
            f"FROM ecom_orders WHERE {matching}",
            params,
        )
    }
    write: list[tuple[Any, ...]] = []
    replaced: list[str] = []
    for order in orders:
        old = stored.get(order[0])
        if old is None:
            result.orders_new += 1
            write.append(order)
            continue
        digest, snapshot, first_imported = old
        if digest == order[_HASH]:
            result.orders_unchanged += 1
        elif snapshot > order[_SNAPSHOT]:
            result.orders_older_export += 1
            result.orders_unchanged += 1
        else:
            result.orders_updated += 1
            row = list(order)
            row[_FIRST_IMPORTED] = _stored_time(first_imported)
            write.append(tuple(row))
            replaced.append(order[0])
    if replaced:
        matching, params = any_of(conn, "order_number", replaced)
        conn.exec_driver_sql(f"DELETE FROM ecom_order_items WHERE {matching}", params)  # noqa: S608
    keep = {order[0] for order in write}
    return write, [item for item in items if item[0] in keep]


def _import_file(conn: Connection, path: Path, staged: StagedFile, result: FileResult) -> None:
    # Nothing stored yet: every order of this file is new (a file holds each order
    # once), so the per-batch look-ups of stored hashes would find nothing. Should
    # another import store some of the same orders meanwhile, this file's item rows
    # collide with theirs and the whole file rolls back, rather than merge unchecked.
    compare = conn.exec_driver_sql("SELECT 1 FROM ecom_orders LIMIT 1").first() is not None
    # A first import of a large export loads both tables whole: their secondary indexes
    # are built once afterwards (about 2 s of a 1M-row file's 12 s of writing, SQLite).
    rows = 0 if compare else _rows_in(path)
    # The look-ups are planned from PostgreSQL's statistics, which lag a table that an
    # earlier file (or this one) has just filled (store/planner_stats.py).
    growth = GrowthWatch((t.ecom_orders, t.ecom_order_items))
    if compare:
        growth.catch_up(conn)
    with indexes_built_after(conn, (t.ecom_orders, t.ecom_order_items), rows):
        for batch in staged:
            new = result.orders_new
            _write_batch(conn, batch, result, compare=compare)
            if compare:
                growth.added(conn, result.orders_new - new)


@contextmanager
def _import_page_cache(conn: Connection) -> Iterator[None]:
    """SQLite: a 16 MB page cache while an export loads, not the engine's 64 MB (kept for
    the analysis' reads). Loading 1M rows into the two tables took as long either way
    (9.1-10.4 s, alternated), and the import's peak memory drops by the difference."""
    if conn.dialect.name != "sqlite":
        yield
        return
    before = conn.exec_driver_sql("PRAGMA cache_size").scalar()
    conn.exec_driver_sql(f"PRAGMA cache_size = {_IMPORT_CACHE_KIB}")
    try:
        yield
    finally:
        conn.exec_driver_sql(f"PRAGMA cache_size = {int(before or _IMPORT_CACHE_KIB)}")


def _rows_in(path: Path) -> int:
    """About how many rows an export holds: its rows take 400 bytes or more (the real
    export has over 100 columns), so this never counts too many."""
    try:
        return path.stat().st_size // 400
    except OSError:
        return 0


def import_exports(
    engine: Engine,
    paths: Iterable[Path],
    *,
    timezone: str,
    day_first: bool = False,
    ambiguous: AmbiguousPolicy = "earlier",
    dry_run: bool = False,
    clock: Callable[[], datetime] | None = None,
    parallel: bool | None = None,
    limits: ValueLimits | None = None,
    columnar: bool = False,
) -> ImportResult:
    """Import each file in its own transaction (rolled back when ``dry_run``).

    ``parallel`` reads in a child process while writing (``None``: for large files).
    ``limits`` refuses orders with values no store produces; order times may be at most
    ``limits.max_future`` after now. ``columnar`` reads UTF-8 files by columns
    (:mod:`greenloop.ecom.columnar`); off, every file goes the row path.
    """
    now = (clock or (lambda: datetime.now(UTC)))()
    limits = limits or ValueLimits()
    if limits.latest is None:
        limits = replace(limits, latest=now + limits.max_future)
    with rare_collections():
        return _import_all(
            engine,
            paths,
            timezone=timezone,
            day_first=day_first,
            ambiguous=ambiguous,
            dry_run=dry_run,
            now=now,
            parallel=parallel,
            limits=limits,
            columnar=columnar,
        )


def read_again(job: StageJob, again: ReadAgain) -> StageJob:
    """The job that reads ``job``'s file the way ``again`` says it must be read."""
    if isinstance(again, NotContiguous):
        return replace(job, in_memory=True)
    return replace(job, encoding=fallback_encoding(job.path))


def _import_all(
    engine: Engine,
    paths: Iterable[Path],
    *,
    timezone: str,
    day_first: bool,
    ambiguous: AmbiguousPolicy,
    dry_run: bool,
    now: datetime,
    parallel: bool | None,
    limits: ValueLimits,
    columnar: bool,
) -> ImportResult:
    result = ImportResult(dry_run=dry_run)
    for path in paths:
        path = Path(path)
        job = StageJob.limited(
            limits,
            path=path,
            timezone=timezone,
            day_first=day_first,
            ambiguous=ambiguous,
            now=now.astimezone(UTC).isoformat(timespec="microseconds"),
            columnar=columnar,
        )
        while True:
            file_result = FileResult(file=str(path))
            staged = stage_file(job, child=parallel)
            conn = engine.connect()
            tx = conn.begin()
            try:
                with _import_page_cache(conn):
                    _import_file(conn, path, staged, file_result)
            except (NotContiguous, NotUtf8) as again:
                # Read the file again from the start, in the way it needs; nothing of
                # this attempt stays.
                tx.rollback()
                conn.close()
                job = read_again(job, again)
                continue
            except DataError as exc:
                # The reader refuses every value known to break a column; should the
                # database still refuse one, the file is reported, not the row data
                # (the driver's message quotes it).
                tx.rollback()
                conn.close()
                raise InputFileError(
                    f"{path}: the database refused a value of this file "
                    f"({type(exc.orig).__name__}); nothing of it was imported",
                    hint="Re-export the file from the eCom admin; if it persists, report it.",
                ) from None
            except BaseException:
                tx.rollback()
                conn.close()
                raise
            finally:
                staged.close()
            report = staged.report
            file_result.rows = report.rows
            file_result.report = report
            if job.in_memory:
                report.warn(
                    f"{path}: an order's rows were not together (was the file re-sorted?); "
                    "it was read whole into memory"
                )
            if dry_run:
                tx.rollback()
            else:
                _record(conn, path, file_result, now)
                tx.commit()
            conn.close()
            break
        result.files.append(file_result)
    return result


def _record(conn: Connection, path: Path, result: FileResult, now: datetime) -> None:
    report = result.report
    assert report is not None
    assert report.dialect is not None
    conn.execute(
        insert(t.ecom_imports),
        {
            "file": str(path),
            "sha256": report.dialect.sha256,
            "imported_at": now,
            "rows": result.rows,
            "orders_new": result.orders_new,
            "orders_updated": result.orders_updated,
            "orders_unchanged": result.orders_unchanged,
            "line_items": result.line_items,
            "rejected": [e.one_line() for e in report.rejected],
            "warnings": report.warnings,
        },
    )

"""``greenloop import-ecom``: export files into ``ecom_orders``, idempotently.

Each file is one transaction. Orders are upserted by ``order_number`` and compared by a
hash of their content: re-importing a file changes nothing, and a newer export of an
order replaces its status and items. "Newer" means the export's snapshot time (the
latest order time seen in the file so far: exports list the newest order first), so an
older export imported afterwards never undoes a newer one. Rejected orders store
nothing; everything else in the file imports.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, delete, insert, select

from greenloop.ecom.reader import EcomOrder, ExportReader, NotContiguous, ReadReport
from greenloop.ecom.values import AmbiguousPolicy
from greenloop.store import tables as t
from greenloop.store.bulk import bulk_insert, bulk_upsert

__all__ = ["FileResult", "ImportResult", "import_exports"]

_BATCH = 2000
_ITEM_COLUMNS = tuple(c.name for c in t.ecom_order_items.columns)

ORDER_ROW_COLUMNS = (
    "order_number",
    "email",
    "customer_name",
    "phone",
    "placed_at",
    "placed_local",
    "pickup_at",
    "payment_status_code",
    "fulfillment_status_code",
    "payment_method",
    "shipping_method",
    "subtotal",
    "tax",
    "shipping",
    "handling_fee",
    "discount",
    "coupon_code",
    "coupon_discount",
    "gift_card_redemption",
    "total",
    "xseries_order_id",
    "tracking_number",
    "snapshot_at",
    "content_hash",
    "source_file",
    "source_line",
    "first_imported_at",
    "imported_at",
)


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


def _content_hash(order: EcomOrder) -> str:
    parts: list[str] = [
        order.email,
        order.placed_local,
        order.payment_status_code,
        order.fulfillment_status_code or "",
        str(order.total),
        str(order.subtotal),
        str(order.tax),
        str(order.shipping),
        str(order.discount),
        order.xseries_order_id or "",
        order.tracking_number or "",
        order.customer_name or "",
        order.phone or "",
        order.payment_method or "",
        order.shipping_method or "",
    ]
    for item in order.items:
        parts += [item.sku or "", item.name, str(item.price), str(item.quantity), str(item.total)]
    return hashlib.sha256("\x1f".join(parts).encode()).hexdigest()


def _order_row(order: EcomOrder, snapshot: datetime, digest: str, now: datetime) -> list[Any]:
    # In the column order of ``ecom_orders`` (checked by a test against the table).
    return [
        order.order_number,
        order.email,
        order.customer_name,
        order.phone,
        order.placed_at,
        order.placed_local,
        order.pickup_at,
        order.payment_status_code,
        order.fulfillment_status_code,
        order.payment_method,
        order.shipping_method,
        order.subtotal,
        order.tax,
        order.shipping,
        order.handling_fee,
        order.discount,
        order.coupon_code,
        order.coupon_discount,
        order.gift_card_redemption,
        order.total,
        order.xseries_order_id,
        order.tracking_number,
        snapshot,
        digest,
        order.file,
        order.line,
        now,
        now,
    ]


def _write_batch(
    conn: Connection,
    batch: Sequence[tuple[EcomOrder, datetime]],
    result: FileResult,
    now: datetime,
) -> None:
    numbers = [order.order_number for order, _ in batch]
    stored = {
        row.order_number: row
        for row in conn.execute(
            select(
                t.ecom_orders.c.order_number,
                t.ecom_orders.c.content_hash,
                t.ecom_orders.c.snapshot_at,
                t.ecom_orders.c.first_imported_at,
            ).where(t.ecom_orders.c.order_number.in_(numbers))
        )
    }
    write: list[list[Any]] = []
    replaced: list[str] = []
    items: list[tuple[Any, ...]] = []
    first_imported = ORDER_ROW_COLUMNS.index("first_imported_at")
    for order, snapshot in batch:
        digest = _content_hash(order)
        old = stored.get(order.order_number)
        if old is not None and old.content_hash == digest:
            result.orders_unchanged += 1
            continue
        if old is not None and old.snapshot_at > snapshot:
            result.orders_older_export += 1
            result.orders_unchanged += 1
            continue
        row = _order_row(order, snapshot, digest, now)
        if old is None:
            result.orders_new += 1
        else:
            result.orders_updated += 1
            row[first_imported] = old.first_imported_at
            replaced.append(order.order_number)
        write.append(row)
        items += [
            (order.order_number, i.position, i.sku, i.name, i.price, i.quantity, i.total, i.options)
            for i in order.items
        ]
    if replaced:
        conn.execute(
            delete(t.ecom_order_items).where(t.ecom_order_items.c.order_number.in_(replaced))
        )
    bulk_upsert(conn, t.ecom_orders, ORDER_ROW_COLUMNS, write, version_guard=False)
    bulk_insert(conn, t.ecom_order_items, _ITEM_COLUMNS, items)
    result.line_items += len(items)


def _import_file(
    conn: Connection, reader: ExportReader, result: FileResult, now: datetime, in_memory: bool
) -> None:
    snapshot: datetime | None = None
    batch: list[tuple[EcomOrder, datetime]] = []
    for order in reader.orders(in_memory=in_memory):
        snapshot = order.placed_at if snapshot is None else max(snapshot, order.placed_at)
        batch.append((order, snapshot))
        if len(batch) >= _BATCH:
            _write_batch(conn, batch, result, now)
            batch = []
    if batch:
        _write_batch(conn, batch, result, now)


def import_exports(
    engine: Engine,
    paths: Iterable[Path],
    *,
    timezone: str,
    day_first: bool = False,
    ambiguous: AmbiguousPolicy = "earlier",
    dry_run: bool = False,
    clock: Callable[[], datetime] | None = None,
) -> ImportResult:
    """Import each file in its own transaction (rolled back when ``dry_run``)."""
    now = (clock or (lambda: datetime.now(UTC)))()
    result = ImportResult(dry_run=dry_run)
    for path in paths:
        path = Path(path)
        in_memory = False
        while True:
            reader = ExportReader(path, timezone=timezone, day_first=day_first, ambiguous=ambiguous)
            file_result = FileResult(file=str(path))
            conn = engine.connect()
            tx = conn.begin()
            try:
                _import_file(conn, reader, file_result, now, in_memory)
            except NotContiguous:
                # Rows of one order are split (the file was re-sorted): start this file
                # again, grouping all rows in memory.
                tx.rollback()
                conn.close()
                in_memory = True
                continue
            except BaseException:
                tx.rollback()
                conn.close()
                raise
            file_result.rows = reader.report.rows
            file_result.report = reader.report
            if in_memory:
                reader.report.warn(
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

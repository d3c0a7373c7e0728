"""Export records turned into the rows ``import-ecom`` stores, in batches.

Two halves that can run in different processes (see :mod:`greenloop.ecom.worker`):
:func:`read_records` reads and checks the file (it imports nothing heavier than the
reader), and :class:`Stager` turns its records into rows where they are written. A
batch holds ``ecom_orders`` rows (:data:`ORDER_ROW_COLUMNS`) and ``ecom_order_items``
rows (:data:`ITEM_ROW_COLUMNS`) in stored form: money as canonical ``Decimal`` text,
times as ISO-8601 UTC text, which is what the ``Money`` and ``UtcDateTime`` columns
store on SQLite and what PostgreSQL casts to ``NUMERIC`` and ``timestamptz``. Plain
strings and integers also travel between processes far faster than ``Decimal`` and
``datetime`` objects.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

from greenloop.ecom.reader import ExportReader
from greenloop.ecom.records import ITEM_RECORD, ORDER_RECORD, ItemRecord, OrderRecord
from greenloop.ecom.values import AmbiguousPolicy, ValueLimits

__all__ = [
    "ITEM_ROW_COLUMNS",
    "ORDER_ROW_COLUMNS",
    "Batch",
    "Record",
    "StageJob",
    "Stager",
    "content_hash",
    "read_records",
    "stage",
]

ORDER_ROW_COLUMNS = (
    *ORDER_RECORD,
    "snapshot_at",
    "content_hash",
    "source_file",
    "source_line",
    "first_imported_at",
    "imported_at",
)
ITEM_ROW_COLUMNS = ITEM_RECORD
BATCH_ORDERS = 2000
_DEFAULT_LIMITS = ValueLimits()
# One valid order as the reader gives it: its record, first line, and item records.
Record = tuple[OrderRecord, int, list[ItemRecord]]


@dataclass(frozen=True)
class StageJob:
    """Everything needed to read one export and stage its rows (plain data, so it can
    be sent to a worker process)."""

    path: Path
    timezone: str
    now: str  # the import's time, as stored (ISO-8601 UTC text)
    day_first: bool = False
    ambiguous: AmbiguousPolicy = "earlier"
    encoding: str | None = None
    in_memory: bool = False
    hash_file: bool = True
    columnar: bool = False  # read by columns when the file allows (greenloop.ecom.columnar)
    batch_orders: int = field(default_factory=lambda: BATCH_ORDERS)
    # ValueLimits as text (Decimal and datetime do not cross the worker's pipe).
    max_order_total: str = str(_DEFAULT_LIMITS.max_order_total)
    max_quantity: str = str(_DEFAULT_LIMITS.max_quantity)
    earliest: str = _DEFAULT_LIMITS.earliest.isoformat()
    latest: str | None = None

    @classmethod
    def limited(cls, limits: ValueLimits, **fields: Any) -> StageJob:
        """A job reading with ``limits``."""
        return cls(
            **fields,
            max_order_total=str(limits.max_order_total),
            max_quantity=str(limits.max_quantity),
            earliest=limits.earliest.isoformat(),
            latest=limits.latest.isoformat() if limits.latest is not None else None,
        )

    def limits(self) -> ValueLimits:
        return ValueLimits(
            max_order_total=Decimal(self.max_order_total),
            max_quantity=Decimal(self.max_quantity),
            earliest=datetime.fromisoformat(self.earliest),
            latest=datetime.fromisoformat(self.latest) if self.latest is not None else None,
        )

    def reader(self) -> ExportReader:
        return ExportReader(
            self.path,
            timezone=self.timezone,
            day_first=self.day_first,
            ambiguous=self.ambiguous,
            encoding=self.encoding,
            hash_file=self.hash_file,
            limits=self.limits(),
            columnar=self.columnar,
        )


@dataclass(slots=True)
class Batch:
    orders: list[tuple[Any, ...]]
    items: list[tuple[Any, ...]]


# Positions in an order record, for the hash.
_O = {name: i for i, name in enumerate(ORDER_RECORD)}
_PLACED, _EMAIL, _LOCAL, _CODE, _FULFIL, _TOTAL, _SUBTOTAL, _TAX, _SHIPPING, _DISCOUNT = (
    _O[name]
    for name in (
        "placed_at",
        "email",
        "placed_local",
        "payment_status_code",
        "fulfillment_status_code",
        "total",
        "subtotal",
        "tax",
        "shipping",
        "discount",
    )
)
_HINT, _TRACKING, _NAME, _PHONE, _PAY, _SHIP = (
    _O[name]
    for name in (
        "xseries_order_id",
        "tracking_number",
        "customer_name",
        "phone",
        "payment_method",
        "shipping_method",
    )
)


def content_hash(order: OrderRecord, items: list[ItemRecord]) -> str:
    """What decides "unchanged" on a re-import: the order's customer-visible content.

    The parts are the texts ``str()`` gave when these were ``Decimal`` objects (``None``
    becomes ``'None'``), so hashes match those stored by earlier versions.
    """
    parts = [
        order[_EMAIL],
        order[_LOCAL],
        order[_CODE],
        order[_FULFIL] or "",
        order[_TOTAL],
        str(order[_SUBTOTAL]),
        str(order[_TAX]),
        str(order[_SHIPPING]),
        str(order[_DISCOUNT]),
        order[_HINT] or "",
        order[_TRACKING] or "",
        order[_NAME] or "",
        order[_PHONE] or "",
        order[_PAY] or "",
        order[_SHIP] or "",
    ]
    for _, _, sku, name, price, quantity, total, _ in items:
        parts += (sku or "", name, price, quantity, total)
    return hashlib.sha256("\x1f".join(parts).encode()).hexdigest()


def read_records(reader: ExportReader, job: StageJob) -> Iterator[list[Record]]:
    """The reading half: the file's valid orders as records, ``job.batch_orders`` at a
    time. When the iterator is exhausted, ``reader.report`` is complete."""
    batch: list[Record] = []
    for record in reader.records(in_memory=job.in_memory):
        batch.append(record)
        if len(batch) >= job.batch_orders:
            yield batch
            batch = []
    if batch:
        yield batch


class Stager:
    """The writing half: records in file order become storage rows.

    The snapshot time of each order is the newest order time seen in the file so far
    (exports list the newest order first), as the snapshot guard expects. It runs where
    the rows are written, which in a two-process import is the less busy process.
    """

    def __init__(self, file: str, now: str) -> None:
        self.file = file
        self.now = now
        self.snapshot = ""

    def rows(self, records: list[Record]) -> Batch:
        file, now, snapshot = self.file, self.now, self.snapshot
        orders: list[tuple[Any, ...]] = []
        items: list[tuple[Any, ...]] = []
        for order, line, order_items in records:
            placed = order[_PLACED]
            if placed > snapshot:
                snapshot = placed
            digest = content_hash(order, order_items)
            orders.append((*order, snapshot, digest, file, line, now, now))
            items += order_items
        self.snapshot = snapshot
        return Batch(orders, items)


def stage(reader: ExportReader, job: StageJob) -> Iterator[Batch]:
    """Both halves in one process: the file's storage rows, batch by batch."""
    stager = Stager(reader.name, job.now)
    for records in read_records(reader, job):
        yield stager.rows(records)

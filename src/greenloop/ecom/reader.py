"""Reading an E-Series orders export into orders, streaming, with every problem located.

:class:`ExportReader` is the one entry point; the work is done by the modules it ties
together, in the order a file goes through them:

1. :mod:`~greenloop.ecom.rows` opens the file in its dialect, maps the header and groups
   contiguous rows into orders;
2. :mod:`~greenloop.ecom.orders` checks each order's rows and builds its record, with
   :mod:`~greenloop.ecom.cells` checking each amount and time;
3. :mod:`~greenloop.ecom.report` collects what was refused (by ``file:line: column``)
   and warned about. A broken row refuses its whole order; the rest of the file goes on.

Orders come in two shapes from one validation path (:mod:`~greenloop.ecom.records`).
:meth:`ExportReader.records` gives each order as plain tuples in storage form: every
money cell was parsed to ``Decimal`` (so it is validated) and is carried as that
``Decimal``'s canonical text, times as fixed-width ISO-8601 UTC text. The import's hot
path, :meth:`ExportReader.blocks`, gives the same values, the columnar reader's clean
orders by columns. :meth:`ExportReader.orders` turns the records into
:class:`EcomOrder` with ``Decimal`` and aware ``datetime``.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from greenloop.ecom.cells import CellChecker
from greenloop.ecom.orders import OrderBuilder
from greenloop.ecom.records import (
    ITEM_RECORD,
    ORDER_RECORD,
    Block,
    Chunk,
    EcomItem,
    EcomOrder,
    ItemRecord,
    OrderColumns,
    OrderRecord,
    orders_in,
    to_order,
)
from greenloop.ecom.report import NotContiguous, NotUtf8, ReadAgain, ReadReport
from greenloop.ecom.rows import ExportRows
from greenloop.ecom.values import AmbiguousPolicy, StoreClock, ValueLimits
from greenloop.errors import ConfigError

# The records, the report and the read-again signals live in their own modules; they
# are named here too, as the reader's vocabulary, for callers that import them from it.
__all__ = [
    "ITEM_RECORD",
    "ORDER_RECORD",
    "Chunk",
    "EcomItem",
    "EcomOrder",
    "ExportReader",
    "ItemRecord",
    "NotContiguous",
    "NotUtf8",
    "OrderRecord",
    "ReadAgain",
    "ReadReport",
]


class ExportReader:
    def __init__(
        self,
        path: Path,
        *,
        timezone: str,
        day_first: bool = False,
        ambiguous: AmbiguousPolicy = "earlier",
        display_name: str | None = None,
        encoding: str | None = None,
        hash_file: bool = True,
        limits: ValueLimits | None = None,
        columnar: bool = False,
    ) -> None:
        """``encoding`` forces one; its undecodable bytes then refuse their orders
        (without it, a file that stops being UTF-8 raises :class:`NotUtf8`).
        ``columnar`` reads a UTF-8 file by columns (:mod:`greenloop.ecom.columnar`);
        off, every row goes the row path (the two give the same orders and reports)."""
        self.path = Path(path)
        self.name = display_name or str(path)
        self.limits = limits = limits or ValueLimits()
        try:
            self.zone = ZoneInfo(timezone)
        except (ZoneInfoNotFoundError, ValueError):
            raise ConfigError(
                f"ecom.timezone '{timezone}' is not an IANA time zone",
                hint="Use the store's zone name, e.g. America/Chicago.",
            ) from None
        self.day_first = day_first
        self.ambiguous = ambiguous
        self.encoding = encoding
        self.columnar = columnar
        self.rows_by_columns = 0  # rows the columnar reader gave, before any row path
        self.hash_file = hash_file  # off when someone else computes the file's SHA-256
        self.report = ReadReport(file=self.name)
        clock = StoreClock(self.zone, day_first=day_first, ambiguous=ambiguous)
        self._cells = CellChecker(limits, clock, self.report)

    def records(
        self, *, in_memory: bool = False
    ) -> Iterator[tuple[OrderRecord, int, list[ItemRecord]]]:
        """Valid orders in file order: ``(order, line, items)`` as :data:`ORDER_RECORD`
        and :data:`ITEM_RECORD` tuples. Problems land in ``self.report``.

        Raises :class:`ReadAgain` when the file must be read again: its rows are not
        grouped by order (``NotContiguous``, unless ``in_memory``) or it is not UTF-8
        after all (``NotUtf8``).
        """
        for chunk, _ in self.chunks(in_memory=in_memory):
            yield from chunk

    def chunks(self, *, in_memory: bool = False) -> Iterator[Chunk]:
        """:meth:`records` in lists of up to a few thousand, with the content hashes
        the columnar reader computes by columns."""
        for block in self.blocks(in_memory=in_memory):
            yield block.records() if isinstance(block, OrderColumns) else block

    def blocks(self, *, in_memory: bool = False) -> Iterator[Block]:
        """The import's hot path: :meth:`chunks`, with the columnar reader's clean
        orders left by columns (:class:`OrderColumns`)."""
        count = 0
        try:
            with ExportRows(
                self.path, self.report, encoding=self.encoding, hash_file=self.hash_file
            ) as rows:
                build = OrderBuilder(rows, self._cells, self.report).build
                groups = None
                if self.columnar and not in_memory:
                    # pyarrow loads only when asked for (about 0.4 s at every start).
                    from greenloop.ecom.column_checks import BlockChecker
                    from greenloop.ecom.columnar import ColumnarRows, reads_columns
                if self.columnar and not in_memory and reads_columns(rows.dialect):
                    header = rows.header
                    columnar = ColumnarRows(
                        self.path,
                        rows.dialect,
                        width=len(header.names),
                        key=header.ix["order_number"],
                        checker=BlockChecker(
                            header.ix, header.col, self._cells, excel_like=rows.excel_like
                        ),
                        build=build,
                        hash_file=self.hash_file,
                    )
                    try:
                        for block in columnar.chunks():
                            count += orders_in(block)
                            yield block
                    finally:
                        self.report.rows = self.rows_by_columns = columnar.rows
                    if columnar.resume_at is None:
                        self.report.dialect = replace(rows.dialect, sha256=columnar.sha256)
                        return
                    # The row path carries on where the columnar reader had to stop.
                    groups = rows.groups(False, skip=columnar.resume_at, finished=columnar.finished)
                # One order at a time, as each is built: the row path is the slow one anyway,
                # and what was given before a ReadAgain is counted as before.
                for number, group, lines in groups or rows.groups(in_memory):
                    record = build(number, group, lines)
                    if record is not None:
                        count += 1
                        yield [record], [None]
        finally:
            self.report.orders += count

    def orders(self, *, in_memory: bool = False) -> Iterator[EcomOrder]:
        """Valid orders as domain objects, in file order (see :meth:`records`)."""
        for order, line, items in self.records(in_memory=in_memory):
            yield to_order(order, line, items, self.name)

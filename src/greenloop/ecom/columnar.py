"""Reading an export by columns: pyarrow's CSV reader in the dialect the sniffer found.

:class:`ColumnarRows` streams the file in blocks with ``pyarrow.csv.open_csv`` (every
column read as text, nothing guessed), groups each block's rows into orders, checks
whole columns at once (:mod:`greenloop.ecom.column_checks`) and gives the same records
the row path gives. An order the checks mark (a bad or odd value, a disagreement, a
cell a spreadsheet damaged) is built by the row path's
:class:`~greenloop.ecom.orders.OrderBuilder` from its cells, so what is refused or
warned about is reported exactly as before, by ``file:line: column``.

Line numbers are counted as the ``csv`` module counts them: a row spans one line plus
the line breaks inside its quoted cells. Whatever the columnar reader cannot number or
read the way the ``csv`` module does stops it, and the row path takes over at the first
order not yet given (:attr:`ColumnarRows.resume_at`): a blank line (pyarrow skips it
without a trace), a lone carriage return, a NUL byte, a row with another number of cells
than the header, bytes that are not UTF-8.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from hashlib import sha256
from pathlib import Path
from typing import Any, cast

import numpy as np
import pyarrow as pa  # type: ignore[import-untyped]
import pyarrow.compute as pc  # type: ignore[import-untyped]
import pyarrow.csv as pcsv  # type: ignore[import-untyped]

from greenloop.ecom.column_checks import BlockChecker, stripped
from greenloop.ecom.dialect import Dialect, HashingStream
from greenloop.ecom.records import Block, OrderColumns, Record, orders_in
from greenloop.ecom.report import NotContiguous
from greenloop.ecom.seen_orders import SeenOrders

__all__ = ["BLOCK_BYTES", "ColumnarRows", "reads_columns"]

# Bytes per block: about 350 rows of the real export's width. pyarrow reads several
# blocks ahead, so the block size sets much of the reader's memory: on a 1M-row export
# 256 KB blocks peak about 37 MB lower than 1 MB blocks, as fast (blocks are gathered
# before they are checked); 128 KB blocks read slower.
BLOCK_BYTES = 256 << 10
# Rows checked together: each check calls a few hundred Arrow kernels whatever the
# rows' number, so blocks are gathered to about this many rows first (with 1 MB blocks
# it saved about 5% of the reader's time; the gathered rows hold a few MB).
CHECK_ROWS = 8192
Build = Callable[[str, list[list[str]], list[int]], Record | None]


def reads_columns(dialect: Dialect) -> bool:
    """Whether the columnar reader can read this dialect (UTF-8, with or without BOM)."""
    return dialect.encoding.lower().replace("_", "-") in ("utf-8", "utf-8-sig", "utf8")


class ColumnarRows:
    """One columnar pass over ``path``, whose header has ``width`` cells and the order
    number in column ``key``."""

    def __init__(
        self,
        path: Path,
        dialect: Dialect,
        *,
        width: int,
        key: int,
        checker: BlockChecker,
        build: Build,
        hash_file: bool,
    ) -> None:
        self._path = path
        self._dialect = dialect
        self._width = width
        self._key = key
        self._checker = checker
        self._build = build
        self._hash_file = hash_file
        self.rows = 0  # rows of the orders given so far
        self.finished = SeenOrders()  # their order numbers
        self.resume_at: int | None = None  # rows the row path skips, when it must take over
        self._next_line = 1  # the line the next row read starts on
        self._header = True  # the next row read is the header
        self.sha256 = ""
        self._reader: Any = None

    def chunks(self) -> Iterator[Block]:
        """Valid orders in file order, a few thousand at a time. When it stops early,
        :attr:`resume_at` says how many rows the row path must skip to carry on."""
        stream = HashingStream(self._path, hashing=self._hash_file, scan_lines=True)
        try:
            yield from self._read(stream)
        finally:
            if self._reader is not None:
                self._reader.close()  # before the stream: it may be reading ahead
            stream.close()

    def _read(self, stream: HashingStream) -> Iterator[Block]:
        names = [f"c{index}" for index in range(self._width)]
        try:
            reader = self._reader = pcsv.open_csv(
                stream,
                read_options=pcsv.ReadOptions(
                    column_names=names, block_size=BLOCK_BYTES, use_threads=False
                ),
                parse_options=pcsv.ParseOptions(
                    delimiter=self._dialect.separator,
                    quote_char='"',
                    double_quote=True,
                    escape_char=False,
                    newlines_in_values=True,
                    ignore_empty_lines=True,
                ),
                convert_options=pcsv.ConvertOptions(
                    column_types=dict.fromkeys(names, pa.string()),
                    strings_can_be_null=False,
                    quoted_strings_can_be_null=False,
                    check_utf8=True,
                ),
            )
        except (pa.ArrowException, OSError):
            self.resume_at = 0
            return
        raw: list[Any] = []  # blocks read but not yet numbered
        unnumbered = 0  # their rows
        pending: list[Any] = []  # rows numbered but not yet checked
        waiting = 0  # their number
        while True:
            try:
                batch = reader.read_next_batch()
            except StopIteration:
                break
            except (pa.ArrowException, OSError):
                self.resume_at = self.rows
                return
            if stream.saw_nul or stream.saw_odd_lines:
                self.resume_at = self.rows
                return
            raw.append(batch)
            unnumbered += batch.num_rows
            if waiting + unnumbered < CHECK_ROWS:
                continue
            batch, raw, unnumbered = self._numbered_rows(raw), [], 0
            if batch.num_rows:
                pending.append(batch)
                waiting += batch.num_rows
            if waiting < CHECK_ROWS:
                continue
            batch, pending, waiting = pa.concat_batches(pending), [], 0
            keys, starts = _orders(batch, self._key)
            last = starts.pop()
            # The last order may go on in the next block.
            pending, waiting = [batch.slice(last)], batch.num_rows - last
            if starts:
                yield from self._given(batch.slice(0, last), keys.slice(0, last), starts)
        if stream.saw_nul or stream.saw_odd_lines:
            self.resume_at = self.rows
            return
        if raw and (batch := self._numbered_rows(raw)).num_rows:
            pending.append(batch)
            waiting += batch.num_rows
        if waiting:
            batch = pa.concat_batches(pending)
            keys, starts = _orders(batch, self._key)
            yield from self._given(batch, keys, starts)
        self.sha256 = stream.hexdigest()

    def _numbered_rows(self, blocks: list[Any]) -> Any:
        """Blocks as read, as one batch of numbered rows: no header, no empty rows. (Each
        block numbered alone cost a few dozen calls per column, most of the time it took
        on 256 KB blocks.)"""
        batch = blocks[0] if len(blocks) == 1 else pa.concat_batches(blocks)
        batch, self._next_line = self._numbered(batch, self._next_line)
        if self._header:
            batch, self._header = batch.slice(1), False
        return _without_empty_rows(batch)

    def _numbered(self, batch: Any, next_line: int) -> tuple[Any, int]:
        """The batch with two more columns: the line each row starts on, and the row's
        size in bytes (never less than its characters)."""
        rows = batch.num_rows
        spans = np.ones(rows, dtype=np.int64)
        offsets = []
        for index in range(batch.num_columns):
            column = batch.column(index)
            _, ends, data = column.buffers()
            first = column.offset
            offsets.append(np.frombuffer(ends, dtype=np.int32)[first : first + rows + 1])
            # Most columns never hold a line break: a copy and a find over the column's
            # bytes (a regex over the buffer took three times as long).
            if data is not None and memoryview(data).tobytes().find(b"\n") >= 0:
                spans += pc.count_substring(column, "\n").to_numpy(zero_copy_only=False)
        # A cell's bytes are the step between its offsets, and a row's the step between
        # the sums of its columns' offsets: two numpy calls for the whole block, where an
        # Arrow kernel per column cost a tenth of the import.
        size = np.diff(np.sum(offsets, axis=0, dtype=np.int64))
        starts = np.cumsum(spans) - spans + next_line
        total = int(spans.sum())
        batch = batch.append_column("line", pa.array(starts)).append_column("size", pa.array(size))
        return batch, next_line + total

    def _given(self, batch: Any, keys: Any, starts: list[int]) -> Iterator[Block]:
        """The block's valid orders; :class:`NotContiguous` after those before an order
        number that comes back after other orders."""
        block, repeated = self._orders(batch, keys, starts)
        if orders_in(block):
            yield block
        if repeated is not None:
            self.rows += 1  # the row path had read the first row of that order
            raise NotContiguous(repeated)

    def _orders(self, batch: Any, keys: Any, starts: list[int]) -> tuple[Block, str | None]:
        """The block's valid orders up to any order number seen before, and that one:
        by columns when each of them is clean, else as records."""
        starts_array = pa.array(starts, type=pa.int64())
        numbers = keys.take(starts_array).to_pylist()
        stop = self.finished.first_repeat(numbers)
        repeated = numbers[stop] if stop < len(numbers) else None
        line_column = batch.column("line")
        first_lines = line_column.take(starts_array).to_pylist()
        size = batch.column("size")
        cells = batch.drop_columns(["line", "size"])
        checked = self._checker.check(cells, keys, starts, size)
        ends = [*starts[1:], batch.num_rows]
        self.finished.add_all(numbers[:stop])
        self.rows += ends[stop - 1] if stop else 0
        digests: list[str | None] = [
            None if text is None else sha256(text.encode()).hexdigest()
            for text in checked.hash_texts[:stop]
        ]
        given = OrderColumns(
            orders=checked.order_columns,
            lines=first_lines,
            digests=[],  # set below: the records' may lack some
            items=checked.item_columns,
            bounds=[*starts, batch.num_rows],
        )
        if stop < len(numbers):
            given = given.part(0, stop)
        if None not in digests and not any(position < stop for position in checked.slow):
            given.digests = cast(list[str], digests)
            return given, repeated
        records: list[Record | None] = list(given.records()[0])
        for position in checked.slow:
            if position < stop:
                start, end = starts[position], ends[position]
                lines = line_column.slice(start, end - start).to_pylist()
                records[position] = self._build(
                    numbers[position], _python_rows(cells, start, end), lines
                )
                digests[position] = None  # hashed where it is staged
        valid = [record for record in records if record is not None]
        if len(valid) < len(records):  # orders refused
            digests = [d for r, d in zip(records, digests, strict=True) if r is not None]
        return (valid, digests), repeated


def _python_rows(batch: Any, start: int, end: int) -> list[list[str]]:
    """An order's rows as the row path holds them: one cell past the header, empty."""
    part = batch.slice(start, end - start)
    columns = [part.column(index).to_pylist() for index in range(part.num_columns)]
    return [[*row, ""] for row in zip(*columns, strict=True)]


def _orders(batch: Any, key: int) -> tuple[Any, list[int]]:
    """The stripped order numbers (column ``key``), and the first row of each run of
    equal ones."""
    keys = stripped(batch.column(key))
    starts = [0]
    if batch.num_rows > 1:
        changed = pc.not_equal(keys.slice(1), keys.slice(0, batch.num_rows - 1))
        starts += pc.add(pc.indices_nonzero(changed), 1).to_pylist()
    return keys, starts


def _without_empty_rows(batch: Any) -> Any:
    """Rows whose every cell is empty are skipped, as the row path skips them."""
    empty = pc.equal(batch.column("size"), 0)
    if not pc.any(empty).as_py():
        return batch
    return batch.filter(pc.invert(empty))

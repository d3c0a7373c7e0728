"""An export's rows, grouped by order: the file opened in its dialect, the header mapped.

The export has one row per line item, order-level fields repeated on each row, rows of
one order together, newest order first (reference §2). :class:`ExportRows` opens the
file (:mod:`greenloop.ecom.dialect` finds its encoding and separator), maps the header
(:class:`Header`), and yields each order's rows with their line numbers. It checks no
value: that is :mod:`greenloop.ecom.orders`' work.

Rows are grouped as they stream by, so memory holds one order at a time. An order
whose rows come back later in the file raises :class:`NotContiguous`; read again with
``in_memory``, every row is held and grouped by order number instead.
"""

from __future__ import annotations

import csv
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from types import TracebackType
from typing import Protocol

from greenloop.ecom.columns import REQUIRED_COLUMNS, STANDARD_COLUMNS, XSERIES_ORDER_ID
from greenloop.ecom.dialect import allow_any_cell_size, detect_dialect, open_export, replacements
from greenloop.ecom.report import NotContiguous, NotUtf8, ReadReport
from greenloop.errors import InputFileError

__all__ = ["ExportRows", "Group", "Header", "OrderNumbers"]

# One order: its number, its rows (cells padded to the header's width plus one) and the
# line each row starts on.
Group = tuple[str, list[list[str]], list[int]]


class OrderNumbers(Protocol):
    """The order numbers finished so far: a set, or the columnar reader's fingerprints
    (:class:`~greenloop.ecom.seen_orders.SeenOrders`) when the row path takes over."""

    def __contains__(self, number: object, /) -> bool: ...

    def add(self, number: str, /) -> None: ...


@dataclass(frozen=True)
class Header:
    """Where each column is in this file. Columns are found by name, in any order;
    ``ix`` gives every standard column a position, an absent one the padding cell past
    the header's width, which every row carries empty."""

    names: list[str]
    col: dict[str, int]  # the columns present (the first, when a name repeats)
    ix: dict[str, int]  # every standard column, and X-Series' order id

    @classmethod
    def read(cls, names: list[str], file: str) -> Header:
        col: dict[str, int] = {}
        for index, name in enumerate(names):
            col.setdefault(name, index)
        missing = [name for name in REQUIRED_COLUMNS if name not in col]
        if missing:
            raise InputFileError(
                f"{file}: line 1: missing column(s) {', '.join(missing)}",
                hint="Import the eCom orders export as downloaded (My Sales → Orders → Export).",
            )
        absent = len(names)
        ix = {name: col.get(name, absent) for name in (*STANDARD_COLUMNS, XSERIES_ORDER_ID)}
        return cls(names, col, ix)

    def name(self, index: int) -> str:
        """The column at ``index``, for a message."""
        return self.names[index] if index < len(self.names) else f"column {index + 1}"


class ExportRows:
    """One pass over an export: ``with ExportRows(...) as rows`` opens the file and reads
    the header, :meth:`groups` yields the orders' rows, and leaving the block closes it.

    While it is open, ``raw.saw_nul`` tells whether a NUL byte went by, and
    :func:`~greenloop.ecom.dialect.replacements` moving past ``replaced`` tells that a
    lenient stream met bytes that were not text: the order builder then checks each cell.
    """

    def __init__(
        self, path: Path, report: ReadReport, *, encoding: str | None, hash_file: bool
    ) -> None:
        """``encoding`` forces one; its undecodable bytes then refuse their orders
        (without it, a file that stops being UTF-8 raises :class:`NotUtf8`)."""
        self.path = path
        self.report = report
        self.encoding = encoding
        self.hash_file = hash_file

    def __enter__(self) -> ExportRows:
        report = self.report
        self.dialect = dialect = detect_dialect(self.path, encoding=self.encoding)
        report.dialect = dialect
        self.excel_like = dialect.bom or dialect.separator == ","
        # Only an undecided UTF-8 file stays strict: its first bad byte means "read it
        # again" (NotUtf8). Otherwise a bad byte becomes U+FFFD and refuses its order.
        self.lenient = self.encoding is not None or dialect.encoding != "utf-8"
        self._stream, self.raw = open_export(
            self.path, dialect, hashing=self.hash_file, lenient=self.lenient
        )
        self.replaced = replacements()
        report.rows = 0  # counted by groups()
        allow_any_cell_size()
        try:
            self._csv = csv.reader(self._stream, delimiter=dialect.separator, quotechar='"')
            try:
                names = next(self._csv, None)
            except (UnicodeDecodeError, csv.Error) as exc:
                raise self._unreadable(exc) from None
            if names is None:
                raise InputFileError(f"{report.file}: the file is empty")
            self.header = Header.read([cell.strip() for cell in names], report.file)
        except BaseException:
            self._stream.close()
            raise
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self._stream.close()

    def groups(
        self, in_memory: bool, *, skip: int = 0, finished: OrderNumbers | None = None
    ) -> Iterator[Group]:
        """Each order's rows and first line numbers, in file order; blank lines skipped.
        Counts the rows into the report; at the end, records the file's SHA-256.

        ``skip`` rows were given already (by the columnar reader, which stopped there),
        and ``finished`` holds their order numbers.
        """
        reader = self._csv
        # One cell past the header's width stays empty: missing columns point at it.
        width = len(self.header.names) + 1
        number_at = self.header.ix["order_number"]
        if finished is None:
            finished = set()
        by_number: dict[str, tuple[list[list[str]], list[int]]] = {}
        current: str | None = None
        rows: list[list[str]] = []
        lines: list[int] = []
        previous_end = reader.line_num
        rows_read = 0
        try:
            for cells in reader:
                start = previous_end + 1
                previous_end = reader.line_num
                if not any(cells) or (len(cells) == 1 and not cells[0].strip()):
                    continue  # blank line
                rows_read += 1
                if rows_read <= skip:
                    continue
                if len(cells) < width:
                    cells.extend([""] * (width - len(cells)))
                number = cells[number_at].strip()
                if in_memory:
                    group = by_number.get(number)
                    if group is None:
                        by_number[number] = ([cells], [start])
                    else:
                        group[0].append(cells)
                        group[1].append(start)
                    continue
                if number != current:
                    if current is not None:
                        finished.add(current)
                        yield current, rows, lines
                    if number and number in finished:
                        raise NotContiguous(number)
                    current, rows, lines = number, [], []
                rows.append(cells)
                lines.append(start)
            if current is not None:
                yield current, rows, lines
            for number, (rows, lines) in by_number.items():
                yield number, rows, lines
        except (UnicodeDecodeError, csv.Error) as exc:
            raise self._unreadable(exc) from None
        finally:
            self.report.rows = rows_read
        self.report.dialect = replace(self.dialect, sha256=self.raw.hexdigest())

    def _unreadable(self, exc: UnicodeDecodeError | csv.Error) -> Exception:
        if isinstance(exc, UnicodeDecodeError):
            return NotUtf8(self.report.file)
        # Unreachable with every cell size allowed; kept so that whatever else the csv
        # module refuses is reported as a file error, not a traceback.
        return InputFileError(
            f"{self.report.file}: line {self._csv.line_num}: {exc}",
            hint="Re-download the export from the eCom admin.",
        )

"""Reading an E-Series orders export into orders, streaming, with every problem located.

The export has one row per line item, order-level fields repeated on each row, rows of
one order together, newest order first (reference §2). The reader groups contiguous rows
into orders, checks that the order-level fields agree across an order's rows, and yields
each valid order. A broken row rejects its whole order (nothing of it is yielded) and is
reported as ``file:line: column: what is wrong, how to fix``; the rest of the file goes
on. Values a spreadsheet destroyed (scientific notation, lost leading zeros) are warned
about by cell.

Orders come in two shapes from one validation path. :meth:`ExportReader.records` gives
each order as plain tuples in storage form, for the import's hot path: every money cell
was parsed to ``Decimal`` (so it is validated) and is carried as that ``Decimal``'s
canonical text, times as fixed-width ISO-8601 UTC text. :meth:`ExportReader.orders`
turns the same records into :class:`EcomOrder` with ``Decimal`` and aware ``datetime``.
"""

from __future__ import annotations

import csv
import re
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from operator import itemgetter
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from greenloop.domain.purchases import KNOWN_PAYMENT_CODES
from greenloop.ecom.columns import REQUIRED_COLUMNS, STANDARD_COLUMNS, XSERIES_ORDER_ID
from greenloop.ecom.dialect import (
    Dialect,
    HashingStream,
    allow_any_cell_size,
    detect_dialect,
    open_export,
    replacements,
)
from greenloop.ecom.records import (
    ITEM_RECORD,
    ORDER_RECORD,
    EcomItem,
    EcomOrder,
    ItemRecord,
    OrderRecord,
    to_order,
)
from greenloop.ecom.values import (
    AmbiguousPolicy,
    BadCell,
    StoreClock,
    ValueLimits,
    looks_scientific,
    order_number_problem,
    parse_money,
    shown,
)
from greenloop.errors import ConfigError, ImportRowError, InputFileError

__all__ = [
    "ITEM_RECORD",
    "ORDER_RECORD",
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

# Fields that describe the order, repeated on each of its rows: they must agree.
ORDER_FIELDS = (
    "email",
    "timestamp",
    "order_total",
    "order_subtotal",
    "order_tax",
    "order_shipping",
    "payment_status_code",
    "fulfillment_status_code",
)
_MONEY_ORDER = (
    "order_subtotal",
    "order_tax",
    "order_shipping",
    "order_handling_fee",
    "discount",
    "coupon_discount",
    "gift_card_redemption",
)
_DIGITS = re.compile(r"^\d+$")
# Identifier columns a spreadsheet rewrites as numbers (reference §3, §7.3).
_DAMAGE_COLUMNS = (
    "sku",
    "order_tracking_number",
    "order_number",
    "shipto_person_phone",
    "shipto_person_postal_code",
    "payment_transaction_id",
)
MAX_DETAILED_WARNINGS = 200
# The text cells of an order's first row and of every item row, in the order read.
_ORDER_TEXT = (
    "email",
    "timestamp",
    "pickup_time",
    "payment_status_code",
    "fulfillment_status_code",
    "payment_method",
    "shipping_method",
    "coupon_code",
    "order_tracking_number",
    XSERIES_ORDER_ID,
    "shipto_person_name",
    "bill_person_name",
    "shipto_person_phone",
    "bill_person_phone",
)
_ITEM_TEXT = ("price", "total", "quantity", "sku", "name", "options")

_MISSING: Any = object()
# Entries per cache before it starts over: enough for the few distinct amounts and
# times that repeat, small enough to keep a worker's memory flat on any file.
_CACHE_LIMIT = 20_000
# Longer than any name, SKU, e-mail or status a store writes. A cell this long in a
# column GreenLoop stores refuses its order; elsewhere (a comment) it is only noted.
MAX_TEXT = 2000
# A pickup may be booked ahead; further than this after the latest order time is no
# date a store sets.
_PICKUP_AHEAD = timedelta(days=366)


@dataclass
class ReadReport:
    file: str
    dialect: Dialect | None = None
    rows: int = 0
    orders: int = 0
    rejected: list[ImportRowError] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    warning_count: int = 0

    def warn(self, text: str) -> None:
        self.warning_count += 1
        if len(self.warnings) < MAX_DETAILED_WARNINGS:
            self.warnings.append(text)


class ReadAgain(Exception):
    """The file must be read again from the start, differently (see the subclasses)."""


class NotContiguous(ReadAgain):
    """An order's rows are split across the file; re-read grouping in memory."""


class NotUtf8(ReadAgain):
    """The head looked like UTF-8 but later bytes are not; re-read in the encoding
    :func:`~greenloop.ecom.dialect.fallback_encoding` picks."""


Group = tuple[str, list[list[str]], list[int]]


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
    ) -> None:
        """``encoding`` forces one; its undecodable bytes then refuse their orders
        (without it, a file that stops being UTF-8 raises :class:`NotUtf8`)."""
        self.path = Path(path)
        self.name = display_name or str(path)
        self.limits = limits = limits or ValueLimits()
        self._earliest = _utc_text(limits.earliest)
        self._latest = "9" if limits.latest is None else _utc_text(limits.latest)
        self._latest_pickup = (
            "9" if limits.latest is None else _utc_text(limits.latest + _PICKUP_AHEAD)
        )
        # Cell text -> canonical text, each cache holding only texts valid for its kind
        # (an export repeats the same few amounts on every row, so caching by text
        # skips the parse and the checks): any amount (None when empty), order totals,
        # item prices (empty or zero read as "0"), quantities (empty read as "1").
        self._money_text: dict[str, str | None] = {}
        self._total_text: dict[str, str] = {}
        self._price_text: dict[str, str] = {}
        self._quantity_text: dict[str, str] = {}
        self._lenient = False
        self._raw: HashingStream | None = None
        self._replaced = 0
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
        self.hash_file = hash_file  # off when someone else computes the file's SHA-256
        self.report = ReadReport(file=self.name)
        self._excel_like = False
        self._clock = StoreClock(self.zone, day_first=day_first, ambiguous=ambiguous)

    # -- rows --------------------------------------------------------------------------

    def _groups(self, in_memory: bool) -> Iterator[Group]:
        """Rows (padded cells) and their first line numbers, grouped by order number."""
        dialect = detect_dialect(self.path, encoding=self.encoding)
        self.report.dialect = dialect
        self._excel_like = dialect.bom or dialect.separator == ","
        # Only an undecided UTF-8 file stays strict: its first bad byte means "read it
        # again" (NotUtf8). Otherwise a bad byte becomes U+FFFD and refuses its order.
        self._lenient = self.encoding is not None or dialect.encoding != "utf-8"
        stream, raw = open_export(self.path, dialect, hashing=self.hash_file, lenient=self._lenient)
        self._raw = raw
        self._replaced = replacements()
        rows_read = 0
        allow_any_cell_size()
        with stream:
            reader = csv.reader(stream, delimiter=dialect.separator, quotechar='"')
            try:
                header = next(reader, None)
                if header is None:
                    raise InputFileError(f"{self.name}: the file is empty")
                self._map_columns([cell.strip() for cell in header])
                # One cell past the header's width stays empty: missing columns point at it.
                width = len(header) + 1
                number_at = self.ix["order_number"]
                finished: set[str] = set()
                by_number: dict[str, tuple[list[list[str]], list[int]]] = {}
                current: str | None = None
                rows: list[list[str]] = []
                lines: list[int] = []
                previous_end = reader.line_num
                for cells in reader:
                    start = previous_end + 1
                    previous_end = reader.line_num
                    if not any(cells) or (len(cells) == 1 and not cells[0].strip()):
                        continue  # blank line
                    rows_read += 1
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
            except UnicodeDecodeError:
                raise NotUtf8(self.name) from None
            except csv.Error as exc:
                # Unreachable with every cell size allowed; kept so that whatever else
                # the csv module refuses is reported as a file error, not a traceback.
                raise InputFileError(
                    f"{self.name}: line {reader.line_num}: {exc}",
                    hint="Re-download the export from the eCom admin.",
                ) from None
            finally:
                self.report.rows = rows_read
        self.report.dialect = replace(dialect, sha256=raw.hexdigest())

    def _map_columns(self, header: list[str]) -> None:
        self.col: dict[str, int] = {}
        for index, name in enumerate(header):
            self.col.setdefault(name, index)
        absent = len(header)  # the padding cell every row carries
        self.ix: dict[str, int] = {
            name: self.col.get(name, absent) for name in (*STANDARD_COLUMNS, XSERIES_ORDER_ID)
        }
        self.header = header
        missing = [name for name in REQUIRED_COLUMNS if name not in self.col]
        if missing:
            raise InputFileError(
                f"{self.name}: line 1: missing column(s) {', '.join(missing)}",
                hint="Import the eCom orders export as downloaded (My Sales → Orders → Export).",
            )
        self.has_hint = XSERIES_ORDER_ID in self.col
        self.known = {name for name in STANDARD_COLUMNS if name in self.col}
        self._agreeing = [(name, self.col[name]) for name in ORDER_FIELDS if name in self.col]
        self._agree_key = itemgetter(*(index for _, index in self._agreeing))
        ix = self.ix
        self._damage_probe = itemgetter(*(ix[name] for name in _DAMAGE_COLUMNS))
        # One C call per row fetches the cells a record needs.
        self._money_cells = itemgetter(*(ix[name] for name in ("order_total", *_MONEY_ORDER)))
        self._order_cells = itemgetter(*(ix[name] for name in _ORDER_TEXT))
        self._item_cells = itemgetter(*(ix[name] for name in _ITEM_TEXT))
        # The cells an order takes from its first row, and from each of its rows.
        self._stored_item = frozenset(ix[name] for name in ("order_number", *_ITEM_TEXT))
        self._stored_first = self._stored_item | frozenset(
            ix[name] for name in (*_ORDER_TEXT, "order_total", *_MONEY_ORDER)
        )

    def _cell(self, cells: list[str], name: str) -> str:
        return cells[self.ix[name]]

    # -- orders ------------------------------------------------------------------------

    def records(
        self, *, in_memory: bool = False
    ) -> Iterator[tuple[OrderRecord, int, list[ItemRecord]]]:
        """Valid orders in file order: ``(order, line, items)`` as :data:`ORDER_RECORD`
        and :data:`ITEM_RECORD` tuples. Problems land in ``self.report``.

        Raises :class:`ReadAgain` when the file must be read again: its rows are not
        grouped by order (``NotContiguous``, unless ``in_memory``) or it is not UTF-8
        after all (``NotUtf8``).
        """
        build = self._build
        count = 0
        try:
            for number, rows, lines in self._groups(in_memory):
                record = build(number, rows, lines)
                if record is not None:
                    count += 1
                    yield record
        finally:
            self.report.orders += count

    def orders(self, *, in_memory: bool = False) -> Iterator[EcomOrder]:
        """Valid orders as domain objects, in file order (see :meth:`records`)."""
        for order, line, items in self.records(in_memory=in_memory):
            yield to_order(order, line, items, self.name)

    def _reject(self, line: int, column: str | None, message: str, hint: str | None) -> None:
        self.report.rejected.append(
            ImportRowError(message, file=self.name, line=line, column=column, hint=hint)
        )

    def _build(
        self, number: str, rows: list[list[str]], lines: list[int]
    ) -> tuple[OrderRecord, int, list[ItemRecord]] | None:
        first = rows[0]
        if not number:
            for line in lines:
                self._reject(line, "order_number", "is empty", "every row needs its order number")
            return None
        rejected = self.report.rejected
        problems = len(rejected)
        raw = self._raw
        checked = (
            (raw is not None and raw.saw_nul)
            or (self._lenient and replacements() != self._replaced)
            or len("".join(first)) > MAX_TEXT  # faster than summing the lengths
        )
        if checked:
            self._check_cells(rows, lines)
        if len(rows) > 1:
            agree_key = self._agree_key
            key = agree_key(first)
            for position in range(1, len(rows)):
                if agree_key(rows[position]) != key:
                    self._disagreement(number, first, lines[0], rows[position], lines[position])
        order = self._order_fields(number, first, lines[0])
        # Item rows are most of the file: the common case (every amount already seen)
        # is inlined here; anything else goes through _item, which reports problems.
        item_cells, probe, money, prices, quantities = (
            self._item_cells,
            self._damage_probe,
            self._money_text,
            self._price_text,
            self._quantity_text,
        )
        items: list[ItemRecord] = []
        damaged = self._excel_like
        for position in range(len(rows)):
            row = rows[position]
            price_text, total_text, quantity_text, sku, name, options = item_cells(row)
            if position and not checked and len(sku) + len(name) + len(options) > MAX_TEXT:
                self._check_cells([row], [lines[position]], first=False)
            try:
                price = prices[price_text]
                total = money[total_text]
                quantity = quantities[quantity_text]
            except KeyError:
                total = None
            if total is None:
                item = self._item(number, row, lines[position], position)
                if item is None:
                    continue
                items.append(item)
            else:
                items.append(
                    (
                        number,
                        position,
                        sku.strip() or None,
                        name.strip(),
                        price,
                        quantity,
                        total,
                        options.strip() or None,
                    )
                )
            if not damaged:
                joined = "".join(probe(row))
                damaged = "e" in joined or "E" in joined
        if order is None or len(rejected) > problems:
            return None
        if damaged:
            for position, row in enumerate(rows):
                self._warn_damage(row, lines[position])
        return order, lines[0], items

    def _disagreement(
        self, number: str, first: list[str], first_line: int, row: list[str], line: int
    ) -> None:
        for name, index in self._agreeing:
            if row[index] != first[index]:
                self._reject(
                    line,
                    name,
                    f"{shown(row[index])} disagrees with line {first_line} "
                    f"({shown(first[index])}) for order {shown(number)}",
                    "all rows of one order must carry the same order-level values",
                )

    def _check_cells(self, rows: list[list[str]], lines: list[int], *, first: bool = True) -> None:
        """Refuse the order when a cell it stores is too long, holds a NUL or holds bytes
        that were not text; only note such a cell in a column it does not store (a long
        comment changes nothing GreenLoop keeps). The slow path, for the rare order that
        needs it."""
        damaged = replacements() != self._replaced
        for position, row in enumerate(rows):
            stored = self._stored_first if first and position == 0 else self._stored_item
            for index, cell in enumerate(row):
                if len(cell) > MAX_TEXT:
                    problem = f"is {len(cell):,} characters long"
                    hint = f"no store writes one longer than {MAX_TEXT:,}; fix the cell"
                elif "\0" in cell:
                    problem = f"{shown(cell)} holds a NUL byte"
                    hint = "the file is damaged; re-export it from the eCom admin"
                elif damaged and "\ufffd" in cell:
                    encoding = self.report.dialect.encoding if self.report.dialect else "UTF-8"
                    problem = f"{shown(cell)} holds bytes that are not {encoding} text"
                    hint = "the file is damaged; re-export it from the eCom admin"
                else:
                    continue
                column = self.header[index] if index < len(self.header) else f"column {index + 1}"
                if index in stored:
                    self._reject(lines[position], column, problem, hint)
                else:
                    self.report.warn(
                        f"{self.name}:{lines[position]}: {column}: {problem}; "
                        "GreenLoop does not store this column, so the order is imported"
                    )

    def _money(self, text: str, name: str, line: int) -> str | None:
        """Canonical text of a money cell (``None`` when empty); reports a bad one, and
        one larger than any order total (every amount of an order is part of one)."""
        value = self._money_text.get(text, _MISSING)
        if value is not _MISSING:
            return value  # type: ignore[no-any-return]
        try:
            parsed = parse_money(text)
        except ValueError as exc:
            self._reject_bad_cell(line, name, exc)
            raise _RowBroken from None
        if parsed is not None and abs(parsed) > self.limits.max_order_total:
            self._reject(
                line,
                name,
                f"{shown(text.strip())} is more than any order of the store "
                f"(ecom.max_order_total is {self.limits.max_order_total})",
                "fix the amount in the export, or raise ecom.max_order_total",
            )
            raise _RowBroken
        value = None if parsed is None else str(parsed)
        _remember(self._money_text, text, value)
        return value

    def _total(self, text: str, line: int) -> str:
        """Canonical text of an order total; reports an empty or negative one."""
        value = self._money(text, "order_total", line)
        if value is None:
            self._reject(
                line, "order_total", "is empty", "the eCom export always fills it; re-export"
            )
            raise _RowBroken
        if Decimal(value) < 0:
            self._reject(
                line,
                "order_total",
                f"{shown(text.strip())} is negative",
                "an order's total is never below zero (a refund keeps it); fix the export",
            )
            raise _RowBroken
        _remember(self._total_text, text, value)
        return value

    def _quantity(self, text: str, line: int) -> str:
        """Canonical text of an item quantity (an empty one is 1); reports one that is
        negative or larger than ``max_quantity``."""
        try:
            quantity = parse_money(text)
        except ValueError as exc:
            self._reject_bad_cell(line, "quantity", exc)
            raise _RowBroken from None
        if quantity is None:
            quantity = Decimal(1)
        if quantity < 0:
            self._reject(
                line,
                "quantity",
                f"{shown(text.strip())} is negative",
                "an item's quantity is never below zero; fix the export",
            )
            raise _RowBroken
        if quantity > self.limits.max_quantity:
            self._reject(
                line,
                "quantity",
                f"{shown(text.strip())} is more than any order of the store "
                f"(ecom.max_quantity is {self.limits.max_quantity})",
                "fix the quantity in the export, or raise ecom.max_quantity",
            )
            raise _RowBroken
        value = str(quantity)
        _remember(self._quantity_text, text, value)
        return value

    def _reject_bad_cell(self, line: int, column: str, exc: ValueError) -> None:
        if isinstance(exc, BadCell):
            self._reject(line, column, exc.message, exc.hint)
        else:
            self._reject(line, column, str(exc), None)

    def _time(self, text: str, name: str, line: int, *, required: bool = False) -> str | None:
        """UTC text of a (stripped) time cell, ``None`` when empty; reports a bad one."""
        if not text:
            if required:
                self._reject(line, name, "is empty", "the eCom export always fills it; re-export")
                raise _RowBroken
            return None
        try:
            utc, note = self._clock.utc_text(text)
        except ValueError as exc:
            self._reject_bad_cell(line, name, exc)
            raise _RowBroken from None
        latest = self._latest_pickup if name == "pickup_time" else self._latest
        if utc < self._earliest:
            self._reject(
                line,
                name,
                f"{shown(text)} is before {self.limits.earliest:%Y-%m-%d}, "
                "the earliest order date accepted (ecom.earliest_order_date)",
                "fix the date in the export, or set ecom.earliest_order_date to the day "
                "of the store's first sale",
            )
            raise _RowBroken
        if utc > latest:
            self._reject(
                line,
                name,
                f"{shown(text)} is in the future (later than {latest[:16].replace('T', ' ')} "
                "UTC, which is ecom.max_future_days after the import)",
                "fix the date in the export, or check the computer's clock",
            )
            raise _RowBroken
        if note:
            self.report.warn(f"{self.name}:{line}: {name}: {note}")
        return utc

    def _order_fields(self, number: str, row: list[str], line: int) -> OrderRecord | None:
        (
            email,
            timestamp,
            pickup,
            code,
            fulfillment,
            payment_method,
            shipping_method,
            coupon_code,
            tracking,
            hint,
            name,
            bill_name,
            phone,
            bill_phone,
        ) = self._order_cells(row)
        if not (number.isdigit() and number.isascii() and len(number) <= 64):
            problem = order_number_problem(number)
            if problem is not None:
                self._reject(line, "order_number", *problem)
                return None
        texts = self._money_cells(row)
        try:
            try:
                amounts = list(map(self._money_text.__getitem__, texts))
            except KeyError:  # an amount not seen yet: parse (and check) them one by one
                amounts = [
                    self._money(text, column, line)
                    for text, column in zip(texts, ("order_total", *_MONEY_ORDER), strict=True)
                ]
            total = self._total_text.get(texts[0]) or self._total(texts[0], line)
            timestamp = timestamp.strip()
            placed_at = self._time(timestamp, "timestamp", line, required=True)
            pickup_at = self._time(pickup.strip(), "pickup_time", line)
        except _RowBroken:
            return None
        code = code.strip().upper()
        if not code:
            self._reject(line, "payment_status_code", "is empty", "re-export the file")
            return None
        if code not in KNOWN_PAYMENT_CODES and not code.startswith("CUSTOM_PAYMENT_STATUS"):
            self.report.warn(
                f"{self.name}:{line}: payment_status_code: unknown code {shown(code)} for "
                f"order {number}; it is imported but not counted as a purchase"
            )
        _, subtotal, tax, shipping, handling_fee, discount, coupon_discount, gift_card = amounts
        return (
            number,
            email.strip().lower(),
            name.strip() or bill_name.strip() or None,
            phone.strip() or bill_phone.strip() or None,
            placed_at,
            timestamp,
            pickup_at,
            code,
            fulfillment.strip().upper() or None,
            payment_method.strip() or None,
            shipping_method.strip() or None,
            subtotal,
            tax,
            shipping,
            handling_fee,
            discount,
            coupon_code.strip() or None,
            coupon_discount,
            gift_card,
            total,
            hint.strip() or None,
            tracking.strip() or None,
        )

    def _item(self, number: str, row: list[str], line: int, position: int) -> ItemRecord | None:
        """An item row the slow way: every amount parsed and checked, problems reported."""
        price_text, total_text, quantity_text, sku, name, options = self._item_cells(row)
        try:
            price = self._price(price_text, line)
            total = self._money(total_text, "total", line)
            quantity = self._quantity(quantity_text, line)
        except _RowBroken:
            return None
        if total is None:
            total = str(Decimal(price) * Decimal(quantity))
        return (
            number,
            position,
            sku.strip() or None,
            name.strip(),
            price,
            quantity,
            total,
            options.strip() or None,
        )

    def _price(self, text: str, line: int) -> str:
        value = self._money(text, "price", line)
        # An empty or zero price reads as Decimal(0) (stored, and hashed, as "0").
        price = "0" if value is None or Decimal(value) == 0 else value
        _remember(self._price_text, text, price)
        return price

    def _warn_damage(self, row: list[str], line: int) -> None:
        where = f"{self.name}:{line}"
        for name in _DAMAGE_COLUMNS:
            value = self._cell(row, name).strip()
            if value and looks_scientific(value):
                self.report.warn(
                    f"{where}: {name}: '{value}' was turned into scientific notation by a "
                    "spreadsheet and its digits are lost; re-export from the eCom admin"
                )
        if not self._excel_like:
            return
        sku = self._cell(row, "sku").strip()
        if _DIGITS.match(sku) and len(sku) in (11, 12):
            self.report.warn(
                f"{where}: sku: '{sku}' looks like a UPC/EAN that lost its leading zero in a "
                "spreadsheet; match it against your catalogue or re-export"
            )
        phone = self._cell(row, "shipto_person_phone").strip()
        if _DIGITS.match(phone) and len(phone) == 11 and phone.startswith("1"):
            self.report.warn(f"{where}: shipto_person_phone: '{phone}' lost its leading '+'")
        postcode = self._cell(row, "shipto_person_postal_code").strip()
        if _DIGITS.match(postcode) and len(postcode) == 4:
            self.report.warn(
                f"{where}: shipto_person_postal_code: '{postcode}' may have lost a leading zero"
            )


class _RowBroken(Exception):
    """The row was reported; stop building it."""


def _remember(cache: dict[str, Any], text: str, value: Any) -> None:
    """Add to a cache that starts over when full, so memory stays flat on any file."""
    if len(cache) > _CACHE_LIMIT:
        cache.clear()
    cache[text] = value


def _utc_text(moment: datetime) -> str:
    """A moment as the clock's UTC text, which sorts as the moments do."""
    return moment.astimezone(UTC).isoformat(timespec="microseconds")

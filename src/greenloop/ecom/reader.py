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
from datetime import datetime
from decimal import Decimal
from operator import itemgetter
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from greenloop.domain.purchases import KNOWN_PAYMENT_CODES
from greenloop.ecom.columns import REQUIRED_COLUMNS, STANDARD_COLUMNS, XSERIES_ORDER_ID
from greenloop.ecom.dialect import Dialect, detect_dialect, open_export
from greenloop.ecom.values import AmbiguousPolicy, StoreClock, looks_scientific, parse_money
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

# What :meth:`ExportReader.records` yields, field by field (the leading columns of
# ``ecom_orders`` and all of ``ecom_order_items``). Money is canonical ``Decimal`` text,
# times ISO-8601 UTC text with microseconds, absent values ``None``.
ORDER_RECORD = (
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
)
ITEM_RECORD = ("order_number", "position", "sku", "name", "price", "quantity", "total", "options")
OrderRecord = tuple[Any, ...]
ItemRecord = tuple[Any, ...]
_R = {name: i for i, name in enumerate(ORDER_RECORD)}
_MONEY_RECORD = frozenset(
    (
        "subtotal",
        "tax",
        "shipping",
        "handling_fee",
        "discount",
        "coupon_discount",
        "gift_card_redemption",
        "total",
    )
)

_MISSING: Any = object()
# Entries per cache before it starts over: enough for the few distinct amounts and
# times that repeat, small enough to keep a worker's memory flat on any file.
_CACHE_LIMIT = 20_000
# Money cell text -> canonical text (None when empty). An export repeats the same few
# amounts on every row; caching by text skips the parse, and texts are immutable.
_MONEY_TEXT: dict[str, str | None] = {}
# The same for item prices, which read an empty or zero price as Decimal(0), i.e. "0".
_PRICE_TEXT: dict[str, str] = {}


@dataclass(slots=True)
class EcomItem:
    position: int
    sku: str | None
    name: str
    price: Decimal
    quantity: Decimal
    total: Decimal
    options: str | None


@dataclass(slots=True)
class EcomOrder:
    order_number: str
    email: str
    customer_name: str | None
    phone: str | None
    placed_at: datetime
    placed_local: str
    pickup_at: datetime | None
    payment_status_code: str
    fulfillment_status_code: str | None
    payment_method: str | None
    shipping_method: str | None
    subtotal: Decimal | None
    tax: Decimal | None
    shipping: Decimal | None
    handling_fee: Decimal | None
    discount: Decimal | None
    coupon_code: str | None
    coupon_discount: Decimal | None
    gift_card_redemption: Decimal | None
    total: Decimal
    xseries_order_id: str | None
    tracking_number: str | None
    file: str
    line: int
    items: list[EcomItem] = field(default_factory=list)


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
    """The head looked like UTF-8 but later bytes are not; re-read as cp1252."""


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
    ) -> None:
        self.path = Path(path)
        self.name = display_name or str(path)
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
        stream, raw = open_export(self.path, dialect, hashing=self.hash_file)
        rows_read = 0
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
                if self.encoding is None and dialect.encoding == "utf-8":
                    raise NotUtf8(self.name) from None
                raise InputFileError(
                    f"{self.name}: line {previous_end + 1}: the bytes are not "
                    f"{dialect.encoding} text",
                    hint="Save the export as UTF-8 (or re-download it from the eCom admin).",
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
            yield _to_order(order, line, items, self.name)

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
        if len(rows) > 1:
            agree_key = self._agree_key
            key = agree_key(first)
            for position in range(1, len(rows)):
                if agree_key(rows[position]) != key:
                    self._disagreement(number, first, lines[0], rows[position], lines[position])
        order = self._order_fields(number, first, lines[0])
        # Item rows are most of the file: the common case (every amount already seen)
        # is inlined here; anything else goes through _item, which reports problems.
        item_cells, probe, money, prices = (
            self._item_cells,
            self._damage_probe,
            _MONEY_TEXT,
            _PRICE_TEXT,
        )
        items: list[ItemRecord] = []
        damaged = self._excel_like
        for position in range(len(rows)):
            row = rows[position]
            price_text, total_text, quantity_text, sku, name, options = item_cells(row)
            try:
                price = prices[price_text]
                total = money[total_text]
                quantity = money[quantity_text]
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
                        quantity if quantity is not None else "1",
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
                    f"'{row[index]}' disagrees with line {first_line} "
                    f"('{first[index]}') for order {number}",
                    "all rows of one order must carry the same order-level values",
                )

    def _money(self, text: str, name: str, line: int) -> str | None:
        """Canonical text of a money cell (``None`` when empty); reports a bad one."""
        value = _MONEY_TEXT.get(text, _MISSING)
        if value is not _MISSING:
            return value  # type: ignore[no-any-return]
        try:
            parsed = parse_money(text)
        except ValueError as exc:
            self._reject(line, name, str(exc).split("; ")[0], _hint(str(exc)))
            raise _RowBroken from None
        value = None if parsed is None else str(parsed)
        if len(_MONEY_TEXT) > _CACHE_LIMIT:
            _MONEY_TEXT.clear()
        _MONEY_TEXT[text] = value
        return value

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
            self._reject(line, name, str(exc).split("; ")[0], _hint(str(exc)))
            raise _RowBroken from None
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
        texts = self._money_cells(row)
        try:
            try:
                amounts = list(map(_MONEY_TEXT.__getitem__, texts))
            except KeyError:  # an amount not seen yet: parse (and check) them one by one
                amounts = [
                    self._money(text, column, line)
                    for text, column in zip(texts, ("order_total", *_MONEY_ORDER), strict=True)
                ]
            total = amounts[0]
            if total is None:
                self._reject(
                    line, "order_total", "is empty", "the eCom export always fills it; re-export"
                )
                return None
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
                f"{self.name}:{line}: payment_status_code: unknown code '{code}' for order "
                f"{number}; it is imported but not counted as a purchase"
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
            quantity = self._money(quantity_text, "quantity", line)
        except _RowBroken:
            return None
        if quantity is None:
            quantity = "1"
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
        if len(_PRICE_TEXT) > _CACHE_LIMIT:
            _PRICE_TEXT.clear()
        _PRICE_TEXT[text] = price
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


def _to_order(order: OrderRecord, line: int, items: list[ItemRecord], file: str) -> EcomOrder:
    values: dict[str, Any] = dict(zip(ORDER_RECORD, order, strict=True))
    for name in _MONEY_RECORD:
        if values[name] is not None:
            values[name] = Decimal(values[name])
    for name in ("placed_at", "pickup_at"):
        if values[name] is not None:
            values[name] = datetime.fromisoformat(values[name])
    return EcomOrder(
        **values,
        file=file,
        line=line,
        items=[
            EcomItem(
                position=position,
                sku=sku,
                name=name,
                price=Decimal(price),
                quantity=Decimal(quantity),
                total=Decimal(total),
                options=options,
            )
            for _, position, sku, name, price, quantity, total, options in items
        ],
    )


class _RowBroken(Exception):
    """The row was reported; stop building it."""


def _hint(message: str) -> str | None:
    _, _, hint = message.partition("; ")
    return hint or None

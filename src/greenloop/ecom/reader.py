"""Reading an E-Series orders export into orders, streaming, with every problem located.

The export has one row per line item, order-level fields repeated on each row, rows of
one order together, newest order first (reference §2). The reader groups contiguous rows
into orders, checks that the order-level fields agree across an order's rows, and yields
each valid order. A broken row rejects its whole order (nothing of it is yielded) and is
reported as ``file:line: column: what is wrong, how to fix``; the rest of the file goes
on. Values a spreadsheet destroyed (scientific notation, lost leading zeros) are warned
about by cell.
"""

from __future__ import annotations

import csv
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from greenloop.domain.purchases import KNOWN_PAYMENT_CODES
from greenloop.ecom.columns import REQUIRED_COLUMNS, STANDARD_COLUMNS, XSERIES_ORDER_ID
from greenloop.ecom.dialect import Dialect, detect_dialect, open_export
from greenloop.ecom.values import (
    AmbiguousPolicy,
    looks_scientific,
    parse_local_time,
    parse_money,
    to_utc,
)
from greenloop.errors import ConfigError, ImportRowError, InputFileError

__all__ = ["EcomItem", "EcomOrder", "ExportReader", "NotContiguous", "ReadReport"]

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
_ONE = Decimal(1)
_ZERO = Decimal(0)


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


class NotContiguous(Exception):
    """An order's rows are split across the file; re-read grouping in memory."""


class _Row:
    __slots__ = ("cells", "line")

    def __init__(self, cells: list[str], line: int) -> None:
        self.cells = cells
        self.line = line


class ExportReader:
    def __init__(
        self,
        path: Path,
        *,
        timezone: str,
        day_first: bool = False,
        ambiguous: AmbiguousPolicy = "earlier",
        display_name: str | None = None,
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
        self.report = ReadReport(file=self.name)
        self._excel_like = False
        self._time_cache: dict[str, tuple[datetime, str | None]] = {}

    # -- rows --------------------------------------------------------------------------

    def _rows(self) -> Iterator[_Row]:
        dialect = detect_dialect(self.path)
        self.report.dialect = dialect
        self._excel_like = dialect.bom or dialect.separator == ","
        with open_export(self.path, dialect) as stream:
            reader = csv.reader(stream, delimiter=dialect.separator, quotechar='"')
            header = next(reader, None)
            if header is None:
                raise InputFileError(f"{self.name}: the file is empty")
            self._map_columns([cell.strip() for cell in header])
            # One cell past the header's width stays empty: missing columns point at it.
            width = len(header) + 1
            previous_end = reader.line_num
            for cells in reader:
                start = previous_end + 1
                previous_end = reader.line_num
                if not any(cells) or (len(cells) == 1 and not cells[0].strip()):
                    continue  # blank line
                self.report.rows += 1
                if len(cells) < width:
                    cells.extend([""] * (width - len(cells)))
                yield _Row(cells, start)

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
        self._damage_checked = [
            (name, self.col[name]) for name in _DAMAGE_COLUMNS if name in self.col
        ]

    def _cell(self, row: _Row, name: str) -> str:
        return row.cells[self.ix[name]]

    # -- orders ------------------------------------------------------------------------

    def orders(self, *, in_memory: bool = False) -> Iterator[EcomOrder]:
        """Valid orders, in file order. Problems land in ``self.report``."""
        groups = self._grouped_in_memory() if in_memory else self._grouped_streaming()
        for number, rows in groups:
            order = self._build(number, rows)
            if order is not None:
                self.report.orders += 1
                yield order

    def _grouped_streaming(self) -> Iterator[tuple[str, list[_Row]]]:
        finished: set[str] = set()
        current: str | None = None
        rows: list[_Row] = []
        number_at = -1
        for row in self._rows():
            if number_at < 0:
                number_at = self.ix["order_number"]
            number = row.cells[number_at].strip()
            if number != current:
                if current is not None:
                    finished.add(current)
                    yield current, rows
                if number and number in finished:
                    raise NotContiguous(number)
                current, rows = number, []
            rows.append(row)
        if current is not None:
            yield current, rows

    def _grouped_in_memory(self) -> Iterator[tuple[str, list[_Row]]]:
        groups: dict[str, list[_Row]] = {}
        for row in self._rows():
            groups.setdefault(self._cell(row, "order_number").strip(), []).append(row)
        yield from groups.items()

    def _reject(self, row: _Row, column: str | None, message: str, hint: str | None) -> None:
        self.report.rejected.append(
            ImportRowError(message, file=self.name, line=row.line, column=column, hint=hint)
        )

    def _build(self, number: str, rows: list[_Row]) -> EcomOrder | None:
        first = rows[0]
        if not number:
            for row in rows:
                self._reject(row, "order_number", "is empty", "every row needs its order number")
            return None
        problems = len(self.report.rejected)
        for row in rows[1:]:
            for name, index in self._agreeing:
                if row.cells[index] != first.cells[index]:
                    self._reject(
                        row,
                        name,
                        f"'{row.cells[index]}' disagrees with line {first.line} "
                        f"('{first.cells[index]}') for order {number}",
                        "all rows of one order must carry the same order-level values",
                    )
        order = self._order_fields(number, first)
        items = [self._item(row, position) for position, row in enumerate(rows)]
        if order is None or len(self.report.rejected) > problems:
            return None
        order.items = [item for item in items if item is not None]
        for row in rows:
            self._warn_damage(row)
        return order

    def _money(self, row: _Row, name: str, *, required: bool = False) -> Decimal | None:
        text = row.cells[self.ix[name]]
        try:
            value = parse_money(text)
        except ValueError as exc:
            self._reject(row, name, str(exc).split("; ")[0], _hint(str(exc)))
            raise _RowBroken from None
        if value is None and required:
            self._reject(row, name, "is empty", "the eCom export always fills it; re-export")
            raise _RowBroken
        return value

    def _time(self, row: _Row, name: str, *, required: bool = False) -> datetime | None:
        text = row.cells[self.ix[name]].strip()
        if not text:
            if required:
                self._reject(row, name, "is empty", "the eCom export always fills it; re-export")
                raise _RowBroken
            return None
        cached = self._time_cache.get(text)
        if cached is None:
            try:
                local = parse_local_time(text, day_first=self.day_first)
            except ValueError as exc:
                self._reject(row, name, str(exc).split("; ")[0], _hint(str(exc)))
                raise _RowBroken from None
            assert local is not None
            cached = to_utc(local, self.zone, ambiguous=self.ambiguous)
            if len(self._time_cache) > 100_000:
                self._time_cache.clear()
            self._time_cache[text] = cached
        utc, note = cached
        if note:
            self.report.warn(f"{self.name}:{row.line}: {name}: {note}")
        return utc

    def _order_fields(self, number: str, row: _Row) -> EcomOrder | None:
        try:
            total = self._money(row, "order_total", required=True)
            placed_at = self._time(row, "timestamp", required=True)
            pickup_at = self._time(row, "pickup_time")
            amounts = {name: self._money(row, name) for name in _MONEY_ORDER}
        except _RowBroken:
            return None
        cells, ix = row.cells, self.ix
        email = cells[ix["email"]].strip().lower()
        code = cells[ix["payment_status_code"]].strip().upper()
        if not code:
            self._reject(row, "payment_status_code", "is empty", "re-export the file")
            return None
        if code not in KNOWN_PAYMENT_CODES and not code.startswith("CUSTOM_PAYMENT_STATUS"):
            self.report.warn(
                f"{self.name}:{row.line}: payment_status_code: unknown code '{code}' for order "
                f"{number}; it is imported but not counted as a purchase"
            )
        assert total is not None
        assert placed_at is not None
        name = cells[ix["shipto_person_name"]].strip() or cells[ix["bill_person_name"]].strip()
        phone = cells[ix["shipto_person_phone"]].strip() or cells[ix["bill_person_phone"]].strip()
        hint = cells[ix[XSERIES_ORDER_ID]].strip()
        return EcomOrder(
            order_number=number,
            email=email,
            customer_name=name or None,
            phone=phone or None,
            placed_at=placed_at,
            placed_local=cells[ix["timestamp"]].strip(),
            pickup_at=pickup_at,
            payment_status_code=code,
            fulfillment_status_code=cells[ix["fulfillment_status_code"]].strip().upper() or None,
            payment_method=cells[ix["payment_method"]].strip() or None,
            shipping_method=cells[ix["shipping_method"]].strip() or None,
            subtotal=amounts["order_subtotal"],
            tax=amounts["order_tax"],
            shipping=amounts["order_shipping"],
            handling_fee=amounts["order_handling_fee"],
            discount=amounts["discount"],
            coupon_code=cells[ix["coupon_code"]].strip() or None,
            coupon_discount=amounts["coupon_discount"],
            gift_card_redemption=amounts["gift_card_redemption"],
            total=total,
            xseries_order_id=hint or None,
            tracking_number=cells[ix["order_tracking_number"]].strip() or None,
            file=self.name,
            line=row.line,
        )

    def _item(self, row: _Row, position: int) -> EcomItem | None:
        try:
            price = self._money(row, "price") or _ZERO
            total = self._money(row, "total")
            quantity = self._money(row, "quantity")
        except _RowBroken:
            return None
        quantity = quantity if quantity is not None else _ONE
        cells, ix = row.cells, self.ix
        return EcomItem(
            position=position,
            sku=cells[ix["sku"]].strip() or None,
            name=cells[ix["name"]].strip(),
            price=price,
            quantity=quantity,
            total=total if total is not None else price * quantity,
            options=cells[ix["options"]].strip() or None,
        )

    def _warn_damage(self, row: _Row) -> None:
        where = f"{self.name}:{row.line}"
        for name in (
            "sku",
            "order_tracking_number",
            "order_number",
            "shipto_person_phone",
            "shipto_person_postal_code",
            "payment_transaction_id",
        ):
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


def _hint(message: str) -> str | None:
    _, _, hint = message.partition("; ")
    return hint or None

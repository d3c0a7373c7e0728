"""An order's rows checked and turned into its record, or refused with every problem located.

:class:`OrderBuilder` takes one order's rows from :class:`~greenloop.ecom.rows.ExportRows`
and gives ``(order, line, items)`` as :data:`~greenloop.ecom.records.ORDER_RECORD` and
:data:`~greenloop.ecom.records.ITEM_RECORD` tuples in storage form, or ``None``. It
checks that the order-level fields agree across the order's rows, that the order number
is one a store writes, that no stored cell is absurdly long, holds a NUL or bytes that
were not text, and (through :class:`~greenloop.ecom.cells.CellChecker`) every amount and
time. A broken row refuses its whole order, and every problem found is reported, not
only the first. Identifiers a spreadsheet destroyed are warned about
(:mod:`greenloop.ecom.damage`).

This is the import's hot loop: item rows are most of a file, and an export repeats the
same few amounts, so the common row (every amount already seen) is built inline from
the checker's caches. Anything else goes the slow way, which reports.
"""

from __future__ import annotations

from decimal import Decimal
from operator import itemgetter

from greenloop.domain.purchases import KNOWN_PAYMENT_CODES
from greenloop.ecom.cells import CellChecker, RowBroken
from greenloop.ecom.columns import XSERIES_ORDER_ID
from greenloop.ecom.damage import SpreadsheetDamage
from greenloop.ecom.dialect import replacements
from greenloop.ecom.records import ItemRecord, OrderRecord
from greenloop.ecom.report import ReadReport
from greenloop.ecom.rows import ExportRows
from greenloop.ecom.values import order_number_problem, shown

__all__ = ["MAX_TEXT", "ORDER_FIELDS", "OrderBuilder"]

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
# Longer than any name, SKU, e-mail or status a store writes. A cell this long in a
# column GreenLoop stores refuses its order; elsewhere (a comment) it is only noted.
MAX_TEXT = 2000


class OrderBuilder:
    """Builds the orders of one pass over a file (``rows`` is open: its header is read)."""

    def __init__(self, rows: ExportRows, cells: CellChecker, report: ReadReport) -> None:
        self._rows = rows
        self._cells = cells
        self._report = report
        self._reject = report.reject
        header = self._header = rows.header
        ix, col = header.ix, header.col
        self._agreeing = [(name, col[name]) for name in ORDER_FIELDS if name in col]
        self._agree_key = itemgetter(*(index for _, index in self._agreeing))
        self._damage = SpreadsheetDamage(ix, report, excel_like=rows.excel_like)
        # One C call per row fetches the cells a record needs.
        self._money_cells = itemgetter(*(ix[name] for name in ("order_total", *_MONEY_ORDER)))
        self._order_cells = itemgetter(*(ix[name] for name in _ORDER_TEXT))
        self._item_cells = itemgetter(*(ix[name] for name in _ITEM_TEXT))
        # The cells an order takes from its first row, and from each of its rows.
        self._stored_item = frozenset(ix[name] for name in ("order_number", *_ITEM_TEXT))
        self._stored_first = self._stored_item | frozenset(
            ix[name] for name in (*_ORDER_TEXT, "order_total", *_MONEY_ORDER)
        )

    def build(
        self, number: str, rows: list[list[str]], lines: list[int]
    ) -> tuple[OrderRecord, int, list[ItemRecord]] | None:
        """The order's record, first line and item records; ``None`` when refused."""
        first = rows[0]
        if not number:
            for line in lines:
                self._reject(line, "order_number", "is empty", "every row needs its order number")
            return None
        rejected = self._report.rejected
        problems = len(rejected)
        source = self._rows
        checked = (
            source.raw.saw_nul
            or (source.lenient and replacements() != source.replaced)
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
        cells = self._cells
        item_cells, probe, money, prices, quantities = (
            self._item_cells,
            self._damage.cells,
            cells.money_text,
            cells.price_text,
            cells.quantity_text,
        )
        items: list[ItemRecord] = []
        damaged = source.excel_like
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
            self._damage.warn(rows, lines)
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
        report = self._report
        damaged = replacements() != self._rows.replaced
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
                    encoding = report.dialect.encoding if report.dialect else "UTF-8"
                    problem = f"{shown(cell)} holds bytes that are not {encoding} text"
                    hint = "the file is damaged; re-export it from the eCom admin"
                else:
                    continue
                column = self._header.name(index)
                if index in stored:
                    self._reject(lines[position], column, problem, hint)
                else:
                    report.warn(
                        f"{report.file}:{lines[position]}: {column}: {problem}; "
                        "GreenLoop does not store this column, so the order is imported"
                    )

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
        cells = self._cells
        texts = self._money_cells(row)
        try:
            try:
                amounts = list(map(cells.money_text.__getitem__, texts))
            except KeyError:  # an amount not seen yet: parse (and check) them one by one
                amounts = [
                    cells.money(text, column, line)
                    for text, column in zip(texts, ("order_total", *_MONEY_ORDER), strict=True)
                ]
            total = cells.total_text.get(texts[0]) or cells.total(texts[0], line)
            timestamp = timestamp.strip()
            placed_at = cells.time(timestamp, "timestamp", line, required=True)
            pickup_at = cells.time(pickup.strip(), "pickup_time", line)
        except RowBroken:
            return None
        code = code.strip().upper()
        if not code:
            self._reject(line, "payment_status_code", "is empty", "re-export the file")
            return None
        if code not in KNOWN_PAYMENT_CODES and not code.startswith("CUSTOM_PAYMENT_STATUS"):
            self._report.warn(
                f"{self._report.file}:{line}: payment_status_code: unknown code {shown(code)} "
                f"for order {number}; it is imported but not counted as a purchase"
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
        cells = self._cells
        price_text, total_text, quantity_text, sku, name, options = self._item_cells(row)
        try:
            price = cells.price(price_text, line)
            total = cells.money(total_text, "total", line)
            quantity = cells.quantity(quantity_text, line)
        except RowBroken:
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

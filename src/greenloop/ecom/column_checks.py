"""One block of an export's rows checked column by column, all rows at once.

The columnar reader (:mod:`greenloop.ecom.columnar`) hands over a block of whole orders
as pyarrow string columns. Here every column an order stores becomes its stored text in
one pass per column, and every order the row path would refuse or warn about is marked:
it goes through the row path (:class:`~greenloop.ecom.orders.OrderBuilder`), which
reports it by file, line and column, exactly as before.

No value is read differently from the row path. Money, quantities, times and statuses
are converted by the row path's own functions once per distinct text of the block (an
export repeats the same few amounts and statuses; :class:`~greenloop.ecom.cells.
CellChecker`'s quiet checks), so money stays exact decimal text, never a float, and
times go through the same store clock with its DST rules. Text is trimmed by an Arrow
kernel given exactly the characters Python's ``str.strip`` removes.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pyarrow as pa  # type: ignore[import-untyped]
import pyarrow.compute as pc  # type: ignore[import-untyped]

from greenloop.domain.purchases import KNOWN_PAYMENT_CODES
from greenloop.ecom.cells import CellChecker
from greenloop.ecom.columns import XSERIES_ORDER_ID
from greenloop.ecom.damage import DAMAGE_COLUMNS
from greenloop.ecom.orders import MAX_TEXT, ORDER_FIELDS
from greenloop.ecom.records import (
    HASHED_ITEM_FIELDS,
    HASHED_ORDER_FIELDS,
    ITEM_RECORD,
    ORDER_RECORD,
)

__all__ = ["WHITESPACE", "BlockChecker", "CheckedBlock"]

# What str.strip() removes: every character str.isspace() names (none is above U+3000).
WHITESPACE = "".join(chr(code) for code in range(0x3001) if chr(code).isspace())
_NULL = pa.scalar(None, type=pa.string())
# An order number as the export writes it, and what a spreadsheet makes of a numeric
# one (greenloop.ecom.values.order_number_problem, for ASCII text).
_ORDER_NUMBER = r"^[A-Za-z0-9][A-Za-z0-9._#/-]{0,63}$"
_REWRITTEN = r"^(?:[+-]?[0-9]*\.[0-9]+(?:[eE][+-]?[0-9]+)?|[+-]?[0-9]+[eE][+-][0-9]+)$"
# greenloop.ecom.values.looks_scientific and damage._DIGITS (\d is any Unicode digit).
_SCIENTIFIC = r"^[+-]?\p{Nd}+(\.\p{Nd}+)?[eE][+-]?\p{Nd}+$"
_DIGITS = r"^\p{Nd}+$"
_CACHE_LIMIT = 20_000
_SEPARATOR = "\x1f"
# The export's own time form, zero-padded as it writes it (reference §2.3).
_EXPORT_TIME = (
    r"^(Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) ([1-9]|[0-3][0-9]), "
    r"[0-9]{4} (0[1-9]|1[0-2]):[0-5][0-9] (AM|PM)$"
)
_EXPORT_DAY = r"^[A-Za-z]{3} (?P<day>[0-9]{1,2}),"

Convert = Callable[[str], tuple[str | None, bool]]


@dataclass
class CheckedBlock:
    """A block's orders: ``starts`` (each order's first row), the rows whose order must
    go the row path (``slow``, a set of order indexes), and the stored values as Python
    lists, orders' fields in ``ORDER_RECORD`` order and items' in ``ITEM_RECORD`` order."""

    starts: list[int]
    slow: set[int]
    order_columns: list[list[Any]]
    item_columns: list[list[Any]]
    hash_texts: list[str | None]  # what each order's content hash hashes (None: unknown)


def stripped(column: Any) -> Any:
    return pc.utf8_trim(column, characters=WHITESPACE)


def _or_none(column: Any) -> Any:
    return pc.if_else(pc.equal(column, ""), _NULL, column)


def _utc_text(moments: Any) -> Any:
    """``2026-01-06T02:08:00.000000+00:00``: the store clock's UTC text (microseconds,
    as Arrow writes a ``us`` timestamp), several times faster than ``strftime``."""
    naive = pc.cast(pc.cast(moments, pa.timestamp("us", "UTC")), pa.timestamp("us"))
    text = pc.utf8_replace_slice(pc.cast(naive, pa.string()), 10, 11, "T")
    return pc.binary_join_element_wise(text, "+00:00", "")


def _all(masks: list[Any]) -> Any:
    result = masks[0]
    for mask in masks[1:]:
        result = pc.and_(result, mask)
    return result


def _any(masks: list[Any]) -> Any:
    result = masks[0]
    for mask in masks[1:]:
        result = pc.or_(result, mask)
    return result


class BlockChecker:
    """Checks the blocks of one file: ``ix`` maps every standard column to its position
    (``width``, past the last column, when absent: an empty column)."""

    def __init__(
        self, ix: dict[str, int], col: dict[str, int], cells: CellChecker, *, excel_like: bool
    ) -> None:
        self._ix = ix
        self._agreeing = [col[name] for name in ORDER_FIELDS if name in col]
        self._cells = cells
        self._excel_like = excel_like
        self._caches: dict[str, dict[str, tuple[str | None, bool]]] = {}

    def _by_text(self, kind: str, column: Any, convert: Convert) -> tuple[Any, Any]:
        """``convert`` applied once per distinct text: (values, ok) columns."""
        cache = self._caches.setdefault(kind, {})
        encoded = pc.dictionary_encode(column)
        results = []
        for text in encoded.dictionary.to_pylist():
            result = cache.get(text)
            if result is None:
                result = convert(text)
                if len(cache) > _CACHE_LIMIT:
                    cache.clear()
                cache[text] = result
            results.append(result)
        values = pa.array([value for value, _ in results], type=pa.string())
        ok = pa.array([good for _, good in results], type=pa.bool_())
        return values.take(encoded.indices), ok.take(encoded.indices)

    def check(self, batch: Any, keys: Any, starts: list[int], size: Any) -> CheckedBlock:
        """``batch`` holds whole orders; ``keys`` are its stripped order numbers,
        ``starts`` the first row of each order and ``size`` each row's bytes."""
        rows = batch.num_rows
        empty = pa.repeat("", rows)

        def column(name: str) -> Any:
            index = self._ix[name]
            return batch.column(index) if index < batch.num_columns else empty

        starts_array = pa.array(starts, type=pa.int64())
        changes = [0] * rows
        for start in starts[1:]:
            changes[start] = 1
        order_of_row = pc.cumulative_sum(pa.array(changes, type=pa.int64()))
        first_of_row = starts_array.take(order_of_row)
        bad_rows = self._row_problems(batch, column, first_of_row, keys)
        bad_rows.append(pc.greater(size, MAX_TEXT))

        def first(name: str) -> Any:
            return column(name).take(starts_array)

        cells = self._cells
        bad_orders = [pc.invert(pc.match_substring_regex(keys.take(starts_array), _ORDER_NUMBER))]
        bad_orders.append(pc.match_substring_regex(keys.take(starts_array), _REWRITTEN))
        total, ok = self._by_text("total", first("order_total"), cells.quiet_total)
        bad_orders.append(pc.invert(ok))
        amounts = []
        for name in (
            "order_subtotal",
            "order_tax",
            "order_shipping",
            "order_handling_fee",
            "discount",
            "coupon_discount",
            "gift_card_redemption",
        ):
            value, ok = self._by_text("money", first(name), cells.quiet_money)
            amounts.append(value)
            bad_orders.append(pc.invert(ok))
        # order_total is also an amount: no larger than any order total.
        bad_orders.append(
            pc.invert(self._by_text("money", first("order_total"), cells.quiet_money)[1])
        )
        placed_at, ok = self._times(first("timestamp"), "timestamp")
        bad_orders.append(pc.invert(ok))
        pickup_at, ok = self._times(first("pickup_time"), "pickup_time")
        bad_orders.append(pc.invert(ok))
        code, ok = self._by_text("code", first("payment_status_code"), _payment_code)
        bad_orders.append(pc.invert(ok))
        fulfillment, _ = self._by_text(
            "fulfillment", first("fulfillment_status_code"), _upper_or_none
        )
        email = stripped(first("email"))
        if pc.all(pc.string_is_ascii(email)).as_py():
            email = pc.ascii_lower(email)
        else:
            email, _ = self._by_text("email", first("email"), _lower)
        name = _or_none(stripped(first("shipto_person_name")))
        bill_name = _or_none(stripped(first("bill_person_name")))
        phone = _or_none(stripped(first("shipto_person_phone")))
        bill_phone = _or_none(stripped(first("bill_person_phone")))
        subtotal, tax, shipping, handling_fee, discount, coupon_discount, gift_card = amounts
        order_columns = [
            keys.take(starts_array),
            email,
            pc.coalesce(name, bill_name),
            pc.coalesce(phone, bill_phone),
            placed_at,
            stripped(first("timestamp")),
            pickup_at,
            code,
            fulfillment,
            _or_none(stripped(first("payment_method"))),
            _or_none(stripped(first("shipping_method"))),
            subtotal,
            tax,
            shipping,
            handling_fee,
            discount,
            _or_none(stripped(first("coupon_code"))),
            coupon_discount,
            gift_card,
            total,
            _or_none(stripped(first(XSERIES_ORDER_ID))),
            _or_none(stripped(first("order_tracking_number"))),
        ]
        price, ok = self._by_text("price", column("price"), cells.quiet_price)
        bad_rows.append(pc.invert(ok))
        item_total, ok = self._by_text("item_total", column("total"), cells.quiet_item_total)
        bad_rows.append(pc.invert(ok))
        quantity, ok = self._by_text("quantity", column("quantity"), cells.quiet_quantity)
        bad_rows.append(pc.invert(ok))
        positions = pc.subtract(pa.array(range(rows), type=pa.int64()), first_of_row)
        item_columns = [
            keys,
            positions,
            _or_none(stripped(column("sku"))),
            stripped(column("name")),
            price,
            quantity,
            item_total,
            _or_none(stripped(column("options"))),
        ]
        slow = set(pc.indices_nonzero(_any(bad_orders)).to_pylist())
        slow.update(order_of_row.filter(_any(bad_rows)).to_pylist())
        return CheckedBlock(
            starts=starts,
            slow=slow,
            order_columns=[values.to_pylist() for values in order_columns],
            item_columns=[values.to_pylist() for values in item_columns],
            hash_texts=_hash_texts(order_columns, item_columns, starts, rows).to_pylist(),
        )

    def _times(self, column: Any, name: str) -> tuple[Any, Any]:
        """Stored UTC text of a time column, and which cells are ok.

        Times in the export's own form (``Jan 5, 2026 08:08 PM``) are read by Arrow and
        placed in the zone by Arrow, keeping only those both DST choices agree on (no
        gap, no overlap) and whose day did not roll over (``Feb 30``); every other cell
        goes through the row path's store clock, once per distinct text.
        """
        cells = self._cells

        def convert(text: str) -> tuple[str | None, bool]:
            return cells.quiet_time(text, name)

        text = stripped(column)
        fast = pc.match_substring_regex(text, _EXPORT_TIME)
        if not pc.any(fast).as_py():
            return self._by_text(name, column, convert)
        local = pc.strptime(text, format="%b %d, %Y %I:%M %p", unit="us", error_is_null=True)
        zone = cells.zone_name
        early = pc.assume_timezone(
            local, timezone=zone, ambiguous="earliest", nonexistent="earliest"
        )
        late = pc.assume_timezone(local, timezone=zone, ambiguous="latest", nonexistent="latest")
        day = pc.cast(pc.struct_field(pc.extract_regex(text, _EXPORT_DAY), [0]), pa.int64())
        utc = _utc_text(early)
        earliest, latest = cells.time_bounds(name)
        checks = [
            fast,
            pc.equal(early, late),
            pc.equal(day, pc.day(local)),
            pc.greater_equal(utc, earliest),
            pc.less_equal(utc, latest),
        ]
        fast = pc.fill_null(_all(checks), False)
        ok = pa.repeat(True, len(column))
        if pc.all(fast).as_py():
            return utc, ok
        others = pc.invert(fast)
        values, good = self._by_text(name, column.filter(others), convert)
        return pc.replace_with_mask(utc, others, values), pc.replace_with_mask(ok, others, good)

    def _disagreeing(self, batch: Any, first_of_row: Any) -> Any:
        """Rows whose order fields differ from the row before in the same order: an
        order has one such row exactly when one of its rows differs from its first.
        Comparing each row with the one before takes slices, where comparing it with its
        order's first row copied every cell (``take``)."""
        rows = batch.num_rows
        if rows < 2 or not self._agreeing:
            return pa.repeat(False, rows)
        differs = _any(
            [
                pc.not_equal(batch.column(index).slice(1), batch.column(index).slice(0, rows - 1))
                for index in self._agreeing
            ]
        )
        same_order = pc.equal(first_of_row.slice(1), first_of_row.slice(0, rows - 1))
        later = pc.and_(same_order, differs)
        return pa.concat_arrays([pa.array([False]), later])

    def _row_problems(
        self, batch: Any, column: Callable[[str], Any], first_of_row: Any, keys: Any
    ) -> list[Any]:
        """Rows the row path would refuse or warn about, whatever their values: a row
        disagreeing with its order's first row, identifiers a spreadsheet damaged."""
        problems = [self._disagreeing(batch, first_of_row)]
        for name in DAMAGE_COLUMNS:
            values = keys if name == "order_number" else stripped(column(name))
            problems.append(pc.match_substring_regex(values, _SCIENTIFIC))
        if self._excel_like:
            sku = stripped(column("sku"))
            phone = stripped(column("shipto_person_phone"))
            postcode = stripped(column("shipto_person_postal_code"))
            problems += [
                pc.and_(
                    pc.match_substring_regex(sku, _DIGITS),
                    pc.is_in(pc.utf8_length(sku), pa.array([11, 12], type=pa.int32())),
                ),
                pc.and_(
                    pc.match_substring_regex(phone, r"^1\p{Nd}{10}$"),
                    pc.equal(pc.utf8_length(phone), 11),
                ),
                pc.and_(
                    pc.match_substring_regex(postcode, _DIGITS),
                    pc.equal(pc.utf8_length(postcode), 4),
                ),
            ]
        return problems


def _hash_texts(
    order_columns: list[Any], item_columns: list[Any], starts: list[int], rows: int
) -> Any:
    """Each order's content-hash text (greenloop.ecom.staging.content_hash) by columns:
    its fields, then every item's, joined by U+001F. Null where a value it needs is
    missing; those orders are hashed the row path's way."""
    orders = [
        pc.fill_null(order_columns[ORDER_RECORD.index(name)], absent)
        for name, absent in HASHED_ORDER_FIELDS
    ]
    items = [
        pc.fill_null(item_columns[ITEM_RECORD.index(name)], absent)
        for name, absent in HASHED_ITEM_FIELDS
    ]
    per_item = pc.binary_join_element_wise(*items, _SEPARATOR)
    offsets = pa.array([*starts, rows], type=pa.int32())
    per_order = pc.binary_join(pa.ListArray.from_arrays(offsets, per_item), _SEPARATOR)
    return pc.binary_join_element_wise(*orders, per_order, _SEPARATOR)


def _payment_code(text: str) -> tuple[str | None, bool]:
    code = text.strip().upper()
    known = code in KNOWN_PAYMENT_CODES or code.startswith("CUSTOM_PAYMENT_STATUS")
    return code, bool(code) and known


def _upper_or_none(text: str) -> tuple[str | None, bool]:
    return text.strip().upper() or None, True


def _lower(text: str) -> tuple[str | None, bool]:
    return text.strip().lower(), True

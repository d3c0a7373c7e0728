"""One cell's text checked and turned into its stored text, with what is wrong reported.

:class:`CellChecker` parses a money, quantity or time cell with
:mod:`greenloop.ecom.values`, holds it to the store's limits (:class:`ValueLimits`),
and gives the value in storage form: money as the canonical text of its ``Decimal``,
times as fixed-width ISO-8601 UTC text, which sorts as the moments do. A bad cell is
reported as ``file:line: column: what is wrong, how to fix`` and raises
:class:`RowBroken`, which refuses its order.

An export repeats the same few amounts on every row, so each kind of value is cached
by its cell text, each cache holding only texts valid for its kind. The order builder
(:mod:`greenloop.ecom.orders`) looks in the caches first and calls here only for a
text not seen yet.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from greenloop.ecom.report import ReadReport
from greenloop.ecom.values import BadCell, StoreClock, ValueLimits, parse_money, shown

__all__ = ["CellChecker", "RowBroken"]

_MISSING: Any = object()
# Entries per cache before it starts over: enough for the few distinct amounts and
# times that repeat, small enough to keep a worker's memory flat on any file.
_CACHE_LIMIT = 20_000
# A pickup may be booked ahead; further than this after the latest order time is no
# date a store sets.
_PICKUP_AHEAD = timedelta(days=366)


class RowBroken(Exception):
    """The row was reported; stop building it."""


class CellChecker:
    """Cell text → stored text for one file's reading, within ``limits``."""

    def __init__(self, limits: ValueLimits, clock: StoreClock, report: ReadReport) -> None:
        self.limits = limits
        self._clock = clock
        self._report = report
        self._reject = report.reject
        self._earliest = _utc_text(limits.earliest)
        self._latest = "9" if limits.latest is None else _utc_text(limits.latest)
        self._latest_pickup = (
            "9" if limits.latest is None else _utc_text(limits.latest + _PICKUP_AHEAD)
        )
        # Cell text -> canonical text: any amount (None when empty), order totals, item
        # prices (empty or zero read as "0"), quantities (empty read as "1"). The order
        # builder reads them directly on its fast path.
        self.money_text: dict[str, str | None] = {}
        self.total_text: dict[str, str] = {}
        self.price_text: dict[str, str] = {}
        self.quantity_text: dict[str, str] = {}

    def money(self, text: str, name: str, line: int) -> str | None:
        """Canonical text of a money cell (``None`` when empty); reports a bad one, and
        one larger than any order total (every amount of an order is part of one)."""
        value = self.money_text.get(text, _MISSING)
        if value is not _MISSING:
            return value  # type: ignore[no-any-return]
        try:
            parsed = parse_money(text)
        except ValueError as exc:
            self._reject_bad_cell(line, name, exc)
            raise RowBroken from None
        if parsed is not None and abs(parsed) > self.limits.max_order_total:
            self._reject(
                line,
                name,
                f"{shown(text.strip())} is more than any order of the store "
                f"(ecom.max_order_total is {self.limits.max_order_total})",
                "fix the amount in the export, or raise ecom.max_order_total",
            )
            raise RowBroken
        value = None if parsed is None else str(parsed)
        _remember(self.money_text, text, value)
        return value

    def total(self, text: str, line: int) -> str:
        """Canonical text of an order total; reports an empty or negative one."""
        value = self.money(text, "order_total", line)
        if value is None:
            self._reject(
                line, "order_total", "is empty", "the eCom export always fills it; re-export"
            )
            raise RowBroken
        if Decimal(value) < 0:
            self._reject(
                line,
                "order_total",
                f"{shown(text.strip())} is negative",
                "an order's total is never below zero (a refund keeps it); fix the export",
            )
            raise RowBroken
        _remember(self.total_text, text, value)
        return value

    def price(self, text: str, line: int) -> str:
        """Canonical text of an item price; an empty or zero one is ``"0"``."""
        value = self.money(text, "price", line)
        # An empty or zero price reads as Decimal(0) (stored, and hashed, as "0").
        price = "0" if value is None or Decimal(value) == 0 else value
        _remember(self.price_text, text, price)
        return price

    def quantity(self, text: str, line: int) -> str:
        """Canonical text of an item quantity (an empty one is 1); reports one that is
        negative or larger than ``max_quantity``."""
        try:
            quantity = parse_money(text)
        except ValueError as exc:
            self._reject_bad_cell(line, "quantity", exc)
            raise RowBroken from None
        if quantity is None:
            quantity = Decimal(1)
        if quantity < 0:
            self._reject(
                line,
                "quantity",
                f"{shown(text.strip())} is negative",
                "an item's quantity is never below zero; fix the export",
            )
            raise RowBroken
        if quantity > self.limits.max_quantity:
            self._reject(
                line,
                "quantity",
                f"{shown(text.strip())} is more than any order of the store "
                f"(ecom.max_quantity is {self.limits.max_quantity})",
                "fix the quantity in the export, or raise ecom.max_quantity",
            )
            raise RowBroken
        value = str(quantity)
        _remember(self.quantity_text, text, value)
        return value

    def time(self, text: str, name: str, line: int, *, required: bool = False) -> str | None:
        """UTC text of a (stripped) time cell, ``None`` when empty; reports a bad one."""
        if not text:
            if required:
                self._reject(line, name, "is empty", "the eCom export always fills it; re-export")
                raise RowBroken
            return None
        try:
            utc, note = self._clock.utc_text(text)
        except ValueError as exc:
            self._reject_bad_cell(line, name, exc)
            raise RowBroken from None
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
            raise RowBroken
        if utc > latest:
            self._reject(
                line,
                name,
                f"{shown(text)} is in the future (later than {latest[:16].replace('T', ' ')} "
                "UTC, which is ecom.max_future_days after the import)",
                "fix the date in the export, or check the computer's clock",
            )
            raise RowBroken
        if note:
            self._report.warn(f"{self._report.file}:{line}: {name}: {note}")
        return utc

    # Quiet checks for the columnar path (:mod:`greenloop.ecom.column_checks`): the same
    # tests as above, giving ``(stored text, ok)`` and reporting nothing. A cell that is
    # not ok, or that the methods above would warn about, sends its order to the row
    # path, which reports it.

    def quiet_money(self, text: str) -> tuple[str | None, bool]:
        """:meth:`money` without reporting."""
        try:
            parsed = parse_money(text)
        except ValueError:
            return None, False
        if parsed is not None and abs(parsed) > self.limits.max_order_total:
            return None, False
        return (None if parsed is None else str(parsed)), True

    def quiet_total(self, text: str) -> tuple[str | None, bool]:
        """:meth:`total` without reporting."""
        value, ok = self.quiet_money(text)
        if not ok or value is None or Decimal(value) < 0:
            return None, False
        return value, True

    def quiet_price(self, text: str) -> tuple[str | None, bool]:
        """:meth:`price` without reporting."""
        value, ok = self.quiet_money(text)
        if not ok:
            return None, False
        return ("0" if value is None or Decimal(value) == 0 else value), True

    def quiet_item_total(self, text: str) -> tuple[str | None, bool]:
        """An item's total; an empty one is not ok here (the row path computes it)."""
        value, ok = self.quiet_money(text)
        return value, ok and value is not None

    def quiet_quantity(self, text: str) -> tuple[str | None, bool]:
        """:meth:`quantity` without reporting."""
        try:
            quantity = parse_money(text)
        except ValueError:
            return None, False
        if quantity is None:
            quantity = Decimal(1)
        if quantity < 0 or quantity > self.limits.max_quantity:
            return None, False
        return str(quantity), True

    @property
    def zone_name(self) -> str:
        """The store's IANA zone."""
        return self._clock.zone.key

    def time_bounds(self, name: str) -> tuple[str, str]:
        """The earliest and latest UTC text a time of column ``name`` may have."""
        return self._earliest, self._latest_pickup if name == "pickup_time" else self._latest

    def quiet_time(self, text: str, name: str) -> tuple[str | None, bool]:
        """:meth:`time` of the stripped ``text`` without reporting; a time with a DST
        note is not ok (the row path warns about it). ``timestamp`` is required."""
        text = text.strip()
        if not text:
            return None, name != "timestamp"
        try:
            utc, note = self._clock.utc_text(text)
        except ValueError:
            return None, False
        latest = self._latest_pickup if name == "pickup_time" else self._latest
        if note or utc < self._earliest or utc > latest:
            return None, False
        return utc, True

    def _reject_bad_cell(self, line: int, column: str, exc: ValueError) -> None:
        if isinstance(exc, BadCell):
            self._reject(line, column, exc.message, exc.hint)
        else:
            self._reject(line, column, str(exc), None)


def _remember(cache: dict[str, Any], text: str, value: Any) -> None:
    """Add to a cache that starts over when full, so memory stays flat on any file."""
    if len(cache) > _CACHE_LIMIT:
        cache.clear()
    cache[text] = value


def _utc_text(moment: datetime) -> str:
    """A moment as the clock's UTC text, which sorts as the moments do."""
    return moment.astimezone(UTC).isoformat(timespec="microseconds")

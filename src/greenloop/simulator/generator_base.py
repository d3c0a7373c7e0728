"""Shared building blocks of the store generator: ids, the clock, money and the catalogue.

Everything takes the generator's single ``random.Random`` so that one seed fixes the
whole store. Times are whole UTC epoch seconds until they are written out.
"""

from __future__ import annotations

import random
import string
from bisect import bisect_right
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import ROUND_HALF_UP, Decimal
from itertools import accumulate
from typing import Generic, TypeVar

from greenloop.simulator.names import PRODUCTS

__all__ = [
    "CENTS",
    "DAY",
    "HOUR",
    "ZERO",
    "Catalog",
    "LineMoney",
    "Picker",
    "Product",
    "below",
    "central_offset",
    "code4",
    "iso",
    "local_parts",
    "new_uuid",
    "trim",
]

DAY = 86_400
HOUR = 3_600
ZERO = Decimal(0)
CENTS = Decimal("0.01")
_TAX_PLACES = Decimal("0.00001")
_ONE = Decimal(1)

# Bits that uuid.UUID(int=..., version=4) forces; doing it by hand is several times faster,
# which matters when a large store needs a million ids.
_V4_CLEAR = ~((0xF000 << 64) | (0xC000 << 48))
_V4_SET = (0x4000 << 64) | (0x8000 << 48)

_CODE_CHARS = string.ascii_uppercase + string.digits
_T = TypeVar("_T")


class Picker(Generic[_T]):
    """Weighted choice over a fixed list; ``random.choices`` re-sums the weights on every call,
    which dominated generation time."""

    __slots__ = ("_cum", "_items", "_total")

    def __init__(self, items: Sequence[_T], weights: Sequence[float]) -> None:
        self._items = list(items)
        self._cum = list(accumulate(weights))
        self._total = self._cum[-1]

    def pick(self, rng: random.Random) -> _T:
        return self._items[bisect_right(self._cum, rng.random() * self._total)]


def new_uuid(rng: random.Random) -> str:
    """A random version-4 UUID string, drawn from ``rng`` (same text as ``uuid.UUID``)."""
    h = format((rng.getrandbits(128) & _V4_CLEAR) | _V4_SET, "032x")
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


def code4(rng: random.Random) -> str:
    return "".join(rng.choices(_CODE_CHARS, k=4))


_DAY_TEXT: dict[int, str] = {}
_EPOCH = date(1970, 1, 1)


def below(rng: random.Random, n: int) -> int:
    """A number in [0, n); quicker than ``randrange`` and plenty even for the hot paths."""
    return int(rng.random() * n)


_last_iso: list[tuple[int, str]] = [(-1, "")]


def iso(ts: int) -> str:
    """``2024-06-21T17:59:35+00:00`` for an epoch second, the way API 2.0 writes UTC times."""
    # A sale's date, creation, update and payment times are often the same second; handing
    # back the same string object saves work and memory.
    last_ts, last_text = _last_iso[0]
    if last_ts == ts:
        return last_text
    day, sec = divmod(ts, DAY)
    prefix = _DAY_TEXT.get(day)
    if prefix is None:
        prefix = (_EPOCH + timedelta(days=day)).isoformat()
        _DAY_TEXT[day] = prefix
    hour, rest = divmod(sec, HOUR)
    minute, second = divmod(rest, 60)
    text = f"{prefix}T{hour:02d}:{minute:02d}:{second:02d}+00:00"
    _last_iso[0] = (ts, text)
    return text


_DST_BOUNDS: dict[int, tuple[int, int]] = {}


def _dst_bounds(year: int) -> tuple[int, int]:
    # US rule since 2007: second Sunday of March to first Sunday of November, at 02:00 local.
    # Computed here so that generation never depends on the host's tz database.
    bounds = _DST_BOUNDS.get(year)
    if bounds is None:
        march = date(year, 3, 1)
        second_sunday = march + timedelta(days=(6 - march.weekday()) % 7 + 7)
        november = date(year, 11, 1)
        first_sunday = november + timedelta(days=(6 - november.weekday()) % 7)
        start = (second_sunday - _EPOCH).days * DAY + 8 * HOUR
        end = (first_sunday - _EPOCH).days * DAY + 7 * HOUR
        bounds = (start, end)
        _DST_BOUNDS[year] = bounds
    return bounds


def central_offset(ts: int) -> int:
    """Seconds to add to a UTC epoch second to get America/Chicago wall-clock time."""
    year = (_EPOCH + timedelta(days=ts // DAY)).year
    start, end = _dst_bounds(year)
    return -5 * HOUR if start <= ts < end else -6 * HOUR


def local_parts(ts: int) -> tuple[date, int, int]:
    """Store-local (date, hour, minute) of a UTC epoch second."""
    local = ts + central_offset(ts)
    day, sec = divmod(local, DAY)
    return _EPOCH + timedelta(days=day), sec // HOUR, (sec % HOUR) // 60


def trim(value: Decimal) -> Decimal:
    """Drop trailing zeros (34.72500 → 34.725) without turning 30 into 3E+1."""
    if not value:
        return ZERO
    if value == value.to_integral_value():
        return value.quantize(_ONE)
    return value.normalize()


@dataclass(frozen=True, slots=True)
class Product:
    index: int
    id: str
    name: str
    sku: str
    price: Decimal
    cost: Decimal
    online: bool


@dataclass(frozen=True, slots=True)
class LineMoney:
    """The money fields of one line item, computed once per (product, quantity, discount)."""

    price: Decimal
    price_total: Decimal
    cost: Decimal
    cost_total: Decimal
    discount: Decimal
    discount_total: Decimal
    tax: Decimal
    tax_total: Decimal
    loyalty_total: Decimal


class Catalog:
    """The store's products, its one sales tax and a cache of line-item arithmetic."""

    def __init__(self, rng: random.Random, tax_rate: Decimal, loyalty_ratio: Decimal) -> None:
        self.tax_rate = tax_rate
        self.loyalty_ratio = loyalty_ratio
        self.products = [
            Product(i, new_uuid(rng), name, sku, Decimal(price), Decimal(cost), online)
            for i, (name, sku, price, cost, online) in enumerate(PRODUCTS)
        ]
        online = [p for p in self.products if p.online]
        # Cheap items sell far more often than a 14 g jar or a water pipe.
        self.instore_picker = Picker(self.products, [float(p.price) ** -0.5 for p in self.products])
        self.online_picker = Picker(online, [float(p.price) ** -0.5 for p in online])
        self.shipping = Product(len(self.products), new_uuid(rng), "Shipping", "", ZERO, ZERO, True)
        self._cache: dict[tuple[int, Decimal, int, Decimal, bool], LineMoney] = {}

    def line(self, product: Product, qty: int, unit_discount: Decimal = ZERO) -> LineMoney:
        """Money for ``qty`` units (negative for returns); loyalty is for loyalty members."""
        return self.custom_line(product, product.price, qty, unit_discount, taxed=True)

    def custom_line(
        self,
        product: Product,
        list_price: Decimal,
        qty: int,
        unit_discount: Decimal,
        *,
        taxed: bool,
    ) -> LineMoney:
        key = (product.index, list_price, qty, unit_discount, taxed)
        money = self._cache.get(key)
        if money is None:
            price = list_price - unit_discount
            price_total = price * qty
            rate = self.tax_rate if taxed else ZERO
            money = LineMoney(
                price=trim(price),
                price_total=trim(price_total),
                cost=trim(product.cost),
                cost_total=trim(product.cost * qty),
                discount=trim(unit_discount),
                discount_total=trim(unit_discount * qty),
                tax=trim((price * rate).quantize(_TAX_PLACES, ROUND_HALF_UP)),
                tax_total=trim((price_total * rate).quantize(_TAX_PLACES, ROUND_HALF_UP)),
                loyalty_total=trim(
                    (price_total * self.loyalty_ratio).quantize(_TAX_PLACES, ROUND_HALF_UP)
                ),
            )
            self._cache[key] = money
        return money

"""Write the generated eCom orders as an E-Series orders export CSV.

Two flavours, both described in ECOM_ESERIES_EXPORT.md:

* the file as the eCom admin writes it (§2, "variant A"): UTF-8 without a BOM, ``;``,
  LF, one row per line item with the order-level cells repeated on every row, newest
  order first;
* the same file after a US-locale Excel opened and re-saved it (§3, "variant B"): a BOM,
  ``,``, CRLF, and the values Excel rewrites on the way (numbers, booleans, dates).

Only the line-item cells differ between an order's rows, so each order's other cells
are rendered once and reused; rows go to the output order by order, never the whole
file at once, so a million rows cost little memory.
"""

from __future__ import annotations

import re
import zlib
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import UTC, datetime
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path
from typing import Any, TextIO, TypeVar
from zoneinfo import ZoneInfo

from greenloop.ecom.columns import STANDARD_COLUMNS, XSERIES_ORDER_ID

__all__ = [
    "EXTRA_COLUMNS",
    "FULFILLMENT_LABELS",
    "HEADER",
    "PAYMENT_LABELS",
    "write_ecom_export",
]

Obj = Mapping[str, Any]

# The checkout extra fields of the store the reference file came from (§2.2); titles may
# hold quotes or be the literal ``null``, which is why they are kept verbatim.
EXTRA_COLUMNS: tuple[str, ...] = (
    "Pickup date and time",
    'Free Shipping $100 Min. Use Code "freeshipping"',
    'New Customers get 15% Off + Free Shipping $50 Min. Use Code "mynewjourney"',
    "null",
    XSERIES_ORDER_ID,
    "language",
)
HEADER: tuple[str, ...] = (*STANDARD_COLUMNS, *EXTRA_COLUMNS)

# Display labels next to Ecwid's legacy status codes (§2.3, §4).
PAYMENT_LABELS: dict[str, str] = {
    "ACCEPTED": "Paid",
    "QUEUED": "Awaiting Payment",
    "REFUNDED": "Refunded",
    "PARTIALLY_REFUNDED": "Partially Refunded",
    "CANCELLED": "Canceled",
    "DECLINED": "Declined",
    "CHARGEABLE": "Chargeable",
    "INCOMPLETE": "Incomplete",
}
FULFILLMENT_LABELS: dict[str, str] = {
    "NEW": "Awaiting Processing",
    "PROCESSING": "Processing",
    "SHIPPED": "Shipped",
    "DELIVERED": "Delivered",
    "READY_FOR_PICKUP": "Ready For Pickup",
    "OUT_FOR_DELIVERY": "Out For Delivery",
    "RETURNED": "Returned",
    "WILL_NOT_DELIVER": "Delivery Canceled",
}

_ITEM_COLUMNS = ("sku", "name", "weight", "price", "total", "quantity", "options", "tax_details")
# Rows are assembled as head + item cells + tail, so the item block must sit right after
# order_number and email, as it does in the real header (§2.2).
assert STANDARD_COLUMNS[:2] == ("order_number", "email")
assert STANDARD_COLUMNS[2:10] == _ITEM_COLUMNS
_TAIL_COLUMNS = HEADER[10:]

_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
_STATE_TAX = "State & Local Tax"
_PRIVILEGE_TAX = "Privilege Tax"
_STATE_SHARE_PER_MILLE = 619  # the state/privilege split of the reference rows (§2.4)
_DETAIL_DISCOUNT = (
    "volume_discount:0.00;customer_group_discount:0.00;"
    "customer_group_volume_discount:0.00;shipping_discount:0.00"
)
_COUNTRY_NAMES = {"US": "United States", "CA": "Canada"}
_STATE_NAMES = {
    "AL": "Alabama",
    "AK": "Alaska",
    "AZ": "Arizona",
    "AR": "Arkansas",
    "CA": "California",
    "CO": "Colorado",
    "CT": "Connecticut",
    "DE": "Delaware",
    "DC": "District of Columbia",
    "FL": "Florida",
    "GA": "Georgia",
    "HI": "Hawaii",
    "ID": "Idaho",
    "IL": "Illinois",
    "IN": "Indiana",
    "IA": "Iowa",
    "KS": "Kansas",
    "KY": "Kentucky",
    "LA": "Louisiana",
    "ME": "Maine",
    "MD": "Maryland",
    "MA": "Massachusetts",
    "MI": "Michigan",
    "MN": "Minnesota",
    "MS": "Mississippi",
    "MO": "Missouri",
    "MT": "Montana",
    "NE": "Nebraska",
    "NV": "Nevada",
    "NH": "New Hampshire",
    "NJ": "New Jersey",
    "NM": "New Mexico",
    "NY": "New York",
    "NC": "North Carolina",
    "ND": "North Dakota",
    "OH": "Ohio",
    "OK": "Oklahoma",
    "OR": "Oregon",
    "PA": "Pennsylvania",
    "RI": "Rhode Island",
    "SC": "South Carolina",
    "SD": "South Dakota",
    "TN": "Tennessee",
    "TX": "Texas",
    "UT": "Utah",
    "VT": "Vermont",
    "VA": "Virginia",
    "WA": "Washington",
    "WV": "West Virginia",
    "WI": "Wisconsin",
    "WY": "Wyoming",
}
_HUNDRED = Decimal(100)
_ONE = Decimal(1)
# Whatever a US-locale Excel reads as a number when it opens the file (§3).
_NUMBER = re.compile(r" *([+-]?)(\d*)(?:\.(\d*))?")
# Excel's General format shows at most 11 digits before it switches to scientific notation.
_EXCEL_DIGITS = 11


# -- cell formats ---------------------------------------------------------------------------


class _Format:
    """How the eCom admin writes cells (§2.1, §2.3)."""

    sep = ";"
    eol = "\n"
    bom = ""

    def text(self, value: str) -> str:
        """Quoted only when it must be: separator, quote or line break inside."""
        if self.sep in value or '"' in value or "\n" in value or "\r" in value:
            return '"' + value.replace('"', '""') + '"'
        return value

    def code(self, value: str) -> str:
        """Digit strings (order and postal codes) that must stay as they are."""
        return self.text(value)

    def sku(self, value: str) -> str:
        # Always quoted so leading zeros survive a spreadsheet (§2.1).
        return '"' + value.replace('"', '""') + '"'

    def phone(self, value: str) -> str:
        return f'" {value}"' if value else ""

    def field_value(self, value: str) -> str:
        # Checkout extra-field values are always quoted, empty ones as "" (§2.1).
        return '"' + value.replace('"', '""') + '"'

    def money(self, cents: int) -> str:
        return _money(cents)

    def plain_number(self, value: str) -> str:
        return value

    def boolean(self, value: bool) -> str:
        return "true" if value else "false"

    def timestamp(self, local: datetime) -> str:
        hour = local.hour % 12 or 12
        half = "AM" if local.hour < 12 else "PM"
        return (
            f"{_MONTHS[local.month - 1]} {local.day}, {local.year} "
            f"{hour:02d}:{local.minute:02d} {half}"
        )

    def extra_time(self, local: datetime) -> str:
        return self.field_value(f"{local:%Y-%m-%d %H:%M:%S}")


class _ExcelFormat(_Format):
    """The same cells after a US-locale Excel re-save (§3)."""

    sep = ","
    eol = "\r\n"
    bom = "\ufeff"

    def code(self, value: str) -> str:
        return self.text(_excel_number(value))

    def sku(self, value: str) -> str:
        return self.text(_excel_number(value))

    def phone(self, value: str) -> str:
        return self.text(_excel_number(f" {value}")) if value else ""

    def field_value(self, value: str) -> str:
        # Excel drops the quotes the admin put around every extra-field value.
        return self.text(value)

    def money(self, cents: int) -> str:
        return _excel_number(_money(cents))

    def plain_number(self, value: str) -> str:
        return _excel_number(value)

    def boolean(self, value: bool) -> str:
        return "TRUE" if value else "FALSE"

    def timestamp(self, local: datetime) -> str:
        return f"{local.month}/{local.day}/{local.year} {local.hour:02d}:{local.minute:02d}"

    def extra_time(self, local: datetime) -> str:
        return self.timestamp(local)


def _excel_number(text: str) -> str:
    """``text`` as Excel writes it back when it took it for a number, else unchanged.

    Leading zeros, a ``+`` and spaces go, trailing decimal zeros go (``8.30`` → ``8.3``),
    and anything wider than Excel's General format turns into lossy scientific notation
    (``9400100000000000000001`` → ``9.4001E+21``), as §3 describes.
    """
    match = _NUMBER.fullmatch(text)
    if match is None:
        return text
    sign, whole, frac = match.groups()
    if not whole and not frac:
        return text
    whole = whole.lstrip("0")
    frac = (frac or "").rstrip("0")
    if len(whole) > _EXCEL_DIGITS:
        mantissa, exponent = f"{float(whole):.5E}".split("E")
        mantissa = mantissa.rstrip("0").rstrip(".")
        whole, frac = f"{mantissa}E{exponent}", ""
    sign = "-" if sign == "-" and (whole or frac) else ""
    return f"{sign}{whole or '0'}{'.' + frac if frac else ''}"


# -- values ---------------------------------------------------------------------------------


def _money(cents: int) -> str:
    """``1234.56``: dot decimal, no grouping, no symbol (§2.1)."""
    sign = "-" if cents < 0 else ""
    whole, frac = divmod(abs(cents), 100)
    return f"{sign}{whole}.{frac:02d}"


def _cents(value: Any) -> int:
    """Whole cents of a money value (``Decimal`` in memory, maybe text or a number)."""
    if type(value) is not Decimal:
        # Comparing a Decimal with "" goes through the numbers ABCs, which is slow.
        if value is None or value == "":
            return 0
        value = Decimal(str(value))
    return int((value * _HUNDRED).quantize(_ONE, ROUND_HALF_UP))


def _utc(value: Any) -> datetime:
    moment = value if isinstance(value, datetime) else datetime.fromisoformat(str(value))
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _split(cents: int, weights: Sequence[int]) -> list[int]:
    """``cents`` shared out by ``weights`` in whole cents that add up exactly.

    Largest remainder, so no share goes negative and the item taxes sum to the order's.
    """
    if not weights:
        return []
    if cents < 0:
        return [-share for share in _split(-cents, weights)]
    total = sum(weights)
    if total <= 0:
        return [cents] + [0] * (len(weights) - 1)
    exact = [cents * w for w in weights]
    shares = [e // total for e in exact]
    short = cents - sum(shares)
    by_remainder = sorted(range(len(weights)), key=lambda i: (-(exact[i] % total), i))
    for i in by_remainder[:short]:
        shares[i] += 1
    return shares


def _seed(order_number: str) -> int:
    # crc32, not hash(): str hashes change per process and the export must be repeatable.
    return zlib.crc32(order_number.encode("utf-8"))


# -- rows -----------------------------------------------------------------------------------


# Where each cell after the item block sits in a row's tail.
_AT = {column: i for i, column in enumerate(_TAIL_COLUMNS)}
_CACHE_LIMIT = 100_000
_K = TypeVar("_K")
_V = TypeVar("_V")


class _Writer:
    """Renders orders into rows for one format, reusing whatever repeats."""

    def __init__(self, fmt: _Format, zone: ZoneInfo) -> None:
        self.fmt = fmt
        self.zone = zone
        self.weight = fmt.plain_number("0.00")
        self.tax_names = (fmt.text(_STATE_TAX), fmt.text(_PRIVILEGE_TAX))
        self.empty_extra = fmt.field_value("")
        self.pickup_kind = fmt.field_value("DATE_AND_TIME")
        # A store repeats few distinct amounts and products, and rendering them again and
        # again dominated the run time of a million-row export.
        self.money_cells: dict[int, str] = {}
        self.cents_of: dict[Any, int] = {}
        self.item_cells: dict[tuple[Any, ...], str] = {}
        self.tax_cells: dict[tuple[int, int], str] = {}
        # The tail cells every order shares; each order fills in a copy.
        blank = [""] * len(_TAIL_COLUMNS)
        for column, value in (
            ("customer_tax_exempt", fmt.boolean(False)),
            ("reversed_tax_applied", fmt.boolean(False)),
            ("order_handling_fee", fmt.money(0)),
            ("volume_discount", fmt.money(0)),
            ("detail_discount", fmt.text(_DETAIL_DISCOUNT)),
            ("order_weight", fmt.plain_number("0.0")),
            (EXTRA_COLUMNS[0], self.empty_extra),
            (EXTRA_COLUMNS[1], self.empty_extra),
            (EXTRA_COLUMNS[2], self.empty_extra),
            ("null", self.empty_extra),
            ("language", fmt.text("en")),
        ):
            blank[_AT[column]] = value
        self.blank = blank

    def header(self) -> str:
        return self.fmt.bom + self.fmt.sep.join(self.fmt.text(c) for c in HEADER) + self.fmt.eol

    def money(self, cents: int) -> str:
        return _cached(self.money_cells, cents, self.fmt.money)

    def cents(self, value: Any) -> int:
        if value is None:
            return 0
        return _cached(self.cents_of, value, _cents)

    def order(self, order: Obj, created: datetime) -> list[str]:
        """The rows of one order, line ends included."""
        fmt, sep = self.fmt, self.fmt.sep
        number = str(order["order_number"])
        head = f"{fmt.code(number)}{sep}{fmt.text(str(order.get('email') or ''))}{sep}"
        items: list[Obj] = list(order.get("items") or ())
        tax = self.cents(order.get("tax"))
        state_tax = (tax * _STATE_SHARE_PER_MILLE + 500) // 1000
        privilege_tax = tax - state_tax
        tail = f"{sep}{sep.join(self._tail(order, number, created, state_tax, privilege_tax))}"
        tail += fmt.eol
        if not items:
            return [head + sep * (len(_ITEM_COLUMNS) - 1) + tail]
        if len(items) == 1:
            state_shares, privilege_shares = [state_tax], [privilege_tax]
        else:
            weights = [max(self.cents(item.get("total")), 0) for item in items]
            state_shares = _split(state_tax, weights)
            privilege_shares = _split(privilege_tax, weights)
        rows = []
        for item, state, privilege in zip(items, state_shares, privilege_shares, strict=True):
            details = ""
            if tax:
                details = _cached(self.tax_cells, (state, privilege), self._tax_details)
            key = (
                item.get("sku"),
                item.get("name"),
                item.get("price"),
                item.get("total"),
                item.get("quantity", 1),
            )
            rows.append(f"{head}{_cached(self.item_cells, key, self._item)}{details}{tail}")
        return rows

    def _item(self, key: tuple[Any, ...]) -> str:
        """The item cells from ``sku`` to ``options``, with the separator after each."""
        fmt, sep = self.fmt, self.fmt.sep
        sku, name, price, total, quantity = key
        # options stay empty: the generated catalogue has no variants.
        return (
            f"{fmt.sku(str(sku or ''))}{sep}{fmt.text(str(name or ''))}{sep}{self.weight}{sep}"
            f"{self.money(self.cents(price))}{sep}{self.money(self.cents(total))}{sep}"
            f"{fmt.plain_number(str(quantity))}{sep}{sep}"
        )

    def _tax_details(self, key: tuple[int, int]) -> str:
        # Free text, so Excel leaves its amounts alone (§3).
        state, privilege = key
        return self.fmt.text(
            f"{_STATE_TAX}:${_money(state)}\n{_PRIVILEGE_TAX}:${_money(privilege)}"
        )

    def _tail(
        self, order: Obj, number: str, created: datetime, state_tax: int, privilege_tax: int
    ) -> list[str]:
        """Cells from ``customer_tax_exempt`` to the last extra field."""
        fmt, money, at = self.fmt, self.money, _AT
        cells = self.blank.copy()
        seed = _seed(number)
        payment = str(order.get("payment_status_code") or "")
        fulfillment = str(order.get("fulfillment_status_code") or "")
        coupon = str(order.get("coupon_code") or "")
        discount = self.cents(order.get("discount"))
        gift_card = self.cents(order.get("gift_card_redemption"))

        cells[at["timestamp"]] = fmt.timestamp(created.astimezone(self.zone))
        cells[at["shipto_person_name"]] = fmt.text(str(order.get("name") or ""))
        cells[at["shipto_person_phone"]] = fmt.phone(str(order.get("phone") or ""))
        cells[at["payment_method"]] = fmt.text(str(order.get("payment_method") or ""))
        cells[at["shipping_method"]] = fmt.text(str(order.get("shipping_method") or ""))
        # Both the display label and the legacy code, as the admin writes them (§2.3, §4).
        cells[at["payment_status"]] = fmt.text(PAYMENT_LABELS.get(payment) or _label(payment))
        cells[at["fulfillment_status"]] = fmt.text(
            FULFILLMENT_LABELS.get(fulfillment) or _label(fulfillment)
        )
        cells[at["payment_status_code"]] = fmt.text(payment)
        cells[at["fulfillment_status_code"]] = fmt.text(fulfillment)
        cells[at["order_subtotal"]] = money(self.cents(order.get("subtotal")))
        cells[at["order_tax"]] = money(state_tax + privilege_tax)
        cells[at["order_shipping"]] = money(self.cents(order.get("shipping")))
        # Net of any loyalty redemption, exactly as the order recorded it (§2.3, §5.2).
        cells[at["order_total"]] = money(self.cents(order.get("total")))
        if state_tax or privilege_tax:
            cells[at["order_tax_1_name"]], cells[at["order_tax_2_name"]] = self.tax_names
            cells[at["order_tax_1_value"]] = money(state_tax)
            cells[at["order_tax_2_value"]] = money(privilege_tax)
        cells[at["order_tracking_number"]] = fmt.code(str(order.get("tracking_number") or ""))
        cells[at["coupon_code"]] = fmt.text(coupon)
        # ``discount`` is the whole discount, coupon included (§2.3).
        cells[at["coupon_discount"]] = money(discount if coupon else 0)
        cells[at["discount"]] = money(discount)
        cells[at["order_comments"]] = fmt.text(str(order.get("comments") or ""))
        # Documentation-only address blocks (RFC 5737): nobody's real address.
        block = "203.0.113" if seed & 1 else "198.51.100"
        cells[at["customer_ipaddress"]] = f"{block}.{seed % 254 + 1}"
        cells[at["accept_marketing"]] = fmt.boolean(seed % 3 != 0)
        cells[at["gift_card_redemption"]] = money(gift_card)
        if gift_card:
            cells[at["masked_gift_card_code"]] = fmt.text(f"****-****-****-{seed % 10_000:04d}")
        cells[at["payment_transaction_id"]] = fmt.code(
            str(order.get("payment_transaction_id") or "")
        )
        cells[at[XSERIES_ORDER_ID]] = fmt.field_value(str(order.get("xseries_order_id") or ""))
        pickup_at = order.get("pickup_time")
        if pickup_at:
            local_pickup = _utc(pickup_at).astimezone(self.zone)
            cells[at["pickup_time"]] = fmt.timestamp(local_pickup)
            cells[at[EXTRA_COLUMNS[0]]] = fmt.extra_time(local_pickup)
            cells[at["null"]] = self.pickup_kind
        ship_to = order.get("ship_to")
        if ship_to:
            for column, value in self._ship_to(ship_to):
                cells[at[column]] = value
        return cells

    def _ship_to(self, ship_to: Obj) -> list[tuple[str, str]]:
        fmt = self.fmt
        country = str(ship_to.get("country_code") or "US")
        state = str(ship_to.get("state_code") or "")
        cells = [
            ("street_1", fmt.text(str(ship_to.get("street_1") or ""))),
            ("street_2", fmt.text(str(ship_to.get("street_2") or ""))),
            ("city", fmt.text(str(ship_to.get("city") or ""))),
            ("country_code", fmt.text(country)),
            ("postal_code", fmt.code(str(ship_to.get("postal_code") or ""))),
            ("state_code", fmt.text(state)),
            ("country_name", fmt.text(_COUNTRY_NAMES.get(country, country))),
            ("state_name", fmt.text(_STATE_NAMES.get(state, state) if country == "US" else state)),
        ]
        if ship_to.get("name"):
            cells.append(("name", fmt.text(str(ship_to["name"]))))
        return [(f"shipto_person_{key}", value) for key, value in cells]


def _cached(cache: dict[_K, _V], key: _K, make: Callable[[_K], _V]) -> _V:
    """``make(key)``, remembered; the cache is emptied when it grows past its bound."""
    value = cache.get(key)
    if value is None:
        if len(cache) >= _CACHE_LIMIT:
            cache.clear()
        value = cache[key] = make(key)
    return value


def _label(code: str) -> str:
    """A display label for a status code this module does not know (custom statuses, §4)."""
    return code.replace("_", " ").title()


def _newest_first(orders: Iterable[Obj], include_lagging: bool) -> list[tuple[datetime, Obj]]:
    dated = [
        (_utc(order["created_at"]), order)
        for order in orders
        if include_lagging or order.get("sync_state") != "lagging"
    ]
    # Newest first (§2.1); the order number breaks ties so the bytes never depend on input order.
    dated.sort(
        key=lambda pair: (pair[0], len(str(pair[1]["order_number"])), str(pair[1]["order_number"])),
        reverse=True,
    )
    return dated


def write_ecom_export(
    orders: Iterable[Obj],
    out: TextIO | Path,
    *,
    timezone: str = "America/Chicago",
    excel: bool = False,
    include_lagging: bool = True,
) -> int:
    """Write ``orders`` (``StoreData.ecom_orders``) as an E-Series export; return the rows.

    ``timezone`` is the store's zone: the export shows local times without an offset
    (§2.3). ``excel=True`` writes the Excel re-saved variant (§3). ``include_lagging=False``
    leaves out orders whose X-Series twin has not synced yet. A text stream given as
    ``out`` must have been opened with ``newline=""`` so line ends pass through untouched.
    """
    zone = ZoneInfo(timezone)
    writer = _Writer(_ExcelFormat() if excel else _Format(), zone)
    dated = _newest_first(orders, include_lagging)
    if isinstance(out, Path):
        with out.open("w", encoding="utf-8", newline="") as stream:
            return _write(writer, dated, stream)
    return _write(writer, dated, out)


def _write(writer: _Writer, dated: list[tuple[datetime, Obj]], stream: TextIO) -> int:
    stream.write(writer.header())
    rows = 0
    batch: list[str] = []
    for created, order in dated:
        order_rows = writer.order(order, created)
        rows += len(order_rows)
        batch.extend(order_rows)
        if len(batch) >= 2000:
            stream.write("".join(batch))
            batch.clear()
    stream.write("".join(batch))
    return rows

"""One purchase, one count: X-Series sales and eCom orders merged into purchases.

An X-Series sale whose ``source`` starts ``ecw:`` and whose ``source_id`` equals an eCom
``order_number`` is the same purchase as that order (reference ECOM_ESERIES_EXPORT.md
§5.2: 1,660 of 1,660 real eCom sales). The export's ``X-series Order ID`` is only a hint
(empty before mid-2025 and sometimes copied from an earlier order), and invoice or
receipt numbers are never a join key (they come from the online register's own counter).

A purchase comes from X-Series when its twin exists (it is what the till and the
fulfilment see) and from the export until then. What counts is explicit, in
:class:`CountingRules`, with the defaults documented in the README.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, tzinfo
from decimal import Decimal
from operator import itemgetter
from typing import Any, Literal

__all__ = [
    "AWAITING_FULFILMENT",
    "ECOM",
    "RETURN",
    "CountingRules",
    "MergeResult",
    "OrderFact",
    "Purchase",
    "PurchaseRow",
    "SaleFact",
    "Timeline",
    "merge_purchases",
    "payment_state",
    "sale_channel",
    "statuses_needing_payments",
    "stream_purchases",
]

ZERO = Decimal(0)
CENT = Decimal("0.01")

# The export's *_status_code columns use Ecwid's legacy names; the newer API names are
# accepted too (reference §4). Each maps to one payment state.
_PAYMENT_STATES = {
    "ACCEPTED": "paid",
    "PAID": "paid",
    "QUEUED": "awaiting_payment",
    "AWAITING_PAYMENT": "awaiting_payment",
    "CHARGEABLE": "awaiting_payment",
    "REFUNDED": "refunded",
    "PARTIALLY_REFUNDED": "partially_refunded",
    "CANCELLED": "cancelled",
    "DECLINED": "declined",
    "INCOMPLETE": "incomplete",
}
KNOWN_PAYMENT_CODES = frozenset(_PAYMENT_STATES)

PaymentState = Literal[
    "paid",
    "awaiting_payment",
    "refunded",
    "partially_refunded",
    "cancelled",
    "declined",
    "incomplete",
    "unknown",
]


def payment_state(code: str) -> str:
    """The payment state of an export status code (``unknown`` for anything else)."""
    return _PAYMENT_STATES.get(code.strip().upper(), "unknown")


@dataclass(frozen=True)
class CountingRules:
    """Which sales and orders count as purchases. Defaults follow Marsello's convention
    for X-Series (closed statuses count) plus paid eCom orders awaiting fulfilment."""

    counted_sale_statuses: frozenset[str] = frozenset(
        {
            "CLOSED",
            "LAYBY_CLOSED",
            "ONACCOUNT_CLOSED",
            "DISPATCHED_CLOSED",
            "PICKED_UP_CLOSED",
            "SERVICE_CLOSED",
        }
    )
    # An eCom sale waits in AWAITING_PICKUP/DISPATCH until staff complete it; it is a
    # purchase already when fully paid.
    count_paid_awaiting_fulfilment: bool = True
    counted_payment_states: frozenset[str] = frozenset({"paid", "partially_refunded"})
    # Orders placed before the integration went live never reach X-Series (reference §7.14).
    online_register_ids: frozenset[str] = frozenset()
    excluded_order_numbers: frozenset[str] = frozenset()
    # $0 orders (paid by gift card, 100% discount) are purchases worth nothing by default.
    count_zero_total_orders: bool = True
    # The value basis (DESIGN §3.6): what a purchase is worth toward value thresholds.
    include_tax: bool = True
    include_shipping: bool = True  # eCom orders' shipping; X-Series has no shipping field
    include_loyalty_redemptions: bool = True  # the part paid with loyalty dollars

    def sale_value(self, sale: SaleFact) -> Decimal:
        value = sale.total_incl if self.include_tax else sale.total_price
        if not self.include_loyalty_redemptions:
            value -= sale.loyalty_paid()
        return value

    def order_value(self, order: OrderFact) -> Decimal:
        value = order.total
        if not self.include_tax:
            value -= order.tax
        if not self.include_shipping:
            value -= order.shipping
        return value


@dataclass(frozen=True, slots=True)
class SaleFact:
    id: str
    customer_id: str | None
    status: str
    source: str | None
    source_id: str | None
    register_id: str | None
    note: str | None
    return_for: str | None
    sale_date: datetime | None
    created_at: datetime | None
    total_price: Decimal
    total_tax: Decimal
    total_price_incl: Decimal | None
    payments: tuple[tuple[str, Decimal], ...] = ()

    @property
    def total_incl(self) -> Decimal:
        if self.total_price_incl is not None:
            return self.total_price_incl
        return self.total_price + self.total_tax

    @property
    def is_ecom_source(self) -> bool:
        return _is_ecom_source(self.source)

    def non_loyalty_payments(self) -> Decimal:
        return sum((a for name, a in self.payments if name.strip().lower() != "loyalty"), ZERO)

    def loyalty_paid(self) -> Decimal:
        return sum((a for name, a in self.payments if name.strip().lower() == "loyalty"), ZERO)

    def paid(self) -> Decimal:
        return sum((amount for _name, amount in self.payments), ZERO)


@dataclass(frozen=True, slots=True)
class OrderFact:
    order_number: str
    email: str
    placed_at: datetime
    payment_status_code: str
    total: Decimal
    xseries_order_id: str | None = None
    payment_method: str | None = None
    phone: str | None = None
    tax: Decimal = ZERO
    shipping: Decimal = ZERO
    customer_name: str | None = None


Channel = Literal["ecom", "instore"]

AWAITING_FULFILMENT = ("AWAITING_PICKUP", "AWAITING_DISPATCH")


def statuses_needing_payments(rules: CountingRules) -> tuple[str, ...] | None:
    """The sale statuses whose payments can change a purchase (None: every sale's).

    Payments decide whether a sale awaiting fulfilment is paid, and take loyalty
    redemptions out of the value when those are excluded; nothing else reads them.
    """
    return AWAITING_FULFILMENT if rules.include_loyalty_redemptions else None


@dataclass(frozen=True, slots=True)
class Purchase:
    """One real purchase (or return), counted once."""

    key: str  # "sale:<id>" or "order:<number>"
    kind: Literal["purchase", "return"]
    channel: Channel
    origin: Literal["xseries", "ecom_export"]
    sale_id: str | None
    order_number: str | None
    customer_id: str | None
    email: str | None
    occurred_at: datetime | None
    status: str
    counts: bool
    value: Decimal
    flags: tuple[str, ...] = ()


@dataclass
class MergeResult:
    purchases: list[Purchase] = field(default_factory=list)
    matched: int = 0
    stale_hints: list[tuple[str, str, str]] = field(default_factory=list)  # order, hint, sale


def sale_channel(
    sale: SaleFact, sales_by_id: Mapping[str, SaleFact], rules: CountingRules
) -> Channel:
    """eCom or in-store. The ``ecw:`` source decides; the online register and an
    ``Order ID:`` note are fallbacks. A return copies its original's note (reference
    §5.5), so a return takes its original's channel instead of reading its own note."""
    if sale.return_for and sale.return_for in sales_by_id:
        original = sales_by_id[sale.return_for]
        if original.id != sale.id:
            return sale_channel(original, sales_by_id, rules)
    return _own_channel(sale.is_ecom_source, sale.register_id, sale.note, sale.return_for, rules)


def _is_ecom_source(source: str | None) -> bool:
    return bool(source and source.lower().startswith("ecw:"))


def _own_channel(
    ecom_source: bool,
    register_id: str | None,
    note: str | None,
    return_for: str | None,
    rules: CountingRules,
) -> Channel:
    """A sale's channel from its own fields (a return's original aside)."""
    if ecom_source:
        return "ecom"
    if register_id and register_id in rules.online_register_ids:
        return "ecom"
    if not return_for and (note or "").lstrip().lower().startswith("order id:"):
        return "ecom"
    return "instore"


def _sale_counts(sale: SaleFact, order: OrderFact | None, rules: CountingRules) -> bool:
    if order is not None:
        # The export knows about refunds and cancellations that never reach X-Series
        # (reference §5.5), so an order's payment state overrides its twin's status.
        if order.order_number in rules.excluded_order_numbers:
            return False
        if payment_state(order.payment_status_code) not in rules.counted_payment_states:
            return False
    if sale.status in rules.counted_sale_statuses:
        return True
    if sale.status in AWAITING_FULFILMENT:
        if not rules.count_paid_awaiting_fulfilment:
            return False
        return sale.paid() + CENT >= sale.total_incl
    return False


def _order_counts(order: OrderFact, rules: CountingRules) -> bool:
    if order.order_number in rules.excluded_order_numbers:
        return False
    if payment_state(order.payment_status_code) not in rules.counted_payment_states:
        return False
    return rules.count_zero_total_orders or order.total != ZERO


def merge_purchases(
    sales: Sequence[SaleFact],
    orders: Iterable[OrderFact],
    rules: CountingRules | None = None,
) -> MergeResult:
    """Every real purchase once: X-Series sales (eCom twins matched by ``source_id``)
    plus export orders that have no twin yet."""
    rules = rules or CountingRules()
    by_id = {sale.id: sale for sale in sales}
    twins: dict[str, SaleFact] = {}
    for sale in sales:
        if sale.is_ecom_source and sale.source_id and not sale.return_for:
            twins.setdefault(sale.source_id.strip(), sale)
    result = MergeResult()
    order_of_sale: dict[str, OrderFact] = {}
    unmatched: list[OrderFact] = []
    for order in orders:
        twin = twins.get(order.order_number)
        if twin is None:
            unmatched.append(order)
            continue
        result.matched += 1
        order_of_sale[twin.id] = order
        if order.xseries_order_id and order.xseries_order_id != twin.id:
            result.stale_hints.append((order.order_number, order.xseries_order_id, twin.id))

    for sale in sales:
        channel = sale_channel(sale, by_id, rules)
        twin_order = order_of_sale.get(sale.id)
        flags: list[str] = []
        if twin_order is not None and payment_state(twin_order.payment_status_code) == (
            "partially_refunded"
        ):
            flags.append("partially_refunded")
        if sale.return_for:
            counts = sale.status in rules.counted_sale_statuses
            kind: Literal["purchase", "return"] = "return"
        else:
            counts = _sale_counts(sale, twin_order, rules)
            kind = "purchase"
        result.purchases.append(
            Purchase(
                key=f"sale:{sale.id}",
                kind=kind,
                channel=channel,
                origin="xseries",
                sale_id=sale.id,
                order_number=twin_order.order_number
                if twin_order
                else (sale.source_id if sale.is_ecom_source else None),
                customer_id=sale.customer_id,
                email=twin_order.email if twin_order else None,
                occurred_at=sale.sale_date or sale.created_at,
                status=sale.status,
                counts=counts,
                value=rules.sale_value(sale),
                flags=tuple(flags),
            )
        )
    for order in unmatched:
        flags = ["not_in_xseries"]
        if payment_state(order.payment_status_code) == "partially_refunded":
            flags.append("partially_refunded")
        if payment_state(order.payment_status_code) == "unknown":
            flags.append("unknown_status")
        result.purchases.append(
            Purchase(
                key=f"order:{order.order_number}",
                kind="purchase",
                channel="ecom",
                origin="ecom_export",
                sale_id=None,
                order_number=order.order_number,
                customer_id=None,
                email=order.email,
                occurred_at=order.placed_at,
                status=order.payment_status_code,
                counts=_order_counts(order, rules),
                value=rules.order_value(order),
                flags=tuple(flags),
            )
        )
    return result


# -- the full analysis' path: many sales, one pass --------------------------------------

RETURN = 1
ECOM = 2

# (customer_id, email, order_number, occurred_at, counts, RETURN | ECOM bits, value).
# The moment and the value are typed, or as the sales' rows stored them (see
# stream_purchases' ``typed``): ISO-8601 UTC text and the Decimal's text.
PurchaseRow = tuple[
    str | None, str | None, str | None, datetime | str | None, bool, int, Decimal | str
]

# A sale as read for stream_purchases: SaleFact's fields with one moment
# (sale_date, else created_at) in place of the two dates, and no payments.
_ID, _CUSTOMER, _STATUS, _SOURCE, _SOURCE_ID, _REGISTER, _NOTE, _RETURN_FOR = range(8)
_AT, _PRICE, _TAX, _INCL = range(8, 12)


def stream_purchases(
    sales: Iterable[Sequence[Any]],
    orders: Sequence[OrderFact],
    rules: CountingRules,
    originals: Mapping[str, SaleFact],
    payments: Mapping[str, tuple[tuple[str, Decimal], ...]],
    typed: Callable[[Sequence[Any]], Sequence[Any]] | None = None,
) -> Iterator[PurchaseRow]:
    """What :func:`merge_purchases` gives, for sales read one at a time, as plain rows.

    A million sales as objects cost more than a gigabyte and most of the analysis'
    time; here each sale is read, merged and forgotten. ``sales`` must come in the
    order :func:`merge_purchases` would see them (the twin of an order is the first
    eCom sale with its number). ``originals`` holds every sale a return points at (and
    theirs), ``payments`` those of the sales whose status
    :func:`statuses_needing_payments` names.

    A sale's moment and amounts may come as stored (text), passed on as they are into
    the row's moment and value; ``typed`` turns such a sale into typed values, done only
    for the few that need arithmetic or a :class:`SaleFact` (parsing a million moments
    and amounts only to print them again was a sixth of reading the purchases). None:
    the sales come typed.
    """
    by_number = {order.order_number: order for order in orders}
    claimed: set[str] = set()
    channels: dict[str, Channel] = {}
    counted = rules.counted_sale_statuses
    plain_value = rules.include_loyalty_redemptions
    make_sale: Any = SaleFact  # the row is SaleFact's fields but one date
    for row in sales:
        source = row[_SOURCE]
        return_for = row[_RETURN_FOR]
        ecom_source = _is_ecom_source(source)
        twin: OrderFact | None = None
        source_id = row[_SOURCE_ID]
        if ecom_source and source_id and not return_for:
            number = source_id.strip()
            if number not in claimed:
                claimed.add(number)
                twin = by_number.get(number)
        original = originals.get(return_for) if return_for else None
        if original is not None and original.id != row[_ID]:
            channel = channels.get(original.id)
            if channel is None:
                channel = channels[original.id] = sale_channel(original, originals, rules)
        else:
            channel = _own_channel(ecom_source, row[_REGISTER], row[_NOTE], return_for, rules)
        status = row[_STATUS]
        if plain_value and status not in AWAITING_FULFILMENT:
            incl = row[_INCL]
            if not rules.include_tax:
                value = row[_PRICE]
            elif incl is not None:
                value = incl
            else:
                sale_row = row if typed is None else typed(row)
                value = sale_row[_PRICE] + sale_row[_TAX]
            if return_for:
                counts = status in counted
            elif twin is not None and (
                twin.order_number in rules.excluded_order_numbers
                or payment_state(twin.payment_status_code) not in rules.counted_payment_states
            ):
                counts = False
            else:
                counts = status in counted
        else:
            sale_row = row if typed is None else typed(row)
            sale = make_sale(
                *sale_row[:_AT],
                sale_row[_AT],
                None,
                *sale_row[_PRICE:],
                payments.get(row[_ID], ()),
            )
            value = rules.sale_value(sale)
            counts = status in counted if return_for else _sale_counts(sale, twin, rules)
        flags = (RETURN if return_for else 0) | (ECOM if channel == "ecom" else 0)
        if twin is not None:
            yield (row[_CUSTOMER], twin.email, twin.order_number, row[_AT], counts, flags, value)
        else:
            number_or_none = source_id if ecom_source else None
            yield (row[_CUSTOMER], None, number_or_none, row[_AT], counts, flags, value)
    for order in orders:
        if order.order_number not in claimed:
            counts = _order_counts(order, rules)
            value = rules.order_value(order)
            yield (None, order.email, order.order_number, order.placed_at, counts, ECOM, value)


_at = itemgetter(0)


class Timeline:
    """One person's counted purchases and returns in time order, for windowed figures.

    Metrics and every tier condition read the same few sums over a time window; with
    the entries sorted once, a window is two binary searches.
    """

    __slots__ = ("_days", "_prefix", "at", "flags", "purchase_at", "values")

    def __init__(self, entries: Iterable[tuple[datetime, Decimal, int]]) -> None:
        # A stable sort: same-moment entries keep their order, as list.sort did before.
        ordered = sorted(entries, key=_at)
        self.at: list[datetime] = [e[0] for e in ordered]
        self.values: list[Decimal] = [e[1] for e in ordered]
        self.flags: list[int] = [e[2] for e in ordered]
        self.purchase_at: list[datetime] = [e[0] for e in ordered if not e[2] & RETURN]
        self._prefix: list[Decimal] | None = None
        self._days: dict[tzinfo | None, list[date]] = {}

    @classmethod
    def of(cls, purchases: Iterable[Purchase]) -> Timeline:
        """The counted purchases and returns that have a moment."""
        return cls(
            (
                p.occurred_at,
                p.value,
                (RETURN if p.kind == "return" else 0) | (ECOM if p.channel == "ecom" else 0),
            )
            for p in purchases
            if p.counts and p.occurred_at is not None
        )

    def upto(self, moment: datetime) -> int:
        """How many entries happened at or before ``moment``."""
        return bisect_right(self.at, moment)

    def since(self, moment: datetime | None) -> int:
        """The index of the first entry at or after ``moment``."""
        return 0 if moment is None else bisect_left(self.at, moment)

    def value_between(self, start: datetime | None, end: datetime) -> Decimal:
        """The value of the entries from ``start`` to ``end``, both inclusive (equal to,
        not necessarily written like, the plain sum)."""
        prefix = self._prefix
        if prefix is None:
            prefix = [ZERO]
            running = ZERO
            for value in self.values:
                running += value
                prefix.append(running)
            self._prefix = prefix
        low, high = self.since(start), self.upto(end)
        return prefix[high] - prefix[low] if high > low else ZERO

    def upto_purchases(self, moment: datetime) -> int:
        """How many purchases (returns aside) happened at or before ``moment``."""
        return bisect_right(self.purchase_at, moment)

    def purchases_between(self, start: datetime | None, end: datetime) -> tuple[int, int]:
        """The slice of ``purchase_at`` from ``start`` to ``end``, both inclusive."""
        low = 0 if start is None else bisect_left(self.purchase_at, start)
        return low, bisect_right(self.purchase_at, end)

    def purchase_days(self, zone: tzinfo | None) -> list[date]:
        """The store-local day of each purchase (returns aside), in time order."""
        days = self._days.get(zone)
        if days is None:
            if zone is None:
                days = [m.date() for m in self.purchase_at]
            else:
                days = [m.astimezone(zone).date() for m in self.purchase_at]
            self._days[zone] = days
        return days

    def purchase_values(self) -> list[Decimal]:
        """The value of each purchase (returns aside), in time order."""
        return [v for v, f in zip(self.values, self.flags, strict=True) if not f & RETURN]

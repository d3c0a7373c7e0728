"""The shapes an export's orders come in: plain records, columns, and domain objects.

:meth:`~greenloop.ecom.reader.ExportReader.records` gives each order as tuples in
storage form (:data:`ORDER_RECORD`, :data:`ITEM_RECORD`); the import's hot path keeps
clean orders in the same form by columns (:class:`OrderColumns`); :func:`to_order`
turns records into :class:`EcomOrder` with ``Decimal`` and aware ``datetime``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from itertools import chain
from typing import Any

__all__ = [
    "HASHED_ITEM_FIELDS",
    "HASHED_ORDER_FIELDS",
    "ITEM_RECORD",
    "ORDER_RECORD",
    "Block",
    "Chunk",
    "EcomItem",
    "EcomOrder",
    "ItemRecord",
    "OrderColumns",
    "OrderRecord",
    "Record",
    "orders_in",
    "to_order",
]

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
# One valid order as the reader gives it: its record, first line, and item records.
Record = tuple[OrderRecord, int, list[ItemRecord]]
# Orders in file order, and the content hash of each where the reader computed it
# (greenloop.ecom.staging.content_hash; None where it did not).
Chunk = tuple[list[Record], list[str | None]]


@dataclass(slots=True)
class OrderColumns:
    """Orders in file order by columns: the same values as their records, without a
    tuple per order or item. The columnar reader gives a block of clean orders this way
    (building records only to take them apart again cost about a tenth of its time).

    ``orders`` holds one list per :data:`ORDER_RECORD` field and ``items`` one per
    :data:`ITEM_RECORD` field; order ``i`` started on line ``lines[i]``, its content
    hash is ``digests[i]`` and its items are rows ``bounds[i]`` to ``bounds[i + 1]``.
    """

    orders: list[list[Any]]
    lines: list[int]
    digests: list[str]
    items: list[list[Any]]
    bounds: list[int]

    def __len__(self) -> int:
        return len(self.lines)

    def records(self) -> Chunk:
        """The same orders as records, with their content hashes."""
        items = list(zip(*self.items, strict=True))
        records: list[Record] = [
            (order, line, items[start:end])
            for order, line, start, end in zip(
                zip(*self.orders, strict=True),
                self.lines,
                self.bounds[:-1],
                self.bounds[1:],
                strict=True,
            )
        ]
        return records, list(self.digests)

    def part(self, start: int, stop: int) -> OrderColumns:
        """Orders ``start`` to ``stop``, with their items."""
        first, last = self.bounds[start], self.bounds[stop]
        return OrderColumns(
            orders=[values[start:stop] for values in self.orders],
            lines=self.lines[start:stop],
            digests=self.digests[start:stop],
            items=[values[first:last] for values in self.items],
            bounds=[bound - first for bound in self.bounds[start : stop + 1]],
        )

    @classmethod
    def joined(cls, parts: list[OrderColumns]) -> OrderColumns:
        """``parts`` one after the other."""
        if len(parts) == 1:
            return parts[0]
        bounds = [0]
        for part in parts:
            offset = bounds.pop()
            bounds += [bound + offset for bound in part.bounds]
        return cls(
            orders=[
                list(chain.from_iterable(v)) for v in zip(*(p.orders for p in parts), strict=True)
            ],
            lines=[line for part in parts for line in part.lines],
            digests=[digest for part in parts for digest in part.digests],
            items=[
                list(chain.from_iterable(v)) for v in zip(*(p.items for p in parts), strict=True)
            ],
            bounds=bounds,
        )

    @classmethod
    def of_records(cls, records: list[Record], digests: list[str]) -> OrderColumns:
        """Records (and their content hashes) by columns."""
        bounds = [0]
        for _, _, items in records:
            bounds.append(bounds[-1] + len(items))
        flat = [item for _, _, items in records for item in items]
        return cls(
            orders=_columns([order for order, _, _ in records], len(ORDER_RECORD)),
            lines=[line for _, line, _ in records],
            digests=digests,
            items=_columns(flat, len(ITEM_RECORD)),
            bounds=bounds,
        )


def _columns(rows: list[tuple[Any, ...]], width: int) -> list[list[Any]]:
    if not rows:
        return [[] for _ in range(width)]
    return [list(values) for values in zip(*rows, strict=True)]


# What a reader gives at a time: records, or clean orders by columns.
Block = Chunk | OrderColumns


def orders_in(block: Block) -> int:
    """How many orders ``block`` gives."""
    return len(block) if isinstance(block, OrderColumns) else len(block[0])


# What decides "unchanged" on a re-import (greenloop.ecom.staging.content_hash): these
# fields of the order, then these of each item, joined by U+001F. An absent value is
# the text beside it: 'None' where the hash once took str() of a Decimal, which the
# hashes stored by earlier versions keep.
HASHED_ORDER_FIELDS = (
    ("email", ""),
    ("placed_local", ""),
    ("payment_status_code", ""),
    ("fulfillment_status_code", ""),
    ("total", ""),
    ("subtotal", "None"),
    ("tax", "None"),
    ("shipping", "None"),
    ("discount", "None"),
    ("xseries_order_id", ""),
    ("tracking_number", ""),
    ("customer_name", ""),
    ("phone", ""),
    ("payment_method", ""),
    ("shipping_method", ""),
)
HASHED_ITEM_FIELDS = (("sku", ""), ("name", ""), ("price", ""), ("quantity", ""), ("total", ""))
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


def to_order(order: OrderRecord, line: int, items: list[ItemRecord], file: str) -> EcomOrder:
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

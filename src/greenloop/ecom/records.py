"""The shapes an export's orders come in: plain records, and domain objects.

:meth:`~greenloop.ecom.reader.ExportReader.records` gives each order as tuples in
storage form (:data:`ORDER_RECORD`, :data:`ITEM_RECORD`), the import's hot path;
:func:`to_order` turns them into :class:`EcomOrder` with ``Decimal`` and aware
``datetime``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any

__all__ = [
    "HASHED_ITEM_FIELDS",
    "HASHED_ORDER_FIELDS",
    "ITEM_RECORD",
    "ORDER_RECORD",
    "Chunk",
    "EcomItem",
    "EcomOrder",
    "ItemRecord",
    "OrderRecord",
    "Record",
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

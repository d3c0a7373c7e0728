"""Sales with their line items and payments (parsed by :mod:`.sale_parsing`)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

__all__ = ["LineItem", "Payment", "Sale"]


@dataclass(slots=True)
class LineItem:
    id: str
    sequence: int
    product_id: str | None
    quantity: Decimal
    price: Decimal
    price_total: Decimal
    tax_total: Decimal
    discount_total: Decimal
    loyalty_value: Decimal
    cost_total: Decimal | None
    status: str | None
    is_return: bool
    note: str | None


@dataclass(slots=True)
class Payment:
    id: str
    sequence: int
    name: str | None
    retailer_payment_type_id: str | None
    payment_type_id: str | None
    amount: Decimal
    payment_date: datetime | None


@dataclass(slots=True)
class Sale:
    id: str
    outlet_id: str | None
    register_id: str | None
    user_id: str | None
    customer_id: str | None
    invoice_number: str | None
    receipt_number: str | None
    invoice_sequence: int | None
    source: str | None
    source_id: str | None
    status: str
    note: str | None
    short_code: str | None
    return_for: str | None
    total_price: Decimal
    total_tax: Decimal
    total_loyalty: Decimal
    total_price_incl: Decimal | None
    sale_date: datetime | None
    created_at: datetime | None
    updated_at: datetime | None
    deleted_at: datetime | None
    version: int
    attributes: tuple[str, ...]
    line_items: tuple[LineItem, ...]
    payments: tuple[Payment, ...]

"""The fast path for well-formed sales: exact types only, no per-field checks.

Anything it does not expect raises :class:`Unusual` (or a ValueError from a time), and
:func:`greenloop.lightspeed.models.sale_parsing.parse_sale` falls back to the checked parser.
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from greenloop.lightspeed.models.sales import LineItem, Payment, Sale

__all__ = ["Unusual", "fast_sale"]

Obj = dict[str, Any]

_ZERO = Decimal(0)


class Unusual(Exception):
    """A value the fast path does not handle; the checked path decides."""


def _fast_money(value: Any) -> Decimal | None:
    kind = type(value)
    if kind is Decimal:
        return value  # type: ignore[no-any-return]
    if kind is int:
        return Decimal(value)
    if value is None:
        return None
    raise Unusual


def _fast_text(value: Any) -> str | None:
    if type(value) is str:
        return value or None
    if value is None:
        return None
    raise Unusual


def _fast_time(value: Any) -> datetime | None:
    if value is None:
        return None
    if type(value) is str:
        parsed = datetime.fromisoformat(value)
        if parsed.tzinfo is UTC:
            return parsed
    raise Unusual


def _fast_line_item(obj: Obj, position: int, sale_id: str) -> LineItem:
    get = obj.get
    quantity = _fast_money(get("quantity")) or _ZERO
    price = _fast_money(get("price")) or _ZERO
    price_total = _fast_money(get("price_total"))
    is_return = get("is_return", False)
    if type(is_return) is not bool:
        raise Unusual
    return LineItem(
        id=_fast_text(get("id")) or f"{sale_id}:{position}",
        sequence=position,
        product_id=_fast_text(get("product_id")),
        quantity=quantity,
        price=price,
        price_total=price_total if price_total is not None else price * quantity,
        tax_total=_fast_money(get("tax_total")) or _ZERO,
        discount_total=_fast_money(get("discount_total")) or _ZERO,
        loyalty_value=_fast_money(get("loyalty_value")) or _ZERO,
        cost_total=_fast_money(get("cost_total")),
        status=_fast_text(get("status")),
        is_return=is_return,
        note=_fast_text(get("note")),
    )


def _fast_payment(obj: Obj, position: int, sale_id: str) -> Payment:
    get = obj.get
    return Payment(
        id=_fast_text(get("id")) or f"{sale_id}:{position}",
        sequence=position,
        name=_fast_text(get("name")),
        retailer_payment_type_id=_fast_text(get("retailer_payment_type_id")),
        payment_type_id=_fast_text(get("payment_type_id")),
        amount=_fast_money(get("amount")) or _ZERO,
        payment_date=_fast_time(get("payment_date")),
    )


def fast_sale(obj: Obj) -> Sale:
    get = obj.get
    sale_id, status, version = get("id"), get("status"), get("version")
    if type(sale_id) is not str or not sale_id or type(status) is not str or not status:
        raise Unusual
    if type(version) is not int:
        raise Unusual
    attributes = get("attributes") or ()
    sequence = get("invoice_sequence")
    if type(sequence) is not int and sequence is not None:
        raise Unusual
    return Sale(
        id=sale_id,
        outlet_id=_fast_text(get("outlet_id")),
        register_id=_fast_text(get("register_id")),
        user_id=_fast_text(get("user_id")),
        customer_id=_fast_text(get("customer_id")),
        invoice_number=_fast_text(get("invoice_number")),
        receipt_number=_fast_text(get("receipt_number")),
        invoice_sequence=sequence,
        source=_fast_text(get("source")),
        source_id=_fast_text(get("source_id")),
        status=status,
        note=_fast_text(get("note")),
        short_code=_fast_text(get("short_code")),
        return_for=_fast_text(get("return_for")),
        total_price=_fast_money(get("total_price")) or _ZERO,
        total_tax=_fast_money(get("total_tax")) or _ZERO,
        total_loyalty=_fast_money(get("total_loyalty")) or _ZERO,
        total_price_incl=_fast_money(get("total_price_incl")),
        sale_date=_fast_time(get("sale_date")),
        created_at=_fast_time(get("created_at")),
        updated_at=_fast_time(get("updated_at")),
        deleted_at=_fast_time(get("deleted_at")),
        version=version,
        attributes=tuple(str(a) for a in attributes),
        line_items=tuple(
            _fast_line_item(o, i, sale_id) for i, o in enumerate(get("line_items") or ())
        ),
        payments=tuple(_fast_payment(o, i, sale_id) for i, o in enumerate(get("payments") or ())),
    )

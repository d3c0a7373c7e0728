"""Sales from the API's JSON: a fast path for well-formed ones, a checked one for the rest.

The sync parses hundreds of thousands of sales, so well-formed ones take the fast path
(:mod:`.sale_fast_path`); anything unusual goes through the checked parser here, which
accepts the lenient forms and names the field when a value is unusable. A property test
holds the two to the same answers.
"""

from __future__ import annotations

from greenloop.lightspeed.models.reading import FieldReader, Obj
from greenloop.lightspeed.models.sale_fast_path import Unusual, fast_sale
from greenloop.lightspeed.models.sales import LineItem, Payment, Sale

__all__ = ["checked_sale", "parse_sale"]


def _parse_line_item(obj: Obj, position: int, sale_id: str) -> LineItem:
    r = FieldReader(obj, f"sale {sale_id} line item")
    quantity = r.money0("quantity")
    price = r.money0("price")
    price_total = r.money("price_total")
    return LineItem(
        id=r.opt_str("id") or f"{sale_id}:{position}",
        sequence=position,
        product_id=r.opt_str("product_id"),
        quantity=quantity,
        price=price,
        price_total=price_total if price_total is not None else price * quantity,
        tax_total=r.money0("tax_total"),
        discount_total=r.money0("discount_total"),
        loyalty_value=r.money0("loyalty_value"),
        cost_total=r.money("cost_total"),
        status=r.opt_str("status"),
        is_return=r.boolean("is_return"),
        note=r.opt_str("note"),
    )


def _parse_payment(obj: Obj, position: int, sale_id: str) -> Payment:
    r = FieldReader(obj, f"sale {sale_id} payment")
    return Payment(
        id=r.opt_str("id") or f"{sale_id}:{position}",
        sequence=position,
        name=r.opt_str("name"),
        retailer_payment_type_id=r.opt_str("retailer_payment_type_id"),
        payment_type_id=r.opt_str("payment_type_id"),
        amount=r.money0("amount"),
        payment_date=r.time("payment_date"),
    )


def parse_sale(obj: Obj) -> Sale:
    """A sale in the 2.0 shape. Well-formed sales take a fast path (the sync parses
    hundreds of thousands); anything unusual goes through the checked parser, which
    accepts the lenient forms and names the field when a value is unusable."""
    try:
        return fast_sale(obj)
    except (Unusual, ValueError, TypeError, AttributeError):
        return checked_sale(obj)


def checked_sale(obj: Obj) -> Sale:
    r = FieldReader(obj, "sale")
    sale_id = r.req_str("id")
    items = obj.get("line_items") or []
    payments = obj.get("payments") or []
    if not isinstance(items, list) or not isinstance(payments, list):
        raise r.fail("line_items", "or 'payments' is not a list")
    return Sale(
        id=sale_id,
        outlet_id=r.opt_str("outlet_id"),
        register_id=r.opt_str("register_id"),
        user_id=r.opt_str("user_id"),
        customer_id=r.opt_str("customer_id"),
        invoice_number=r.opt_str("invoice_number"),
        receipt_number=r.opt_str("receipt_number"),
        invoice_sequence=r.opt_int("invoice_sequence"),
        source=r.opt_str("source"),
        source_id=r.opt_str("source_id"),
        status=r.req_str("status"),
        note=r.opt_str("note"),
        short_code=r.opt_str("short_code"),
        return_for=r.opt_str("return_for"),
        total_price=r.money0("total_price"),
        total_tax=r.money0("total_tax"),
        total_loyalty=r.money0("total_loyalty"),
        total_price_incl=r.money("total_price_incl"),
        sale_date=r.time("sale_date"),
        created_at=r.time("created_at"),
        updated_at=r.time("updated_at"),
        deleted_at=r.time("deleted_at"),
        version=r.version(),
        attributes=r.strings("attributes"),
        line_items=tuple(_parse_line_item(o, i, sale_id) for i, o in enumerate(items)),
        payments=tuple(_parse_payment(o, i, sale_id) for i, o in enumerate(payments)),
    )

"""Ringing up and changing sales through the control API, in the 2.0 sale shape.

A sale posted to ``/_sim/sales`` may be sparse; what the register would have filled in
is filled in here: ids, the invoice number from the register's counter (the register's
``invoice_sequence`` is "last issued number", reference §7), timestamps from the
simulator clock and totals from the line items; a product a line names that the store
lacks is added to the catalogue first. The 2.0 schema types ``customer_id``
and ``source_id`` as non-nullable strings, so a walk-in sale leaves those keys out
rather than sending null (reference §3).
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from greenloop.simulator.catalogue import product_id_of, stand_in
from greenloop.simulator.clock import iso
from greenloop.simulator.context import SimContext
from greenloop.simulator.responses import ApiError, not_found
from greenloop.simulator.state import Obj, is_deleted

__all__ = ["SALE_STATES", "SALE_STATUSES", "create_sale", "merge_sale", "sale_state"]

# The 2.0 ``status`` enum, and the documented status -> state/attribute mapping
# (reference §3, "Status -> state/attributes mapping").
SALE_STATUSES: dict[str, tuple[str, str | None]] = {
    "SAVED": ("parked", None),
    "CLOSED": ("closed", None),
    "VOIDED": ("voided", None),
    "ONACCOUNT": ("pending", "onaccount"),
    "ONACCOUNT_CLOSED": ("closed", "onaccount"),
    "LAYBY": ("pending", "layby"),
    "LAYBY_CLOSED": ("closed", "layby"),
    "AWAITING_DISPATCH": ("pending", "delivery"),
    "DISPATCHED_CLOSED": ("closed", "delivery"),
    "AWAITING_PICKUP": ("pending", "pickup"),
    "PICKED_UP_CLOSED": ("closed", "pickup"),
    "SERVICE": ("pending", "service"),
    "SERVICE_CLOSED": ("closed", "service"),
}
SALE_STATES = frozenset(state for state, _ in SALE_STATUSES.values())
_OPTIONAL_REFERENCES = ("customer_id", "source_id")
_TOTALS = ("total_price", "total_tax", "total_loyalty")


def sale_state(sale: Obj) -> str | None:
    """The dated API's ``state`` of a 2.0 sale: its own if it carries one, else mapped."""
    if isinstance(sale.get("state"), str):
        return str(sale["state"])
    mapped = SALE_STATUSES.get(str(sale.get("status")))
    return mapped[0] if mapped else None


def create_sale(ctx: SimContext, body: Any) -> Obj:
    if not isinstance(body, dict):
        raise ApiError(400, "Request body must be a JSON object")
    state = ctx.state
    with state.lock:
        sale: Obj = {k: v for k, v in body.items() if k != "version"}
        sale["id"] = str(sale.get("id") or state.new_id())
        if state.view("sales", sale["id"]) is not None:
            raise ApiError(409, "sale already exists")
        register = _register_for(ctx, sale.get("register_id"))
        sale["register_id"] = register["id"]
        sale.setdefault("outlet_id", register.get("outlet_id"))
        if "user_id" not in sale:
            users = state.snapshot("users", include_deleted=False)
            if users:
                sale["user_id"] = users[0]["id"]
        _check_references(ctx, sale)
        now = iso(ctx.clock.now())
        sale.setdefault("source", "USER")
        sale.setdefault("status", "CLOSED")
        _check_status(sale)
        for key in ("sale_date", "created_at"):
            sale.setdefault(key, now)
        sale["updated_at"] = now
        sale.setdefault("note", "")
        sale.setdefault("short_code", state.random_text(6, "abcdefghijkmnpqrstuvwxyz"))
        sale.setdefault("return_for", None)
        sale.setdefault("deleted_at", None)
        for key in ("taxes", "adjustments"):
            sale.setdefault(key, [])
        sale["line_items"] = _line_items(ctx, sale.get("line_items", []))
        sale["payments"] = _payments(ctx, sale, sale.get("payments", []))
        sale.setdefault("attributes", _attributes(sale))
        _fill_totals(sale, force=False)
        if "invoice_number" not in sale:
            _issue_invoice_number(ctx, register, sale, now)
        _add_missing_products(ctx, sale["line_items"], now)
        return state.insert("sales", sale)


def merge_sale(ctx: SimContext, sale_id: str, body: Any) -> Obj:
    """Change some fields of a sale (a layby paid off, a fulfilment closed)."""
    if not isinstance(body, dict):
        raise ApiError(400, "Request body must be a JSON object")
    state = ctx.state
    with state.lock:
        current = state.view("sales", sale_id)
        if current is None:
            raise not_found("sale")
        merged: Obj = {**current, **{k: v for k, v in body.items() if k not in ("id", "version")}}
        _check_references(ctx, merged)
        _check_status(merged)
        if "line_items" in body:
            merged["line_items"] = _line_items(ctx, body["line_items"])
        if "payments" in body:
            merged["payments"] = _payments(ctx, merged, body["payments"])
        if "status" in body and "attributes" not in body:
            merged["attributes"] = _attributes(merged)
        if "line_items" in body:
            _fill_totals(merged, force=not any(k in body for k in _TOTALS))
            _add_missing_products(ctx, merged["line_items"], iso(ctx.clock.now()))
        merged["updated_at"] = body.get("updated_at", iso(ctx.clock.now()))

        def change(obj: Obj) -> None:
            obj.clear()
            obj.update(merged)

        return state.update("sales", sale_id, change)


def _register_for(ctx: SimContext, register_id: Any) -> Obj:
    if register_id is not None:
        register = ctx.state.view("registers", str(register_id))
        if register is None:
            raise ApiError(400, "register_id does not name a register")
        return register
    # [INF] A sale posted without a register is rung up on the first open register.
    registers = ctx.state.snapshot("registers", include_deleted=False)
    if not registers:
        raise ApiError(400, "the store has no register to ring the sale up on")
    return registers[0]


def _check_references(ctx: SimContext, sale: Obj) -> None:
    for key in _OPTIONAL_REFERENCES:
        if sale.get(key) in (None, ""):
            sale.pop(key, None)
    customer_id = sale.get("customer_id")
    if customer_id is not None:
        customer = ctx.state.view("customers", str(customer_id))
        if customer is None or is_deleted(customer):
            raise ApiError(400, "customer_id does not name a customer")


def _check_status(sale: Obj) -> None:
    if sale.get("status") not in SALE_STATUSES:
        raise ApiError(400, f"status must be one of {', '.join(SALE_STATUSES)}")


def _attributes(sale: Obj) -> list[str]:
    mapped = SALE_STATUSES.get(str(sale.get("status")))
    return [mapped[1]] if mapped and mapped[1] else []


def _number(value: Any, name: str) -> Decimal | int:
    if isinstance(value, bool) or not isinstance(value, int | Decimal):
        raise ApiError(400, f"{name} must be a number")
    return value


def _line_items(ctx: SimContext, items: Any) -> list[Obj]:
    if not isinstance(items, list) or not all(isinstance(i, dict) for i in items):
        raise ApiError(400, "line_items must be an array of objects")
    out: list[Obj] = []
    for index, given in enumerate(items):
        item = dict(given)
        item.setdefault("id", ctx.state.new_id())
        item.setdefault("sequence", index)
        quantity = _number(item.setdefault("quantity", 1), "quantity")
        for unit, total in (
            ("price", "price_total"),
            ("tax", "tax_total"),
            ("discount", "discount_total"),
        ):
            value = _number(item.setdefault(unit, 0), unit)
            item.setdefault(total, value * quantity)
        item.setdefault("loyalty_value", 0)
        item.setdefault("price_set", False)
        item.setdefault("status", "CONFIRMED")
        item.setdefault("is_return", quantity < 0)
        item.setdefault("tax_components", [])
        out.append(item)
    return out


def _add_missing_products(ctx: SimContext, lines: list[Obj], now: str) -> None:
    """Every product a sale names must resolve: one the store lacks is added first
    (a catalogue change, so it bumps the version before the sale does)."""
    for line in lines:
        product_id = product_id_of(line)
        if product_id is not None and ctx.state.view("products", product_id) is None:
            ctx.state.insert("products", stand_in(product_id, line, now))


def _payments(ctx: SimContext, sale: Obj, payments: Any) -> list[Obj]:
    if not isinstance(payments, list) or not all(isinstance(p, dict) for p in payments):
        raise ApiError(400, "payments must be an array of objects")
    out: list[Obj] = []
    for given in payments:
        payment = dict(given)
        payment.setdefault("id", ctx.state.new_id())
        payment.setdefault("register_id", sale["register_id"])
        payment.setdefault("outlet_id", sale.get("outlet_id"))
        payment.setdefault("payment_date", sale.get("sale_date"))
        payment.setdefault("name", "Cash")
        _number(payment.setdefault("amount", 0), "amount")
        out.append(payment)
    return out


def _fill_totals(sale: Obj, *, force: bool) -> None:
    # total_price is tax-exclusive (reference §3); lines voided at the till do not count.
    lines = [i for i in sale["line_items"] if i.get("status") != "VOIDED"]
    sums = {
        "total_price": sum((i.get("price_total", 0) for i in lines), Decimal(0)),
        "total_tax": sum((i.get("tax_total", 0) for i in lines), Decimal(0)),
        "total_loyalty": sum((i.get("loyalty_value", 0) for i in lines), Decimal(0)),
    }
    for key, value in sums.items():
        if force or key not in sale:
            sale[key] = value


def _issue_invoice_number(ctx: SimContext, register: Obj, sale: Obj, now: str) -> None:
    sequence = int(register.get("invoice_sequence") or 0) + 1
    number = (
        f"{register.get('invoice_prefix') or ''}{sequence}{register.get('invoice_suffix') or ''}"
    )
    sale["invoice_number"] = number
    sale.setdefault("receipt_number", number)
    sale["invoice_sequence"] = sequence
    # [INF] The counter is a field of the register, so issuing a number changes the
    # register and bumps its version like any other change.
    ctx.state.update(
        "registers",
        str(register["id"]),
        lambda r: r.update(invoice_sequence=sequence),
    )

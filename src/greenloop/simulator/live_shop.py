"""What the live stream needs to know about a store, read once from its state: what is
sold at which price, the tills and the online register, payment types, and the sales
still open (laybys, eCom orders awaiting fulfilment) or still returnable.

Read from what the simulator serves, not from the generator, so a stream runs on any
store, a ``--store`` file included.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from greenloop.simulator.state import Obj, SimState, is_deleted

__all__ = ["LiveShop", "Product", "read_shop"]

_MAX_PRODUCTS = 400
_AWAITING = ("AWAITING_PICKUP", "AWAITING_DISPATCH")
# When a store has no sales to learn prices from.
_FALLBACK_PRODUCTS = (
    ("live-product-tea", Decimal("12.50"), Decimal("1.15625")),
    ("live-product-oil", Decimal("44.99"), Decimal("4.16158")),
    ("live-product-balm", Decimal("24.00"), Decimal("2.22")),
)


@dataclass(frozen=True)
class Product:
    id: str
    price: Decimal  # unit price ex tax
    tax: Decimal  # unit tax
    tax_id: str | None


@dataclass
class LiveShop:
    products: list[Product]
    tills: list[str]
    online_register: str | None
    ecom_source: str
    next_order_number: int
    users: list[str]
    payment_types: dict[str, tuple[Any, Any]] = field(default_factory=dict)
    customers: list[str] = field(default_factory=list)
    emails: set[str] = field(default_factory=set)  # casefolded, for uniqueness
    email_list: list[str] = field(default_factory=list)  # in version order, for picks
    open_laybys: list[str] = field(default_factory=list)
    open_orders: list[str] = field(default_factory=list)
    returnable: list[str] = field(default_factory=list)
    returned: set[str] = field(default_factory=set)

    def payment(self, name: str) -> dict[str, Any]:
        known = self.payment_types.get(name)
        if known is None and self.payment_types:
            name, known = next(iter(self.payment_types.items()))
        body: dict[str, Any] = {"name": name}
        if known is not None:
            body["retailer_payment_type_id"], body["payment_type_id"] = known
        return body


def _learn_lines(sale: Obj, seen: dict[str, Product]) -> None:
    for item in sale.get("line_items", []):
        quantity = item.get("quantity")
        price = item.get("price")
        if not isinstance(quantity, int | Decimal) or quantity <= 0 or item["product_id"] in seen:
            continue
        if not isinstance(price, int | Decimal) or price <= 0:
            continue
        tax = item.get("tax", 0)
        seen[str(item["product_id"])] = Product(
            str(item["product_id"]),
            Decimal(price),
            Decimal(tax) if isinstance(tax, int | Decimal) else Decimal(0),
            item.get("tax_id"),
        )


def read_shop(state: SimState) -> LiveShop:
    """Everything the stream picks from, in version order (so a seed fixes the picks)."""
    registers = state.snapshot("registers", include_deleted=False)
    sales = state.snapshot("sales")
    products: dict[str, Product] = {}
    payment_types: dict[str, tuple[Any, Any]] = {}
    online: str | None = None
    source = ""
    order_number = 1000
    open_laybys, open_orders, returnable, returned = [], [], [], set()
    for sale in sales:
        if len(products) < _MAX_PRODUCTS:
            _learn_lines(sale, products)
        for payment in sale.get("payments", []):
            name = payment.get("name")
            if isinstance(name, str) and name not in payment_types:
                payment_types[name] = (
                    payment.get("retailer_payment_type_id"),
                    payment.get("payment_type_id"),
                )
        if str(sale.get("source", "")).startswith("ecw:"):
            source = str(sale["source"])
            online = str(sale["register_id"])
            number = str(sale.get("source_id", ""))
            if number.isdigit():
                order_number = max(order_number, int(number))
        if sale.get("return_for"):
            returned.add(str(sale["return_for"]))
        if not sale.get("customer_id") or is_deleted(sale):
            continue
        status = sale.get("status")
        if status == "LAYBY":
            open_laybys.append(str(sale["id"]))
        elif status in _AWAITING:
            open_orders.append(str(sale["id"]))
        elif status == "CLOSED" and not sale.get("return_for"):
            returnable.append(str(sale["id"]))
    if online is None:
        named = (str(r["id"]) for r in registers if "online" in str(r.get("name")).lower())
        online = next(named, None)
    tills = [str(r["id"]) for r in registers if str(r["id"]) != online]
    if not products:
        products = {p[0]: Product(p[0], p[1], p[2], None) for p in _FALLBACK_PRODUCTS}
    customers = state.snapshot("customers", include_deleted=False)
    return LiveShop(
        products=list(products.values()),
        tills=tills or [str(r["id"]) for r in registers],
        online_register=online,
        ecom_source=source or "ecw:5EED0000C0FFEE00",
        next_order_number=order_number + 1,
        users=[str(u["id"]) for u in state.snapshot("users", include_deleted=False)],
        payment_types=payment_types,
        customers=[str(c["id"]) for c in customers],
        emails={str(c["email"]).casefold() for c in customers if c.get("email")},
        email_list=[str(c["email"]) for c in customers if c.get("email")],
        open_laybys=open_laybys,
        open_orders=open_orders,
        returnable=returnable,
        returned=returned,
    )

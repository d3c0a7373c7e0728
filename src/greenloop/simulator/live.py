"""A live store: one realistic change per :meth:`LiveStream.step`, through the
simulator's own operations, so each bumps the version counter (and fires its webhook)
exactly as the same change made at the till or in the back office would.

The changes: in-store sales to known customers, to customers signing up at the till
and to walk-ins; eCom orders arriving on the online register and later fulfilled;
laybys opened and later paid off; returns of earlier sales; customers editing their
email or phone, joining or leaving loyalty. One seeded generator makes every choice,
so the same seed on the same store makes the same changes.

Used by the chaos test, the realtime benchmark, ``POST /_sim/live`` and the demo::

    stream = LiveStream(ctx, seed=7)
    print(stream.step())          # "Ava Patel bought 2 items for $41.23 at a till"
"""

from __future__ import annotations

import random
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass
from decimal import ROUND_HALF_EVEN, Decimal
from typing import Any

from greenloop.simulator import ops_customers, ops_sales
from greenloop.simulator.context import SimContext
from greenloop.simulator.live_shop import LiveShop, read_shop
from greenloop.simulator.names import (
    AREA_CODES,
    EMAIL_DOMAINS,
    FIRST_NAMES_F,
    FIRST_NAMES_M,
    LAST_NAMES,
)
from greenloop.simulator.state import Obj, is_deleted

__all__ = ["ACTIONS", "LiveChange", "LiveStream"]

# How often each change happens, relative to the others.
ACTIONS: dict[str, float] = {
    "instore_sale": 44,
    "new_customer_sale": 7,
    "walk_in_sale": 4,
    "ecom_order": 10,
    "ecom_fulfilment": 6,
    "layby_opened": 5,
    "layby_completed": 5,
    "return": 6,
    "customer_edit": 13,
}
_CENTS = Decimal("0.01")
_LOYALTY_RATE = Decimal("0.05")
_TAX_PLACES = Decimal("0.00001")
_FIRST_NAMES = FIRST_NAMES_F + FIRST_NAMES_M
# Valid exchanges: N11 are service codes and 555 fails phone validation.
_EXCHANGES = tuple(e for e in range(200, 1000) if e % 100 != 11 and e != 555)


@dataclass(frozen=True)
class LiveChange:
    action: str
    description: str
    sale_id: str | None = None
    customer_id: str | None = None

    def __str__(self) -> str:
        return self.description

    def as_json(self) -> dict[str, Any]:
        return asdict(self)


class LiveStream:
    """Makes changes to the store behind ``ctx``; not thread-safe (one caller at a time)."""

    def __init__(
        self, ctx: SimContext, seed: int = 0, *, weights: Mapping[str, float] | None = None
    ) -> None:
        unknown = set(weights or {}) - set(ACTIONS)
        if unknown:
            raise ValueError(f"unknown live actions: {', '.join(sorted(unknown))}")
        self.ctx = ctx
        self.rng = random.Random(seed)
        self.shop: LiveShop = read_shop(ctx.state)
        chosen = {**ACTIONS, **(weights or {})}
        self._actions = [a for a, w in chosen.items() if w > 0]
        self._weights = [chosen[a] for a in self._actions]
        if not self._actions:
            raise ValueError("every live action has weight 0")
        self.steps = 0
        self._future = _future_buyers(ctx.state.truth)

    def run(self, steps: int) -> list[LiveChange]:
        return [self.step() for _ in range(steps)]

    def step(self) -> LiveChange:
        """Make one change and say what it was."""
        action = self.rng.choices(self._actions, weights=self._weights)[0]
        make: Callable[[], LiveChange | None] = getattr(self, f"_{action}")
        change = make()
        if change is None:  # nothing to fulfil, pay off or return yet
            change = self._instore_sale()
        self.steps += 1
        return change

    # -- the changes ---------------------------------------------------------------------

    def _instore_sale(self, customer: Obj | None = None) -> LiveChange:
        customer = customer or self._customer()
        if customer is None:
            return self._walk_in_sale()
        sale, due = self._ring_up(customer, status="CLOSED", till=True)
        self.shop.returnable.append(sale["id"])
        text = f"{_name(customer)} bought {_items(sale)} for ${due} at a till"
        return LiveChange("instore_sale", text, sale["id"], customer["id"])

    def _new_customer_sale(self) -> LiveChange:
        rng = self.rng
        first, last = rng.choice(_FIRST_NAMES), rng.choice(LAST_NAMES)
        fields = {
            "first_name": first,
            "last_name": last,
            "email": self._new_email(first, last),
            "mobile": self._new_phone(),
            "enable_loyalty": rng.random() < 0.7,
        }
        customer = ops_customers.create_customer(self.ctx, fields, strict=False)
        self.shop.customers.append(customer["id"])
        change = self._instore_sale(customer)
        text = f"new customer {change.description}"
        return LiveChange("new_customer_sale", text, change.sale_id, customer["id"])

    def _walk_in_sale(self) -> LiveChange:
        sale, due = self._ring_up(None, status="CLOSED", till=True)
        text = f"a walk-in bought {_items(sale)} for ${due}"
        return LiveChange("walk_in_sale", text, sale["id"])

    def _ecom_order(self) -> LiveChange | None:
        shop, customer = self.shop, self._customer()
        if shop.online_register is None or customer is None:
            return None
        number = shop.next_order_number
        shop.next_order_number += 1
        pickup = self.rng.random() < 0.55
        extra = {
            "source": shop.ecom_source,
            "source_id": str(number),
            "note": f"Order ID:{number}\n\nTotal Discount Amount: 0",
        }
        status = "AWAITING_PICKUP" if pickup else "AWAITING_DISPATCH"
        sale, due = self._ring_up(customer, status=status, till=False, extra=extra)
        shop.open_orders.append(sale["id"])
        how = "for pickup" if pickup else "for delivery"
        text = f"{_name(customer)} ordered {_items(sale)} online {how} (order {number}, ${due})"
        return LiveChange("ecom_order", text, sale["id"], customer["id"])

    def _ecom_fulfilment(self) -> LiveChange | None:
        sale = self._take_open(self.shop.open_orders, ("AWAITING_PICKUP", "AWAITING_DISPATCH"))
        if sale is None:
            return None
        picked = sale["status"] == "AWAITING_PICKUP"
        status = "PICKED_UP_CLOSED" if picked else "DISPATCHED_CLOSED"
        ops_sales.merge_sale(self.ctx, sale["id"], {"status": status})
        what = "was picked up" if picked else "was dispatched"
        text = f"online order {sale.get('source_id', '')} {what}"
        return LiveChange("ecom_fulfilment", text, sale["id"], sale.get("customer_id"))

    def _layby_opened(self) -> LiveChange | None:
        customer = self._customer()
        if customer is None:
            return None
        sale, due = self._ring_up(customer, status="LAYBY", till=True, deposit=True)
        self.shop.open_laybys.append(sale["id"])
        text = f"{_name(customer)} put {_items(sale)} on layby (${due}, deposit paid)"
        return LiveChange("layby_opened", text, sale["id"], customer["id"])

    def _layby_completed(self) -> LiveChange | None:
        sale = self._take_open(self.shop.open_laybys, ("LAYBY",))
        if sale is None:
            return None
        due = _due(sale)
        paid = sum((_dec(p.get("amount")) for p in sale.get("payments", [])), Decimal(0))
        payments = [dict(p) for p in sale.get("payments", [])]
        balance = (due - paid).quantize(_CENTS)
        if balance > 0:
            payments.append({**self.shop.payment("Cash"), "amount": balance})
        body = {"status": "LAYBY_CLOSED", "payments": payments}
        ops_sales.merge_sale(self.ctx, sale["id"], body)
        self.shop.returnable.append(sale["id"])
        text = f"a layby was paid off (${balance} balance)"
        return LiveChange("layby_completed", text, sale["id"], sale.get("customer_id"))

    def _return(self) -> LiveChange | None:
        shop, rng = self.shop, self.rng
        while shop.returnable:
            original = self.ctx.state.view(
                "sales", shop.returnable.pop(rng.randrange(len(shop.returnable)))
            )
            if original is None or original["id"] in shop.returned or is_deleted(original):
                continue
            customer = self._live_customer(original.get("customer_id"))
            if customer is None:
                continue
            goods = [i for i in original.get("line_items", []) if _dec(i.get("quantity")) > 0]
            if not goods:
                continue
            if len(goods) > 1 and rng.random() < 0.5:
                goods = [rng.choice(goods)]
            lines = [_line(i, -int(_dec(i["quantity"]))) for i in goods]
            extra = {"return_for": original["id"], "note": original.get("note") or ""}
            sale, due = self._sale(customer, "CLOSED", original["register_id"], lines, extra)
            shop.returned.add(original["id"])
            text = f"{_name(customer)} returned {_items(sale)} (${-due} refunded)"
            return LiveChange("return", text, sale["id"], customer["id"])
        return None

    def _customer_edit(self) -> LiveChange | None:
        customer = self._customer()
        if customer is None:
            return None
        rng = self.rng
        roll = rng.random()
        if roll < 0.35:
            known = self.shop.email_list
            # Now and then a profile is given an address another profile has.
            if known and rng.random() < 0.1:
                email = rng.choice(known)
            else:
                email = self._new_email(str(customer.get("first_name") or "x"), _last(customer))
            changes: dict[str, Any] = {"email": email}
            what = "changed their email"
        elif roll < 0.65:
            changes = {"mobile": self._new_phone()}
            what = "changed their phone"
        elif roll < 0.9:
            joined = not customer.get("enable_loyalty")
            changes = {"enable_loyalty": joined}
            what = "joined loyalty" if joined else "left loyalty"
        else:
            changes = {"do_not_email": not customer.get("do_not_email")}
            what = "changed their email preferences"
        ops_customers.merge_customer(self.ctx, customer["id"], changes)
        return LiveChange("customer_edit", f"{_name(customer)} {what}", None, customer["id"])

    # -- pieces --------------------------------------------------------------------------

    def _customer(self) -> Obj | None:
        if self._future is not None:
            # The generator's truth says who buys after the anchor and how often: those
            # are the customers who walk in, so the stream agrees with the backtest's truth.
            people, weights = self._future
            for _ in range(20):
                ids = self.rng.choices(people, cum_weights=weights)[0]
                found = self._live_customer(ids[self.rng.randrange(len(ids))])
                if found is not None:
                    return found
        ids = self.shop.customers
        for _ in range(20):
            if not ids:
                return None
            found = self._live_customer(ids[self.rng.randrange(len(ids))])
            if found is not None:
                return found
        return None

    def _live_customer(self, customer_id: Any) -> Obj | None:
        if not customer_id:
            return None
        found = self.ctx.state.view("customers", str(customer_id))
        return None if found is None or is_deleted(found) else found

    def _take_open(self, ids: list[str], statuses: tuple[str, ...]) -> Obj | None:
        while ids:
            sale = self.ctx.state.view("sales", ids.pop(self.rng.randrange(len(ids))))
            if sale is not None and sale.get("status") in statuses:
                return sale
        return None

    def _ring_up(
        self,
        customer: Obj | None,
        *,
        status: str,
        till: bool,
        deposit: bool = False,
        extra: dict[str, Any] | None = None,
    ) -> tuple[Obj, Decimal]:
        rng, shop = self.rng, self.shop
        loyal = bool(customer and customer.get("enable_loyalty"))
        lines = []
        for _ in range(rng.choice((1, 1, 1, 2, 2, 3, 4))):
            product = rng.choice(shop.products)
            quantity = rng.choice((1, 1, 1, 1, 2, 3))
            lines.append(
                {
                    "product_id": product.id,
                    "quantity": quantity,
                    "price": product.price,
                    "tax": product.tax,
                    "tax_id": product.tax_id,
                    "loyalty_value": (product.price * quantity * _LOYALTY_RATE).quantize(
                        _TAX_PLACES
                    )
                    if loyal
                    else Decimal(0),
                }
            )
        register = rng.choice(shop.tills) if till else str(shop.online_register)
        return self._sale(customer, status, register, lines, extra or {}, deposit=deposit)

    def _sale(
        self,
        customer: Obj | None,
        status: str,
        register: str,
        lines: list[Obj],
        extra: dict[str, Any],
        *,
        deposit: bool = False,
    ) -> tuple[Obj, Decimal]:
        rng, shop = self.rng, self.shop
        units = ((_dec(i["price"]) + _dec(i["tax"])) * i["quantity"] for i in lines)
        gross = sum(units, Decimal(0))
        due = gross.quantize(_CENTS, ROUND_HALF_EVEN)
        online = register == shop.online_register
        method = "Square (Online)" if online else rng.choice(("Cash", "Credit Card"))
        amount = (due * Decimal(rng.randint(20, 50)) / 100).quantize(_CENTS) if deposit else due
        body: dict[str, Any] = {
            "register_id": register,
            "status": status,
            "line_items": lines,
            "payments": [{**shop.payment(method), "amount": amount}] if amount else [],
            **extra,
        }
        if customer is not None:
            body["customer_id"] = customer["id"]
        if shop.users:
            body["user_id"] = rng.choice(shop.users)
        return ops_sales.create_sale(self.ctx, body), due

    def _new_email(self, first: str, last: str) -> str:
        rng, taken = self.rng, self.shop.emails
        stem = f"{first}.{last}".lower().replace(" ", "")
        domain = rng.choice(EMAIL_DOMAINS)
        email = f"{stem}@{domain}"
        while email.casefold() in taken:
            email = f"{stem}{rng.randint(2, 9999)}@{domain}"
        taken.add(email.casefold())
        self.shop.email_list.append(email)
        return email

    def _new_phone(self) -> str:
        rng = self.rng
        exchange = rng.choice(_EXCHANGES)
        return f"({rng.choice(AREA_CODES)}) {exchange}-{rng.randint(0, 9999):04d}"


def _future_buyers(truth: Obj) -> tuple[list[list[str]], list[float]] | None:
    """Each person who buys after the anchor (their customer ids), with cumulative weights
    by how often they buy in the next 90 days; None when the store carries no such truth."""
    persons = (truth.get("lifecycle") or {}).get("persons") or {}
    people: list[list[str]] = []
    weights: list[float] = []
    total = 0.0
    for entry in persons.values():
        ids = entry.get("customer_ids") or []
        often = entry.get("purchases_90d") or entry.get("purchases_365d", 0) / 4
        if ids and often > 0:
            total += often
            people.append(list(ids))
            weights.append(total)
    return (people, weights) if people else None


def _dec(value: Any) -> Decimal:
    if isinstance(value, Decimal):
        return value
    if isinstance(value, int) and not isinstance(value, bool):
        return Decimal(value)
    return Decimal(0)


def _due(sale: Obj) -> Decimal:
    return (_dec(sale.get("total_price")) + _dec(sale.get("total_tax"))).quantize(_CENTS)


def _line(item: Obj, quantity: int) -> Obj:
    """A return line for ``quantity`` (negative) units of an original line; the loyalty
    it earned is taken back in proportion."""
    bought = max(abs(_dec(item.get("quantity"))), Decimal(1))
    earned = _dec(item.get("loyalty_value")) * quantity / bought
    return {
        "product_id": item["product_id"],
        "quantity": quantity,
        "price": _dec(item.get("price")),
        "tax": _dec(item.get("tax")),
        "tax_id": item.get("tax_id"),
        "loyalty_value": earned.quantize(_TAX_PLACES),
    }


def _name(customer: Obj) -> str:
    parts = [str(p) for p in (customer.get("first_name"), customer.get("last_name")) if p]
    return " ".join(parts) or str(customer.get("customer_code") or "a customer")


def _last(customer: Obj) -> str:
    return str(customer.get("last_name") or customer.get("customer_code") or "shopper")


def _items(sale: Obj) -> str:
    count = sum(abs(int(_dec(i.get("quantity")))) for i in sale.get("line_items", []))
    return f"{count} item" + ("" if count == 1 else "s")

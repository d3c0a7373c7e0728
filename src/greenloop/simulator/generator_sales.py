"""In-store sales, returns and the money and payment plumbing that eCom twins share.

Money rules: a line's ``price`` is the unit price ex tax after any discount, so
``price × quantity = price_total``; ``tax_total`` is ``price_total × rate`` kept to five
decimals; the sale's ``total_price`` and ``total_tax`` are the sums of its lines and
``total_price_incl`` their sum. Payments add up to ``total_price_incl`` rounded to cents
(half-even, which turns 34.725 into 34.72 as the real API does).
"""

from __future__ import annotations

import random
import string
from dataclasses import dataclass
from decimal import ROUND_DOWN, Decimal
from itertools import product as cartesian
from typing import Any

from greenloop.simulator.generator_base import (
    CENTS,
    DAY,
    HOUR,
    ZERO,
    Catalog,
    LineMoney,
    Picker,
    Product,
    below,
    iso,
    new_uuid,
    trim,
)
from greenloop.simulator.generator_people import Person, Profile
from greenloop.simulator.names import SALE_NOTES

__all__ = ["CLOSED_STATUSES", "SaleFactory", "SaleRec", "Shop", "lines_for"]

Obj = dict[str, Any]

CLOSED_STATUSES = frozenset(
    {
        "CLOSED",
        "LAYBY_CLOSED",
        "ONACCOUNT_CLOSED",
        "PICKED_UP_CLOSED",
        "DISPATCHED_CLOSED",
        "SERVICE_CLOSED",
    }
)
_ATTRIBUTES = {
    "LAYBY": ["layby"],
    "LAYBY_CLOSED": ["layby"],
    "ONACCOUNT": ["onaccount"],
    "ONACCOUNT_CLOSED": ["onaccount"],
    "SERVICE": ["service"],
    "SERVICE_CLOSED": ["service"],
    "AWAITING_PICKUP": ["pickup"],
    "PICKED_UP_CLOSED": ["pickup"],
    "AWAITING_DISPATCH": ["delivery"],
    "DISPATCHED_CLOSED": ["delivery"],
}
_FIVE = Decimal(5)
# Six-letter loyalty short codes, drawn as two three-letter halves.
_TRIGRAMS = ["".join(t) for t in cartesian(string.ascii_lowercase, repeat=3)]
_N_TRIGRAMS = len(_TRIGRAMS)
_LINE_COUNT = Picker((1, 2, 3, 4), (50, 30, 14, 6))
_QUANTITY = Picker((1, 2, 3), (80, 15, 5))


@dataclass(frozen=True)
class Shop:
    """The ids a sale refers to."""

    outlet_ids: list[str]
    registers: list[list[str]]  # in-store register ids, per outlet
    cashiers: list[list[str]]  # user ids, per outlet
    online_register_id: str
    online_user_id: str
    payment_types: dict[str, tuple[str, str]]  # name -> (retailer type id, legacy type id)
    tax_id: str
    tax_rate_id: str
    tax_name: str
    no_tax_id: str
    ecom_source: str


class SaleRec:
    """A generated sale with the bookkeeping the generator needs after building it."""

    __slots__ = ("created_ts", "outlet", "profile", "returnable", "sale", "seq", "ts", "updated_ts")

    def __init__(
        self, sale: Obj, seq: int, ts: int, created_ts: int, updated_ts: int, outlet: int
    ) -> None:
        self.sale = sale
        self.seq = seq
        self.ts = ts
        self.created_ts = created_ts
        self.updated_ts = updated_ts
        self.outlet = outlet
        self.profile: Profile | None = None
        self.returnable = False


def lines_for(drawn: int, spend: float) -> int:
    """A basket's line count scaled by the buyer's spend level (1.0 leaves it as drawn)."""
    return drawn if spend == 1.0 else max(1, min(8, round(drawn * spend)))


class SaleFactory:
    def __init__(
        self, rng: random.Random, shop: Shop, catalog: Catalog, anchor: int, year_start: int
    ) -> None:
        self.rng = rng
        self.shop = shop
        self.catalog = catalog
        self.anchor = anchor
        self.year_start = year_start
        self.records: list[SaleRec] = []
        self.short_codes: set[str] = set()
        self.products = {p.id: p for p in catalog.products}
        self.products[catalog.shipping.id] = catalog.shipping

    # -- pieces ------------------------------------------------------------------------------

    def short_code(self) -> str:
        while True:
            code = _TRIGRAMS[below(self.rng, _N_TRIGRAMS)] + _TRIGRAMS[below(self.rng, _N_TRIGRAMS)]
            if code not in self.short_codes:
                self.short_codes.add(code)
                return code

    def line_item(
        self, product: Product, money: LineMoney, qty: int, seq: int, loyalty: bool
    ) -> Obj:
        taxed = product is not self.catalog.shipping
        tax_id = self.shop.tax_id if taxed else self.shop.no_tax_id
        return {
            "id": new_uuid(self.rng),
            "product_id": product.id,
            "tax_id": tax_id,
            "quantity": qty,
            "price": money.price,
            "price_total": money.price_total,
            "cost": money.cost,
            "cost_total": money.cost_total,
            "discount": money.discount,
            "discount_total": money.discount_total,
            "tax": money.tax,
            "tax_total": money.tax_total,
            "loyalty_value": money.loyalty_total if loyalty and taxed else ZERO,
            "price_set": False,
            "sequence": seq,
            "note": None,
            "status": "CONFIRMED",
            "is_return": qty < 0,
            "tax_components": [{"rate_id": self.shop.tax_rate_id, "total_tax": money.tax_total}]
            if taxed
            else [],
        }

    def payment(self, name: str, amount: Decimal, register_id: str, outlet: int, ts: int) -> Obj:
        type_id, legacy_id = self.shop.payment_types[name]
        return {
            "id": new_uuid(self.rng),
            "register_id": register_id,
            "outlet_id": self.shop.outlet_ids[outlet],
            "retailer_payment_type_id": type_id,
            "payment_type_id": legacy_id,
            "name": name,
            "amount": trim(amount),
            "payment_date": iso(ts),
        }

    def pick_lines(
        self, wholesale: bool = False, spend: float = 1.0
    ) -> list[tuple[Product, int, Decimal]]:
        rng, picker = self.rng, self.catalog.instore_picker
        picks = []
        for _ in range(lines_for(_LINE_COUNT.pick(rng), spend)):
            product = picker.pick(rng)
            qty = rng.randint(3, 12) if wholesale else _QUANTITY.pick(rng)
            discount = ZERO
            if rng.random() < 0.05:
                discount = (product.price * rng.choice((Decimal("0.1"), Decimal("0.15")))).quantize(
                    CENTS
                )
            picks.append((product, qty, discount))
        return picks

    def build(
        self,
        *,
        ts: int,
        created_ts: int,
        updated_ts: int,
        outlet: int,
        register_id: str,
        user_id: str,
        profile: Profile | None,
        status: str,
        lines: list[Obj],
        payments: list[Obj],
        note: str | None,
        source: str = "USER",
        source_id: str | None = None,
        return_for: str | None = None,
    ) -> SaleRec:
        """Assemble the Sale object; invoice numbers are filled in once all sales exist."""
        total_price = total_tax = total_loyalty = ZERO
        for li in lines:
            total_price += li["price_total"]
            total_tax += li["tax_total"]
            total_loyalty += li["loyalty_value"]
        total_tax = trim(total_tax)
        sale: Obj = {
            "id": new_uuid(self.rng),
            "outlet_id": self.shop.outlet_ids[outlet],
            "register_id": register_id,
            "user_id": user_id,
            "invoice_number": "",
            "receipt_number": "",
            "invoice_sequence": 0,
            "source": source,
            "status": status,
            "note": note,
            "short_code": self.short_code(),
            "return_for": return_for,
            "total_price": trim(total_price),
            "total_tax": total_tax,
            "total_price_incl": trim(total_price + total_tax),
            "total_loyalty": trim(total_loyalty),
            "sale_date": iso(ts),
            "created_at": iso(created_ts),
            "updated_at": iso(updated_ts),
            "deleted_at": None,
            "taxes": [
                {
                    "id": self.shop.tax_id,
                    "name": self.shop.tax_name,
                    "rate": self.catalog.tax_rate,
                    "amount": total_tax,
                }
            ],
            "line_items": lines,
            "payments": payments,
            "adjustments": [],
            "attributes": list(_ATTRIBUTES.get(status, ())),
        }
        # The 2.0 schema types both as non-nullable strings: leave them out rather than null.
        if profile is not None:
            sale["customer_id"] = profile.id
        if source_id is not None:
            sale["source_id"] = source_id
        rec = SaleRec(sale, len(self.records), ts, created_ts, updated_ts, outlet)
        rec.profile = profile
        self.records.append(rec)
        return rec

    # -- bookkeeping on the customer -------------------------------------------------------------

    def book(
        self, profile: Profile | None, ts: int, status: str, due: Decimal, earned: Decimal
    ) -> None:
        if profile is None:
            return
        profile.sales += 1
        if profile.first_sale_ts is None or ts < profile.first_sale_ts:
            profile.first_sale_ts = ts
        if status in CLOSED_STATUSES or status in ("AWAITING_PICKUP", "AWAITING_DISPATCH"):
            profile.spend += due
            profile.loyalty = max(ZERO, profile.loyalty + earned)
            if ts >= self.year_start:
                profile.ytd += due
        elif status == "ONACCOUNT":
            profile.owed += due

    def redeem(self, profile: Profile | None, limit: Decimal, chance: float) -> Decimal:
        """How much loyalty credit the customer spends on this sale (often nothing)."""
        if profile is None or not profile.enable_loyalty or profile.loyalty < _FIVE:
            return ZERO
        if limit <= 0 or self.rng.random() >= chance:
            return ZERO
        amount = min(profile.loyalty.quantize(CENTS, ROUND_DOWN), limit)
        profile.loyalty -= amount
        return amount

    # -- in-store sales --------------------------------------------------------------------------

    def pick_profile(self, person: Person, ts: int) -> Profile:
        profiles = person.pos_profiles
        if len(profiles) == 1:
            return profiles[0]
        live = [
            p
            for p in profiles[1:]
            if p.active_from <= ts and (p.deleted_ts is None or ts < p.deleted_ts)
        ]
        # Cashiers usually find the main record, but not always.
        if live and self.rng.random() < 0.35:
            return self.rng.choice(live)
        return profiles[0]

    def _status(self, ts: int, profile: Profile | None) -> tuple[str, int | None]:
        rng = self.rng
        roll = rng.random()
        if profile is None:
            if roll < 0.025:
                return "VOIDED", None
            return ("SAVED", None) if roll < 0.045 else ("CLOSED", None)
        wholesale = profile.group == "wholesale"
        if roll < 0.02:
            return "VOIDED", None
        if roll < 0.035:
            return "SAVED", None
        if roll < 0.065:
            close = ts + rng.randint(5 * DAY, 40 * DAY)
            still_open = close >= self.anchor or rng.random() < 0.12
            return ("LAYBY", None) if still_open else ("LAYBY_CLOSED", close)
        if roll < 0.095 or (wholesale and roll < 0.45):
            close = ts + rng.randint(3 * DAY, 60 * DAY)
            still_open = close >= self.anchor or rng.random() < 0.12
            return ("ONACCOUNT", None) if still_open else ("ONACCOUNT_CLOSED", close)
        if roll < 0.1:
            close = ts + rng.randint(DAY, 10 * DAY)
            return ("SERVICE", None) if close >= self.anchor else ("SERVICE_CLOSED", close)
        return "CLOSED", None

    def instore(self, ts: int, person: Person | None) -> SaleRec:
        rng, shop = self.rng, self.shop
        profile = self.pick_profile(person, ts) if person is not None else None
        outlet = below(rng, 2) if person is None or rng.random() < 0.15 else person.home_outlet
        register_id = rng.choice(shop.registers[outlet])
        status, close_ts = self._status(ts, profile)
        loyalty = profile is not None and profile.enable_loyalty and status != "VOIDED"
        picks = self.pick_lines(
            wholesale=profile is not None and profile.group == "wholesale",
            spend=person.spend if person is not None else 1.0,
        )
        lines = [
            self.line_item(p, self.catalog.line(p, q, d), q, i, loyalty)
            for i, (p, q, d) in enumerate(picks)
        ]
        due = sum((li["price_total"] + li["tax_total"] for li in lines), ZERO).quantize(CENTS)
        method = "Cash" if rng.random() < 0.35 else "Credit Card"
        payments: list[Obj] = []
        updated_ts = ts
        if status == "CLOSED":
            spent = self.redeem(profile, due, 0.3)
            if spent:
                payments.append(self.payment("Loyalty", spent, register_id, outlet, ts))
            if due - spent:
                payments.append(self.payment(method, due - spent, register_id, outlet, ts))
        elif status in ("LAYBY", "LAYBY_CLOSED", "SERVICE"):
            deposit = (due * Decimal(rng.randint(20, 50)) / 100).quantize(CENTS)
            payments.append(self.payment(method, deposit, register_id, outlet, ts))
            if close_ts is not None:
                payments.append(self.payment(method, due - deposit, register_id, outlet, close_ts))
        elif status in ("ONACCOUNT_CLOSED", "SERVICE_CLOSED") and close_ts is not None:
            payments.append(self.payment(method, due, register_id, outlet, close_ts))
        if close_ts is not None:
            updated_ts = close_ts
        elif status == "VOIDED":
            updated_ts = min(ts + rng.randint(60, 1800), self.anchor - 1)
        if status == "SAVED":
            for li in lines:
                li["status"] = "SAVED"
        note = rng.choice(SALE_NOTES) if rng.random() < 0.04 else ""
        if status in ("LAYBY", "LAYBY_CLOSED", "ONACCOUNT", "ONACCOUNT_CLOSED") and not note:
            note = "Layby - balance due" if status.startswith("LAYBY") else "On account"
        created_ts = ts + below(rng, 3)
        rec = self.build(
            ts=ts,
            created_ts=created_ts,
            updated_ts=max(updated_ts, created_ts),
            outlet=outlet,
            register_id=register_id,
            user_id=rng.choice(shop.cashiers[outlet]),
            profile=profile,
            status=status,
            lines=lines,
            payments=payments,
            note=note,
        )
        rec.returnable = status == "CLOSED" and updated_ts < self.anchor - 2 * DAY
        earned = rec.sale["total_loyalty"]
        self.book(profile, ts, status, due, earned)
        return rec

    # -- returns ---------------------------------------------------------------------------------

    def refund(self, original: SaleRec, ts: int) -> SaleRec:
        """A CLOSED return sale for some or all of ``original``'s goods, made at a till."""
        rng, shop, sale = self.rng, self.shop, original.sale
        goods = [li for li in sale["line_items"] if li["product_id"] != self.catalog.shipping.id]
        if rng.random() >= 0.6:
            goods = [rng.choice(goods)]
        profile = original.profile
        lines = []
        for seq, li in enumerate(goods):
            product = self.products[li["product_id"]]
            qty = li["quantity"] if len(goods) > 1 or rng.random() < 0.7 else 1
            money = self.catalog.custom_line(
                product, li["price"] + li["discount"], -qty, li["discount"], taxed=True
            )
            line = self.line_item(product, money, -qty, seq, bool(li["loyalty_value"]))
            lines.append(line)
        due = sum((li["price_total"] + li["tax_total"] for li in lines), ZERO).quantize(CENTS)
        methods = [p["name"] for p in sale["payments"] if p["name"] in ("Cash", "Credit Card")]
        method = methods[0] if methods else "Credit Card"
        outlet = original.outlet
        register_id = rng.choice(shop.registers[outlet])
        rec = self.build(
            ts=ts,
            created_ts=ts,
            updated_ts=ts,
            outlet=outlet,
            register_id=register_id,
            user_id=rng.choice(shop.cashiers[outlet]),
            profile=profile,
            status="CLOSED",
            lines=lines,
            payments=[self.payment(method, due, register_id, outlet, ts)],
            note=sale["note"],  # X-Series copies the original's note, "Order ID:…" included
            return_for=sale["id"],
        )
        self.book(profile, ts, "CLOSED", due, rec.sale["total_loyalty"])
        return rec

    def add_returns(self, count: int) -> int:
        """Return ``count`` random returnable sales (fewer if there are not enough)."""
        rng = self.rng
        candidates = [
            r
            for r in self.records
            if r.returnable and (r.profile is None or r.profile.deleted_ts is None)
        ]
        chosen = rng.sample(candidates, min(count, len(candidates)))
        chosen.sort(key=lambda r: r.seq)
        for original in chosen:
            earliest = original.updated_ts + HOUR
            latest = min(original.updated_ts + 30 * DAY, self.anchor - 60)
            self.refund(original, rng.randint(earliest, max(earliest, latest)))
        return len(chosen)

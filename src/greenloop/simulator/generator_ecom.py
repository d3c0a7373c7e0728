"""Online orders: the eCom (E-Series) side and, when the order syncs, its X-Series twin.

The twin follows what real synced sales look like: ``source`` is one ``ecw:`` constant,
``source_id`` the order number, the note opens with ``Order ID:<number>``, it sits on the
online register with that register's own invoice counter, and a redeemed loyalty
balance is booked as a separate ``Loyalty`` payment, so the eCom ``total`` equals the
sale's other payments. Refunds and cancellations made in eCom never touch the twin.
"""

from __future__ import annotations

import random
import string
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from greenloop.simulator.generator_base import (
    CENTS,
    DAY,
    HOUR,
    ZERO,
    Catalog,
    Picker,
    Product,
    central_offset,
    iso,
    local_parts,
    trim,
)
from greenloop.simulator.generator_people import Person, Profile, random_address
from greenloop.simulator.generator_sales import CLOSED_STATUSES, SaleFactory, SaleRec, lines_for
from greenloop.simulator.names import ORDER_COMMENTS

__all__ = ["EcomDesk"]

Obj = dict[str, Any]

_PICKUP_METHOD = "GreenHaus - Main St (pickup)"
_COUPONS = ("MYNEWJOURNEY", "SPRING15", "CREW15")
_WEEKDAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
_SHIPPING_FEE = Decimal("6.99")
_FREE_SHIPPING_FROM = Decimal(100)
_CARD_FLOOR = Decimal(1)
_LINE_COUNT = Picker((1, 2, 3, 4), (55, 28, 12, 5))
_QUANTITY = Picker((1, 2, 3), (85, 12, 3))
_TRANSACTION_CHARS = string.ascii_uppercase + string.digits
_WAITING_PICKUP = Picker(("READY_FOR_PICKUP", "PROCESSING", "NEW"), (60, 25, 15))


@dataclass(frozen=True)
class _Basket:
    picks: list[tuple[Product, int, Decimal]]  # product, quantity, unit coupon discount
    lines: list[Obj]
    subtotal: Decimal
    discount: Decimal
    shipping: Decimal
    tax: Decimal
    gross: Decimal  # what the order costs before any loyalty redemption


class EcomDesk:
    """Turns scheduled online orders into eCom order rows and X-Series twins."""

    def __init__(
        self,
        rng: random.Random,
        factory: SaleFactory,
        catalog: Catalog,
        *,
        anchor: int,
        hint_start: int,
        first_number: int = 1001,
    ) -> None:
        self.rng = rng
        self.factory = factory
        self.catalog = catalog
        self.anchor = anchor
        self.hint_start = hint_start
        self.next_number = first_number
        self.orders: list[Obj] = []
        self.ecom_person: dict[str, str] = {}
        self.pending: list[SaleRec] = []  # twins of lagging orders, not in X-Series yet
        self.synced: list[SaleRec] = []
        # Identity noise: a guest checkout's (email, phone) for an order, or None.
        self.guest: Callable[[str, Person, bool], tuple[str, str | None] | None] | None = None

    def order(self, ts: int, person: Person, sync_state: str) -> None:
        rng = self.rng
        number = str(self.next_number)
        # Abandoned checkouts consume order numbers now and then.
        self.next_number += 2 if rng.random() < 0.004 else 1
        order_ts = ts - ts % 60 + rng.randint(0, 44)
        test = sync_state == "test_order"
        zero = sync_state == "zero_gift_card"
        pickup = test or rng.random() < 0.55
        payment_status = self._payment_status(pickup, sync_state)
        offline = payment_status == "QUEUED" or test
        email = (person.ecom_email or _fallback_email(person)).lower()
        phone = f"+1{person.ecom_phone}" if person.ecom_phone else None
        if self.guest is not None:
            # Not the order the integration creates the buyer's profile from: it takes its
            # email from the order.
            creates = sync_state in ("synced", "lagging") and not person.ecom_ready
            email, phone = self.guest(number, person, not (test or creates)) or (email, phone)

        profile: Profile | None = None
        if sync_state in ("synced", "lagging"):
            profile = self._profile_for(person, order_ts)
        basket = self._basket(
            pickup,
            coupon=not (test or zero) and rng.random() < 0.06,
            profile=profile,
            spend=person.spend,
        )
        redeemed = ZERO
        if sync_state == "synced" and not offline and basket.gross > _CARD_FLOOR:
            redeemed = self.factory.redeem(profile, basket.gross - _CARD_FLOOR, 0.3)
        ship_to = None if pickup else self._ship_to(person)
        pickup_ts = self._pickup_time(order_ts) if pickup else None
        comment = rng.choice(ORDER_COMMENTS) if rng.random() < 0.08 else None
        coupon = rng.choice(_COUPONS) if basket.discount else None

        twin: SaleRec | None = None
        hint = ""
        if profile is not None:
            sale_ts = order_ts + rng.randint(1, 15)
            note = self._note(number, pickup_ts, ship_to, person, basket.discount, coupon, comment)
            twin = self._twin(
                sale_ts,
                profile,
                sync_state,
                pickup_ts,
                payment_status,
                basket,
                note,
                number,
                redeemed,
            )
            if sync_state == "synced":
                status = twin.sale["status"] if payment_status != "QUEUED" else "UNPAID"
                self.factory.book(
                    profile, sale_ts, status, basket.gross, twin.sale["total_loyalty"]
                )
                hint = self._hint(person, twin.sale["id"], order_ts)

        fulfillment = self._fulfillment(
            pickup,
            payment_status,
            twin.sale["status"] in CLOSED_STATUSES if twin else None,
            order_ts,
        )
        self.ecom_person[number] = person.key
        self.orders.append(
            {
                "order_number": number,
                "email": email,
                "name": person.ecom_name,
                "phone": phone,
                "created_at": iso(order_ts),
                "items": [
                    {
                        "sku": p.sku,
                        "name": p.name,
                        "price": p.price.quantize(CENTS),
                        "quantity": q,
                        "total": (p.price * q).quantize(CENTS),
                    }
                    for p, q, _ in basket.picks
                ],
                "subtotal": basket.subtotal.quantize(CENTS),
                "tax": basket.tax.quantize(CENTS),
                "shipping": basket.shipping.quantize(CENTS),
                "discount": basket.discount.quantize(CENTS),
                "total": (ZERO if zero else basket.gross - redeemed).quantize(CENTS),
                "payment_status_code": payment_status,
                "fulfillment_status_code": fulfillment,
                "payment_method": _payment_method(zero, offline),
                "shipping_method": _PICKUP_METHOD if pickup else "Standard shipping",
                "pickup": pickup,
                "xseries_order_id": hint,
                "sale_id": twin.sale["id"] if twin is not None else None,
                "sync_state": sync_state,
                "coupon_code": coupon,
                "loyalty_redemption": redeemed.quantize(CENTS),
                "gift_card_redemption": (basket.gross if zero else ZERO).quantize(CENTS),
                "pickup_time": iso(pickup_ts) if pickup_ts is not None else None,
                "ship_to": _ship_to_dict(person, ship_to),
                "comments": comment,
                "tracking_number": "".join(rng.choices(string.digits, k=22))
                if fulfillment in ("SHIPPED", "DELIVERED") and not pickup
                else None,
                "payment_transaction_id": None
                if offline or zero
                else "".join(rng.choices(_TRANSACTION_CHARS, k=29)),
            }
        )

    # -- pieces ------------------------------------------------------------------------------

    def future_value(self, person: Person) -> Decimal | None:
        """What an order this person places after the anchor would count for (the order
        total: tax and shipping in), or None when its payment state would not count."""
        rng = self.rng
        pickup = rng.random() < 0.55
        basket = self._basket(pickup, coupon=rng.random() < 0.06, profile=None, spend=person.spend)
        payment = self._payment_status(pickup, "synced")
        return basket.gross if payment in ("ACCEPTED", "PARTIALLY_REFUNDED") else None

    def _basket(
        self, pickup: bool, *, coupon: bool, profile: Profile | None, spend: float = 1.0
    ) -> _Basket:
        """What was bought, and the twin's line items (a shipping line on delivery orders)."""
        catalog, factory = self.catalog, self.factory
        picks = self._pick(coupon=coupon, spend=spend)
        subtotal = sum((p.price * q for p, q, _ in picks), ZERO)
        discount = sum((d * q for _, q, d in picks), ZERO)
        shipping = ZERO
        if not pickup and subtotal - discount < _FREE_SHIPPING_FROM:
            shipping = _SHIPPING_FEE
        loyalty = profile is not None and profile.enable_loyalty
        lines = [
            factory.line_item(p, catalog.line(p, q, d), q, i, loyalty)
            for i, (p, q, d) in enumerate(picks)
        ]
        if not pickup:
            money = catalog.custom_line(catalog.shipping, shipping, 1, ZERO, taxed=False)
            lines.append(factory.line_item(catalog.shipping, money, 1, len(lines), False))
        gross = sum((li["price_total"] + li["tax_total"] for li in lines), ZERO).quantize(CENTS)
        # Everything but the tax is whole cents, so this is the tax rounded to cents.
        tax = gross - (subtotal - discount + shipping)
        return _Basket(picks, lines, subtotal, discount, shipping, tax, gross)

    def _hint(self, person: Person, sale_id: str, order_ts: int) -> str:
        """The ``X-series Order ID`` the integration writes back onto the eCom order."""
        hint = ""
        if order_ts >= self.hint_start:
            hint = sale_id
            if person.last_ecom_sale and self.rng.random() < 0.025:
                hint = person.last_ecom_sale  # copied over from the customer's earlier order
        person.last_ecom_sale = sale_id
        return hint

    def _pick(self, *, coupon: bool, spend: float = 1.0) -> list[tuple[Product, int, Decimal]]:
        rng, picker = self.rng, self.catalog.online_picker
        picks = []
        for i in range(lines_for(_LINE_COUNT.pick(rng), spend)):
            product = picker.pick(rng)
            qty = _QUANTITY.pick(rng)
            discount = (
                (product.price * Decimal("0.15")).quantize(CENTS) if coupon and i == 0 else ZERO
            )
            picks.append((product, qty, discount))
        return picks

    def _payment_status(self, pickup: bool, sync_state: str) -> str:
        if sync_state == "test_order":
            return "CANCELLED" if self.rng.random() < 0.5 else "REFUNDED"
        if sync_state == "zero_gift_card":
            return "ACCEPTED"
        roll = self.rng.random()
        if pickup and roll < 0.012:
            return "QUEUED"
        if roll < 0.022:
            return "REFUNDED"
        if roll < 0.028:
            return "PARTIALLY_REFUNDED"
        if roll < 0.031:
            return "CANCELLED"
        return "ACCEPTED"

    def _fulfillment(self, pickup: bool, payment: str, closed: bool | None, order_ts: int) -> str:
        """eCom's own fulfilment status; ``closed`` is None when there is no twin to follow."""
        rng = self.rng
        if payment == "CANCELLED":
            return "WILL_NOT_DELIVER"
        if payment == "REFUNDED" and rng.random() < 0.6:
            return "RETURNED"
        if payment == "QUEUED":
            return "NEW"
        done = closed if closed is not None else order_ts < self.anchor - 4 * DAY
        if pickup:
            if done:
                return "READY_FOR_PICKUP" if rng.random() < 0.5 else "DELIVERED"
            return _WAITING_PICKUP.pick(rng)
        if done:
            return "SHIPPED" if rng.random() < 0.4 else "DELIVERED"
        return "NEW" if rng.random() < 0.4 else "PROCESSING"

    def _profile_for(self, person: Person, ts: int) -> Profile:
        profile = person.ecom_profile or person.pos_profiles[0]
        if not person.ecom_ready:
            # The integration found no customer with this email and created one.
            person.ecom_ready = True
            profile.active_from = ts
            profile.created_ts = ts - self.rng.randint(1, 5)
        return profile

    def _twin(
        self,
        sale_ts: int,
        profile: Profile,
        sync_state: str,
        pickup_ts: int | None,
        payment_status: str,
        basket: _Basket,
        note: str,
        number: str,
        redeemed: Decimal,
    ) -> SaleRec:
        rng, factory = self.rng, self.factory
        shop = factory.shop
        roll = rng.random()
        delay = rng.randint(15, 110) if roll < 0.97 else rng.randint(180, 3300)
        created_ts = min(sale_ts + delay, self.anchor - 1)
        pickup = pickup_ts is not None
        close_ts: int | None = None
        # Staff complete the sale when the customer collects or the parcel leaves; now and
        # then one is simply forgotten. Unpaid orders stay open.
        if payment_status != "QUEUED" and rng.random() >= 0.01:
            if pickup_ts is not None:
                close_ts = pickup_ts + rng.randint(-HOUR // 2, 4 * HOUR)
            else:
                close_ts = sale_ts + rng.randint(12 * HOUR, 96 * HOUR)
        if sync_state == "lagging":
            created_ts = self.anchor + rng.randint(60, 3600)
            close_ts = None
        if close_ts is None or close_ts >= self.anchor or close_ts <= created_ts:
            status = "AWAITING_PICKUP" if pickup else "AWAITING_DISPATCH"
            updated_ts = created_ts
        else:
            status = "PICKED_UP_CLOSED" if pickup else "DISPATCHED_CLOSED"
            updated_ts = close_ts
        payments: list[Obj] = []
        if payment_status != "QUEUED":  # unpaid orders arrive without payments
            card = basket.gross - redeemed
            if card:
                payments.append(
                    factory.payment("Square (Online)", card, shop.online_register_id, 0, sale_ts)
                )
            if redeemed:
                payments.append(
                    factory.payment("Loyalty", redeemed, shop.online_register_id, 0, sale_ts)
                )
        rec = factory.build(
            ts=sale_ts,
            created_ts=created_ts,
            updated_ts=updated_ts,
            outlet=0,
            register_id=shop.online_register_id,
            user_id=shop.online_user_id,
            profile=profile,
            status=status,
            lines=basket.lines,
            payments=payments,
            note=note,
            source=shop.ecom_source,
            source_id=number,
        )
        if sync_state == "lagging":
            factory.records.pop()
            self.pending.append(rec)
        else:
            rec.returnable = status.endswith("_CLOSED") and updated_ts < self.anchor - 2 * DAY
            self.synced.append(rec)
        return rec

    def _ship_to(self, person: Person) -> tuple[str, str, str, str]:
        if person.ship_to is None:
            person.ship_to = person.pos_profiles[0].address or random_address(self.rng)
        return person.ship_to

    def _pickup_time(self, order_ts: int) -> int:
        """A half-hour slot during opening hours (10:00-20:00 store time) after the order."""
        slot = order_ts + self.rng.randint(1, 24) * HOUR
        offset = central_offset(slot)
        local = slot + offset
        local -= local % 1800
        hour = (local % DAY) // HOUR
        if hour < 10:
            local += (10 - hour) * HOUR - local % HOUR
        elif hour >= 20:
            local += DAY - (local % DAY) + 12 * HOUR
        return local - offset

    def _note(
        self,
        number: str,
        pickup_ts: int | None,
        ship_to: tuple[str, str, str, str] | None,
        person: Person,
        discount: Decimal,
        coupon: str | None,
        comment: str | None,
    ) -> str:
        blocks = [f"Order ID:{number}"]
        if pickup_ts is not None:
            blocks.append(f"Pickup time:\n{_pickup_text(pickup_ts)}")
        if ship_to is not None:
            street, city, state, postcode = ship_to
            lines = (person.ecom_name, street, f"{city}, {state} {postcode}", "United States")
            blocks.append("Shipping Address:\n" + "\n".join(lines))
        blocks.append(f"Total Discount Amount: {trim(discount)}")
        if coupon:
            blocks.append(f"Coupon Discount Used: {coupon}")
        if comment:
            blocks.append(f"Order Comments:\n{comment}")
        return "\n\n".join(blocks)


def _pickup_text(ts: int) -> str:
    """``Fri, Jun 21, 2024, 1:30 PM`` in store-local time, as the integration writes it."""
    day, hour, minute = local_parts(ts)
    half = "AM" if hour < 12 else "PM"
    clock = hour % 12 or 12
    return (
        f"{_WEEKDAYS[day.weekday()]}, {_MONTHS[day.month - 1]} {day.day}, {day.year}, "
        f"{clock}:{minute:02d} {half}"
    )


def _payment_method(zero: bool, offline: bool) -> str:
    if zero:
        return ""  # fully paid by gift card
    return "Pay by cash" if offline else "Credit or debit card"


def _fallback_email(person: Person) -> str:
    email = person.pos_profiles[0].email
    return email or f"{person.first}.{person.last}@example.com"


def _ship_to_dict(person: Person, ship_to: tuple[str, str, str, str] | None) -> Obj | None:
    if ship_to is None:
        return None
    street, city, state, postcode = ship_to
    return {
        "name": person.ecom_name,
        "street_1": street,
        "city": city,
        "state_code": state,
        "postal_code": postcode,
        "country_code": "US",
    }

"""The full analysis' one-pass merge and timeline against the reference merge and metrics."""

from __future__ import annotations

import random
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest

from greenloop.domain.purchases import (
    ECOM,
    RETURN,
    CountingRules,
    OrderFact,
    SaleFact,
    Timeline,
    merge_purchases,
    statuses_needing_payments,
    stream_purchases,
)

START = datetime(2026, 1, 1, tzinfo=UTC)
STATUSES = (
    "CLOSED",
    "LAYBY_CLOSED",
    "VOIDED",
    "SAVED",
    "AWAITING_PICKUP",
    "AWAITING_DISPATCH",
    "ONACCOUNT",
)
PAY_CODES = ("PAID", "ACCEPTED", "REFUNDED", "PARTIALLY_REFUNDED", "CANCELLED", "WHATEVER")


def _store(seed: int) -> tuple[list[SaleFact], list[OrderFact]]:
    """Sales and orders with every case the merge distinguishes: twins (also two sales
    claiming one number), returns (of returns, of missing sales, of themselves), the
    online register, ``Order ID:`` notes, payments with loyalty, missing totals."""
    rng = random.Random(seed)
    sales: list[SaleFact] = []
    for n in range(300):
        sid = f"s{n:04d}"
        ecom = rng.random() < 0.3
        return_for = None
        if n > 5 and rng.random() < 0.15:
            return_for = rng.choice([sales[rng.randrange(len(sales))].id, "missing", sid])
        price = Decimal(rng.randrange(-5000, 20000)).scaleb(-2)
        tax = Decimal(rng.randrange(0, 900)).scaleb(-2)
        paid = price + tax if rng.random() < 0.7 else price
        payments = (("Loyalty", Decimal("5.00")), ("Card", paid - 5)) if rng.random() < 0.3 else ()
        sales.append(
            SaleFact(
                id=sid,
                customer_id=rng.choice([None, "c1", "c2", "c3"]),
                status=rng.choice(STATUSES),
                source="ecw:ABC" if ecom else rng.choice([None, "USER"]),
                source_id=f" {rng.randrange(1000, 1040)} " if ecom else None,
                register_id=rng.choice(["r1", "web", None]),
                note=rng.choice([None, "Order ID: 1001", "  order id:9", "hello"]),
                return_for=return_for,
                sale_date=START + timedelta(hours=n) if rng.random() < 0.9 else None,
                created_at=START + timedelta(hours=n, minutes=5),
                total_price=price,
                total_tax=tax,
                total_price_incl=None if rng.random() < 0.2 else price + tax,
                payments=payments,
            )
        )
    orders = [
        OrderFact(
            order_number=str(number),
            email=f"buyer{number % 7}@example.com",
            placed_at=START + timedelta(days=number - 1000),
            payment_status_code=rng.choice(PAY_CODES),
            total=Decimal(rng.randrange(0, 9000)).scaleb(-2),
            tax=Decimal("1.00"),
            shipping=Decimal("6.99") if rng.random() < 0.5 else Decimal(0),
        )
        for number in range(1000, 1050)
    ]
    return sales, orders


def _row(sale: SaleFact) -> tuple[object, ...]:
    return (
        sale.id,
        sale.customer_id,
        sale.status,
        sale.source,
        sale.source_id,
        sale.register_id,
        sale.note,
        sale.return_for,
        sale.sale_date or sale.created_at,
        sale.total_price,
        sale.total_tax,
        sale.total_price_incl,
    )


RULES = [
    CountingRules(),
    CountingRules(
        online_register_ids=frozenset({"web"}), excluded_order_numbers=frozenset({"1003"})
    ),
    CountingRules(include_tax=False, include_loyalty_redemptions=False),
    CountingRules(count_paid_awaiting_fulfilment=False, include_shipping=False),
]


@pytest.mark.parametrize("seed", range(6))
@pytest.mark.parametrize("rules", RULES)
def test_the_stream_gives_what_the_reference_merge_gives(seed: int, rules: CountingRules) -> None:
    sales, orders = _store(seed)
    by_id = {sale.id: sale for sale in sales}
    originals = {
        sale.return_for: by_id[sale.return_for]
        for sale in sales
        if sale.return_for and sale.return_for in by_id
    }
    statuses = statuses_needing_payments(rules)
    payments = {
        sale.id: sale.payments for sale in sales if statuses is None or sale.status in statuses
    }
    expected = [
        (
            p.customer_id,
            p.email,
            p.order_number,
            p.occurred_at,
            p.counts,
            (RETURN if p.kind == "return" else 0) | (ECOM if p.channel == "ecom" else 0),
            p.value,
        )
        for p in merge_purchases(sales, orders, rules).purchases
    ]
    streamed = list(stream_purchases(map(_row, sales), orders, rules, originals, payments))
    assert streamed == expected
    # Written the same way too (a stored amount keeps its digits).
    assert [str(row[6]) for row in streamed] == [str(row[6]) for row in expected]


def test_timeline_windows_match_plain_sums() -> None:
    rng = random.Random(3)
    entries = [
        (
            START + timedelta(hours=rng.randrange(0, 24 * 60)),
            Decimal(rng.randrange(-2000, 9000)).scaleb(-2),
            rng.choice((0, RETURN, ECOM, RETURN | ECOM)),
        )
        for _ in range(200)
    ]
    timeline = Timeline(entries)
    for _ in range(50):
        a = START + timedelta(hours=rng.randrange(-48, 24 * 62))
        b = a + timedelta(hours=rng.randrange(0, 24 * 40))
        assert timeline.value_between(a, b) == sum(
            (v for at, v, _f in entries if a <= at <= b), Decimal(0)
        )
        low, high = timeline.purchases_between(a, b)
        assert high - low == sum(1 for at, _v, f in entries if a <= at <= b and not f & RETURN)


def _stored(row: tuple[object, ...]) -> tuple[object, ...]:
    """A sale's row as SQLite keeps it: moment and amounts as text."""
    at, price, tax, incl = row[8:12]
    assert isinstance(at, datetime)
    return (
        *row[:8],
        at.isoformat(timespec="microseconds"),
        str(price),
        str(tax),
        None if incl is None else str(incl),
    )


def _typed(row: Sequence[Any]) -> Sequence[Any]:
    at, price, tax, incl = row[8:12]
    return (
        *row[:8],
        datetime.fromisoformat(at),
        Decimal(price),
        Decimal(tax),
        None if incl is None else Decimal(incl),
    )


@pytest.mark.parametrize("seed", range(3))
@pytest.mark.parametrize("rules", RULES)
def test_sales_as_stored_give_the_typed_streams_rows(seed: int, rules: CountingRules) -> None:
    """Moments and amounts passed on as stored text: every row the same once parsed,
    through the sums (a missing total with tax) and the sales needing their payments."""
    sales, orders = _store(seed)
    originals = {sale.id: sale for sale in sales}
    payments = {sale.id: sale.payments for sale in sales}
    typed = list(stream_purchases(map(_row, sales), orders, rules, originals, payments))
    stored = list(
        stream_purchases(
            (_stored(_row(sale)) for sale in sales), orders, rules, originals, payments, _typed
        )
    )
    assert any(isinstance(row[3], str) for row in stored)
    parsed = [
        (
            *row[:3],
            datetime.fromisoformat(row[3]) if isinstance(row[3], str) else row[3],
            *row[4:6],
            Decimal(row[6]),
        )
        for row in stored
    ]
    assert parsed == typed
    assert [str(row[6]) for row in stored] == [str(row[6]) for row in typed]

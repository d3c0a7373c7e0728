"""The merge of X-Series sales and eCom orders: each purchase once, channel, counting."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal as D

import pytest

from greenloop.domain.purchases import CountingRules, OrderFact, SaleFact, merge_purchases
from greenloop.domain.reconcile import reconcile

T0 = datetime(2026, 1, 5, 20, 8, tzinfo=UTC)
ECW = "ecw:16E930E1F50F9000"


def sale(id: str, status: str = "CLOSED", total: str = "10", **kw: object) -> SaleFact:
    base: dict[str, object] = dict(
        id=id,
        customer_id="c1",
        status=status,
        source="USER",
        source_id=None,
        register_id="r1",
        note=None,
        return_for=None,
        sale_date=T0,
        created_at=T0,
        total_price=D(total),
        total_tax=D(0),
        total_price_incl=None,
        payments=(("Cash", D(total)),),
    )
    base.update(kw)
    return SaleFact(**base)  # type: ignore[arg-type]


def order(number: str, total: str = "10", status: str = "ACCEPTED", **kw: object) -> OrderFact:
    base: dict[str, object] = dict(
        order_number=number,
        email="a@example.com",
        placed_at=T0,
        payment_status_code=status,
        total=D(total),
    )
    base.update(kw)
    return OrderFact(**base)  # type: ignore[arg-type]


def test_twin_counts_once_from_xseries_and_unsynced_order_from_the_export() -> None:
    twin = sale(
        "s1",
        "AWAITING_PICKUP",
        source=ECW,
        source_id="1001",
        payments=(("Square (Online)", D(8)), ("Loyalty", D(2))),
    )
    result = merge_purchases([twin], [order("1001", "8"), order("1002", "5")])
    keys = {p.key: p for p in result.purchases}
    assert set(keys) == {"sale:s1", "order:1002"}
    assert keys["sale:s1"].counts  # paid in full while awaiting pickup
    assert keys["sale:s1"].channel == "ecom"
    assert keys["sale:s1"].order_number == "1001"
    assert keys["order:1002"].origin == "ecom_export"
    assert keys["order:1002"].value == D(5)
    assert result.matched == 1


def test_receipt_numbers_and_hints_never_join() -> None:
    # An in-store sale whose id the export's hint names is still not the order's twin.
    in_store = sale("s2")
    result = merge_purchases([in_store], [order("1001", xseries_order_id="s2")])
    assert {p.key for p in result.purchases} == {"sale:s2", "order:1001"}


def test_stale_hint_is_reported_and_source_id_wins() -> None:
    twin = sale("s3", source=ECW, source_id="1003")
    result = merge_purchases([twin], [order("1003", xseries_order_id="s-earlier")])
    assert result.stale_hints == [("1003", "s-earlier", "s3")]
    assert [p.key for p in result.purchases] == ["sale:s3"]


@pytest.mark.parametrize(
    ("status", "counts"),
    [
        ("CLOSED", True),
        ("LAYBY_CLOSED", True),
        ("ONACCOUNT_CLOSED", True),
        ("PICKED_UP_CLOSED", True),
        ("DISPATCHED_CLOSED", True),
        ("SAVED", False),
        ("VOIDED", False),
        ("LAYBY", False),
        ("ONACCOUNT", False),
    ],
)
def test_sale_statuses(status: str, counts: bool) -> None:
    assert merge_purchases([sale("s", status)], []).purchases[0].counts is counts


def test_unpaid_awaiting_sale_does_not_count() -> None:
    unpaid = sale("s", "AWAITING_DISPATCH", source=ECW, source_id="9", payments=())
    assert merge_purchases([unpaid], []).purchases[0].counts is False


@pytest.mark.parametrize(
    ("code", "counts", "flag"),
    [
        ("ACCEPTED", True, None),
        ("PARTIALLY_REFUNDED", True, "partially_refunded"),
        ("REFUNDED", False, None),
        ("CANCELLED", False, None),
        ("DECLINED", False, None),
        ("QUEUED", False, None),
        ("MYSTERY", False, "unknown_status"),
    ],
)
def test_export_status_decides_for_orders_and_twins(
    code: str, counts: bool, flag: str | None
) -> None:
    only = merge_purchases([], [order("7", status=code)]).purchases[0]
    assert only.counts is counts
    if flag:
        assert flag in only.flags
    twin = sale("s7", "PICKED_UP_CLOSED", source=ECW, source_id="7")
    merged = merge_purchases([twin], [order("7", status=code)]).purchases[0]
    assert merged.counts is counts  # refunds in eCom never reach X-Series


def test_a_return_takes_its_originals_channel_and_is_not_a_purchase() -> None:
    original = sale("s1", source=ECW, source_id="1001", note="Order ID:1001")
    ret = sale(
        "r1", total="-10", return_for="s1", note="Order ID:1001", payments=(("Cash", D(-10)),)
    )
    in_store_original = sale("s2")
    in_store_return = sale("r2", total="-3", return_for="s2", note="Order ID:55")
    result = {
        p.key: p
        for p in merge_purchases([original, ret, in_store_original, in_store_return], []).purchases
    }
    assert result["sale:r1"].kind == "return"
    assert result["sale:r1"].channel == "ecom"
    assert result["sale:r1"].value == D(-10)
    # The copied note must not make an in-store return look online.
    assert result["sale:r2"].channel == "instore"


def test_fallback_channel_rules() -> None:
    rules = CountingRules(online_register_ids=frozenset({"online"}))
    by_register = sale("a", register_id="online")
    by_note = sale("b", note="Order ID:77\n\nPickup time:")
    plain = sale("c")
    channels = {
        p.sale_id: p.channel
        for p in merge_purchases([by_register, by_note, plain], [], rules).purchases
    }
    assert channels == {"a": "ecom", "b": "ecom", "c": "instore"}


def test_zero_total_and_excluded_orders_follow_the_rules() -> None:
    rules = CountingRules(count_zero_total_orders=False, excluded_order_numbers=frozenset({"1"}))
    result = {
        p.order_number: p.counts
        for p in merge_purchases([], [order("1"), order("2", "0")], rules).purchases
    }
    assert result == {"1": False, "2": False}


def test_reconcile_classifies_and_measures() -> None:
    start = T0 - timedelta(days=30)
    synced = sale(
        "s1",
        "AWAITING_PICKUP",
        source=ECW,
        source_id="1",
        total_price_incl=D("34.725"),
        payments=(("Square (Online)", D("30.00")), ("Loyalty", D("4.73"))),
        created_at=T0 + timedelta(seconds=90),
    )
    mismatch = sale(
        "s2",
        total="50",
        source=ECW,
        source_id="2",
        payments=(("Square (Online)", D(50)),),
        sale_date=T0 + timedelta(hours=2),
        created_at=T0 + timedelta(hours=2),
    )
    x_only = sale("s3", source=ECW, source_id="3")
    report = reconcile(
        [synced, mismatch, x_only],
        [
            order("1", "30.00", xseries_order_id="s0"),
            order("2", "10"),
            order("4", "12", placed_at=start - timedelta(days=1)),
            order("5", "0"),
            order("6", "9", status="CANCELLED", payment_method="Pay by cash"),
            order("7", "9"),
        ],
        now=T0 + timedelta(days=1),
        integration_start=start,
    )
    assert report.matched == 2
    assert {r["order_number"]: r["reason"] for r in report.csv_only} == {
        "4": "before_integration",
        "5": "zero_total",
        "6": "test_order",
        "7": "not_yet_synced",
    }
    assert [r["sale_id"] for r in report.xseries_only] == ["s3"]
    assert report.stale_hints[0]["hint"] == "s0"
    assert [r["order_number"] for r in report.amount_mismatches] == ["2"]
    assert [r["order_number"] for r in report.time_mismatches] == ["2"]
    assert report.lag_seconds["max"] == 90

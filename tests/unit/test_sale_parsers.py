"""The fast and the checked sale parsers give the same sale for every input both accept.

The sync parses nearly every sale on the fast path; a field it read differently from the
checked parser would change stored totals only for well-formed sales, which no other
test would notice.
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from greenloop.errors import BadResponse
from greenloop.lightspeed.models.sale_fast_path import Unusual, fast_sale
from greenloop.lightspeed.models.sale_parsing import checked_sale, parse_sale

money = st.one_of(
    st.none(),
    st.integers(min_value=-(10**6), max_value=10**6),
    st.decimals(min_value=-(10**6), max_value=10**6, places=5, allow_nan=False),
    # The lenient forms only the checked parser takes.
    st.sampled_from(["12.50", "", "0", "-3.333"]),
)
text = st.one_of(st.none(), st.just(""), st.text(max_size=12), st.integers(0, 99))
moment = st.one_of(
    st.none(),
    st.datetimes(
        min_value=datetime(2000, 1, 1), max_value=datetime(2030, 1, 1), timezones=st.just(UTC)
    ).map(lambda d: d.isoformat()),
    st.sampled_from(["2024-03-01T10:00:00Z", "2024-03-01 10:00:00", "2024-03-01T10:00:00-05:00"]),
)


def _maybe(d: dict[str, Any], draw: Any, key: str, values: Any) -> None:
    if draw(st.booleans()):
        d[key] = draw(values)


@st.composite
def line_items(draw: Any) -> dict[str, Any]:
    item: dict[str, Any] = {}
    for key in ("quantity", "price", "price_total", "tax_total", "discount_total"):
        _maybe(item, draw, key, money)
    for key in ("loyalty_value", "cost_total"):
        _maybe(item, draw, key, money)
    for key in ("id", "product_id", "status", "note"):
        _maybe(item, draw, key, text)
    _maybe(item, draw, "is_return", st.one_of(st.booleans(), st.sampled_from([0, 1, "true"])))
    return item


@st.composite
def payments(draw: Any) -> dict[str, Any]:
    payment: dict[str, Any] = {}
    for key in ("id", "name", "retailer_payment_type_id", "payment_type_id"):
        _maybe(payment, draw, key, text)
    _maybe(payment, draw, "amount", money)
    _maybe(payment, draw, "payment_date", moment)
    return payment


@st.composite
def sales(draw: Any) -> dict[str, Any]:
    sale: dict[str, Any] = {
        "id": draw(st.sampled_from(["s-1", "0a1b2c3d-0000-4000-8000-000000000001"])),
        "status": draw(st.sampled_from(["CLOSED", "VOIDED", "ONACCOUNT_CLOSED", "SAVED"])),
        "version": draw(st.one_of(st.integers(0, 2**40), st.just("17"))),
    }
    for key in (
        "outlet_id",
        "register_id",
        "user_id",
        "customer_id",
        "invoice_number",
        "receipt_number",
        "source",
        "source_id",
        "note",
        "short_code",
        "return_for",
    ):
        _maybe(sale, draw, key, text)
    for key in ("total_price", "total_tax", "total_loyalty", "total_price_incl"):
        _maybe(sale, draw, key, money)
    for key in ("sale_date", "created_at", "updated_at", "deleted_at"):
        _maybe(sale, draw, key, moment)
    _maybe(sale, draw, "invoice_sequence", st.one_of(st.none(), st.integers(0, 10**6)))
    _maybe(sale, draw, "attributes", st.lists(st.sampled_from(["service", "layby"]), max_size=2))
    sale["line_items"] = draw(st.lists(line_items(), max_size=3))
    sale["payments"] = draw(st.lists(payments(), max_size=2))
    return sale


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(sales())
def test_fast_and_checked_parsers_agree(obj: dict[str, Any]) -> None:
    try:
        checked = checked_sale(obj)
    except BadResponse:
        checked = None
    try:
        fast = fast_sale(obj)
    except (Unusual, ValueError, TypeError, AttributeError):
        fast = None
    if fast is not None:
        assert checked is not None, "the fast path accepted a sale the checked one refuses"
        assert fast == checked
    if checked is not None:
        assert parse_sale(obj) == checked


WELL_FORMED: dict[str, Any] = {
    "id": "s-1",
    "status": "CLOSED",
    "version": 7,
    "customer_id": "c-1",
    "source": "ecw:web",
    "source_id": "900071",
    "total_price": Decimal("30.434783"),
    "total_tax": Decimal("4.565217"),
    "total_loyalty": 0,
    "sale_date": "2024-03-01T10:00:00+00:00",
    "line_items": [
        {"id": "li-1", "quantity": 2, "price": Decimal("15.217391"), "tax_total": 0},
        {"quantity": Decimal(1), "price": Decimal("34.725"), "is_return": True},
    ],
    "payments": [{"amount": Decimal(35), "name": "Cash"}],
}


@pytest.mark.parametrize(
    "change",
    [
        {},
        {"customer_id": ""},
        {"customer_id": None},
        {"total_price_incl": Decimal("35.000000")},
        {"sale_date": "2024-03-01T10:00:00Z"},
        {"sale_date": "2024-03-01 10:00:00"},
        {"total_price": "30.434783"},
        {"version": "7"},
        {"invoice_sequence": 12},
        {"attributes": ["layby"]},
        {"line_items": []},
        {"payments": None},
    ],
    ids=repr,
)
def test_hand_written_edge_cases_agree(change: dict[str, Any]) -> None:
    obj = {**WELL_FORMED, **change}
    checked = checked_sale(obj)
    assert parse_sale(obj) == checked
    try:
        fast = fast_sale(obj)
    except (Unusual, ValueError):
        return
    assert fast == checked


def test_the_fast_path_takes_a_well_formed_sale() -> None:
    """The agreement above would hold vacuously if the fast path refused everything."""
    sale = fast_sale(WELL_FORMED)
    assert sale.total_price == Decimal("30.434783")
    assert sale.line_items[1].price_total == Decimal("34.725")
    assert sale.line_items[0].id == "li-1"
    assert sale.line_items[1].id == "s-1:1"

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest

from greenloop.errors import BadResponse
from greenloop.lightspeed.models import parse_api_time, parse_customer, parse_sale


def _sale(**extra: object) -> dict[str, object]:
    base: dict[str, object] = {
        "id": "s1",
        "status": "CLOSED",
        "total_price": Decimal("30"),
        "total_tax": 4,
        "total_price_incl": Decimal("34.725"),
        "sale_date": "2024-06-21T17:59:32+00:00",
        "version": 77,
        "line_items": [{"id": "l1", "quantity": 2, "price": Decimal("15"), "tax_total": 4}],
        "payments": [{"id": "p1", "name": "Loyalty", "amount": Decimal("5.5")}],
    }
    base.update(extra)
    return base


def test_sale_money_is_decimal_and_children_parse() -> None:
    sale = parse_sale(_sale())
    assert sale.total_price_incl == Decimal("34.725")
    assert sale.total_tax == Decimal(4)
    assert sale.customer_id is None  # walk-in: key absent
    assert sale.line_items[0].price_total == Decimal(30)  # derived when absent
    assert sale.payments[0].amount == Decimal("5.5")
    assert sale.sale_date == datetime(2024, 6, 21, 17, 59, 32, tzinfo=UTC)


@pytest.mark.parametrize("value", [None, ""])
def test_absent_null_and_empty_customer_id_all_mean_none(value: object) -> None:
    assert parse_sale(_sale(customer_id=value)).customer_id is None


def test_a_broken_field_names_the_object_and_field() -> None:
    with pytest.raises(BadResponse, match="sale s1: field 'total_price'"):
        parse_sale(_sale(total_price="abc"))
    with pytest.raises(BadResponse, match="field 'version'"):
        parse_sale(_sale(version=None))


def test_api_times_old_and_new_shapes_are_utc() -> None:
    assert parse_api_time("2017-12-06 04:53:17") == datetime(2017, 12, 6, 4, 53, 17, tzinfo=UTC)
    assert parse_api_time("2017-12-06T10:53:17+06:00") == datetime(
        2017, 12, 6, 4, 53, 17, tzinfo=UTC
    )


def test_customer_numbers_as_strings_still_parse() -> None:
    customer = parse_customer(
        {"id": "c1", "version": "12", "loyalty_balance": "8.60337", "enable_loyalty": "true"}
    )
    assert customer.version == 12
    assert customer.loyalty_balance == Decimal("8.60337")
    assert customer.enable_loyalty is True

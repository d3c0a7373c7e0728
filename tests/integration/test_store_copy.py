"""PostgreSQL's ``COPY`` path of the sync's upserts against its ``executemany`` path: the
same rows in the end, the same counts, and the version guard held exactly."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import Engine, select

from greenloop.lightspeed.models import parse_customer, parse_sale
from greenloop.store import bulk, repo
from greenloop.store import tables as t
from tests.integration.test_store import NOW

TABLES = (t.sales, t.sale_line_items, t.sale_payments, t.customers, t.sync_cursors)


def _sale(n: int, version: int, *, items: int = 2, cents: int = 1000) -> Any:
    price = Decimal(cents + n).scaleb(-2)
    return parse_sale(
        {
            "id": f"sale-{n:04d}",
            "customer_id": f"cust-{n % 7}",
            "status": "CLOSED" if version % 3 else "VOIDED",
            "total_price": price,
            "total_tax": Decimal("0.000001") * n,
            "total_price_incl": price + Decimal("1.05"),
            "sale_date": f"2024-06-{1 + n % 28:02d}T17:59:32.{n:06d}+00:00",
            "attributes": ["pickup", f"v{version}"] if n % 2 else [],
            "note": None if n % 5 else f"note «{n}»\ttab\\slash",
            "version": version,
            "line_items": [
                {
                    "id": f"li-{n}-{i}",
                    "product_id": f"p-{i}",
                    "quantity": i + 1,
                    "price": Decimal("15.00001"),
                    "tax_total": Decimal(version),
                    "is_return": i == 1,
                }
                for i in range(items)
            ],
            "payments": [{"id": f"pay-{n}", "name": "Card", "amount": price}],
        }
    )


def _customer(n: int, version: int) -> Any:
    return parse_customer(
        {
            "id": f"cust-{n:04d}",
            "first_name": f"Name{n}-v{version}",
            "email": None if n % 4 == 0 else f"c{n}@example.com",
            "loyalty_balance": Decimal("12.345") + n,
            "enable_loyalty": n % 2 == 0,
            "updated_at": f"2025-01-0{1 + n % 9}T00:00:00+00:00",
            "version": version,
        }
    )


def _pages() -> list[tuple[str, list[Any]]]:
    """New rows; then newer, older, equal and repeated versions of them mixed with new."""
    first_sales = [_sale(n, 100 + n) for n in range(150)]
    twice = [
        pair if n % 2 else pair[::-1]
        for n in range(150, 160)  # twice in one page, in either order: the newer wins
        for pair in [[_sale(n, 900, items=2, cents=1), _sale(n, 901, items=1, cents=2)]]
    ]
    second_sales = (
        [_sale(n, 400 + n, items=1, cents=5000) for n in range(0, 50)]  # newer
        + [_sale(n, 10 + n, items=3, cents=9) for n in range(50, 90)]  # older: kept off
        + [_sale(n, 100 + n, items=4, cents=7) for n in range(90, 120)]  # equal: kept off
        + [sale for pair in twice for sale in pair]
    )
    customers_1 = [_customer(n, 50 + n) for n in range(120)]
    customers_2 = (
        [_customer(n, 500 + n) for n in range(0, 40)]
        + [_customer(n, 1) for n in range(40, 80)]
        + [_customer(n, 50 + n) for n in range(80, 100)]
        + [_customer(n, 7) for n in range(120, 200)]
    )
    return [
        ("sales", first_sales),
        ("customers", customers_1),
        ("sales", second_sales),
        ("customers", customers_2),
        ("sales", [_sale(n, 2000 + n) for n in range(3)]),  # a small batch: executemany
    ]


def _dump(engine: Engine) -> dict[str, list[tuple[Any, ...]]]:
    with engine.connect() as conn:
        return {
            table.name: [
                tuple(row)
                for row in conn.execute(select(table).order_by(*table.primary_key.columns))
            ]
            for table in TABLES
        }


def _run(engine: Engine) -> tuple[list[tuple[int, int, int]], dict[str, list[tuple[Any, ...]]]]:
    counts = []
    for kind, objects in _pages():
        with engine.begin() as conn:
            if kind == "sales":
                c = repo.upsert_sales(conn, objects)
            else:
                c = repo.upsert_versioned(conn, t.customers, objects)
        counts.append((c.new, c.updated, c.unchanged))
    # A key given twice in one batch, straight to the bulk upsert, guarded and not.
    stamps = [NOW.replace(microsecond=m) for m in range(6)]
    guarded = [("sales", 5, stamps[0]), ("sales", 7, stamps[1]), ("sales", 7, stamps[2])]
    guarded += [("sales", 6, stamps[3]), ("customers", 3, stamps[4])]
    plain = [("users", 9, stamps[5]), ("users", 2, stamps[0]), ("users", 4, stamps[1])]
    columns = ("resource", "version", "updated_at")
    with engine.begin() as conn:
        bulk.bulk_upsert(conn, t.sync_cursors, columns, guarded * 20)
        bulk.bulk_upsert(conn, t.sync_cursors, columns, plain * 30, version_guard=False)
    return counts, _dump(engine)


def _clear(engine: Engine) -> None:
    with engine.begin() as conn:
        for table in reversed(TABLES):
            conn.execute(table.delete())


def test_copy_and_executemany_store_the_same_rows(
    engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    if engine.dialect.name != "postgresql":
        pytest.skip("COPY is PostgreSQL's")
    runs: dict[str, tuple[list[tuple[int, int, int]], dict[str, list[tuple[Any, ...]]]]] = {}
    copied: dict[str, int] = {}
    for path, least in (("executemany", 10**9), ("copy", 64)):
        monkeypatch.setattr(bulk, "COPY_MIN_ROWS", least)
        before: Callable[[], int] = lambda: sum(bulk.copy_counts().values())  # noqa: E731
        start = before()
        runs[path] = _run(engine)
        copied[path] = before() - start
        _clear(engine)
    assert copied["executemany"] == 0
    assert copied["copy"] > 0
    counts, rows = runs["copy"]
    assert counts == runs["executemany"][0]
    assert counts[2] == (10, 50, 70 + 10)
    assert rows == runs["executemany"][1]
    # The guard, read back: newer replaced (children too), older and equal kept.
    sales = {r[0]: r for r in rows["sales"]}
    version = [c.name for c in t.sales.columns].index("version")
    assert sales["sale-0010"][version] == 410
    assert sales["sale-0060"][version] == 160
    assert sales["sale-0100"][version] == 200
    assert all(sales[f"sale-{n:04d}"][version] == 901 for n in range(150, 160))
    items = [r for r in rows["sale_line_items"] if r[0] == "sale-0010"]
    assert len(items) == 1
    assert len([r for r in rows["sale_line_items"] if r[0] == "sale-0060"]) == 2
    assert {r[0]: (r[1], r[2]) for r in rows["sync_cursors"]} == {
        "sales": (7, NOW.replace(microsecond=1)),
        "customers": (3, NOW.replace(microsecond=4)),
        "users": (4, NOW.replace(microsecond=1)),
    }

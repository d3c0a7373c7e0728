"""The store on real SQLite and real PostgreSQL: precision, time, version guard, cursors."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from sqlalchemy import Engine, func, select

from greenloop.lightspeed.models import parse_customer, parse_sale
from greenloop.store import repo
from greenloop.store import tables as t

NOW = datetime(2026, 1, 2, 3, 4, 5, 678901, tzinfo=UTC)


def _sale(
    version: int, *, items: int = 2, total: str = "34.725", **extra: object
) -> dict[str, object]:
    return {
        "id": "sale-1",
        "status": "CLOSED",
        "total_price": Decimal("30"),
        "total_tax": Decimal("4.725"),
        "total_price_incl": Decimal(total),
        "sale_date": "2024-06-21T17:59:32+00:00",
        "attributes": ["pickup"],
        "version": version,
        "line_items": [
            {"id": f"li-{i}", "quantity": 1, "price": Decimal("15.00001"), "tax_total": 2}
            for i in range(items)
        ],
        "payments": [{"id": "p-1", "name": "Square (Online)", "amount": Decimal("34.72")}],
        **extra,
    }


def test_money_keeps_precision_and_times_stay_utc(engine: Engine) -> None:
    with engine.begin() as conn:
        repo.upsert_sales(conn, [parse_sale(_sale(5))])
    with engine.connect() as conn:
        row = conn.execute(select(t.sales)).one()
        item = conn.execute(
            select(t.sale_line_items).order_by(t.sale_line_items.c.sequence)
        ).first()
    assert isinstance(row.total_price_incl, Decimal)
    assert str(row.total_price_incl) == "34.725"
    assert item is not None
    assert str(item.price) == "15.00001"
    assert row.sale_date == datetime(2024, 6, 21, 17, 59, 32, tzinfo=UTC)
    assert row.sale_date.utcoffset() == timedelta(0)
    assert row.attributes == ["pickup"]


def test_older_version_never_overwrites_newer_and_reapply_is_noop(engine: Engine) -> None:
    with engine.begin() as conn:
        assert repo.upsert_sales(conn, [parse_sale(_sale(10, items=3, total="40"))]).new == 1
    with engine.begin() as conn:
        counts = repo.upsert_sales(conn, [parse_sale(_sale(7, items=1, total="1"))])
    assert (counts.new, counts.updated, counts.unchanged) == (0, 0, 1)
    with engine.begin() as conn:
        assert repo.upsert_sales(conn, [parse_sale(_sale(10, items=3, total="40"))]).unchanged == 1
    with engine.connect() as conn:
        assert conn.execute(select(t.sales.c.total_price_incl)).scalar_one() == Decimal(40)
        assert conn.execute(select(func.count()).select_from(t.sale_line_items)).scalar_one() == 3


def test_newer_version_replaces_children(engine: Engine) -> None:
    with engine.begin() as conn:
        repo.upsert_sales(conn, [parse_sale(_sale(10, items=3))])
    with engine.begin() as conn:
        counts = repo.upsert_sales(conn, [parse_sale(_sale(11, items=1, status="VOIDED"))])
    assert counts.updated == 1
    with engine.connect() as conn:
        assert conn.execute(select(t.sales.c.status)).scalar_one() == "VOIDED"
        assert conn.execute(select(func.count()).select_from(t.sale_line_items)).scalar_one() == 1


def test_same_id_twice_in_one_page_keeps_the_newest(engine: Engine) -> None:
    with engine.begin() as conn:
        counts = repo.upsert_sales(
            conn, [parse_sale(_sale(3)), parse_sale(_sale(4, status="VOIDED"))]
        )
    assert (counts.new, counts.unchanged) == (1, 1)
    with engine.connect() as conn:
        assert conn.execute(select(t.sales.c.version)).scalar_one() == 4


def test_deleted_customer_keeps_its_row(engine: Engine) -> None:
    live = parse_customer({"id": "c1", "first_name": "Ann", "email": "a@example.com", "version": 5})
    gone = replace(live, deleted_at=NOW, version=6)
    with engine.begin() as conn:
        repo.upsert_versioned(conn, t.customers, [live])
        repo.upsert_versioned(conn, t.customers, [gone])
    with engine.connect() as conn:
        row = conn.execute(select(t.customers)).one()
    assert row.deleted_at == NOW.replace(microsecond=NOW.microsecond)
    assert row.first_name == "Ann"
    assert row.version == 6


def test_cursor_roundtrip_and_large_versions(engine: Engine) -> None:
    big = 3_505_346_597  # the spec's example customer version exceeds 32 bits
    with engine.begin() as conn:
        assert repo.get_cursor(conn, "customers") == 0
        repo.set_cursor(conn, "customers", big, NOW)
        repo.set_cursor(conn, "sales", 12, NOW)
    with engine.connect() as conn:
        assert repo.get_cursors(conn) == {"customers": big, "sales": 12}


def test_a_failed_transaction_leaves_nothing(engine: Engine) -> None:
    try:
        with engine.begin() as conn:
            repo.upsert_sales(conn, [parse_sale(_sale(5))])
            repo.set_cursor(conn, "sales", 5, NOW)
            raise RuntimeError("crash mid-page")
    except RuntimeError:
        pass
    with engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(t.sales)).scalar_one() == 0
        assert repo.get_cursor(conn, "sales") == 0

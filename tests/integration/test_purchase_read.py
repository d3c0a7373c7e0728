"""Reading every sale for a full analysis: rows as stored, entries as typed."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

from sqlalchemy import Engine, insert

from greenloop.analytics.purchase_rows import group_rows, parse_entries, read_purchase_rows
from greenloop.domain.purchases import CountingRules, stream_purchases
from greenloop.store import tables as t
from greenloop.store.purchase_facts import (
    load_payments,
    load_return_originals,
    stream_sale_rows,
)

START = datetime(2026, 3, 1, 9, 30, tzinfo=UTC)


def _sale(n: int, **changes: object) -> dict[str, object]:
    sale: dict[str, object] = {
        "id": f"s{n:03d}",
        "customer_id": f"c{n % 4}",
        "status": "CLOSED",
        "total_price": Decimal("34.725"),
        "total_tax": Decimal("2.5"),
        "total_loyalty": Decimal(0),
        "total_price_incl": Decimal("37.225"),
        "sale_date": START + timedelta(hours=n, microseconds=n),
        "created_at": START,
        "version": n,
        "attributes": {},
    }
    sale.update(changes)
    return sale


def test_the_stored_rows_give_the_typed_rows_entries(engine: Engine) -> None:
    """A missing total with tax, a sale awaiting pickup (its payments read) and a
    moment stored in another form (SQLite) come out as the typed path gives them."""
    sales = [_sale(n) for n in range(12)]
    sales[3]["total_price_incl"] = None
    sales[5]["status"] = "AWAITING_PICKUP"
    sales[6]["sale_date"] = None
    with engine.begin() as conn:
        conn.execute(insert(t.sales), sales)
        conn.execute(
            insert(t.sale_payments),
            [
                {
                    "sale_id": "s005",
                    "id": "p5",
                    "sequence": 0,
                    "name": "Card",
                    "amount": Decimal("37.225"),
                    "payment_date": START,
                }
            ],
        )
        if engine.dialect.name == "sqlite":
            # Written by another tool: no offset, a space for the T.
            conn.exec_driver_sql(
                "UPDATE sales SET sale_date = '2026-03-02 10:00:00' WHERE id = 's007'"
            )
    rules = CountingRules()
    with engine.connect() as conn:
        grouped = group_rows(read_purchase_rows(conn, [], rules))
        rows, typed = stream_sale_rows(conn)
        typed_rows = group_rows(
            stream_purchases(
                rows if typed is None else map(typed, rows),
                [],
                rules,
                load_return_originals(conn),
                load_payments(conn, None),
            )
        )
    assert grouped.rows == typed_rows.rows == {"c0": 3, "c1": 3, "c2": 3, "c3": 3}
    assert grouped.entries.keys() == typed_rows.entries.keys()
    for customer, entries in grouped.entries.items():
        parsed = parse_entries(entries)
        assert parsed == parse_entries(typed_rows.entries[customer])
        assert all(at.tzinfo is UTC for at, _value, _flags in parsed)
    values = {value for entries in grouped.entries.values() for _at, value, _flags in entries}
    assert values == {"37.225"}  # 34.725 + 2.5 where the total was missing
    moments = sorted(at for e in grouped.entries.values() for at, _v, _f in parse_entries(e))
    assert len(moments) == 12
    if engine.dialect.name == "sqlite":
        assert datetime(2026, 3, 2, 10, tzinfo=UTC) in moments

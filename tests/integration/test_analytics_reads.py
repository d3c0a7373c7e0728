"""A full analysis reads some things whole straight from the driver on SQLite (every
person's state, every eCom twin): the same values as the typed, scoped queries give."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

from sqlalchemy import Engine, insert, true

from greenloop.analytics.facts import Facts, _twins
from greenloop.services import analysis, ingest
from greenloop.store import analytics_repo as repo
from greenloop.store import tables as t
from greenloop.store.purchase_facts import load_order_facts
from tests.simulation import ANCHOR, running_simulator, settings_for, small_store

STORE = small_store(seed=5, customers=80, days=200)


def test_every_persons_state_and_member_read_at_once_equal_the_typed_read(
    engine: Engine, db_url: str
) -> None:
    with running_simulator(STORE) as sim:
        settings = settings_for(sim.url, db_url)
        ingest.run_sync(settings)
    analysis.analyze(settings, now=ANCHOR)
    with engine.connect() as conn:
        states = repo.load_person_states(conn)
        members = repo.load_member_persons(conn)
        # Named ids take the typed query's path.
        assert states == repo.load_person_states(conn, list(states))
        assert members == repo.load_member_persons(conn, sorted(set(members.values())))
    assert len(states) > 20
    assert len(members) >= len(states)
    moments = [m for s in states.values() for m in (s.tier_since, s.review_at) if m is not None]
    assert moments
    assert all(m.tzinfo is UTC for m in moments)
    assert all(s.row_hash for s in states.values())


def test_every_orders_twin_read_at_once_equals_the_scoped_read(engine: Engine) -> None:
    """The whole store's eCom twins (SQLite: one join that starts from the orders) are
    those the scoped query finds: not a return, not another source, not without a
    customer, any case of ``ecw:``. Every order read at once is the typed query's."""
    when = datetime(2026, 5, 1, tzinfo=UTC)
    sales = [
        ("s1", "1001", "ecw:shop", "c1", None),
        ("s2", "1002", "ECW:Shop", "c2", None),
        ("s3", "1003", "ecw:shop", None, None),  # no customer
        ("s4", "1001", "ecw:shop", "c4", "s1"),  # a return
        ("s5", "1004", "USER", "c5", None),  # not an eCom sale
        ("s6", "1002", "ecw:shop", "c6", None),  # a second sale with one number
    ]
    orders = ["1001", "1002", "1003", "1004", "1005"]
    with engine.begin() as conn:
        conn.execute(
            insert(t.sales),
            [
                {
                    "id": sid,
                    "source_id": number,
                    "source": source,
                    "customer_id": customer,
                    "return_for": return_for,
                    "status": "CLOSED",
                    "total_price": Decimal(10),
                    "total_tax": Decimal(0),
                    "total_loyalty": Decimal(0),
                    "sale_date": when,
                    "version": n,
                    "attributes": {},
                }
                for n, (sid, number, source, customer, return_for) in enumerate(sales)
            ],
        )
        conn.execute(
            insert(t.ecom_orders),
            [
                {
                    "order_number": number,
                    "email": f"buyer{number}@example.com",
                    "placed_at": when,
                    "placed_local": "2026-05-01 00:00:00",
                    "payment_status_code": "PAID",
                    "total": Decimal(10),
                    "snapshot_at": when,
                    "content_hash": number,
                    "source_file": "orders.csv",
                    "source_line": n + 2,
                    "first_imported_at": when,
                    "imported_at": when,
                }
                for n, number in enumerate(orders)
            ],
        )
    whole, scoped = Facts(), Facts()
    with engine.connect() as conn:
        _twins(conn, whole)
        _twins(conn, scoped, orders)
        every_order = list(load_order_facts(conn))
        assert every_order == list(load_order_facts(conn, where=true()))
    assert [o.order_number for o in every_order] == orders
    assert all(o.placed_at.tzinfo is UTC and o.tax == 0 for o in every_order)
    assert whole.order_twins == scoped.order_twins
    assert whole.order_twins == {
        "buyer1001@example.com": {"c1"},
        "buyer1002@example.com": {"c2", "c6"},
    }

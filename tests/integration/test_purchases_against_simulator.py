"""Each real purchase counted once, whichever arrives first: the X-Series sync or the
eCom export (and an export imported twice, or an older export after a newer one)."""

from __future__ import annotations

import copy
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine

from greenloop.services import ingest
from greenloop.simulator.ecom_export import write_ecom_export
from greenloop.simulator.model import StoreData
from tests.simulation import running_simulator, settings_for, small_store

CLOSED = {
    "CLOSED",
    "LAYBY_CLOSED",
    "ONACCOUNT_CLOSED",
    "DISPATCHED_CLOSED",
    "PICKED_UP_CLOSED",
    "SERVICE_CLOSED",
}
COUNTED_PAYMENT = {"ACCEPTED", "PARTIALLY_REFUNDED"}


def expected_purchases(store: StoreData) -> tuple[int, Decimal]:
    """Distinct real purchases the generator made, and their value, from its own data."""
    orders = {o["order_number"]: o for o in store.ecom_orders}
    twins = {
        s["source_id"]: s
        for s in store.sales
        if str(s.get("source", "")).startswith("ecw:") and not s.get("return_for")
    }
    count, total = 0, Decimal(0)
    for sale in store.sales:
        if sale.get("return_for"):
            continue
        order = orders.get(sale.get("source_id", "")) if sale.get("source_id") in twins else None
        if order is not None and order["payment_status_code"] not in COUNTED_PAYMENT:
            continue
        incl = sale.get("total_price_incl")
        value = incl if incl is not None else sale["total_price"] + sale["total_tax"]
        paid = sum((p["amount"] for p in sale.get("payments", [])), Decimal(0))
        awaiting_paid = sale["status"] in ("AWAITING_PICKUP", "AWAITING_DISPATCH") and (
            paid + Decimal("0.01") >= value
        )
        if sale["status"] in CLOSED or awaiting_paid:
            count += 1
            total += value
    for number, order in orders.items():
        if number not in twins and order["payment_status_code"] in COUNTED_PAYMENT:
            count += 1
            total += order["total"]
    return count, total


def counted(settings: Any) -> tuple[int, Decimal, int]:
    result = ingest.list_purchases(settings)
    purchases = [p for p in result.purchases if p.kind == "purchase" and p.counts]
    keys = {p.key for p in purchases}
    assert len(keys) == len(purchases)
    return len(purchases), sum((p.value for p in purchases), Decimal(0)), result.matched


def _export(store: StoreData, path: Path, orders: list[dict[str, Any]] | None = None) -> Path:
    with path.open("w", encoding="utf-8", newline="") as out:
        write_ecom_export(store.ecom_orders if orders is None else orders, out)
    return path


@pytest.mark.parametrize("arrival", ["csv_first", "sync_first", "csv_twice", "older_after_newer"])
def test_each_purchase_once_whatever_arrives_first(
    engine: Engine, db_url: str, tmp_path: Path, arrival: str
) -> None:
    store = small_store(seed=11, customers=150, days=200)
    assert store.ecom_orders, "the generated store needs online orders"
    want_count, want_total = expected_purchases(store)
    newer = _export(store, tmp_path / "newer.csv")
    # An older export: the newest orders missing and refunds not yet made.
    older_orders = copy.deepcopy(sorted(store.ecom_orders, key=lambda o: o["created_at"])[:-5])
    for o in older_orders:
        if o["payment_status_code"] in ("REFUNDED", "PARTIALLY_REFUNDED"):
            o["payment_status_code"] = "ACCEPTED"
    older = _export(store, tmp_path / "older.csv", older_orders)

    with running_simulator(store) as sim:
        settings = settings_for(sim.url, db_url)
        sync = lambda: ingest.run_sync(settings)  # noqa: E731
        imp = lambda path: ingest.import_ecom(settings, [path])  # noqa: E731
        if arrival == "csv_first":
            imp(newer)
            sync()
        elif arrival == "sync_first":
            sync()
            imp(newer)
        elif arrival == "csv_twice":
            imp(newer)
            sync()
            second = imp(newer).to_json()
            assert (second["orders_new"], second["orders_updated"]) == (0, 0)
        else:
            sync()
            imp(newer)
            imp(older)  # must not undo the refunds the newer export knows about
        count, total, matched = counted(settings)

    assert count == want_count
    assert total == want_total
    synced = sum(
        1
        for o in store.ecom_orders
        if o["sync_state"] not in ("lagging", "pre_integration", "zero_gift_card", "test_order")
    )
    assert matched == synced


def test_a_lagging_order_is_counted_once_before_and_after_its_twin_arrives(
    engine: Engine, db_url: str, tmp_path: Path
) -> None:
    store = small_store(seed=11, customers=150, days=200)
    pending = store.truth.get("pending_twins", [])
    assert pending, "the generator should leave some orders unsynced"
    export = _export(store, tmp_path / "export.csv")
    with running_simulator(store) as sim:
        settings = settings_for(sim.url, db_url)
        ingest.run_sync(settings)
        ingest.import_ecom(settings, [export])
        before, _, matched_before = counted(settings)
        for twin in pending:
            sim.control("POST", "sales", twin)
        ingest.run_sync(settings)
        after, _, matched_after = counted(settings)
    assert after == before
    assert matched_after == matched_before + len(pending)

"""The simulator's live change stream: seeded, every kind of change, one version per
object written (as the API bumps it), and objects the real client syncs exactly."""

from __future__ import annotations

from collections import Counter
from decimal import Decimal
from typing import Any

from sqlalchemy import Engine

from greenloop.services import ingest
from greenloop.simulator.app import create_context
from greenloop.simulator.clock import Clock
from greenloop.simulator.config import SimulatorConfig
from greenloop.simulator.context import SimContext
from greenloop.simulator.live import ACTIONS, LiveStream
from greenloop.simulator.state import SimState
from tests.simulation import (
    TOKEN,
    assert_database_matches,
    running_simulator,
    settings_for,
    small_store,
)

STORE = small_store(seed=11, customers=80, days=150)


def _context() -> SimContext:
    frozen = Clock(source=lambda: 1_793_000_000.0)
    return create_context(SimState(STORE), SimulatorConfig(token=TOKEN), clock=frozen)


def test_the_stream_is_seeded_and_makes_every_kind_of_change() -> None:
    first, second, other = _context(), _context(), _context()
    made = [str(c) for c in LiveStream(first, seed=4).run(400)]
    assert made == [str(c) for c in LiveStream(second, seed=4).run(400)]
    assert first.state.dump() == second.state.dump()
    assert made != [str(c) for c in LiveStream(other, seed=5).run(400)]
    actions = Counter(c.action for c in LiveStream(other, seed=6).run(400))
    assert set(actions) == set(ACTIONS)
    assert actions.most_common(1)[0][0] == "instore_sale"


def test_known_customers_who_buy_are_those_the_truth_says_buy_next() -> None:
    future = STORE.truth["lifecycle"]["persons"]
    buyers = {
        i for entry in future.values() if entry["purchases_90d"] for i in entry["customer_ids"]
    }
    sleepers = {
        i for entry in future.values() if not entry["purchases_365d"] for i in entry["customer_ids"]
    }
    assert buyers  # the store has both, so the test can tell them apart
    assert sleepers
    only_sales = {action: 1.0 if action == "instore_sale" else 0.0 for action in ACTIONS}
    changes = LiveStream(_context(), seed=3, weights=only_sales).run(200)
    chosen = [c.customer_id for c in changes if c.customer_id]
    assert len(chosen) > 150
    assert not set(chosen) & sleepers  # nobody the truth says stopped buying comes in
    assert sum(c in buyers for c in chosen) > 0.8 * len(chosen)  # mostly the next 90 days'


def test_every_object_written_takes_the_next_version() -> None:
    ctx = _context()
    state = ctx.state
    written: list[tuple[str, int]] = []
    state.add_listener(lambda kind, obj: written.append((kind, obj.get("version", 0))))
    stream = LiveStream(ctx, seed=9)
    for _ in range(200):
        before = state.version
        written.clear()
        change = stream.step()
        # One version per object written, in order, none skipped: a sale also bumps its
        # register (the invoice counter); a new customer is written before their sale.
        assert [v for _, v in written] == list(range(before + 1, state.version + 1)), change
        kinds = {k for k, _ in written}
        if change.sale_id:
            assert state.version_of("sales", change.sale_id) in {v for _, v in written}
        if change.action == "customer_edit":
            assert kinds == {"customers"}
        if change.action in ("instore_sale", "new_customer_sale", "return", "layby_opened"):
            assert kinds >= {"sales", "registers"}


def _due(sale: dict[str, Any]) -> Decimal:
    return (Decimal(sale["total_price"]) + Decimal(sale["total_tax"])).quantize(Decimal("0.01"))


def test_the_changes_sync_exactly_and_look_like_the_real_thing(engine: Engine, db_url: str) -> None:
    with running_simulator(STORE) as sim:
        settings = settings_for(sim.url, db_url)
        ingest.run_sync(settings)
        assert sim.ctx is not None
        changes = LiveStream(sim.ctx, seed=2).run(300)
        ingest.run_sync(settings)
        served = sim.store()
    assert_database_matches(engine, served)
    sales = {s["id"]: s for s in served["sales"]}
    customers = {c["id"]: c for c in served["customers"]}
    by_action: dict[str, list[Any]] = {}
    for change in changes:
        by_action.setdefault(change.action, []).append(change)
    for change in by_action["layby_completed"]:
        sale = sales[change.sale_id]
        assert sale["status"] == "LAYBY_CLOSED"
        assert sum(Decimal(p["amount"]) for p in sale["payments"]) == _due(sale)
    for change in by_action["return"]:
        sale = sales[change.sale_id]
        original = sales[sale["return_for"]]
        assert original["customer_id"] == sale["customer_id"]
        assert all(i["quantity"] < 0 for i in sale["line_items"])
        assert Decimal(sale["total_price"]) < 0
    returned = [sales[c.sale_id]["return_for"] for c in by_action["return"]]
    assert len(returned) == len(set(returned))
    for change in by_action["ecom_order"]:
        sale = sales[change.sale_id]
        assert sale["source"].startswith("ecw:")
        assert sale["note"].startswith(f"Order ID:{sale['source_id']}")
        assert sale["status"] in {
            "AWAITING_PICKUP",
            "AWAITING_DISPATCH",
            "PICKED_UP_CLOSED",
            "DISPATCHED_CLOSED",
        }
    for change in by_action["new_customer_sale"]:
        customer = customers[change.customer_id]
        assert customer["email"]
        assert sales[change.sale_id]["customer_id"] == customer["id"]
    for change in by_action.get("walk_in_sale", []):
        assert "customer_id" not in sales[change.sale_id]

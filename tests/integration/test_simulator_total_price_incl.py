"""``total_price_incl`` is in neither the 2.0 Sale schema nor the reference, so the
simulator leaves it out of a share of its sales (``GeneratorConfig.omit_total_price_incl``)
and GreenLoop falls back to ``total_price + total_tax``.

End to end: the same generated store is served with the field on every sale, on none and
on about half, each synced into its own database and analysed at the same moment. The
stored ``total_price`` and ``total_tax`` are the same, ``total_price_incl`` is stored
empty exactly where it was left out, and every sale's tax-inclusive total and every
person's lifetime value come out the same either way.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from greenloop.config import Settings
from greenloop.services import analysis, ingest
from greenloop.simulator.generator import GeneratorConfig, generate_store
from greenloop.simulator.model import StoreData
from greenloop.store import tables as t
from greenloop.store.engine import make_engine, migrate
from greenloop.store.purchase_facts import load_sale_facts
from tests.simulation import ANCHOR, running_simulator, settings_for

NOW = datetime(2026, 11, 1, 12, tzinfo=UTC)
PERSON_FIGURES = (
    "lifetime_value",
    "value_90d",
    "ecom_value",
    "instore_value",
    "returns_value",
    "purchases",
    "tier",
)


@dataclass(frozen=True)
class Synced:
    left_out: set[str]  # ids of the sales served without total_price_incl
    sales: dict[str, tuple[Decimal, Decimal, Decimal | None]]  # price, tax, price_incl
    totals_incl: dict[str, Decimal]  # what the analysis counts, per sale
    persons: dict[frozenset[str], tuple[Any, ...]]  # by profile ids
    settings: Settings  # the database, for `customers show`

    def show(self, customer_id: str) -> dict[str, Any]:
        shown = analysis.show_customer(self.settings, customer_id)
        shown.pop("person_id")  # a fresh id in each database
        return shown


def _store(share: float) -> StoreData:
    return generate_store(
        GeneratorConfig(
            seed=11, customers=150, days=120, anchor=ANCHOR, omit_total_price_incl=share
        )
    )


def _sync_and_analyze(directory: Path, share: float) -> Synced:
    store = _store(share)
    left_out = {s["id"] for s in store.sales if "total_price_incl" not in s}
    db_url = f"sqlite:///{directory / 'greenloop.db'}"
    engine = make_engine(db_url)
    migrate(engine)
    try:
        with running_simulator(store) as sim:
            settings = settings_for(sim.url, db_url)
            ingest.run_sync(settings)
        analysis.analyze(settings, now=NOW)
        with engine.connect() as conn:
            s = t.sales.c
            sales = {
                r.id: (r.total_price, r.total_tax, r.total_price_incl)
                for r in conn.execute(select(s.id, s.total_price, s.total_tax, s.total_price_incl))
            }
            totals_incl = {f.id: f.total_incl for f in load_sale_facts(conn)}
            persons = {
                frozenset(r.profile_ids): tuple(getattr(r, n) for n in PERSON_FIGURES)
                for r in conn.execute(select(t.persons))
            }
    finally:
        engine.dispose()
    return Synced(left_out, sales, totals_incl, persons, settings)


@pytest.fixture(scope="module")
def everywhere(tmp_path_factory: pytest.TempPathFactory) -> Synced:
    """The store with ``total_price_incl`` on every sale."""
    return _sync_and_analyze(tmp_path_factory.mktemp("incl"), 0.0)


@pytest.mark.parametrize("share", [1.0, 0.5], ids=["left-out-of-every-sale", "of-about-half"])
def test_totals_and_lifetime_values_do_not_depend_on_total_price_incl(
    everywhere: Synced, tmp_path: Path, share: float
) -> None:
    without = _sync_and_analyze(tmp_path, share)

    assert not everywhere.left_out
    if share == 1.0:
        assert without.left_out == set(without.sales)
    else:
        assert 0 < len(without.left_out) < len(without.sales)
    assert without.sales.keys() == everywhere.sales.keys()

    for sale_id, (price, tax, incl) in without.sales.items():
        full_price, full_tax, full_incl = everywhere.sales[sale_id]
        assert (price, tax) == (full_price, full_tax), sale_id
        assert full_incl == full_price + full_tax, sale_id
        if sale_id in without.left_out:
            assert incl is None, sale_id  # stored as served: absent
        else:
            assert incl == full_incl, sale_id
    assert without.totals_incl == everywhere.totals_incl

    assert without.persons == everywhere.persons
    assert any(figures[0] > 0 for figures in without.persons.values())
    # One customer, through `customers show`: a closed sale of theirs lost the field.
    buyer = next(
        str(s["customer_id"])
        for s in _store(share).sales
        if "total_price_incl" not in s and s.get("customer_id") and s["status"] == "CLOSED"
    )
    shown = without.show(buyer)
    assert Decimal(shown["lifetime_value"]) > 0
    assert shown == everywhere.show(buyer)

"""The generated store's lifecycles and the truth after its anchor."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime
from decimal import Decimal

import pytest

from greenloop.simulator.generator import GeneratorConfig, generate_store
from greenloop.simulator.model import StoreData

ANCHOR = datetime(2026, 11, 1, tzinfo=UTC)


@pytest.fixture(scope="module")
def store() -> StoreData:
    return generate_store(GeneratorConfig(seed=3, customers=1500, days=365, anchor=ANCHOR))


def _sales_per_person(store: StoreData) -> Counter[str]:
    persons = store.truth["persons"]
    per: Counter[str] = Counter()
    for sale in store.sales:
        if sale.get("customer_id") and sale["status"] == "CLOSED" and not sale.get("return_for"):
            per[persons[sale["customer_id"]]] += 1
    return per


def test_history_ends_at_the_anchor_and_the_truth_covers_everyone(store: StoreData) -> None:
    lifecycle = store.truth["lifecycle"]
    assert lifecycle["anchor"] == "2026-11-01T00:00:00+00:00"
    assert all(s["sale_date"] < lifecycle["anchor"] for s in store.sales)
    people = lifecycle["persons"]
    assert set(store.truth["persons"].values()) <= set(people)
    for key, entry in people.items():
        assert entry["purchases_90d"] <= entry["purchases_365d"], key
        assert entry["purchase_days_90d"] <= entry["purchases_90d"], key
        assert Decimal(entry["value_90d"]) <= Decimal(entry["value_365d"]), key
    ids = {cid for entry in people.values() for cid in entry["customer_ids"]}
    assert ids == {c["id"] for c in store.customers}


def test_people_stop_and_the_store_has_one_timers_regulars_and_a_tail(store: StoreData) -> None:
    people = store.truth["lifecycle"]["persons"]
    per = _sales_per_person(store)
    buyers = len(per)
    one_timers = sum(1 for n in per.values() if n == 1)
    regulars = sum(1 for n in per.values() if n >= 26)  # fortnightly or more, a year long
    assert 0.3 < one_timers / buyers < 0.65
    assert regulars >= 0.02 * buyers
    # Some who bought in the history are no longer active at the anchor, and some of
    # those who were active buy nothing in the next 90 days (a renewal process, not a clock).
    stopped = [k for k in per if not people[k]["active_at_anchor"]]
    assert len(stopped) > 0.2 * buyers
    assert sum(people[k]["purchases_365d"] for k in stopped) < 0.2 * sum(
        people[k]["purchases_365d"] for k in per
    )
    segments = Counter(e["segment"] for e in people.values())
    assert {"regular", "occasional", "tail", "never"} <= set(segments)


def test_same_config_same_history_and_truth() -> None:
    short = generate_store(GeneratorConfig(seed=4, customers=200, days=90, anchor=ANCHOR))
    again = generate_store(GeneratorConfig(seed=4, customers=200, days=90, anchor=ANCHOR))
    assert short.sales == again.sales
    assert short.truth["lifecycle"] == again.truth["lifecycle"]
    assert sum(e["purchases_365d"] for e in short.truth["lifecycle"]["persons"].values()) > 0


@pytest.mark.parametrize(
    "kwargs",
    [
        {"regular_share": 1.5},
        {"regular_share": 0.6, "occasional_share": 0.6},
        {"tail_gap_days": 0},
        {"churn_per_year": -1},
        {"future_days": -1},
    ],
)
def test_lifecycle_settings_are_checked(kwargs: dict[str, float]) -> None:
    with pytest.raises(ValueError, match="must be"):
        GeneratorConfig(**kwargs)  # type: ignore[arg-type]

"""The simulator's in-memory store: one global version, cursor listing, change hooks."""

from __future__ import annotations

import threading
from decimal import Decimal
from typing import Any

import pytest

from greenloop.simulator.model import StoreData, loads
from greenloop.simulator.state import KINDS, SimState


def _store(customers: int = 4) -> StoreData:
    return StoreData(
        retailer={"id": "ret", "name": "Shop"},
        outlets=[{"id": "o1", "deleted_at": None}],
        registers=[{"id": "r1", "deleted_at": None}, {"id": "r2", "deleted_at": "2026-01-01"}],
        customer_groups=[{"id": "g1", "name": "All Customers"}],
        customers=[
            {"id": f"c{n}", "first_name": f"N{n}", "deleted_at": None} for n in range(customers)
        ],
        sales=[{"id": "s1", "total_price": Decimal("34.725"), "deleted_at": None}],
    )


def _ids(state: SimState, kind: str, **kwargs: Any) -> list[str]:
    kwargs.setdefault("page_size", 100)
    return [loads(item)["id"] for item in state.list_page(kind, **kwargs).items]


def test_loading_numbers_the_retailer_then_each_collection_in_file_order() -> None:
    state = SimState(_store())
    assert state.retailer()["version"] == "1"
    assert state.version_of("outlets", "o1") == 2
    assert [state.version_of("registers", r) for r in ("r1", "r2")] == [3, 4]
    assert state.version_of("customer_groups", "g1") == 5
    assert [state.version_of("customers", f"c{n}") for n in range(4)] == [6, 7, 8, 9]
    assert state.version_of("sales", "s1") == 10
    assert state.version == 10


def test_products_a_sale_names_but_the_file_lacks_are_added_last() -> None:
    store = _store()
    store.sales = [
        {
            "id": "s1",
            "sale_date": "2026-01-05T10:00:00+00:00",
            "line_items": [
                {"product_id": "p-listed", "price": Decimal("4"), "tax": Decimal("0.4")},
                {"product_id": "p-x", "price": Decimal("9"), "discount": Decimal("1")},
                {"product_id": None},
            ],
        },
        {"id": "s2", "line_items": [{"product_id": "p-x"}, {"product_id": "p-y"}]},
    ]
    store.products = [{"id": "p-listed", "name": "Listed", "handle": "listed", "sku": "L1"}]
    state = SimState(store)
    assert state.version_of("sales", "s2") == 11  # nothing listed moved
    assert _ids(state, "products") == ["p-listed", "p-x", "p-y"]
    assert [state.version_of("products", p) for p in ("p-listed", "p-x", "p-y")] == [12, 13, 14]
    stand_in = state.get("products", "p-x")
    assert stand_in is not None
    assert (stand_in["name"], stand_in["sku"], stand_in["handle"]) == (
        "Product p-x",
        "p-x",
        "productpx",
    )
    assert stand_in["price_excluding_tax"] == 10
    assert stand_in["created_at"] == "2026-01-05T10:00:00+00:00"


def test_a_store_without_a_retailer_gets_one() -> None:
    state = SimState(StoreData())
    retailer = state.retailer()
    assert retailer["id"]
    assert retailer["version"] == "1"


def test_duplicate_ids_in_a_store_are_refused() -> None:
    with pytest.raises(ValueError, match="duplicate id"):
        SimState(StoreData(customers=[{"id": "c"}, {"id": "c"}]))


def test_loading_leaves_the_callers_objects_alone() -> None:
    store = _store()
    SimState(store)
    assert "version" not in store.customers[0]


def test_after_is_exclusive_and_before_is_exclusive() -> None:
    state = SimState(_store())
    assert _ids(state, "customers", after=7) == ["c2", "c3"]
    assert _ids(state, "customers", after=6, before=9) == ["c1", "c2"]
    assert _ids(state, "customers", before=6) == []


def test_a_page_stops_at_page_size_and_reports_its_version_span() -> None:
    state = SimState(_store())
    page = state.list_page("customers", after=0, page_size=2)
    assert (page.min_version, page.max_version) == (6, 7)
    assert len(page.items) == 2
    empty = state.list_page("customers", after=100, page_size=2)
    assert (empty.items, empty.min_version, empty.max_version) == ([], None, None)


def test_deleted_objects_are_skipped_unless_included() -> None:
    state = SimState(_store())
    assert _ids(state, "registers") == ["r1"]
    assert _ids(state, "registers", include_deleted=True) == ["r1", "r2"]


def test_match_filters_without_breaking_the_cursor() -> None:
    state = SimState(_store())
    assert _ids(state, "customers", match=lambda c: c["id"] in ("c1", "c3")) == ["c1", "c3"]


def test_an_update_moves_the_object_to_the_end_exactly_once() -> None:
    state = SimState(_store())
    updated = state.update("customers", "c1", lambda c: c.update(first_name="Changed"))
    assert updated["version"] == 11
    assert _ids(state, "customers") == ["c0", "c2", "c3", "c1"]
    assert _ids(state, "customers", after=10) == ["c1"]
    assert loads(state.get_json("customers", "c1") or "")["first_name"] == "Changed"


def test_one_counter_serves_every_collection() -> None:
    state = SimState(_store())
    state.update("sales", "s1", lambda s: s.update(note="x"))
    state.update("outlets", "o1", lambda o: o.update(name="y"))
    assert state.version_of("sales", "s1") == 11
    assert state.version_of("outlets", "o1") == 12


def test_a_heavily_updated_collection_still_lists_correctly_after_compaction() -> None:
    state = SimState(_store(customers=3))
    for n in range(3000):
        state.update("customers", f"c{n % 3}", _setter("n", n))
    page = state.list_page("customers", after=0, page_size=10)
    assert [loads(i)["n"] for i in page.items] == [2997, 2998, 2999]
    assert _ids(state, "customers", after=state.version - 1) == ["c2"]


def _setter(key: str, value: Any) -> Any:
    return lambda obj: obj.update({key: value})


def test_insert_and_remove() -> None:
    state = SimState(_store())
    hook = state.insert("webhooks", {"id": "w1", "type": "sale.update", "url": "u", "active": True})
    assert "version" not in hook
    assert state.version == 11
    with pytest.raises(KeyError):
        state.insert("webhooks", {"id": "w1"})
    assert state.remove("webhooks", "w1") == hook
    assert state.remove("webhooks", "w1") is None
    assert state.version == 12
    assert state.snapshot("webhooks") == []


def test_readers_get_copies_that_cannot_change_the_store() -> None:
    state = SimState(_store())
    copy = state.get("customers", "c0")
    assert copy is not None
    copy["first_name"] = "Mutated"
    assert loads(state.get_json("customers", "c0") or "")["first_name"] == "N0"
    assert state.get("customers", "nope") is None


def test_money_keeps_its_precision_in_the_cached_json() -> None:
    state = SimState(_store())
    assert '"total_price": 34.725' in (state.get_json("sales", "s1") or "")


def test_snapshot_and_dump_are_in_version_order_with_deleted_objects() -> None:
    state = SimState(_store())
    state.update("customers", "c0", lambda c: c.update(deleted_at="2026-02-01"))
    assert [c["id"] for c in state.snapshot("customers")] == ["c1", "c2", "c3", "c0"]
    assert [c["id"] for c in state.snapshot("customers", include_deleted=False)] == [
        "c1",
        "c2",
        "c3",
    ]
    dump = state.dump()
    assert set(dump) == {"version", "retailer", *KINDS}
    assert dump["version"] == state.version
    assert state.count("customers") == 4
    assert state.count("customers", include_deleted=False) == 3


def test_listeners_hear_every_change_in_order_until_removed() -> None:
    state = SimState(_store())
    heard: list[tuple[str, str, Any]] = []

    def listener(kind: str, obj: dict[str, Any]) -> None:
        heard.append((kind, obj["id"], obj.get("version")))

    state.add_listener(listener)
    state.update("customers", "c2", lambda c: c.update(note="n"))
    state.insert("sales", {"id": "s2"})
    state.insert("webhooks", {"id": "w1"})
    state.remove("webhooks", "w1")
    state.remove_listener(listener)
    state.update("customers", "c2", lambda c: c.update(note="again"))
    assert heard == [
        ("customers", "c2", 11),
        ("sales", "s2", 12),
        ("webhooks", "w1", None),
        ("webhooks", "w1", None),
    ]


def test_a_listener_cannot_mutate_the_stored_object() -> None:
    state = SimState(_store())
    state.add_listener(lambda kind, obj: obj.update(first_name="Hacked"))
    state.update("customers", "c0", lambda c: c.update(note="n"))
    assert (state.get("customers", "c0") or {})["first_name"] == "N0"


def test_concurrent_changes_get_distinct_versions() -> None:
    state = SimState(_store())
    start = state.version

    def work(n: int) -> None:
        for _ in range(200):
            state.update("customers", f"c{n}", lambda c: c.update(touched=True))

    threads = [threading.Thread(target=work, args=(n,)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert state.version == start + 800
    versions = [state.version_of("customers", f"c{n}") for n in range(4)]
    assert len(set(versions)) == 4
    assert max(v or 0 for v in versions) == state.version


def test_ids_are_reproducible_for_a_seed() -> None:
    first = SimState(StoreData(), id_seed=4)
    second = SimState(StoreData(), id_seed=4)
    assert [first.new_id() for _ in range(3)] == [second.new_id() for _ in range(3)]
    assert len(first.random_text(6, "ab")) == 6

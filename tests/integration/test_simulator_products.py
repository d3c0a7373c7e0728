"""The simulator's catalogue and token user: ``GET /products``, ``GET /products/{id}``,
``GET /user`` and ``/search?type=products``, over real HTTP.

Every product id a sale line names must resolve: a store's own products, stand-ins for
products a store file does not list, and products a sale rung up later names.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import httpx
import pytest

from greenloop.simulator.generator import GeneratorConfig, generate_store
from greenloop.simulator.model import StoreData
from greenloop.simulator.server import start_in_thread
from tests.integration.test_simulator_api import (
    Harness,
    SimFactory,
    SwappableApp,
    build_harness,
    tiny_store,
)

ANCHOR = datetime(2026, 1, 15, tzinfo=UTC)


def _product(pid: str, name: str, sku: str, **extra: Any) -> dict[str, Any]:
    product = {
        "id": pid,
        "name": name,
        "handle": name.lower().replace(" ", ""),
        "sku": sku,
        "price_excluding_tax": Decimal("4.25"),
        "created_at": "2025-12-01T10:00:00+00:00",
        "updated_at": "2025-12-01T10:00:00+00:00",
        "deleted_at": None,
    }
    product.update(extra)
    return product


def catalogue_store() -> StoreData:
    """The tiny store (its sales all sell "p-1", which it does not list) with two
    products of its own, one deleted."""
    store = tiny_store()
    store.products = [
        _product("p-tea", "Green Tea", "TEA-01"),
        _product("p-old", "Old Mug", "mug-9", deleted_at="2025-12-20T10:00:00+00:00"),
    ]
    return store


@pytest.fixture(scope="module")
def server() -> Iterator[tuple[str, SwappableApp]]:
    swap = SwappableApp()
    with start_in_thread(swap) as running:
        yield running.url, swap


@pytest.fixture
def make_sim(server: tuple[str, SwappableApp]) -> Iterator[SimFactory]:
    url, swap = server
    clients: list[httpx.Client] = []

    def make(store: StoreData | None = None, **config: Any) -> Harness:
        return build_harness(url, swap, clients, store, **config)

    yield make
    for client in clients:
        client.close()


@pytest.fixture
def shop(make_sim: SimFactory) -> Harness:
    return make_sim(catalogue_store())


@pytest.fixture(scope="module")
def generated() -> StoreData:
    return generate_store(GeneratorConfig(seed=9, customers=120, days=90, anchor=ANCHOR))


@pytest.fixture
def big(make_sim: SimFactory, generated: StoreData) -> Harness:
    return make_sim(generated)


def _named_products(sales: list[dict[str, Any]]) -> set[str]:
    return {line["product_id"] for sale in sales for line in sale["line_items"]}


def _all_pages(sim: Harness, path: str, **params: Any) -> list[dict[str, Any]]:
    out, after = [], 0
    while True:
        page = sim.listed(path, after=after, page_size=50, **params)
        if not page["data"]:
            return out
        out += page["data"]
        after = page["version"]["max"]


# -- listing and reading ------------------------------------------------------------


def test_products_list_by_version_with_the_2_0_envelope(shop: Harness) -> None:
    page = shop.listed("/products")
    assert [p["id"] for p in page["data"]] == ["p-tea", "p-1"]
    versions = [p["version"] for p in page["data"]]
    assert versions == sorted(versions)
    assert page["version"] == {"min": versions[0], "max": versions[-1]}
    assert shop.ids("/products", deleted="true") == ["p-tea", "p-old", "p-1"]
    assert shop.ids("/products", after=versions[0]) == ["p-1"]
    assert shop.ids("/products", page_size=1) == ["p-tea"]
    assert shop.get("/products", page_size=0).status_code == 400


def test_products_listed_after_everything_else_shift_no_version(shop: Harness) -> None:
    """A store's products (and stand-ins) come last, so its other objects keep the
    versions they had before the simulator served products."""
    top_sale = max(s["version"] for s in shop.listed("/sales")["data"])
    assert min(p["version"] for p in shop.listed("/products", deleted="true")["data"]) > top_sale
    assert top_sale == 1 + 2 + 3 + 2 + 3 + 5 + 6  # retailer, then the tiny store in file order


def test_a_product_by_id_and_the_documented_404(shop: Harness) -> None:
    tea = shop.listed("/products/p-tea")["data"]
    assert (tea["name"], tea["sku"], tea["version"]) == ("Green Tea", "TEA-01", tea["version"])
    assert shop.listed("/products/p-old")["data"]["deleted_at"]  # deleted, still readable
    missing = shop.get("/products/p-ghost")
    assert missing.status_code == 404
    assert missing.json() == {"error": "product not found"}
    assert shop.get("/sales/p-ghost").json() == {"error": "sale not found"}  # the same shape


def test_a_store_file_without_its_products_gets_stand_ins(shop: Harness) -> None:
    stand_in = shop.listed("/products/p-1")["data"]
    # Priced from the first line naming it: 34.725 before tax, 2.78 tax.
    assert stand_in["price_excluding_tax"] == 34.725
    assert stand_in["price_including_tax"] == 37.505
    assert {"handle", "name", "sku"} <= stand_in.keys()
    assert stand_in["created_at"] == shop.listed("/sales/s-1")["data"]["sale_date"]


def test_sku_name_and_family_name_find_products_and_ignore_the_rest(shop: Harness) -> None:
    assert shop.ids("/products", sku="TEA-01", after=10**6, page_size=1) == ["p-tea"]
    assert shop.ids("/products", name="Green Tea", deleted="true") == ["p-tea"]
    assert shop.ids("/products", family_name="Green Tea") == ["p-tea"]
    assert shop.ids("/products", sku="mug-9") == []  # deleted
    empty = shop.listed("/products", sku="nope")
    assert empty["data"] == []


def test_a_sale_naming_a_new_product_adds_it_first(shop: Harness) -> None:
    body = {"line_items": [{"product_id": "p-new", "price": 10, "quantity": 2, "tax": 1}]}
    created = shop.control("POST", "sales", body)
    assert created.status_code == 201
    sale = created.json()["data"]
    product = shop.listed("/products/p-new")["data"]
    assert product["version"] < sale["version"]
    assert product["price_including_tax"] == 11
    again = shop.control("POST", "sales", body)
    assert again.json()["data"]["version"] == sale["version"] + 2  # register, then the sale
    assert shop.ids("/products", sku="p-new") == ["p-new"]


def test_changing_a_sale_to_sell_a_new_product_adds_it(shop: Harness) -> None:
    lines = [{"product_id": "p-swap", "price": 3, "quantity": 1}]
    assert shop.control("PUT", "sales/s-1", {"line_items": lines}).status_code == 200
    assert shop.get("/products/p-swap").status_code == 200


# -- the token's user -----------------------------------------------------------------


def test_the_user_is_the_tokens_user_the_primary_one(shop: Harness) -> None:
    response = shop.get("/user")
    assert response.status_code == 200
    user = response.json()["data"]
    assert isinstance(user, dict)
    assert (user["id"], user["is_primary_user"]) == ("u-1", True)
    assert user == shop.listed("/users/u-1")["data"]


def test_without_a_primary_user_the_first_user_holds_the_token(make_sim: SimFactory) -> None:
    store = tiny_store()
    store.users = [{**u, "is_primary_user": False} for u in reversed(store.users)]
    assert make_sim(store).listed("/user")["data"]["id"] == "u-2"
    store.users = []
    response = make_sim(store).get("/user")
    assert response.status_code == 404
    assert response.json() == {"error": "user not found"}


# -- search -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({}, ["p-tea", "p-1"]),
        ({"deleted": "true"}, ["p-tea", "p-old", "p-1"]),
        ({"sku": "tea-01"}, ["p-tea"]),
        ({"sku": "TEA-01"}, []),  # "values must be lowercased"
        ({"-sku": "tea-01"}, ["p-1"]),
        ({"sku": ["tea-01", "p-1"]}, ["p-tea", "p-1"]),
        ({"brand_id": "b-1"}, []),
        ({"order_by": "sku"}, ["p-tea", "p-1"]),  # "TEA-01" < "p-1", as stored
        ({"order_by": "sku", "order_direction": "desc"}, ["p-1", "p-tea"]),
    ],
)
def test_search_finds_products(shop: Harness, params: dict[str, Any], expected: list[str]) -> None:
    assert shop.ids("/search", type="products", **params) == expected


# -- a generated store -------------------------------------------------------------------


def test_every_product_a_generated_sale_names_resolves(big: Harness, generated: StoreData) -> None:
    listed = {p["id"] for p in _all_pages(big, "/products", deleted="true")}
    assert listed == {p["id"] for p in generated.products}
    named = _named_products(_all_pages(big, "/sales"))
    assert named
    assert named <= listed
    for product_id in sorted(named)[:5]:
        assert big.get(f"/products/{product_id}").status_code == 200
    retailer = big.listed("/retailer")["data"]
    assert big.get(f"/products/{retailer['discount_product_id']}").status_code == 200
    primary = [u for u in generated.users if u["is_primary_user"]]
    assert big.listed("/user")["data"]["id"] == primary[0]["id"]


def test_live_sales_name_only_catalogue_products(big: Harness) -> None:
    before = {p["id"] for p in big.listed("/products", deleted="true")["data"]}
    response = big.control("POST", "live", {"steps": 40, "seed": 3})
    assert response.status_code == 200, response.text
    named = _named_products(_all_pages(big, "/sales"))
    after = {p["id"] for p in big.listed("/products", deleted="true")["data"]}
    assert named <= after == before

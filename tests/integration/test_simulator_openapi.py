"""Every response body of the simulator's 2.0 operations, checked against Lightspeed's
published OpenAPI document with a real JSON Schema validator.

The client here validates each response as it arrives (an httpx event hook), so every
request of the scenario below is checked, errors included: statuses an operation does
not declare (400, 401, 404, 409, 429, 500) are checked against the documented error
envelope ``{"error": string, "message"?: string}`` (reference §10).

The one documented overlay: the 2.0 ``Version`` schema requires integer ``min`` and
``max``, while the dated API documents ``null`` for both on an empty page (reference
§2). Empty pages, and only those, are validated with ``min``/``max`` allowed to be null
(see ``tests/openapi_schema.py``); ``--empty-version absent`` needs no overlay. Webhook
operations are absent from the 2.0 document; their bodies are checked against the
2026-07 ``Webhook`` shape the reference quotes.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from greenloop.simulator.generator import GeneratorConfig, generate_store
from greenloop.simulator.model import StoreData
from greenloop.simulator.server import start_in_thread
from tests.integration.test_simulator_api import (
    API,
    Harness,
    SwappableApp,
    build_harness,
)
from tests.openapi_schema import SpecChecker, component_validator, to_json_schema

# The 2.0 operations the simulator implements, by method and spec path template.
IMPLEMENTED = {
    ("GET", "/retailer"),
    ("GET", "/outlets"),
    ("GET", "/outlets/{outlet_id}"),
    ("GET", "/registers"),
    ("GET", "/registers/{register_id}"),
    ("GET", "/users"),
    ("GET", "/users/{user_id}"),
    ("GET", "/customer_groups"),
    ("POST", "/customer_groups"),
    ("GET", "/customer_groups/{customer_group_id}"),
    ("PUT", "/customer_groups/{customer_group_id}"),
    ("DELETE", "/customer_groups/{customer_group_id}"),
    ("GET", "/customer_groups/{customer_group_id}/customers"),
    ("POST", "/customer_groups/{customer_group_id}/customers"),
    ("DELETE", "/customer_groups/{customer_group_id}/customers"),
    ("GET", "/customers"),
    ("POST", "/customers"),
    ("GET", "/customers/{customer_id}"),
    ("PUT", "/customers/{customer_id}"),
    ("DELETE", "/customers/{customer_id}"),
    ("GET", "/sales"),
    ("GET", "/sales/{sale_id}"),
    ("GET", "/products"),
    ("GET", "/products/{product_id}"),
    ("GET", "/user"),
    ("GET", "/search"),
    ("GET", "/webhooks"),
    ("POST", "/webhooks"),
    ("GET", "/webhooks/{webhook_id}"),
    ("PUT", "/webhooks/{webhook_id}"),
    ("DELETE", "/webhooks/{webhook_id}"),
}
HOOK = {"url": "https://hooks.example/sales", "active": True, "type": "sale.update"}


@pytest.fixture(scope="module")
def server() -> Iterator[tuple[str, SwappableApp]]:
    swap = SwappableApp()
    with start_in_thread(swap) as running:
        yield running.url, swap


@pytest.fixture
def checked(server: tuple[str, SwappableApp]) -> Iterator[tuple[Harness, SpecChecker]]:
    checker = SpecChecker()
    clients: list[httpx.Client] = []
    url, swap = server
    sim = build_harness(url, swap, clients, event_hooks={"response": [checker.event_hook]})
    yield sim, checker
    for client in clients:
        client.close()


def _call(sim: Harness, method: str, path: str, status: int, body: Any = None) -> Any:
    response = sim.api(method, path, json=body)
    assert response.status_code == status, f"{method} {path}: {response.text}"
    return response.json() if response.content else None


def _ring_up_sales(sim: Harness) -> None:
    """Sales of several shapes, rung up through the control API (not validated there)."""
    bodies: list[dict[str, Any]] = [
        {"line_items": [{"product_id": "p-1", "price": 4.25, "quantity": 3, "tax": 0.35}]},
        {"customer_id": "c-jane", "status": "LAYBY", "payments": [{"amount": 5}]},
        {"customer_id": "c-bob", "register_id": "r-web", "status": "AWAITING_PICKUP"},
        {"status": "VOIDED", "note": None, "return_for": "s-1", "source_id": "ecw:1001"},
    ]
    for body in bodies:
        assert sim.control("POST", "sales", body).status_code == 201


def test_every_implemented_operation_answers_schema_valid_bodies(
    checked: tuple[Harness, SpecChecker],
) -> None:
    sim, checker = checked
    _ring_up_sales(sim)
    _call(sim, "GET", "/retailer", 200)
    _call(sim, "GET", "/user", 200)
    _call(sim, "GET", "/products?sku=p-1", 200)
    _call(sim, "GET", "/products?name=nothing", 200)  # an empty page: the overlay
    for kind, one in (
        ("outlets", "o-main"),
        ("registers", "r-web"),
        ("users", "u-1"),
        ("customer_groups", "g-vip"),
        ("customers", "c-jane"),
        ("sales", "s-3"),
        ("products", "p-1"),  # a stand-in: the tiny store sells p-1 without listing it
    ):
        _call(sim, "GET", f"/{kind}", 200)
        _call(sim, "GET", f"/{kind}?deleted=true&page_size=2&after=1", 200)
        _call(sim, "GET", f"/{kind}?after=100000", 200)  # an empty page: the overlay
        _call(sim, "GET", f"/{kind}/{one}", 200)
        _call(sim, "GET", f"/{kind}/nope", 404)
        _call(sim, "GET", f"/{kind}?page_size=0", 400)

    created = _call(sim, "POST", "/customers", 201, {"first_name": None, "last_name": None})
    new_id = created["data"]["id"]
    _call(sim, "POST", "/customers", 400, {"first_name": "Only"})
    full = {
        "first_name": "A",
        "last_name": "B",
        "email": "a@b.example",
        "date_of_birth": "1990-01-02",
    }
    _call(sim, "PUT", f"/customers/{new_id}", 200, full)
    _call(sim, "PUT", f"/customers/{new_id}", 400, {"last_name": "B"})
    _call(sim, "PUT", "/customers/nope", 404, full)
    _call(sim, "DELETE", f"/customers/{new_id}", 204)
    _call(sim, "DELETE", f"/customers/{new_id}", 404)

    group = _call(sim, "POST", "/customer_groups", 201, {"name": "Gold"})["data"]
    _call(sim, "POST", "/customer_groups", 400, {})
    _call(sim, "PUT", f"/customer_groups/{group['id']}", 200, {"name": "Gold+"})
    _call(sim, "PUT", "/customer_groups/nope", 404, {"name": "x"})
    members = f"/customer_groups/{group['id']}/customers"
    _call(sim, "GET", members, 200)  # empty
    assert _call(sim, "POST", members, 201, {"customer_ids": ["c-jane", "c-zoe"]}) is True
    _call(sim, "POST", members, 404, {"customer_ids": ["c-ghost"]})
    _call(sim, "POST", members, 400, {"customer_ids": []})
    _call(sim, "GET", members, 200)
    _call(sim, "GET", "/customer_groups/nope/customers", 404)
    _call(sim, "DELETE", members, 204, {"customer_ids": ["c-zoe"]})
    _call(sim, "DELETE", "/customer_groups/nope/customers", 404, {"customer_ids": ["c-zoe"]})
    _call(sim, "DELETE", f"/customer_groups/{group['id']}", 204)
    _call(sim, "DELETE", "/customer_groups/g-all", 400)

    for query in (
        "type=sales",
        "type=sales&order_by=sale_date&order_direction=desc&page_size=3&offset=1",
        "type=sales&status=LAYBY&status=VOIDED",
        "type=customers&deleted=true",
        "type=customers&email=jane@example.com",
        "type=products",
        "type=products&sku=p-1&order_by=sku",
    ):
        _call(sim, "GET", f"/search?{query}", 200)
    for query in ("", "type=bogus", "type=sales&order_by=bogus", "type=products&order_by=email"):
        _call(sim, "GET", f"/search?{query}", 400)

    hook = _call(sim, "POST", "/webhooks", 201, HOOK)["data"]
    _call(sim, "POST", "/webhooks", 409, HOOK)
    _call(sim, "POST", "/webhooks", 400, {**HOOK, "type": "sale.created"})
    _call(sim, "GET", "/webhooks", 200)
    _call(sim, "GET", f"/webhooks/{hook['id']}", 200)
    _call(sim, "PUT", f"/webhooks/{hook['id']}", 200, {**HOOK, "active": False})
    _call(sim, "DELETE", f"/webhooks/{hook['id']}", 200)
    _call(sim, "GET", f"/webhooks/{hook['id']}", 404)

    seen = {(method, template) for method, template, _ in checker.seen}
    assert seen >= IMPLEMENTED, sorted(IMPLEMENTED - seen)


def test_auth_rate_limit_and_fault_errors_are_schema_valid(
    checked: tuple[Harness, SpecChecker],
) -> None:
    sim, checker = checked
    stranger = httpx.Client(
        base_url=sim.url,
        headers={"Authorization": "Bearer wrong"},
        event_hooks={"response": [checker.event_hook]},
    )
    with stranger:
        for path in ("/customers", "/sales/s-1", "/search?type=sales"):
            assert stranger.get(API + path).status_code == 401
    sim.control("PUT", "faults", {"error_rate": 1})
    _call(sim, "GET", "/customers", 500)
    _call(sim, "POST", "/customers", 500, {"first_name": "A", "last_name": "B"})
    sim.control("PUT", "faults", {"error_rate": 0})
    sim.control("PUT", "rate_limit", {"remaining": 0})
    _call(sim, "GET", "/sales", 429)
    statuses = {status for _, _, status in checker.seen}
    assert {401, 429, 500} <= statuses


def test_search_results_are_whole_sales_and_customers(
    checked: tuple[Harness, SpecChecker],
) -> None:
    sim, _ = checked
    _ring_up_sales(sim)
    for kind, schema in (("sales", "Sale"), ("customers", "Customer"), ("products", "Product")):
        validator = component_validator(schema)
        results = _call(sim, "GET", f"/search?type={kind}&deleted=true", 200)["data"]
        assert results
        for obj in results:
            errors = [e.message for e in validator.iter_errors(obj)]
            assert not errors, (obj["id"], errors)


def test_the_version_overlay_is_needed_only_for_empty_pages(
    checked: tuple[Harness, SpecChecker],
) -> None:
    """Without the overlay an empty page fails the 2.0 schema, and a full page passes it."""
    sim, _ = checked
    strict = component_validator("CustomerCollection")
    empty = sim.get("/customers", after=100000).json()
    assert list(strict.iter_errors(empty))
    assert not list(strict.iter_errors(sim.get("/customers").json()))


@pytest.mark.parametrize(
    ("style", "valid"), [("null_fields", False), ("null", False), ("absent", True)]
)
def test_only_the_absent_style_satisfies_the_2_0_schema_on_an_empty_page(
    server: tuple[str, SwappableApp], style: str, valid: bool
) -> None:
    """What README's "The simulator" says of --empty-version: the default (the dated
    API's nulls) needs the overlay; leaving the block out passes the 2.0 schema as is."""
    clients: list[httpx.Client] = []
    url, swap = server
    sim = build_harness(url, swap, clients, empty_version=style)
    try:
        for kind, schema in (("customers", "CustomerCollection"), ("sales", "SaleCollection")):
            empty = sim.get(f"/{kind}", after=100000).json()
            assert empty["data"] == []
            errors = list(component_validator(schema).iter_errors(empty))
            assert (not errors) is valid, (style, [e.message for e in errors])
    finally:
        for client in clients:
            client.close()


def test_nullable_becomes_a_type_union() -> None:
    converted = to_json_schema(
        {"type": "object", "properties": {"a": {"type": "string", "nullable": True}}}
    )
    assert converted["properties"]["a"] == {"type": ["string", "null"]}
    assert to_json_schema({"$ref": "#/x", "nullable": True}) == {
        "anyOf": [{"$ref": "#/x"}, {"type": "null"}]
    }


def test_a_generated_store_is_served_schema_valid(server: tuple[str, SwappableApp]) -> None:
    """The generator's store, served page by page, passes the same checks."""
    store: StoreData = generate_store(GeneratorConfig(seed=5, customers=60, days=60))
    checker = SpecChecker()
    clients: list[httpx.Client] = []
    url, swap = server
    sim = build_harness(url, swap, clients, store, event_hooks={"response": [checker.event_hook]})
    served: dict[str, list[dict[str, Any]]] = {}
    try:
        _call(sim, "GET", "/retailer", 200)
        _call(sim, "GET", "/user", 200)
        kinds = ("outlets", "registers", "users", "customer_groups", "customers", "sales")
        for kind in (*kinds, "products"):
            after = 0
            while True:
                page = _call(sim, "GET", f"/{kind}?after={after}&page_size=200&deleted=true", 200)
                if not page["data"]:
                    break
                served.setdefault(kind, []).extend(page["data"])
                after = page["version"]["max"]
        catalogue = {p["id"] for p in served["products"]}
        named = {li["product_id"] for sale in served["sales"] for li in sale["line_items"]}
        assert named
        assert named <= catalogue
        for product_id in sorted(named)[:3]:
            _call(sim, "GET", f"/products/{product_id}", 200)
        _call(sim, "GET", "/search?type=products&page_size=5", 200)
    finally:
        for client in clients:
            client.close()

"""Every API route of the simulator declares the OAuth scope it needs, in one table."""

from __future__ import annotations

import re

import pytest

from greenloop.simulator.app import api_routes, create_context
from greenloop.simulator.config import SimulatorConfig
from greenloop.simulator.scopes import (
    ALL_SCOPES,
    ROUTE_SCOPES,
    SEARCH_SCOPES,
    BySearchType,
    parse_scope,
    required_scope,
    scope_for,
)
from greenloop.simulator.state import SimState


def _served() -> set[tuple[str, str]]:
    ctx = create_context(SimState(), SimulatorConfig(token="t"))
    try:
        return {(method, path) for method, path, _ in api_routes(ctx)}
    finally:
        ctx.webhooks.close()


def test_every_api_route_has_a_scope_and_the_table_names_no_other_route() -> None:
    served = _served()
    assert served, "no API routes found"
    assert served == set(ROUTE_SCOPES)


def test_every_scope_in_the_table_is_a_known_scope_name() -> None:
    for need in ROUTE_SCOPES.values():
        names = need.scopes.values() if isinstance(need, BySearchType) else [need]
        assert set(names) <= ALL_SCOPES


@pytest.mark.parametrize(
    ("method", "path", "scope"),
    [
        ("GET", "/api/2.0/sales", "sales:read"),
        ("GET", "/api/2.0/customers/{object_id}", "customers:read"),
        ("DELETE", "/api/2.0/customer_groups/{object_id}/customers", "customers:write"),
        ("PUT", "/api/2.0/customers/{object_id}", "customers:write"),
        ("GET", "/api/2.0/registers", "registers:read"),
        ("GET", "/api/2.0/outlets/{object_id}", "outlets:read"),
        ("GET", "/api/2.0/retailer", "retailer:read"),
        ("GET", "/api/2.0/products", "products:read"),
        ("GET", "/api/2.0/users", "users:read"),
        ("POST", "/api/webhooks", "webhooks"),
        ("PUT", "/api/2.0/webhooks/{object_id}", "webhooks"),
    ],
)
def test_routes_need_the_documented_scope(method: str, path: str, scope: str) -> None:
    assert scope_for(method, path) == scope


def test_search_needs_the_read_scope_of_its_type() -> None:
    assert scope_for("GET", "/api/2.0/search") == SEARCH_SCOPES
    assert required_scope(SEARCH_SCOPES, {"type": "sales"}) == "sales:read"
    assert required_scope(SEARCH_SCOPES, {"type": "customers"}) == "customers:read"
    assert required_scope(SEARCH_SCOPES, {"type": "products"}) == "products:read"
    assert required_scope(SEARCH_SCOPES, {}) is None


def test_a_route_without_a_scope_is_refused_by_name() -> None:
    with pytest.raises(KeyError, match=re.escape("GET /api/2.0/nothing")):
        scope_for("GET", "/api/2.0/nothing")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("sales:read", ("sales:read",)),
        ("sales:read  customers:write sales:read", ("sales:read", "customers:write")),
        ("", None),
        (None, None),
        ("sales:read nope", None),
        ("SALES:READ", None),
    ],
)
def test_parse_scope(text: str | None, expected: tuple[str, ...] | None) -> None:
    assert parse_scope(text) == expected

"""OAuth scopes: the names the authorize page knows, and the one table saying which
scope each API route needs.

The scope names are the ones Lightspeed documents (reference §1, Auth: the scopes page
and the 2026-07 spec's "Requires: `sales:read` scope" per operation). Which scope a
route needs is read off the 2026-07 spec where it prints one; the rest is [INF]:

- no scope implies another (``customers:write`` does not let a token read customers);
- ``GET /search`` needs the read scope of the ``type`` it searches (an unknown or
  missing type needs none: the handler answers 400 anyway);
- ``GET /user`` (the token's own user) needs ``users:read``.

A personal token carries every scope. A route missing from :data:`ROUTE_SCOPES` is a
programming error: the app refuses to start (see :func:`scope_for`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

__all__ = [
    "ALL_SCOPES",
    "ROUTE_SCOPES",
    "SCOPE_WORDS",
    "SEARCH_SCOPES",
    "BySearchType",
    "Need",
    "parse_scope",
    "required_scope",
    "scope_for",
]

SALES_READ = "sales:read"
CUSTOMERS_READ = "customers:read"
CUSTOMERS_WRITE = "customers:write"
PRODUCTS_READ = "products:read"
WEBHOOKS = "webhooks"

# What the authorize page says each scope lets the app do.
SCOPE_WORDS: dict[str, str] = {
    SALES_READ: "See your sales",
    "sales:write": "Create and change sales",
    CUSTOMERS_READ: "See your customers and customer groups",
    CUSTOMERS_WRITE: "Create, change and delete customers and customer groups, "
    "and move customers between groups",
    PRODUCTS_READ: "See your products",
    "products:write": "Create and change products",
    "registers:read": "See your registers",
    "outlets:read": "See your outlets",
    "payment_types:read": "See your payment types",
    "retailer:read": "See your store's details",
    "users:read": "See your staff accounts",
    WEBHOOKS: "Manage webhook subscriptions (be told when things change)",
    "business_rules:read": "See your business rules",
    "business_rules:write": "Change your business rules",
    "remote_rules:read": "See your remote rules",
    "remote_rules:write": "Change your remote rules",
}
ALL_SCOPES: frozenset[str] = frozenset(SCOPE_WORDS)


@dataclass(frozen=True)
class BySearchType:
    """The scope depends on the ``type`` query parameter (``GET /search``)."""

    scopes: Mapping[str, str]


Need = str | BySearchType

SEARCH_SCOPES = BySearchType(
    {"sales": SALES_READ, "customers": CUSTOMERS_READ, "products": PRODUCTS_READ}
)

_V2 = "/api/2.0"
_READ_SCOPE_OF = {
    "outlets": "outlets:read",
    "registers": "registers:read",
    "users": "users:read",
    "customer_groups": CUSTOMERS_READ,
    "customers": CUSTOMERS_READ,
    "sales": SALES_READ,
    "products": PRODUCTS_READ,
}


def _table() -> dict[tuple[str, str], Need]:
    table: dict[tuple[str, str], Need] = {
        ("GET", f"{_V2}/retailer"): "retailer:read",
        ("GET", f"{_V2}/user"): "users:read",
        ("GET", f"{_V2}/search"): SEARCH_SCOPES,
        ("GET", f"{_V2}/customer_groups/{{object_id}}/customers"): CUSTOMERS_READ,
    }
    for kind, scope in _READ_SCOPE_OF.items():
        table["GET", f"{_V2}/{kind}"] = scope
        table["GET", f"{_V2}/{kind}/{{object_id}}"] = scope
    one_customer = f"{_V2}/customers/{{object_id}}"
    one_group = f"{_V2}/customer_groups/{{object_id}}"
    for method, path in (
        ("POST", f"{_V2}/customers"),
        ("PUT", one_customer),
        ("DELETE", one_customer),
        ("POST", f"{_V2}/customer_groups"),
        ("PUT", one_group),
        ("DELETE", one_group),
        ("POST", f"{one_group}/customers"),
        ("DELETE", f"{one_group}/customers"),
    ):
        table[method, path] = CUSTOMERS_WRITE
    one_hook = f"{_V2}/webhooks/{{object_id}}"
    for method, path in (
        ("GET", f"{_V2}/webhooks"),
        ("POST", f"{_V2}/webhooks"),
        ("GET", one_hook),
        ("PUT", one_hook),
        ("DELETE", one_hook),
        ("GET", "/api/webhooks"),
        ("POST", "/api/webhooks"),
        ("DELETE", "/api/webhooks/{object_id}"),
    ):
        table[method, path] = WEBHOOKS
    return table


# (method, route path template) -> the scope it needs. The one place to look.
ROUTE_SCOPES: Mapping[tuple[str, str], Need] = _table()


def scope_for(method: str, path: str) -> Need:
    """The scope a route needs; KeyError names a route nobody gave a scope."""
    try:
        return ROUTE_SCOPES[method, path]
    except KeyError:
        raise KeyError(f"no scope declared for {method} {path} (simulator/scopes.py)") from None


def required_scope(need: Need, query: Mapping[str, str]) -> str | None:
    """The scope one request needs (None: none, e.g. a search of an unknown type)."""
    if isinstance(need, BySearchType):
        return need.scopes.get(query.get("type", ""))
    return need


def parse_scope(text: str | None) -> tuple[str, ...] | None:
    """Space-delimited scope names, deduplicated in order; None if empty or unknown."""
    names = list(dict.fromkeys((text or "").split()))
    if not names or any(name not in ALL_SCOPES for name in names):
        return None
    return tuple(names)

"""``GET /api/2.0/search``: offset paging, sorting and filters over sales, customers and
products.

Documented (reference §4): ``type`` is required and one of ``sales``, ``products``,
``customers``; paging is ``offset`` + ``page_size`` with "Specifying more than 1000 will
result in 1000 objects being returned"; results "can be sorted by any of the attributes
above" (the type's search attributes) with ``order_direction`` asc or desc; ``deleted``
includes deleted objects; the envelope is ``{"data": [...]}`` only. The sales, customer
and product filters are the documented ones (``register_id`` and ``state`` from the
2026-05 additions). A missing or unknown ``type`` and an ``order_by`` the type cannot
sort by are refused with a 400 in the documented error body. Matching rules the docs
leave open are marked [INF].
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from greenloop.simulator.ops_sales import sale_state
from greenloop.simulator.responses import ApiError
from greenloop.simulator.state import Obj, SimState

__all__ = ["SEARCH_PAGE_CAP", "SearchQuery", "parse_search", "run_search"]

SEARCH_PAGE_CAP = 1000
_SALE_EXACT = ("invoice_number", "customer_id", "user_id", "outlet_id", "register_id")
_CUSTOMER_FIELDS = (
    "customer_code",
    "email",
    "first_name",
    "last_name",
    "company_name",
    "mobile",
    "phone",
)
_PRODUCT_EXACT = ("supplier_id", "brand_id", "product_type_id", "variant_parent_id")
_COLLECTION_OF = {"sales": "sales", "products": "products", "customers": "customers"}
# What each type sorts by: its documented search attributes, each the object field it
# names (date_from/date_to search sale_date), plus [INF] ``version``, the order results
# come in when no order_by is given. ``tag_id`` sorts by a product's first tag.
_ORDER_BY: dict[str, frozenset[str]] = {
    "sales": frozenset(
        {"version", "sale_date", "status", "invoice_number", "customer_id", "user_id", "outlet_id"}
    ),
    "customers": frozenset({"version", *_CUSTOMER_FIELDS}),
    "products": frozenset({"version", "sku", "tag_id", *_PRODUCT_EXACT}),
}


@dataclass(frozen=True)
class SearchQuery:
    type: str
    offset: int
    page_size: int
    order_by: str
    descending: bool
    include_deleted: bool
    params: Mapping[str, Sequence[str]]


def parse_search(params: Mapping[str, Sequence[str]], default_page_size: int) -> SearchQuery:
    kind = _one(params, "type")
    if not kind:
        raise ApiError(400, "type is required")
    if kind not in _COLLECTION_OF:
        raise ApiError(400, f"type must be one of {', '.join(_COLLECTION_OF)}")
    order_by = _one(params, "order_by") or "version"
    if order_by not in _ORDER_BY[kind]:
        raise ApiError(
            400, f"order_by must be one of {', '.join(sorted(_ORDER_BY[kind]))} for {kind}"
        )
    direction = (_one(params, "order_direction") or "asc").lower()
    if direction not in ("asc", "desc"):
        raise ApiError(400, "order_direction must be asc or desc")
    page_size = _int(params, "page_size", min(default_page_size, SEARCH_PAGE_CAP), minimum=1)
    deleted = (_one(params, "deleted") or "false").lower()
    if deleted not in ("true", "false", "1", "0"):
        raise ApiError(400, "deleted must be true or false")
    return SearchQuery(
        type=kind,
        offset=_int(params, "offset", 0, minimum=0),
        page_size=min(page_size, SEARCH_PAGE_CAP),
        # [INF] Without order_by, results come in version order (oldest change first).
        order_by=order_by,
        descending=direction == "desc",
        include_deleted=deleted in ("true", "1"),
        params=params,
    )


def run_search(state: SimState, query: SearchQuery) -> list[str]:
    """The JSON of each object on the requested page."""
    collection = _COLLECTION_OF[query.type]
    tests = _TESTS[collection](query)
    found = [
        obj
        for obj in state.snapshot(collection, include_deleted=query.include_deleted)
        if all(test(obj) for test in tests)
    ]
    ordered = _ordered(found, query.order_by, descending=query.descending)
    page = ordered[query.offset : query.offset + query.page_size]
    return [state.json_of(collection, obj) for obj in page]


def _sale_tests(query: SearchQuery) -> list[Callable[[Obj], bool]]:
    params = query.params
    tests: list[Callable[[Obj], bool]] = []
    for name in _SALE_EXACT:
        wanted = {v for v in params.get(name, ()) if v}
        if wanted:
            tests.append(_exact(name, wanted))
    statuses = {v.upper() for v in params.get("status", ()) if v}
    if statuses:
        tests.append(lambda o: str(o.get("status")) in statuses)
    states = {v.lower() for v in params.get("state", ()) if v}
    if states:
        tests.append(lambda o: sale_state(o) in states)
    # [INF] date_from is inclusive and date_to exclusive, so consecutive windows that
    # share a boundary neither miss nor repeat a sale.
    date_from = _instant(params, "date_from")
    if date_from is not None:
        tests.append(lambda o: (d := _sale_date(o)) is not None and d >= date_from)
    date_to = _instant(params, "date_to")
    if date_to is not None:
        tests.append(lambda o: (d := _sale_date(o)) is not None and d < date_to)
    return tests


def _customer_tests(query: SearchQuery) -> list[Callable[[Obj], bool]]:
    tests: list[Callable[[Obj], bool]] = []
    for name in _CUSTOMER_FIELDS:
        # [INF] Case-insensitive exact match on each field (no prefix or fuzzy search).
        wanted = {v.casefold() for v in query.params.get(name, ()) if v}
        if wanted:
            tests.append(_folded(name, wanted))
    return tests


def _product_tests(query: SearchQuery) -> list[Callable[[Obj], bool]]:
    params = query.params
    tests: list[Callable[[Obj], bool]] = []
    # "sku (values must be lowercased)": the stored sku is compared lowercased, so an
    # uppercase value finds nothing [INF]. Each filter has a "-" form that excludes.
    for name, value_of in (
        ("sku", _lowered_sku),
        ("tag_id", _tag_ids),
        *((field, _field(field)) for field in _PRODUCT_EXACT),
    ):
        wanted = {v for v in params.get(name, ()) if v}
        if wanted:
            tests.append(_any_of(value_of, wanted))
        unwanted = {v for v in params.get("-" + name, ()) if v}
        if unwanted:
            tests.append(_none_of(value_of, unwanted))
    return tests


_TESTS: dict[str, Callable[[SearchQuery], list[Callable[[Obj], bool]]]] = {
    "sales": _sale_tests,
    "customers": _customer_tests,
    "products": _product_tests,
}


def _lowered_sku(obj: Obj) -> set[str]:
    sku = obj.get("sku")
    return {sku.lower()} if isinstance(sku, str) else set()


def _tag_ids(obj: Obj) -> set[str]:
    return {str(t) for t in obj.get("tag_ids") or ()}


def _field(name: str) -> Callable[[Obj], set[str]]:
    return lambda obj: {str(obj[name])} if obj.get(name) is not None else set()


def _any_of(values: Callable[[Obj], set[str]], wanted: set[str]) -> Callable[[Obj], bool]:
    return lambda obj: not values(obj).isdisjoint(wanted)


def _none_of(values: Callable[[Obj], set[str]], unwanted: set[str]) -> Callable[[Obj], bool]:
    return lambda obj: values(obj).isdisjoint(unwanted)


def _exact(name: str, wanted: set[str]) -> Callable[[Obj], bool]:
    return lambda obj: str(obj.get(name)) in wanted


def _folded(name: str, wanted: set[str]) -> Callable[[Obj], bool]:
    return lambda obj: str(obj.get(name) or "").casefold() in wanted


def _ordered(objs: list[Obj], field: str, *, descending: bool) -> list[Obj]:
    # [INF] Objects without the attribute go last in either direction; ties keep
    # version order (Python's sort is stable, reversed or not).
    value_of = _first_tag if field == "tag_id" else _field_value(field)
    present = [o for o in objs if value_of(o) is not None]
    absent = [o for o in objs if value_of(o) is None]
    present.sort(key=lambda o: _sort_key(value_of(o)), reverse=descending)
    return present + absent


def _field_value(field: str) -> Callable[[Obj], Any]:
    return lambda obj: obj.get(field)


def _first_tag(obj: Obj) -> Any:
    tags = obj.get("tag_ids") or ()
    return tags[0] if tags else None


def _sort_key(value: Any) -> tuple[int, Any]:
    if isinstance(value, bool):
        return (0, int(value))
    if isinstance(value, int | float | Decimal):
        return (0, value)
    if isinstance(value, str):
        return (1, value)
    return (2, str(value))


def _sale_date(sale: Obj) -> datetime | None:
    raw = sale.get("sale_date")
    if not isinstance(raw, str):
        return None
    try:
        moment = datetime.fromisoformat(raw.replace(" ", "T"))
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _instant(params: Mapping[str, Sequence[str]], name: str) -> datetime | None:
    raw = _one(params, name)
    if not raw:
        return None
    try:
        moment = datetime.fromisoformat(raw)
    except ValueError:
        raise ApiError(400, f"{name} must be a UTC time like 2016-08-08T12:00:00Z") from None
    # Search dates are UTC (reference §4), so a time without an offset is read as UTC.
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _one(params: Mapping[str, Sequence[str]], name: str) -> str | None:
    values = params.get(name)
    return values[0] if values else None


def _int(params: Mapping[str, Sequence[str]], name: str, default: int, *, minimum: int) -> int:
    raw = _one(params, name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ApiError(400, f"{name} must be an integer") from None
    if value < minimum:
        raise ApiError(400, f"{name} must be at least {minimum}")
    return value

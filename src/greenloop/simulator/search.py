"""``GET /api/2.0/search``: offset paging, sorting and filters over sales and customers.

Documented (reference §4): ``type`` is required; paging is ``offset`` + ``page_size``
with "Specifying more than 1000 will result in 1000 objects being returned";
``order_by`` takes an attribute and ``order_direction`` asc or desc; ``deleted``
includes deleted objects; the envelope is ``{"data": [...]}`` only. The sales and
customer filters are the documented ones (``register_id`` and ``state`` from the
2026-05 additions). Matching rules the docs leave open are marked [INF].
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
_COLLECTION_OF = {"sales": "sales", "customers": "customers"}


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
        order_by=_one(params, "order_by") or "version",
        descending=direction == "desc",
        include_deleted=deleted in ("true", "1"),
        params=params,
    )


def run_search(state: SimState, query: SearchQuery) -> list[str]:
    """The JSON of each object on the requested page."""
    collection = _COLLECTION_OF.get(query.type)
    if collection is None:
        # Products and any other type hold nothing in this simulator.
        return []
    tests = _sale_tests(query) if collection == "sales" else _customer_tests(query)
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


def _exact(name: str, wanted: set[str]) -> Callable[[Obj], bool]:
    return lambda obj: str(obj.get(name)) in wanted


def _folded(name: str, wanted: set[str]) -> Callable[[Obj], bool]:
    return lambda obj: str(obj.get(name) or "").casefold() in wanted


def _ordered(objs: list[Obj], field: str, *, descending: bool) -> list[Obj]:
    # [INF] Objects without the attribute go last in either direction; ties keep
    # version order (Python's sort is stable, reversed or not).
    present = [o for o in objs if o.get(field) is not None]
    absent = [o for o in objs if o.get(field) is None]
    present.sort(key=lambda o: _sort_key(o[field]), reverse=descending)
    return present + absent


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

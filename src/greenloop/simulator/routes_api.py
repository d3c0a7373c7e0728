"""Read routes of the 2.0 API: the retailer, the token's user, version-cursor lists,
get-by-id, search.

Lists follow reference §2: ascending by version, ``after`` exclusive (default 0),
``before`` an exclusive upper bound, ``page_size`` clamped to the configured maximum,
``deleted=true`` to include soft-deleted objects, and ``{"data", "version"}`` with the
lowest and highest version on the page. ``GET /sales`` has no ``deleted`` parameter
in either spec, so it lists every sale. ``GET /products`` also takes ``sku``, ``name``
and ``family_name``, each of which, the spec says, makes it ignore every other
parameter.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from starlette.requests import Request
from starlette.responses import Response

from greenloop.simulator.context import SimContext
from greenloop.simulator.gate import ApiRoute, Endpoint
from greenloop.simulator.responses import (
    data_response,
    not_found,
    page_response,
    query_bool,
    query_int,
    raw_json,
)
from greenloop.simulator.search import parse_search, run_search
from greenloop.simulator.state import Obj

__all__ = ["API", "ListParams", "list_params", "read_routes"]

API = "/api/2.0"

# collection, its singular for "<thing> not found", and whether ``deleted`` applies.
# [INF] /users declares no ``deleted`` parameter; it is honoured anyway (a real server
# would ignore it and it changes nothing for a store without deleted users).
_READABLE: tuple[tuple[str, str, bool], ...] = (
    ("outlets", "outlet", True),
    ("registers", "register", True),
    ("users", "user", True),
    ("customer_groups", "customer group", True),
    ("customers", "customer", True),
    ("sales", "sale", False),
    ("products", "product", True),
)
# ListProducts: "Note that all other query params are ignored if this is provided."
_PRODUCT_LOOKUPS = (("sku", "sku"), ("name", "name"), ("family_name", "name"))


@dataclass(frozen=True)
class ListParams:
    after: int
    before: int | None
    page_size: int
    include_deleted: bool


def list_params(request: Request, ctx: SimContext, *, deletable: bool) -> ListParams:
    config = ctx.config
    after = query_int(request, "after", 0, minimum=0)
    page_size = query_int(request, "page_size", config.default_page_size, minimum=1)
    return ListParams(
        after=after or 0,
        before=query_int(request, "before", None, minimum=0),
        # Above the maximum is clamped rather than refused, like the search endpoint's
        # documented "more than 1000 ... will result in 1000" [INF for lists].
        page_size=min(page_size or config.default_page_size, config.max_page_size),
        # Without a ``deleted`` parameter (GET /sales) nothing is filtered out.
        include_deleted=query_bool(request, "deleted", False) if deletable else True,
    )


def read_routes(ctx: SimContext) -> list[ApiRoute]:
    """(method, path, handler) triples; the app wraps each handler with the gate."""
    routes: list[ApiRoute] = [
        ("GET", f"{API}/retailer", _retailer(ctx)),
        ("GET", f"{API}/user", _token_user(ctx)),
    ]
    for kind, thing, deletable in _READABLE:
        lister = _products(ctx) if kind == "products" else _lister(ctx, kind, deletable)
        routes.append(("GET", f"{API}/{kind}", lister))
        routes.append(("GET", f"{API}/{kind}/{{object_id}}", _getter(ctx, kind, thing)))
    routes.append(("GET", f"{API}/customer_groups/{{object_id}}/customers", _group_members(ctx)))
    routes.append(("GET", f"{API}/search", _search(ctx)))
    return routes


def _retailer(ctx: SimContext) -> Endpoint:
    async def handle(request: Request) -> Response:
        return data_response(ctx.state.retailer_json())

    return handle


def _token_user(ctx: SimContext) -> Endpoint:
    async def handle(request: Request) -> Response:
        # [INF] The simulator has one token and no login, so the token belongs to the
        # store's primary user (the account owner), else to its first user.
        users = ctx.state.snapshot("users", include_deleted=False)
        owner = next((u for u in users if u.get("is_primary_user") is True), None)
        user = owner or (users[0] if users else None)
        if user is None:
            raise not_found("user")
        # UserResponse: {"data": User}. (Its example shows a one-item list; the schema
        # and every other single-object response have the object itself.)
        return data_response(ctx.state.json_of("users", user))

    return handle


def _products(ctx: SimContext) -> Endpoint:
    listed = _lister(ctx, "products", True)

    async def handle(request: Request) -> Response:
        for name, field in _PRODUCT_LOOKUPS:
            wanted = request.query_params.get(name)
            if wanted is None:
                continue
            # [INF] An exact match; deleted products are not found; one page of them all.
            page = ctx.state.list_page(
                "products",
                page_size=max(1, ctx.state.count("products")),
                match=_equals(field, wanted),
            )
            return page_response(page, ctx.config.empty_version)
        return await listed(request)

    return handle


def _equals(field: str, wanted: str) -> Callable[[Obj], bool]:
    return lambda obj: obj.get(field) == wanted


def _lister(ctx: SimContext, kind: str, deletable: bool) -> Endpoint:
    async def handle(request: Request) -> Response:
        p = list_params(request, ctx, deletable=deletable)
        page = ctx.state.list_page(
            kind,
            after=p.after,
            before=p.before,
            page_size=p.page_size,
            include_deleted=p.include_deleted,
        )
        return page_response(page, ctx.config.empty_version)

    return handle


def _getter(ctx: SimContext, kind: str, thing: str) -> Endpoint:
    async def handle(request: Request) -> Response:
        # [INF] A deleted object is still readable by id, with its deleted_at set.
        text = ctx.state.get_json(kind, request.path_params["object_id"])
        if text is None:
            raise not_found(thing)
        return data_response(text)

    return handle


def _group_members(ctx: SimContext) -> Endpoint:
    async def handle(request: Request) -> Response:
        group_id = request.path_params["object_id"]
        if ctx.state.view("customer_groups", group_id) is None:
            raise not_found("customer group")
        p = list_params(request, ctx, deletable=True)
        page = ctx.state.list_page(
            "customers",
            after=p.after,
            before=p.before,
            page_size=p.page_size,
            include_deleted=p.include_deleted,
            match=lambda c: c.get("customer_group_id") == group_id,
        )
        return page_response(page, ctx.config.empty_version)

    return handle


def _search(ctx: SimContext) -> Endpoint:
    async def handle(request: Request) -> Response:
        params = {key: request.query_params.getlist(key) for key in request.query_params}
        query = parse_search(params, ctx.config.default_page_size)
        items = run_search(ctx.state, query)
        return raw_json('{"data":[' + ",".join(items) + "]}")

    return handle

"""Write routes for customers and customer groups (reference §5, §6).

Status codes are the spec's: create 201, update 200, delete 204 with an empty body,
add-to-group 201 with the body ``true``, remove-from-group 204.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from greenloop.simulator import ops_customers as ops
from greenloop.simulator.context import SimContext
from greenloop.simulator.gate import ApiRoute, Endpoint
from greenloop.simulator.model import dumps
from greenloop.simulator.responses import data_response, json_body, no_content, raw_json
from greenloop.simulator.routes_api import API

__all__ = ["customer_routes"]


def customer_routes(ctx: SimContext) -> list[ApiRoute]:
    one_customer = f"{API}/customers/{{object_id}}"
    one_group = f"{API}/customer_groups/{{object_id}}"
    return [
        ("POST", f"{API}/customers", _create_customer(ctx)),
        ("PUT", one_customer, _put_customer(ctx)),
        ("DELETE", one_customer, _delete_customer(ctx)),
        ("POST", f"{API}/customer_groups", _create_group(ctx)),
        ("PUT", one_group, _update_group(ctx)),
        ("DELETE", one_group, _delete_group(ctx)),
        ("POST", f"{one_group}/customers", _add_members(ctx)),
        ("DELETE", f"{one_group}/customers", _remove_members(ctx)),
    ]


def _create_customer(ctx: SimContext) -> Endpoint:
    async def handle(request: Request) -> Response:
        fields = ops.parse_customer_fields(await json_body(request), require_names=True)
        return data_response(dumps(ops.create_customer(ctx, fields)), status=201)

    return handle


def _put_customer(ctx: SimContext) -> Endpoint:
    async def handle(request: Request) -> Response:
        fields = ops.parse_customer_fields(await json_body(request), require_names=True)
        customer = ops.put_customer(ctx, request.path_params["object_id"], fields)
        return data_response(dumps(customer))

    return handle


def _delete_customer(ctx: SimContext) -> Endpoint:
    async def handle(request: Request) -> Response:
        ops.delete_customer(ctx, request.path_params["object_id"])
        return no_content()

    return handle


def _create_group(ctx: SimContext) -> Endpoint:
    async def handle(request: Request) -> Response:
        group = ops.create_group(ctx, await json_body(request))
        return data_response(dumps(group), status=201)

    return handle


def _update_group(ctx: SimContext) -> Endpoint:
    async def handle(request: Request) -> Response:
        group_id = request.path_params["object_id"]
        group = ops.update_group(ctx, group_id, await json_body(request))
        return data_response(dumps(group))

    return handle


def _delete_group(ctx: SimContext) -> Endpoint:
    async def handle(request: Request) -> Response:
        ops.delete_group(ctx, request.path_params["object_id"])
        return no_content()

    return handle


def _add_members(ctx: SimContext) -> Endpoint:
    async def handle(request: Request) -> Response:
        ops.add_to_group(ctx, request.path_params["object_id"], await json_body(request))
        # The spec answers 201 with a bare boolean (the 2026-07 schema says so too).
        return raw_json("true", status=201)

    return handle


def _remove_members(ctx: SimContext) -> Endpoint:
    async def handle(request: Request) -> Response:
        ops.remove_from_group(ctx, request.path_params["object_id"], await json_body(request))
        return no_content()

    return handle

"""The control API under ``/_sim/``: how tests and the demo drive the simulator.

Not part of Lightspeed's API: no token, no rate limit, no faults, not logged. It rings
up and changes sales, edits customers as staff would in the back office, moves the
clock, reads the request log, changes faults and the rate limit at run time, and
dumps the whole store for comparison with a synced database; ``GET /_sim/truth`` gives
the generator's lifecycle truth (who was active at the anchor, what they bought after).
Webhook delivery and the live change stream have their routes in ``routes_control_live``.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import replace
from decimal import Decimal
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from greenloop.simulator import ops_customers, ops_sales
from greenloop.simulator.clock import iso
from greenloop.simulator.context import SimContext
from greenloop.simulator.model import dumps
from greenloop.simulator.responses import (
    ApiError,
    data_response,
    json_body,
    json_response,
    no_content,
)
from greenloop.simulator.routes_control_live import live_control_routes
from greenloop.simulator.state import KINDS

__all__ = ["CONTROL", "control_routes"]

CONTROL = "/_sim"
Handler = Callable[[Request], Awaitable[Response]]


def control_routes(ctx: SimContext) -> list[BaseRoute]:
    table: list[tuple[str, str, Handler]] = [
        ("POST", "/sales", _create_sale(ctx)),
        ("PUT", "/sales/{object_id}", _merge_sale(ctx)),
        ("POST", "/customers", _create_customer(ctx)),
        ("PUT", "/customers/{object_id}", _merge_customer(ctx)),
        ("DELETE", "/customers/{object_id}", _delete_customer(ctx)),
        ("GET", "/clock", _clock(ctx)),
        ("POST", "/clock", _advance_clock(ctx)),
        ("GET", "/requests", _requests(ctx)),
        ("DELETE", "/requests", _clear_requests(ctx)),
        ("GET", "/faults", _faults(ctx)),
        ("PUT", "/faults", _set_faults(ctx)),
        ("GET", "/rate_limit", _rate_limit(ctx)),
        ("PUT", "/rate_limit", _set_rate_limit(ctx)),
        ("GET", "/store", _store(ctx)),
        ("GET", "/truth", _truth(ctx)),
        ("PUT", "/token", _set_token(ctx)),
        ("GET", "/info", _info(ctx)),
    ]
    routes: list[BaseRoute] = [Route(CONTROL + p, _plain(h), methods=[m]) for m, p, h in table]
    return routes + live_control_routes(ctx, CONTROL, _plain)


def _plain(handler: Handler) -> Handler:
    async def run(request: Request) -> Response:
        try:
            return await handler(request)
        except ApiError as error:
            return error.response()

    return run


async def _object_body(request: Request) -> dict[str, Any]:
    body = await json_body(request)
    if not isinstance(body, dict):
        raise ApiError(400, "Request body must be a JSON object")
    return body


def _create_sale(ctx: SimContext) -> Handler:
    async def handle(request: Request) -> Response:
        sale = ops_sales.create_sale(ctx, await json_body(request))
        return data_response(dumps(sale), status=201)

    return handle


def _merge_sale(ctx: SimContext) -> Handler:
    async def handle(request: Request) -> Response:
        sale_id = request.path_params["object_id"]
        sale = ops_sales.merge_sale(ctx, sale_id, await json_body(request))
        return data_response(dumps(sale))

    return handle


def _create_customer(ctx: SimContext) -> Handler:
    async def handle(request: Request) -> Response:
        body = await _object_body(request)
        customer = ops_customers.create_customer(ctx, body, strict=False)
        return data_response(dumps(customer), status=201)

    return handle


def _merge_customer(ctx: SimContext) -> Handler:
    async def handle(request: Request) -> Response:
        body = await _object_body(request)
        customer = ops_customers.merge_customer(ctx, request.path_params["object_id"], body)
        return data_response(dumps(customer))

    return handle


def _delete_customer(ctx: SimContext) -> Handler:
    async def handle(request: Request) -> Response:
        customer = ops_customers.delete_customer(ctx, request.path_params["object_id"])
        return data_response(dumps(customer))

    return handle


def _clock_body(ctx: SimContext) -> dict[str, Any]:
    return {"now": iso(ctx.clock.now()), "offset_seconds": ctx.clock.offset}


def _clock(ctx: SimContext) -> Handler:
    async def handle(request: Request) -> Response:
        return json_response(_clock_body(ctx))

    return handle


def _advance_clock(ctx: SimContext) -> Handler:
    async def handle(request: Request) -> Response:
        seconds = _plain_number((await _object_body(request)).get("advance_seconds"))
        if isinstance(seconds, bool) or not isinstance(seconds, int | float):
            raise ApiError(400, "advance_seconds must be a number")
        ctx.clock.advance(float(seconds))
        return json_response(_clock_body(ctx))

    return handle


def _requests(ctx: SimContext) -> Handler:
    async def handle(request: Request) -> Response:
        return json_response({"data": ctx.log.entries()})

    return handle


def _clear_requests(ctx: SimContext) -> Handler:
    async def handle(request: Request) -> Response:
        ctx.log.clear()
        return no_content()

    return handle


def _faults(ctx: SimContext) -> Handler:
    async def handle(request: Request) -> Response:
        return json_response({"data": ctx.faults.settings.as_dict()})

    return handle


def _set_faults(ctx: SimContext) -> Handler:
    async def handle(request: Request) -> Response:
        changes = {k: _plain_number(v) for k, v in (await _object_body(request)).items()}
        try:
            settings = ctx.faults.update(changes)
        except ValueError as error:
            raise ApiError(400, str(error)) from None
        return json_response({"data": settings.as_dict()})

    return handle


def _rate_limit_body(ctx: SimContext) -> dict[str, Any]:
    decision = ctx.limiter.peek(ctx.config.token)
    return {
        "limit": decision.limit,
        "documented_formula": ctx.limiter.uses_documented_limit,
        "window_seconds": ctx.limiter.window_seconds,
        "remaining": decision.remaining,
        "resets_at": decision.retry_after(),
    }


def _set_token(ctx: SimContext) -> Handler:
    """Replace the accepted token: the old one gets 401 from now on (a revoked token)."""

    async def handle(request: Request) -> Response:
        token = (await _object_body(request)).get("token")
        if not isinstance(token, str) or not token:
            raise ApiError(400, "token must be a non-empty string")
        ctx.config = replace(ctx.config, token=token)
        return no_content()

    return handle


def _rate_limit(ctx: SimContext) -> Handler:
    async def handle(request: Request) -> Response:
        return json_response({"data": _rate_limit_body(ctx)})

    return handle


def _set_rate_limit(ctx: SimContext) -> Handler:
    async def handle(request: Request) -> Response:
        body = {k: _plain_number(v) for k, v in (await _object_body(request)).items()}
        unknown = set(body) - {"limit", "window_seconds", "remaining", "reset"}
        if unknown:
            raise ApiError(400, f"unknown rate limit settings: {', '.join(sorted(unknown))}")
        try:
            if body.get("reset"):
                ctx.limiter.reset()
            if "limit" in body:
                limit = body["limit"]
                if limit is not None and not isinstance(limit, int):
                    raise ValueError("limit must be an integer or null")
                ctx.limiter.set_limit(limit)
            if "window_seconds" in body:
                ctx.limiter.set_window(_positive_number(body["window_seconds"]))
            if "remaining" in body:
                remaining = body["remaining"]
                if isinstance(remaining, bool) or not isinstance(remaining, int):
                    raise ValueError("remaining must be an integer")
                ctx.limiter.set_remaining(ctx.config.token, remaining)
        except ValueError as error:
            raise ApiError(400, str(error)) from None
        return json_response({"data": _rate_limit_body(ctx)})

    return handle


def _store(ctx: SimContext) -> Handler:
    async def handle(request: Request) -> Response:
        return json_response(ctx.state.dump())

    return handle


def _truth(ctx: SimContext) -> Handler:
    # What happened after the anchor, per generated person: the oracle a backtest is
    # scored against. A store file without it (hand-made, or older) has nothing to say.
    async def handle(request: Request) -> Response:
        lifecycle = ctx.state.truth.get("lifecycle")
        if lifecycle is None:
            raise ApiError(404, "This store carries no lifecycle truth (not generated with one)")
        return json_response(lifecycle)

    return handle


def _info(ctx: SimContext) -> Handler:
    async def handle(request: Request) -> Response:
        state = ctx.state
        counts = {
            kind: {
                "total": state.count(kind),
                "live": state.count(kind, include_deleted=False),
            }
            for kind in KINDS
        }
        config = ctx.config
        return json_response(
            {
                "version": state.version,
                "now": iso(ctx.clock.now()),
                "counts": counts,
                "default_page_size": config.default_page_size,
                "max_page_size": config.max_page_size,
                "empty_version": config.empty_version,
                "max_group_batch": config.max_group_batch,
                "rate_limit": _rate_limit_body(ctx),
                "faults": ctx.faults.settings.as_dict(),
            }
        )

    return handle


def _plain_number(value: Any) -> Any:
    """Control bodies are parsed with Decimals; settings want plain floats."""
    return float(value) if isinstance(value, Decimal) else value


def _positive_number(value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or value <= 0:
        raise ValueError("window_seconds must be a positive number")
    return float(value)

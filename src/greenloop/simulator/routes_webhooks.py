"""Webhook subscriptions: the 2.0 JSON API and the 0.9 form-encoded one (reference §8).

Both manage the same subscriptions. Only storage lives here; deliveries hang off the
state's change listeners.

2.0 (documented by the 2026-07 spec, reference §8): ``{url, active, type}`` all
required, ``url`` at least 3 characters, ``type`` one of seven values; create answers
201 ``{"data": Webhook}``, a second subscription with the same type and URL answers
409, delete answers 200. 0.9: ``POST /api/webhooks`` takes a form field ``data``
holding that JSON [3P]; its response shapes are not documented [INF].

A subscription created with an OAuth access token (either API) is the app's: its
deliveries are signed with the app's client secret (reference §8, "webhooks sent to
OAuth-authorised applications are signed"). Which subscriptions are an app's is kept
by the OAuth server, not in the subscription, whose shape stays the spec's.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qs

from starlette.requests import Request
from starlette.responses import Response

from greenloop.simulator.context import SimContext
from greenloop.simulator.gate import ApiRoute, Endpoint, caller_of
from greenloop.simulator.model import dumps, loads
from greenloop.simulator.responses import (
    ApiError,
    data_response,
    json_body,
    json_response,
    not_found,
    raw_json,
)
from greenloop.simulator.routes_api import API
from greenloop.simulator.state import Obj

__all__ = ["WEBHOOK_TYPES", "webhook_routes"]

WEBHOOK_TYPES = (
    "sale.update",
    "product.update",
    "customer.update",
    "inventory.update",
    "register_closure.create",
    "consignment.send",
    "consignment.receive",
)
_DUPLICATE = "A webhook with this type and URL already exists."
LEGACY = "/api/webhooks"


def webhook_routes(ctx: SimContext) -> list[ApiRoute]:
    one = f"{API}/webhooks/{{object_id}}"
    return [
        ("GET", f"{API}/webhooks", _list(ctx)),
        ("POST", f"{API}/webhooks", _create(ctx)),
        ("GET", one, _get(ctx)),
        ("PUT", one, _update(ctx)),
        ("DELETE", one, _delete(ctx)),
        ("GET", LEGACY, _legacy_list(ctx)),
        ("POST", LEGACY, _legacy_create(ctx)),
        ("DELETE", f"{LEGACY}/{{object_id}}", _legacy_delete(ctx)),
    ]


def _fields(body: Any, *, lenient_active: bool = False) -> dict[str, Any]:
    if not isinstance(body, dict):
        raise ApiError(400, "Request body must be a JSON object")
    url, kind, active = body.get("url"), body.get("type"), body.get("active")
    if lenient_active and isinstance(active, str) and active.lower() in ("true", "false"):
        # [INF] Form-era clients sometimes send the flag as text.
        active = active.lower() == "true"
    if not isinstance(url, str) or len(url) < 3:
        raise ApiError(400, "url is required and must be at least 3 characters")
    if kind not in WEBHOOK_TYPES:
        raise ApiError(400, f"type must be one of {', '.join(WEBHOOK_TYPES)}")
    if not isinstance(active, bool):
        raise ApiError(400, "active is required and must be true or false")
    return {"url": url, "type": kind, "active": active}


def _check_unique(ctx: SimContext, fields: dict[str, Any], own_id: str | None = None) -> None:
    for hook in ctx.state.snapshot("webhooks"):
        if hook["id"] != own_id and (hook["type"], hook["url"]) == (fields["type"], fields["url"]):
            raise ApiError(409, _DUPLICATE)


def _insert(ctx: SimContext, request: Request, fields: dict[str, Any]) -> Obj:
    state = ctx.state
    app = caller_of(request).client_id
    with state.lock:
        _check_unique(ctx, fields)
        hook = {"id": state.new_id(), "retailer_id": state.retailer().get("id"), **fields}
        if app is not None:
            # Under the state's lock, so no change is delivered unsigned in between.
            ctx.oauth.own_webhook(hook["id"], app)
        return state.insert("webhooks", hook)


def _remove(ctx: SimContext, hook_id: str) -> Obj | None:
    removed = ctx.state.remove("webhooks", hook_id)
    if removed is not None:
        ctx.oauth.forget_webhook(hook_id)
    return removed


def _list(ctx: SimContext) -> Endpoint:
    async def handle(request: Request) -> Response:
        return json_response({"data": ctx.state.snapshot("webhooks")})

    return handle


def _create(ctx: SimContext) -> Endpoint:
    async def handle(request: Request) -> Response:
        hook = _insert(ctx, request, _fields(await json_body(request)))
        return data_response(dumps(hook), status=201)

    return handle


def _get(ctx: SimContext) -> Endpoint:
    async def handle(request: Request) -> Response:
        text = ctx.state.get_json("webhooks", request.path_params["object_id"])
        if text is None:
            raise not_found("webhook")
        return data_response(text)

    return handle


def _update(ctx: SimContext) -> Endpoint:
    async def handle(request: Request) -> Response:
        hook_id = request.path_params["object_id"]
        fields = _fields(await json_body(request))
        state = ctx.state
        with state.lock:
            if state.view("webhooks", hook_id) is None:
                raise not_found("webhook")
            _check_unique(ctx, fields, own_id=hook_id)
            hook = state.update("webhooks", hook_id, lambda h: h.update(fields))
        return data_response(dumps(hook))

    return handle


def _delete(ctx: SimContext) -> Endpoint:
    async def handle(request: Request) -> Response:
        removed = _remove(ctx, request.path_params["object_id"])
        if removed is None:
            raise not_found("webhook")
        # [INF] The spec gives DELETE a 200 without a documented body; echo what went.
        return data_response(dumps(removed))

    return handle


def _legacy_list(ctx: SimContext) -> Endpoint:
    async def handle(request: Request) -> Response:
        # [INF] 0.9 lists are bare JSON arrays.
        return json_response(ctx.state.snapshot("webhooks"))

    return handle


def _legacy_create(ctx: SimContext) -> Endpoint:
    async def handle(request: Request) -> Response:
        form = parse_qs((await request.body()).decode("utf-8", "replace"))
        raw = form.get("data")
        if not raw:
            raise ApiError(400, "the form field 'data' is required")
        try:
            body = loads(raw[0])
        except ValueError:
            raise ApiError(400, "the form field 'data' must hold JSON") from None
        hook = _insert(ctx, request, _fields(body, lenient_active=True))
        return raw_json(dumps(hook))

    return handle


def _legacy_delete(ctx: SimContext) -> Endpoint:
    async def handle(request: Request) -> Response:
        if _remove(ctx, request.path_params["object_id"]) is None:
            raise not_found("webhook")
        return json_response({"status": "success"})

    return handle

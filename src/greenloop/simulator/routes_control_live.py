"""Control routes for the live side of the simulator: webhook delivery and the change
stream. Like the rest of ``/_sim/``: no token, no rate limit, no faults.

- ``GET /_sim/webhooks``: the delivery knobs (a secret shows as ``***``) and figures.
- ``PUT /_sim/webhooks``: change knobs; ``"running": true|false`` starts or stops
  sending in the background.
- ``POST /_sim/webhooks/flush``: send everything queued now, skipping delays and
  back-off; answers the attempts made.
- ``GET /_sim/webhooks/deliveries``: every attempt so far (URL tokens masked).
- ``POST /_sim/live``: ``{"steps": N, "seed": S}`` makes N live changes (the stream is
  created on first use, with ``seed``) and answers what they were.
"""

from __future__ import annotations

import threading
from collections.abc import Awaitable, Callable
from decimal import Decimal
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from greenloop.simulator.context import SimContext
from greenloop.simulator.live import LiveStream
from greenloop.simulator.responses import ApiError, json_body, json_response

__all__ = ["live_control_routes"]

Handler = Callable[[Request], Awaitable[Response]]
_MAX_STEPS = 100_000


def live_control_routes(
    ctx: SimContext, prefix: str, plain: Callable[[Handler], Handler]
) -> list[BaseRoute]:
    streams: dict[str, LiveStream] = {}
    table: list[tuple[str, str, Handler]] = [
        ("GET", "/webhooks", _webhooks(ctx)),
        ("PUT", "/webhooks", _set_webhooks(ctx)),
        ("POST", "/webhooks/flush", _flush(ctx)),
        ("GET", "/webhooks/deliveries", _deliveries(ctx)),
        ("POST", "/live", _live(ctx, streams)),
    ]
    return [Route(prefix + path, plain(h), methods=[m]) for m, path, h in table]


def _plain_value(value: Any) -> Any:
    """Control bodies are parsed with Decimals; knobs want plain floats."""
    return float(value) if isinstance(value, Decimal) else value


async def _object(request: Request) -> dict[str, Any]:
    body = await json_body(request) if await request.body() else {}
    if not isinstance(body, dict):
        raise ApiError(400, "Request body must be a JSON object")
    return {k: _plain_value(v) for k, v in body.items()}


def _status(ctx: SimContext) -> dict[str, Any]:
    sender = ctx.webhooks
    return {"settings": sender.knobs.shown(), "stats": sender.stats()}


def _webhooks(ctx: SimContext) -> Handler:
    async def handle(request: Request) -> Response:
        return json_response({"data": _status(ctx)})

    return handle


def _set_webhooks(ctx: SimContext) -> Handler:
    async def handle(request: Request) -> Response:
        body = await _object(request)
        running = body.pop("running", None)
        if running is not None and not isinstance(running, bool):
            raise ApiError(400, "running must be true or false")
        try:
            ctx.webhooks.update(body)
        except ValueError as error:
            raise ApiError(400, str(error)) from None
        if running is True:
            ctx.webhooks.start()
        elif running is False:
            await run_in_threadpool(ctx.webhooks.stop)
        return json_response({"data": _status(ctx)})

    return handle


def _flush(ctx: SimContext) -> Handler:
    async def handle(request: Request) -> Response:
        timeout = (await _object(request)).get("timeout_seconds", 60.0)
        if isinstance(timeout, bool) or not isinstance(timeout, int | float) or timeout <= 0:
            raise ApiError(400, "timeout_seconds must be a positive number")
        attempts = await run_in_threadpool(ctx.webhooks.flush, float(timeout))
        made = [a.as_json() for a in attempts]
        return json_response({"data": made, "stats": ctx.webhooks.stats()})

    return handle


def _deliveries(ctx: SimContext) -> Handler:
    async def handle(request: Request) -> Response:
        return json_response({"data": [a.as_json() for a in ctx.webhooks.attempts()]})

    return handle


def _live(ctx: SimContext, streams: dict[str, LiveStream]) -> Handler:
    # One stream per simulator, driven by one request at a time.
    lock = threading.Lock()

    def run(steps: int, seed: int) -> list[dict[str, Any]]:
        with lock:
            stream = streams.get("stream")
            if stream is None:
                stream = streams["stream"] = LiveStream(ctx, seed)
            return [c.as_json() for c in stream.run(steps)]

    async def handle(request: Request) -> Response:
        body = await _object(request)
        steps, seed = body.get("steps", 1), body.get("seed", 0)
        for name, value in (("steps", steps), ("seed", seed)):
            if isinstance(value, bool) or not isinstance(value, int):
                raise ApiError(400, f"{name} must be an integer")
        if not 0 <= steps <= _MAX_STEPS:
            raise ApiError(400, f"steps must be between 0 and {_MAX_STEPS}")
        return json_response({"data": await run_in_threadpool(run, steps, seed)})

    return handle

"""What every ``/api`` request passes through before and after its handler.

In order: bearer-token check (401), rate limit (429), injected faults (delay, 500,
broken body), the handler itself, then the rate-limit headers and a request-log
entry. The control API under ``/_sim/`` does not pass through here.
"""

from __future__ import annotations

import asyncio
import hmac
import logging
from collections.abc import Awaitable, Callable

from starlette.requests import Request
from starlette.responses import Response

from greenloop.simulator.context import SimContext
from greenloop.simulator.faults import FaultPlan
from greenloop.simulator.ratelimit import RateDecision
from greenloop.simulator.responses import JSON_TYPE, ApiError

__all__ = ["ApiRoute", "Endpoint", "guarded"]

_log = logging.getLogger(__name__)

Endpoint = Callable[[Request], Awaitable[Response]]
# (method, path, handler): route modules hand these to the app, which wraps each
# handler with :func:`guarded`.
ApiRoute = tuple[str, str, Endpoint]


def guarded(ctx: SimContext, endpoint: Endpoint) -> Endpoint:
    """Wrap an API handler with auth, rate limit, faults, headers and logging."""

    async def run(request: Request) -> Response:
        arrived = ctx.clock.now()
        decision, response, plan = await _answer(ctx, endpoint, request)
        for name, value in decision.headers().items():
            response.headers[name] = value
        ctx.log.record(
            {
                # Arrival time, to the microsecond (unlike API timestamps): the log is
                # for ordering requests and checking waits between them.
                "time": arrived.isoformat(),
                "method": request.method,
                "path": request.url.path,
                "query": request.url.query,
                "status": response.status_code,
                "rate_limit_remaining": decision.remaining,
                "retry_after": response.headers.get("Retry-After"),
                "fault": plan.label if plan is not None else None,
            }
        )
        return response

    return run


async def _answer(
    ctx: SimContext, endpoint: Endpoint, request: Request
) -> tuple[RateDecision, Response, FaultPlan | None]:
    token = _bearer_token(request)
    if token is None or not hmac.compare_digest(token.encode(), ctx.config.token.encode()):
        # [INF] A refused token spends nothing; the headers show the real token's budget.
        decision = ctx.limiter.peek(ctx.config.token)
        return decision, ApiError(401, "Access token is not valid").response(), None
    decision = ctx.limiter.check(token)
    if not decision.allowed:
        error = ApiError(
            429,
            "Too Many Requests",
            "Rate limiting enforced",
            headers={"Retry-After": decision.retry_after()},
        )
        return decision, error.response(), None
    plan = ctx.faults.plan(request.method)
    if plan.delay_seconds > 0:
        await asyncio.sleep(plan.delay_seconds)
    if plan.error:
        return decision, ApiError(500, "Internal Server Error").response(), plan
    try:
        response = await endpoint(request)
    except ApiError as error:
        response = error.response()
    except Exception:
        # A simulator bug still answers like the API would (JSON, rate-limit headers)
        # so the client under test sees a 500, and the traceback goes to the log.
        _log.exception("simulator handler failed: %s %s", request.method, request.url.path)
        response = ApiError(500, "Internal Server Error").response()
    if plan.malformed:
        response = _truncated(response)
    return decision, response, plan


def _bearer_token(request: Request) -> str | None:
    header = request.headers.get("authorization", "")
    scheme, _, credentials = header.partition(" ")
    if scheme.lower() != "bearer" or not credentials.strip():
        return None
    return credentials.strip()


def _truncated(response: Response) -> Response:
    """A 200 whose JSON body stops half way, as a cut connection or proxy would leave it."""
    body = bytes(response.body)
    cut = body[: len(body) // 2] if len(body) > 2 else b'{"data": ['
    return Response(cut, status_code=200, media_type=JSON_TYPE)

"""What every ``/api`` request passes through before and after its handler.

In order: bearer-token check (401: the personal token, or a live OAuth access
token), scope check (403 naming the missing scope; simulator/scopes.py), rate limit
(429; one bucket for the personal token, one per OAuth app), injected faults (delay,
500, broken body), the handler itself, then the rate-limit headers and a request-log
entry. The control API under ``/_sim/`` and the OAuth token endpoint do not pass
through here.

Refused requests (401, 403, 429) spend no budget [INF].
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
from greenloop.simulator.oauth import Caller, personal_caller
from greenloop.simulator.ratelimit import RateDecision
from greenloop.simulator.responses import JSON_TYPE, ApiError
from greenloop.simulator.scopes import Need, required_scope

__all__ = ["ApiRoute", "Endpoint", "caller_of", "guarded"]

_CALLER = "greenloop.simulator.caller"

_log = logging.getLogger(__name__)

Endpoint = Callable[[Request], Awaitable[Response]]
# (method, path, handler): route modules hand these to the app, which wraps each
# handler with :func:`guarded`.
ApiRoute = tuple[str, str, Endpoint]


def guarded(ctx: SimContext, endpoint: Endpoint, need: Need | None = None) -> Endpoint:
    """Wrap an API handler with auth, scope check (``need``; None: no scope needed),
    rate limit, faults, headers and logging."""

    async def run(request: Request) -> Response:
        arrived = ctx.clock.now()
        decision, response, plan = await _answer(ctx, endpoint, request, need)
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


def caller_of(request: Request) -> Caller:
    """Who sent a request that passed the gate (the personal token or an OAuth app)."""
    caller = request.scope.get(_CALLER)
    if not isinstance(caller, Caller):
        raise RuntimeError("caller_of() needs a request that passed the gate")
    return caller


def _caller(ctx: SimContext, request: Request) -> Caller | None:
    token = _bearer_token(request)
    if token is None:
        return None
    personal = ctx.config.token
    if hmac.compare_digest(token.encode(), personal.encode()):
        return personal_caller(personal)
    return ctx.oauth.authenticate(token)


async def _answer(
    ctx: SimContext, endpoint: Endpoint, request: Request, need: Need | None
) -> tuple[RateDecision, Response, FaultPlan | None]:
    caller = _caller(ctx, request)
    if caller is None:
        # [INF] A refused token spends nothing; the headers show the real token's budget.
        decision = ctx.limiter.peek(ctx.config.token)
        return decision, ApiError(401, "Access token is not valid").response(), None
    request.scope[_CALLER] = caller
    scope = required_scope(need, request.query_params) if need is not None else None
    if scope is not None and not caller.allows(scope):
        decision = ctx.limiter.peek(caller.bucket)
        error = ApiError(403, "permission denied", f"missing scope: {scope}")
        return decision, error.response(), None
    decision = ctx.limiter.check(caller.bucket)
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

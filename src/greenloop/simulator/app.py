"""The simulator's ASGI application: X-Series API 2.0 (and 0.9 webhooks), the OAuth
authorization server (``/connect``, ``/api/1.0/token``) plus ``/_sim/``.

Build it with :func:`create_app`; nothing is created at import time.
"""

from __future__ import annotations

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from greenloop.simulator.clock import Clock
from greenloop.simulator.config import SimulatorConfig
from greenloop.simulator.context import RequestLog, SimContext
from greenloop.simulator.faults import Faults, FaultSettings
from greenloop.simulator.gate import ApiRoute, guarded
from greenloop.simulator.oauth import OAuthServer
from greenloop.simulator.ratelimit import RateLimiter, documented_limit
from greenloop.simulator.responses import ApiError
from greenloop.simulator.routes_api import read_routes
from greenloop.simulator.routes_control import control_routes
from greenloop.simulator.routes_customers import customer_routes
from greenloop.simulator.routes_oauth import oauth_routes
from greenloop.simulator.routes_webhooks import webhook_routes
from greenloop.simulator.scopes import scope_for
from greenloop.simulator.state import SimState
from greenloop.simulator.webhook_sender import WebhookSender

__all__ = ["SimulatorConfig", "api_routes", "app_for", "create_app", "create_context"]

_ANY_METHOD = ["GET", "POST", "PUT", "PATCH", "DELETE"]


def create_context(
    state: SimState,
    config: SimulatorConfig,
    *,
    clock: Clock | None = None,
    log: RequestLog | None = None,
) -> SimContext:
    """The shared parts of one simulator, built from its start-up settings.

    The webhook sender listens to ``state`` from here on but sends nothing until
    ``ctx.webhooks.start()`` (or a test steps it)."""
    clock = clock or Clock()
    limiter = RateLimiter(
        clock,
        limit=config.rate_limit,
        window_seconds=config.rate_window_seconds,
        default_limit=lambda: documented_limit(state.count("registers", include_deleted=False)),
    )
    faults = Faults(
        FaultSettings(
            error_rate=config.error_rate,
            write_error_rate=config.write_error_rate,
            latency_ms=config.latency_ms,
            timeout_rate=config.timeout_rate,
            timeout_seconds=config.timeout_seconds,
            malformed_rate=config.malformed_rate,
        ),
        seed=config.fault_seed,
    )
    oauth = OAuthServer(config.oauth(), clock=clock.time)
    webhooks = WebhookSender(
        state,
        config.webhooks,
        seed=config.fault_seed,
        clock=clock.time,
        subscription_secret=oauth.webhook_secret,
    )
    return SimContext(
        state=state,
        config=config,
        clock=clock,
        limiter=limiter,
        faults=faults,
        webhooks=webhooks,
        oauth=oauth,
        log=log or RequestLog(),
    )


def create_app(
    state: SimState, config: SimulatorConfig, *, clock: Clock | None = None
) -> Starlette:
    """The simulator app serving ``state``; pass ``clock`` to control time."""
    return app_for(create_context(state, config, clock=clock))


def app_for(ctx: SimContext) -> Starlette:
    """The app over an existing context, for callers that keep a handle on its parts
    (the rate limiter, the faults, the request log)."""
    # Every API route needs a scope from simulator/scopes.py (KeyError if one has none).
    routes: list[BaseRoute] = [
        Route(path, guarded(ctx, handler, scope_for(method, path)), methods=[method])
        for method, path, handler in api_routes(ctx)
    ]
    # The authorize page, the token endpoint (before the catch-all below) and their
    # control routes.
    routes.extend(oauth_routes(ctx))
    # Last among the /api routes: anything unmatched still gets auth, rate-limit
    # headers and a JSON error body, like the rest of the API.
    routes.append(Route("/api/{rest:path}", guarded(ctx, _unknown), methods=_ANY_METHOD))
    routes.extend(control_routes(ctx))
    return Starlette(routes=routes)


def api_routes(ctx: SimContext) -> list[ApiRoute]:
    """Every Lightspeed API route the simulator serves, as (method, path, handler)."""
    return [*read_routes(ctx), *customer_routes(ctx), *webhook_routes(ctx)]


async def _unknown(request: Request) -> Response:
    raise ApiError(404, "Not Found")

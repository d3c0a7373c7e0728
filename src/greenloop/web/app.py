"""The ASGI application factory. Nothing is built at import time.

The app is assembled from route lists (webhooks, health, and whatever the caller adds,
such as the dashboard), with the settings and engine passed in explicitly. Every
response leaves with ``X-Content-Type-Options: nosniff`` (static files, ``/metrics``,
``/healthz`` and errors included), and an HTTP error no route answered itself (an
unknown path, a wrong method) comes in the one error envelope of ``web.responses``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime

from sqlalchemy import Engine
from starlette.applications import Starlette
from starlette.datastructures import MutableHeaders
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from greenloop.config import Settings
from greenloop.web.health import health_routes
from greenloop.web.oauth_callback import oauth_routes
from greenloop.web.responses import error_response
from greenloop.web.webhooks import WebhookReceiver, webhook_routes

__all__ = ["NoSniff", "create_app", "oauth_secret"]

NOSNIFF = ("X-Content-Type-Options", "nosniff")
# Codes for the HTTP errors Starlette raises itself (routing, static files).
_HTTP_CODES = {404: "not_found", 405: "method_not_allowed"}


class NoSniff:
    """ASGI middleware: every HTTP response says ``X-Content-Type-Options: nosniff``
    (a response that sets the header itself keeps its own)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_nosniff(message: Message) -> None:
            if message["type"] == "http.response.start":
                MutableHeaders(scope=message).setdefault(*NOSNIFF)
            await send(message)

        await self.app(scope, receive, send_nosniff)


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    if exc.status_code in (204, 304):  # no body allowed
        return Response(status_code=exc.status_code, headers=exc.headers)
    code = _HTTP_CODES.get(exc.status_code, "http_error")
    message = "no such path" if exc.status_code == 404 else str(exc.detail)
    response = error_response(exc.status_code, code, message)
    response.headers.update(exc.headers or {})
    return response


async def _server_error(request: Request, exc: Exception) -> Response:
    # Runs outside the middleware stack (Starlette's ServerErrorMiddleware), so it sets
    # the header itself. The exception is logged there; the answer names no detail.
    response = error_response(500, "internal_error", "the server failed to answer")
    response.headers.setdefault(*NOSNIFF)
    return response


def oauth_secret(settings: Settings) -> str:
    """The key of signed deliveries once connected as an add-on ("" without one)."""
    ls = settings.lightspeed
    return ls.client_secret.get_secret_value().strip() if ls.oauth_configured() else ""


def create_app(
    settings: Settings,
    engine: Engine,
    *,
    routes: Sequence[BaseRoute] = (),
    clock: Callable[[], datetime] | None = None,
    receiver: WebhookReceiver | None = None,
) -> Starlette:
    """Webhook receiver and health check on ``engine``, plus ``routes`` (mounted last).

    Pass ``receiver`` to keep a handle on it (``serve`` reads how busy it is)."""
    receiver = receiver or WebhookReceiver(
        settings.webhooks, engine, clock=clock, oauth_secret=oauth_secret(settings)
    )
    return Starlette(
        routes=[
            *webhook_routes(receiver),
            *health_routes(engine, clock=clock),
            *oauth_routes(settings, engine),
            *routes,
        ],
        middleware=[Middleware(NoSniff)],
        exception_handlers={HTTPException: _http_error, Exception: _server_error},
    )

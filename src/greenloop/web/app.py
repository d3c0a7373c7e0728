"""The ASGI application factory. Nothing is built at import time.

The app is assembled from route lists (webhooks, health, and whatever the caller adds,
such as the dashboard), with the settings and engine passed in explicitly.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime

from sqlalchemy import Engine
from starlette.applications import Starlette
from starlette.routing import BaseRoute

from greenloop.config import Settings
from greenloop.web.health import health_routes
from greenloop.web.webhooks import WebhookReceiver, webhook_routes

__all__ = ["create_app"]


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
    receiver = receiver or WebhookReceiver(settings.webhooks, engine, clock=clock)
    return Starlette(
        routes=[
            *webhook_routes(receiver),
            *health_routes(engine, clock=clock),
            *routes,
        ]
    )

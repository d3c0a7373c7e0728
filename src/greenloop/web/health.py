"""``GET /healthz``: the process answers and the database is reachable."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Engine, text
from sqlalchemy.exc import SQLAlchemyError
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from greenloop.store import inbox
from greenloop.web.responses import error_response, json_response

__all__ = ["health_routes"]


def health_routes(
    engine: Engine, *, clock: Callable[[], datetime] | None = None
) -> list[BaseRoute]:
    now = clock or (lambda: datetime.now(UTC))

    def check() -> dict[str, Any]:
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
            stats = inbox.inbox_stats(conn, now())
        return {
            "status": "ok",
            "database": "ok",
            "inbox": {
                "depth": stats.depth,
                "parked": stats.by_status.get("parked", 0),
                "oldest_pending_seconds": stats.oldest_pending_seconds,
            },
        }

    async def healthz(request: Request) -> Response:
        try:
            return json_response(await run_in_threadpool(check))
        except SQLAlchemyError as exc:
            return error_response(
                503, "database_unavailable", f"the database is not reachable ({type(exc).__name__})"
            )

    return [Route("/healthz", healthz, methods=["GET"])]

"""``GET /oauth/callback``: where Lightspeed sends the store owner back after the
authorize page. The route only reads the query and calls
:func:`greenloop.services.connect.finish_connect` (which checks the state, trades the
code and stores the tokens); it answers a small HTML page either way, naming no token.
"""

from __future__ import annotations

import html
import logging

from sqlalchemy import Engine
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import BaseRoute, Route

from greenloop.config import Settings
from greenloop.errors import GreenLoopError
from greenloop.logs import redact
from greenloop.services.connect import CALLBACK_PATH, finish_connect

__all__ = ["oauth_routes"]

log = logging.getLogger(__name__)

_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{title}</title>
<meta name="referrer" content="no-referrer"></head>
<body><main><h1>{title}</h1><p>{body}</p></main></body></html>
"""


def _page(status: int, title: str, body: str) -> Response:
    text = _PAGE.format(title=html.escape(title), body=html.escape(body))
    # The URL carried a one-time code: keep it out of caches and referrers.
    headers = {"Cache-Control": "no-store", "Referrer-Policy": "no-referrer"}
    return HTMLResponse(text, status_code=status, headers=headers)


def oauth_routes(settings: Settings, engine: Engine) -> list[BaseRoute]:
    async def callback(request: Request) -> Response:
        query = request.query_params
        try:
            status = await run_in_threadpool(
                finish_connect,
                settings,
                state=query.get("state", ""),
                code=query.get("code", ""),
                error=query.get("error", ""),
                domain_prefix=query.get("domain_prefix", ""),
                engine=engine,
            )
        except GreenLoopError as exc:
            line = redact(exc.one_line(), settings.secrets())
            log.warning("Lightspeed connection not made: %s", line)
            denied = query.get("error") == "access_denied"
            title = "GreenLoop was not connected" if denied else "Connection failed"
            return _page(403 if denied else 400, title, line)
        return _page(
            200,
            "GreenLoop is connected",
            f"GreenLoop is connected to the Lightspeed store {status.domain_prefix} with "
            f"the scopes {' '.join(status.scopes)}. You can close this page.",
        )

    return [Route(CALLBACK_PATH, callback, methods=["GET"])]

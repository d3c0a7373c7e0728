"""HTTP side of the simulator's OAuth server (simulator/oauth.py holds the rules).

- ``GET /connect?response_type=code&client_id=…&redirect_uri=…&state=…&scope=…``: the
  authorize page (store name, the scopes asked for in words, Approve and Deny). It
  stands in for ``https://secure.retail.lightspeed.app/connect`` (reference §1).
- ``POST /connect``: the page's form (the same parameters plus ``decision=approve|
  deny``); answers 302 to the redirect URI.
- ``POST /api/1.0/token``: the token endpoint, form-encoded only. Not counted in the
  API rate limit; it has a budget of its own per client and answers
  ``X-RateLimit-Limit``/``-Remaining``/``-Reset`` (Reset in epoch seconds), as the
  authorization page is reported to say (reference §9) [3P; its size is INF].

Control routes, like the rest of ``/_sim/`` (no token, no rate limit, not logged):

- ``POST /_sim/oauth/authorize``: JSON ``{client_id, redirect_uri, state, scope,
  decision}``, the form's logic without a browser; answers ``{"location": url}``.
- ``POST /_sim/oauth/revoke``: the retailer removes the add-on; every code, access
  and refresh token of the connection stops working.
- ``POST /_sim/oauth/expire_access``: every live access token expires now.
- ``GET /_sim/oauth/state``: counts (never a token or secret), the settings and the
  app's API rate-limit bucket.
- ``POST /_sim/oauth/settings``: ``{access_token_seconds?, refresh_token_seconds?,
  refresh_grace?}`` for tokens issued from now on.
"""

from __future__ import annotations

import html
import math
from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import parse_qs

from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import BaseRoute, Route

from greenloop.simulator.context import SimContext
from greenloop.simulator.oauth import (
    AuthorizePageError,
    AuthorizeRequest,
    OAuthError,
    bucket_of,
)
from greenloop.simulator.ratelimit import RateDecision, RateLimiter
from greenloop.simulator.responses import ApiError, json_body, json_response
from greenloop.simulator.scopes import SCOPE_WORDS

__all__ = ["CONNECT", "TOKEN_PATH", "TOKEN_RATE_LIMIT", "TOKEN_RATE_WINDOW", "oauth_routes"]

CONNECT = "/connect"
TOKEN_PATH = "/api/1.0/token"  # noqa: S105 (a path, not a password)
CONTROL = "/_sim/oauth"
# [INF] The token endpoint's own limit: its values are "subject to change" and not
# stated anywhere we could read, so a generous one, per client, per minute.
TOKEN_RATE_LIMIT = 120
TOKEN_RATE_WINDOW = 60.0
_FORM = "application/x-www-form-urlencoded"
_NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}
_AUTHORIZE_FIELDS = ("response_type", "client_id", "redirect_uri", "state", "scope")

Handler = Callable[[Request], Awaitable[Response]]


def oauth_routes(ctx: SimContext) -> list[BaseRoute]:
    """The authorize page, the token endpoint and the ``/_sim/oauth`` control routes."""
    limiter = RateLimiter(
        ctx.clock,
        limit=TOKEN_RATE_LIMIT,
        window_seconds=TOKEN_RATE_WINDOW,
        default_limit=lambda: TOKEN_RATE_LIMIT,
    )
    control: list[tuple[str, str, Handler]] = [
        ("POST", "/authorize", _control_authorize(ctx)),
        ("POST", "/revoke", _revoke(ctx)),
        ("POST", "/expire_access", _expire_access(ctx)),
        ("GET", "/state", _state(ctx)),
        ("POST", "/settings", _settings(ctx)),
    ]
    return [
        Route(CONNECT, _connect_page(ctx), methods=["GET"]),
        Route(CONNECT, _connect_decision(ctx), methods=["POST"]),
        Route(TOKEN_PATH, _token(ctx, limiter), methods=["POST"]),
        *(Route(CONTROL + path, _plain(h), methods=[m]) for m, path, h in control),
    ]


# -- the authorize page ------------------------------------------------------------------


def _connect_page(ctx: SimContext) -> Handler:
    async def handle(request: Request) -> Response:
        authorize = AuthorizeRequest.from_params(request.query_params)
        try:
            screened = ctx.oauth.screen(authorize)
        except AuthorizePageError as error:
            return _error_page(str(error))
        if isinstance(screened, str):
            return _redirect(screened)
        return HTMLResponse(_page(ctx, authorize, screened))

    return handle


def _connect_decision(ctx: SimContext) -> Handler:
    async def handle(request: Request) -> Response:
        form = _single_values(await request.body())
        authorize = AuthorizeRequest.from_params(form)
        try:
            location = ctx.oauth.decide(
                authorize, form.get("decision", ""), domain_prefix=_domain_prefix(ctx)
            )
        except AuthorizePageError as error:
            return _error_page(str(error))
        return _redirect(location)

    return handle


def _page(ctx: SimContext, request: AuthorizeRequest, scopes: tuple[str, ...]) -> str:
    store = html.escape(str(ctx.state.retailer().get("name") or _domain_prefix(ctx)))
    app = html.escape(request.client_id)
    asked = "\n".join(
        f"<li><strong>{html.escape(SCOPE_WORDS[s])}</strong> <code>{html.escape(s)}</code></li>"
        for s in scopes
    )
    values = {
        "response_type": request.response_type,
        "client_id": request.client_id,
        "redirect_uri": request.redirect_uri,
        "state": request.state,
        "scope": request.scope,
    }
    hidden = "\n".join(
        f'<input type="hidden" name="{name}" value="{html.escape(value)}">'
        for name in _AUTHORIZE_FIELDS
        if (value := values[name]) is not None
    )
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Connect {app} to {store}</title></head>
<body>
<h1>Connect {app} to {store}</h1>
<p>The add-on <strong>{app}</strong> asks to access your store <strong>{store}</strong>:</p>
<ul>
{asked}
</ul>
<form method="post" action="{CONNECT}">
{hidden}
<button type="submit" name="decision" value="approve">Approve</button>
<button type="submit" name="decision" value="deny">Deny</button>
</form>
<p><small>Lightspeed Retail X-Series simulator</small></p>
</body></html>
"""


def _error_page(message: str) -> Response:
    text = html.escape(message)
    body = (
        '<!doctype html><html lang="en"><head><meta charset="utf-8">'
        f"<title>Cannot connect</title></head><body><h1>Cannot connect</h1><p>{text}</p>"
        "</body></html>"
    )
    return HTMLResponse(body, status_code=400)


def _redirect(location: str) -> Response:
    return Response(status_code=302, headers={"Location": location})


# -- the token endpoint -------------------------------------------------------------------


def _token(ctx: SimContext, limiter: RateLimiter) -> Handler:
    async def handle(request: Request) -> Response:
        raw = await request.body()
        form = _single_values(raw)
        decision = limiter.check(form.get("client_id", ""))
        headers = {**_NO_STORE, **_token_rate_headers(decision)}
        if not decision.allowed:
            headers["Retry-After"] = decision.retry_after()
            body = {"error": "Too Many Requests", "message": "Rate limiting enforced"}
            return json_response(body, status=429, headers=headers)
        content_type = request.headers.get("content-type", "")
        if content_type.split(";")[0].strip().lower() != _FORM:
            error = OAuthError(
                400, "invalid_request", f"The token endpoint takes {_FORM} bodies only"
            )
            return json_response(error.body(), status=error.status, headers=headers)
        try:
            tokens = ctx.oauth.token(form)
        except OAuthError as error:
            return json_response(error.body(), status=error.status, headers=headers)
        return json_response(tokens.body(_domain_prefix(ctx)), headers=headers)

    return handle


def _token_rate_headers(decision: RateDecision) -> dict[str, str]:
    return {
        **decision.headers(),
        "X-RateLimit-Reset": str(math.ceil(decision.resets_at)),
    }


# -- control -------------------------------------------------------------------------------


def _plain(handler: Handler) -> Handler:
    async def run(request: Request) -> Response:
        try:
            return await handler(request)
        except ApiError as error:
            return error.response()

    return run


async def _object(request: Request) -> dict[str, Any]:
    body = await json_body(request) if (await request.body()).strip() else {}
    if not isinstance(body, dict):
        raise ApiError(400, "Request body must be a JSON object")
    return body


def _control_authorize(ctx: SimContext) -> Handler:
    async def handle(request: Request) -> Response:
        body = await _object(request)
        params = {"response_type": "code", **body}
        decision = body.get("decision")
        if decision not in ("approve", "deny"):
            raise ApiError(400, "decision must be approve or deny")
        try:
            location = ctx.oauth.decide(
                AuthorizeRequest.from_params(params),
                str(decision),
                domain_prefix=_domain_prefix(ctx),
            )
        except AuthorizePageError as error:
            raise ApiError(400, "invalid_request", str(error)) from None
        return json_response({"location": location})

    return handle


def _revoke(ctx: SimContext) -> Handler:
    async def handle(request: Request) -> Response:
        return json_response({"revoked_authorizations": ctx.oauth.revoke_all()})

    return handle


def _expire_access(ctx: SimContext) -> Handler:
    async def handle(request: Request) -> Response:
        return json_response({"expired_access_tokens": ctx.oauth.expire_access()})

    return handle


def _state(ctx: SimContext) -> Handler:
    async def handle(request: Request) -> Response:
        figures = ctx.oauth.figures()
        settings = ctx.oauth.settings
        if settings.enabled:
            # The app's API budget (one bucket for all its connections), spending nothing.
            decision = ctx.limiter.peek(bucket_of(settings.client_id))
            figures["rate_limit"] = {"limit": decision.limit, "remaining": decision.remaining}
        return json_response(figures)

    return handle


def _settings(ctx: SimContext) -> Handler:
    async def handle(request: Request) -> Response:
        try:
            settings = ctx.oauth.update(await _object(request))
        except (ValueError, TypeError) as error:
            raise ApiError(400, str(error)) from None
        return json_response({"data": settings.shown()})

    return handle


# -- helpers -------------------------------------------------------------------------------


def _single_values(raw: bytes) -> dict[str, str]:
    """A form body as name -> value (the first, should a name repeat)."""
    parsed = parse_qs(raw.decode("utf-8", "replace"), keep_blank_values=True)
    return {name: values[0] for name, values in parsed.items()}


def _domain_prefix(ctx: SimContext) -> str:
    return str(ctx.state.retailer().get("domain_prefix") or "")
